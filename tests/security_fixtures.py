"""The running dashboard the security reviews attack (rounds 10 onward): a small hand-made snapshot, an accounts
store, a session key, dossier and extract folders, all in one temporary folder, and a Guangdong provincial account
signed in. One builder, so each round's module fixture is one line and every round attacks the same app."""

from __future__ import annotations

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
