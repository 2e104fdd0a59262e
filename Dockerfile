# One image for the API, the worker and the content store; docker-compose.yml picks the command.
#
# Stage 1 installs the production dependencies from the committed pdm.lock into /app/.venv with
# PDM (the version the Makefile pins: PDM cannot lock itself). Stage 2 copies that venv and the
# service's code onto a clean base, so PDM and pip's caches never reach the image that runs.

FROM python:3.11-slim AS deps

# Keep these in step with PDM_PINS in the Makefile (tests/deploy checks that they agree).
ARG PDM_VERSION=2.29.4
ARG HISHEL_VERSION=1.4.0

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PDM_CHECK_UPDATE=false

RUN pip install "pdm==${PDM_VERSION}" "hishel[httpx2]==${HISHEL_VERSION}"

WORKDIR /app
# Only the two files that decide the dependencies: editing code does not reinstall them.
COPY pyproject.toml pdm.lock ./
# --prod leaves out the dev and bench groups (test tools, broker and server binaries);
# --no-self skips installing the project: its code is copied as files below and run from /app.
RUN python -m venv /app/.venv \
    && pdm use --quiet --ignore-remembered -f /app/.venv/bin/python \
    && pdm sync --prod --no-self --no-editable \
    && python -m compileall -q -j0 /app/.venv/lib


FROM python:3.11-slim

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# A fixed, unprivileged uid: the content store's volume stays writable across rebuilds.
RUN groupadd --system --gid 10001 huleedu \
    && useradd --system --uid 10001 --gid huleedu --no-create-home --home-dir /app \
       --shell /usr/sbin/nologin huleedu \
    && mkdir -p /data/content \
    && chown huleedu:huleedu /data/content

WORKDIR /app
# The venv sits at the same path as in the deps stage, so its scripts' shebangs still hold.
COPY --from=deps /app/.venv /app/.venv
# The code stays owned by root: the service can read it but never rewrite it.
# pyproject.toml: the project runs uninstalled here, and /openapi.json reads its version there.
COPY pyproject.toml settings.py api_keys.py tracing.py serving.py worker.py logging_setup.py temporal_client.py \
     hypercorn_config.py process_priority.py ./
COPY api ./api
COPY activities ./activities
COPY codec ./codec
COPY contracts ./contracts
COPY workflows ./workflows
COPY content_store ./content_store
COPY telemetry ./telemetry
# Bytecode for our code, written once here: the code is read-only to the services and
# PYTHONDONTWRITEBYTECODE is set, so without it every start compiles every module, and the
# worker's sandbox compiles a workflow's module again for every run (0.6 ms per single essay).
RUN python -m compileall -q -x '/\.venv/' /app

USER huleedu

# The API's port (PORT); the content store listens where its --port says.
EXPOSE 5000
CMD ["hypercorn", "api.app:create_app()", "-c", "file:hypercorn_config.py"]
