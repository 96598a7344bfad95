# The policysim image: the package installed with pip, without extras, the `policysim` command
# as entry point. docker-compose.yml runs every policysim service (workers, simulator) from it.

# Build stage: the package and its dependencies into a virtual environment of their own.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A C compiler in this stage only, for the registry's lookup in C (the runtime stage needs none).
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY policysim ./policysim
COPY policies ./policies
COPY simulators ./simulators
COPY streams ./streams
COPY dashboards ./dashboards
RUN python -m venv /opt/policysim \
    && /opt/policysim/bin/pip install . \
    && cd / && /opt/policysim/bin/python -c "from policysim.policies import registry_index as r; assert r.NATIVE"

# Runtime stage: that environment, a non-root user, and the example policies at the paths
# docker-compose.yml names (policies/examples/... in the working folder). No source tree:
# nothing shadows the installed package.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/policysim/bin:$PATH
COPY --from=build /opt/policysim /opt/policysim
# /var/lib/policysim holds generated files (the scenario's registry) in a named volume;
# /app is the working folder, writable for reports.
RUN useradd --create-home --uid 10001 policysim \
    && install -d -o policysim -g policysim /var/lib/policysim /app
WORKDIR /app
COPY policies/examples ./policies/examples
USER policysim

# Inside a container the metrics must listen beyond loopback for Prometheus to reach them;
# docker-compose.yml publishes ports on the host's 127.0.0.1 only.
ENV POLICYSIM_METRICS_HOST=0.0.0.0
EXPOSE 9464
ENTRYPOINT ["policysim"]
CMD ["--help"]
