"""Attacks of the second review (branch attacks2), tried over HTTP against the app on the sample-run snapshot.

Each test failed before its fix: the overview's "biggest movers" chart named the evaluation stage (watch,
rectification, exit candidate) of every province's cities to every role; /report.pdf was sent without
``Cache-Control: no-store``; /report.pdf read ``year`` with ``int()`` (signs, spaces, full-width digits); city
names reached Plotly's pseudo-HTML (hover and axis labels) unescaped, so a name could carry a live link."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
from dashboard_http import callback_body, signed_in_client

from dashboards.app import create_app
from dashboards.i18n import STAGES, label

pytestmark = pytest.mark.slow  # the session builds the sample run once

LINK_NAME = '<a href="https://evil.example/">点此</a>'
FLAGGED = ("watch", "rectification", "exit_candidate")


@pytest.fixture(scope="module")
def world(tmp_path_factory, sample_snapshot):
    base = tmp_path_factory.mktemp("attacks2")
    snap = base / "published" / "a2.snapshot.duckdb"
    snap.parent.mkdir()
    shutil.copy(sample_snapshot.snapshot, snap)
    con = duckdb.connect(str(snap))
    try:
        year = con.execute("select max(year) from marts.fct_city_score_year").fetchall()[0][0]
        # every city's name carries a link (Plotly renders <a href> in its labels)
        con.execute(
            "update marts.dim_city set unit_name = ? || unit_name, unit_name_en = ? || unit_name_en",
            [LINK_NAME, LINK_NAME],
        )
        con.execute("update marts.fct_evaluation_year set unit_name = ? || unit_name", [LINK_NAME])
        con.execute("checkpoint")
    finally:
        con.close()
    app = create_app(
        snap,
        dossier_dir=base / "dossiers",
        user_store=base / "access" / "users.sqlite",
        secret_key_file=base / "access" / "secret_key",
        extracts_dir=base / "extracts",
    )
    users = base / "access" / "users.sqlite"
    return {
        "app": app,
        "year": year,
        "national": signed_in_client(app, users, "nat", "national"),
        "viewer": signed_in_client(app, users, "view", "viewer"),
        "province": signed_in_client(app, users, "gd", "province", "440000"),
    }


def _overview(client, year, lang="en"):
    body = callback_body(
        [
            ("ov-cards", "children"),
            ("ov-map", "figure"),
            ("ov-provinces", "rowData"),
            ("ov-dist", "figure"),
            ("ov-movers", "figure"),
        ],
        [("ov-year", "value", year), ("ov-map-mode", "value", "group")],
        [("ov-lang", "data", lang)],
    )
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.get_json()["response"]


def _movers_labels(resp) -> dict[str, str]:
    fig = resp["ov-movers"]["figure"]
    axis = fig["layout"]["yaxis"]
    return dict(zip(axis["tickvals"], axis["ticktext"]))


def _province_of(world, code):
    from dashboards import access

    return access.unit_province(world["app"].server.config["IPCITY_SNAPSHOT"], code)


def test_overview_movers_hide_other_provinces_stage(world):
    tags = [f"[{label(STAGES, s, 'en')}]" for s in FLAGGED]
    national = _movers_labels(_overview(world["national"], world["year"]))
    assert any(tag in text for text in national.values() for tag in tags), "sample has no flagged mover"
    for who in ("viewer", "province"):
        labels = _movers_labels(_overview(world[who], world["year"]))
        assert set(labels) == set(national)
        for code, text in labels.items():
            if who == "province" and _province_of(world, code) == "440000":
                continue
            assert not any(tag in text for tag in tags), (who, code, text)
    # and the national office still sees them (no scope leaks between cached payloads either way)
    assert _movers_labels(_overview(world["national"], world["year"])) == national


def test_report_pdf_is_not_cacheable(world):
    r = world["national"].get(f"/report.pdf?year={world['year']}")
    assert r.status_code == 200
    assert "no-store" in r.headers.get("Cache-Control", "")


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("year", ["+{y}", " {y}", "{y} ", "fullwidth", "{y}.0", "{y}_", "0{y}"])
def test_report_year_is_strictly_four_digits(world, year):
    y = str(world["year"])
    value = y.translate(FULLWIDTH) if year == "fullwidth" else year.format(y=y)
    r = world["national"].get("/report.pdf", query_string={"year": value})
    assert r.status_code == 400, (value, r.status_code)


def test_plotly_labels_escape_names_from_data(world):
    resp = _overview(world["national"], world["year"])
    text = json.dumps(resp, ensure_ascii=False)
    assert "<a href" not in text
    assert "&lt;a href" in text


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "dashboard.example"])
def test_debug_server_refuses_a_network_address(host, monkeypatch):
    from click.testing import CliRunner

    from dashboards import app as app_module
    from pipelines.cli import main

    started = []
    monkeypatch.setattr(app_module, "serve", lambda **kw: started.append(kw))
    result = CliRunner().invoke(main, ["serve", "--debug", "--host", host])
    assert result.exit_code != 0 and not started, result.output
    assert "loopback" in result.output
