"""Evaluation releases on the generated sample, with the real ingestion, dbt and uncertainty step (issue 10):

release year Y, land year Y+1 and rerun everything, and release Y again: the released rows are byte-identical
and no new release appears (its figures were frozen on the window ending at Y), although the current marts
re-scored Y; then a corrected file of year Y gives a restatement whose diff names the changed city and why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import settings
from pipelines.evaluation.releases import release
from pipelines.evaluation.uncertainty import run_uncertainty, write_rank_uncertainty
from pipelines.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.slow

Y = 2018
RUNS = 200  # fewer Monte Carlo runs than the pipeline's 1000: the test is about freezing, not precision


def _dbt(args: list[str], wh: Path, work: Path) -> None:
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        capture_output=True,
        text=True,
        cwd=DBT_PROJECT_DIR,
        env={**os.environ, "IPCITY_WAREHOUSE": str(wh)},
    )
    assert res.returncode == 0, res.stdout[-5000:]


def _ingest(wh: Path, landing: Path, years: set[int] | None) -> None:
    from pipelines.ingest.load import ingest_file, landing_files, partition_of
    from pipelines.sources import SOURCES

    with duckdb.connect(str(wh)) as con:
        for source in SOURCES.values():
            for f in landing_files(landing, source):
                if years is not None and source.partitioned and partition_of(f, source) not in years:
                    continue
                ingest_file(con, source, f)


def _rebuild(wh: Path, work: Path) -> None:
    _dbt(["seed"], wh, work)
    _dbt(["run", "--exclude", *settings.DBT_EVALUATION_SELECTORS], wh, work)
    with duckdb.connect(str(wh)) as con:
        write_rank_uncertainty(con, run_uncertainty(con, n_runs=RUNS, seed=20160086))
    _dbt(["run", "--select", *settings.DBT_EVALUATION_SELECTORS], wh, work)


def _released_bytes(wh: Path, release_id: str, work: Path) -> dict[str, bytes]:
    out = {}
    with duckdb.connect(str(wh), read_only=True) as con:
        for table in ("evaluation_year", "evaluation_cycle", "city_score_year", "acceptance_score"):
            path = work / f"{release_id}_{table}.parquet"
            con.sql(
                f"select * from releases.{table} where release_id = '{release_id}' order by unit_code"
            ).pl().write_parquet(path)
            out[table] = path.read_bytes()
    return out


def _correct_pledge_file(landing: Path, unit: str, year: int) -> None:
    """A province office re-sends the pledge-loan file of ``year`` (same name, new bytes) with the amounts of
    ``unit`` corrected (x 5); every other row is unchanged."""
    path = landing / "pledge_loans" / f"pledge_loans_{year}.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[0][:4] == unit[:4] and (unit.endswith("00") or cells[0] == unit):
            cells[3] = f"{float(cells[3]) * 5:.6f}"
        out.append(",".join(cells))
    path.write_text("\n".join(out) + "\n", encoding="utf-8-sig")


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    import json

    from pipelines.generate import generate

    work = tmp_path_factory.mktemp("releases")
    landing = work / "landing"
    generate(landing, seed=42, scale=0.002, first_year=2016, last_year=Y + 1, resubmission=False)
    truth = json.loads((work / "sample_truth.json").read_text(encoding="utf-8"))
    wh = work / "warehouse.duckdb"
    # the data of year Y have arrived, Y+1 not yet
    _ingest(wh, landing, set(range(2010, Y + 1)))
    _rebuild(wh, work)
    first = release(wh, Y, mc_runs=RUNS, work_dir=work)
    first_bytes = _released_bytes(wh, first.release_id, work)
    with duckdb.connect(str(wh), read_only=True) as con:
        index_at_release = con.sql(
            f"select unit_code, composite_index from marts.fct_city_score_year where year = {Y}"
        ).pl()
    return {
        "wh": wh,
        "work": work,
        "landing": landing,
        "truth": truth,
        "first": first,
        "first_bytes": first_bytes,
        "index_at_release": index_at_release,
    }


def test_release_records_versions(released):
    first = released["first"]
    assert first.created and first.release_id == f"R{Y}-01" and first.supersedes_release_id is None
    with duckdb.connect(str(released["wh"]), read_only=True) as con:
        meta = con.sql("select * from releases.releases").pl().row(0, named=True)
        n_eval = con.sql(f"select count(*) from marts.fct_evaluation_year where year = {Y}").fetchall()[0][0]
    assert meta["evaluation_year"] == Y and meta["window_last_year"] == Y and meta["window_first_year"] == 2016
    assert meta["catalog_version"] == "2021.1" and meta["rules_version"] == "2021.1"
    assert meta["mc_seed"] == 20160086 and meta["data_version"].count("-") == 1
    assert meta["code_version"] and meta["released_at"] is not None and meta["n_units"] == n_eval


def test_landing_the_next_year_never_rescores_a_released_year(released):
    wh, work = released["wh"], released["work"]
    _ingest(wh, released["landing"], None)  # year Y+1 lands
    _rebuild(wh, work)
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.sql("select max(year) from marts.fct_city_score_year").fetchall()[0][0] == Y + 1
        now = con.sql(f"select unit_code, composite_index from marts.fct_city_score_year where year = {Y}").pl()
    # the current marts re-scored year Y with the wider window (that is what a release must not do) ...
    moved = now.join(released["index_at_release"], on="unit_code", suffix="_then").filter(
        (pl.col("composite_index") - pl.col("composite_index_then")).abs() > 1e-9
    )
    assert moved.height > 0
    # ... but releasing Y again recomputes it on the window ending at Y: same figures, no new release
    again = release(wh, Y, mc_runs=RUNS, work_dir=work)
    assert not again.created and again.release_id == released["first"].release_id
    assert _released_bytes(wh, again.release_id, work) == released["first_bytes"]
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.sql("select count(*) from releases.releases").fetchall()[0][0] == 1


def test_corrected_file_gives_a_restatement_naming_the_city(released):
    wh, work = released["wh"], released["work"]
    unit = released["truth"]["borderline"][0]
    _correct_pledge_file(released["landing"], unit, Y)
    _ingest(wh, released["landing"], {Y})
    _rebuild(wh, work)
    restated = release(wh, Y, mc_runs=RUNS, work_dir=work)
    assert restated.created and restated.release_id == f"R{Y}-02"
    assert restated.supersedes_release_id == f"R{Y}-01"
    assert unit in restated.changed_units
    with duckdb.connect(str(wh), read_only=True) as con:
        diff = con.sql("select * from releases.restatement_diff").pl()
        meta = con.sql("select * from releases.releases order by release_id").pl()
    mine = diff.filter(pl.col("unit_code") == unit)
    assert mine.height > 0 and mine["reason"].str.contains("own data revised").all()
    assert mine["reason"].str.contains(f"pledge_loans {Y} pledge_loans_{Y}.csv").all()
    # cities whose own data did not change are told why they moved: the scale (programme mean / bounds)
    others = diff.filter(pl.col("unit_code") != unit)
    assert others["reason"].str.starts_with("rescaling").all()
    assert meta["data_version"][0] != meta["data_version"][1]
    # the first release is untouched
    assert _released_bytes(wh, f"R{Y}-01", work) == released["first_bytes"]


def test_dashboard_shows_the_release_and_where_current_data_differ(released, tmp_path):
    from dashboards import queries
    from dashboards.pages.profile import acceptance_view
    from dashboards.snapshot import Snapshot
    from pipelines.labels import label_text
    from pipelines.snapshot_writer import publish_snapshot

    snap_path = tmp_path / "x.snapshot.duckdb"
    publish_snapshot(released["wh"], snap_path)
    snap = Snapshot(snap_path)
    assert queries.latest_release_year(snap) == Y
    unit = released["truth"]["borderline"][0]
    status = queries.release_status(snap, unit, Y)
    assert status["release_id"] == f"R{Y}-02" and status["released"]["stage"] is not None
    # the marts now hold Y+1 too: year Y's current index is re-scored, the release is not
    assert status["differs"] is True
    view = str(
        acceptance_view(queries.profile_acceptance(snap, unit), status, queries.profile_attribution(snap, unit), "en")
    )
    # the labels seed's words, as the alert and the dossier say it (round 13: releases.release_verdict_text)
    assert f"R{Y}-02" in view and label_text("current_data_differ", "en") in view
    assert queries.national_benchmark(snap, "QLT01").height > 0


def test_released_differs_is_pure():
    from pipelines.evaluation.releases import released_differs

    row = {"stage": "watch", "composite_index": 65.0}
    assert not released_differs(row, dict(row))
    assert released_differs(row, {"stage": "review", "composite_index": 65.0})
    assert released_differs(row, {"stage": "watch", "composite_index": 65.1})
    assert released_differs(row, None) and not released_differs(None, None)


def test_extracts_show_the_release_and_where_current_data_differ(released, tmp_path):
    """Issue 10 for the provincial extracts: the year's extract names its release, shows each city's
    as-released stage, index and rank beside the current figures, and marks the cities whose current figures
    moved since (here: all re-scored, year Y+1 widened the window); CSV, Parquet and the workbook agree."""
    from openpyxl import load_workbook

    from pipelines.evaluation.releases import released_differs
    from pipelines.extracts import HEADERS, read_versions, write_all
    from pipelines.labels import published_index
    from pipelines.snapshot_writer import publish_snapshot

    snap_path = tmp_path / "x.snapshot.duckdb"
    publish_snapshot(released["wh"], snap_path)
    root = tmp_path / "extracts"
    entries = write_all(snap_path, root, years=[Y])
    assert entries and {e["release_id"] for e in entries} == {f"R{Y}-02"}
    with duckdb.connect(str(snap_path), read_only=True) as con:
        as_released = con.sql(
            "select s.unit_code, e.stage, s.composite_index, s.rank from releases.city_score_year s "
            "left join releases.evaluation_year e on e.release_id = s.release_id and e.unit_code = s.unit_code "
            f"where s.release_id = 'R{Y}-02'"
        ).pl()
    assert as_released["stage"].null_count() < as_released.height  # the programme cities' verdicts
    by_unit = {r["unit_code"]: r for r in as_released.iter_rows(named=True)}
    scores = pl.concat(
        [
            pl.read_parquet(root / f["path"])
            for e in entries
            for f in e["files"]
            if f["table"] == "scores" and f["format"] == "parquet"
        ]
    )
    assert scores.height == as_released.height
    for r in scores.iter_rows(named=True):
        # both indices as published: the figure a city reads and its rank is decided on (round 9)
        rel = {
            **by_unit[r["unit_code"]],
            "composite_index": published_index(by_unit[r["unit_code"]]["composite_index"]),
        }
        assert (r["released_stage"], r["released_composite_index"], r["released_rank"]) == (
            rel["stage"],
            rel["composite_index"],
            rel["rank"],
        )
        assert r["differs_from_release"] == released_differs(rel, r)
    # the marts hold Y+1 now: the current index of year Y moved, the release did not
    assert scores["differs_from_release"].any()
    moved = scores.filter(pl.col("differs_from_release"))
    shown_moved = (moved["composite_index"] != moved["released_composite_index"]) | (
        moved["rank"] != moved["released_rank"]
    )
    assert shown_moved.any()
    # the workbook: the same columns under Chinese headers, and the count on the cover
    entry = next(e for e in entries if read_versions(root, e["province_code"], Y))
    wb = load_workbook(root / next(f["path"] for f in entry["files"] if f["format"] == "xlsx"), read_only=True)
    sheet_rows = list(wb["得分排名与评价阶段"].iter_rows(values_only=True))
    header = list(sheet_rows[0])
    for column in ("released_stage", "released_composite_index", "released_rank", "differs_from_release"):
        assert HEADERS[column] in header
    mine = scores.filter(pl.col("province_code") == entry["province_code"])
    cover = {r[0]: r[1] for r in wb["封面"].iter_rows(values_only=True)}
    assert cover["发布编号 / Release id"] == f"R{Y}-02"
    differ_line = cover["当前数据与发布不同的城市 / Cities whose current figures differ from the release"]
    assert differ_line.startswith(f"{int(mine['differs_from_release'].sum())}（")
    csv_header = root / next(f["path"] for f in entry["files"] if f["table"] == "scores" and f["format"] == "csv")
    assert HEADERS["differs_from_release"] in csv_header.read_text(encoding="utf-8-sig").splitlines()[0]
