"""Round 11 of the dashboard review (dash11): what an official reading the pages would distrust, checked on the pure
functions that draw them (the browser half is tests/e2e/test_dash11_browser.py)."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards import figures
from pipelines.labels import label_text


def _stages() -> pl.DataFrame:
    # 2016 normal (no flag), 2017 exemplary and robust, 2018 exemplary but not robust, 2019 on watch without
    # uncertainty runs: each of the four readings of a year's robustness once
    return pl.DataFrame(
        {
            "year": [2016, 2017, 2018, 2019],
            "stage": ["normal", "exemplary", "exemplary", "watch"],
            "is_robust": [None, True, False, None],
            "rules_fired": [None, "EX1", "EX1", "W1"],
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_mark_of_the_stage_history_is_named_in_its_legend(lang):
    """The profile's stage history drew a not-robust year as a hollow dot beside filled ones (Mianyang, 2021) and
    nothing on the page said what the hollow dot meant; a year without uncertainty runs was drawn as a robust one.
    Now each reading of robustness has its own mark and the legend names every mark drawn, in the seed's words."""
    fig = figures.stage_timeline(_stages(), lang)
    data = fig.to_plotly_json()["data"]
    drawn = data[0]["marker"]["symbol"]
    assert len(set(drawn)) == 4, drawn  # normal, robust, not robust, not assessed: four different marks
    legend = {tuple([tr["marker"]["symbol"]]): tr["name"] for tr in data[1:] if tr.get("showlegend", True)}
    assert fig.layout.showlegend is True
    for code in ("robust", "not_robust", "robustness_not_assessed", "robustness_not_applicable"):
        symbol = figures.STAGE_ROBUSTNESS_SYMBOLS[code]
        assert symbol in drawn
        assert legend.get((symbol,)) == label_text(code, lang), (code, legend)
    assert data[0]["showlegend"] is False  # the stage line itself is read on the y axis, not in the legend


def test_the_stage_history_legend_names_only_marks_it_draws():
    """A city robust every year gets one legend entry, not a key to marks that are nowhere on its chart."""
    stages = pl.DataFrame({"year": [2024, 2025], "stage": ["exemplary"] * 2, "is_robust": [True, True]})
    data = figures.stage_timeline(stages.with_columns(rules_fired=pl.lit(None, pl.String)), "zh").to_plotly_json()
    names = [tr["name"] for tr in data["data"][1:]]
    assert names == [label_text("robust", "zh")]


def test_the_stage_history_hover_says_the_years_robustness():
    data = figures.stage_timeline(_stages(), "en").to_plotly_json()["data"][0]
    assert label_text("not_robust", "en") in data["text"][2]
    assert data["text"][2].endswith("EX1")
