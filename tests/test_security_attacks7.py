"""Attacks of the seventh review (branch h_access7: "provinces with their own access"), tried over HTTP against the
real app, as a provincial official looking at other provinces, as an outsider and as an operator's script. Each
section says what was wrong; each of its tests failed before its fix."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest
from click.testing import CliRunner
from dashboard_http import TEST_PASSWORD, callback_body, page_body, rankings_body, signed_in_client
from security_fixtures import SAME_ORIGIN

from dashboards import auth, payloads
from dashboards.app import create_app
from pipelines import extracts as X
from pipelines.cli import main


def _post(client, body):
    return client.post("/_dash-update-component", json=body, headers=SAME_ORIGIN)


@pytest.fixture(scope="module")
def world(tmp_path_factory, sample_snapshot):
    base = tmp_path_factory.mktemp("attacks7")
    snap = base / "published" / "a7.snapshot.duckdb"
    snap.parent.mkdir()
    shutil.copy(sample_snapshot.snapshot, snap)
    con = duckdb.connect(str(snap), read_only=True)
    try:
        year = con.execute("select max(year) from marts.fct_city_score_year").fetchone()[0]
        province_of = dict(con.execute("select unit_code, province_code from marts.dim_city").fetchall())
        own = con.execute(
            "select unit_code from marts.dim_city where province_code = '440000' and level <> 'province' "
            "order by unit_code limit 1"
        ).fetchone()[0]
    finally:
        con.close()
    dossiers = base / "dossiers"
    dossiers.mkdir()
    (dossiers / f"{own}_{year}.html").write_text("<p>" + "dossier " * 500 + "</p>", encoding="utf-8")
    extracts = base / "extracts"
    X.write_all(snap, extracts, provinces=["440000"], years=[year])
    store = base / "access" / "users.sqlite"
    app = create_app(
        snap, user_store=store, secret_key_file=base / "access" / "key", dossier_dir=dossiers, extracts_dir=extracts
    )
    return {
        "app": app,
        "store": store,
        "year": year,
        "own": own,
        "province_of": province_of,
        "extracts": extracts,
        "national": signed_in_client(app, store, "nat7", "national"),
        "gd": signed_in_client(app, store, "gd7", "province", "44"),
        "viewer": signed_in_client(app, store, "viewer7", "viewer"),
    }


# ---- 1. the overview's map publishes no more than the rankings do ---------------------------------------------------
# The map gave every account (a provincial office, a viewer, the evaluator) the composite index of every other
# province's city outside the programme, which the rankings page withholds from them (published_rankings keeps other
# provinces' ranked programme cities only): the same figure through another page.
def _map_units(client, year: int) -> set[str]:
    r = _post(client, payloads.overview_body(year, "group", "en"))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    fig = r.get_json()["response"]["ov-map"]["figure"]
    return {
        code
        for trace in fig["data"]
        if str(trace.get("geojson", "")).endswith("prefectures.json")
        for code in trace.get("locations") or []
    }


def _ranking_units(client, year: int) -> set[str]:
    body = rankings_body(year, "en")
    body["inputs"][4]["value"] = []  # "programme cities only" off: every city the account may see ranked
    r = _post(client, body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return {row["unit_code"] for row in r.get_json()["response"]["rk-grid"]["rowData"]}


@pytest.mark.parametrize("who", ["gd", "viewer"])
def test_the_overview_map_shows_other_provinces_only_as_the_rankings_publish_them(world, who):
    year, province_of = world["year"], world["province_of"]
    everything = _map_units(world["national"], year)
    ranked_anywhere = _ranking_units(world["gd"], year)
    unpublished = {u for u in everything if province_of.get(u) != "440000" and u not in ranked_anywhere}
    assert unpublished, "the sample has cities outside the programme in other provinces (the national map shows them)"

    client = world[who]
    shown = _map_units(client, year)
    published = _ranking_units(client, year)
    others = {u for u in shown if province_of.get(u) != "440000" or who == "viewer"}
    assert others <= published, sorted(others - published)[:5]
    assert not shown & unpublished
    if who == "gd":
        # its own province's cities stay on its map, in the programme or not
        own = {u for u in everything if province_of.get(u) == "440000"}
        assert own and own <= shown


# ---- 2. a file taken in parts is in the audit log -------------------------------------------------------------------
# A file taken with Range requests (206: a download manager, a resumed download, a script taking it in pieces) left
# no row in the audit log, which logged 200s only.
def test_a_file_taken_with_a_range_request_is_in_the_audit_log(world):
    gd, year = world["gd"], world["year"]
    dossier = f"/dossiers/{world['own']}_{year}.html"
    version = X.read_versions(world["extracts"], "440000", year)[-1]
    extract = "/extracts/" + next(f["path"] for f in version["files"] if f["format"] == "csv")
    for path in (dossier, extract):
        part = gd.get(path, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.data) == 100
        rest = gd.get(path, headers={"Range": "bytes=100-"})
        assert rest.status_code == 206
    assert gd.head(dossier).status_code == 200  # nothing taken: not a file in the log
    rows = [
        (r["username"], r["action"], r["target"], r["detail"])
        for r in auth.UserStore(world["store"]).audit_rows()
        if r["username"] == "gd7" and r["action"] == "file"
    ]
    for path in (dossier, extract):
        # the detail: whose figures (round 11: 'unit … (province 440000)' or 'province 440000'), then the part
        parts = [r[3].split("; ")[-1] for r in rows if r[:3] == ("gd7", "file", path) and "440000" in r[3]]
        assert "part: bytes=0-99" in parts and "part: bytes=100-" in parts, rows
    assert len([r for r in rows if r[2] == dossier]) == 2  # the two parts; the HEAD is not one


# ---- 3. a callback's outputs are its own, or the request is refused before it runs ---------------------------------
# A callback body whose ``outputs`` were not the callback's own (another component, another order, fewer, none) ran
# the callback and ended in Dash's CallbackException: a 500 and a traceback in the log for a forged request.
def _forgeries(body: dict) -> list:
    outputs = body["outputs"]
    many = isinstance(outputs, list)
    first = outputs[0] if many else outputs
    out = [
        None,  # no outputs at all
        "pf-summary.children",
        [{"id": "ipc-title", "property": "children"}] * (len(outputs) if many else 1),  # the shell's, harmless-looking
        {"id": first["id"], "property": "style"},  # another property of its own component
        [{"id": first["id"]}],  # malformed
    ]
    if many:
        out += [outputs[::-1], outputs[:-1], [*outputs, outputs[0]]]  # reordered, one short, one too many
    return out


def _own_bodies(world) -> list[dict]:
    year = world["year"]
    return [
        payloads.profile_body(world["own"], "en"),
        rankings_body(year, "en"),
        page_body("/rankings", "?lang=en"),
        callback_body(
            [("dl-preview", "columnDefs"), ("dl-preview", "rowData"), ("dl-count", "children"), ("dl-link", "href")],
            [("dl-year", "value", year), ("dl-province", "value", "440000"), ("dl-format", "value", "csv")],
            [("dl-lang", "data", "en")],
        ),
    ]


def test_a_callback_posted_with_outputs_not_its_own_is_refused_not_a_server_error(world):
    gd = world["gd"]
    for body in _own_bodies(world):
        assert _post(gd, body).status_code == 200, body["output"]  # the real body is answered
        for outputs in _forgeries(body):
            forged = {**json.loads(json.dumps(body)), "outputs": outputs}
            if outputs is None:
                del forged["outputs"]
            r = _post(gd, forged)
            assert r.status_code == 403, (body["output"], outputs, r.status_code, r.get_data(as_text=True)[:200])
    detail = [r["detail"] for r in auth.UserStore(world["store"]).audit_rows() if r["username"] == "gd7"]
    assert "outputs do not match the callback" in detail


# ---- 4. no password on the command line -------------------------------------------------------------------------
# `ipcity users add/reset-password --password <the password>` was silently ignored and the password asked for again,
# after it had been seen in the process list and kept in the shell's history.
def test_a_password_on_the_command_line_is_refused_and_never_used(tmp_path, monkeypatch):
    monkeypatch.setenv("IPCITY_ACCESS_DIR", str(tmp_path / "access"))
    runner = CliRunner()
    secret = "plum orchard lantern 7"
    for args in (
        ["users", "add", "chief7", "--role", "national", "--password", secret],
        ["users", "add", "chief7", "--role", "national", f"--password={secret}"],
    ):
        r = runner.invoke(main, args, input=f"{TEST_PASSWORD}\n{TEST_PASSWORD}\n")
        assert r.exit_code == 2, r.output
        assert "shell history" in r.output and "shell 历史记录" in r.output
        assert secret not in r.output
    store = auth.UserStore(tmp_path / "access" / "users.sqlite")
    assert store.get("chief7") is None  # nothing was created, not even with a prompted password

    r = runner.invoke(main, ["users", "add", "chief7", "--role", "national", "--password", "-"], input=secret + "\r\n")
    assert r.exit_code == 0, r.output
    assert store.authenticate("chief7", secret) is not None  # stdin still works (a Windows line end too)
    r = runner.invoke(main, ["users", "reset-password", "chief7", "--password", TEST_PASSWORD])
    assert r.exit_code == 2 and store.authenticate("chief7", secret) is not None


# ---- 5. one comparison, one stored answer ---------------------------------------------------------------------------
def test_a_comparison_is_stored_once_however_its_cities_are_repeated(world, tmp_path):
    """The comparison reads its first six distinct cities (pages.compare.parse_units), so a city repeated, or real
    cities past the sixth, is the same comparison: it was stored under a new key for every such list, a way for any
    account to fill the workers' shared payload file by counting. Answered as before, stored only as the page sends
    it."""
    import sqlite3

    from dashboards.pages.compare import MAX_UNITS

    base = tmp_path
    users = base / "access" / "users.sqlite"
    app = create_app(
        world["app"].server.config["IPCITY_SNAPSHOT"].path, user_store=users, secret_key_file=base / "access" / "k"
    )
    payloads.install(app, base / "payloads")
    national = signed_in_client(app, users, "nat7p", "national")
    year = world["year"]
    cities = sorted(u for u, p in world["province_of"].items() if p == "440000" and u.endswith("00"))[1:10]
    assert len(cities) > MAX_UNITS

    def stored() -> int:
        con = sqlite3.connect(base / "payloads" / "payloads.sqlite")
        try:
            return con.execute("select count(*) from payloads").fetchone()[0]
        finally:
            con.close()

    snap = app.server.config["IPCITY_SNAPSHOT"]
    indicator = snap.query("select min(indicator_code) as c from marts.dim_indicator")["c"][0]
    pair = cities[:2]
    assert _post(national, payloads.compare_body(year, pair, "en")).status_code == 200
    assert _post(national, payloads.trend_body(pair, indicator, "en")).status_code == 200
    before = stored()
    assert before == 2
    for k in range(1, 6):
        for units in ([*pair, *[pair[0]] * k], [pair[0]] * k + [pair[1]], cities[: MAX_UNITS + 1] + cities[:k]):
            assert _post(national, payloads.compare_body(year, units, "en")).status_code == 200
            assert _post(national, payloads.trend_body(units, indicator, "en")).status_code == 200
    assert stored() == before
    assert _post(national, payloads.compare_body(year, cities[:3], "en")).status_code == 200
    assert stored() == before + 1


# ---- 6. a HEAD is checked as its GET is -----------------------------------------------------------------------------
# A HEAD skipped the page and query checks its GET passes: a closed page, or a page on another province's city,
# answered 200 (the app's shell), neither refused nor in the audit log.
def test_a_head_request_is_checked_as_the_get_it_stands_for(world):
    own, province_of = world["own"], world["province_of"]
    other = min(u for u, p in province_of.items() if p == "350000" and u != "350000")
    html = {"Accept": "text/html"}
    paths = [
        "/",
        f"/profile?unit={own}",
        "/rankings?province=350000",
        "/quality",
        "/alerts",
        f"/profile?unit={other}",
        f"/compare?units={own},{other}",
        f"/flag?unit={other}",
    ]
    gd = world["gd"]
    for path in paths:
        get, head = gd.get(path, headers=html), gd.head(path, headers=html)
        assert head.status_code == get.status_code, (path, get.status_code, head.status_code)
        assert head.status_code == (200 if path in paths[:3] else 403), path
    anonymous = world["app"].server.test_client()
    assert anonymous.head("/quality", headers=html).status_code == 302
    refused = [r["target"] for r in auth.UserStore(world["store"]).audit_rows() if r["outcome"] == "denied"]
    assert "/quality" in refused and f"/profile?unit={other}" in refused


# ---- 7. the overview offers the national report only to whom the route gives it ------------------------------------
# The overview showed its national-report button to every role; a provincial office or a viewer clicking it got a
# bare 403 (the report lists every province's cities). The page and the route now ask the same rule.
def _component(tree, cid):
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == cid:
            return tree
        for v in tree.values():
            hit = _component(v, cid)
            if hit:
                return hit
    elif isinstance(tree, list):
        for v in tree:
            hit = _component(v, cid)
            if hit:
                return hit
    return None


@pytest.mark.parametrize("who, offered", [("national", True), ("gd", False), ("viewer", False)])
def test_the_national_report_button_is_offered_only_where_the_report_is_given(world, who, offered):
    client = world[who]
    r = _post(client, page_body("/", f"?year={world['year']}"))
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    button = _component(r.get_json()["response"]["_pages_content"]["children"], "ov-report")
    assert button is not None
    assert bool(button["props"].get("hidden")) is (not offered)
    taken = client.get(f"/report.pdf?year={world['year']}", headers=SAME_ORIGIN)
    assert (taken.status_code == 200) is offered, taken.status_code
