"""Verdicts a city cannot contest, round 2: equal indices share a rank (并列) in every reader, "the verdict of year
Y" is one cycle for every reader, and the stage that counts as exit (not reported within six months) raises the
same alert as the one the watch list puts first.

The ranks of the mart itself are pinned by the dbt unit tests ``ties_share_a_rank_and_boundaries_at_70_100_125``
and ``ties_are_equal_indices_at_9_decimals_not_equal_doubles`` (run by tests/test_patents_in_force.py); labels are
read from the labels seed, never copied here."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.labels import label_text, performance_group


def rank_text(*args):
    from pipelines.labels import rank_text as shown

    return shown(*args)


def _tied(lang: str) -> str:
    return label_text("rank_shared", lang)


# --- 1. ties share a rank, and every reader says so -----------------------------------------------------------


def test_a_shared_rank_reads_tied_in_both_languages():
    assert rank_text(3, 40, True, "zh") == f"3/40（{_tied('zh')}）"
    assert rank_text(3, 40, True, "en") == f"3/40 ({_tied('en')})"
    both = rank_text(3, 40, True, "both")
    assert _tied("zh") in both and _tied("en") in both
    assert rank_text(3, 40, False, "zh") == "3/40" and rank_text(3, None, None, "en") == "3"
    assert rank_text(None, 40, True) == "–"


def test_monte_carlo_ranks_share_a_tie_as_the_mart_does():
    """The uncertainty runs ranked equal indices 2 and 3 by position (the unit order), so a city's rank interval
    depended on its code; equal but for float noise (1e-13) is equal, as in fct_city_score_year."""
    from pipelines.evaluation.uncertainty import _rank_desc

    # 109.94 publishes 109.9 and comes fourth; (round 8) 109.999999 publishes 110.0 and ties with the 110s
    values = np.array([[[110.0, 110.0000000000001, 120.0, np.nan, 109.94, 110.0]]])
    ranked = np.array([[True, True, True, True, True, False]])
    ranks = _rank_desc(values, ranked)[0, 0]
    assert ranks[:3].tolist() == [2.0, 2.0, 1.0] and ranks[4] == 4.0
    assert _rank_desc(np.array([[[110.0, 109.999999]]]), np.array([[True, True]]))[0, 0].tolist() == [1.0, 1.0]
    assert np.isnan(ranks[3]) and np.isnan(ranks[5])


def _ranking_frame() -> pl.DataFrame:
    index = [130.0, 110.0, 110.0, 65.0]
    return pl.DataFrame(
        {
            "unit_code": ["320100", "320200", "320300", "320400"],
            "unit_name": ["南京市", "无锡市", "徐州市", "常州市"],
            "unit_name_en": ["Nanjing", "Wuxi", "Xuzhou", "Changzhou"],
            "province_code": ["320000"] * 4,
            "province_name": ["江苏省"] * 4,
            "province_name_en": ["Jiangsu"] * 4,
            "composite_index": index,
            "performance_group": [performance_group(v) for v in index],
            "performance_group_all": [performance_group(v) for v in index],
            "stage": ["normal", "normal", "normal", "watch"],
            "rank": [1, 2, 2, 4],
            "n_ranked": [4] * 4,
            "rank_is_shared": [False, True, True, False],
            "rank_all": [1, 2, 2, 4],
            "rank_all_is_shared": [False, True, True, False],
            "p05_rank": [None] * 4,
            "p95_rank": [None] * 4,
            "is_ranked": [True] * 4,
            "on_roster": [True] * 4,
        },
        schema_overrides={"p05_rank": pl.Int64, "p95_rank": pl.Int64},
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_rankings_grid_shows_a_shared_rank_as_tied(lang):
    from dashboards.pages import rankings

    rows = rankings.ranking_rows(_ranking_frame(), lang)
    assert [r["rank_text"] for r in rows] == ["1", rank_text(2, None, True, lang), rank_text(2, None, True, lang), "4"]
    assert _tied(lang) in rows[1]["rank_all_text"]
    rank_col = next(c for c in rankings.column_defs(lang) if c["field"] == "rank")
    assert "rank_text" in rank_col["valueFormatter"]["function"]  # the number stays for sorting


def test_the_watch_list_the_comparison_and_the_rules_text_say_tied():
    from dashboards.evaluation_text import rules_text
    from dashboards.pages import compare, watchlist

    wl = _ranking_frame().with_columns(
        dossier_html=pl.lit(None, pl.String),
        dossier_md=pl.lit(None, pl.String),
        share_bottom=pl.lit(None, pl.Float64),
        is_robust=pl.lit(None, pl.Boolean),
        targets_lagging=pl.lit(None, pl.Int64),
        targets_evaluable=pl.lit(None, pl.Int64),
        rules_fired=pl.lit(None, pl.String),
        year=pl.lit(2024),
    )
    labels = [r["rank_label"] for r in watchlist.watch_rows(wl, "en", 2024)]
    assert labels[1] == rank_text(2, 4, True, "en") and labels[0] == "1/4"
    assert compare._measure_text("rank", 2, True, "zh") == rank_text(2, None, True, "zh")
    w1 = {"fired_w1": True, "performance_group": "emerging", "rank": 39, "n_ranked": 40, "rank_is_shared": True}
    w1["rules_fired"] = "W1 watch (group emerging, rank 39/40 " + _tied("en") + ")"
    assert _tied("zh") in rules_text(w1, "zh")


def test_the_dossier_says_a_rank_is_shared():
    from test_verdicts_contestable import _dossier_input

    from pipelines.evaluation.dossier import _render

    d = _dossier_input(95.0, performance_group(95.0))
    d["score"]["rank_is_shared"] = True
    d["history"] = d["history"].with_columns(rank_is_shared=pl.lit(True))
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    row = next(x for x in markdown_text.splitlines() if x.startswith("| 排名 / Rank"))
    assert _tied("zh") in row and _tied("en") in row, row
    trend = next(x for x in markdown_text.splitlines() if x.startswith("| 2024 |"))
    assert _tied("en") in trend, trend


def test_the_biggest_movers_keep_both_cities_of_a_tie_at_the_cut():
    """Eight movers shown: the eighth and ninth both rose 5 places; the list showed the one with the smaller
    code and dropped the other."""
    from dashboards.queries import _top_with_ties

    df = pl.DataFrame(
        {"unit_code": [f"{320100 + 100 * i}" for i in range(10)], "rank_change": [*range(12, 5, -1), 5, 5, 1]}
    )
    up = _top_with_ties(df, "rank_change", 8, descending=True)
    assert up.height == 9 and up.filter(pl.col("rank_change") == 5).height == 2
    down = _top_with_ties(df.with_columns(-pl.col("rank_change")), "rank_change", 8, descending=False)
    assert down.height == 9


def _alert_warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        """create table marts.dim_city as select * from (values
             ('410100', '郑州市', 'Zhengzhou', '410000', '河南省', true, 'active'),
             ('410300', '洛阳市', 'Luoyang', '410000', '河南省', true, 'active'),
             ('410500', '安阳市', 'Anyang', '410000', '河南省', true, 'active'))
           t(unit_code, unit_name, unit_name_en, province_code, province_name, is_programme, programme_status)"""
    )
    con.execute(
        """create table marts.fct_city_score_year as select * from (values
             ('410100', 2025, 39, 40, true, 'emerging', 60.0, -3),
             ('410300', 2025, 39, 40, true, 'emerging', 60.0, -12),
             ('410500', 2025, 20, 40, false, 'moderate', 90.0, 0))
           t(unit_code, year, rank, n_ranked, rank_is_shared, performance_group, composite_index, rank_change)"""
    )
    con.execute(
        """create table marts.fct_evaluation_year as select * from (values
             ('410100', 2025, 'watch', true, 'W1'),
             ('410300', 2025, 'exit_candidate', true, 'X1'),
             ('410500', 2025, 'not_reported', true, 'not reported within the grace period'))
           t(unit_code, year, stage, is_robust, rules_fired)"""
    )
    return con


def test_alert_titles_say_a_rank_is_shared():
    from pipelines.alerts.conditions import bottom_group, rank_drop
    from pipelines.alerts.config import load_rules

    con = _alert_warehouse()
    rules = load_rules()
    titles = {c.unit_code: (c.title_zh, c.title_en) for c in bottom_group(con, rules)}
    assert set(titles) == {"410100", "410300"}  # both cities of the tie get the same treatment
    assert all(_tied("zh") in zh and _tied("en") in en for zh, en in titles.values()), titles
    drops = rank_drop(con, rules)
    assert [c.unit_code for c in drops] == ["410300"] and _tied("en") in drops[0].title_en


# --- 3. the stage that counts as exit raises the stage alert ---------------------------------------------------


def test_not_reporting_within_six_months_raises_a_critical_stage_alert():
    """The watch list puts not_reported first (counts as exit), the dossier and the extract say so; the stage
    alert listed watch, review, rectification and exit candidacy only, so the city's stage alert never came."""
    from pipelines.alerts.conditions import stage
    from pipelines.alerts.config import load_rules

    out = {c.unit_code: c for c in stage(_alert_warehouse(), load_rules())}
    assert set(out) == {"410100", "410300", "410500"}
    nr = out["410500"]
    assert nr.kind == "sanction" and nr.severity == out["410300"].severity == "critical"
    assert label_text("not_reported", "zh") in nr.title_zh and label_text("not_reported", "en") in nr.title_en


# --- 2. the cycle of year Y -------------------------------------------------------------------------------------

# 南京 320100: strong-city cycle 2022-2024 (judged 2024); from 2025 its demonstration-city cycle 2023-2025.
# 南通 320600: pilot cycle 2022-2024 (judged 2023, promoted in 2024), then 2024-2026.
CYCLES = [
    ("320100", "2022-2024", 2022, 2024, 2024, "normal", 72.0, "demonstration_cultivation"),
    ("320100", "2023-2025", 2023, 2025, 2025, "normal", 65.0, "new_pilot_round"),
    ("320600", "2022-2024", 2022, 2024, 2023, "watch", 55.0, "title_removed"),
    ("320600", "2024-2026", 2024, 2026, 2024, "normal", 66.0, "new_pilot_round"),
]
CALENDAR = {("320100", 2024): 2022, ("320100", 2025): 2023, ("320600", 2024): 2024, ("320600", 2023): 2022}
# the cycle every reader must take as "the verdict of 2024"
OF_2024 = {"320100": 2022, "320600": 2024}


def _cycle_warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    cycles = pl.DataFrame(
        CYCLES,
        schema=["unit_code", "cycle", "first", "last", "judged_year", "verdict", "score", "band"],
        orient="row",
    )
    con.register("c", cycles)
    con.execute(
        """create table marts.fct_acceptance_score as select unit_code, cycle, first as cycle_first_year,
             last as cycle_last_year, judged_year, score as acceptance_score, score as indicator_score,
             band as acceptance_band, 'indicator_only' as acceptance_status from c"""
    )
    con.execute(
        """create table marts.fct_evaluation_cycle as select unit_code, cycle, first as cycle_start,
             last as cycle_end, verdict, 0.0 as index_change from c"""
    )
    cal = pl.DataFrame(
        [(u, y, s) for (u, y), s in CALENDAR.items()], schema=["unit_code", "year", "cycle_start"], orient="row"
    )
    con.register("k", cal)
    con.execute("create table marts.fct_programme_unit_year as select * from k")
    con.execute(
        """create table marts.dim_city as select * from (values
             ('320100', '南京市', 'Nanjing', '320000', '江苏省', 'prefecture', true),
             ('320600', '南通市', 'Nantong', '320000', '江苏省', 'prefecture', true))
           t(unit_code, unit_name, unit_name_en, province_code, province_name, level, is_programme)"""
    )
    return con


def test_the_release_takes_the_cycle_the_calendar_gives_the_year():
    """The release took the latest-starting cycle holding Y: 南京's 2023-2025 (not evaluated before 2025) for
    2024 instead of 2022-2024, the cycle judged in 2024."""
    from pipelines.evaluation.releases import RELEASED

    con = _cycle_warehouse()
    for table in ("evaluation_cycle", "acceptance_score"):
        relation, where, _ = RELEASED[table]
        first = "cycle_start" if table == "evaluation_cycle" else "cycle_first_year"
        got = dict(con.sql(f"select unit_code, {first} from {relation} where {where.format(y=2024)}").fetchall())
        assert got == OF_2024, (table, got)
    # a year without a calendar row (the year of a withdrawal): the latest cycle holding it
    con.execute("delete from marts.fct_programme_unit_year where unit_code = '320600'")
    relation, where, _ = RELEASED["acceptance_score"]
    got = dict(con.sql(f"select unit_code, cycle_first_year from {relation} where {where.format(y=2024)}").fetchall())
    assert got["320600"] == 2024


def test_the_dossier_shows_the_acceptance_of_the_cycle_the_release_holds():
    """The dossier took the earliest cycle holding Y: 南通's pilot cycle 2022-2024 (title removed, judged 2023) for
    2024, while the release of 2024 holds 2024-2026 -- and then said the current data differ from the release."""
    from pipelines.evaluation.dossier import dossier_data
    from pipelines.evaluation.dossier_rows import MartRows

    con = _cycle_warehouse()
    con.execute(
        """create table marts.fct_city_score_year as select unit_code, 2024 as year, 100.0 as composite_index,
             1 as rank, 2 as n_ranked, false as rank_is_shared, 'strong' as performance_group
           from marts.dim_city"""
    )
    con.execute(
        """create table marts.fct_evaluation_year as select k.unit_code, k.year, k.cycle_start, 'normal' as stage,
             cast(null as double) as p05_rank, cast(null as double) as p95_rank, cast(null as double) as median_rank
           from marts.fct_programme_unit_year k"""
    )
    for unit, first in OF_2024.items():
        d = dossier_data(con, unit, 2024, MartRows(con))
        assert d["acceptance"]["cycle_first_year"] == first, (unit, d["acceptance"])


def test_the_extract_lists_the_cycle_the_release_holds():
    """The extract's acceptance sheet listed the cycles ended by Y only: 南通's released cycle of 2024
    (2024-2026) was missing and its released band never shown, while the pilot cycle's was."""
    import pipelines.extracts as ex

    con = _cycle_warehouse()
    con.execute(
        "create table marts.fct_city_indicator_year "
        "(unit_code varchar, year integer, indicator_code varchar, catalog_version varchar)"
    )
    con.execute(
        "create table marts.dim_indicator (indicator_code varchar, catalog_version varchar, pillar_code varchar, "
        "pillar_name_zh varchar, name_zh varchar, unit varchar)"
    )
    con.execute("create table marts.fct_city_score_year (unit_code varchar, year integer, rank integer)")
    tables = ex.year_extract_tables(con, 2024, release={"derived": True})
    listed = {(r["unit_code"], r["cycle_first_year"]) for r in tables["acceptance"].iter_rows(named=True)}
    assert ("320600", 2024) in listed and ("320100", 2022) in listed
    assert ("320100", 2023) not in listed  # a cycle neither ended by 2024 nor the cycle of 2024

    # the Python form of the one definition (readers holding the frame) agrees with the SQL one
    from pipelines.evaluation.releases import cycle_of_year, cycle_of_year_sql

    where = cycle_of_year_sql("cycle_first_year", "cycle_last_year", "marts.fct_acceptance_score", "a", "2024")
    of_year = dict(
        con.sql(f"select unit_code, cycle_first_year from marts.fct_acceptance_score a where {where}").fetchall()
    )
    assert of_year == OF_2024
    frame = con.sql("select * from marts.fct_acceptance_score").pl()
    for unit, first in OF_2024.items():
        row = cycle_of_year(frame.filter(pl.col("unit_code") == unit), 2024, CALENDAR[(unit, 2024)])
        assert row["cycle_first_year"] == first


def test_the_map_and_the_movers_chart_say_a_rank_is_shared():
    from dashboards.figures import city_map, movers_bar

    df = _ranking_frame().with_columns(
        lng=pl.lit(118.8), lat=pl.lit(32.0), group=pl.col("performance_group"), rank_change=pl.lit(3)
    )
    fig = city_map(df, "en")
    hovers = [tuple(c) for trace in fig.data if trace.customdata is not None for c in trace.customdata]
    shared = [h for h in hovers if h[0] in ("320200", "320300")]
    assert shared and all(h[2] == rank_text(2, None, True, "en") for h in shared), hovers
    bars = movers_bar(df, "zh")
    assert [c[1] for c in bars.data[0].customdata][1] == rank_text(2, None, True, "zh")
