# syntax=docker/dockerfile:1
# One image for every parktwin process: api (default), ingest, worker, sim, migrate.
# Not built here (no Docker engine on the development machines): `scripts/check-image-steps.sh`
# runs the same install steps in a fresh venv outside Docker.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# constraints.txt pins every runtime dependency to the version tested
# (scripts/lock_constraints.py): the same source builds the same image.
COPY pyproject.toml README.md constraints.txt ./
COPY app ./app
COPY ingest ./ingest
COPY sensors_sim ./sensors_sim
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --constraint constraints.txt .

FROM python:3.11-slim-bookworm AS runtime
# A Chinese TrueType font, embedded (subset) in the PDF reports (app/reports/pdf.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 parktwin \
    && useradd --system --uid 10001 --gid parktwin --home-dir /var/lib/parktwin --create-home \
       --shell /usr/sbin/nologin parktwin
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PARKTWIN_STATE_DIR=/var/lib/parktwin/state
USER parktwin
WORKDIR /var/lib/parktwin
EXPOSE 8000
ENTRYPOINT ["parktwin"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
