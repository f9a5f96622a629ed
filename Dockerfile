# The operator image used by deploy/base (built where a container engine is available).
# It carries the operator package alone: not the simulated cluster (operator/tend_sim) nor its
# extra dependencies, which only the tests and `tend demo` use.
FROM python:3.11-slim
RUN useradd --uid 65532 --create-home tend
WORKDIR /app
COPY pyproject.toml README.md ./
COPY operator/tend ./operator/tend
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER 65532
ENTRYPOINT ["tend"]
CMD ["run", "--all-namespaces"]
