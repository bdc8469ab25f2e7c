"""A re-version's workbook built on its first download (issue 19: the eleventh year's cost).

``write_all`` writes a province-year's first version whole, but leaves the workbook of a re-version (a new year
moved the window, every earlier year changes) to its first download: listed in the manifest, built by
``extracts.ensure_file`` from the version's stored Parquet files. These tests hold that the workbook so built is
the one the run would have written, that concurrent first downloads build it once and atomically, and that only
a user allowed the province's files can cause the build."""

from __future__ import annotations

import shutil
import threading
import time

import duckdb
import openpyxl
import polars as pl
import pytest
from dashboard_http import signed_in_client

from dashboards.security import FORMULA_TRIGGERS
from pipelines import extracts as X

pytestmark = pytest.mark.slow

HOSTILE = '=HYPERLINK("http://x")'


def _xlsx(entry: dict) -> dict:
    return next(f for f in entry["files"] if f["format"] == "xlsx")


@pytest.fixture
def revised(sample_snapshot, tmp_path):
    """Every province's extract of the last year at v1 (write_all), then every city's index moved and one
    Guangdong city renamed to a formula, and write_all again: v2 everywhere, workbooks left to first download.
    ``eager`` holds Guangdong's v2 as ``write_extract`` writes it (workbook in the run) from the same v1."""
    snap = tmp_path / "snap.duckdb"
    shutil.copy(sample_snapshot.snapshot, snap)
    root, eager = tmp_path / "extracts", tmp_path / "eager"
    with duckdb.connect(str(snap), read_only=True) as con:
        year = X.released_years(con)[-1]
    first = X.write_all(snap, root, years=[year])
    assert first and all(e["version"] == 1 for e in first)
    for e in first:  # a first version is written whole in the run
        assert "built_on_request" not in _xlsx(e) and (root / _xlsx(e)["path"]).is_file()
    shutil.copytree(root, eager)
    with duckdb.connect(str(snap)) as con:
        con.execute(
            "update marts.fct_city_score_year set composite_index = composite_index + 0.5, "
            "composite_index_published = composite_index_published + 0.5 where year = ?",
            [year],
        )
        con.execute(
            "update marts.dim_city set unit_name = ? where unit_code = (select min(unit_code) from marts.dim_city "
            "where province_code = '440000' and level <> 'province')",
            [HOSTILE],
        )
    revised = {e["province_code"]: e for e in X.write_all(snap, root, years=[year])}
    with duckdb.connect(str(snap), read_only=True) as con:
        reference = X.write_extract(con, eager, "440000", year)
    return root, eager, revised, reference


def _cells(path) -> dict[str, list[list]]:
    wb = openpyxl.load_workbook(path)
    try:
        return {ws.title: [[(c.value, c.data_type) for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}
    finally:
        wb.close()


def test_a_re_version_workbook_is_built_on_first_download_equal_to_the_runs(revised):
    from pipelines.china_time import china_time_both

    root, eager, entries, reference = revised
    gd = entries["440000"]
    assert gd["version"] == reference["version"] == 2 and gd["content_hash"] == reference["content_hash"]
    f = _xlsx(gd)
    assert f["built_on_request"] and f["path"] == _xlsx(reference)["path"] and f["rows"] == _xlsx(reference)["rows"]
    path = root / f["path"]
    assert not path.exists()  # listed, not written in the run
    assert X.ensure_file(root, f["path"]) == path and path.is_file()
    got, want = _cells(path), _cells(eager / f["path"])
    # the same sheets, headers and values; the cover's generation time is each version's own
    (gen_got,) = [r for r in got["封面"] if r[0][0] == "生成时间 / Generated at"]
    (gen_want,) = [r for r in want["封面"] if r[0][0] == "生成时间 / Generated at"]
    assert gen_got[1][0] == china_time_both(gd["generated_at"])  # Beijing time, marked for both readers
    assert gen_want[1][0] == china_time_both(reference["generated_at"])
    for sheets, gen in ((got, gen_got), (want, gen_want)):
        sheets["封面"].remove(gen)
    assert got == want
    assert X.CHANGES_SHEET in got and len(got[X.CHANGES_SHEET]) > 1
    # text never becomes a formula: the renamed city is in the sheets, neutralised
    cells = [c for rows in got.values() for row in rows for c in row]
    assert ("'" + HOSTILE, "s") in cells
    assert not [c for c in cells if c[1] == "f" or (isinstance(c[0], str) and c[0].startswith(FORMULA_TRIGGERS))]
    # the version's Parquet files were written in the run; its CSV files too wait for their first download
    for other in gd["files"]:
        if other is not f:
            assert (root / other["path"]).is_file() == (other["format"] == "parquet"), other["path"]
    # a file no manifest lists is not built or served
    assert X.ensure_file(root, f["path"].replace("_v2", "_v9")) is None


def test_concurrent_first_downloads_build_it_once(revised, monkeypatch):
    root, _, entries, _ = revised
    f = _xlsx(entries["440000"])
    built = []
    real = X._write_workbook

    def slow_counted(path, *args):
        built.append(path)
        time.sleep(0.5)  # widen the window in which a second request could start a second build
        real(path, *args)

    monkeypatch.setattr(X, "_write_workbook", slow_counted)
    paths, errors = [], []

    def download():
        try:
            paths.append(X.ensure_file(root, f["path"]))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=download) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(built) == 1 and set(paths) == {root / f["path"]}
    assert openpyxl.load_workbook(root / f["path"], read_only=True).sheetnames[0] == "封面"
    folder = (root / f["path"]).parent
    assert not list(folder.glob("*.tmp"))  # the temporary name was renamed into place


def test_a_failed_build_leaves_no_workbook(revised, monkeypatch):
    root, _, entries, _ = revised
    f = _xlsx(entries["440000"])
    path = root / f["path"]

    def half_written(target, cover, sheets):
        target.write_bytes(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(X, "_write_xlsx_frames", half_written)
    with pytest.raises(OSError):
        X.ensure_file(root, f["path"])
    assert not path.exists() and not list(path.parent.glob("*.tmp"))
    monkeypatch.undo()
    X.ensure_file(root, f["path"])  # the next download builds it
    assert openpyxl.load_workbook(path, read_only=True).sheetnames[0] == "封面"


def test_only_a_user_allowed_the_province_causes_the_build(revised, sample_snapshot, tmp_path):
    from dashboards.app import create_app

    root, _, entries, _ = revised
    app = create_app(
        sample_snapshot.snapshot, user_store=tmp_path / "u.sqlite", secret_key_file=tmp_path / "k", extracts_dir=root
    )
    gd = signed_in_client(app, tmp_path / "u.sqlite", "gd_lazy", "province", "44")
    js, gd_file = _xlsx(entries["320000"]), _xlsx(entries["440000"])
    r = gd.get("/extracts/" + js["path"])
    assert r.status_code == 403 and not (root / js["path"]).exists()  # refused before anything is built
    r = gd.get("/extracts/" + gd_file["path"])
    assert r.status_code == 200 and r.data[:2] == b"PK" and r.content_type == X.MIMETYPES["xlsx"]
    assert (root / gd_file["path"]).read_bytes() == r.data
    nat = signed_in_client(app, tmp_path / "u.sqlite", "nat_lazy", "national")
    r = nat.get("/extracts/" + js["path"])
    assert r.status_code == 200 and (root / js["path"]).is_file()


def test_the_cli_names_a_workbook_that_exists(revised, tmp_path, monkeypatch):
    """``ipcity extract`` on an unchanged version prints that version's files: a workbook the run left to its
    first download is built first, so the printed path opens."""
    from click.testing import CliRunner

    from pipelines.cli import main

    root, _, entries, _ = revised
    gd = entries["440000"]
    published = tmp_path / "wh" / "published"
    published.mkdir(parents=True)
    shutil.copy(tmp_path / "snap.duckdb", published / "warehouse.snapshot.duckdb")
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    assert not (root / _xlsx(gd)["path"]).exists()
    args = ["extract", "--province", "44", "--year", str(gd["year"]), "--format", "xlsx", "--out", str(root)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "unchanged" in r.output, r.output
    path = [line for line in r.output.splitlines() if line.strip().endswith(".xlsx")][0].strip()
    assert path == str(root / _xlsx(gd)["path"])
    assert openpyxl.load_workbook(path, read_only=True).sheetnames[0] == "封面"


def _csvs(entry: dict) -> list[dict]:
    return [f for f in entry["files"] if f["format"] == "csv"]


def test_a_re_versions_csv_files_are_built_on_first_download_equal_to_the_runs(revised):
    """The CSV files of a re-version (its tables and its changes list) are listed, not written, in the run, and
    built on first download byte for byte as ``write_extract`` writes them in the run."""
    root, eager, entries, reference = revised
    gd = entries["440000"]
    got = _csvs(gd)
    assert {f["table"] for f in got} == {*X.TABLES, "changes"} & {f["table"] for f in _csvs(reference)}
    assert [f["path"] for f in got] == [f["path"] for f in _csvs(reference)]
    for f in got:
        assert f["built_on_request"] and not (root / f["path"]).exists()
        assert f["rows"] == next(r["rows"] for r in _csvs(reference) if r["path"] == f["path"])
        assert X.ensure_file(root, f["path"]) == root / f["path"]
        assert (root / f["path"]).read_bytes() == (eager / f["path"]).read_bytes(), f["path"]
    # the Parquet files are the run's own, as before
    for f in gd["files"]:
        if f["format"] == "parquet":
            assert (root / f["path"]).read_bytes() == (eager / f["path"]).read_bytes(), f["path"]


def test_a_failed_csv_build_leaves_no_file(revised, monkeypatch):
    root, _, entries, _ = revised
    f = next(f for f in _csvs(entries["440000"]) if f["table"] == "indicators")
    path = root / f["path"]

    def half_written(frame, target):
        target.write_bytes(b"\xef\xbb\xbfhalf")
        raise OSError("disk full")

    monkeypatch.setattr(X, "_write_csv_frame", half_written)
    with pytest.raises(OSError):
        X.ensure_file(root, f["path"])
    assert not path.exists() and not list(path.parent.glob("*.tmp"))


def test_only_a_user_allowed_the_province_causes_a_csv_build(revised, sample_snapshot, tmp_path):
    from dashboards.app import create_app

    root, _, entries, _ = revised
    app = create_app(
        sample_snapshot.snapshot, user_store=tmp_path / "u.sqlite", secret_key_file=tmp_path / "k", extracts_dir=root
    )
    gd = signed_in_client(app, tmp_path / "u.sqlite", "gd_lazy_csv", "province", "44")
    js = next(f for f in _csvs(entries["320000"]) if f["table"] == "changes")
    mine = next(f for f in _csvs(entries["440000"]) if f["table"] == "changes")
    r = gd.get("/extracts/" + js["path"])
    assert r.status_code == 403 and not (root / js["path"]).exists()  # refused before anything is built
    r = gd.get("/extracts/" + mine["path"])
    assert r.status_code == 200 and r.content_type == X.MIMETYPES["csv"] and r.data.startswith(b"\xef\xbb\xbf")
    assert (root / mine["path"]).read_bytes() == r.data


def test_the_changes_lists_are_computed_once_per_year(revised, monkeypatch):
    """A new year re-versions every province of an earlier year; ``write_all`` lists their changes for the whole
    year at once (``diff_year``), not province by province, and the lists are the row-by-row diff's."""
    root, _, entries, _ = revised
    year = entries["440000"]["year"]
    snap = root.parent / "snap.duckdb"
    with duckdb.connect(str(snap)) as con:
        con.execute(
            "update marts.fct_city_indicator_year set value = value * 1.01 where year = ? and value is not null",
            [year],
        )
    calls = []
    real = X.diff_tables
    monkeypatch.setattr(X, "diff_tables", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "1")  # in this process, so the calls are counted
    v3 = X.write_all(snap, root, years=[year])
    assert v3 and {e["version"] for e in v3} == {3} and not calls
    monkeypatch.undo()
    for e in v3:
        v2 = X.read_versions(root, e["province_code"], year)[-2]
        want = X.diff_tables(X._read_version_tables(root, v2), X._read_version_tables(root, e))
        got = pl.read_parquet(
            root / next(f["path"] for f in e["files"] if f["table"] == "changes" and f["format"] == "parquet")
        )
        assert got.equals(want) and e["changes"] == want.height > 0, e["province_code"]


def test_the_cli_names_csv_files_that_exist(revised, tmp_path, monkeypatch):
    """``ipcity extract --format csv`` on an unchanged re-version prints its CSV files (tables and changes list),
    each built first when the run left it to its first download."""
    from click.testing import CliRunner

    from pipelines.cli import main

    root, eager, entries, _ = revised
    gd = entries["440000"]
    published = tmp_path / "wh" / "published"
    published.mkdir(parents=True)
    shutil.copy(tmp_path / "snap.duckdb", published / "warehouse.snapshot.duckdb")
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    assert not any((root / f["path"]).exists() for f in _csvs(gd))
    args = ["extract", "--province", "44", "--year", str(gd["year"]), "--format", "csv", "--out", str(root)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "unchanged" in r.output, r.output
    printed = [line.strip() for line in r.output.splitlines() if line.strip().endswith(".csv")]
    assert printed == [str(root / f["path"]) for f in _csvs(gd)]
    for f in _csvs(gd):
        assert (root / f["path"]).read_bytes() == (eager / f["path"]).read_bytes()
