"""Verdicts a city cannot contest: every figure shown beside a verdict is on the verdict's side of its
threshold, the same number reads the same everywhere, a report is dated on the calendar the management measures
count in, and a released verdict is never silently replaced by the current figures.

The thresholds are read from the seeds (performance_bands.csv, evaluation_rules.csv), never copied here, so the
cases follow a change of the seeds."""

from __future__ import annotations

import duckdb
import evaluation_fixtures as F
import polars as pl
import pytest

from pipelines.evaluation.rules import load_rules
from pipelines.labels import label_text, load_bands, performance_group

BOUNDS = [b.lower_bound for b in load_bands() if b.lower_bound is not None]
# just under, at and just over every band bound: 69.96 rounds to "70.0", 125.04 to "125.0"
NEAR_BOUNDS = sorted({round(b + d, 9) for b in BOUNDS for d in (-0.04, -0.0001, -1e-7, 0.0, 1e-7, 0.0001, 0.04)})


def _shown_group(text: str) -> str | None:
    """The group a reader puts the figure shown in."""
    return performance_group(float(text))


# --- the composite index beside its performance group -------------------------------------------------------


@pytest.mark.parametrize("index", NEAR_BOUNDS)
def test_the_index_shown_is_in_the_group_it_was_put_in(index):
    """A city shown "综合指数 70.0" beside the bottom group (the band above starts at 70 inclusive), or "125.0"
    beside the top band (which needs more than 125), can contest its group: the figure must read in the group."""
    from pipelines.labels import index_text

    text = index_text(index)
    assert _shown_group(text) == performance_group(index), (index, text)
    # one decimal whenever that is already on the right side (the usual case)
    if _shown_group(f"{index:.1f}") == performance_group(index):
        assert text == f"{index:.1f}"
    assert index_text(None) == "–"  # a missing index is not 0.0


def _dossier_input(index: float, group: str) -> dict:
    """The dossier's input (dossier.dossier_data's shape) for one ranked unit-year with ``index`` in ``group``."""
    score = {
        "composite": 50.0,
        "composite_index": index,
        "rank": 30,
        "n_ranked": 40,
        "performance_group": group,
        "catalog_version": "2021.1",
        **{f"score_{p}": 50.0 for p in ("mgt", "pro", "utl", "qlt", "env")},
    }
    history = pl.DataFrame(
        [
            {
                "year": 2024,
                "composite_index": index,
                "rank": 30,
                "n_ranked": 40,
                "performance_group": group,
                "stage": "watch",
                "p05_rank": None,
                "p95_rank": None,
                "median_rank": None,
            }
        ],
        schema_overrides={"p05_rank": pl.Int64, "p95_rank": pl.Int64, "median_rank": pl.Float64},
    )
    return {
        "city": {"unit_code": "320100", "unit_name": "南京市"},
        "year": 2024,
        "score": score,
        "evaluation": None,
        "cycles": pl.DataFrame(),
        "history": history,
        "uncertainty": None,
        "targets": pl.DataFrame(),
        "files": pl.DataFrame(),
        "reporting": pl.DataFrame(),
        "acceptance": None,
        "attribution": None,
        "release": None,
        "released": None,
        "programme": {},
    }


# every value near a bound, and halves a binary round() reads down (69.95 is 69.94999… in doubles): the group is
# decided on the published figure (round 8: GEN.index_decimals, half up), so the figure shown is always in it
@pytest.mark.parametrize("index", [*NEAR_BOUNDS, 69.95, 99.95, 125.05])
def test_the_dossier_never_shows_the_index_across_its_group_bound(index):
    from pipelines.evaluation.dossier import _render

    group = performance_group(index)
    markdown_text, _ = _render(_dossier_input(index, group), bands_text=lambda *a, **k: "")
    shown = [
        line.split("|")[2].strip() for line in markdown_text.splitlines() if line.startswith("| 综合指数 / Composite")
    ]
    assert shown and all(_shown_group(s) == group for s in shown), shown
    trend = [line for line in markdown_text.splitlines() if line.startswith("| 2024 |")]
    assert trend and _shown_group(trend[0].split("|")[2].strip()) == group


def test_the_dashboards_index_cells_read_in_the_group():
    """Rankings and watch list (AG Grid: the cell shows the row's text, the number stays for sorting), the city
    comparison and the map's hover: each shows the index beside (or coloured by) its group."""
    from dashboards.pages import compare, rankings, watchlist

    # every value near a bound and halves a binary round() reads down: the figure shown is the published one,
    # the group is decided on it (round 8), so each reads in its group
    cases = [*NEAR_BOUNDS, 69.95, 99.95, 125.05]
    df = pl.DataFrame(
        {
            "unit_code": [f"{320100 + i:06d}" for i in range(len(cases))],
            "unit_name": ["城市"] * len(cases),
            "unit_name_en": ["City"] * len(cases),
            "province_name": ["江苏省"] * len(cases),
            "province_name_en": ["Jiangsu"] * len(cases),
            "composite_index": cases,
            "performance_group": [performance_group(v) for v in cases],
            "performance_group_all": [performance_group(v) for v in cases],
            "stage": ["watch"] * len(cases),
            "p05_rank": [None] * len(cases),
            "p95_rank": [None] * len(cases),
            "is_ranked": [True] * len(cases),
            "on_roster": [True] * len(cases),
        },
        schema_overrides={"p05_rank": pl.Int64, "p95_rank": pl.Int64},
    )
    index_cols = [c for c in rankings.column_defs("zh") if c["field"] == "composite_index"]
    assert "composite_index_text" in index_cols[0]["valueFormatter"]["function"]
    for row, v in zip(rankings.ranking_rows(df, "zh"), cases):
        assert _shown_group(row["composite_index_text"]) == performance_group(v)
    wl = df.with_columns(
        dossier_html=pl.lit(None, pl.String),
        dossier_md=pl.lit(None, pl.String),
        share_bottom=pl.lit(None, pl.Float64),
        is_robust=pl.lit(None, pl.Boolean),
        targets_lagging=pl.lit(None, pl.Int64),
        targets_evaluable=pl.lit(None, pl.Int64),
        rank=pl.lit(None, pl.Int64),
        n_ranked=pl.lit(None, pl.Int64),
        rules_fired=pl.lit(None, pl.String),
        year=pl.lit(2024),
    )
    index_cols = [c for c in watchlist.columns("zh") if c["field"] == "composite_index"]
    assert "composite_index_text" in index_cols[0]["valueFormatter"]["function"]
    for row, v in zip(watchlist.watch_rows(wl, "zh", 2024), cases):
        assert _shown_group(row["composite_index_text"]) == performance_group(v)
    for v in cases:
        assert _shown_group(compare._measure_text("composite_index", v)) == performance_group(v)


# --- the acceptance score and its parts -----------------------------------------------------------------------


def _acceptance_row(score: float) -> dict:
    """An indicator-only acceptance row (no third-party weight): the indicator score is the acceptance score."""
    rules = load_rules()
    low, high = rules["ACC.remove_below"], rules["ACC.cultivation_from"]
    band = "title_removed" if score < low else "new_pilot_round" if score < high else "demonstration_cultivation"
    row = {
        "cycle": "2022-2024",
        "cycle_first_year": 2022,
        "judged_year": 2024,
        "acceptance_status": "indicator_only",
        "acceptance_score": score,
        "indicator_score": score,
        "acceptance_band": band,
        "third_party_status": "not_required",
        "third_party_weight": 0.0,
        "third_party_score": None,
        "third_party_evaluator": None,
        "third_party_report_version": None,
    }
    row |= dict.fromkeys(("target_points", "targets_evaluable", "target_weight", "benchmark_year", "level_points"))
    return row | dict.fromkeys(("level_weight", "qlt01_value", "qlt01_national", "targets_unambitious"))


def _acceptance_cases() -> list[float]:
    rules = load_rules()
    return [b - d for b in (rules["ACC.remove_below"], rules["ACC.cultivation_from"]) for d in (0.004, 0.0001)]


@pytest.mark.parametrize("score", _acceptance_cases())
def test_an_indicator_only_score_reads_as_the_acceptance_score_beside_it(score):
    """69.996 indicator-only: the dossier said "Acceptance score 69.99 — new pilot round" and, one line below,
    "Indicator-based score: 70.0" -- the same number, read across the threshold; the profile likewise (70.00)."""
    from dashboards.pages.profile import acceptance_view
    from pipelines.evaluation.dossier import _acceptance_lines
    from pipelines.evaluation.rules import acceptance_score_text

    row = _acceptance_row(score)
    shown = acceptance_score_text(score)
    lines = _acceptance_lines(row, bands_text=lambda *a, **k: "")
    assert f"**{shown}**" in lines[0]
    indicator = next(line for line in lines if line.startswith("- 指标得分"))
    assert f": {shown}" in indicator, indicator
    view = str(acceptance_view(pl.DataFrame([row]), None, None, "en"))
    assert view.count(f"'{shown}'") >= 2, view  # the indicator-based cell and the acceptance cell
    rounded = f"{score:.2f}"
    assert f"'{rounded}'" not in view and f"'{score:.1f}'" not in view


# --- released verdicts ----------------------------------------------------------------------------------------


def test_a_rank_moved_by_peers_is_marked_as_differing_from_the_release():
    """Peers' revised data can move a city's rank with its own stage and index unchanged; the rank as released
    is shown beside the current one, so the current figures differ and must be marked."""
    from pipelines.evaluation.releases import released_differs

    released = {"stage": "normal", "composite_index": 98.2, "rank": 11}
    assert released_differs(released, {"stage": "normal", "composite_index": 98.2, "rank": 12})
    assert not released_differs(released, {"stage": "normal", "composite_index": 98.2, "rank": 11})
    # rows without a rank (older callers) are still compared on stage and index
    assert not released_differs(
        {"stage": "normal", "composite_index": 98.2}, {"stage": "normal", "composite_index": 98.2}
    )


def test_the_dossier_keeps_the_released_acceptance_band_and_says_the_current_one_differs():
    """A revised file of the cycle moves the acceptance score across the removal threshold after the release: the
    dossier showed only the current band (title removed) as if it were the published verdict."""
    from pipelines.evaluation.dossier import _render
    from pipelines.evaluation.rules import acceptance_score_text

    low = load_rules()["ACC.remove_below"]
    released = _acceptance_row(low + 1.5)
    current = _acceptance_row(low - 0.5)
    d = _dossier_input(95.0, performance_group(95.0))
    d["acceptance"] = current
    d["release"] = {
        "release_id": "R2024-01",
        "released_at": "2025-07-15 10:00:00",
        "data_version": "3f-abc",
        "code_version": "abc",
        "window_first_year": 2016,
        "window_last_year": 2024,
        "supersedes_release_id": None,
    }
    d["released"] = None
    d["released_acceptance"] = released
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时验收评分"))
    # the band as released in words (releases.release_acceptance_text, the acceptance alert's wording), both languages
    assert acceptance_score_text(released["acceptance_score"]) in line
    assert (
        label_text(released["acceptance_band"], "zh") in line and label_text(released["acceptance_band"], "en") in line
    )
    assert "current data differ from the release" in line
    d["acceptance"] = released  # unchanged since the release: no mark
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时验收评分"))
    assert "differ" not in line


# --- the six-month reporting deadline, on the China Standard Time calendar ------------------------------------


@pytest.fixture(scope="module")
def late_by_the_clock(tmp_path_factory):
    """110100 sends nothing for 2023 until a file first seen 2024-07-01 00:30 UTC+8 (2024-06-30 16:30 UTC): a day
    after the grace period (30 June). The ingest loads it a minute later on a machine whose clock is UTC, so the
    ledger's load time reads 2024-06-30 16:31 -- a calendar day inside the grace period."""
    work = tmp_path_factory.mktemp("late_by_the_clock")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
        F.reporting(con, stops_after={"110100": 2022})
        con.execute("create table if not exists raw.file_receipts (" + F.RAW_FIXTURE_DDL["file_receipts"] + ")")
        con.execute(
            "insert into raw.pledge_loans (city_code, month, year, amount_10k_yuan, _ingested_at, _source_file) "
            "values ('110100', date '2023-12-01', 2023, 100.0, timestamp '2024-06-30 16:31:00', 'bj_2023.csv')"
        )
        con.execute(
            """insert into raw.ingested_files (source, file_hash, file_name, partition, rows_read, rows_loaded,
               rows_rejected, status, ingested_at)
               values ('pledge_loans', 'hbj2023', 'bj_2023.csv', '2023', 1, 1, 0, 'loaded',
                       timestamp '2024-06-30 16:31:00')"""
        )
        con.execute(
            """insert into raw.file_receipts (source, file_name, file_hash, first_seen_utc, first_seen_on, seen_by)
               values ('pledge_loans', 'bj_2023.csv', 'hbj2023', timestamp '2024-06-30 16:30:00',
                       date '2024-07-01', 'ingest')"""
        )
    F.run_evaluation_dbt(wh, work)
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql("select * from marts.fct_reporting_status").pl()


def test_a_report_seen_after_the_grace_period_in_cst_is_not_reported(late_by_the_clock):
    row = late_by_the_clock.filter(
        (pl.col("unit_code") == "110100") & (pl.col("source") == "pledge_loans") & (pl.col("year") == 2023)
    ).row(0, named=True)
    assert str(row["grace_end_date"]) == "2024-06-30"
    assert str(row["received_date"]) == "2024-07-01" and row["receipt_evidence"] == "first_seen"
    assert row["status"] == "not_reported" and row["received_after_grace_end"]


def test_the_extract_keeps_the_released_acceptance_band_beside_the_current_one():
    """The provincial extract of a released year listed only the current acceptance score and band: a city moved
    across the removal threshold by a revised file after the release found a band in the extract that was never
    published. The released cycle's row now carries the released score and band and says it differs."""
    from pipelines.extracts import HEADERS, with_released_acceptance

    low = load_rules()["ACC.remove_below"]
    con = duckdb.connect()
    con.execute("create schema releases")
    con.execute(
        """create table releases.acceptance_score as select * from (values
             ('R2024-01', '320100', 2022, ?, 'new_pilot_round', 'indicator_only'),
             ('R2024-01', '320200', 2022, ?, 'new_pilot_round', 'indicator_only'))
           t(release_id, unit_code, cycle_first_year, acceptance_score, acceptance_band, acceptance_status)""",
        [low + 1.5, low + 2.0],
    )
    current = pl.DataFrame(
        {
            "unit_code": ["320100", "320100", "320200"],
            "cycle_first_year": [2019, 2022, 2022],
            "acceptance_score": [low + 5.0, low - 0.5, low + 2.0],
            "acceptance_band": ["new_pilot_round", "title_removed", "new_pilot_round"],
            "acceptance_status": ["indicator_only"] * 3,
        }
    )
    out = with_released_acceptance(con, current, 2024, {"release_id": "R2024-01", "derived": False})
    rows = {(r["unit_code"], r["cycle_first_year"]): r for r in out.iter_rows(named=True)}
    moved = rows[("320100", 2022)]
    assert moved["released_acceptance_band"] == "new_pilot_round" and moved["acceptance_band"] == "title_removed"
    assert moved["released_acceptance_score"] == low + 1.5 and moved["differs_from_release"] is True
    assert rows[("320200", 2022)]["differs_from_release"] is False
    # another cycle's row was not released with this year: no released figures, no verdict on it
    assert rows[("320100", 2019)]["released_acceptance_band"] is None
    assert rows[("320100", 2019)]["differs_from_release"] is None
    assert {"released_acceptance_score", "released_acceptance_band"} <= set(HEADERS)


# --- the stated reasons match the numbers that decided ----------------------------------------------------------


@pytest.fixture(scope="module")
def barely_improved(tmp_path_factory):
    """The leader 120100 gains 6.04 points on its 2016 baseline by 2018 and 2019 (the 2017-2019 cycle's end), and
    EX1 asks for a gain above 6: it is exemplary by 0.04 points, which one decimal would state as "+6.0" -- a gain
    that does not exceed 6. In 2021 it gains 8.96 on its 2019 baseline, well above."""
    work = tmp_path_factory.mktemp("barely_improved")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
        con.execute(
            "update marts.fct_city_score_year set composite_index = 136.04 "
            "where unit_code = '120100' and year in (2018, 2019)"
        )
    F.run_evaluation_dbt(wh, work, F.rules_with({("EX1", "improve_min_points"): "6"}))
    with duckdb.connect(str(wh), read_only=True) as con:
        return {
            t: con.sql(f"select * from marts.{t} where unit_code = '120100'").pl()
            for t in ("fct_evaluation_year", "fct_evaluation_cycle")
        }


def test_a_gain_the_published_figures_do_not_show_does_not_make_a_city_exemplary(barely_improved):
    """Round 1 stated the hidden gain ("+6.04") so the reason read above EX1's minimum; since round 11 the change is
    that of the published indices (136.0 against 130.0: +6.0), judged as shown: a city read as gaining 6.0 is not
    exemplary by a gain above 6, and no text states a figure the index tables do not show."""
    years = barely_improved["fct_evaluation_year"]
    for year in (2018, 2019):
        row = years.filter(pl.col("year") == year).row(0, named=True)
        assert row["index_change_cycle"] == pytest.approx(6.0) and row["stage"] != "exemplary", row
        assert "+6.04" not in (row["rules_fired"] or ""), row["rules_fired"]
    cycle = barely_improved["fct_evaluation_cycle"].filter(pl.col("cycle") == "2017–2019").row(0, named=True)
    assert cycle["verdict"] != "exemplary", cycle
    assert "6.04" not in (cycle["evidence"] or ""), cycle["evidence"]
    # a gain well above the minimum keeps its one decimal
    later = years.filter(pl.col("year") == 2021).row(0, named=True)
    assert later["stage"] == "exemplary" and later["rules_fired"].endswith("+9.0)")


def test_the_chinese_reasons_state_the_numbers_the_english_ones_do(barely_improved):
    """The Chinese rules text is rebuilt from the row's values: it stated EX1's gain otherwise than the English (the
    mart's sentence), and R2 without the threshold the change was compared with."""
    from dashboards.evaluation_text import rules_text

    row = barely_improved["fct_evaluation_year"].filter(pl.col("year") == 2021).row(0, named=True)
    assert "+9.0" in rules_text(row, "en") and "+9.0" in rules_text(row, "zh")
    r2 = {
        "fired_r2": True,
        "index_change_cycle": -6.0,
        "r2_threshold_points": 5.3,
        "rules_fired": "R2 rectification (index change over cycle -6.0, threshold -5.3)",
    }
    # both with the true minus the charts print (tests/test_dashboard_trust3.py)
    assert "\u22125.3" in rules_text(r2, "en") and "\u22125.3" in rules_text(r2, "zh")


# --- verdicts never decided by floating-point noise -----------------------------------------------------------


@pytest.fixture(scope="module")
def float_noise(tmp_path_factory):
    """Two indices equal in decimal arithmetic that differ by ~1e-13 in doubles (a sum added in another order in
    another year or engine): 130200 (rectification in 2017-2019, still in the bottom group) is at 66 in 2021 as in
    its 2019 baseline, 66.0000000000001 here -- no better, so an exit candidate; 120100 gains exactly 6 on its 2016
    baseline by 2018, 6.0000000000001 here, and EX1 asks for more than 6."""
    work = tmp_path_factory.mktemp("float_noise")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
        con.execute(
            "update marts.fct_city_score_year set composite_index = 66.0000000000001 "
            "where unit_code = '130200' and year = 2021"
        )
        con.execute(
            "update marts.fct_city_score_year set composite_index = 136.0000000000001 "
            "where unit_code = '120100' and year = 2018"
        )
    F.run_evaluation_dbt(wh, work, F.rules_with({("EX1", "improve_min_points"): "6"}))
    with duckdb.connect(str(wh), read_only=True) as con:
        return con.sql("select * from marts.fct_evaluation_year").pl()


def test_float_noise_neither_saves_a_city_from_exit_nor_makes_one_exemplary(float_noise):
    def row(unit: str, year: int) -> dict:
        return float_noise.filter((pl.col("unit_code") == unit) & (pl.col("year") == year)).row(0, named=True)

    stuck = row("130200", 2021)
    assert stuck["index_change_cycle"] == 0 and stuck["stage"] == "exit_candidate", stuck["rules_fired"]
    level = row("120100", 2018)
    assert level["index_change_cycle"] == 6 and level["stage"] == "normal", level["rules_fired"]


def _bound_cases() -> list[tuple[float, str]]:
    """(an index a float-noise step off a band bound, the group of the bound itself) for every bound."""
    out = []
    for b in BOUNDS:
        exact = performance_group(b)
        out += [(b - 2e-14 * b, exact), (b + 2e-14 * b, exact)]
    return out


def test_the_performance_group_of_an_index_on_a_bound_ignores_float_noise(tmp_path):
    """The dbt macro (through the real project, on DuckDB) and the Python readers (dashboard, uncertainty runs)
    put an index that is a band bound in decimal arithmetic, but 1e-14 off it in doubles, in the bound's group:
    a city must not be watched (bottom group, W1) because its sums were added in another order."""
    import json
    import os
    import subprocess

    import numpy as np
    from dbt_helpers import DBT, dbt

    from pipelines.evaluation.uncertainty import performance_group_codes
    from pipelines.labels import group_names
    from pipelines.settings import DBT_PROJECT_DIR

    cases = _bound_cases()
    for index, group in cases:
        assert performance_group(index) == group, (index, group)
    positions = performance_group_codes(np.array([i for i, _ in cases]))
    assert [group_names()[p] for p in positions] == [g for _, g in cases]

    wh = tmp_path / "wh.duckdb"
    dbt(["seed", "--select", "performance_bands", "evaluation_rules"], wh, tmp_path)
    dbt(["run", "--select", "int_performance_bands"], wh, tmp_path)
    values = " union all ".join(f"select cast({i!r} as double) as x" for i, _ in cases)
    res = subprocess.run(
        [
            str(DBT),
            "show",
            "--inline",
            # the macro bands the published figure (round 8), as fct_city_score_year passes it
            f"select x, {{{{ performance_group(published_index('x')) }}}} as g from ({values}) as t",
            "--limit",
            "-1",
            "--output",
            "json",
            "-q",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "IPCITY_WAREHOUSE": str(wh)},
        cwd=DBT_PROJECT_DIR,
    )
    assert res.returncode == 0, res.stdout[-3000:]
    shown = {r["x"]: r["g"] for r in json.loads(res.stdout[res.stdout.index("{") :])["show"]}
    assert [shown[i] for i, _ in cases] == [g for _, g in cases]


# --- a city judged on part of its indicators is told so ---------------------------------------------------------


def test_the_dossier_says_which_indicators_the_score_stands_without():
    """A unit ranked on 80 % of its composite weight (one indicator missing, one imputed) got a dossier with its
    rank and stage and no word of it."""
    from pipelines.evaluation.dossier import _render

    d = _dossier_input(95.0, performance_group(95.0))
    d["score"]["indicator_coverage"] = 0.8
    d["gaps"] = pl.DataFrame(
        {"indicator_code": ["PRO02", "UTL03"], "is_missing": [True, False], "is_imputed": [False, True]}
    )
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    assert "Indicator coverage: 80.0%" in markdown_text
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 缺失指标"))
    assert "Missing indicators: PRO02" in line and "Imputed indicators: UTL03" in line
    # complete data say so too, rather than nothing
    d["score"]["indicator_coverage"], d["gaps"] = 1.0, pl.DataFrame()
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    assert "No indicator missing or imputed this year" in markdown_text


def test_every_reader_names_the_same_latest_release():
    """The restatement R2024-02 was released on a machine whose clock had moved from UTC+8 to UTC, so its
    released_at reads earlier than R2024-01's: the extracts (latest by released_at) named the superseded
    R2024-01 while the dashboard and the dossier (latest by id) named R2024-02."""
    from pipelines.evaluation.releases import ensure_release_schema, latest_release
    from pipelines.extracts import release_info

    con = duckdb.connect()
    ensure_release_schema(con)
    con.execute(
        """insert into releases.releases (release_id, evaluation_year, released_at) values
             ('R2024-01', 2024, timestamp '2025-07-15 10:00:00'),
             ('R2024-02', 2024, timestamp '2025-07-15 02:30:00')"""
    )
    assert latest_release(con, 2024)["release_id"] == release_info(con, 2024)["release_id"] == "R2024-02"
    # the hundredth restatement follows the ninety-ninth
    con.execute(
        "insert into releases.releases (release_id, evaluation_year, released_at) values "
        "('R2023-99', 2023, timestamp '2025-01-01'), ('R2023-100', 2023, timestamp '2025-01-02')"
    )
    assert latest_release(con, 2023)["release_id"] == release_info(con, 2023)["release_id"] == "R2023-100"
