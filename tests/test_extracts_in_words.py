"""The provincial extracts' CSV and XLSX in the reader's words: the marts' codes (stage, group, band, target
status, unit level, …) and booleans in Chinese, the rules fired in Chinese beside the mart's English sentence; the
Parquet keeps the codes exactly as in the marts. Before, a Chinese-headed workbook read ``rectification``,
``moderate``, ``prefecture`` and TRUE/FALSE, and 触发规则 held English sentences only."""

from __future__ import annotations

import duckdb
import openpyxl
import polars as pl
import pytest

from dashboards.evaluation_text import rules_text
from pipelines import extracts as X
from pipelines import sources
from pipelines.labels import label_set, label_text, third_party_status_labels


def _scores() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "year": [2024, 2024, 2024],
            "province_code": ["410000"] * 3,
            "unit_code": ["410100", "410300", "419000"],
            "unit_name": ["郑州市", "洛阳市", "省直辖县级行政区划"],
            "level": ["prefecture", "prefecture", "direct_county_group"],
            "is_programme": [True, False, None],
            "performance_group": ["moderate", "emerging", None],
            "group_third": ["upper", "lower", None],
            "stage": ["rectification", "exit_candidate", None],
            "status": ["limited_progress", "some_new_code", None],
            "acceptance_band": ["new_pilot_round", None, "title_removed"],
            "third_party_status": ["received", "pending", None],
        }
    )


def test_codes_and_booleans_read_in_chinese_in_the_csv_frame():
    got = X._csv_frame(_scores()).to_dicts()
    assert [r["行政级别"] for r in got] == ["地级市", "地级市", label_text("direct_county_group")]
    assert [r["示范/试点城市"] for r in got] == ["是", "否", None]
    assert [r["绩效分组"] for r in got] == ["中等", "起步", None]
    assert [r["三分位组"] for r in got] == ["上游", "下游", None]
    assert [r["评价阶段"] for r in got] == ["整改", "退出候选", None]
    # a code the seed does not know stays as it is (never blanked, never guessed)
    assert [r["目标状态"] for r in got] == ["进展有限", "some_new_code", None]
    assert [r["验收结论"] for r in got] == ["可开展新一轮试点", None, "撤销称号"]
    assert [r["第三方评估状态"] for r in got] == [third_party_status_labels()["received"][0], "第三方评估待定", None]
    # the codes the extracts' keys are made of are not touched
    assert [r["行政区划代码"] for r in got] == ["410100", "410300", "419000"]


def test_the_workbook_reads_words_and_the_parquet_keeps_the_codes(tmp_path):
    df = _scores()
    path = tmp_path / "x.xlsx"
    X.write_xlsx(path, [("省份 / Province", "河南省")], [("得分排名与评价阶段", df, X.HEADERS)])
    rows = list(openpyxl.load_workbook(path, read_only=True)["得分排名与评价阶段"].iter_rows(values_only=True))
    got = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert [r["评价阶段"] for r in got] == ["整改", "退出候选", None]
    assert [r["示范/试点城市"] for r in got] == ["是", "否", None]
    df.write_parquet(tmp_path / "x.parquet")
    assert pl.read_parquet(tmp_path / "x.parquet").equals(df)


@pytest.mark.parametrize(
    ("column", "codes"),
    [
        ("level", sources.UNIT_LEVELS),
        ("growth_basis", ("cagr", "linear")),
        ("peer_group", ("city",)),
        ("stage", tuple(label_set("stage"))),
        ("cycle_verdict", tuple(label_set("verdict"))),
        ("status", tuple(label_set("target_status"))),
        ("acceptance_status", tuple(label_set("acceptance_status"))),
    ],
)
def test_every_code_of_a_labelled_column_has_its_words(column, codes):
    frame = X._csv_frame(pl.DataFrame({column: list(codes)}, schema={column: pl.String}))
    words = frame.to_series().to_list()
    assert all(w and w != c and not w.isascii() for w, c in zip(words, codes)), list(zip(codes, words))


def test_every_labelled_column_names_a_list_of_the_labels_seed():
    for column, name in X.VALUE_LABEL_SETS.items():
        assert column in X.HEADERS, column
        if column != "third_party_status":
            assert label_set(name), (column, name)


def test_rules_fired_in_chinese_beside_the_english_sentence():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        """create table marts.fct_evaluation_year as select * from (values
            ('410100', 2024, 'R1 rectification (3 consecutive watch years)', true, false, 3, 'moderate'),
            ('410300', 2024, '', false, false, null, 'strong'),
            ('410500', 2024, null, false, false, null, null),
            ('410100', 2023, 'W1 watch (group emerging, rank 9/9)', false, true, 1, 'emerging')
        ) t(unit_code, year, rules_fired, fired_r1, fired_w1, watch_run_years, performance_group)"""
    )
    scores = pl.DataFrame(
        {
            "unit_code": ["410100", "410300", "410500", "410700"],
            "stage": ["rectification", "normal", None, None],
            "rules_fired": ["R1 rectification (3 consecutive watch years)", "", None, None],
            "is_robust": [True, True, None, None],
        }
    )
    got = X._with_rules_in_chinese(con, scores, 2024)
    assert got.columns == ["unit_code", "stage", "rules_fired", "rules_fired_zh", "is_robust"]
    row = con.sql("select * from marts.fct_evaluation_year where unit_code = '410100' and year = 2024").pl()
    assert got["rules_fired_zh"].to_list() == [rules_text(row.row(0, named=True), "zh"), "", None, None]
    assert got["rules_fired_zh"][0] == "R1 整改：连续3年处于关注"
    headers = X._csv_frame(got).columns
    assert headers[2:4] == [X.HEADERS["rules_fired"], "触发规则"]
