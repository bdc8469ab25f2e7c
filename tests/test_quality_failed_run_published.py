"""A run that fails on a blocking check: its check results reach the dashboard's quality page at once, while every
figure stays the last good release.

Before, the failed run did not publish at all, so its failures were in the store, the CLI and the alert but the
quality page went on showing the last successful run's checks until the next successful run. Now the failed run's
quality tables alone are published beside the snapshot (pipelines/snapshot_writer.publish_quality_snapshot, from
`ipcity run` and from the Dagster UI's run-failure sensor); the snapshot itself, which every data page, extract
and dossier reads, is not touched.

Real parts: a small generated sample run twice through the project's Dagster definitions (`run_pipeline`, as
`ipcity run`), the second run refused by a blocking Great Expectations check; the dashboard over HTTP as a
signed-in national user; the project's run-failure sensor evaluated on the failed run's own failure event.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dashboard_http import callback_body, page_body, signed_in_client

BAD_TARGET = "440300,plan_2021_2025,QLT99,2020,1.0,2025,2.0\n"  # an indicator code the catalogue does not hold
TARGET_HEADER = "city_code,plan_id,indicator_code,baseline_year,baseline_value,target_year,target_value\n"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def failed(tmp_path_factory):
    """A good run (published), then a run failing on raw/targets' blocking check."""
    from pipelines.generate import generate
    from pipelines.launcher import run_pipeline

    base = tmp_path_factory.mktemp("failed_quality")
    mp = pytest.MonkeyPatch()
    mp.setenv("IPCITY_WAREHOUSE", str(base / "warehouse.duckdb"))
    mp.delenv("IPCITY_LANDING", raising=False)
    mp.setenv("DAGSTER_HOME", str(base / "dagster_home"))
    try:
        generate(base / "landing", seed=7, scale=0.002, first_year=2023, last_year=2024, case_scale=0.05)
        good = run_pipeline()
        assert good.success, good.runs
        snap = base / "published" / "warehouse.snapshot.duckdb"
        before = _sha(snap)
        (base / "landing" / "targets").mkdir(exist_ok=True)
        (base / "landing" / "targets" / "补充目标.csv").write_text(TARGET_HEADER + BAD_TARGET, encoding="utf-8")
        bad = run_pipeline()
        assert not bad.success, bad.runs
        yield {
            "base": base,
            "snap": snap,
            "snap_sha": before,
            "good_run": good.runs[-1]["run_id"],
            "bad_run": bad.runs[-1]["run_id"],
        }
    finally:
        mp.undo()


def test_the_failed_run_publishes_its_checks_alone_and_not_its_data(failed):
    from pipelines.snapshot_writer import quality_snapshot_path

    assert _sha(failed["snap"]) == failed["snap_sha"]  # the figures' snapshot is the last good release, untouched
    quality = quality_snapshot_path(failed["snap"])
    assert quality.is_file()
    with duckdb.connect(str(quality), read_only=True) as con:
        schemas = {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
        assert schemas == {"quality", "raw", "meta"}  # no mart, no release: nothing of the failed run's data
        failing = con.execute(
            "select asset, check_name, passed, severity from quality.check_results where run_id = ? and not passed "
            "and severity = 'error'",
            [failed["bad_run"]],
        ).fetchall()
        assert ("raw.targets", "indicator_code__in_catalog", False, "error") in failing, failing
        meta = dict(con.execute("select key, value from meta.snapshot_info").fetchall())
        assert meta["run_id"] == failed["bad_run"] and meta["kind"] == "quality"
    assert quality.stat().st_mode & 0o077 == 0  # owner-only, as the snapshot


@pytest.fixture(scope="module")
def client(failed, tmp_path_factory):
    from dashboards.app import create_app

    base = tmp_path_factory.mktemp("failed_quality_page")
    app = create_app(failed["snap"], dossier_dir=base / "dossiers", user_store=base / "users.sqlite")
    return signed_in_client(app, base / "users.sqlite")


def _post(client, body) -> dict:
    r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return r.get_json()["response"]


def _checks(client, run_id: str, lang: str) -> dict:
    body = callback_body(
        [("dq-cards", "children"), ("dq-checks", "children"), ("dq-rej-fig", "figure"), ("dq-rejections", "children")],
        [("dq-run", "value", run_id)],
        [("dq-lang", "data", lang)],
    )
    grid = _post(client, body)["dq-checks"]["children"]["props"]
    return {(r["asset"], r["check_name"]): r for r in grid["rowData"]}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_quality_page_shows_the_failed_runs_checks_and_says_the_figures_are_the_last_release(failed, client, lang):
    from dashboards.snapshot import Snapshot

    layout = json.dumps(_post(client, page_body("/quality", f"?lang={lang}")), ensure_ascii=False)
    # the failed run is the one selected, its failing check is in the history, and the page says what is shown
    assert f'"value": "{failed["bad_run"]}"' in layout
    assert '"dq-failed-run"' in layout and failed["bad_run"][:8] in layout and failed["good_run"][:8] in layout
    assert ("数据未发布" if lang == "zh" else "its data was not published") in layout
    assert "indicator_code__in_catalog" in layout
    row = _checks(client, failed["bad_run"], lang)[("raw.targets", "indicator_code__in_catalog")]
    assert row["passed"] is False and row["failing_rows"] == 1
    # the data pages still read the last good release
    snap = Snapshot(failed["snap"])
    try:
        assert snap.query("select value from meta.snapshot_info where key = 'run_id'")["value"][0] == failed["good_run"]
        assert snap.quality_release()["run_id"] == failed["bad_run"]
    finally:
        snap.close()


def test_the_dagster_ui_path_publishes_the_failed_runs_checks_too(failed):
    """The run-failure sensor (`ipcity dev`: no `ipcity run` around the run) publishes them as `ipcity run` does."""
    from pipelines.automation import alert_run_failure_sensor
    from pipelines.launcher import dagster_instance
    from pipelines.snapshot_writer import quality_snapshot_path

    quality = quality_snapshot_path(failed["snap"])
    quality.unlink()
    mp = pytest.MonkeyPatch()
    mp.setenv("IPCITY_WAREHOUSE", str(failed["base"] / "warehouse.duckdb"))
    mp.setenv("DAGSTER_HOME", str(failed["base"] / "dagster_home"))
    try:
        instance = dagster_instance()  # the runs' own instance
        run = instance.get_run_by_id(failed["bad_run"])
        failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        ctx = dg.build_run_status_sensor_context(
            sensor_name="alert_run_failure_sensor",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure[0].event_log_entry.dagster_event,
        ).for_run_failure()
        alert_run_failure_sensor(ctx)
    finally:
        mp.undo()
    assert quality.is_file()
    with duckdb.connect(str(quality), read_only=True) as con:
        run_id = con.execute("select value from meta.snapshot_info where key = 'run_id'").fetchall()
    assert run_id == [(failed["bad_run"],)]


def test_a_later_release_replaces_the_failed_runs_quality_results(failed, tmp_path):
    """The next successful publication carries its own checks: the failed run's file goes, and one older than the
    snapshot (restored from a backup, say) is not shown."""
    from dashboards.snapshot import Snapshot
    from pipelines.snapshot_writer import publish_snapshot, quality_snapshot_path

    snap_path = tmp_path / "published" / "warehouse.snapshot.duckdb"
    quality = quality_snapshot_path(failed["snap"])
    quality_copy = quality_snapshot_path(snap_path)
    quality_copy.parent.mkdir(parents=True)
    quality_copy.write_bytes(quality.read_bytes())
    publish_snapshot(failed["base"] / "warehouse.duckdb", snap_path, run_id="later-good-run")
    assert not quality_copy.exists()
    quality_copy.write_bytes(quality.read_bytes())
    snap = Snapshot(snap_path)
    try:
        assert snap.quality_release() is None
        assert snap.query("select value from meta.snapshot_info where key = 'run_id'")["value"][0] == "later-good-run"
    finally:
        snap.close()


def test_the_failed_check_and_its_alert_say_which_file_which_rows_and_what_next(failed):
    """At 3 a.m.: the Dagster UI's failed check and the alert name the expectation, the landing file and its row,
    and the next step (mend the file, put it back under the same name, `ipcity run` or re-run the partition)."""
    from pipelines.alerts import failed_blocking_checks, run_failure_events
    from pipelines.launcher import dagster_instance

    mp = pytest.MonkeyPatch()
    mp.setenv("DAGSTER_HOME", str(failed["base"] / "dagster_home"))
    try:
        instance = dagster_instance()
        checks = failed_blocking_checks(instance, failed["bad_run"])
        run = instance.get_run_by_id(failed["bad_run"])
    finally:
        mp.undo()
    (check,) = [c for c in checks if c["asset"] == "raw/targets"]
    zh, en = check["description"].splitlines()
    for text in (zh, en):
        assert "indicator_code__in_catalog" in text and "补充目标.csv" in text and "ipcity run" in text, text
    assert "row 2" in en and "fails on 1 row" in en and "re-run partition" in en, en
    assert "第2行" in zh and "未通过1行" in zh and "重新运行分区" in zh, zh
    events = run_failure_events(run.run_id, run.job_name, "run failed", checks, run.tags)
    (alert,) = [e for e in events if e.rule_id == "blocking_check_failed" and "targets" in e.title_en]
    assert "补充目标.csv" in alert.title_en and "ipcity run" in alert.title_en
    assert "补充目标.csv" in alert.title_zh and "下一步" in alert.title_zh


def test_a_quality_file_without_its_publication_record_is_not_shown(tmp_path):
    """A stray or half-copied file at the quality snapshot's path (no meta.snapshot_info) leaves the page on the
    snapshot's own results instead of failing every page."""
    from dashboards.snapshot import Snapshot
    from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION, quality_snapshot_path

    snap_path = tmp_path / "warehouse.snapshot.duckdb"
    with duckdb.connect(str(snap_path)) as con:
        con.execute("create schema meta")
        con.execute("create table meta.snapshot_info (key varchar, value varchar)")
        con.execute(
            "insert into meta.snapshot_info values ('schema_version', ?), ('published_at', '2026-12-05T00:00:00+00:00')",
            [str(SNAPSHOT_SCHEMA_VERSION)],
        )
    with duckdb.connect(str(quality_snapshot_path(snap_path))) as con:
        con.execute("create schema quality")
    snap = Snapshot(snap_path)
    try:
        assert snap.quality_release() is None
        assert snap.query("select value from meta.snapshot_info where key = 'published_at'").height == 1
    finally:
        snap.close()


class _Clock:
    """``datetime`` for the snapshot writer whose ``now`` returns the given instants in turn."""

    def __init__(self, *instants):
        self._instants = list(instants)

    def now(self, tz=None):
        return self._instants.pop(0)


def test_a_release_published_within_the_same_second_as_the_failed_run_still_replaces_its_checks(failed, tmp_path):
    """A failed run's quality file written at 12:00:00.5 and a good publication at 12:00:00.9: the good one is the
    newer. Before, the snapshot's time was kept to the second (12:00:00) and the quality page went on showing the
    failed run's checks over the newer release (seen once in CI when the two publications fell in one second)."""
    from datetime import UTC, datetime

    import pipelines.snapshot_writer as writer
    from dashboards.snapshot import Snapshot

    snap_path = tmp_path / "published" / "warehouse.snapshot.duckdb"
    base = datetime(2026, 12, 5, 4, 0, 0, tzinfo=UTC)
    mp = pytest.MonkeyPatch()
    mp.setattr(writer, "datetime", _Clock(base.replace(microsecond=500_000), base.replace(microsecond=900_000)))
    try:
        writer.publish_quality_snapshot(failed["base"] / "warehouse.duckdb", failed["bad_run"], snapshot=snap_path)
        quality = writer.quality_snapshot_path(snap_path)
        kept = quality.read_bytes()
        writer.publish_snapshot(failed["base"] / "warehouse.duckdb", snap_path, run_id="same-second-good-run")
    finally:
        mp.undo()
    quality.write_bytes(kept)  # even when the failed run's file is still there (restored, or a slow remover)
    snap = Snapshot(snap_path)
    try:
        assert snap.quality_release() is None
    finally:
        snap.close()
