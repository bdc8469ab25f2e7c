"""Query parameters and callback refusals (review "params"), against the running dashboard over HTTP (the shared app
of tests/security_fixtures.py). Each test failed before its fix.

1. A route that reads its query took the first of a repeated parameter (``/download/extract?province=64&province=44``)
   and ignored a name it does not read (``?provinc=64``, a typo that silently meant "all provinces"): now every such
   route declares its parameters (security.query_params) and the request gate refuses any other name, and any name
   given twice, with a 400 in both languages (web.refusal), in one place for every route.
2. A refusal of a callback (``/_dash-update-component``) followed ``?lang=`` only, which Dash never sends: an English
   page's refusals came Chinese first. Now they follow the page's language store (what the callbacks read), else the
   page URL's ``lang`` the router callback carries, 简体中文 by default."""

from __future__ import annotations

import re

import pytest
from dashboard_http import callback_body, page_body, rankings_body
from security_fixtures import SAME_ORIGIN, attack_web

from dashboards import payloads

CJK = re.compile(r"[\u3400-\u9fff]")
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    return attack_web(tmp_path_factory, "attacks_params", "gd_params")


def _assert_bilingual_400(r, lang: str = "zh", name: str | None = None):
    assert r.status_code == 400, (r.status_code, r.get_data(as_text=True)[:300])
    text = r.get_data(as_text=True)
    first, _, rest = text.partition(" / ")
    assert rest, text  # both languages
    if lang == "zh":
        assert CJK.search(first) and not CJK.search(rest.splitlines()[0]), text
    else:
        assert not CJK.search(first) and CJK.search(rest.splitlines()[0]), text
    if name is not None:
        assert name in text  # the technical reason names the parameter
    assert "Traceback" not in text


# ---- 1. a repeated or unknown query parameter is refused, on every route that reads its query -----------------------
CASES = [
    # (url, the parameter the refusal names): a name given twice
    ("/download/extract?year=2024&province=64&province=44&fmt=csv", "province"),
    ("/download/extract?year=2024&province=44&fmt=csv&fmt=xlsx", "fmt"),
    ("/download/extract?year=2024&year=2023&province=44", "year"),
    ("/report.pdf?year=2024&city=440300&city=640100", "city"),
    ("/report.pdf?year=2024&year=2023&city=440300", "year"),
    ("/login?next=/rankings&next=//evil.example", "next"),
    ("/logout?lang=zh&lang=zh", "lang"),
    ("/account/password?changed=1&changed=1", "changed"),
    ("/dossiers/440300_2024.html?lang=en&lang=en", "lang"),
    # a name the route does not read
    ("/download/extract?year=2024&provinc=64&fmt=csv", "provinc"),  # a typo that read as "all provinces"
    ("/download/extract?year=2024&province=44&fmt=csv&debug=1", "debug"),
    ("/report.pdf?year=2024&unit=640100", "unit"),
    ("/report.pdf?year=2024&city=440300&lang=en&x=", "x"),
    ("/login?lang=en&redirect=/x", "redirect"),
    ("/logout?next=/", "next"),
    ("/account/password?lang=en&done=1", "done"),
    ("/extracts/44/anything.csv?v=1", "v"),
    ("/dossiers/440300_2024.html?download=1", "download"),
]


@pytest.mark.parametrize(("url", "name"), CASES)
def test_a_repeated_or_unknown_parameter_is_refused_with_400_in_both_languages(web, url, name):
    lang = "en" if "lang=en" in url else "zh"
    _assert_bilingual_400(web["gd"].get(url), lang, f"'{name}'")


@pytest.mark.parametrize("url", ["/download/extract?year=2024&province=44&province=44&lang=en", "/login?lang=en&q=1"])
def test_the_refusal_is_in_the_chosen_language_first_and_a_page_for_a_browser(web, url):
    _assert_bilingual_400(web["gd"].get(url), "en")
    page = web["gd"].get(url, headers=HTML)
    assert page.status_code == 400 and page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    assert 'id="error-page"' in body and "Bad request" in body and "<script" not in body.split('id="error-page"')[1]


def test_an_anonymous_caller_is_asked_to_sign_in_first_and_the_public_sign_in_page_is_checked_too(web):
    anonymous = web["app"].server.test_client()
    # a route behind sign-in: the sign-in comes first, the parameters say nothing to an anonymous caller
    assert anonymous.get("/download/extract?year=2024&province=64&province=44").status_code == 401
    _assert_bilingual_400(anonymous.get("/login?next=/a&next=/b"), "zh", "next")


def test_the_parameters_each_route_reads_still_pass(web):
    gd = web["gd"]
    ok = gd.get("/download/extract?year=2024&province=44&fmt=csv&lang=en")
    assert ok.status_code == 200 and ok.mimetype == "text/csv"
    # the profile page's report link sends an empty city for no city: still a declared name
    assert gd.get("/report.pdf?year=2024&city=&lang=en").status_code == 403  # the national report: national only
    assert gd.get("/login?lang=en&next=/rankings").status_code in (200, 302)
    assert gd.get("/account/password?lang=en&changed=1").status_code == 200
    assert gd.get("/logout?lang=en").status_code == 200
    # Dash's pages and static files declare nothing and are left to their own reading (a bundle's ?v= cache key)
    assert gd.get("/rankings?lang=en&year=2024").status_code == 200


# ---- 2. a callback's refusal follows the page's language ---------------------------------------------------------------
def _first_is_english(r) -> bool:
    first = r.get_data(as_text=True).partition(" / ")[0]
    return not CJK.search(first)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (payloads.profile_body("640100", "en"), 403),  # another province's city
        (rankings_body("20x", "en"), 400),  # a forged year
        (payloads.overview_body(2024, "not-a-mode", "en"), 400),
        (page_body("/profile", "?lang=en&unit=640100"), 403),  # the router: the page URL's language
    ],
)
def test_a_callback_refusal_is_in_the_pages_language(web, body, status):
    r = web["gd"].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    assert r.mimetype == "text/plain"
    assert _first_is_english(r), r.get_data(as_text=True)
    assert CJK.search(r.get_data(as_text=True))  # the other language after it


@pytest.mark.parametrize(
    "body",
    [
        payloads.profile_body("640100", "zh"),
        payloads.profile_body("640100", None),  # no stored language: 简体中文
        page_body("/profile", "?unit=640100"),
        page_body("/profile", "?lang=en&lang=zh&unit=640100"),  # two languages: neither is guessed
        callback_body([("pf-title", "children")], [("pf-unit", "value", "640100")]),
    ],
)
def test_a_callback_refusal_is_in_chinese_by_default(web, body):
    r = web["gd"].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
    assert r.status_code in (400, 403)
    assert not _first_is_english(r), r.get_data(as_text=True)


def test_an_unreadable_callback_body_is_still_refused_plainly(web):
    gd = web["gd"]
    deep = b'{"state": [' + b"[" * 5000 + b"]" * 5000 + b"]}"
    r = gd.post("/_dash-update-component", data=deep, headers={**SAME_ORIGIN, "Content-Type": "application/json"})
    assert r.status_code == 400 and "Traceback" not in r.get_data(as_text=True)
    r = gd.post(
        "/_dash-update-component?lang=en",
        data=b"{not json",
        headers={**SAME_ORIGIN, "Content-Type": "application/json"},
    )
    assert r.status_code in (400, 403) and _first_is_english(r)  # nothing read from the body: the URL's language


# ---- 3. a page opened with a parameter given twice ---------------------------------------------------------------------
# The pages take any name (their layouts read what they know), but their links write each name once
# (assets/url_state.js): Dash's router read the last of two values while the page's checks read every one.
@pytest.mark.parametrize(
    "url", ["/rankings?year=2024&year=2023", "/?lang=en&lang=zh", "/profile?unit=440300&unit=440100&lang=en"]
)
def test_a_page_opened_with_a_parameter_twice_is_refused(web, url):
    _assert_bilingual_400(web["gd"].get(url), "en" if "lang=en" in url else "zh")
    assert web["gd"].get(url, headers=HTML).status_code == 400


def test_the_router_callback_refuses_a_page_query_with_a_parameter_twice(web):
    r = web["gd"].post(
        "/_dash-update-component", json=page_body("/rankings", "?lang=en&year=2024&year=2023"), headers=SAME_ORIGIN
    )
    assert r.status_code == 400 and _first_is_english(r), r.get_data(as_text=True)
    ok = web["gd"].post(
        "/_dash-update-component", json=page_body("/rankings", "?lang=en&year=2024"), headers=SAME_ORIGIN
    )
    assert ok.status_code == 200


def test_a_hostile_parameter_name_is_shown_as_text(web):
    page = web["gd"].get("/report.pdf?year=2024&%3Cimg%20src%3Dx%3E=1", headers=HTML)
    body = page.get_data(as_text=True)
    assert page.status_code == 400 and "<img src=x>" not in body and "&lt;img src=x&gt;" in body
