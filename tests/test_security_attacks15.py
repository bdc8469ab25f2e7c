"""Attacks of the fifteenth review (branch h_access15: "provinces with their own access"), against the running
dashboard over HTTP (the shared app of tests/security_fixtures.py). Each test failed before its fix.

1. The "why flagged" page (/flag), reached from the watchlist and the profile rather than the navigation bar, was
   left out of the pages the request gate checks roles for: a viewer's or the evaluation agency's account opened
   it (200, as a page and through the pages router) where every other page outside its role is a 403. The gate now
   checks every page the router opens, and /flag is open to the roles whose watchlist and profile link to it.
2. A callback body in UTF-16 or UTF-32 (which the JSON decoder reads as well as UTF-8) hid its nesting from the
   gate's depth measure, which read the bytes as UTF-8: an escaped quote has a zero byte between its backslash and
   its quote, so the rest of the body read as a string. 5,000 levels measured 4, reached the decoder and were a 500
   with a traceback in the log (round 11's fix for deep bodies, undone by the encoding). The depth is now measured
   on the text the decoder reads.
3. With no snapshot to read (none published yet, one of another schema version), a provincial office's every
   callback naming a city (the router drawing /profile?unit=…, the profile's, the comparison's) was a 500 and a
   traceback in the log: the gate's scope check read the snapshot and nothing caught its refusal; the national
   office got the pages' "no snapshot yet" notice. The downloads preview was a 500 for every account. Now the
   gate lets such a callback answer with the notice (every data path checks the scope again, and the flag page's
   layout, the one layout that draws a city's data, now checks it itself), and whatever still needs a snapshot it
   cannot read is a 503 said in both languages (as the file routes say it), never a 500.

Tried and found holding (no change): a province's forged callback carrying another province's code in every input
and state of every callback it may call, as a string, a number, a float, a list, a nested dict, full-width and
Arabic-Indic digits, with spaces, zero-width characters, a leading plus or zero, comma lists and 3,000 characters
(refused, the published ranking only, or the code only echoed as "no such city"); the report PDF and dossier routes
with another province's, a province's, the national and look-alike-digit codes; OPTIONS, HEAD, TRACE and PUT; a
foreign Host header (the sign-in redirect stays relative); argon2 timing of a known and an unknown name.
"""

from __future__ import annotations

import json

import dash
import pytest
from dashboard_http import callback_body, page_body, rankings_body, signed_in_client
from security_fixtures import SAME_ORIGIN, assert_bilingual, attack_web

from dashboards import access, security

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    w = attack_web(tmp_path_factory, "attacks15", "gd15")
    app, store = w["app"], w["store"]
    w["viewer"] = signed_in_client(app, store, "viewer15", "viewer")
    w["evaluator"] = signed_in_client(app, store, "evaluator15", "evaluator")
    w["national"] = signed_in_client(app, store, "national15", "national")
    return w


# ---- 1. every page the router opens is held to its roles -----------------------------------------------------------
@pytest.mark.parametrize("who", ["viewer", "evaluator"])
@pytest.mark.parametrize("query", ["", "?year=2024", "?lang=en"])
def test_the_flag_page_is_refused_to_a_role_it_is_not_open_to(web, who, query):
    client = web[who]
    assert client.get("/flag" + query, headers=HTML).status_code == 403
    r = client.post("/_dash-update-component", json=page_body("/flag", query), headers=SAME_ORIGIN)
    assert r.status_code == 403, r.get_data(as_text=True)[:300]


def test_the_flag_page_still_opens_for_the_national_office_and_a_provinces_own_city(web):
    for client in (web["national"], web["gd"]):
        assert client.get("/flag?unit=440300&year=2024", headers=HTML).status_code == 200
        r = client.post("/_dash-update-component", json=page_body("/flag", "?unit=440300"), headers=SAME_ORIGIN)
        assert r.status_code == 200
    # another province's city stays refused to Guangdong's office
    assert web["gd"].get("/flag?unit=320100&year=2024", headers=HTML).status_code == 403


def test_every_page_the_router_opens_is_held_to_its_roles(web):
    """The kind, not the example: a page registered outside the navigation bar must not escape the gate (a page
    without declared roles is the national office's alone, access.page_roles)."""
    roles = web["app"].server.config["IPCITY_PAGE_ROLES"]
    for page in dash.page_registry.values():
        if page["path"] == "/404":
            continue
        wanted = roles.get(page["path"], access.NATIONAL)
        for who, role in (("viewer", "viewer"), ("evaluator", "evaluator"), ("gd", "province")):
            status = web[who].get(page["path"], headers=HTML).status_code
            assert status == (200 if role in wanted else 403), (page["path"], who, status)
            body = page_body(page["path"], "")
            status = web[who].post("/_dash-update-component", json=body, headers=SAME_ORIGIN).status_code
            assert status == (200 if role in wanted else 403), ("router", page["path"], who, status)
    assert access.PAGE_ROLES["/flag"] == access.CITY_ROLES


# ---- 2. a body's nesting is measured in the encoding the decoder reads it in ------------------------------------------
def _deep_body(depth: int) -> str:
    """The rankings callback's body with a ``depth``-deep list after a string holding an escaped quote."""
    text = json.dumps(rankings_body(2024))
    deep = "[" * depth + "]" * depth
    return text.replace('"changedPropIds"', f'"x": "\\"", "y": {deep}, "z": "\\"", "changedPropIds"', 1)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_the_depth_of_a_json_body_is_measured_in_any_encoding_the_decoder_reads(encoding):
    text = _deep_body(50)
    assert json.loads(text.encode(encoding))  # the decoder reads it
    assert security.json_depth(text.encode(encoding)) == security.json_depth(text.encode("utf-8")) == 51


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_deep_callback_body_in_utf16_or_utf32_is_a_400_not_a_server_error(web, encoding):
    headers = {**SAME_ORIGIN, "Content-Type": "application/json"}
    for depth in (40, 5000):
        r = web["gd"].post("/_dash-update-component", data=_deep_body(depth).encode(encoding), headers=headers)
        text = r.get_data(as_text=True)
        assert r.status_code == 400 and "nested too deeply" in text, (depth, r.status_code, text[:200])
        assert "Traceback" not in text
    # the same body, not deep, is still answered
    r = web["gd"].post("/_dash-update-component", data=_deep_body(2).encode(encoding), headers=headers)
    assert r.status_code == 200, r.get_data(as_text=True)[:200]


# ---- 3. no snapshot to read: the pages' notice or a 503, never a 500 -------------------------------------------------
@pytest.fixture(scope="module")
def unpublished(tmp_path_factory):
    """The app before the first publish: its snapshot path holds nothing."""
    from dashboards.app import create_app

    base = tmp_path_factory.mktemp("attacks15_unpublished")
    store = base / "access" / "users.sqlite"
    app = create_app(
        base / "published" / "none.snapshot.duckdb",
        user_store=store,
        secret_key_file=base / "access" / "secret_key",
        dossier_dir=base / "dossiers",
        extracts_dir=base / "extracts",
    )
    return {
        "province": signed_in_client(app, store, "gd15u", "province", "44"),
        "national": signed_in_client(app, store, "nat15u", "national"),
    }


NOTICE = "尚未发布数据快照"
PROFILE_ROUTER = page_body("/profile", "?unit=440300")
ACCEPTANCE = callback_body(
    [("pf-acceptance", "children")], [("pf-unit", "value", "440300")], [("pf-lang", "data", "zh")]
)
TREND = callback_body(
    [("cmp-trend", "figure")],
    [("cmp-units", "value", ["440300", "440100"]), ("cmp-indicator", "value", "QLT01")],
    [("cmp-lang", "data", "zh")],
)
PREVIEW = callback_body(
    [("dl-preview", "columnDefs"), ("dl-preview", "rowData"), ("dl-count", "children"), ("dl-link", "href")],
    [("dl-year", "value", 2024), ("dl-province", "value", "440000"), ("dl-format", "value", "csv")],
    [("dl-lang", "data", "en")],
)


@pytest.mark.parametrize("who", ["province", "national"])
def test_a_callback_naming_a_city_before_the_first_publish_gets_the_notice(unpublished, who):
    for body in (PROFILE_ROUTER, ACCEPTANCE):
        r = unpublished[who].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
        assert r.status_code == 200 and NOTICE in r.get_data(as_text=True), (who, r.status_code)


@pytest.mark.parametrize("who", ["province", "national"])
def test_what_still_needs_a_snapshot_is_a_503_in_both_languages_never_a_500(unpublished, who):
    for body, lang in ((TREND, "zh"), (PREVIEW, "en")):
        r = unpublished[who].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
        if r.status_code == 200:  # the national office's comparison says so itself
            assert who == "national" and NOTICE in r.get_data(as_text=True)
            continue
        assert_bilingual(r, 503, lang)
        assert "none.snapshot.duckdb" not in r.get_data(as_text=True)  # no server path


def test_the_flag_layout_checks_the_city_itself(web):
    """The gate lets a callback pass while no snapshot can be read to check it with; the flag page's layout, which
    draws a city's data, refuses another province's city on its own."""
    from dashboards.pages import flag

    with web["gd"] as client:
        assert client.get("/rankings", headers=HTML).status_code == 200  # a signed-in request to stand in
        with pytest.raises(access.AccessDenied):
            flag.layout(lang="zh", unit="320100", year="2024")
        assert flag.layout(lang="zh", unit="440300", year="2024")  # its own city still draws
