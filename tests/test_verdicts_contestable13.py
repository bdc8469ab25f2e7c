"""Verdicts a city cannot contest, round 13.

1. Alerts never named a release: after a release and then a restatement or a corrected file, the stage alert spoke of
   the current marts only, so a city read a stage no published document held and could not tell which verdict was
   official. An alert about a city whose year was released now names the release that is the official verdict (id,
   Beijing time, marked) and, where the current figures differ as shown, old → new -- worded by the one function the
   profile and the dossier use (releases.release_verdict_text; labels seed official_verdict_release,
   current_data_differ), in both languages.

Labels and thresholds are read from the seeds, never copied here.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl
import pytest

from pipelines.china_time import ZONE_NAME
from pipelines.labels import index_text, label_text

# released at 20:00 UTC: 04:00 the next day in Beijing, the day every surface must name
RELEASED_AT = datetime(2025, 7, 15, 20, 0)
BEIJING = "2025-07-16 04:00"
RELEASE = {
    "release_id": "R2025-02",
    "evaluation_year": 2025,
    "released_at": RELEASED_AT,
    "data_version": "3f-abc",
    "catalog_version": "2024.1",
    "rules_version": "2024.1",
    "code_version": "abc",
    "window_first_year": 2016,
    "window_last_year": 2025,
    "supersedes_release_id": "R2025-01",
}
# 410100: released in watch at 60.0 (rank 39/40), a corrected file since moved it to rectification at 58.2 (40/40);
# 410300: released as it reads now
RELEASED = {
    "410100": {"stage": "watch", "composite_index": 60.0, "rank": 39, "n_ranked": 40},
    "410300": {"stage": "exit_candidate", "composite_index": 55.0, "rank": 38, "n_ranked": 40},
}
CURRENT = {
    "410100": {"stage": "rectification", "composite_index": 58.2, "rank": 40, "n_ranked": 40},
    "410300": {"stage": "exit_candidate", "composite_index": 55.0, "rank": 38, "n_ranked": 40},
}


def _warehouse(with_release: bool = True) -> duckdb.DuckDBPyConnection:
    """The marts an alert reads (real DuckDB) and, after a release, the releases schema the release step writes."""
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        """create table marts.dim_city as select * from (values
             ('410100', '郑州市', 'Zhengzhou', '410000', '河南省', true, 'active'),
             ('410300', '洛阳市', 'Luoyang', '410000', '河南省', true, 'active'))
           t(unit_code, unit_name, unit_name_en, province_code, province_name, is_programme, programme_status)"""
    )
    rows = [(u, 2025, c["rank"], c["n_ranked"], False, c["composite_index"], c["stage"]) for u, c in CURRENT.items()]
    con.execute(
        "create table marts.fct_city_score_year (unit_code string, year integer, rank integer, n_ranked integer, "
        "rank_is_shared boolean, composite_index double, performance_group string, rank_change integer)"
    )
    # both in the bottom group, 410100 down 20 ranks: the group and rank alerts are about the released year too
    from pipelines.evaluation.rules import load_rules

    bottom = load_rules()["W1.bottom_group"]
    con.execute(
        "create table marts.evaluation_rules as select 'W1' as rule_code, 'bottom_group' as param, ? as value", [bottom]
    )
    con.executemany(
        "insert into marts.fct_city_score_year values (?, ?, ?, ?, ?, ?, ?, ?)",
        [(*r[:6], bottom, -20 if r[0] == "410100" else 0) for r in rows],
    )
    con.execute(
        "create table marts.fct_evaluation_year (unit_code string, year integer, stage string, is_robust boolean, "
        "rules_fired string, composite_index double, rank integer, n_ranked integer)"
    )
    con.executemany(
        "insert into marts.fct_evaluation_year values (?, ?, ?, true, 'R1', ?, ?, ?)",
        [(u, 2025, c["stage"], c["composite_index"], c["rank"], c["n_ranked"]) for u, c in CURRENT.items()],
    )
    if with_release:
        con.execute("create schema releases")
        con.execute(
            "create table releases.releases as select ? as release_id, 2025 as evaluation_year, "
            "cast(? as timestamp) as released_at",
            [RELEASE["release_id"], RELEASED_AT],
        )
        # the superseded release of the year says otherwise: the latest one is the official verdict
        con.execute("insert into releases.releases values ('R2025-01', 2025, timestamp '2025-06-30 02:00:00')")
        con.execute(
            "create table releases.evaluation_year (release_id string, unit_code string, stage string, "
            "composite_index double, rank integer, n_ranked integer)"
        )
        con.executemany(
            "insert into releases.evaluation_year values (?, ?, ?, ?, ?, ?)",
            [
                (RELEASE["release_id"], u, r["stage"], r["composite_index"], r["rank"], r["n_ranked"])
                for u, r in RELEASED.items()
            ]
            + [("R2025-01", u, "normal", 99.0, 1, 40) for u in RELEASED],
        )
        con.execute(
            "create table releases.city_score_year as select release_id, unit_code, composite_index, rank "
            "from releases.evaluation_year"
        )
    return con


def _stage_alerts(con) -> dict:
    from pipelines.alerts.conditions import stage
    from pipelines.alerts.config import load_rules

    return {c.unit_code: c for c in stage(con, load_rules())}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_stage_alert_names_the_release_that_is_the_official_verdict_and_what_moved_since(lang):
    alerts = _stage_alerts(_warehouse())
    moved, same = (getattr(alerts[u], f"title_{lang}") for u in ("410100", "410300"))
    for title in (moved, same):
        assert "R2025-02" in title and "R2025-01" not in title, title
        assert f"{BEIJING} {ZONE_NAME[lang]}" in title, title
        assert label_text("official_verdict_release", lang) in title, title
    # the corrected file moved 410100: old → new as shown, stage, index and rank
    assert label_text("current_data_differ", lang) in moved, moved
    assert f"{label_text('watch', lang)} → {label_text('rectification', lang)}" in moved, moved
    assert f"{index_text(60.0)} → {index_text(58.2)}" in moved and "39/40 → 40/40" in moved, moved
    assert label_text("current_data_differ", lang) not in same, same
    assert alerts["410100"].detail["release_id"] == "R2025-02"


@pytest.mark.parametrize("condition", ["bottom_group", "rank_drop"])
def test_the_group_and_rank_alerts_of_a_released_year_name_the_release_too(condition):
    from pipelines.alerts import conditions
    from pipelines.alerts.config import load_rules
    from pipelines.evaluation.releases import release_verdict_text

    (alert,) = [c for c in getattr(conditions, condition)(_warehouse(), load_rules()) if c.unit_code == "410100"]
    for lang in ("zh", "en"):
        text = release_verdict_text(RELEASE, RELEASED["410100"], CURRENT["410100"], lang)
        assert text in getattr(alert, f"title_{lang}")


def test_a_year_not_released_names_no_release():
    alerts = _stage_alerts(_warehouse(with_release=False))
    for c in alerts.values():
        assert label_text("official_verdict_release", "zh") not in c.title_zh
        assert label_text("official_verdict_release", "en") not in c.title_en
        assert c.detail["release_id"] is None


def test_the_alert_the_profile_and_the_dossier_word_the_release_alike():
    """One function words the official verdict (releases.release_verdict_text): the alert's clause is the profile's
    line and the dossier's, in each language."""
    from test_verdicts_contestable import _dossier_input

    from dashboards.pages.profile import acceptance_view
    from pipelines.evaluation.dossier import _render
    from pipelines.evaluation.releases import release_verdict_text, released_differs
    from pipelines.labels import performance_group

    alerts = _stage_alerts(_warehouse())
    released, current = RELEASED["410100"], CURRENT["410100"]
    d = _dossier_input(current["composite_index"], performance_group(current["composite_index"]))
    d["score"] |= {k: current[k] for k in ("composite_index", "rank", "n_ranked")} | {"rank_is_shared": False}
    d["evaluation"] = {**current, "is_robust": True, "cycle": "2025–2027", "rules_version": "2024.1"}
    d["evaluation"] |= {"rules_fired": None}
    d["release"], d["released"] = RELEASE, released
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    dossier_line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时结论"))
    status = RELEASE | {
        "released": released,
        "current": current,
        "differs": released_differs(released, current),
        "released_cycle": None,
        "current_cycle": None,
    }
    for lang in ("zh", "en"):
        text = release_verdict_text(RELEASE, released, current, lang)
        assert label_text("current_data_differ", lang) in text
        assert text in getattr(alerts["410100"], f"title_{lang}")
        assert text in str(acceptance_view(None, status, None, lang))
        assert text in dossier_line, (text, dossier_line)


# --- 2. every clause of a cycle's evidence names its threshold -------------------------------------------------------
# (the model's clauses: dbt unit test every_clause_of_the_cycle_evidence_names_its_figures_threshold_years_and_rules,
# run by tests/test_patents_in_force.py; their Chinese wording: round 12's clause list, updated)

# the thresholds the evidence names and the precision it writes them at (fct_evaluation_cycle: published_text for
# the index points, decimal_text(…, 2) for shares)
SHOWN_AT = {
    ("X1", "improve_min_points"): None,
    ("EX1", "improve_min_points"): None,
    ("W2", "lagging_share"): 2,
    ("GEN", "robust_share"): 2,
}


def test_every_threshold_the_evidence_names_reads_exactly_at_the_precision_shown():
    """A clause names the threshold that judged the figure beside it: a seed value the shown precision would round
    (an improve_min_points of 0.25 read "0.3" beside a gain of 0.3 that fired) would name another threshold than the
    one applied. Every rules version of the seed is checked, so a seed change that breaks this fails here."""
    import csv
    from decimal import Decimal

    from pipelines.labels import index_decimals
    from pipelines.settings import DBT_PROJECT_DIR

    with open(DBT_PROJECT_DIR / "seeds/evaluation_rules.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if (r["rule_code"], r["param"]) in SHOWN_AT]
    assert {(r["rule_code"], r["param"]) for r in rows} == set(SHOWN_AT)
    for r in rows:
        digits = SHOWN_AT[(r["rule_code"], r["param"])]
        digits = index_decimals() if digits is None else digits
        value = Decimal(r["value"])
        assert value == value.quantize(Decimal(1).scaleb(-digits)), (r["rules_version"], r["rule_code"], r["param"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_and_the_dossier_show_the_thresholds_of_the_evidence(lang):
    """The clauses reach the reader with their thresholds and years in both languages (one wording function)."""
    from test_verdicts_contestable import _dossier_input
    from test_verdicts_contestable10 import ACROSS

    from dashboards.evaluation_text import evidence_text
    from dashboards.pages.profile import cycle_rows
    from pipelines.evaluation.dossier import _render
    from pipelines.labels import RANGE_DASH, performance_group

    evidence = (
        f"X1 previous cycle in rectification, index change 2019{RANGE_DASH}2022 -1.2, not above 0.5 (rules 2024.1); "
        f"W2 targets lagging in 1 year(s) 2021 (2021 3/4 = 0.75 > 0.50)"
    )
    worded = evidence_text(evidence, lang)
    for figure in ("1.2", "0.5", "2024.1", "3/4", "0.75", "0.50", f"2019{RANGE_DASH}2022"):
        assert figure in worded, (figure, worded)
    (profile,) = cycle_rows(pl.DataFrame([ACROSS | {"evidence": evidence}]), lang)
    assert worded in profile["evidence"]
    d = _dossier_input(65.0, performance_group(65.0))
    d["cycles"] = pl.DataFrame([ACROSS | {"evidence": evidence}])
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    assert worded in markdown_text


# --- 4. robustness is never a bare null ------------------------------------------------------------------------------
# 510400 (攀枝花) on the sample: released 2025 as review, is_robust false; a corrected pledge file moved its stage to
# normal and is_robust to null, which every surface showed as "–" or an empty cell -- a verdict's robustness with no
# reason. The marts now say why (robustness: robustness_not_applicable for a year that raised no flag,
# robustness_not_assessed for a flag without uncertainty runs), and every surface words it with one function.


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """The evaluation models run by the real dbt on the rule cases (one unit per rule)."""
    import evaluation_fixtures as F

    work = tmp_path_factory.mktemp("robustness")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
    F.run_evaluation_dbt(wh, work, F.rules_with({}))
    with duckdb.connect(str(wh), read_only=True) as con:
        return (
            con.sql("select * from marts.fct_evaluation_year").pl(),
            con.sql("select * from marts.fct_evaluation_cycle").pl(),
        )


def test_the_marts_say_why_a_finding_is_robust_or_not_and_the_readers_read_it_alike(evaluated):
    from pipelines.labels import label_set, robustness_code

    codes = set(label_set("robustness"))
    for df, key in zip(evaluated, ("stage", "verdict"), strict=True):
        assert df["robustness"].null_count() == 0
        assert set(df["robustness"].unique()) <= codes
        for row in df.iter_rows(named=True):
            # the readers' reading of a row published before the column is the mart's own
            older = {k: v for k, v in row.items() if k != "robustness"}
            assert robustness_code(older, key) == row["robustness"], row
            if row["is_robust"] is None:
                assert row["robustness"] in ("robustness_not_applicable", "robustness_not_assessed"), row
    years, cycles = evaluated
    normal = years.filter(pl.col("stage") == "normal")
    assert normal.height and set(normal["robustness"]) == {"robustness_not_applicable"}
    # not reporting is a fact of the ledger: robust in the cycle as in its years, uncertainty runs or not
    assert set(cycles.filter(pl.col("verdict") == "not_reported")["robustness"]) <= {"robust"}


@pytest.mark.parametrize(
    ("row", "code"),
    [
        ({"stage": "normal", "is_robust": None}, "robustness_not_applicable"),
        ({"stage": "watch", "is_robust": None}, "robustness_not_assessed"),
        ({"stage": "review", "is_robust": False}, "not_robust"),
    ],
)
def test_every_surface_says_why_a_finding_has_no_robustness(row, code):
    """The profile's stage grid, the watchlist, the flag page's mark, the dossier and the extract: the reason in
    words, in each language, where they showed "–", an empty cell or nothing."""
    from test_verdicts_contestable import _dossier_input

    from dashboards.pages.profile import stage_rows
    from dashboards.pages.watchlist import robust_label
    from pipelines.evaluation.dossier import _render
    from pipelines.extracts import HEADERS, _in_words
    from pipelines.labels import performance_group

    full = {"unit_code": "510400", "year": 2025, "share_bottom": 0.0, "rules_fired": None, **row}
    for lang in ("zh", "en"):
        words = label_text(code, lang)
        assert words in robust_label(full, lang)
        (grid,) = stage_rows(pl.DataFrame([full]), lang)
        assert words in grid["robust_label"]
    d = _dossier_input(80.0, performance_group(80.0))
    d["evaluation"] = {**full, "cycle": "2023–2025", "rules_version": "2024.1"}
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 稳健性"))
    assert label_text(code, "zh") in line and label_text(code, "en") in line, line
    # the extract's column in words, beside is_robust
    assert "robustness" in HEADERS
    cells = _in_words(pl.DataFrame([{"robustness": code}]))
    assert cells["robustness"].to_list() == [label_text(code, "zh")]


# --- 3. a cycle's index change across a catalog change says so ------------------------------------------------------
# X1 and EX1 judge the change of the PUBLISHED indices of the baseline year and the last year (round 11); when the
# two were scored under different catalogs (2021.1 -> 2024.1 inside 2020-2022) the change mixes what the city did
# with the weight switch, and only R2 re-weighted. The office defends the published figures -- each the figure the
# city read and was ranked on; re-scoring a published baseline would move a figure already published -- so the
# comparison stays, and the cycle says what it compares: the catalogs of both ends, whether the change is
# like-for-like and, when not, the like-for-like change beside it (dbt unit test
# a_cycle_across_a_rules_change_and_a_group_change_names_what_judged_it). On the sample: 82 cycles of 2020-2022
# and 2022-2024 compare 2021.1 with 2024.1, 10 of them exemplary or exit candidates (410700's 2020-2022 exit
# candidacy: -2.4 published, +0.1 like-for-like).


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_cycle_table_says_which_catalogs_its_change_compares(lang):
    from test_verdicts_contestable import _dossier_input
    from test_verdicts_contestable10 import ACROSS

    from dashboards.evaluation_text import cycle_judged_by_text
    from dashboards.pages.profile import cycle_rows
    from pipelines.evaluation.dossier import _render
    from pipelines.labels import performance_group

    across = ACROSS | {
        "baseline_catalog_version": "2021.1",
        "end_catalog_version": "2024.1",
        "index_change_like_for_like": False,
        "index_change_same_catalog": 1.2,
    }
    text = cycle_judged_by_text(across, lang)
    assert "2021.1 → 2024.1" in text and "+1.2" in text, text
    same = across | {"baseline_catalog_version": "2024.1", "index_change_like_for_like": True}
    assert "2021.1 → 2024.1" not in cycle_judged_by_text(same, lang)
    assert cycle_judged_by_text(same, lang) != cycle_judged_by_text(ACROSS, lang)  # like-for-like is said too
    # the profile's cycle table and the dossier's, by the one function
    (profile,) = cycle_rows(pl.DataFrame([across]), lang)
    assert text in profile["judged_by"]
    d = _dossier_input(65.0, performance_group(65.0))
    d["cycles"] = pl.DataFrame([across])
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    assert text in markdown_text
