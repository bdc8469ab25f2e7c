"""Attacks of the thirteenth review (branch h_access13: "provinces with their own access"), against the running
dashboard over HTTP (the shared app of tests/security_fixtures.py). Each test failed before its fix.

1. The 429 of heavy work at once (dashboards.busy) was one fixed line, Chinese first, plain text even to a browser:
   an English page's download, report or chart update was refused in Chinese first. Now it is ``web.refusal``'s, as
   every other refusal: the page's language first (``?lang=``, or a callback's page language), a page for a browser.
2. The pages took any query name (their layouts read the rest as ``**_``): ``/rankings?provinc=64`` opened as if the
   name were not there, and the router callback drew a page for any forged query. Now each page reads the names its
   layout declares (security.layout_query_params) and any other is a 400 in both languages, on the page and in the
   router callback, as on every other route; the links the app itself builds (language switch, navigation, profile
   and flag links, the query each page writes with url_state.js) carry only those names.
3. ``/favicon.ico`` and the map outlines (``/geo/…``) ignored any query: decided as in 2, they read only ``lang``
   (their refusals' language, as every route), so any other name is refused (a probe's ``?x=1`` is an error said
   plainly, never silently the same answer). ``/healthz`` was refused likewise until round 14 decided otherwise: a
   load balancer's probe adds its own query, and a 400 took a healthy dashboard out of the pool
   (tests/test_security_attacks14.py)."""

from __future__ import annotations

import re
from pathlib import Path

import dash
import pytest
from dashboard_http import page_body
from security_fixtures import SAME_ORIGIN, assert_bilingual, attack_web, hold_every_slot

from dashboards import busy, payloads, security

ROOT = Path(__file__).resolve().parents[1]
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    from dashboard_http import signed_in_client

    world = attack_web(tmp_path_factory, "attacks13", "gd13")
    # the pages a provincial office may not open are refused (403) before their query is read: a national account
    # opens every page
    world["nat"] = signed_in_client(world["app"], world["store"], "nat13", "national")
    return world


# ---- 1. the busy refusal follows the page's language -------------------------------------------------------------------
def _busy(web, kind: str):
    return hold_every_slot(busy.Slots(web["store"].parent / "busy"), "gd13", kind)


@pytest.mark.parametrize(
    ("url", "lang"),
    [
        ("/download/extract?year=2024&province=44&fmt=csv&lang=en", "en"),
        ("/download/extract?year=2024&province=44&fmt=csv", "zh"),
        ("/report.pdf?year=2024&city=440300&lang=en", "en"),
        ("/report.pdf?year=2024&city=440300&lang=zh", "zh"),
    ],
)
def test_the_busy_refusal_of_a_file_is_in_the_pages_language(web, url, lang):
    held = _busy(web, "file")
    try:
        r = web["gd"].get(url)
        assert_bilingual(r, 429, lang)
        assert r.headers["Retry-After"] and r.headers["Cache-Control"] == "no-store"
        page = web["gd"].get(url, headers=HTML)  # a person who clicked the link: a page in their language
        body = page.get_data(as_text=True)
        assert page.status_code == 429 and page.mimetype == "text/html" and 'id="error-page"' in body
        assert ('lang="en"' in body) == (lang == "en")
    finally:
        for f in held:
            f.close()
    # slots free again: no longer refused as busy (the hand-made snapshot's report is not this test's subject)
    assert web["gd"].get(url).status_code != 429


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_busy_refusal_of_a_callback_is_in_the_pages_language(web, lang):
    body = payloads.profile_body("440300", lang)
    held = _busy(web, "callback")
    try:
        r = web["gd"].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
        # a stored answer is served before any slot is taken; a computed one is refused in the page's language
        if r.status_code != 200:
            assert_bilingual(r, 429, lang)
    finally:
        for f in held:
            f.close()
    # a body no store holds (a forged but valid unit order) is always computed: refused while busy
    held = _busy(web, "callback")
    try:
        from dashboard_http import rankings_body

        r = web["gd"].post("/_dash-update-component", json=rankings_body(2023, lang), headers=SAME_ORIGIN)
        assert_bilingual(r, 429, lang)
    finally:
        for f in held:
            f.close()


# ---- 2. a page refuses a query name it does not read -------------------------------------------------------------------
def _pages(web) -> list[str]:
    web["gd"].get("/")  # Dash fills its page registry when the app is set up
    return sorted(p["path"] for p in dash.page_registry.values() if p["path"] != "/404")


def test_every_page_refuses_an_unknown_name_in_both_languages(web):
    gd = web["nat"]
    checked = 0
    for path in _pages(web):
        for query, lang in (("?zz=1", "zh"), ("?lang=en&provinc=64", "en"), ("?lang=en&Year=2024", "en")):
            r = gd.get(path + query)
            assert_bilingual(r, 400, lang)
            name = re.search(r"[?&]((?!lang=)[^=&]+)=", query).group(1)
            assert f"'{name}'" in r.get_data(as_text=True), (path, query)
            assert gd.get(path + query, headers=HTML).status_code == 400
            checked += 1
    assert checked >= 3 * 12


def test_the_router_callback_refuses_an_unknown_name(web):
    for search in ("?lang=en&provinc=64", "?lang=en&year=2024&debug=1"):
        r = web["nat"].post("/_dash-update-component", json=page_body("/rankings", search), headers=SAME_ORIGIN)
        assert_bilingual(r, 400, "en")
    r = web["nat"].post("/_dash-update-component", json=page_body("/profile", "?zz=1"), headers=SAME_ORIGIN)
    assert_bilingual(r, 400, "zh")


def _layout_names() -> dict[str, frozenset]:
    return {p["path"]: security.layout_query_params(p["layout"]) for p in dash.page_registry.values()}


def test_the_links_the_app_builds_carry_only_names_their_page_reads(web):
    _pages(web)
    names = _layout_names()
    assert all("lang" in v for v in names.values())
    # the query each page writes as its controls change (url_stores keys, assets/url_state.js)
    for module in (ROOT / "dashboards" / "pages").glob("*.py"):
        source = module.read_text(encoding="utf-8")
        path = re.search(r'^PATH = "([^"]*)"', source, re.M)
        for keys in re.findall(r"url_stores\(\"\w+\", \[([^\]]*)\]", source):
            written = set(re.findall(r'"(\w+)"', keys))
            assert written <= names[path.group(1)], (module.name, written - names[path.group(1)])
    # links built with components.href(path, lang, name=...) anywhere in the app
    for module in (ROOT / "dashboards").rglob("*.py"):
        for target, kwargs in re.findall(
            r"href\(['\"](/\w*)['\"], lang((?:, \w+=[^,)]+(?:\([^)]*\))?)*)\)", module.read_text()
        ):
            used = set(re.findall(r"(\w+)=", kwargs))
            assert used <= names[target], (module.name, target, used - names[target])


def test_the_apps_own_links_still_open(web):
    gd = web["nat"]
    for url in (
        "/?lang=en&year=2024&map=index",
        "/rankings?lang=en&year=2024&province=440000&group=leading&stage=x&programme=all&filter=%7B%7D",
        "/compare?lang=zh&year=2024&units=440300,440100&indicator=x",
        "/profile?lang=en&unit=440300",
        "/flag?lang=en&unit=440300&year=2024",
        "/watchlist?year=2024",
        "/targets?plan=x",
        "/quality?run=x",
        "/alerts?state=open&city=440300",
        "/downloads?lang=en&year=2024",
        "/provinces?level=x&period=2024",
        "/programmes?lang=en",
        "/simulator?lang=zh",
    ):
        assert gd.get(url).status_code == 200, url
        path, _, search = url.partition("?")
        r = gd.post("/_dash-update-component", json=page_body(path, "?" + search), headers=SAME_ORIGIN)
        # not refused (the hand-made snapshot lacks some of the flag page's figures: what it draws is not the subject)
        assert r.status_code not in (400, 403), (url, r.get_data(as_text=True)[:300])


# ---- 3. the routes that read no query refuse one -----------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/favicon.ico?v=2", "/geo/provinces.json?v=2", "/geo/topojson/china.json?lang=en&v=2"])
def test_a_route_that_reads_no_query_refuses_one(web, url):
    r = web["gd"].get(url)
    assert_bilingual(r, 400, "en" if "lang=en" in url else "zh")
    bare = web["gd"].get(url.partition("?")[0] + "?lang=en")  # the refusals' language: read on every route
    assert bare.status_code in (200, 301, 503), (url, bare.status_code)
