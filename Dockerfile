# ClauseWatch: the daemon, the history site and every other command, in one image.
#
#   docker build -t clausewatch .                       # add --build-arg WITH_CHROMIUM=1 for `fetcher: browser`
#   docker run --rm -v clausewatch-data:/data clausewatch run --once
#   docker compose up -d                                # PostgreSQL + daemon + site (compose.yaml)
#
# Two stages: the first builds the wheel from the checkout, the second installs that wheel (with the
# postgres extra) and nothing else: no source tree in the image. The wheel carries the migrations and the
# shipped sources registry, so `clausewatch init` and `run` need no file beside it. To watch other
# sources, put a sources.yaml in the data volume (the working directory) or set CLAUSEWATCH_SOURCES.
# Every setting comes from the environment (`clausewatch config` shows them); state lives in /data.
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md MANIFEST.in alembic.ini sources.yaml ./
COPY migrations/ migrations/
COPY monitor/ monitor/
RUN pip install --no-cache-dir build==1.6.1 \
    && python -m build --wheel --outdir /dist .


FROM python:3.11-slim-bookworm

ARG WITH_CHROMIUM=0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLAUSEWATCH_DB=sqlite:////data/clausewatch.db \
    CLAUSEWATCH_ALERTS_FILE=/data/alerts.jsonl

# Chromium only for sources with `fetcher: browser`; Debian's package tracks security updates, so unpinned.
# No CLAUSEWATCH_CHROMIUM: `chromium` on the PATH is found, and an image without it says Chromium is missing.
# hadolint ignore=DL3008
RUN if [ "$WITH_CHROMIUM" = "1" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends chromium \
        && rm -rf /var/lib/apt/lists/*; \
    fi

COPY --from=build /dist/ /tmp/dist/
# The one wheel the build stage made: pinned by construction (hadolint cannot see it through the variable).
# hadolint ignore=DL3013
RUN extras="postgres" \
    && if [ "$WITH_CHROMIUM" = "1" ]; then extras="postgres,browser"; fi \
    && for wheel in /tmp/dist/clausewatch-*.whl; do pip install --no-cache-dir "${wheel}[${extras}]"; done \
    && rm -rf /tmp/dist \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin clausewatch \
    && mkdir -p /data \
    && chown clausewatch:clausewatch /data

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

# The daemon's check (compose gives `web` its own, on /healthz).
# `clausewatch health`: 0 ok, 1 degraded (some sources failing: an alert, not a broken container), 6 unhealthy
# (database unreachable or schema out of date, or no successful fetch for a day).
HEALTHCHECK --interval=60s --timeout=15s --start-period=60s --retries=3 \
    CMD ["sh", "-c", "clausewatch health || [ \"$?\" -eq 1 ]"]

ENTRYPOINT ["clausewatch"]
CMD ["daemon", "--quiet"]
