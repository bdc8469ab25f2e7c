"""The download path checks permission first, on a small hand-made snapshot (fast; the live-sample version is in
test_dashboard_data): a denied user gets DownloadDenied and no extract is computed or cached for them, an
unknown format is refused, an allowed user gets the file for exactly the scope asked."""

from __future__ import annotations

import pytest
from dashboard_fixtures import build_snapshot

from dashboards import extracts as downloads
from dashboards.snapshot import Snapshot


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    s = Snapshot(build_snapshot(tmp_path_factory.mktemp("auth") / "a.snapshot.duckdb", last_year=2024))
    yield s
    s.close()


def test_denied_user_gets_nothing(snap, monkeypatch):
    asked = []

    def deny(user, province_code):
        asked.append((user, province_code))
        return False

    encoded = []
    monkeypatch.setattr(downloads, "authorize_download", deny)
    monkeypatch.setattr(downloads, "_encode", lambda *a: encoded.append(a))
    with pytest.raises(downloads.DownloadDenied):
        downloads.prepare_download(snap, "alice", 2024, "440000", "csv")
    assert asked == [("alice", "440000")] and encoded == []
    assert not [k for k in snap._cache if "download" in k]


def test_allowed_user_gets_the_scope_asked_and_bad_formats_are_refused(snap, monkeypatch):
    monkeypatch.setattr(downloads, "authorize_download", lambda user, province_code: province_code == "440000")
    f = downloads.prepare_download(snap, "bob", 2024, "440000", "csv")
    assert f.filename == "ipcity_indicators_2024_440000.csv" and f.rows > 0
    assert f.content.startswith(b"\xef\xbb\xbf")
    with pytest.raises(downloads.DownloadDenied):
        downloads.prepare_download(snap, "bob", 2024, None, "csv")  # all provinces: not allowed for bob
    with pytest.raises(ValueError, match="unknown format"):
        downloads.prepare_download(snap, "bob", 2024, "440000", "exe")
