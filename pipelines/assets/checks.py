"""Great Expectations suites as Dagster asset checks (wired once pipelines/quality lands)."""

RAW_CHECKS: list = []
