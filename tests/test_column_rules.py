"""A model's simple column rules are one dbt test (dbt_project/tests/generic/column_rules.sql) and one Dagster asset
check per model and severity: a broken value must still fail that check, block when the rule is error-severity,
and be named in the run by column, rule and failing-row count, in 简体中文 and English.

Real parts throughout: the pipeline's dbt asset and resource (dagster-dbt starting this environment's dbt as the
run does), a DuckDB warehouse holding the mart as a table, the project's own rules from its yml.
"""

from __future__ import annotations

import dagster as dg
import duckdb

# the roster mart, built in the evaluation step since it reads the acceptance score's ban flag
MART = "fct_programme_membership"
COLUMNS = """unit_code string, unit_name string, province_code string, programme_code string, cohort string,
joined_on date, status string, exit_reason string, first_evaluated_year integer, cycle_anchor_year integer,
cycle_length integer, reapplied_within_ban boolean"""
GOOD = "('110100', '北京市', '110000', 'demo_city', '2012', date '2012-01-01', 'active', null, 2012, 2012, 3, false)"


def _warehouse(path, *rows: str) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute(f"create table marts.{MART} ({COLUMNS})")
        con.execute(f"insert into marts.{MART} values {', '.join(rows)}")
        # the exit whose re-application ban a joining breaches (a rule of its own; none here)
        con.execute(f"alter table marts.{MART} add column ban_exit_reason string")
    finally:
        con.close()


def _check_run(tmp_path, monkeypatch):
    from pipelines.assets.dbt import dbt_evaluation_models, dbt_resource
    from pipelines.resources import Warehouse

    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    checks = [k for k in dbt_evaluation_models.check_keys if k.name.startswith(f"column_rules_{MART}")]
    assert {k.name for k in checks} == {f"column_rules_{MART}", f"column_rules_{MART}_warn"}
    instance = dg.DagsterInstance.ephemeral()
    res = dg.materialize(
        [dbt_evaluation_models],
        selection=dg.AssetSelection.checks(*checks),
        resources={"dbt": dbt_resource(), "warehouse": Warehouse(database=str(tmp_path / "warehouse.duckdb"))},
        instance=instance,
        raise_on_error=False,
    )
    evaluations = {
        e.asset_check_evaluation_data.check_name: e
        for e in res.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    return res, evaluations


def test_a_broken_value_fails_its_models_check_naming_column_rule_and_rows_and_blocks(tmp_path, monkeypatch):
    _warehouse(
        tmp_path / "warehouse.duckdb",
        GOOD,
        # a null in a not_null column
        "('110200', null, '110000', 'demo_city', '2012', date '2012-01-01', 'active', null, 2012, 2012, 3, false)",
        # a value outside accepted_values, twice; and a re-application inside the ban (a warn-severity rule)
        "('120100', '天津市', '120000', 'demo_city', '2012', date '2012-01-01', 'paused', null, 2012, 2012, 3, true)",
        "('130100', '石家庄市', '130000', 'demo_city', '2012', date '2012-01-01', 'paused', null, 2012, 2012, 3, false)",
    )
    res, ev = _check_run(tmp_path, monkeypatch)
    assert not res.success  # an error-severity rule failed: the dbt step fails, as a failed single test made it

    error = ev[f"column_rules_{MART}"]
    data = error.asset_check_evaluation_data
    assert not data.passed and data.severity == dg.AssetCheckSeverity.ERROR
    text = data.description
    assert "列 unit_name：不为空（not_null）未通过1行" in text, text
    assert "column unit_name: not null (not_null) fails on 1 row" in text, text
    assert "列 status：取值在允许范围内（accepted_values）未通过2行" in text, text
    assert "column status: values among the allowed ones (accepted_values) fails on 2 rows" in text, text
    assert "exit_reason" not in text and "unit_code" not in text  # only the failing rules
    assert data.metadata["dagster_dbt/failed_row_count"].value == 3  # rows, as the single tests counted
    assert "| unit_name | not_null | 1 |" in data.metadata["failing_rules"].value
    assert "Description: '未通过的规则" in error.message  # what the CLI's run summary and the alerts read

    warn = ev[f"column_rules_{MART}_warn"].asset_check_evaluation_data
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    assert "expression_holds: not reapplied_within_ban" in warn.description
    assert "fails on 1 row" in warn.description


def test_a_warn_rule_alone_warns_and_does_not_block(tmp_path, monkeypatch):
    _warehouse(
        tmp_path / "warehouse.duckdb",
        GOOD,
        "('120100', '天津市', '120000', 'demo_city', '2012', date '2012-01-01', 'active', null, 2012, 2012, 3, true)",
    )
    res, ev = _check_run(tmp_path, monkeypatch)
    assert res.success
    assert ev[f"column_rules_{MART}"].asset_check_evaluation_data.passed
    warn = ev[f"column_rules_{MART}_warn"].asset_check_evaluation_data
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN
    assert "row: condition holds (expression_holds: not reapplied_within_ban) fails on 1 row" in warn.description
