"""Every file a user takes away says which of its data are synthetic and which real (中文 and English), derived
from what was loaded (pipelines/data_nature.py), in a form that survives how the file is used: CSV keeps its
header as the first line (the label is a last column in every row), XLSX has the column or a cover line, a note
sheet and document properties, Parquet its key-value metadata, the PDF report a line on every page, the dossier
one under its title. A warehouse that loaded no generated file says nothing of synthetic data."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess

import duckdb
import openpyxl
import polars as pl
import pytest

from pipelines import data_nature as dn
from pipelines.data_nature import DataNature
from pipelines.labels import label_text

SYN_ZH = label_text("provenance_synthetic_sources", "zh")  # 合成示例数据
SYN_EN = label_text("provenance_synthetic_sources", "en")
ROW_SYN = DataNature().row_value()  # 合成示例 / Synthetic sample
ROW_REAL = DataNature(()).row_value()
HEADER = DataNature().header()


def _says_synthetic(text: str) -> bool:
    low = text.lower()
    return "合成" in text or "synthetic" in low


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM, then the header as the first line"
    first_line = data[3:].split(b"\n", 1)[0].decode("utf-8")
    assert not first_line.startswith("#"), "no comment line before the header"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][-1] == HEADER, rows[0]
    assert len({len(r) for r in rows}) == 1, "every row has the header's number of fields"
    return rows


def _add_ledger_row(con, source: str, file_hash: str) -> None:
    con.execute(
        "insert into raw.ingested_files (source, file_name, file_hash, status, ingested_at) "
        "values (?, ?, ?, 'loaded', current_timestamp)",
        [source, f"{source}.csv", file_hash],
    )


# ---- what was loaded decides the label (no sample run) -----------------------------------------------------------
def test_nature_follows_the_files_loaded(warehouse, tmp_path):
    truth = tmp_path / "sample_truth.json"
    _add_ledger_row(warehouse, "pledge_loans", "a" * 64)
    # no truth file: nothing was generated here, every loaded file is an office's
    assert dn.loaded_synthetic(warehouse, truth) == ()
    # the generator wrote other files than the ones loaded
    truth.write_text(json.dumps({dn.TRUTH_HASHES_KEY: {"pledge_loans": ["b" * 64]}}), encoding="utf-8")
    assert dn.loaded_synthetic(warehouse, truth) == ()
    # the loaded pledge file is the generator's: pledge loans (and only they) are synthetic
    truth.write_text(json.dumps({dn.TRUTH_HASHES_KEY: {"pledge_loans": ["a" * 64]}}), encoding="utf-8")
    assert dn.loaded_synthetic(warehouse, truth) == ("pledge_loans",)
    # a generated population file: its cities are synthetic, its provinces (the real panel) are not
    _add_ledger_row(warehouse, "population", "c" * 64)
    truth.write_text(json.dumps({dn.TRUTH_HASHES_KEY: {"population": ["c" * 64]}}), encoding="utf-8")
    assert dn.loaded_synthetic(warehouse, truth) == ("population (cities)",)
    # a truth file from before the hash list: generated, which files unknown -> the documented labels
    truth.write_text(json.dumps({"seed": 42}), encoding="utf-8")
    assert dn.loaded_synthetic(warehouse, truth) == dn.DOCUMENTED_SYNTHETIC


def test_the_note_names_both_kinds_in_both_languages():
    nature = DataNature(("pledge_loans",))
    zh, en = nature.note("zh"), nature.note("en")
    assert "知识产权质押融资" in zh and "行政区划" in zh and "执法案件" in zh  # 执法案件 is real here
    assert zh.index("知识产权质押融资") < zh.index(label_text("provenance_real_sources", "zh"))
    assert "IP pledge loans" in en and "Enforcement cases" in en
    real = DataNature(())
    assert not _says_synthetic(real.note_both()) and not _says_synthetic(real.row_value())


@pytest.fixture
def real_snapshot(warehouse, tmp_path, monkeypatch):
    """A warehouse of office files only (the reference cities file, no generator truth) published."""
    warehouse.close()
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.delenv("IPCITY_LANDING", raising=False)
    from pipelines.snapshot_writer import publish_snapshot

    snap = tmp_path / "published" / "x.snapshot.duckdb"
    publish_snapshot(tmp_path / "warehouse.duckdb", snap)
    return snap


def test_a_warehouse_without_synthetic_sources_does_not_say_synthetic(real_snapshot, tmp_path):
    from dashboards import indicator_download as ind
    from dashboards.report import nature_block, page_css
    from dashboards.snapshot import Snapshot
    from pipelines import extracts
    from pipelines import scenarios as sc

    with duckdb.connect(str(real_snapshot), read_only=True) as con:
        assert (
            json.loads(
                con.execute("select value from meta.snapshot_info where key = ?", [dn.SNAPSHOT_KEY]).fetchall()[0][0]
            )
            == []
        )
        nature = dn.nature_of(con)
    assert not nature.is_synthetic and nature.row_value() == ROW_REAL
    df = pl.DataFrame({"城市": ["广州市"], "数值": [1.5]})
    rows = _csv_rows(ind.to_csv_bytes(df, nature))
    assert rows[1][-1] == ROW_REAL
    book = openpyxl.load_workbook(io.BytesIO(ind.to_xlsx_bytes(df, nature)))
    texts = [str(c.value) for ws in book for row in ws.iter_rows() for c in row if c.value is not None]
    assert not any(_says_synthetic(t) for t in texts)
    assert not _says_synthetic(book.properties.description or "") and book.properties.description
    csv_text = sc.export_changes(pl.DataFrame(schema=sc._CHANGE_SCHEMA), "csv", "x", nature=nature).decode()
    assert not _says_synthetic(csv_text) and HEADER in csv_text
    path = tmp_path / "t.csv"
    extracts._write_table_csv("scores", pl.DataFrame({"unit_code": ["440100"]}), path, nature)
    assert _csv_rows(path.read_bytes())[1][-1] == ROW_REAL
    snap = Snapshot(real_snapshot)
    assert not _says_synthetic(nature_block(snap)) and ROW_REAL in nature_block(snap)
    assert ROW_REAL in page_css(snap) and not _says_synthetic(page_css(snap))


def test_an_older_snapshot_without_the_key_keeps_the_documented_labels(real_snapshot):
    with duckdb.connect(str(real_snapshot)) as con:
        con.execute("delete from meta.snapshot_info where key = ?", [dn.SNAPSHOT_KEY])
        assert dn.published_synthetic(con) == dn.DOCUMENTED_SYNTHETIC


# ---- the sample run: every download path carries the label -------------------------------------------------------
@pytest.fixture(scope="module")
def sample(sample_snapshot):
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    year = con.execute("select max(year) from marts.fct_city_score_year").fetchall()[0][0]
    con.close()
    return sample_snapshot, year


@pytest.fixture(scope="module")
def client(sample, tmp_path_factory):
    from dashboard_http import signed_in_client

    from dashboards.app import create_app

    run, _ = sample
    base = tmp_path_factory.mktemp("access")
    app = create_app(run.snapshot, user_store=base / "users.sqlite", secret_key_file=base / "secret_key")
    return signed_in_client(app, base / "users.sqlite")


@pytest.mark.slow
def test_the_sample_snapshot_records_its_synthetic_sources(sample):
    run, _ = sample
    with duckdb.connect(str(run.snapshot), read_only=True) as con:
        assert set(dn.published_synthetic(con)) == set(dn.DOCUMENTED_SYNTHETIC)


@pytest.mark.slow
def test_indicator_downloads_carry_the_label(sample, client):
    _, year = sample
    r = client.get(f"/download/extract?year={year}&province=440000&fmt=csv")
    assert r.status_code == 200
    rows = _csv_rows(r.data)
    assert len(rows) > 1 and {row[-1] for row in rows[1:]} == {ROW_SYN}
    frame = pl.read_csv(io.BytesIO(r.data))  # a script's reader: the header is the header
    assert frame.columns[-1] == HEADER and frame.height == len(rows) - 1
    r = client.get(f"/download/extract?year={year}&province=440000&fmt=xlsx")
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.data))
    data = book.worksheets[0]
    header = [c.value for c in data[1]]
    assert header[-1] == HEADER and all("\u4e00" <= str(h)[0] <= "\u9fff" for h in header)  # Chinese headers
    assert {row[-1] for row in data.iter_rows(min_row=2, values_only=True)} == {ROW_SYN}
    note = " ".join(str(c.value) for row in book.worksheets[-1].iter_rows() for c in row if c.value)
    assert SYN_ZH in note and SYN_EN in note
    assert SYN_ZH in book.properties.description and SYN_EN in book.properties.description
    assert all(c.data_type != "f" for ws in book for row in ws.iter_rows() for c in row)  # the formula guard


@pytest.mark.slow
def test_ambition_and_scenario_exports_carry_the_label(sample):
    from dashboards import access
    from dashboards.pages.programmes import ambition_download
    from dashboards.snapshot import Snapshot
    from pipelines import scenarios as sc

    run, _ = sample
    snap = Snapshot(run.snapshot)
    national = access.Principal("chief", "national")
    sent = ambition_download(snap, national, "csv")
    rows = _csv_rows(base64.b64decode(sent["content"]))
    assert len(rows) > 1 and {row[-1] for row in rows[1:]} == {ROW_SYN}
    sent = ambition_download(snap, national, "xlsx")
    book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(sent["content"])))
    assert [c.value for c in book.worksheets[0][1]][-1] == HEADER
    assert SYN_EN in book.properties.description
    changes = pl.DataFrame(
        [{"kind": "stage", "unit_code": "440100", "unit_name": "=1+1", "province_code": "44", "period": "2025",
          "base_value": "normal", "scenario_value": "watch", "robustness": "robust"}],
        schema=sc._CHANGE_SCHEMA,
    )  # fmt: skip
    nature = dn.nature_of(snap)
    rows = _csv_rows(sc.export_changes(changes, "csv", "s", nature=nature))
    assert rows[1][-1] == ROW_SYN
    book = openpyxl.load_workbook(io.BytesIO(sc.export_changes(changes, "xlsx", "s", nature=nature)))
    assert book.worksheets[0].cell(2, book.worksheets[0].max_column).value == HEADER
    assert SYN_ZH in book.properties.description and "数据说明 About" in book.sheetnames
    assert all(c.data_type != "f" for ws in book for row in ws.iter_rows() for c in row)


@pytest.mark.slow
def test_provincial_extract_files_carry_the_label(sample, tmp_path):
    from pipelines import extracts

    run, year = sample
    entries = extracts.write_all(run.snapshot, root=tmp_path, provinces=["44"], years=[year])
    assert entries
    files = [tmp_path / f["path"] for e in entries for f in e["files"]]
    csvs = [p for p in files if p.suffix == ".csv"]
    assert csvs
    for p in csvs:
        rows = _csv_rows(p.read_bytes())
        assert {row[-1] for row in rows[1:]} <= {ROW_SYN}, p.name
    for p in (p for p in files if p.suffix == ".parquet"):
        meta = pl.read_parquet_metadata(p)
        assert meta["data_provenance"] == ROW_SYN and SYN_EN in meta["data_provenance_note"], p.name
        assert HEADER not in pl.read_parquet(p).columns  # the published tables' columns, unchanged
    (book_path,) = (p for p in files if p.suffix == ".xlsx")
    book = openpyxl.load_workbook(book_path)
    cover = {r[0]: r[1] for r in book["封面"].iter_rows(values_only=True)}
    assert cover[HEADER] == ROW_SYN
    assert SYN_ZH in cover["数据说明 / About the data"] and SYN_EN in cover["数据说明 / About the data"]
    assert SYN_ZH in book.properties.description
    # the CLI's path (ipcity extract: write_extract on the snapshot) says the same
    with duckdb.connect(str(run.snapshot), read_only=True) as con:
        entry = extracts.write_extract(con, tmp_path / "cli", "44", year)
    cli_csv = [tmp_path / "cli" / f["path"] for f in entry["files"] if f["format"] == "csv"]
    assert cli_csv
    for p in cli_csv:
        assert {row[-1] for row in _csv_rows(p.read_bytes())[1:]} <= {ROW_SYN}, p.name


@pytest.mark.slow
def test_pdf_report_says_it_on_every_page(sample, client, tmp_path):
    import shutil

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) reads the PDF's text; .ci/run installs it")
    _, year = sample
    r = client.get(f"/report.pdf?year={year}&lang=en")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    path = tmp_path / "r.pdf"
    path.write_bytes(r.data)
    text = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, timeout=60).stdout
    pages = [p for p in text.decode().split("\f") if p.strip()]
    assert len(pages) >= 2
    for i, page in enumerate(pages):
        assert "Synthetic sample" in page and "合成示例" in page, f"page {i + 1}"
    first = " ".join(pages[0].split())
    assert SYN_ZH in first and SYN_EN in first


@pytest.mark.slow
def test_dossiers_say_it_under_the_title(sample):
    run, _ = sample
    assert run.dossiers
    for name in run.dossiers[:3]:
        page = (run.dossier_dir / name).read_text(encoding="utf-8")
        md = (run.dossier_dir / name.replace(".html", ".md")).read_text(encoding="utf-8")
        for text in (page, md):
            assert ROW_SYN in text and SYN_ZH in text and SYN_EN in text, name
        assert md.index(ROW_SYN) < md.index("## ")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_banner_and_footer_follow_what_the_snapshot_loaded(lang):
    """The files said what was loaded, but every page's banner and footer still called the data synthetic from
    fixed text: a deployment on the offices' own files read "synthetic sample" on every page."""
    from dashboards.app import banner_text, footer_text
    from dashboards.i18n import t
    from pipelines.data_nature import DOCUMENTED_SYNTHETIC

    synthetic_word = {"zh": "合成", "en": "synthetic"}[lang]
    assert banner_text(DOCUMENTED_SYNTHETIC, lang) == t("synthetic_banner", lang)  # the sample: its own note
    assert banner_text(None, lang) == t("synthetic_banner", lang)  # not known (no snapshot): the sample's note
    real = banner_text((), lang)
    assert synthetic_word not in real.lower() and real.startswith(t("data_banner", lang).split("{")[0]), real
    assert synthetic_word not in footer_text({"year": 2025, "synthetic_sources": []}, lang).lower()
    assert t("ft_synthetic", lang) in footer_text({"year": 2025, "synthetic_sources": ["pledge_loans"]}, lang)
    assert t("ft_synthetic", lang) in footer_text({"year": 2025}, lang)  # an older record: the documented sample
