# The ops image: the stack's CronJobs run `scraper-ops` from it (see infra/components/workloads/ops_jobs.py).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/scraper-ops
COPY pyproject.toml README.md Pulumi.yaml ./
COPY contract ./contract
COPY infra ./infra
COPY automation ./automation
COPY policies ./policies
RUN pip install . \
    && groupadd --gid 10001 scraper-ops \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin scraper-ops

# The pod runs with a read-only root filesystem; reports go to the writable /tmp.
ENV HOME=/tmp SCRAPER_OPS_REPORT_DIR=/tmp/reports SCRAPER_OPS_PROJECT_DIR=/opt/scraper-ops
USER 10001:10001
ENTRYPOINT ["scraper-ops"]
CMD ["--help"]
