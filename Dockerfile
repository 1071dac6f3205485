# inquote's bot (and one-off ingest runs), for docker-compose.yml. No LLM inside: Ollama serves it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    INQUOTE_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY ingest ./ingest
COPY bot ./bot
COPY seeds ./seeds
RUN pip install . && useradd --create-home --uid 1000 inquote && mkdir -p /data \
    && chown inquote /data
USER inquote
VOLUME ["/data"]

ENTRYPOINT ["inquote"]
CMD ["telegram"]
