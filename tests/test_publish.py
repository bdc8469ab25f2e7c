"""The publish step on its own, in a second (issue 18: only a 166 s live test watched the swap).

publish_snapshot copies what the dashboard reads into a file beside the snapshot and os.replace()s it in: the
snapshot gets a new inode, a reader that opened the old one keeps reading the old content until it reopens,
and no temporary file is left behind, whether the publish succeeds or fails halfway.
"""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from pipelines import snapshot_writer as publish
from pipelines.snapshot_writer import publish_snapshot


def _warehouse(path, value: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create schema if not exists marts; create schema if not exists quality; create schema if not exists raw"
        )
        con.execute("create or replace table marts.fct_x as select ? as v", [value])
        con.execute("create or replace table quality.check_results as select 'c' as check_name, true as passed")
        con.execute("create or replace table raw.ingested_files as select 'f.csv' as file_name, 3 as rows_read")
        con.execute("create or replace table raw.patent_grants as select 'CN1B' as publication_number")


def _read_in_other_process(path) -> int:
    code = f"import duckdb; print(duckdb.connect({str(path)!r}, read_only=True).execute('select v from marts.fct_x').fetchall()[0][0])"
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def test_publish_swaps_in_a_new_file_and_earlier_readers_keep_the_old(tmp_path):
    wh, snap = tmp_path / "warehouse.duckdb", tmp_path / "published" / "warehouse.snapshot.duckdb"
    _warehouse(wh, 1)
    info = publish_snapshot(wh, snap, run_id="run-1")
    assert info["run_id"] == "run-1" and info["tables"]["marts.fct_x"] == 1
    first_inode = os.stat(snap).st_ino
    reader = duckdb.connect(str(snap), read_only=True)
    try:
        assert reader.execute("select v from marts.fct_x").fetchall() == [(1,)]
        # only what the dashboard reads: marts, quality, the ledger; never the record tables
        tables = {
            f"{s}.{t}"
            for s, t in reader.execute(
                "select table_schema, table_name from information_schema.tables where table_schema <> 'meta'"
            ).fetchall()
        }
        assert tables == {"marts.fct_x", "quality.check_results", "raw.ingested_files"}
        assert dict(reader.execute("select key, value from meta.snapshot_info").fetchall())["run_id"] == "run-1"

        _warehouse(wh, 2)
        publish_snapshot(wh, snap, run_id="run-2")
        assert os.stat(snap).st_ino != first_inode  # a new file, swapped in whole
        assert reader.execute("select v from marts.fct_x").fetchall() == [(1,)]  # the earlier reader: old file
        assert _read_in_other_process(snap) == 2  # a new reader: new file
    finally:
        reader.close()
    with duckdb.connect(str(snap), read_only=True) as again:
        assert again.execute("select v from marts.fct_x").fetchall() == [(2,)]
    assert sorted(p.name for p in snap.parent.iterdir()) == [snap.name]  # no temporary file left


def test_failed_publish_leaves_the_old_snapshot_and_no_temp_file(tmp_path, monkeypatch):
    wh, snap = tmp_path / "warehouse.duckdb", tmp_path / "published" / "warehouse.snapshot.duckdb"
    _warehouse(wh, 1)
    publish_snapshot(wh, snap)
    before = (os.stat(snap).st_ino, snap.read_bytes())
    _warehouse(wh, 2)
    real_tables = publish._tables

    def failing(con, schema):
        if schema == "quality":  # halfway: the marts are already copied into the temporary file
            raise RuntimeError("disk full")
        return real_tables(con, schema)

    monkeypatch.setattr(publish, "_tables", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        publish_snapshot(wh, snap)
    assert (os.stat(snap).st_ino, snap.read_bytes()) == before
    assert sorted(p.name for p in snap.parent.iterdir()) == [snap.name]
    # the warehouse is not left locked or changed by the failed publish
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute("select v from marts.fct_x").fetchall() == [(2,)]
