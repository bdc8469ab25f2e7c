"""Calling Dash callbacks over HTTP the way the browser does (for server-level tests without a browser)."""

from __future__ import annotations


def callback_body(
    outputs: list[tuple[str, str]], inputs: list[tuple[str, str, object]], state: list[tuple[str, str, object]] = ()
) -> dict:
    if len(outputs) == 1:
        output = f"{outputs[0][0]}.{outputs[0][1]}"
        outputs_list = {"id": outputs[0][0], "property": outputs[0][1]}
    else:
        output = ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        outputs_list = [{"id": i, "property": p} for i, p in outputs]
    return {
        "output": output,
        "outputs": outputs_list,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"] if inputs else [],
    }


def rankings_body(year: int, lang: str = "zh") -> dict:
    return callback_body(
        [("rk-grid", "rowData"), ("rk-total", "data")],
        [
            ("rk-year", "value", year),
            ("rk-province", "value", None),
            ("rk-group", "value", None),
            ("rk-stage", "value", None),
            ("rk-programme", "value", ["programme"]),
        ],
        [("rk-lang", "data", lang)],
    )


def page_body(pathname: str, search: str = "") -> dict:
    """The pages router: returns the page layout for a URL."""
    return callback_body(
        [("_pages_content", "children"), ("_pages_store", "data")],
        [("_pages_location", "pathname", pathname), ("_pages_location", "search", search)],
    )


# ---- signed-in clients (the dashboard requires an account; tests create theirs in their own temp store) ----------
TEST_PASSWORD = "correct horse battery staple"


def add_account(store_path, username: str, role: str = "national", province: str | None = None) -> str:
    """Create an account in the users store at ``store_path`` (the same store `ipcity users add` writes)."""
    from dashboards.auth import UserStore

    store = UserStore(store_path)
    if store.get(username) is None:
        store.add(username, TEST_PASSWORD, role, province)
    return TEST_PASSWORD


def login(client, username: str, password: str = TEST_PASSWORD, next_url: str = "/"):
    """Sign in through the real form (CSRF token from the page); returns the POST response."""
    import re

    page = client.get(f"/login?next={next_url}").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf": token, "next": next_url})


def signed_in_client(app, store_path, username: str = "national_test", role: str = "national", province=None):
    add_account(store_path, username, role, province)
    client = app.server.test_client()
    r = login(client, username)
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return client


def login_session(url: str, username: str, password: str = TEST_PASSWORD):
    """A ``requests.Session`` signed in to a running dashboard at ``url``."""
    import re

    import requests

    s = requests.Session()
    page = s.get(url + "/login", timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = s.post(
        url + "/login",
        data={"username": username, "password": password, "csrf": token, "next": "/"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302, r.text[:300]
    return s


def form_token(client, path: str = "/logout") -> str:
    """The session's form token, as a page with a form carries it (the sign-out page by default)."""
    import re

    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def logout(client, **kwargs):
    """Sign out through the real form (the session's form token from the sign-out page)."""
    return client.post("/logout", data={"csrf": form_token(client)}, **kwargs)
