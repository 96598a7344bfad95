# The policysim image: the project installed with pip, the `policysim` command as entry point.
# docker-compose.yml runs every policysim service (workers, simulator) from this image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY policies ./policies
COPY simulators ./simulators
COPY streams ./streams
COPY dashboards ./dashboards
COPY policysim ./policysim
# /var/lib/policysim holds generated files (the scenario's registry) in a named volume.
RUN pip install . \
    && useradd --create-home --uid 10001 policysim \
    && install -d -o policysim -g policysim /var/lib/policysim
USER policysim

# Inside a container the metrics must listen beyond loopback for Prometheus to reach them;
# docker-compose.yml publishes ports on the host's 127.0.0.1 only.
ENV POLICYSIM_METRICS_HOST=0.0.0.0
EXPOSE 9464
ENTRYPOINT ["policysim"]
CMD ["--help"]
