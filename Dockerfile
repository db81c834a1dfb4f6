# One image for the collector, the simulator and the edge agents of the compose stack.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
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
