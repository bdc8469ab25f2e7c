"""The printable annual report on a real sample-run snapshot: national report and city one-pager in both
languages, rendered to PNG page images with poppler's pdftoppm and checked (pages, A4, ink on every page, the
official wording and the release/version block), from the library, the CLI and the dashboard's route."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from PIL import Image

from dashboards.app import create_app
from dashboards.report import report_pdf
from dashboards.snapshot import Snapshot

pytestmark = pytest.mark.slow

PDFTOPPM = shutil.which("pdftoppm")
PDFTOTEXT = shutil.which("pdftotext")


@pytest.fixture(scope="module")
def snap_path(sample_snapshot) -> Path:
    return sample_snapshot.snapshot


@pytest.fixture(scope="module")
def year(snap_path) -> int:
    with duckdb.connect(str(snap_path), read_only=True) as con:
        return con.execute("select max(year) from marts.fct_evaluation_year").fetchone()[0]


def render_pages(pdf: bytes, tmp: Path, name: str) -> list[Path]:
    if not PDFTOPPM:
        pytest.skip("pdftoppm (poppler-utils) is needed to render the report's pages; .ci/run installs it")
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run([PDFTOPPM, "-r", "40", "-png", str(path), str(tmp / name)], check=True, timeout=120)
    return sorted(tmp.glob(f"{name}-*.png"))


def pdf_text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "text.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([PDFTOTEXT, str(path), "-"], check=True, capture_output=True, timeout=60).stdout.decode()
    return " ".join(out.split())  # titles may wrap


def ink_share(png: Path) -> float:
    img = Image.open(png).convert("L")
    histogram = img.histogram()
    return sum(histogram[:200]) / sum(histogram)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_national_report_renders_to_a4_pages_with_official_wording(snap_path, year, tmp_path, lang):
    snap = Snapshot(snap_path)
    try:
        pdf = report_pdf(snap, year, None, lang)
    finally:
        snap.close()
    assert pdf.startswith(b"%PDF")
    pages = render_pages(pdf, tmp_path, f"national_{lang}")
    assert len(pages) >= 3  # overview + chart, ranking of all programme units, flags and targets
    for page in pages:
        w, h = Image.open(page).size
        assert abs(h / w - 297 / 210) < 0.02  # A4 portrait
        assert ink_share(page) > 0.01, f"{page.name} is blank"
    artifacts = Path(__file__).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)
    for page in pages[:2]:
        shutil.copy(page, artifacts / f"report_national_{page.name}")
    text = pdf_text(pdf, tmp_path)
    if lang == "zh":
        assert "国家知识产权局" in text and f"{year}年度知识产权强市建设监测评价报告" in text.replace(" ", "")
        assert "国知发管字" in text and "数据版本" in text
    else:
        assert f"Monitoring and Evaluation Report {year}" in text and "Release" in text
    assert "snapshot.duckdb" in text or "release_id" in text  # which figures these are


def test_city_one_pager_carries_real_order_values(snap_path, year, tmp_path):
    snap = Snapshot(snap_path)
    try:
        pdf = report_pdf(snap, year, "110100", "zh")
    finally:
        snap.close()
    pages = render_pages(pdf, tmp_path, "city")
    assert 1 <= len(pages) <= 3 and all(ink_share(p) > 0.01 for p in pages)
    text = pdf_text(pdf, tmp_path)
    assert "北京市知识产权强市建设" in text.replace(" ", "") and "每万人口发明专利拥有量" in text.replace(" ", "")
    with duckdb.connect(str(snap_path), read_only=True) as con:
        value = con.execute(
            "select value from marts.fct_city_indicator_year where unit_code = '110100' and indicator_code = 'QLT01' "
            "and year = ?",
            [year],
        ).fetchone()[0]
    assert value > 100  # Beijing: hundreds of invention patents in force per 10k people (2023 real: 262.9)
    assert f"{value:,.0f}" in text


def test_cli_and_dashboard_route_produce_the_pdf(sample_snapshot, snap_path, year, tmp_path, monkeypatch):
    from pipelines.cli import main

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(snap_path.parent.parent / "warehouse.duckdb"))
    out = tmp_path / "r.pdf"
    result = CliRunner().invoke(main, ["report", "--year", str(year), "--city", "深圳", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    from dashboard_http import signed_in_client

    app = create_app(
        snap_path,
        dossier_dir=sample_snapshot.dossier_dir,
        user_store=tmp_path / "users.sqlite",
        secret_key_file=tmp_path / "secret_key",
    )
    assert app.server.test_client().get(f"/report.pdf?year={year}").status_code == 401  # signed out: nothing
    # A province office gets its own cities' one-pagers, never the national report or another province's city.
    gd = signed_in_client(app, tmp_path / "users.sqlite", "gd_report", "province", "44")
    assert gd.get(f"/report.pdf?year={year}").status_code == 403
    assert gd.get(f"/report.pdf?year={year}&city=110000").status_code == 403
    assert gd.get(f"/report.pdf?year={year}&city=440300").status_code == 200
    # refused the same whether the year is published or not: a refusal tells nothing about which years exist
    assert gd.get("/report.pdf?year=1999").status_code == 403
    assert gd.get("/report.pdf?year=1999&city=110000").status_code == 403
    client = signed_in_client(app, tmp_path / "users.sqlite")
    r = client.get(f"/report.pdf?year={year}&lang=en")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert client.get(f"/report.pdf?year={year}&city=../x").status_code == 400
    assert client.get("/report.pdf?year=abc").status_code == 400
    assert client.get("/report.pdf?year=1999").status_code == 404
