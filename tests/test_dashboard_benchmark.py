"""The national unit (000000) as a reference line on the profile's indicator charts (issue 10, item 7)."""

from __future__ import annotations

import polars as pl

from dashboards import figures
from dashboards.i18n import t


def _catalog():
    return pl.DataFrame(
        {
            "indicator_code": ["QLT01", "PRO01"],
            "name_zh": ["每万人口发明专利拥有量", "结案率"],
            "name_en": ["Invention patents in force per 10k people", "Case closure rate"],
            "unit": [None, None],
        }
    )


def test_benchmark_drawn_only_for_indicators_the_national_statistics_have():
    values = pl.DataFrame(
        {"indicator_code": ["QLT01", "QLT01", "PRO01"], "year": [2019, 2022, 2022], "value": [30.0, 40.0, 0.9]}
    )
    bench = pl.DataFrame({"indicator_code": ["QLT01", "QLT01"], "year": [2019, 2022], "value": [13.3, 23.7]})
    for lang in ("zh", "en"):
        fig = figures.indicator_small_multiples(values, None, _catalog(), lang, benchmark=bench)
        lines = [tr for tr in fig.data if tr.name == t("national_benchmark", lang)]
        assert len(lines) == 1  # QLT01 only: PRO01 has no national figure
        assert list(lines[0].y) == [13.3, 23.7] and list(lines[0].x) == [2019, 2022]
        assert lines[0].xaxis == "x"  # the QLT01 panel (first in the catalog)


def test_no_benchmark_table_means_no_reference_line():
    values = pl.DataFrame({"indicator_code": ["QLT01"], "year": [2019], "value": [30.0]})
    fig = figures.indicator_small_multiples(values, None, _catalog(), "zh", benchmark=None)
    assert not [tr for tr in fig.data if tr.name == t("national_benchmark", "zh")]
