"""The snapshot reader follows a swap even when another connection in the process holds the snapshot's path
(DuckDB caches database instances by path, which used to hand the reader the old file)."""

from __future__ import annotations

import os

import duckdb

from dashboards.snapshot import Snapshot
from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION


def _write(path, value: int) -> None:
    con = duckdb.connect(str(path))
    con.execute(f"CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT {value} AS v")
    con.execute("CREATE SCHEMA meta; CREATE TABLE meta.snapshot_info (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO meta.snapshot_info VALUES ('schema_version', ?)", [str(SNAPSHOT_SCHEMA_VERSION)])
    con.close()


def test_swap_is_seen_while_another_connection_holds_the_path(tmp_path):
    snap = tmp_path / "warehouse.snapshot.duckdb"
    _write(snap, 1)
    reader = Snapshot(snap)
    assert reader.query("SELECT v FROM marts.t")["v"][0] == 1
    other = duckdb.connect(str(snap), read_only=True)  # e.g. the pipeline's dossier step in the same process
    try:
        _write(tmp_path / "new.duckdb", 2)
        os.replace(tmp_path / "new.duckdb", snap)
        assert reader.query("SELECT v FROM marts.t")["v"][0] == 2
        assert sorted(p.name for p in tmp_path.iterdir()) == [snap.name]  # the private link is gone
    finally:
        other.close()
        reader.close()
