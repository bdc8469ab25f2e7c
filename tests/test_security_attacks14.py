"""Attacks of the fourteenth review (branch h_access14: "provinces with their own access"), against the running
dashboard over HTTP (the shared app of tests/security_fixtures.py). Each test failed before its fix.

1. Dash's own routes took any query: ``/_dash-layout?x=1``, ``/_dash-dependencies?x=1``, a callback POSTed to
   ``/_dash-update-component?x=1``, a bundle with ``?m=1`` or ``?v=1`` and the icon with any name were served as if
   the query were not there, where every other route refuses a name it does not read. Now each of Dash's routes
   reads what Dash itself sends it (web.DASH_ROUTE_QUERY: nothing but ``lang``; an asset its ``?m=``, the icon its
   ``?v=``), and the rest is a 400 in both languages; what the pages themselves link still loads.
2. ``/healthz`` refused a load balancer probe's own query (400, round 13): the probe, whose query the deployment
   does not choose, read a healthy dashboard as down. Now it answers its status to any query, and never echoes it.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from dashboard_http import rankings_body
from security_fixtures import SAME_ORIGIN, assert_bilingual, attack_web

from dashboards import web as web_module

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    return attack_web(tmp_path_factory, "attacks14", "gd14")


def _linked(client) -> list[str]:
    """Every same-site URL a signed-in page's HTML links (bundles, assets, the icon), as the page gives it."""
    html = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    return sorted({u for u in re.findall(r'(?:src|href)="(/[^"/][^"]*)"', html)})


def _bundle(web) -> str:
    return next(u for u in _linked(web["gd"]) if u.startswith("/_dash-component-suites/"))


# ---- 1. Dash's own routes read what Dash sends them, and refuse the rest -----------------------------------------------
def test_what_the_pages_link_loads_with_its_query(web):
    linked = _linked(web["gd"])
    assert any(u.startswith("/_dash-component-suites/") for u in linked)
    assert any("?m=" in u for u in linked) and any(u.startswith("/_favicon.ico?v=") for u in linked)
    for url in linked + ["/_dash-layout", "/_dash-dependencies", "/_dash-layout?lang=en"]:
        assert web["gd"].get(url).status_code == 200, url


@pytest.mark.parametrize(
    "url",
    [
        "/_dash-layout?x=1",
        "/_dash-dependencies?x=1",
        "/_dash-layout?lang=en&lang=en",
        "/_dash-dependencies?province=64",
        "/_favicon.ico?m=1",
        "/_favicon.ico?v=1&v=2",
        "/assets/style.css?v=1",
        "/assets/style.css?m=1&m=2",
        "BUNDLE?m=1",
        "BUNDLE?v=1",
        "BUNDLE?x=1&lang=en",
    ],
)
def test_a_name_dash_does_not_send_is_refused_on_its_routes(web, url):
    url = url.replace("BUNDLE", _bundle(web))
    assert_bilingual(web["gd"].get(url), 400, "en" if "lang=en" in url else "zh")


def test_a_callback_with_a_query_is_refused(web):
    body = rankings_body(2024)
    ok = web["gd"].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
    assert ok.status_code == 200, ok.get_data(as_text=True)[:300]
    for query in ("?x=1", "?province=64", "?lang=zh&lang=zh"):
        r = web["gd"].post("/_dash-update-component" + query, json=body, headers=SAME_ORIGIN)
        assert_bilingual(r, 400, "zh")


def test_every_dash_route_has_a_decision(web):
    """A route Dash adds in a later version is decided here, not served with any query by default."""
    server = web["app"].server
    prefix = web["app"].config.routes_pathname_prefix
    for rule in server.url_map.iter_rules():
        if rule.rule in ("/", "/<path:path>"):  # the pages: their layouts' names (security.layout_query_params)
            continue
        assert web_module.route_query_params(server, rule.endpoint, prefix) is not None, rule.rule


# ---- 2. /healthz answers a probe's query -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        "?x=1",
        "?probe=lb-3&probe=lb-4",
        "?lang=xx",
        "?%3Cscript%3Ealert(1)%3C/script%3E=%3Cb%3Eecho-me%3C/b%3E",
        "?ts=" + "9" * 3000,
        "?%ff=%fe",
    ],
)
def test_healthz_answers_any_query_and_never_echoes_it(web, query):
    for client in (web["app"].server.test_client(), web["gd"]):
        bare = client.get("/healthz")
        r = client.get("/healthz" + query)
        assert r.status_code == bare.status_code and r.status_code in (200, 503), (query, r.status_code)
        assert r.get_json() == bare.get_json()
        text = r.get_data(as_text=True)
        for name, value in parse_qsl(urlsplit(query).query, keep_blank_values=True):
            for echoed in (name, value):
                assert len(echoed) < 3 or echoed not in text, (query, text)
        assert "echo-me" not in text and "script" not in text


# ---- 3. no route answers 500, to any role ----------------------------------------------------------------------------
# The shared app's hand-made snapshot lacked columns publish writes: the report PDF, the rankings callback and the
# comparison and profile pages answered 500 there (now the fixture is built to the published shape:
# tests/test_snapshot_schema.py). Any 500 is a fault, so every route is walked, as every role and anonymously.
ROLES = (("national", None), ("province", "44"), ("viewer", None), ("evaluator", None))
# a sample value for each name a page or route reads (the rest of a page's names are tried alone with "x")
SAMPLE = {"year": "2024", "unit": "440300", "city": "440300", "units": "440300", "province": "44", "lang": "en"}


def _walk_urls(web) -> list[str]:
    import dash

    from dashboards import security

    urls = [
        "/report.pdf?year=2024",
        "/report.pdf?year=2024&city=440300&lang=en",
        "/report.pdf?year=2024&city=110100",
        "/download/extract?year=2024&province=44",
        "/download/extract?year=2024&province=11",
    ]
    for page in dash.page_registry.values():
        path = page["path"]
        names = sorted(security.layout_query_params(page["layout"]))
        urls.append(path)
        urls.append(path + "?" + "&".join(f"{n}={SAMPLE[n]}" for n in names if n in SAMPLE))
        urls += [f"{path}?{n}=x" for n in names if n not in SAMPLE]
    return urls


# each route of the app (by its rule) and the URL it is walked at; a route added later must be added here
RULE_URLS = {
    "/static/<path:filename>": ["/static/x.js"],
    "/assets/<path:filename>": ["/assets/style.css", "/assets/none.css"],
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": [
        "BUNDLE",
        "/_dash-component-suites/dash/x.js",
    ],
    "/_dash-layout": ["/_dash-layout"],
    "/_dash-dependencies": ["/_dash-dependencies"],
    "/_dash-update-component": [],  # walked with every page's router callback below
    "/_reload-hash": ["/_reload-hash"],
    "/_favicon.ico": ["/_favicon.ico"],
    "/": ["/"],
    "/<path:path>": ["/no-such-page"],  # and every page (_walk_urls)
    "/dossiers/<path:filename>": ["/dossiers/440300_2024.html", "/dossiers/x"],
    "/download/extract": ["/download/extract?year=2024&province=44"],
    "/extracts/<path:relpath>": ["/extracts/44/2024/x.csv"],
    "/favicon.ico": ["/favicon.ico"],
    "/healthz": ["/healthz"],
    "/geo/topojson/<name>.json": ["/geo/topojson/china.json", "/geo/topojson/none.json"],
    "/geo/<name>.json": ["/geo/provinces.json", "/geo/none.json"],
    "/report.pdf": ["/report.pdf?year=2024"],
    "/login": ["/login", "/login?next=/rankings"],
    "/logout": ["/logout"],
    "/account/password": ["/account/password"],
}


def test_every_route_is_walked(web):
    rules = {rule.rule for rule in web["app"].server.url_map.iter_rules()}
    assert rules == set(RULE_URLS), rules ^ set(RULE_URLS)


def test_no_route_answers_500_to_any_role(web):
    from dashboard_http import page_body, signed_in_client

    clients = {"anonymous": web["app"].server.test_client()}
    for role, province in ROLES:
        clients[role] = signed_in_client(web["app"], web["store"], f"walk_{role}", role, province)
    bundle = _bundle(web)
    routes = [u.replace("BUNDLE", bundle) for us in RULE_URLS.values() for u in us]
    pages = _walk_urls(web)
    failed = []
    # (503 is the one 5xx a route may say: no snapshot published yet)
    for who, client in clients.items():
        for url in routes + pages:
            # a page is opened by a browser (HTML); a route is also fetched by a script and posted to
            tries = (("get", HTML),) if url in pages else (("get", HTML), ("get", {}), ("post", SAME_ORIGIN))
            for method, headers in tries:
                r = getattr(client, method)(url, headers=headers)
                if r.status_code >= 500 and r.status_code != 503:
                    failed.append((who, method, url, r.status_code))
            if who != "anonymous" and url in pages:
                path, _, query = url.partition("?")
                body = page_body(path, "?" + query if query else "")
                r = client.post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
                if r.status_code >= 500:
                    failed.append((who, "router", url, r.status_code))
    assert not failed, failed
