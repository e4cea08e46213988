# newsingest: one image for the daemon (`newsingest run`) and the workers (`newsingest worker`).
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
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --create-home --uid 10001 newsingest \
    && mkdir -p /data && chown newsingest /data

USER newsingest
ENV NEWSINGEST_DATA_DIR=/data NEWSINGEST_SOURCES=/app/config/sources.yaml
VOLUME ["/data"]
ENTRYPOINT ["newsingest"]
CMD ["run"]
