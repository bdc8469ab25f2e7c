"""The published snapshot's shape is written down once (pipelines/snapshot_schema.json, read from a real publish):
the tests' hand-made snapshots are built to it, and a real publish is held to it.

Before: tests/dashboard_fixtures.py hand-made its tables in a shape of its own, 27 tables and a hundred-odd columns
short of what publish writes (fct_evaluation_year without ``cycle``: the report PDF, the comparison and profile
pages and the rankings callback answered 500 there, which no real snapshot does), so a test over it passed or
failed for reasons no deployment has."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from dashboard_fixtures import build_snapshot, write_published_tables

from pipelines import snapshot_writer


def test_a_hand_made_snapshot_has_every_table_and_column_publish_writes(tmp_path):
    made = snapshot_writer.snapshot_schema(build_snapshot(tmp_path / "x.snapshot.duckdb"))
    assert made == snapshot_writer.published_schema()


def test_a_hand_made_snapshot_leaves_out_only_what_it_is_asked_to(tmp_path):
    made = snapshot_writer.snapshot_schema(
        build_snapshot(tmp_path / "x.snapshot.duckdb", include_quality=False, include_evaluation=False)
    )
    missing = set(snapshot_writer.published_schema()) - set(made)
    assert missing == {
        "quality.check_results",
        "quality.rejections_summary",
        "raw.ingested_files",
        "raw.rejected_rows",
        "marts.fct_evaluation_year",
        "marts.fct_evaluation_cycle",
        "marts.fct_rank_uncertainty",
        "marts.fct_alerts",
    }


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ({"marts.dim_city": pl.DataFrame({"unit_code": ["440300"], "made_up": [1]})}, "made_up"),
        ({"marts.not_published": pl.DataFrame({"a": [1]})}, "marts.not_published"),
    ],
)
def test_a_fixture_frame_publish_does_not_write_is_refused(tmp_path, frames, reason):
    con = duckdb.connect(str(tmp_path / "y.duckdb"))
    try:
        with pytest.raises(ValueError, match=reason):
            write_published_tables(con, frames)
    finally:
        con.close()


def test_the_seed_tables_carry_their_rows(tmp_path):
    con = duckdb.connect(str(build_snapshot(tmp_path / "x.snapshot.duckdb")), read_only=True)
    try:
        for table in ("labels", "province_names", "programme_calendar", "performance_bands"):
            assert con.execute(f"select count(*) from marts.{table}").fetchall()[0][0] > 0, table
    finally:
        con.close()


@pytest.mark.slow
def test_a_real_publish_writes_the_recorded_shape(sample_snapshot):
    """A change to what publish writes fails here until pipelines/snapshot_schema.json is rewritten
    (``snapshot_writer.write_schema_file(<a published snapshot>)``) and SNAPSHOT_SCHEMA_VERSION considered."""
    real = snapshot_writer.snapshot_schema(sample_snapshot.snapshot)
    recorded = snapshot_writer.published_schema()
    assert sorted(real) == sorted(recorded)
    for table, columns in real.items():
        assert columns == recorded[table], table
