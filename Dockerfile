# One image for the collector, the simulator and the edge agents of the compose stack.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# WeasyPrint (the reports' PDF, docs/reports.md) draws with pango, and a slim image has no fonts.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY shopfloor ./shopfloor
COPY edge ./edge
COPY collector ./collector
COPY dashboards ./dashboards
COPY simulator ./simulator
RUN pip install --no-cache-dir ".[all]" && useradd --system --create-home shopfloor \
    && mkdir -p /var/lib/shopfloor && chown shopfloor /var/lib/shopfloor
USER shopfloor
ENTRYPOINT ["shopfloor"]
CMD ["--help"]
