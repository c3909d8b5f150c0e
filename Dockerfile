# syntax=docker/dockerfile:1
# The service image: Python slim, the runtime dependencies from requirements.runtime.lock (every
# wheel checked against its hash), the code on PYTHONPATH, and a non-root user.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app/src:/app \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/app/data
WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY requirements.runtime.lock ./
RUN python -m pip install --require-hashes --only-binary :all: -r requirements.runtime.lock

COPY alembic.ini ./
COPY migrations ./migrations
COPY domain ./domain
COPY adapters ./adapters
COPY src ./src
# `taskservice migrate|serve` as outside the image, without installing the project itself.
RUN printf '#!/bin/sh\nexec python -m taskservice.cli "$@"\n' > /usr/local/bin/taskservice \
 && chmod 0755 /usr/local/bin/taskservice \
 && useradd --system --user-group --uid 10001 --home-dir /app --no-create-home app \
 && mkdir -p /app/data \
 && chown app:app /app/data

USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=2)"]
# Python is PID 1 (exec form): SIGTERM reaches uvicorn, or with WEB_CONCURRENCY above 1 gunicorn's
# arbiter, which reaps orphans as PID 1 must; either drains requests for SHUTDOWN_TIMEOUT.
CMD ["python", "-m", "taskservice.cli", "serve"]
