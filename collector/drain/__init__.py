"""Out of the spool: batches into InfluxDB, rejected lines to dead letters, and the rollup completed for late data."""
