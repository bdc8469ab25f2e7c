"""The download path checks permission first, on a small hand-made snapshot (fast; the live-sample version is in
test_dashboard_data), through the one permission function dashboards.access.authorize: a denied user gets DownloadDenied and no extract is computed or cached for them, an
unknown format is refused, an allowed user gets the file for exactly the scope asked."""

from __future__ import annotations

import pytest
from dashboard_fixtures import build_snapshot

from dashboards import access, extracts
from dashboards.snapshot import Snapshot


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    s = Snapshot(build_snapshot(tmp_path_factory.mktemp("auth") / "a.snapshot.duckdb", last_year=2024))
    yield s
    s.close()


def test_denied_user_gets_nothing(snap, monkeypatch):
    # the real permission function (dashboards.access.authorize): a province account asks for another province
    encoded = []
    monkeypatch.setattr(extracts, "_encode", lambda *a: encoded.append(a))
    alice = access.Principal("alice", "province", "320000")
    with pytest.raises(extracts.DownloadDenied):
        extracts.prepare_download(snap, alice, 2024, "440000", "csv")
    assert encoded == []
    assert not [k for k in snap._cache if "download" in k]


def test_allowed_user_gets_the_scope_asked_and_bad_formats_are_refused(snap):
    bob = access.Principal("bob", "province", "440000")
    f = extracts.prepare_download(snap, bob, 2024, "440000", "csv")
    assert f.filename == "ipcity_indicators_2024_440000.csv" and f.rows > 0
    assert f.content.startswith(b"\xef\xbb\xbf")
    with pytest.raises(extracts.DownloadDenied):
        extracts.prepare_download(snap, bob, 2024, None, "csv")  # all provinces: not allowed for a province
    with pytest.raises(ValueError, match="unknown format"):
        extracts.prepare_download(snap, bob, 2024, "440000", "exe")
