# The operator image used by deploy/base (built where a container engine is available).
FROM python:3.11-slim
RUN useradd --uid 65532 --create-home tend
WORKDIR /app
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER 65532
ENTRYPOINT ["tend"]
CMD ["run", "--all-namespaces"]
