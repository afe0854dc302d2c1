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
