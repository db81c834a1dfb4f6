"""The one place that talks to InfluxDB: the client (v1 over httpx, v2 over influxdb-client), the schema, init-db."""
