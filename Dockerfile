# Parlor's image: the wheel built in one stage, installed into a slim runtime in the next.
# Python 3.12.4+ carries the ipaddress fixes the endpoint guard relies on.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 HTTP_PORT=8080
# Exactly the versions the tests ran, each checked against its hash; then Parlor alone.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock && rm /tmp/requirements.lock
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels \
    && useradd --create-home --uid 10001 parlor \
    && mkdir -p /app/data && chown parlor /app/data
WORKDIR /app
USER parlor
# The database (SQLite by default) lives here: mount a volume to keep it.
VOLUME ["/app/data"]
# SIGTERM stops the replies being written (kept, and shown, as stopped) and exits within
# SHUTDOWN_GRACE_SECONDS (8), under `docker stop`'s 10 s.
STOPSIGNAL SIGTERM
# /healthz, /readyz and /metrics on HTTP_PORT, loopback only unless HTTP_HOST says otherwise;
# the check asks /readyz (database answers, platforms connected) with the standard library.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
CMD ["parlor", "run"]
