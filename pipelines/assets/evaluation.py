"""Evaluation assets between the two dbt steps (rank uncertainty)."""

EVALUATION_ASSETS: list = []
