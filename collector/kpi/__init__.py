"""The query side: stored data read back from InfluxDB and run through the KPI definitions of shopfloor.kpi."""
