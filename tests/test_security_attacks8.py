"""Attacks of the eighth review (branch h_access8: "provinces with their own access"), tried against the real parts:
the figure builders, the stores on disk, the app over HTTP. Each section says what was wrong; each of its tests
failed before its fix (the layout test of section 3 is a guard: nothing to fix, shown to stay so)."""

from __future__ import annotations

import json
import os
import re
import stat
import time

import polars as pl
import pytest
from security_fixtures import SAME_ORIGIN, hold_every_slot

from dashboards import figures

# ---- 1. no data text becomes Plotly markup ----------------------------------------------------------------------------
# Plotly renders a subset of HTML in every text it draws (titles, annotations, tick labels, hover text): <a href>,
# <b>, <i>, <span style>, <br>. The indicator catalog's names and units reached a panel's annotation, the heatmap's
# tick labels, the trend chart's title and axis title and the hover text as they were: a name holding
# '<a href="https://…">' was drawn as a link on the profile and the comparison pages.
HOSTILE = '<a href="https://evil.example/">x</a><b style="font-size:99px">y</b>&<br>'
_TAG = re.compile(r"<[^<>]*>")
MARKUP = {"<br>", "<extra>", "</extra>"}  # the figures' own markup; nothing else may reach Plotly as a tag


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from _strings(v)


def _assert_no_markup_from_data(fig) -> None:
    texts = list(_strings(fig.to_plotly_json()))
    tags = {tag for s in texts for tag in _TAG.findall(s)} - MARKUP
    assert not tags, sorted(tags)
    assert any("&lt;a href" in s for s in texts), "the hostile text is shown (escaped), not dropped"


def _catalog(n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "indicator_code": [f"I{k:02d}" for k in range(1, n + 1)],
            "name_zh": [f"指标{k}{HOSTILE}" for k in range(1, n + 1)],
            "name_en": [f"Indicator {k} {HOSTILE}" for k in range(1, n + 1)],
            "unit": [f"件{HOSTILE}"] * n,
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_indicator_names_and_units_never_become_plotly_markup(lang):
    catalog = _catalog()
    codes = catalog["indicator_code"].to_list()
    values = pl.DataFrame(
        {"indicator_code": codes * 2, "year": [2024] * 3 + [2025] * 3, "value": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5]}
    )
    _assert_no_markup_from_data(figures.indicator_small_multiples(values, None, catalog, lang))

    units = pl.DataFrame(
        {"unit_code": ["440100", "440300"], "unit_name": [f"广州{HOSTILE}", "深圳"], "unit_name_en": ["Guangzhou", "S"]}
    )
    matrix = pl.DataFrame(
        {"unit_code": ["440100", "440300"] * 3, "indicator_code": [c for c in codes for _ in (0, 1)], "v": [1.0] * 6}
    )
    _assert_no_markup_from_data(figures.strength_heatmap(matrix, units, catalog, ["440100", "440300"], lang))

    trend = pl.DataFrame(
        {
            "unit_code": ["440100", "440300"] * 2,
            "year": [2024, 2024, 2025, 2025],
            "value": [1.0, 2.0, 1.5, 2.5],
            "unit_name": [f"广州{HOSTILE}", "深圳"] * 2,
            "unit_name_en": [f"Guangzhou{HOSTILE}", "Shenzhen"] * 2,
        }
    )
    name = catalog["name_en" if lang == "en" else "name_zh"][0]
    fig = figures.trend_lines(trend, ["440100", "440300"], lang, f"I01 {name}", unit=catalog["unit"][0], name=name)
    _assert_no_markup_from_data(fig)


# ---- 2. the access folder and the payload store are born owner-only ---------------------------------------------------
# The user store's file was fixed (round 7), but its folder was made with the umask's mode (0755), its -wal/-shm
# files and its lock file (created by SQLite / open()) likewise or as the store happened to be, and the payload store
# (every scope's stored answers: other provinces' figures) kept the umask's modes for its folder, its SQLite files,
# its precompute lock and its "done" marker. Shown with chmod switched off, so each mode is the one the file was
# born with.
def _modes(folder):
    out = {folder.name + "/": stat.S_IMODE(folder.stat().st_mode)}
    out |= {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    return out


@pytest.fixture
def loose_umask(monkeypatch):
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    monkeypatch.setattr(os, "fchmod", lambda *a, **k: None)
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_access_folder_and_the_payload_store_are_born_owner_only(
    tmp_path, monkeypatch, sample_snapshot, loose_umask
):
    from dashboard_http import rankings_body, signed_in_client

    from dashboards import payloads
    from dashboards.app import create_app

    snap = sample_snapshot.snapshot
    access_dir, store_dir = tmp_path / "access", tmp_path / "payloads"
    app = create_app(snap, user_store=access_dir / "users.sqlite", secret_key_file=access_dir / "secret_key")
    payloads.install(app, store_dir)
    client = signed_in_client(app, access_dir / "users.sqlite", "gd8", "province", "44")
    client.post("/login", data={"username": "gd8", "password": "wrong"})  # a refusal: the audit log and limits
    year = max(
        int(y)
        for y in app.server.config["IPCITY_SNAPSHOT"].query("select distinct year from marts.fct_city_score_year")[
            "year"
        ]
    )
    body = payloads.overview_body(year, "group", "en")
    assert client.post("/_dash-update-component", json=body, headers={"Sec-Fetch-Site": "same-origin"}).status_code
    assert client.post("/_dash-update-component", json=rankings_body(year), headers={"Sec-Fetch-Site": "same-origin"})
    # the precompute's lock and its "done" marker (two real bodies, not the hundreds of a full run)
    monkeypatch.setattr(payloads, "enumerable_bodies", lambda _snap: [body])
    thread = payloads.start_precompute(app)
    thread.join(60)
    assert (store_dir / "precompute.done").exists()

    for folder in (access_dir, store_dir):
        modes = _modes(folder)
        assert {"users.sqlite", "secret_key", "payloads.sqlite"} & set(modes), modes
        loose = {name: oct(m) for name, m in modes.items() if m & 0o077}
        assert not loose, (folder.name, loose)
    assert {"users.sqlite", "users.sqlite.wal-lock", "secret_key"} <= set(_modes(access_dir))
    assert {"payloads.sqlite", "precompute.lock", "precompute.done"} <= set(_modes(store_dir))


def test_a_store_left_readable_by_an_earlier_version_is_tightened_when_next_opened(tmp_path):
    from dashboards import auth

    folder = tmp_path / "access"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    store = auth.UserStore(folder / "users.sqlite")
    store.list()
    for name in ("users.sqlite", "users.sqlite.wal-lock"):
        os.chmod(folder / name, 0o644)
    os.chmod(folder, 0o755)
    store.list()
    loose = {name: oct(m) for name, m in _modes(folder).items() if m & 0o077}
    assert not loose, loose


# ---- 4. heavy work at once per account is bounded ---------------------------------------------------------------------
# The limits counted requests per minute (30 reports, 120 extract files a minute per account), not requests at once:
# one account's script could start them all in the same second, each a PDF build (WeasyPrint, about a second), a
# workbook build or a computed callback, and keep every thread of the 2-core server busy for every other account.
# Now each account runs a few at once, has a few more waiting, and is refused (429, in both languages) beyond that.


@pytest.fixture(scope="module")
def world(tmp_path_factory, sample_snapshot):
    from dashboard_http import signed_in_client

    from dashboards.app import create_app

    base = tmp_path_factory.mktemp("attacks8")
    store = base / "access" / "users.sqlite"
    app = create_app(sample_snapshot.snapshot, user_store=store, secret_key_file=base / "access" / "key")
    snap = app.server.config["IPCITY_SNAPSHOT"]
    year = int(snap.query("select max(year) as y from marts.fct_city_score_year")["y"][0])
    own = snap.query(
        "select min(unit_code) as u from marts.dim_city where province_code = '440000' and level <> 'province'"
    )["u"][0]
    return {
        "own": own,
        "app": app,
        "store": store,
        "year": year,
        "national": signed_in_client(app, store, "nat8", "national"),
        "gd": signed_in_client(app, store, "gd8", "province", "44"),
        "viewer": signed_in_client(app, store, "viewer8", "viewer"),
    }


def test_an_account_cannot_run_heavy_work_in_parallel_without_bound(world):
    from dashboard_http import rankings_body

    from dashboards import busy

    year = world["year"]
    slots = busy.Slots(world["store"].parent / "busy")  # the slot files beside the accounts store
    requests = {
        "file": lambda c: c.get(f"/report.pdf?year={year}&city={world['own']}", headers=SAME_ORIGIN),
        "callback": lambda c: c.post("/_dash-update-component", json=rankings_body(year), headers=SAME_ORIGIN),
    }
    who = {"file": ("gd", "gd8"), "callback": ("viewer", "viewer8")}
    for kind, send in requests.items():
        client_name, account = who[kind]
        client = world[client_name]
        assert send(client).status_code == 200, kind  # nothing else running: answered
        held = hold_every_slot(slots, account, kind)
        try:
            t0 = time.monotonic()
            r = send(client)
            assert r.status_code == 429, (kind, r.status_code)
            assert time.monotonic() - t0 < 2, "refused at once, not after a wait"
            text = r.get_data(as_text=True)
            assert "请稍后再试" in text and "try again" in text and r.headers["Retry-After"]
            assert send(world["national"]).status_code == 200, kind  # another account is not held up
        finally:
            for f in held:
                f.close()
        assert send(client).status_code == 200, kind  # slots free again: answered


def test_a_request_waits_for_its_accounts_slot_rather_than_fail(world):
    import threading

    from dashboard_http import rankings_body

    from dashboards import busy

    slots, year = busy.Slots(world["store"].parent / "busy"), world["year"]
    spec = slots.kinds["callback"]
    running = [slots._take_one(slots._files("nat8", "callback", "run", spec.slots)) for _ in range(spec.slots)]
    threading.Timer(0.5, lambda: [f.close() for f in running]).start()
    t0 = time.monotonic()
    r = world["national"].post("/_dash-update-component", json=rankings_body(year), headers=SAME_ORIGIN)
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.4


# ---- 3. the app's layout and callback graph carry no data -------------------------------------------------------------
# /_dash-layout and /_dash-dependencies show component ids to every signed-in role. Decided acceptable: they are the
# app's structure. Guarded here: the layout stays the same for every role, the callback list is the national
# office's or a part of it (since round 16 each account is sent the callbacks of the pages open to it:
# tests/test_security_attacks16.py), both hold no city's or province's code or name, and no page a provincial office
# opens lays out another province's cities (the pages fill in data through callbacks, checked per province).
def _units(world) -> pl.DataFrame:
    return (
        world["app"]
        .server.config["IPCITY_SNAPSHOT"]
        .query("select unit_code, unit_name, unit_name_en, province_code, province_name from marts.dim_city")
    )


def test_layouts_are_the_same_for_every_role_and_hold_no_data(world):
    from dashboard_http import page_body

    units = _units(world)
    codes = set(units["unit_code"].to_list()) | set(units["province_code"].to_list())
    names = {n for n in units["unit_name"].to_list() + units["unit_name_en"].to_list() if n and len(n) > 2}
    for path in ("/_dash-layout", "/_dash-dependencies"):
        bodies = {who: world[who].get(path).get_data(as_text=True) for who in ("national", "gd", "viewer")}
        if path == "/_dash-layout":
            assert len(set(bodies.values())) == 1, path
        else:
            every = json.loads(bodies["national"])
            assert all(entry in every for who in ("gd", "viewer") for entry in json.loads(bodies[who])), path
        text = bodies["gd"]
        assert not set(re.findall(r"(?<!\d)\d{6}(?!\d)", text)) & codes, path
        assert not [n for n in names if n in text], path

    # another province's cities (the list of provinces itself is public: the rankings' filter names them all)
    foreign = units.filter((pl.col("province_code") != "440000") & (pl.col("unit_code") != pl.col("province_code")))
    foreign_codes = set(foreign["unit_code"].to_list())
    # (a municipality's city is named as its province is: 北京市)
    foreign_names = {n for n in foreign["unit_name"].to_list() if n and len(n) > 2} - set(units["province_name"])
    from dashboards.web import page_query_params

    for page in world["app"].server.config["IPCITY_PAGE_ROLES"]:
        for search in ("", f"?year={world['year']}", "?lang=en", f"?unit={world['own']}"):
            r = world["gd"].post("/_dash-update-component", json=page_body(page, search), headers=SAME_ORIGIN)
            if r.status_code == 403:
                continue
            # (round 13: a page refuses a query name its layout does not read, e.g. the overview's ?unit=)
            name = search.lstrip("?").partition("=")[0]
            if name and name not in page_query_params(page):
                assert r.status_code == 400, (page, search, r.status_code)
                continue
            assert r.status_code == 200, (page, search, r.status_code)
            text = r.get_data(as_text=True)
            assert not set(re.findall(r"(?<!\d)\d{6}(?!\d)", text)) & foreign_codes, (page, search)
            assert not [n for n in foreign_names if n in text], (page, search)


# ---- 5. the page does not name the software's versions ------------------------------------------------------------------
# Every page carried Dash's config for its developer tools: the exact Python build (sys.version: "3.11.7 (main, <build
# date>) [GCC 12.2.0]"), Dash's and Plotly's versions and Plotly's version-check server, to every signed-in account:
# the list of published flaws that apply, for nothing (the upgrade notice they feed shows in debug mode only).
def test_the_page_config_names_no_software_version(world):
    import sys

    import dash
    import plotly

    for who in ("national", "gd", "viewer"):
        r = world[who].get("/", headers={"Accept": "text/html"})
        assert r.status_code == 200
        page = r.get_data(as_text=True)
        config = json.loads(
            re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', page).group(1)
        )
        assert config["end_id"], "the rest of the config is still there"
        assert not {"python_version", "dash_version", "plotly_version", "dash_version_url"} & set(config), config.keys()
        assert sys.version not in page and "plotly.com" not in page
        assert f'"{dash.__version__}"' not in page and f'"{plotly.__version__}"' not in page
        for header in ("Server", "X-Powered-By"):
            assert header not in r.headers


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_city_names_and_rule_text_never_become_plotly_markup(lang):
    """The same rule for the figures whose data text was already escaped (a guard: city names and the rules that
    fired come from the warehouse, and through it from the offices' files)."""
    from dashboards.i18n import PILLAR_COLUMNS

    names = {"unit_name": [f"广州{HOSTILE}", "深圳"], "unit_name_en": [f"Guangzhou{HOSTILE}", "Shenzhen"]}
    movers = pl.DataFrame(
        {"unit_code": ["440100", "440300"], **names, "rank_change": [3, -2], "rank": [5, 9], "stage": ["watch", None]}
    )
    _assert_no_markup_from_data(figures.movers_bar(movers, lang))
    pillars = pl.DataFrame(
        {"unit_code": ["440100", None], **{k: [v[0], None] for k, v in names.items()}}
        | {c: [50.0, 60.0] for c in PILLAR_COLUMNS.values()}
    )
    _assert_no_markup_from_data(figures.pillar_radar(pillars, lang, ["440100"]))
    stages = pl.DataFrame(
        {"year": [2024, 2025], "stage": ["normal", "watch"], "is_robust": [True, False], "rules_fired": [HOSTILE, None]}
    )
    _assert_no_markup_from_data(figures.stage_timeline(stages, lang))


# ---- 6. the audit log cannot drive the operator's terminal ------------------------------------------------------------
# `ipcity users audit` escaped rich's markup but printed terminal controls as they were: anyone could type a "user
# name" holding ESC sequences at the sign-in form (no account needed; the failed sign-in is logged with it), or
# request a path holding them, and the operator's terminal ran them when the log was read: the screen cleared, lines
# rewritten, the window retitled. Control characters (and bidi overrides) are now shown as escapes, never sent.
def test_the_audit_log_shows_terminal_controls_never_sends_them(tmp_path, monkeypatch, sample_snapshot):
    from click.testing import CliRunner
    from dashboard_http import signed_in_client

    from dashboards.app import create_app
    from pipelines.cli import main

    access_dir = tmp_path / "access"
    monkeypatch.setenv("IPCITY_ACCESS_DIR", str(access_dir))
    app = create_app(
        sample_snapshot.snapshot, user_store=access_dir / "users.sqlite", secret_key_file=access_dir / "secret_key"
    )
    forged = "chief\x1b[2J\x1b[1A\r\x1b]0;owned\x07\u202eok\x9b"
    anonymous = app.server.test_client()
    page = anonymous.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = anonymous.post("/login", data={"username": forged, "password": "x" * 12, "csrf": token})
    assert r.status_code == 401
    gd = signed_in_client(app, access_dir / "users.sqlite", "gd8t", "province", "44")
    assert gd.get("/dossiers/%1b%5b2J%1b%5dx.html").status_code == 403

    out = CliRunner().invoke(main, ["users", "audit", "--limit", "20"])
    assert out.exit_code == 0, out.output
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", out.output), repr(out.output)[:500]
    assert "\\x1b" in out.output  # the path asked for is shown, as escapes (the table wraps long cells)
    # the name typed at sign-in is no account: kept and shown only as its fingerprint (tenth review), never as typed
    from dashboards.auth import UserStore

    names = [r["username"] for r in UserStore(access_dir / "users.sqlite").audit_rows()]
    assert UserStore(access_dir / "users.sqlite").name_fingerprint(forged) in names and forged not in names
    assert "chief" not in out.output
