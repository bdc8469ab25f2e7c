"""Data-quality suites (expectations/*.json) validated with Great Expectations, and their results (results.py).

Importing this package does not import Great Expectations; the first `validate` call does.
"""

from pipelines.quality.derived import patent_grant_city_counts, patent_grant_city_counts_from_db, valid_region_codes
from pipelines.quality.results import current_rejections, latest_report, record_results, summarise_rejections
from pipelines.quality.runner import ExpectationResult, SuiteResult, validate
from pipelines.quality.suites import MissingParameter, load_suite, suite_names

__all__ = [
    "ExpectationResult",
    "MissingParameter",
    "SuiteResult",
    "current_rejections",
    "latest_report",
    "load_suite",
    "patent_grant_city_counts",
    "patent_grant_city_counts_from_db",
    "record_results",
    "suite_names",
    "summarise_rejections",
    "valid_region_codes",
    "validate",
]
