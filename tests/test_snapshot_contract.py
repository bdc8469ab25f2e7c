"""The published snapshot is a versioned contract: the pipeline writes meta.snapshot_info.schema_version, and the
dashboard opens only that version, saying why it refuses any other (including none)."""

from __future__ import annotations

import json

import duckdb
import pytest
from dashboard_fixtures import build_snapshot
from dashboard_http import page_body, signed_in_client

from dashboards.app import create_app
from dashboards.components import SNAPSHOT_REFUSED_ID
from dashboards.snapshot import Snapshot, SnapshotWrongVersion
from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION, publish_snapshot


def _set_version(path, version: str | None) -> None:
    con = duckdb.connect(str(path))
    try:
        if version is None:
            con.execute("drop table meta.snapshot_info")
        else:
            con.execute("update meta.snapshot_info set value = ? where key = 'schema_version'", [version])
    finally:
        con.close()


def test_publish_writes_the_schema_version(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts")
    con.execute("create table marts.dim_city as select '110100' as unit_code")
    con.close()
    info = publish_snapshot(warehouse, tmp_path / "published" / "x.snapshot.duckdb", run_id="r1")
    assert info["schema_version"] == SNAPSHOT_SCHEMA_VERSION
    con = duckdb.connect(str(tmp_path / "published" / "x.snapshot.duckdb"), read_only=True)
    rows = dict(con.execute("select key, value from meta.snapshot_info").fetchall())
    con.close()
    assert rows["schema_version"] == str(SNAPSHOT_SCHEMA_VERSION)
    assert (
        Snapshot(tmp_path / "published" / "x.snapshot.duckdb").query("select count(*) as n from marts.dim_city")["n"][0]
        == 1
    )


@pytest.mark.parametrize("version", [str(SNAPSHOT_SCHEMA_VERSION + 1), "0", None])
def test_the_reader_refuses_another_version_and_says_why(tmp_path, version):
    path = build_snapshot(tmp_path / "x.snapshot.duckdb")
    assert Snapshot(path).query("select count(*) as n from marts.dim_city")["n"][0] > 0
    _set_version(path, version)
    snap = Snapshot(path)
    with pytest.raises(SnapshotWrongVersion) as exc:
        snap.query("select count(*) from marts.dim_city")
    message = str(exc.value)
    assert f"schema version {version or 'none'}" in message
    assert f"reads version {SNAPSHOT_SCHEMA_VERSION} only" in message


def test_the_dashboard_refuses_a_wrong_version_with_a_clear_message(tmp_path):
    path = build_snapshot(tmp_path / "x.snapshot.duckdb")
    _set_version(path, "999")
    # the dashboard requires an account (issue 14): a national office user signed in through the real form
    app = create_app(path, user_store=tmp_path / "users.sqlite", secret_key_file=tmp_path / "secret_key")
    client = signed_in_client(app, tmp_path / "users.sqlite")
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "schema version 999" in health.get_json()["reason"]
    r = client.post("/_dash-update-component", data=json.dumps(page_body("/rankings")), content_type="application/json")
    assert r.status_code == 200
    text = json.dumps(r.get_json()["response"], ensure_ascii=False)
    assert SNAPSHOT_REFUSED_ID in text and "999" in text and str(SNAPSHOT_SCHEMA_VERSION) in text
    # and a matching version serves the page again, once re-published
    _set_version(path, str(SNAPSHOT_SCHEMA_VERSION))
    assert client.get("/healthz").status_code == 200
