# syntax=docker/dockerfile:1
# The gateway image: one image for the web process (default command) and the job worker
# (`python manage.py run_worker`). Runtime dependencies only, non-root; it runs with a
# read-only root filesystem given a writable /tmp (metrics files, gunicorn's control socket).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
# Every file checked against its hash in the lock (make lock). The embedded PostgreSQL and
# supervisor serve `make run` on a laptop (requirements-local.txt); production has a real
# DATABASE_URL and an orchestrator, so the image leaves them out.
RUN python -m venv /venv \
    && /venv/bin/pip install --require-hashes --no-deps -r requirements.txt

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=gateway.settings \
    DJANGO_ENV=production \
    VAR_DIR=/app/var \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    XDG_RUNTIME_DIR=/tmp \
    PORT=8000
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /app --no-create-home gateway
COPY --from=build /venv /venv
WORKDIR /app
COPY --chown=gateway:gateway . .
# collectstatic only imports settings; these throwaway values never reach a running container.
RUN SECRET_KEY=collectstatic-only-not-a-secret-collectstatic-only-not-a-secret \
    DATABASE_URL=postgres://unused@127.0.0.1:9/unused \
    ALLOWED_HOSTS=build PUBLIC_BASE_URL=https://build.invalid OPERATOR_MODES= \
    python manage.py collectstatic --noinput \
    && chown -R gateway:gateway /app/var
USER gateway
EXPOSE 8000
# Liveness only (no database): an orchestrator should not restart web processes because
# PostgreSQL blinked. Use /health/ready for load-balancer readiness.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/health', timeout=3)"]
CMD ["sh", "-c", "exec gunicorn gateway.wsgi --config gateway/gunicorn.conf.py --bind 0.0.0.0:${PORT}"]
