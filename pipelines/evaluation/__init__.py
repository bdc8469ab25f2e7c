"""Annual evaluation, three-year cycles, rectification and exit risk (issue 5).

The stage logic lives in dbt (models/intermediate/evaluation, models/marts/evaluation); this package holds the
Python steps around it: rank uncertainty (uncertainty.py), catalog coherence (coherence.py), the evidence dossier
(dossier.py) and the shared reader of the rules seed (rules.py).
"""
