# One container, one SQLite file under /app/data (mount a volume there to keep it).
# Python 3.12.4+ carries the ipaddress fixes the endpoint guard relies on.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN pip install --no-deps . && useradd --create-home parlor && mkdir -p /app/data \
    && chown parlor /app/data
USER parlor
VOLUME ["/app/data"]
CMD ["parlor", "run"]
