"""The download path checks permission first, on a small hand-made snapshot (fast; the role matrix over HTTP is in
test_dashboard_access): a refused principal gets AccessDenied and no extract is computed or cached for it, an
unknown format is refused, an allowed principal gets the file for exactly the scope asked."""

from __future__ import annotations

import pytest
from dashboard_fixtures import build_snapshot

from dashboards import access, indicator_download
from dashboards.snapshot import Snapshot

GUANGDONG = access.Principal("gd", "province", "440000")
NATIONAL = access.Principal("nat", "national")
VIEWER = access.Principal("v", "viewer")


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    s = Snapshot(build_snapshot(tmp_path_factory.mktemp("auth") / "a.snapshot.duckdb", last_year=2024))
    yield s
    s.close()


@pytest.mark.parametrize(
    ("principal", "province"),
    [(GUANGDONG, "320000"), (GUANGDONG, None), (VIEWER, "440000"), (access.ANONYMOUS, "440000")],
)
def test_refused_principal_gets_nothing(snap, monkeypatch, principal, province):
    encoded = []
    monkeypatch.setattr(indicator_download, "_encode", lambda *a: encoded.append(a))
    with pytest.raises(access.AccessDenied):
        indicator_download.prepare_download(snap, principal, 2024, province, "csv")
    assert encoded == []
    assert not [k for k in snap._cache if "download" in k and province in k]


def test_allowed_principal_gets_the_scope_asked_and_bad_formats_are_refused(snap):
    f = indicator_download.prepare_download(snap, GUANGDONG, 2024, "440000", "csv")
    assert f.filename == "ipcity_indicators_2024_440000.csv" and f.rows > 0
    assert f.content.startswith(b"\xef\xbb\xbf")
    everything = indicator_download.prepare_download(snap, NATIONAL, 2024, None, "csv")
    assert everything.rows > f.rows
    with pytest.raises(ValueError, match="unknown format"):
        indicator_download.prepare_download(snap, GUANGDONG, 2024, "440000", "exe")


@pytest.mark.parametrize("principal", [GUANGDONG, VIEWER])
def test_a_published_rank_keeps_its_tie_for_other_provinces(principal):
    """The rank is published for every ranked city, and its tie (并列, ``rank_is_shared``) is part of it: blanked as
    internal detail, another province's "3/40（并列）" read as a plain 3rd on the rankings page."""
    import polars as pl

    df = pl.DataFrame(
        {
            "unit_code": ["440100", "320100", "320500"],
            "province_code": ["440000", "320000", "320000"],
            "is_ranked": [True, True, True],
            "rank": [1, 2, 2],
            "rank_is_shared": [False, True, True],
            "stage": ["watch", "watch", "normal"],
        }
    )
    out = access.published_rankings(principal, df).sort("unit_code")
    assert out["rank_is_shared"].to_list() == [True, True, False]
    assert out.filter(pl.col("province_code") != "440000")["stage"].is_null().all()  # internal detail stays blank
