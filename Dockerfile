# The operator image (deploy/manager runs it): `make image`. It carries the operator package and
# its run-time dependencies alone, installed from requirements.lock (hashes checked), and no
# pip, setuptools or build tool, nor the simulated cluster (operator/tend_sim) or its extras.
#
# The base is pinned by digest (the multi-platform index of the official image, amd64 and
# arm64). To refresh it: `docker buildx imagetools inspect python:3.12-slim-bookworm` (or
# `crane digest`), then put the new tag and digest in both FROM lines; `make lock` refreshes
# the dependencies.

# --- build: a venv with the locked dependencies and the tend package ------------------------
FROM python:3.12.15-slim-bookworm@sha256:54c85f3c47607a77f32adec749d3c81d1348bf25833671f512b26a9b6d778cb3 AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements.lock requirements-build.lock ./
# /opt/tend gets no pip of its own; the build venv's pip installs into it (pip --python).
RUN python -m venv --without-pip /opt/tend \
    && python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
    && /opt/build/bin/pip --python /opt/tend/bin/python install --require-hashes --no-deps \
        -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator/tend ./operator/tend
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/build/bin/pip --python /opt/tend/bin/python install --no-deps /wheels/tend-*.whl \
    && /opt/tend/bin/python -m compileall -q /opt/tend/lib

# --- the image: Python, the venv, a numeric non-root user ------------------------------------
FROM python:3.12.15-slim-bookworm@sha256:54c85f3c47607a77f32adec749d3c81d1348bf25833671f512b26a9b6d778cb3
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tend" \
      org.opencontainers.image.description="A Kubernetes operator that runs services declared as ManagedService resources." \
      org.opencontainers.image.source="https://github.com/tend-dev/tend" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.12.15-slim-bookworm"
# The base image's own pip goes (Python 3.12's images carry no setuptools or wheel): nothing in
# the image installs packages.
RUN python -m pip uninstall --yes --no-cache-dir pip \
    && rm -rf /usr/local/lib/python3.12/ensurepip /usr/local/bin/pip*
COPY --from=build /opt/tend /opt/tend
ENV PATH=/opt/tend/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["tend"]
CMD ["run", "--all-namespaces"]
