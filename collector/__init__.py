"""The collector: MQTT to InfluxDB, dead letters, the HTTP API and the bench page."""
