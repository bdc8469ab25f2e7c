"""Round 2 of what made the dashboard look untrustworthy to an official (screenshots under /work/h_dash2_shots/):
an empty "观测值 / Observed" column on the data-quality page, a radar whose radius ticks sat on the "管理能力 /
Management" axis label, a provincial "no access" page without the app's header (a dead end), and target
progress such as −1,184% shown bare."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_access_page_carries_the_apps_header_and_a_way_back(tmp_path, lang):
    """gd_zh_403.png / gd_en_403.png: a provincial official refused a page saw a bare card, no navigation."""
    from dashboard_http import signed_in_client

    from dashboards.app import create_app
    from dashboards.i18n import nav_label, t

    app = create_app(
        tmp_path / "no.snapshot.duckdb",
        user_store=tmp_path / "access" / "users.sqlite",
        secret_key_file=tmp_path / "access" / "secret_key",
    )
    client = signed_in_client(app, tmp_path / "access" / "users.sqlite", "gd_test", "province", "44")
    r = client.get(f"/quality?lang={lang}", headers={"Accept": "text/html"})
    assert r.status_code == 403
    page = r.get_data(as_text=True)
    assert 'class="ipc-header"' in page and 'class="ipc-nav"' in page
    assert t("app_title", lang) in page
    assert f'href="/?lang={lang}"' in page  # the overview, in the page's language
    assert nav_label("nav_rankings", lang) in page
    assert nav_label("nav_quality", lang) not in re.search(r'<nav class="ipc-nav">(.*?)</nav>', page, re.S).group(1)
    other = "en" if lang == "zh" else "zh"
    assert f"/quality?lang={other}" in page  # the language switch
    assert 'action="/logout"' in page
    # its sign-out button works: the form carries the session's form token (the sign-out refuses a post without)
    token = re.search(
        r'<form method="post" action="/logout"[^>]*><input type="hidden" name="csrf" value="([^"]+)">', page
    )
    assert token, page
    assert client.post("/logout", data={"csrf": token.group(1)}).status_code in (302, 303)
    assert client.get("/", headers={"Accept": "text/html"}).status_code in (302, 401)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_progress_beyond_a_whole_gap_is_shown_bounded_with_value_and_reason(lang):
    """en_targets.png / zh_profile.png: "−1,184" in the progress column (Luoyang's case closure rate, baseline
    51.7 %, target 55.4 %, now 8.0 %) read as a broken figure. The mart's value stays for sorting."""
    from dashboards.formatting import progress_cells
    from dashboards.i18n import t

    far = progress_cells(-11.84, lang)
    assert far["progress_index"] == -1184
    assert far["progress_text"].startswith("<−100")
    assert "−1,184" in far["progress_note"]
    assert far["progress_note"] == t("progress_beyond", lang).format(value="−1,184")
    assert progress_cells(3.5, lang)["progress_text"].startswith(">100")
    near = progress_cells(-0.67, lang)
    assert (near["progress_text"], near["progress_note"]) == ("−67", None)
    assert progress_cells(1.0, lang)["progress_text"] == "100"
    assert progress_cells(None, lang)["progress_text"] == "–"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_with_progress_shows_it_the_same_way(lang):
    """The profile's target table and the target page's most-lagging list: both bounded, both with the reason."""
    import polars as pl

    from dashboards.pages import profile, targets

    catalog = pl.DataFrame(
        {
            "indicator_code": ["PRO01"],
            "name_zh": ["案件结案率"],
            "name_en": ["Case closure rate"],
            "unit": ["比率"],
            "direction": ["higher"],
        }
    )
    target = {
        "plan_id": "plan_2021_2025",
        "indicator_code": "PRO01",
        "baseline_value": 0.517,
        "target_value": 0.554,
        "current_year": 2025,
        "current_value": 0.08,
        "progress_index": -11.84,
        "status": "deteriorating",
    }
    (row,) = profile.target_rows(pl.DataFrame([target]), catalog, lang)
    units = pl.DataFrame({"unit_code": ["410300"], "unit_name": ["洛阳市"], "unit_name_en": ["Luoyang"]})
    lag = pl.DataFrame([{**target, "unit_code": "410300", "bucket": "lagging"}])
    (lrow,) = targets.lagging_rows(lag, units, catalog, lang)
    for r in (row, lrow):
        assert r["progress_index"] == -1184 and r["progress_text"].startswith("<−100") and r["progress_note"]
    col = next(c for c in profile.target_columns(lang) if c["field"] == "progress_index")
    assert "progress_text" in col["valueFormatter"]["function"]
    assert "progress_note" in col["tooltipValueGetter"]["function"]


def test_quality_grid_shows_what_each_passed_check_observed():
    """zh_quality.png: the "观测值" column was empty on every row (every check passed, and the passed checks are
    collapsed to one row per asset and check, which dropped what they observed)."""
    import polars as pl

    from dashboards.pages.quality import check_rows

    counts = [
        '{"unexpected_count": 0, "element_count": 10000, "unexpected_percent": 0.0}',
        '{"unexpected_count": 0, "element_count": 2512, "unexpected_percent": 0.0}',
    ]
    checks = pl.DataFrame(
        {
            "check_name": ["city_code__not_null", "city_code__not_null", "registrations__type"],
            "asset": ["raw_patents", "raw_patents", "raw_patents"],
            "partition": ["2024", "2025", "2025"],
            "severity": ["error", "error", "error"],
            "passed": [True, True, True],
            "observed_value": [*counts, '"int64"'],
            "expectation": [None, None, None],
        }
    )
    rows = {r["check_name"]: r for r in check_rows(checks, "zh")}
    assert rows["city_code__not_null"]["observed_text"] == "0 / 12,512"
    assert rows["city_code__not_null"]["checks"] == 2
    assert rows["registrations__type"]["observed_text"] == "int64"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_radar_radius_ticks_sit_between_two_pillars(lang):
    """zh_compare.png / en_compare.png: the radius ticks 0 20 40 … 100 ran along the "管理能力 / Management" spoke,
    over its name and over the polygons' vertices on it."""
    import polars as pl

    from dashboards.figures import pillar_radar
    from dashboards.i18n import PILLAR_COLUMNS

    row = {"unit_code": "440300", "unit_name": "深圳市", "unit_name_en": "Shenzhen"}
    fig = pillar_radar(pl.DataFrame([{**row, **{c: 50.0 for c in PILLAR_COLUMNS.values()}}]), lang)
    polar = fig.layout.polar
    n = len(PILLAR_COLUMNS)
    rotation = polar.angularaxis.rotation if polar.angularaxis.rotation is not None else 0
    sign = -1 if polar.angularaxis.direction == "clockwise" else 1
    spokes = [(rotation + sign * k * 360 / n) % 360 for k in range(n)]
    angle = (polar.radialaxis.angle if polar.radialaxis.angle is not None else rotation) % 360
    gap = min(min(abs(angle - s), 360 - abs(angle - s)) for s in spokes)
    assert gap >= 360 / n / 4, (angle, spokes)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_bounded_progress_is_explained_under_the_grid_too(lang):
    """The star must not rely on a tooltip alone (printouts, touch screens): a footnote when a row is bounded."""
    from dashboards.formatting import progress_cells, progress_footnote
    from dashboards.i18n import t

    assert progress_footnote([progress_cells(-11.84, lang), progress_cells(0.5, lang)], lang) == t(
        "progress_beyond_note", lang
    )
    assert progress_footnote([progress_cells(0.5, lang)], lang) is None


@pytest.mark.parametrize("field", ["indicator_name", "unit_label", "status_label"])
def test_profile_target_names_units_and_statuses_wrap_instead_of_being_cut(field):
    """gd_en_profile.png: "Limited prog…", "Acceleration…", "per 10k pe…" in the profile's target table."""
    from dashboards.pages.profile import target_columns

    col = next(c for c in target_columns("en") if c["field"] == field)
    assert col.get("wrapText") and col.get("autoHeight")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_flag_page_language_link_stays_on_the_flag_page_and_no_tab_is_marked(lang):
    """nat_zh_flag.png: on the "why flagged" page the bar marked 年度总览 as the page shown, and the language link
    went to the overview instead of the same flag page in the other language."""
    from dashboards.app import shell_content

    _, nav, toggles, _ = shell_content("/flag", f"?unit=410300&year=2023&lang={lang}")
    assert not [link for link in nav if "active" in link.className]
    other = "en" if lang == "zh" else "zh"
    link = next(a for a in toggles if getattr(a, "id", None) == f"lang-{other}")
    assert link.href.startswith("/flag?") and "unit=410300" in link.href and f"lang={other}" in link.href


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_alert_grid_shows_whole_cities_rules_and_times(lang):
    """nat_en_alerts.png: "Taizhou …", "Monthly …", "Behind t…" and "2026-12-…" (a time without its day). Round 10:
    the least widths come from the alerts shown (components.fit_values), no longer fixed ones."""
    import polars as pl
    from dashboard_fixtures import alert_row

    from dashboards.pages.alerts import alert_rows, columns

    # a data-engineering alert: the city cell reads "Data engineering"
    row = alert_row(kind="sanction", unit_name=None, unit_code=None)
    rows = alert_rows(pl.DataFrame([row]), lang)
    cols = {c["field"]: c for c in columns(lang, rows)}
    for field in ("city", "rule"):
        assert cols[field].get("wrapText") and cols[field].get("autoHeight")
    # nat_en_alerts_after.png: at 100 px "Data engineering" wrapped inside its word ("engineerin/g")
    if lang == "en":
        assert cols["city"].get("minWidth", 0) >= 9 * len("engineering") + 16
    for field in ("since", "resolved_at"):
        # a time wraps between its date and its hour: the date's 10 characters stay on one line
        assert cols[field].get("wrapText") and cols[field].get("minWidth", 0) >= 9 * len("2026-12-05") + 16
