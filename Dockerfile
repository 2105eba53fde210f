# Wartel service image. Build: docker build -t wartel .   Run with docker-compose.yml (PostgreSQL 16).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WARTEL_HOST=0.0.0.0 \
    WARTEL_PORT=8080 \
    WARTEL_DATA_DIR=/var/lib/wartel \
    WARTEL_LOG_FORMAT=json \
    WARTEL_WORKERS=0 \
    WARTEL_DEMO=false

WORKDIR /app
COPY pyproject.toml README.md ./
COPY wartel ./wartel
COPY schedules ./schedules
COPY audit ./audit
COPY sql ./sql
# Editable install: the migrations are read from /app/sql, beside the packages, not from site-packages.
RUN pip install -e . \
 && useradd --system --uid 10001 --home-dir /var/lib/wartel --shell /usr/sbin/nologin wartel \
 && mkdir -p /var/lib/wartel \
 && chown wartel:wartel /var/lib/wartel

USER wartel
VOLUME ["/var/lib/wartel"]
EXPOSE 8080

# No curl in the slim image: ask /healthz with the Python that is there.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]

# With WARTEL_DATABASE_URL set (docker-compose.yml does), `serve` never starts the embedded PostgreSQL.
CMD ["wartel", "serve"]
