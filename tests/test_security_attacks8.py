"""Attacks of the eighth review (branch h_access8: "provinces with their own access"), tried against the real parts:
the figure builders, the stores on disk, the app over HTTP. Each section says what was wrong; each of its tests
failed before its fix (the layout test of section 3 is a guard: nothing to fix, shown to stay so)."""

from __future__ import annotations

import os
import re
import stat

import polars as pl
import pytest

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
