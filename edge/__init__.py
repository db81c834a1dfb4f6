"""The edge agent: polls meters and bench stations, publishes contract messages over MQTT."""
