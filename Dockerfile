# AIME in a container: `docker compose up -d` (see docker-compose.yml and docs/deploy.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AIME_DATA_DIR=/data \
    AIME_BIND=0.0.0.0:8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/aime-metrics

# curl: the HEALTHCHECK (scripts/health-check-robust.sh) needs it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 aime \
    && useradd --system --uid 10001 --gid aime --home-dir /app --no-create-home --shell /usr/sbin/nologin aime

WORKDIR /app

# Dependencies first (pinned by constraints.txt) so that code changes reuse this layer.
COPY setup.cfg pyproject.toml constraints.txt README.md ./
COPY aime ./aime
# Editable: the app finds its migrations/ next to the package, as in a checkout.
RUN pip install -c constraints.txt -e .

COPY migrations ./migrations
COPY wsgi.py gunicorn.conf.py ./
COPY scripts/docker-entrypoint.sh scripts/health-check-robust.sh scripts/validate_startup.py ./scripts/

RUN mkdir -p /data && chown aime:aime /data
USER aime
VOLUME ["/data"]
EXPOSE 8000

# Docker reads exit 1 as unhealthy (2 is reserved), hence `|| exit 1` around the script's 0/1/2.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD scripts/health-check-robust.sh health --url http://127.0.0.1:8000 --retries 0 --timeout 4 --quiet || exit 1

# Migrations and validation, then exec the CMD: gunicorn becomes PID 1 and gets `docker stop`'s SIGTERM.
ENTRYPOINT ["scripts/docker-entrypoint.sh"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
