"""KPI definitions: pure functions, documented in docs/kpis.md.

The collector (derived fields on stored events), the KPI API, the dashboards' tests and the
reports all compute through this package, so a KPI means the same thing everywhere.
"""

from shopfloor.kpi.outcomes import DISPLACEMENT_FACTOR, OutcomeFields, outcome_fields, reference_weight_kg

__all__ = ["DISPLACEMENT_FACTOR", "OutcomeFields", "outcome_fields", "reference_weight_kg"]
