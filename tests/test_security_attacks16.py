"""Attacks of the sixteenth review (branch h_access16: "provinces with their own access"), against the running
dashboard over HTTP (the shared app of tests/security_fixtures.py; a real HTTP server over the same app where the
transport matters). Each test failed before its fix, unless marked "guard" (an attack that already failed, kept
failing).

1. Every signed-in account was sent Dash's whole callback list (``/_dash-dependencies``): a viewer or a provincial
   office learnt each national-only control (the alerts page's acknowledge and silence, the simulator's save and
   export, the quality page's run picker, the targets and province pages) with the ids and properties of every
   input and state it takes: a map of what to forge. The gate refused each of them (tried: every such callback,
   posted with values of the right shape by each role, is a 403 — the guard below), but the list is now the
   account's own: the callbacks whose outputs its role may have updated, by the gate's own rule
   (access.output_refusal). The national office still gets every one; each page's own callbacks are still sent.
2. A request body sent in chunks (``Transfer-Encoding: chunked``, no Content-Length) was read by Werkzeug only up
   to the size limit and then cut without a word: a 3 MB callback body reached the gate cut at 1 MiB, was no JSON,
   and was answered as a forbidden callback (403, and a "no access" row in the audit log) where the same body with
   its length stated is a 413. A chunked body is now read to the limit and one byte more and handed on with its
   length, so the limit holds for it as for any other (413, both languages); a chunked body within the limit is
   answered as before.
3. A pattern-matching callback (the simulator's rule and pillar inputs, ``{"type": "sim-rule", "key": …}``) took
   any id part and any ``id`` State the body carried: a list or an object as a key, or text in a pillar weight (a
   number input), was a 500 and a traceback. Now an id holds the parts a page lays out (text, a number, a boolean),
   an ``id`` State is the component's own id, and a number input's value is a number (400, both languages).
4. Another method than POST on the callback route (PUT, DELETE, PATCH) was checked as a callback with no body: a 403
   and a "no access" audit row. It is a 405 with its Allow header, as on every route.
5. No response said Cross-Origin-Opener-Policy or Cross-Origin-Resource-Policy (flask-talisman sets neither): a page
   of another site that opened the dashboard kept a handle on its window (to navigate it to a look-alike sign-in
   form while the official read it, or to probe what it shows), and could load any response as its own resource.
   Every response now says ``same-origin`` to both.
6. The downloads page's callbacks took the province as it came, where the download route reads '44' or '440000':
   '44' previewed no row (the link beside it, read by the route, gave Guangdong's file), a provincial office's own
   '44' was refused, and any other text (the national office's) was encoded and kept as one more empty file. They
   now read it as the route does (downloads.parse_scope): permission first, then text that is no code a 400 and
   a code of no province a 404.

Tried and found holding (no change): a provincial account's session after its password was changed on another
device, or after its province was moved (the next request goes to the sign-in form); a sign-in post without the
session's form token (400); ``next=`` as ``//host``, ``/\\host``, ``%2F%2Fhost``, ``javascript:``, ``http://``,
``///host``, a tab, an ideographic space, an encoded line break (the sign-in goes to ``/`` or stays on this site);
X-Frame-Options, nosniff, a frame-ancestors policy and no-store on the error pages (401, 403, 404, 405, 413, 414)
and the downloads; the assets route with ``..``, ``%2e%2e``, ``%2f``, ``%5c`` and a NUL byte; every markdown cell
escapes its data; a chunked callback body within the limit under gunicorn.
Decided and left: an extract's ETag carries its modification time and size (Werkzeug's, the same as its
Last-Modified header, of a file only the province's own accounts may take; resumable downloads use it), and a
request for several ranges gets the whole file (RFC 9110 §14.2 lets a server ignore a Range, round 14).
"""

from __future__ import annotations

import base64
import json
import threading

import pytest
from dashboard_http import add_account, callback_body, login_session, rankings_body, signed_in_client
from security_fixtures import SAME_ORIGIN, attack_web
from werkzeug.serving import make_server

from dashboards import security
from dashboards.auth import UserStore


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    w = attack_web(tmp_path_factory, "attacks16", "gd16")
    app, store = w["app"], w["store"]
    w["viewer"] = signed_in_client(app, store, "viewer16", "viewer")
    w["evaluator"] = signed_in_client(app, store, "evaluator16", "evaluator")
    w["national"] = signed_in_client(app, store, "national16", "national")
    return w


# ---- 1. each account is sent the callbacks it may call, and no other ----------------------------------------------
# the component-id prefixes of the pages open to the national office alone (alerts, quality, targets, programmes,
# province roll-up, simulator) and of a pattern-matching id (the simulator's rule and weight inputs)
NATIONAL_ONLY = ("al-", "dq-", "tg-", "pg-", "pv-", "sim-", "{")
CITY_PAGES = ("pf-", "cmp-", "wl-", "dl-")
EVERY_ROLE = ("ipc-", "_pages_", "ov-", "rk-")


def listed(client) -> list[dict]:
    r = client.get("/_dash-dependencies")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return r.get_json()


def output_ids(key: str) -> list[str]:
    """The component ids of a callback's ``output`` string ('a.b', '..a.b...c.d..', 'a.b@hash')."""
    return [part.rsplit(".", 1)[0] for part in key.strip(".").split("...") if part]


def outputs_of(entries: list[dict]) -> set[str]:
    return {i for e in entries for i in output_ids(e["output"])}


def test_the_national_office_is_sent_every_callback(web):
    assert listed(web["national"]) == json.loads(json.dumps(web["app"]._callback_list))


@pytest.mark.parametrize(
    "who, open_prefixes",
    [("gd", EVERY_ROLE + CITY_PAGES), ("viewer", EVERY_ROLE), ("evaluator", EVERY_ROLE)],
)
def test_an_account_is_sent_only_the_callbacks_of_pages_open_to_it(web, who, open_prefixes):
    ids = outputs_of(listed(web[who]))
    assert not [i for i in ids if i.startswith(NATIONAL_ONLY)], sorted(ids)
    assert all(i.startswith(open_prefixes) for i in ids), sorted(ids)
    # and every callback of the pages it opens (clientside ones too: a page's URL state), none left out
    every = outputs_of(web["app"]._callback_list)
    assert ids == {i for i in every if i.startswith(open_prefixes)}


def _shaped(key: str):
    """A value of the shape the gate expects at ``key`` (security.CALLBACK_VALUES), naming the account's own
    province or city where a code is read."""
    shape = security.CALLBACK_VALUES[key]
    name = getattr(shape, "__name__", "")
    if name.startswith("one of "):
        return name[len("one of ") :].split(", ")[0]
    return {
        "year_value": 2024,
        "clicks_value": 1,
        "count_value": 1,
        "text_value": None,
        "lang_value": "zh",
        "code_value": "440300",
        "codes_value": ["440300", "440100"],
        "token_value": None,
        "record_value": {},
        "records_value": [],
        "path_value": "/",
        "search_value": "",
        "scalar_value": None,
        "scalars_value": None,
        "texts_value": None,
    }[name]


def _body(key: str, entry: dict) -> dict:
    def items(declared):
        out = []
        for d in declared:
            if d["id"].startswith("{"):  # a pattern-matching input: the list of its components (none here)
                out.append([])
            else:
                out.append({"id": d["id"], "property": d["property"], "value": _shaped(f"{d['id']}.{d['property']}")})
        return out

    parts = [{"id": i, "property": p.split("@")[0]} for i, p in (o.rsplit(".", 1) for o in key.strip(".").split("..."))]
    return {
        "output": key,
        "outputs": parts if key.startswith("..") else parts[0],
        "inputs": items(entry["inputs"]),
        "state": items(entry["state"]),
        "changedPropIds": [f"{entry['inputs'][0]['id']}.{entry['inputs'][0]['property']}"],
    }


@pytest.mark.parametrize(
    "who, closed_prefixes",
    [("gd", NATIONAL_ONLY), ("viewer", NATIONAL_ONLY + CITY_PAGES), ("evaluator", NATIONAL_ONLY + CITY_PAGES)],
)
def test_guard_every_callback_of_a_page_closed_to_an_account_is_refused_to_it(web, who, closed_prefixes):
    """Guard (held before): a callback of a page closed to the account (what it is no longer sent) cannot be called
    by it either. Each such server callback, posted by the account with values of the right shape (its own
    province's codes), is a 403; posted by the national office, the same body is answered."""
    closed = {
        k: v
        for k, v in web["app"].callback_map.items()
        if "callback" in v and any(i.startswith(closed_prefixes) for i in output_ids(k))
    }
    assert len(closed) >= 8
    for key, entry in closed.items():
        body = _body(key, entry)
        r = web[who].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
        assert r.status_code == 403, (who, key, r.status_code, r.get_data(as_text=True)[:200])
        if not any(isinstance(i, list) for i in body["state"]):  # (the simulator's run needs its rule inputs)
            r = web["national"].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
            assert r.status_code in (200, 204), (key, r.status_code, r.get_data(as_text=True)[:200])


# ---- 2. a chunked body is held to the size limit as a body of stated length ------------------------------------------
@pytest.fixture(scope="module")
def live(web):
    """The module's app behind Werkzeug's own HTTP server (it de-chunks a request body as gunicorn does)."""
    server = make_server("127.0.0.1", 0, web["app"].server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    add_account(web["store"], "gd16live", "province", "44")
    yield url, login_session(url, "gd16live")
    server.shutdown()
    thread.join(10)


def _chunks(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        yield data[i : i + size]


JSON_POST = {**SAME_ORIGIN, "Content-Type": "application/json"}


def test_a_chunked_body_over_the_limit_is_too_large_not_forbidden(live):
    url, s = live
    big = json.dumps({**rankings_body(2024), "padding": "x" * (3 * security.MAX_CONTENT_LENGTH)}).encode()
    r = s.post(url + "/_dash-update-component", data=_chunks(big), headers=JSON_POST, timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert "内容过大" in r.text and "too large" in r.text and "Traceback" not in r.text
    # just over the limit too (the limit and one byte more is what is read)
    edge = b" " * (security.MAX_CONTENT_LENGTH + 1)
    r = s.post(url + "/_dash-update-component", data=_chunks(edge, 7000), headers=JSON_POST, timeout=60)
    assert r.status_code == 413, (r.status_code, r.text[:300])


def test_a_chunked_body_within_the_limit_is_answered_as_a_sized_one(live):
    url, s = live
    body = json.dumps(rankings_body(2024)).encode()
    sized = s.post(url + "/_dash-update-component", data=body, headers=JSON_POST, timeout=60)
    chunked = s.post(url + "/_dash-update-component", data=_chunks(body, 1000), headers=JSON_POST, timeout=60)
    assert sized.status_code == chunked.status_code == 200
    assert chunked.json() == sized.json()
    # at the limit exactly: read whole (valid JSON padded with blanks to the limit), not refused as too large
    padded = body + b" " * (security.MAX_CONTENT_LENGTH - len(body))
    r = s.post(url + "/_dash-update-component", data=_chunks(padded), headers=JSON_POST, timeout=60)
    assert r.status_code == 200, (r.status_code, r.text[:300])


# ---- 3. a pattern-matching id and a number input hold the shapes a page lays out --------------------------------------
def _simulator_body(key: str, trigger: str, rules: list[tuple], weights: list[tuple], saved: str | None = None) -> dict:
    """The simulator's one callback (run, save, open, compare; its output string ``key``) as the renderer posts it:
    ``rules`` and ``weights`` are (id part, value) of its pattern-matching inputs; an item's ``id`` property carries
    its own id."""

    def pattern(kind, parts, prop):
        return [
            {
                "id": {"type": kind, "key": k},
                "property": prop,
                "value": v if prop == "value" else {"type": kind, "key": k},
            }
            for k, v in parts
        ]

    outputs = []
    for part in key.strip(".").split("..."):
        cid, prop = part.rsplit(".", 1)
        if cid.startswith("{"):
            kind = json.loads(cid)["type"]
            outputs.append(pattern(kind, rules if kind == "sim-rule" else weights, "value"))
        else:
            outputs.append({"id": cid, "property": prop})
    clicks = ("sim-run", "sim-save", "sim-open", "sim-compare")
    return {
        "output": key,
        "outputs": outputs,
        "inputs": [{"id": c, "property": "n_clicks", "value": 1 if c == trigger else None} for c in clicks],
        "state": [
            {"id": "sim-name", "property": "value", "value": None},
            {"id": "sim-saved", "property": "value", "value": saved},
            {"id": "sim-compare-with", "property": "value", "value": None},
            {"id": "sim-result", "property": "data", "value": None},
            pattern("sim-rule", rules, "value"),
            pattern("sim-rule", rules, "id"),
            pattern("sim-weight", weights, "value"),
            pattern("sim-weight", weights, "id"),
            {"id": "sim-lang", "property": "data", "value": "zh"},
        ],
        "changedPropIds": [f"{trigger}.n_clicks"],
    }


@pytest.fixture(scope="module")
def simulator(web):
    """The national office (the simulator's one role) and the simulator callback's output string."""
    return web["national"], next(k for k in web["app"].callback_map if "sim-status" in k)


@pytest.mark.parametrize(
    "rules, weights",
    [
        ([(["R2.regress_points"], 5)], []),  # a list as the id's part
        ([({"a": 1}, 5)], []),  # an object
        ([], [(["MGT"], 0.3)]),
        ([], [("MGT", "abc")]),  # text in a number input
        ([], [("MGT", "0.3")]),
    ],
)
def test_a_forged_pattern_id_or_number_is_a_400_not_a_server_error(simulator, rules, weights):
    client, key = simulator
    r = client.post(
        "/_dash-update-component", json=_simulator_body(key, "sim-run", rules, weights), headers=SAME_ORIGIN
    )
    text = r.get_data(as_text=True)
    assert r.status_code == 400, (r.status_code, text[:300])
    assert "Traceback" not in text


def test_an_id_state_that_is_not_its_components_own_id_is_refused(simulator):
    client, key = simulator
    body = _simulator_body(key, "sim-open", [("R2.regress_points", 5.0)], [], saved="nothing-saved")
    body["state"][5][0]["value"] = {"type": "sim-rule", "key": "R9.anything"}  # another id than the component's
    r = client.post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
    assert r.status_code == 400, r.get_data(as_text=True)[:300]


def test_the_simulator_still_answers_the_ids_and_numbers_its_page_lays_out(simulator):
    rules = [("R2.regress_points", 5.0), ("X1.enabled", 1.0), ("EX1.min_group", "leader")]
    weights = [("MGT", 0.2), ("PRO", None), ("UTL", 1)]
    client, key = simulator
    body = _simulator_body(key, "sim-open", rules, weights, saved="nothing-saved")
    r = client.post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert "sim-status" in r.get_json()["response"]


# ---- 4. another method on the callback route is a 405, as on every route -----------------------------------------
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_another_method_on_the_callback_route_is_405_not_a_refused_callback(web, method):
    store = UserStore(web["store"])
    before = len(store.audit_rows(100_000))
    # (no body, as a probe or a misdirected script sends; a body the gate would pass made no difference)
    r = web["gd"].open("/_dash-update-component", method=method, headers=SAME_ORIGIN)
    assert r.status_code == 405, (r.status_code, r.get_data(as_text=True)[:200])
    assert "POST" in r.headers.get("Allow", "")
    assert "不接受这种请求方式" in r.get_data(as_text=True)
    # not written down as an account refused a callback it may not call
    assert len(store.audit_rows(100_000)) == before
    # the route still answers its callbacks
    assert web["gd"].post("/_dash-update-component", json=rankings_body(2024), headers=SAME_ORIGIN).status_code == 200


# ---- 5. every response keeps other sites' windows and pages out ---------------------------------------------------
def test_every_response_is_isolated_from_other_sites_windows_and_pages(web):
    anon = web["app"].server.test_client()
    html = {"Accept": "text/html"}
    answers = {
        "sign-in form": anon.get("/login"),
        "signed out": anon.get("/profile", headers=html),
        "asset": anon.get("/assets/style.css"),
        "health": anon.get("/healthz"),
        "page": web["gd"].get("/profile?unit=440300", headers=html),
        "refused page": web["gd"].get("/quality", headers=html),
        "unknown page": web["gd"].get("/nowhere", headers=html),
        "callback": web["gd"].post("/_dash-update-component", json=rankings_body(2024), headers=SAME_ORIGIN),
        "download": web["gd"].get("/download/extract?year=2024&province=44&fmt=csv"),
        "refused download": web["gd"].get("/download/extract?year=2024&province=32&fmt=csv"),
        "bundle list": web["gd"].get("/_dash-dependencies"),
    }
    for what, r in answers.items():
        assert r.headers.get("Cross-Origin-Opener-Policy") == "same-origin", (what, r.status_code)
        assert r.headers.get("Cross-Origin-Resource-Policy") == "same-origin", (what, r.status_code)
        assert r.headers.get("X-Frame-Options") == "DENY", what


# ---- 6. the downloads page's callbacks read a province as the download route does -----------------------------------
def _preview(province, year=2024):
    return callback_body(
        [("dl-preview", "columnDefs"), ("dl-preview", "rowData"), ("dl-count", "children"), ("dl-link", "href")],
        [("dl-year", "value", year), ("dl-province", "value", province), ("dl-format", "value", "csv")],
        [("dl-lang", "data", "en")],
    )


def _download(province, year=2024):
    return callback_body(
        [("dl-download", "data"), ("dl-status", "children")],
        [("dl-button", "n_clicks", 1)],
        [
            ("dl-year", "value", year),
            ("dl-province", "value", province),
            ("dl-format", "value", "csv"),
            ("dl-lang", "data", "en"),
        ],
    )


@pytest.mark.parametrize("who", ["national", "gd"])
def test_the_short_province_code_previews_and_downloads_what_the_route_gives(web, who):
    client = web[who]
    full = client.post("/_dash-update-component", json=_preview("440000"), headers=SAME_ORIGIN)
    short = client.post("/_dash-update-component", json=_preview("44"), headers=SAME_ORIGIN)
    assert full.status_code == short.status_code == 200, short.get_data(as_text=True)[:200]
    rows = short.get_json()["response"]["dl-preview"]["rowData"]
    assert rows and rows == full.get_json()["response"]["dl-preview"]["rowData"]
    assert short.get_json()["response"]["dl-link"]["href"] == full.get_json()["response"]["dl-link"]["href"]
    # the file the button gives is the one the link gives
    taken = client.post("/_dash-update-component", json=_download("44"), headers=SAME_ORIGIN)
    assert taken.status_code == 200, taken.get_data(as_text=True)[:200]
    sent = taken.get_json()["response"]["dl-download"]["data"]
    assert sent["filename"] == "ipcity_indicators_2024_440000.csv"
    route = client.get("/download/extract?year=2024&province=44&fmt=csv")
    assert base64.b64decode(sent["content"]) == route.get_data()


@pytest.mark.parametrize("province, status", [("abc", 400), ("x/../44", 400), ("99", 404), ("990000", 404)])
def test_a_province_that_is_none_is_said_so_not_an_empty_file(web, province, status):
    for body in (_preview(province), _download(province)):
        r = web["national"].post("/_dash-update-component", json=body, headers=SAME_ORIGIN)
        assert r.status_code == status, (province, r.status_code, r.get_data(as_text=True)[:200])
    # another province's, in either form, stays refused to a provincial office
    for other in ("32", "320000"):
        r = web["gd"].post("/_dash-update-component", json=_preview(other), headers=SAME_ORIGIN)
        assert r.status_code == 403
