"""The peak guard: keep each quarter hour under a target by shedding deferrable loads (docs/peak-guard.md)."""
