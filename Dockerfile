# newsingest: one image for the daemon (`newsingest run`), the workers (`newsingest worker`) and the
# read-only HTTP API (`newsingest serve`).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, from the hashed lock, so code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock

COPY pyproject.toml README.md ./
COPY ingest ./ingest
COPY workers ./workers
COPY config ./config
COPY seeds ./seeds
# The code stays root-owned (the service cannot change it); only /data is the service's.
RUN pip install --no-cache-dir --no-deps . \
    && groupadd --system --gid 10001 newsingest \
    && useradd --system --create-home --uid 10001 --gid 10001 newsingest \
    && mkdir -p /data && chown 10001:10001 /data

# Not root, and numeric so that a runtime (Kubernetes runAsNonRoot) can check it. No secrets in the
# image: they arrive at run time as files (docker-compose.yml mounts them under /run/newsingest).
USER 10001:10001
ENV NEWSINGEST_DATA_DIR=/data NEWSINGEST_SOURCES=/app/config/sources.yaml
VOLUME ["/data"]
ENTRYPOINT ["newsingest"]
CMD ["run"]
