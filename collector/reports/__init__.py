"""Monthly, quarterly and ad-hoc reports of a site or of the cluster, as HTML and PDF (docs/reports.md).

Every figure comes from the KPI API's own code (``collector.kpi.report``): ``gather`` asks it, ``render``
only formats. ``periods`` and ``labels`` are pure; ``charts`` (matplotlib), ``render`` (Jinja2) and
``pdf`` (WeasyPrint) each wrap one library.
"""
