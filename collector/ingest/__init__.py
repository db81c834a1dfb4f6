"""Into the spool: MQTT and HTTP messages are validated, turned into points, committed, and only then acked."""
