"""The running dashboard the security reviews attack (rounds 10 onward): a small hand-made snapshot, an accounts
store, a session key, dossier and extract folders, all in one temporary folder, and a Guangdong provincial account
signed in. One builder, so each round's module fixture is one line and every round attacks the same app."""

from __future__ import annotations

import re

CJK = re.compile(r"[\u3400-\u9fff]")
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def attack_web(tmp_path_factory, name: str, province_user: str, last_year: int = 2024) -> dict:
    """``{"app", "store", "base", "snapshot", "gd"}``: the app over its own folder ``name`` and ``gd``, a test
    client signed in as ``province_user`` (Guangdong's office, province 44)."""
    from dashboard_fixtures import build_snapshot
    from dashboard_http import signed_in_client

    from dashboards.app import create_app

    base = tmp_path_factory.mktemp(name)
    snap = build_snapshot(base / "published" / "a.snapshot.duckdb", last_year=last_year)
    store = base / "access" / "users.sqlite"
    app = create_app(
        snap,
        user_store=store,
        secret_key_file=base / "access" / "secret_key",
        dossier_dir=base / "dossiers",
        extracts_dir=base / "extracts",
    )
    gd = signed_in_client(app, store, province_user, "province", "44")
    return {"app": app, "store": store, "base": base, "snapshot": snap, "gd": gd}


def hold_every_slot(slots, account: str, kind: str) -> list:
    """What a script's parallel requests hold while they run (dashboards.busy): every running slot and every
    waiting place of ``account``'s ``kind`` of heavy work. Close the returned files to let them go."""
    spec = slots.kinds[kind]
    held = [slots._take_one(slots._files(account, kind, "run", spec.slots)) for _ in range(spec.slots)]
    held += [slots._take_one(slots._files(account, kind, "wait", spec.queue)) for _ in range(spec.queue)]
    assert all(held)
    return held


def first_line_lang(r) -> str:
    """The language a refusal says first (``web.refusal``: the page's language, then the other after " / ")."""
    first = r.get_data(as_text=True).partition(" / ")[0]
    return "zh" if CJK.search(first) else "en"


def assert_bilingual(r, status: int, lang: str) -> None:
    """``r`` is a refusal with ``status``, said in both languages, ``lang`` first, without a traceback."""
    text = r.get_data(as_text=True)
    assert r.status_code == status, (r.status_code, text[:300])
    _first, _, rest = text.partition(" / ")
    assert rest and CJK.search(text) and re.search(r"[A-Za-z]{4}", text), text  # both languages
    assert first_line_lang(r) == lang, text
    assert "Traceback" not in text
