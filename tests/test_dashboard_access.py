"""Roles × every data path, over HTTP on a real sample-run snapshot: pages (URL and the pages router), every page's
callback, dossier files and downloads — with crafted URLs, crafted callback payloads, encoded traversal and another
province's codes. Every refusal is 403 with an audit row naming who and what; no answer a province account gets
holds another province's detail."""

from __future__ import annotations

import json
import re

import duckdb
import pytest
from dashboard_http import add_account, callback_body, login, page_body, rankings_body, signed_in_client

from dashboards.app import create_app
from pipelines.evaluation.dossier import write_dossier

pytestmark = pytest.mark.slow

PAGES = ["/", "/rankings", "/compare", "/profile", "/watchlist", "/quality", "/downloads"]
ROLES = {
    "national_t": ("national", None),
    "gd_t": ("province", "44"),
    "js_t": ("province", "32"),
    "viewer_t": ("viewer", None),
    "evaluator_t": ("evaluator", None),
}
NATIONAL_ONLY_PAGES = {"/targets", "/alerts", "/programmes", "/provinces", "/simulator"}
OPEN = {
    "national": set(PAGES),
    "province": {"/", "/rankings", "/compare", "/profile", "/watchlist", "/downloads"},
    "viewer": {"/", "/rankings"},
    "evaluator": {"/", "/rankings"},
}


def sql(path, query, params=()):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, sample_snapshot):
    base = tmp_path_factory.mktemp("access_matrix")
    snap = sample_snapshot.snapshot
    [(year,)] = sql(snap, "select max(year) from marts.fct_city_score_year")
    units = {
        p: [
            c
            for (c,) in sql(
                snap,
                "select s.unit_code from marts.fct_city_score_year s join marts.dim_city d using (unit_code) "
                "where s.year = ? and d.province_code = ? and d.level <> 'province' order by s.rank nulls last, "
                "s.unit_code",
                [year, p],
            )
        ]
        for p in ("440000", "320000")
    }
    dossiers = base / "dossiers"
    for p in units:
        write_dossier(snap, units[p][0], year, dossiers)
    (base / "secret.html").write_text("secret", encoding="utf-8")
    store = base / "access" / "users.sqlite"
    for name, (role, province) in ROLES.items():
        add_account(store, name, role, province)
    app = create_app(
        snap, dossier_dir=dossiers, user_store=store, secret_key_file=base / "access" / "key", extracts_dir=base / "x"
    )
    clients = {}
    for name in ROLES:
        c = app.server.test_client()
        assert login(c, name).status_code == 302
        clients[name] = c
    province_of = dict(sql(snap, "select unit_code, province_code from marts.dim_city"))
    return {
        "app": app,
        "clients": clients,
        "store": store,
        "year": year,
        "units": units,
        "province_of": province_of,
        "snap": snap,
    }


def denied_rows(world) -> list[dict]:
    from dashboards.auth import UserStore

    return [r for r in UserStore(world["store"]).audit_rows(100000) if r["outcome"] == "denied"]


def assert_refused(world, user: str, response, target_part: str = "") -> None:
    before = world.setdefault("_denied", 0)
    assert response.status_code == 403, (user, response.status_code, response.get_data(as_text=True)[:300])
    rows = denied_rows(world)
    assert len(rows) > before, "refusal not logged"
    assert rows[0]["username"] == user and rows[0]["at"] and rows[0]["action"]
    if target_part:
        assert target_part in (rows[0]["target"] or "") + (rows[0]["detail"] or ""), rows[0]
    world["_denied"] = len(rows)


def post(client, body):
    return client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")


# ---- pages ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("user", list(ROLES))
@pytest.mark.parametrize("path", PAGES)
def test_pages_by_role(world, user, path):
    role = ROLES[user][0]
    client = world["clients"][user]
    if path in OPEN[role]:
        assert client.get(path).status_code == 200
        assert post(client, page_body(path, "?lang=zh")).status_code == 200
    else:
        assert_refused(world, user, client.get(path), path)
        assert_refused(world, user, post(client, page_body(path, "?lang=zh")), path)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_refused_page_is_explained_in_the_readers_language(world, lang):
    """A bookmarked page the role may not open: a page saying why and leading back, not a bare status line."""
    r = world["clients"]["gd_t"].get(f"/quality?lang={lang}", headers={"Accept": "text/html"})
    assert_refused(world, "gd_t", r, "/quality")
    body = r.get_data(as_text=True)
    assert r.mimetype == "text/html" and 'id="error-page"' in body
    assert (
        ("无权访问" in body and "返回年度总览" in body)
        if lang == "zh"
        else ("No access" in body and "无权" not in body)
    )
    assert f'href="/?lang={lang}"' in body
    # a script asking for data still gets the short plain refusal
    assert world["clients"]["gd_t"].get("/quality").mimetype == "text/plain"


def test_signed_out_gets_nothing(world):
    anon = world["app"].server.test_client()
    assert anon.get("/rankings", headers={"Accept": "text/html"}).status_code == 302
    for path in ("/_dash-layout", "/_dash-dependencies", f"/download/extract?year={world['year']}&province=44"):
        assert anon.get(path).status_code == 401, path
    assert post(anon, rankings_body(world["year"])).status_code == 401


def test_navigation_lists_only_open_pages(world):
    for user, (role, _) in ROLES.items():
        r = post(
            world["clients"][user],
            callback_body(
                [
                    ("ipc-title", "children"),
                    ("ipc-nav", "children"),
                    ("ipc-lang", "children"),
                    ("ipc-banner", "children"),
                ],
                [("_pages_location", "pathname", "/"), ("_pages_location", "search", "?lang=zh")],
            ),
        )
        links = {c["props"]["href"].split("?")[0] for c in r.get_json()["response"]["ipc-nav"]["children"]}
        # pages of other issues (targets, alerts, programmes, provinces, simulator) are the national office's
        # until their modules declare roles: deny by default
        assert links == (OPEN[role] | NATIONAL_ONLY_PAGES if role == "national" else OPEN[role]), user


# ---- callbacks -----------------------------------------------------------------------------------------------------
def bodies(world, own: str, other: str) -> dict[str, tuple[dict, bool]]:
    """Each page's data callback with ``own``/``other`` province data; value: (body, names another province)."""
    y = world["year"]
    u_own, u_other = world["units"][own], world["units"][other]
    pf = [
        ("pf-summary", "children"),
        ("pf-indicators", "figure"),
        ("pf-targets", "children"),
        ("pf-stage-fig", "figure"),
        ("pf-cycles", "children"),
        ("pf-stages", "children"),
        ("pf-alerts", "children"),
    ]
    cmp = [
        ("cmp-radar", "figure"),
        ("cmp-table", "columnDefs"),
        ("cmp-table", "rowData"),
        ("cmp-heatmap", "figure"),
        ("cmp-sw", "children"),
        ("cmp-message", "children"),
    ]
    dl = [("dl-preview", "columnDefs"), ("dl-preview", "rowData"), ("dl-count", "children"), ("dl-link", "href")]

    def dl_body(scope):
        return callback_body(
            dl,
            [("dl-year", "value", y), ("dl-province", "value", scope), ("dl-format", "value", "csv")],
            [("dl-lang", "data", "zh")],
        )

    return {
        "overview": (
            callback_body(
                [
                    ("ov-cards", "children"),
                    ("ov-map", "figure"),
                    ("ov-provinces", "rowData"),
                    ("ov-dist", "figure"),
                    ("ov-movers", "figure"),
                ],
                [("ov-year", "value", y), ("ov-map-mode", "value", "group")],
                [("ov-lang", "data", "zh")],
            ),
            False,
        ),
        "rankings": (rankings_body(y), False),
        "watchlist": (
            callback_body(
                [("wl-cards", "children"), ("wl-body", "children")],
                [("wl-year", "value", y)],
                [("wl-lang", "data", "zh")],
            ),
            False,
        ),
        "quality": (
            callback_body(
                [
                    ("dq-cards", "children"),
                    ("dq-checks", "children"),
                    ("dq-rej-fig", "figure"),
                    ("dq-rejections", "children"),
                ],
                [("dq-run", "value", None)],
                [("dq-lang", "data", "zh")],
            ),
            False,
        ),
        "profile_own": (callback_body(pf, [("pf-unit", "value", u_own[0])], [("pf-lang", "data", "zh")]), False),
        "profile_other": (callback_body(pf, [("pf-unit", "value", u_other[0])], [("pf-lang", "data", "zh")]), True),
        "compare_own": (
            callback_body(
                cmp, [("cmp-year", "value", y), ("cmp-units", "value", u_own[:2])], [("cmp-lang", "data", "zh")]
            ),
            False,
        ),
        "compare_mixed": (
            callback_body(
                cmp,
                [("cmp-year", "value", y), ("cmp-units", "value", [u_own[0], u_other[0]])],
                [("cmp-lang", "data", "zh")],
            ),
            True,
        ),
        "download_own": (dl_body(own), False),
        "download_other": (dl_body(other), True),
        "download_all": (dl_body("__all__"), True),
        # crafted: a harmless output list, but the output key names the profile callback
        "crafted_output_key": (
            {
                **callback_body([("ipc-footer", "children")], [("pf-unit", "value", u_other[0])]),
                "output": "..pf-summary.children...pf-indicators.figure...pf-targets.children...pf-stage-fig.figure...pf-cycles.children...pf-stages.children...pf-alerts.children..",
            },
            True,
        ),
        # crafted: another province's unit in a URL's query for the pages router
        "crafted_page_query": (page_body("/profile", f"?unit={u_other[0]}"), True),
        "crafted_comma_list": (page_body("/compare", f"?units={u_own[0]},{u_other[0]}"), True),
    }


CALLBACK_PAGE = {
    "overview": "/",
    "rankings": "/rankings",
    "watchlist": "/watchlist",
    "quality": "/quality",
    "profile": "/profile",
    "compare": "/compare",
    "download": "/downloads",
    "crafted": "/profile",
}


@pytest.mark.parametrize("user", list(ROLES))
def test_callbacks_by_role(world, user):
    role, province = ROLES[user]
    own, other = ("440000", "320000") if province != "32" else ("320000", "440000")
    for name, (body, names_other) in bodies(world, own, other).items():
        page = CALLBACK_PAGE[name.split("_")[0]]
        r = post(world["clients"][user], body)
        allowed = role == "national" or (page in OPEN[role] and not names_other)
        if role == "national" and name == "crafted_output_key":
            # its inputs are not the profile callback's: refused as malformed for every role, national too
            assert r.status_code == 403, name
        elif allowed:
            assert r.status_code == 200, (user, name, r.status_code, r.get_data(as_text=True)[:300])
            if role == "province":
                assert_no_foreign_detail(world, name, r.get_json()["response"], own)
        else:
            assert_refused(world, user, r)


def assert_no_foreign_detail(world, name: str, response: dict, own: str) -> None:
    province_of = world["province_of"]
    text = json.dumps(response, ensure_ascii=False)
    if name == "rankings":
        rows = response["rk-grid"]["rowData"]
        foreign = [r for r in rows if r["province_code"] != own]
        assert foreign, "the national ranking is published to provinces"
        for r in foreign:  # published columns only
            assert r["stage"] is None and r["p05_rank"] is None and r["is_robust"] is None, r
            assert r["is_ranked"]
        assert any(r["stage"] is not None for r in rows if r["province_code"] == own)
    elif name == "watchlist":
        codes = {c for c in re.findall(r"(?<!\d)\d{6}(?!\d)", text) if c in province_of}
        # the province may have no flagged city in the sample year: then nothing at all, never another province's
        assert {province_of[c] for c in codes} <= {own}, codes
    elif name.startswith("download"):
        rows = response["dl-preview"]["rowData"]
        assert rows and all(province_of[r["行政区划代码"]] == own for r in rows)


def test_province_pages_offer_only_own_cities(world):
    province_of = world["province_of"]
    for path, key in (("/profile", "pf-unit"), ("/compare", "cmp-units"), ("/downloads", "dl-province")):
        r = post(world["clients"]["gd_t"], page_body(path, "?lang=zh"))
        comp = _find(r.get_json(), key)
        values = [o["value"] for o in comp["options"]]
        assert values and all(province_of.get(v, v) == "440000" for v in values), (path, values[:5])


def _find(tree, component_id):
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == component_id:
            return tree["props"]
        for v in tree.values():
            hit = _find(v, component_id)
            if hit is not None:
                return hit
    elif isinstance(tree, list):
        for v in tree:
            hit = _find(v, component_id)
            if hit is not None:
                return hit
    return None


# ---- dossiers and downloads ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("user", list(ROLES))
def test_dossiers_by_role(world, user):
    role, province = ROLES[user]
    y = world["year"]
    c = world["clients"][user]
    for p in ("440000", "320000"):
        name = f"{world['units'][p][0]}_{y}.html"
        r = c.get("/dossiers/" + name)
        allowed = role == "national" or (role == "province" and p.startswith(province))
        if allowed:
            assert r.status_code == 200 and "证据档案" in r.get_data(as_text=True)
        else:
            assert_refused(world, user, r, name)
    for crafted in ("..%2fsecret.html", "%2e%2e%2fsecret.html", "%252e%252e%252fsecret.html", "..%5csecret.html"):
        assert_refused(world, user, c.get("/dossiers/" + crafted))


@pytest.mark.parametrize("user", list(ROLES))
def test_downloads_by_role(world, user):
    role, province = ROLES[user]
    y = world["year"]
    c = world["clients"][user]
    for scope in ("44", "440000", "32", "320000", None):
        url = f"/download/extract?year={y}&fmt=csv" + (f"&province={scope}" if scope else "")
        r = c.get(url)
        allowed = role == "national" or (role == "province" and scope is not None and scope.startswith(province))
        if allowed:
            assert r.status_code == 200
            if role == "province":
                text = r.data.decode("utf-8-sig")
                assert ("广东省" if province == "44" else "江苏省") in text
                assert ("江苏省" if province == "44" else "广东省") not in text
        else:
            assert_refused(world, user, r)


def test_disabled_or_changed_accounts_lose_their_sessions(world):
    from dashboards.auth import UserStore

    store = UserStore(world["store"])
    add_account(world["store"], "temp_gd", "province", "44")
    c = signed_in_client(world["app"], world["store"], "temp_gd", "province", "44")
    assert c.get("/profile").status_code == 200
    store.set_role("temp_gd", "viewer")
    assert c.get("/profile").status_code in (302, 401)
    c = signed_in_client(world["app"], world["store"], "temp_gd", "viewer")
    store.disable("temp_gd")
    assert c.get("/rankings").status_code in (302, 401)
    assert login(world["app"].server.test_client(), "temp_gd").status_code == 401


# ---- the pages router and callback bodies as Dash reads them, not as they are labelled -----------------------------
@pytest.mark.parametrize("user", ["gd_t", "viewer_t"])
@pytest.mark.parametrize("path", ["/quality/", "//quality", "/programmes/", "//provinces//", "/targets/", "/alerts/"])
def test_pages_router_refuses_spellings_of_closed_pages(world, user, path):
    # Dash strips the slashes around a pathname before it picks the page, so '/quality/' is the quality page.
    assert_refused(world, user, post(world["clients"][user], page_body(path, "?lang=zh")), path.strip("/"))
    if not path.startswith("//"):  # the test client would read '//x' as a host name, not as a path
        assert_refused(world, user, world["clients"][user].get(path, headers={"Accept": "text/html"}))


def _relabelled(body: dict, ids: list[tuple[str, str]]) -> dict:
    """``body`` with its inputs renamed: Dash passes inputs to the function by position, whatever their ids."""
    inputs = [{**item, "id": i, "property": p} for item, (i, p) in zip(body["inputs"], ids, strict=True)]
    return {**body, "inputs": inputs}


def test_callback_inputs_must_be_the_callbacks_own(world):
    """A body whose inputs carry other ids than the callback declares is refused: otherwise a foreign unit
    labelled as the published rankings' province filter, or a closed page's path labelled as anything but the
    router's location, would pass the gate and reach the callback as its real argument."""
    other = world["units"]["320000"][0]
    client = world["clients"]["gd_t"]
    published = ("rk-province", "value")
    crafted = {
        "acceptance": _relabelled(
            callback_body([("pf-acceptance", "children")], [("pf-unit", "value", other)], [("pf-lang", "data", "zh")]),
            [published],
        ),
        "ambition": _relabelled(
            callback_body([("pf-ambition", "children")], [("pf-unit", "value", other)], [("pf-lang", "data", "zh")]),
            [published],
        ),
        "trend": _relabelled(
            callback_body(
                [("cmp-trend", "figure")],
                [("cmp-units", "value", [other, world["units"]["320000"][1]]), ("cmp-indicator", "value", "QLT01")],
                [("cmp-lang", "data", "zh")],
            ),
            [published, ("cmp-indicator", "value")],
        ),
        "router": _relabelled(page_body("/programmes", "?lang=zh"), [("x", "pathname"), ("x", "search")]),
        "fewer_inputs": {**callback_body([("pf-acceptance", "children")], [], [("pf-lang", "data", "zh")])},
    }
    for name, body in crafted.items():
        r = post(client, body)
        assert r.status_code == 403, (name, r.status_code, r.get_data(as_text=True)[:300])
        assert other not in r.get_data(as_text=True)
    # the same callbacks as the browser sends them still answer for the province's own city
    own = world["units"]["440000"][0]
    r = post(
        client, callback_body([("pf-acceptance", "children")], [("pf-unit", "value", own)], [("pf-lang", "data", "zh")])
    )
    assert r.status_code == 200, r.get_data(as_text=True)[:300]


def test_codes_sent_as_numbers_are_checked(world):
    """JSON lets a crafted body send a city code as a number; the callbacks turn it into text and find the city
    by it, so the gate reads such codes too (and the callbacks check the unit themselves)."""
    other = world["units"]["320000"]
    client = world["clients"]["gd_t"]
    crafted = {
        "ambition_int": callback_body(
            [("pf-ambition", "children")], [("pf-unit", "value", int(other[0]))], [("pf-lang", "data", "zh")]
        ),
        "acceptance_int": callback_body(
            [("pf-acceptance", "children")], [("pf-unit", "value", int(other[0]))], [("pf-lang", "data", "zh")]
        ),
        "trend_ints": callback_body(
            [("cmp-trend", "figure")],
            [("cmp-units", "value", [int(other[0]), int(other[1])]), ("cmp-indicator", "value", "QLT01")],
            [("cmp-lang", "data", "zh")],
        ),
        "trend_float": callback_body(
            [("cmp-trend", "figure")],
            [("cmp-units", "value", [float(other[0]), other[1]]), ("cmp-indicator", "value", "QLT01")],
            [("cmp-lang", "data", "zh")],
        ),
    }
    for name, body in crafted.items():
        r = post(client, body)
        assert_refused(world, "gd_t", r, other[0])
        assert other[0] not in r.get_data(as_text=True), name


def test_a_cached_answer_is_checked_against_the_account_asking(world, monkeypatch):
    """The callbacks' cache is shared by every account: a memoised callback's permission check runs on every call,
    before the cache is asked, so an answer computed for the national office never reaches a province account.
    Compare and profile check their units that way."""
    from dashboards import access
    from dashboards.components import memoised
    from dashboards.pages import compare, profile

    computed, checked = [], []

    @memoised("test-cached", check=lambda x: checked.append(x))
    def heavy(x):
        computed.append(x)
        return x

    own, other = world["units"]["440000"][0], world["units"]["320000"][0]
    with world["app"].server.test_request_context():
        assert heavy(1) == heavy(1) == 1
        assert computed == [1] and checked == [1, 1]
        monkeypatch.setattr(access, "current_principal", lambda: access.Principal("gd", "province", "440000"))
        compare.authorize_units([own])
        profile.authorize_unit(own)
        with pytest.raises(access.AccessDenied):
            compare.authorize_units([own, other])
        with pytest.raises(access.AccessDenied):
            profile.authorize_unit(other)


def test_download_callbacks_refuse_a_malformed_year_or_format_by_name(world):
    """A forged preview request with a year or format the page never offers is a 400 (404 for a year not
    published) naming the parameter, as /download/extract answers, not a 500; a province asking for another
    province is refused first, whatever the year."""
    dl = [("dl-preview", "columnDefs"), ("dl-preview", "rowData"), ("dl-count", "children"), ("dl-link", "href")]

    def body(year, scope, fmt):
        return callback_body(
            dl,
            [("dl-year", "value", year), ("dl-province", "value", scope), ("dl-format", "value", fmt)],
            [("dl-lang", "data", "zh")],
        )

    national = world["clients"]["national_t"]
    ok = post(national, body(world["year"], "440000", "xlsx"))
    assert ok.status_code == 200
    assert ok.get_json()["response"]["dl-link"]["href"].endswith(f"year={world['year']}&fmt=xlsx&province=440000")
    for year, fmt, status, said in (
        ("abc", "csv", 400, "year"),
        (f"{world['year']} OR 1=1", "csv", 400, "year"),
        (world["year"], "exe", 400, "fmt"),
        (1999, "csv", 404, "1999"),
    ):
        r = post(national, body(year, "440000", fmt))
        assert r.status_code == status and said in r.get_data(as_text=True), (year, fmt, r.status_code)
    assert_refused(world, "gd_t", post(world["clients"]["gd_t"], body("abc", "320000", "csv")))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_page_url_naming_another_province_is_refused_with_the_no_access_page(world, lang):
    """A provincial office's bookmark or shared link to another province's city opened a blank page (the shell,
    its navigation and the page were all refused as callbacks): the page URL itself is now refused with the
    "no access" page in the reader's language. Its own cities open as before."""
    gd = world["clients"]["gd_t"]
    own, other = world["units"]["440000"][0], world["units"]["320000"][0]
    for url in (f"/profile?unit={other}", f"/compare?units={own},{other}", f"/flag?unit={other}"):
        r = gd.get(f"{url}&lang={lang}", headers={"Accept": "text/html"})
        assert_refused(world, "gd_t", r, other)
        body = r.get_data(as_text=True)
        assert 'id="error-page"' in body and ("无权访问" in body if lang == "zh" else "No access" in body)
    assert gd.get(f"/profile?unit={own}&lang={lang}").status_code == 200
    assert world["clients"]["national_t"].get(f"/profile?unit={other}&lang={lang}").status_code == 200


def test_rankings_filtered_to_another_province_opens_for_a_province_office(world):
    """The national ranking is published: filtered to another province (the filter is kept in the URL), a
    provincial office's bookmark or language switch must open it, not a blank page of refused callbacks."""
    gd = world["clients"]["gd_t"]
    assert gd.get("/rankings?province=320000&lang=en").status_code == 200
    for body in (page_body("/rankings", "?province=320000&lang=en"), _shell_body("/rankings", "?province=320000")):
        r = post(gd, body)
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
    # the exemption is the rankings' province filter only: the same code elsewhere is still refused
    assert_refused(world, "gd_t", post(gd, page_body("/profile", "?unit=320500&lang=zh")))
    assert_refused(world, "gd_t", post(gd, page_body("/rankings", "?unit=320500&lang=zh")))


def _shell_body(pathname: str, search: str) -> dict:
    return callback_body(
        [("ipc-title", "children"), ("ipc-nav", "children"), ("ipc-lang", "children"), ("ipc-banner", "children")],
        [("_pages_location", "pathname", pathname), ("_pages_location", "search", search)],
    )
