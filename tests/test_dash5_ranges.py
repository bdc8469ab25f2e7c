"""Ranges of years are written with the range dash at their source (round 5 of the official's read: the marts and
the calendar seed wrote "2024-2026", which the pages mended on screen while downloads, dossiers, extracts and alert
titles showed it raw)."""

from __future__ import annotations

import re

import duckdb

# a hyphen between two years ("2024-2026"); a date (2025-06-30) or a month (2024-01) is not one
HYPHENATED_YEARS = re.compile(r"(?<![\d-])(?:19|20)\d\d-(?:19|20)\d\d(?![\d-])")


# Texts that are not ours to rewrite: a changed-codes file's path in the codes repository ("diff/2010-2011.diff"),
# the roster's source as the office's file quoted it, and ranges of rows of a file (rows 1974-2010 are not years).
NOT_OUR_TEXT = {
    "marts.unit_code_changes.source",
    "marts.unit_name_changes.source",  # a provenance file name in the source repository (diff/2006-2007.diff)
    "marts.fct_programme_membership.source_note",
    "marts.fct_unit_year_source_rows.row_ranges",
}


def test_no_mart_text_writes_a_range_of_years_with_a_hyphen(sample_snapshot):
    """The marts wrote cycles as "2024-2026" (fct_programme_unit_year, fct_third_party_evaluation, the evaluation
    marts' cycle, the cycle verdict's evidence, the calendar seed's notes): the pages mended it on screen, but downloads, dossiers, extracts
    and alert titles showed the mart's text raw beside the pages' "2024–2026". Every text column of every table of
    the published snapshot is read."""
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        cols = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type in ('VARCHAR', 'STRING') and table_schema not in ('information_schema', 'pg_catalog')"
        ).fetchall()
        found = []
        for schema, table, col in cols:
            rows = con.execute(
                f'select distinct "{col}" from "{schema}"."{table}" '
                f"where regexp_matches(\"{col}\", '(^|[^0-9-])(19|20)[0-9][0-9]-(19|20)[0-9][0-9]($|[^0-9-])') "
                "limit 3"
            ).fetchall()
            if f"{schema}.{table}.{col}" not in NOT_OUR_TEXT:
                found += [(f"{schema}.{table}.{col}", r[0]) for r in rows if HYPHENATED_YEARS.search(r[0])]
    finally:
        con.close()
    assert not found, found[:20]


def test_a_cycle_verdicts_evidence_reads_in_chinese_with_either_dash():
    """The mart's evidence now writes its spans with the range dash; a snapshot published before wrote a hyphen.
    Both are rebuilt in Chinese, never shown as the English clause."""
    from dashboards.evaluation_text import evidence_text
    from dashboards.formatting import RANGE_DASH

    for dash in ("-", RANGE_DASH):
        text = evidence_text(f"W1 bottom group in 3 year(s) 2022{dash}2024", "zh")
        assert text.startswith("W1 关注：3年处于末位组"), text
        assert f"2022{RANGE_DASH}2024" in text, text


def test_the_acceptance_alerts_key_keeps_its_spelling_and_its_notice_the_range_dash():
    """The acceptance alert's change key was the mart's cycle text: writing the range dash at the source would have
    changed every open alert's key, and the store tells a changed key as a new episode."""
    from pipelines.alerts.conditions import describe_change
    from pipelines.labels import RANGE_DASH, label_text

    zh, en, _ = describe_change("acceptance_band", "2022-2024:title_removed")
    assert zh == f"2022{RANGE_DASH}2024 {label_text('title_removed')}"
    assert en.startswith(f"2022{RANGE_DASH}2024 ")


def test_the_range_dash_is_defined_once_for_marts_and_screens():
    import yaml

    from dashboards.formatting import RANGE_DASH
    from pipelines.settings import DBT_PROJECT_DIR

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    assert project["vars"]["range_dash"] == RANGE_DASH == "\u2013"
    # no model writes a range of years with a literal dash of its own: they call the year_range macro
    for path in (DBT_PROJECT_DIR / "models").rglob("*.sql"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"cycle_(?:start|first_year)[^\n]*'-'", text), path
        assert not re.search(r"concat_ws\('', '-', cast\(v\.\w+_last", text), path
