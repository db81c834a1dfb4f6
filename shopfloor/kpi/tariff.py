"""Tariff constants, in a module of their own: the edge's settings need them without the KPI maths."""

from __future__ import annotations

# Flemish capacity tariff: the billed monthly peak is at least 2.5 kW.
MIN_BILLED_PEAK_KW = 2.5
