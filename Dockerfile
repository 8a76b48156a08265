# syntax=docker/dockerfile:1
#
# Itinera's container image: one image for every role, chosen by the command.
#
#   docker build -t itinera:0.1.0 .
#   docker run --rm itinera:0.1.0 --help
#   docker run ... itinera:0.1.0 migrate | worker | api | users add NAME ... | check | rebuild-projection
#
# How it is deployed (compose, Kubernetes, what must be shared between replicas):
# deploy/README.md.  Linted by tests/test_deployment_files.py (hadolint and more).
#
# Probes: `itinera api` answers GET /livez (the process serves HTTP) and GET /readyz
# (Temporal and PostgreSQL answer; 503 naming the one that is down) on ITINERA_API_PORT,
# unauthenticated.  The image declares no HEALTHCHECK because the same image also runs the
# worker (no HTTP port) and one-shot jobs: deploy/compose.yaml and deploy/k8s/ set the
# probes of each role.
#
# No writable data folder: the processes keep nothing on disk.  ITINERA_PAYLOAD_KEYS,
# ITINERA_PAYLOAD_ACTIVE_KEY and (API) ITINERA_JWT_SIGNING_KEY must be set and be the same
# in every replica; without them a process fails at start instead of generating keys of
# its own.
#
# The base image is pinned to a patch release; pin its digest too in your build pipeline
# (FROM python:3.11.14-slim-bookworm@sha256:...) when your registry policy asks for it.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: a virtualenv with the project and its runtime dependencies -------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/itinera

WORKDIR /src

# The [project] dependencies first, in their own layer (rebuilt only when pyproject.toml
# changes); never the test or bench extras.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && /opt/itinera/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# Then the project itself, from pyproject.toml (.dockerignore lets in only what it ships).
COPY . .
RUN /opt/itinera/bin/pip install --no-cache-dir --no-deps .

# The numbered SQL files are not Python package data: put them where store/migrations.py
# looks for them (site-packages/migrations), then check that the installed `itinera
# migrate` sees every file of the source tree and that the command starts.  -I: import the
# installed packages, not /src.
RUN target="$(/opt/itinera/bin/python -I -c 'from store.migrations import MIGRATIONS_DIR; print(MIGRATIONS_DIR)')" \
    && cp -r /src/migrations "$target" \
    && /opt/itinera/bin/python -I -c "import pathlib, sys; from store.migrations import load_migrations; \
installed = sorted(f'{m.version:04d}_{m.name}.sql' for m in load_migrations()); \
source = sorted(p.name for p in pathlib.Path('/src/migrations').glob('*.sql')); \
sys.exit(0 if installed == source and source else f'migrations not shipped: {installed} != {source}')" \
    && /opt/itinera/bin/itinera --help > /dev/null

# --- runtime: the virtualenv on a clean base, run as an unprivileged user -----------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="itinera" \
      org.opencontainers.image.description="Durable case workflows for refugee resettlement and AVRR on Temporal" \
      org.opencontainers.image.version="0.1.0"

# A Unicode font for the manifest PDF (api/manifest_pdf.py): without it, names in Arabic
# script print as "????".
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core=2.37-6 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 itinera \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin itinera

COPY --from=build /opt/itinera /opt/itinera

ENV PATH=/opt/itinera/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ITINERA_API_HOST=0.0.0.0 \
    ITINERA_API_PORT=8000

# Owned by root and empty: nothing is written here (see "No writable data folder" above).
WORKDIR /app

USER 10001:10001

EXPOSE 8000

ENTRYPOINT ["itinera"]
CMD ["api"]
