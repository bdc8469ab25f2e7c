"""Attacks of the fourteenth review (branch h_access14: "provinces with their own access"), against the running
dashboard over HTTP (the shared app of tests/security_fixtures.py). Each test failed before its fix.

1. Dash's own routes took any query: ``/_dash-layout?x=1``, ``/_dash-dependencies?x=1``, a callback POSTed to
   ``/_dash-update-component?x=1``, a bundle with ``?m=1`` or ``?v=1`` and the icon with any name were served as if
   the query were not there, where every other route refuses a name it does not read. Now each of Dash's routes
   reads what Dash itself sends it (web.DASH_ROUTE_QUERY: ``lang``; a callback the renderer's ``endId``, an asset
   its ``?m=``, the icon its ``?v=``), and the rest is a 400 in both languages; what the pages link still loads.
2. ``/healthz`` refused a load balancer probe's own query (400, round 13): the probe, whose query the deployment
   does not choose, read a healthy dashboard as down. Now it answers its status to any query, and never echoes it.
3. The shared app's hand-made snapshot lacked columns publish writes (a 500 on the report PDF, the rankings
   callback, the compare and profile pages): built to the published shape now; every route is walked as every role.
4. A Range the file routes do not serve (two ranges, another unit, malformed) was a 416 with no file; it is ignored
   (RFC 9110 §14.2) and the whole file sent; a range past the end says the file's length (Content-Range: bytes */N).
5. The sign-in limits and lockouts counted each IPv6 address apart: one host's /64 made each guess from a fresh
   address, and an official's rotating privacy address was never "known". An IPv6 address counts by its /64 now.
6. Over TLS the session cookie was named as over HTTP, so a sibling host of the site could set it for the parent
   domain (the attacker's own session); it is ``__Host-ipcity_session`` there now, which only this host can set.

Tried and found holding (guards above or in earlier rounds): a province's forged callback carrying another
province's code in each input and state of every callback (refused, or the published ranking only); sign-in
``next=`` to another site (every form tried lands on a local path); a province listing or taking another's extract.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

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


def test_a_callback_posted_as_the_renderer_posts_it_is_answered(web):
    """Dash 4's renderer posts every callback to ``/_dash-update-component?endId=<the page config's end_id>``: the
    first version of this fix refused it and every page stayed blank in the browser (tests/e2e caught it)."""
    import json

    html = web["gd"].get("/", headers=HTML).get_data(as_text=True)
    config = json.loads(re.search(r'id="_dash-config" type="application/json">([^<]+)<', html).group(1))
    assert config.get("end_id")
    url = "/_dash-update-component?" + urlencode({"endId": config["end_id"]})
    r = web["gd"].post(url, json=rankings_body(2024), headers=SAME_ORIGIN)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    twice = url + "&" + urlencode({"endId": config["end_id"]})
    assert_bilingual(web["gd"].post(twice, json=rankings_body(2024), headers=SAME_ORIGIN), 400, "zh")


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


# ---- 4. a download's Range is served as the RFC says -------------------------------------------------------------------
# Werkzeug answered every Range it does not serve (two ranges, another unit, a malformed header) with 416: a download
# manager asking for two parts of an extract, or a proxy's odd header, got no file at all. RFC 9110 §14.2: such a
# Range is ignored and the whole file sent. And the one 416 left (a range past the end) lost Werkzeug's
# "Content-Range: bytes */N" to the bilingual refusal, so a resumed download could not learn where the file ends.
@pytest.fixture(scope="module")
def extract_urls(web):
    from pipelines import extracts

    extracts.write_all(web["snapshot"], web["base"] / "extracts", provinces=["440000", "320000"], years=[2024])
    own = extracts.list_versions(web["base"] / "extracts", ["440000"])
    other = extracts.list_versions(web["base"] / "extracts", ["320000"])
    csv = [f["path"] for f in own[0]["files"] if f["format"] == "csv"][0]
    return {"own": "/extracts/" + csv, "other": "/extracts/" + other[0]["files"][0]["path"]}


@pytest.mark.parametrize("value", ["bytes=0-0,5-9", "bytes=0-9, 20-29", "items=0-9", "bytes=abc", "bytes=9-2"])
def test_a_range_the_routes_do_not_serve_is_ignored(web, extract_urls, value):
    whole = web["gd"].get(extract_urls["own"])
    assert whole.status_code == 200
    r = web["gd"].get(extract_urls["own"], headers={"Range": value})
    assert r.status_code == 200 and r.data == whole.data, (value, r.status_code)


def test_a_range_past_the_end_says_the_length(web, extract_urls):
    size = len(web["gd"].get(extract_urls["own"]).data)
    r = web["gd"].get(extract_urls["own"], headers={"Range": f"bytes={size + 10}-"})
    assert_bilingual(r, 416, "zh")
    assert r.headers["Content-Range"] == f"bytes */{size}"


def test_a_part_of_a_file_and_if_range(web, extract_urls):
    """guard: one range is a 206; If-Range with another file version's tag is the whole file; another province's
    file is refused whatever Range or If-Range asks."""
    gd, url = web["gd"], extract_urls["own"]
    whole = gd.get(url)
    part = gd.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.data == whole.data[:10]
    assert gd.get(url, headers={"Range": "bytes=0-9", "If-Range": whole.headers["ETag"]}).status_code == 206
    stale = gd.get(url, headers={"Range": "bytes=0-9", "If-Range": '"another-version"'})
    assert stale.status_code == 200 and stale.data == whole.data
    for headers in ({"Range": "bytes=0-9"}, {"Range": "bytes=0-0,1-1"}, {"Range": "bytes=0-9", "If-Range": "x"}):
        assert gd.get(extract_urls["other"], headers=headers).status_code == 403


def test_a_province_lists_only_its_own_extracts(web, extract_urls):
    """guard: the downloads page of Guangdong's office links Guangdong's files, never Jiangsu's."""
    from dashboard_http import page_body

    r = web["gd"].post("/_dash-update-component", json=page_body("/downloads"), headers=SAME_ORIGIN)
    text = r.get_data(as_text=True).replace("\\u002f", "/")
    assert r.status_code == 200 and "/extracts/44/2024/" in text
    assert "/extracts/32/" not in text


# ---- 5. the sign-in limits count an IPv6 host, not each of its addresses -----------------------------------------------
# Counted per address, a host holding a /64 (every IPv6 customer's smallest assignment) sent each guess from a fresh
# address: the per-address sign-in limit (10 a minute) and the per-account-and-address lockout (10 failures) never
# held. And an official's own IPv6 address changes within its /64 by itself (privacy addresses), so the address they
# signed in from was not "known" the next day: with guesses from elsewhere over the account's bound, they were locked
# out. Now an IPv6 address counts by its /64 (auth.address_key); IPv4 as before.
def _store(tmp_path):
    from dashboards import auth

    store = auth.UserStore(tmp_path / "users.sqlite")
    store.add("chief14", "plum orchard lantern 7", "national")
    return store


def test_guesses_from_one_ipv6_host_lock_the_account_there(tmp_path):
    from dashboards import auth

    store = _store(tmp_path)
    for n in range(auth.MAX_FAILURES):
        assert store.authenticate("chief14", "wrong guess", f"2001:db8:7:1::{n + 1:x}") is None
    assert store.locked("chief14", "2001:db8:7:1:ffff::9")  # another address of the same /64
    assert not store.locked("chief14", "2001:db8:7:2::1")  # another network
    assert not store.locked("chief14", "203.0.113.7")


def test_an_official_whose_ipv6_address_changed_is_still_known(tmp_path, monkeypatch):
    from dashboards import auth

    monkeypatch.setattr(auth, "MAX_ACCOUNT_FAILURES", 15)  # the bound's size is not the subject (argon2 is slow)
    store = _store(tmp_path)
    assert store.authenticate("chief14", "plum orchard lantern 7", "2001:db8:44::1a2b") is not None
    for n in range(auth.MAX_ACCOUNT_FAILURES):  # a stranger's guesses from many networks
        store.authenticate("chief14", "wrong guess", f"198.51.{n // 250}.{n % 250 + 1}")
    assert store.locked("chief14", "203.0.113.99")  # the account is locked for a new address...
    # ...but not for the official, whose privacy address rotated within the office's /64
    assert store.authenticate("chief14", "plum orchard lantern 7", "2001:db8:44::9f31:7") is not None


def test_the_sign_in_form_limit_counts_an_ipv6_host(web):
    client = web["app"].server.test_client()
    statuses = []
    for n in range(12):
        client.environ_base["REMOTE_ADDR"] = f"2001:db8:99:5::{n + 1:x}"
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = client.post("/login", data={"username": f"nobody{n}", "password": "wrong guess 1", "csrf": token})
        statuses.append(r.status_code)
    assert 429 in statuses, statuses
    client.environ_base["REMOTE_ADDR"] = "2001:db8:99:6::1"  # another network: its own allowance
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "x1", "password": "wrong", "csrf": token}).status_code == 401


@pytest.mark.parametrize(
    ("given", "counted"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
        (None, None),
    ],
)
def test_the_address_a_limit_counts(given, counted):
    from dashboards import auth

    assert auth.address_key(given) == counted


# ---- 6. over TLS the session cookie is the host's own ------------------------------------------------------------------
# The cookie was "ipcity_session" over TLS too: a sibling host of the same site (another server under the same parent
# domain) can set a cookie of that name for the parent domain, which the browser then sends here, and the app read
# it: an official's browser given the attacker's signed-in session worked in the attacker's account unawares (what
# they saved, the scenarios and silences, went there). Over TLS the cookie is "__Host-ipcity_session" now, which a
# browser keeps only from this host itself (Secure, Path=/, no Domain); the bare name is not read there.
HTTPS = "https://ipcity.example.gov.cn"


def _sign_in_over_tls(client, username: str):
    from dashboard_http import TEST_PASSWORD

    page = client.get("/login", base_url=HTTPS).get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": TEST_PASSWORD, "csrf": token}, base_url=HTTPS)


def _client_from(web, address: str):
    """A browser of its own address: the module's other sign-ins come from 127.0.0.1, and the per-address sign-in
    limit (429) counted them against these tests' sign-ins on a fast machine (a CI failure, 429 for 302)."""
    client = web["app"].server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_over_tls_the_session_cookie_is_the_hosts_own(web):
    from dashboard_http import add_account

    add_account(web["store"], "tls14", "province", "44")
    client = _client_from(web, "192.0.2.61")
    r = _sign_in_over_tls(client, "tls14")
    assert r.status_code == 302
    cookie = next(c for c in r.headers.getlist("Set-Cookie") if "session=" in c)
    assert cookie.startswith("__Host-ipcity_session=")
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= flags and "domain" not in flags
    assert "SameSite=Lax" in cookie and "Path=/;" in cookie + ";"
    assert client.get("/rankings", base_url=HTTPS, headers={"Accept": "text/html"}).status_code == 200


def test_a_cookie_a_sibling_host_set_is_not_read_over_tls(web):
    from dashboard_http import add_account

    add_account(web["store"], "attacker14", "province", "44")
    attacker = _client_from(web, "192.0.2.62")
    _sign_in_over_tls(attacker, "attacker14")
    host = "ipcity.example.gov.cn"
    value = (
        attacker.get_cookie("__Host-ipcity_session", domain=host) or attacker.get_cookie("ipcity_session", domain=host)
    ).value
    victim = _client_from(web, "192.0.2.63")
    # what the sibling host set for the parent domain, sent by the browser with every request here
    victim.set_cookie("ipcity_session", value, domain="ipcity.example.gov.cn")
    r = victim.get("/rankings", base_url=HTTPS, headers={"Accept": "text/html"})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login"), r.status_code
    # over plain HTTP (a developer's machine) the bare name is the session cookie still
    plain = _client_from(web, "192.0.2.64")
    from dashboard_http import login

    assert login(plain, "attacker14").status_code == 302 and plain.get_cookie("ipcity_session") is not None
