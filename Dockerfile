# Flywheel: `docker build -t flywheel .` then see docker-compose.yml and README ("Run in production").
# Two stages: the build stage installs the package into a virtualenv; the runtime stage copies only that
# virtualenv (no compiler, no pip cache, no sources) and runs as an unprivileged user.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install ".[postgres]"

FROM python:3.12-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 FLYWHEEL_LOG_FORMAT=json
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin flywheel
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# `flywheel doctor` compares the token's scopes with the manifest it finds here.
COPY manifest.yml ./manifest.yml
RUN chown flywheel:flywheel /app
USER flywheel
EXPOSE 3000
# Alive (/healthz); /readyz adds the migrations and Slack's auth.test for a load balancer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]
# SIGTERM (docker stop) finishes the requests in flight, stops the scheduler and releases job claims.
STOPSIGNAL SIGTERM
ENTRYPOINT ["flywheel"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
