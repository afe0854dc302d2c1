"""gunicorn settings shared by `make run`, the Dockerfile and deploy/ (override with env)."""

import os

# WEB_CONCURRENCY is gunicorn's own convention; 2 workers suit a 1-2 core container.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Requests never wait on an operator (submission happens in jobs), so a long request is a bug.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Our RequestIdMiddleware writes one JSON access line per request, with its request id.
accesslog = None
errorlog = "-"
# Recycle workers now and then so that a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# gunicorn 27's runtime control socket defaults to one path per user (~/.gunicorn/), shared by
# every gunicorn on the host and unwritable on a read-only root filesystem; supervisord and
# the orchestrator manage the processes, so nothing needs it.
control_socket_disable = True

# gunicorn's own lines (worker boots, timeouts) in the same format as the application's, so
# that a JSON log pipeline never meets a plain-text line.
_json_logs = os.environ.get("LOG_FORMAT") == "json" or (
    not os.environ.get("LOG_FORMAT") and os.environ.get("DJANGO_ENV") == "production"
)
if _json_logs:
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "gateway.logging.RequestIdFilter"}},
        "formatters": {"json": {"()": "gateway.logging.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stdout",
            }
        },
        # gunicorn merges this dict shallowly over its defaults: replace every part it names.
        "root": {"level": "INFO", "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            # Any logconfig_dict turns gunicorn's access log on; ours (one line per request,
            # with its request id) is the access log, so gunicorn's is kept quiet.
            "gunicorn.access": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
        },
    }


# Prometheus multiprocess mode (gateway/metrics.py): the workers write their counters to
# PROMETHEUS_MULTIPROC_DIR and any of them serves the sum. gunicorn cleans the directory at
# its start when it is the directory's only user; under supervisord (`make run`) the job
# workers write there too, and the Makefile cleans it before supervisord starts anything.
def on_starting(server: object) -> None:
    from gateway import metrics

    # supervisord sets SUPERVISOR_ENABLED in the environment of every program it starts.
    metrics.prepare_directory(clean="SUPERVISOR_ENABLED" not in os.environ)


def child_exit(server: object, worker: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined,no-untyped-call]
