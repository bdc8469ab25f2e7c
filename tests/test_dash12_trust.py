"""Round 12 of the dashboard review (dash12): what an official reading the pages would distrust, checked on the pure
functions that draw them (the browser half is tests/e2e/test_dash12_browser.py). The mart half of the target rule
is the dbt unit test target_equal_to_its_baseline_or_zero_is_invalid_not_achieved."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards.i18n import TARGET_STATUS, label
from dashboards.pages import profile, targets

CATALOG = pl.DataFrame(
    {
        "indicator_code": ["QLT02"],
        "unit": ["件/万人"],
        "name_zh": ["每万人口高价值发明专利拥有量"],
        "name_en": ["High-value invention patents in force per 10k people"],
    }
)


def _targets(baseline: float, target: float, status: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unit_code": ["410300"],
            "plan_id": ["2021-2025"],
            "indicator_code": ["QLT02"],
            "baseline_year": [2020],
            "baseline_value": [baseline],
            "target_year": [2025],
            "target_value": [target],
            "current_year": [2024],
            "current_value": [baseline],
            "progress_index": [1.0 if status == "achieved" else None],
            "status": [status],
        }
    )


@pytest.mark.parametrize(("baseline", "target"), [(0.0, 0.0), (3.0, 3.0), (2.0, 0.0)])
def test_a_target_that_asks_for_nothing_is_invalid_not_achieved(baseline, target):
    """Luoyang's QLT02 2021-2025 target read baseline 0, target 0, "achieved": a target equal to its baseline asks
    for nothing. The mart calls it invalid_target (the dbt unit test named above) and the profile says so, with no
    progress figure (the page reads the mart's status; tests/test_dashboard_round13.py)."""
    for lang in ("zh", "en"):
        (row,) = profile.target_rows(_targets(baseline, target, "invalid_target"), CATALOG, lang)
        assert row["status"] == "invalid_target"
        assert row["status_label"] != label(TARGET_STATUS, "achieved", lang)
        assert ("基期" if lang == "zh" else "baseline") in row["status_label"]


def test_a_real_target_reached_is_still_achieved():
    (row,) = profile.target_rows(_targets(1.0, 2.0, "achieved"), CATALOG, "zh")
    assert row["status"] == "achieved"


@pytest.mark.parametrize(("baseline", "target"), [(0.0, 0.0), (3.0, 3.0), (1.0, 2.0)])
def test_the_targets_page_counts_what_the_mart_calls_invalid_as_invalid(baseline, target):
    """The targets page's bucket is the mart's status, as the profile's: never "achieved"."""
    df = targets.with_buckets(_targets(baseline, target, "invalid_target"))
    assert df["bucket"].to_list() == ["invalid_target"]


def test_the_invalid_target_status_is_named_in_both_languages():
    """The mart's new status has its words in the labels seed (a raw code 'invalid_target' otherwise)."""
    zh, en = label(TARGET_STATUS, "invalid_target", "zh"), label(TARGET_STATUS, "invalid_target", "en")
    assert "基期" in zh and "invalid_target" not in zh
    assert "baseline" in en and "invalid_target" not in en


# -- the synthetic-data note never lies over a chart's data --------------------------------------------------------


def _note(fig) -> dict:
    from dashboards import figures

    spec = figures.stamp_data_note(fig, "合成示例 / Synthetic sample")
    (note,) = [a for a in spec["layout"]["annotations"] if a.get("name") == figures.DATA_NOTE_NAME]
    return {**note, "_margin_t": spec["layout"]["margin"]["t"], "_title": bool(spec["layout"].get("title"))}


def _radar(lang):
    from dashboards import figures
    from dashboards.i18n import PILLAR_COLUMNS

    row = {"unit_code": ["440100", None], "unit_name": ["广州市", None], "unit_name_en": ["Guangzhou", None]}
    row |= {c: [50.0, 60.0] for c in PILLAR_COLUMNS.values()}
    return figures.pillar_radar(pl.DataFrame(row), lang, year=2024)


def _provinces(lang):
    from test_dash8_trust import _province_rollup

    from dashboards.pages.provinces import chart

    return chart(_province_rollup(), lang)


def _small_multiples(lang):
    from dashboards import figures

    codes = ["PRO01", "QLT01", "QLT02", "UTL01", "ENV01"]
    values = pl.DataFrame(
        {
            "indicator_code": [c for c in codes for _ in (2023, 2024)],
            "year": [y for _ in codes for y in (2023, 2024)],
            "value": [1.0, 2.0] * len(codes),
        }
    )
    catalog = pl.DataFrame(
        {"indicator_code": codes, "name_zh": codes, "name_en": codes, "unit": ["件/万人"] * len(codes)}
    )
    return figures.indicator_small_multiples(values, None, catalog, lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("build", [_radar, _provinces, _small_multiples], ids=["radar", "provinces", "multiples"])
def test_the_data_note_has_a_line_of_its_own_above_charts_without_a_free_corner(build, lang):
    """The synthetic-data note sat mid-plot on the compare radar (over the polygons), the provinces' bar chart (over
    the bars) and the profile's small multiples (over a panel). Each now declares a line of its own above the plot,
    over what it already draws there (the radar's top pillar name; the panels' titles and legend), under the title."""
    from dashboards import figures
    from dashboards.theme import TITLE_MARGIN_PX

    note = _note(build(lang))
    assert (note["x"], note["y"], note["xanchor"], note["yanchor"]) == (1, 1, "right", "bottom"), note
    above_title = TITLE_MARGIN_PX if note["_title"] else 0
    # the line the note takes lies between the title's band and what the chart draws above its plot
    assert note["_margin_t"] - note.get("yshift", 0) - above_title >= figures.DATA_NOTE_LINE_PX, note


# -- the provinces page says why its acceptance-score column is blank ----------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("level", ["year", "cycle"])
def test_a_blank_acceptance_column_says_why_under_the_grid(level, lang):
    """The provinces page's "mean acceptance score" column was all "–" with the reason only in a header tooltip
    nobody hovers: a column of dashes read as missing data. A visible note now says why, in the page's language,
    for the roll-up chosen; a column with any score has no note."""
    from test_dash8_trust import _province_rollup

    from dashboards.pages import provinces

    rows = provinces.rollup_rows(_province_rollup(), lang)
    note = provinces.acceptance_note(rows, level, lang)
    assert note and (("验收得分" in note) if lang == "zh" else ("acceptance score" in note))
    assert ("周期" if lang == "zh" else "cycle") in note
    if lang == "zh":
        assert not any("a" <= ch.lower() <= "z" for ch in note), note
    scored = provinces.rollup_rows(_province_rollup(mean_acceptance_score=72.5), lang)
    assert provinces.acceptance_note(scored, level, lang) is None


# -- the watchlist's robustness cell is one term, not a five-line sentence -----------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("is_robust", [True, False, None])
def test_the_watchlist_robustness_cell_fits_its_column(is_robust, lang):
    """At 1366 px the watchlist's robustness column (≤ 130 px) wrapped "⚠ not robust: the finding does not hold in
    the uncertainty runs" to five lines, every row five lines tall. The cell now holds the seed's term with its
    mark; the whole sentence is its tooltip, word for word the one every other surface uses."""
    from dashboards.figures import _label_px
    from dashboards.pages import watchlist

    row = {"stage": "watch", "is_robust": is_robust, "rules_fired": "W1", "n_sims": 200 if is_robust is not None else 0}
    col = next(c for c in watchlist.columns(lang) if c.get("headerName") == watchlist.t("robustness", lang))
    term = watchlist.robust_term(row, lang)
    full = watchlist.robust_label(row, lang)
    assert col["field"] == "robust_term" and col["tooltipField"] == "robust_label"
    assert full.startswith(term) and len(term) < len(full)
    # one line at the column's least width, in the grid's 14 px type (the estimate is generous enough to cover the
    # cell's padding; the browser check is tests/e2e/test_dash12_browser.py)
    assert _label_px(term, 14) <= col["minWidth"], (term, _label_px(term, 14))
