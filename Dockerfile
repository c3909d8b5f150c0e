# syntax=docker/dockerfile:1
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 PORT=8000 DATA_DIR=/app/data
WORKDIR /app

COPY requirements.lock pyproject.toml README.md alembic.ini ./
RUN python -m pip install --no-cache-dir --require-hashes -r requirements.lock
COPY src ./src
COPY domain ./domain
COPY adapters ./adapters
COPY migrations ./migrations
RUN python -m pip install --no-cache-dir --no-deps --no-build-isolation -e . \
 && useradd --system --uid 10001 --home-dir /app app \
 && mkdir -p /app/data && chown app /app/data

USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=2)"]
CMD ["taskservice", "serve"]
