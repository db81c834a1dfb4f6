"""Workshop simulator: Modbus meters and bench events for demos, tests and benchmarks."""
