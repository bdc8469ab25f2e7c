"""The suite files stay in step with the raw contract (pipelines/sources.py) and the config.

The files are reviewed by hand; this catches the drift a reviewer would miss: a contract column without a
type check, an allowed set or range that no longer matches, a key that is not checked for uniqueness.
"""

from __future__ import annotations

import pytest

from pipelines.quality.suites import TYPE_LISTS, load_config, load_suite, suite_names
from pipelines.sources import SOURCES


def _by_type(suite, type_name):
    return [e for e in suite.expectations if e["type"] == type_name]


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_raw_suite_covers_the_contract(source):
    src = SOURCES[source]
    suite = load_suite(f"raw.{source}")
    assert suite.asset == src.table and suite.source == source
    (present,) = _by_type(suite, "expect_table_columns_to_match_set")
    assert set(present["kwargs"]["column_set"]) == {c.name for c in src.columns} | (
        {"year"} if src.partitioned else set()
    )

    types = {
        e["kwargs"]["column"]: e["kwargs"]["type_list"]["$types"]
        for e in _by_type(suite, "expect_column_values_to_be_in_type_list")
    }
    assert types == {c.name: c.dtype for c in src.columns} | ({"year": "int"} if src.partitioned else {})

    not_null = {
        e["kwargs"]["column"]
        for e in _by_type(suite, "expect_column_values_to_not_be_null")
        if "row_condition" not in e["kwargs"]
    }
    assert not_null == {c.name for c in src.columns if c.required} | ({"year"} if src.partitioned else set())

    unique = [
        e["kwargs"].get("column_list") or [e["kwargs"]["column"]]
        for e in suite.expectations
        if e["type"] in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
    ]
    assert unique == [list(src.key)]

    ranges = {
        e["kwargs"]["column"]: (e["kwargs"].get("min_value"), e["kwargs"].get("max_value"))
        for e in _by_type(suite, "expect_column_values_to_be_between")
        if e["check"].endswith(("__non_negative", "__in_range"))
    }
    assert ranges == {
        c.name: (c.min_value, c.max_value) for c in src.columns if c.min_value is not None or c.max_value is not None
    }
    assert all(
        e["severity"] == "error"
        for e in _by_type(suite, "expect_column_values_to_be_between")
        if e["check"].endswith(("__non_negative", "__in_range"))
    )

    allowed = {
        e["kwargs"]["column"]: set(e["kwargs"]["value_set"])
        for e in _by_type(suite, "expect_column_values_to_be_in_set")
        if e["check"].endswith("__allowed")
    }
    assert allowed == {c.name: set(c.allowed) for c in src.columns if c.allowed}

    known = {
        e["kwargs"]["column"]
        for e in _by_type(suite, "expect_column_values_to_be_in_set")
        if e["check"].endswith("__known_region")
    }
    assert {f"{c.name}__unit" for c in src.columns if c.region_code} <= known

    future = {e["kwargs"]["column"] for e in suite.expectations if e["check"].endswith("__not_in_future")}
    assert future == set(src.no_future)
    if src.partitioned:
        window = [e for e in suite.expectations if e["check"] == f"{src.partition_date}__in_partition_year"]
        assert window and window[0]["needs"] == ["partition"]


def test_every_file_is_well_formed_and_uses_known_references():
    config = load_config()
    for name in suite_names():
        suite = load_suite(name)  # raises on duplicate check names or unknown severities
        assert suite.name == name
        for e in suite.expectations:
            assert e["type"].startswith("expect_")
            _walk(e["kwargs"], config)


def _walk(value, config):
    if isinstance(value, dict):
        if "$types" in value:
            assert value["$types"] in TYPE_LISTS
        elif "$config" in value:
            node = config
            for part in value["$config"].split("."):
                node = node[part]
        else:
            for v in value.values():
                _walk(v, config)
    elif isinstance(value, list):
        for v in value:
            _walk(v, config)


def test_config_holds_freshness_for_every_yearly_source():
    config = load_config()
    for src in SOURCES.values():
        if src.partitioned:
            assert "max_lag_days" in config["freshness"][src.name]


def test_grant_swing_threshold_is_the_configured_one():
    """The suite applies the reviewed factor from expectations/config.yml, read here rather than copied: a city
    exactly at the factor passes, one just above it is flagged (warn), a small city (no factor) is not judged."""
    import polars as pl

    from pipelines.quality.runner import validate

    factor = float(load_config()["patent_grant_city_counts"]["max_change_factor"])
    base = int(load_config()["patent_grant_city_counts"]["min_base_count"])
    frame = pl.DataFrame(
        {
            "unit_code": ["440300", "440100", "110100"],
            "year": [2024, 2024, 2024],
            "grants": [int(base * factor), int(base * factor) + 1, 5],
            "prev_grants": [base, base, 50],
            "change_factor": [(base * factor) / base, (int(base * factor) + 1) / base, None],
        }
    )
    result = validate("raw.patent_grants.city_counts", frame, partition=2024)
    check = result.by_check()["city_grants__change_vs_previous_year"]
    assert check.severity == "warn" and not check.passed
    assert check.unexpected_count == 1
    assert [r["unit_code"] for r in check.failing_sample] == ["440100"]
    assert result.passed_blocking
