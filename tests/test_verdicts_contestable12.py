"""Verdicts a city cannot contest, round 12 (probed on the real pipeline: a release, a corrected file, a restatement).

1. "Current data differ from the release" was judged on the UNROUNDED figures (a tolerance of 1e-9) by the dossier
   and the profile, while the extracts compared the published ones: a city reading index 80.0 as released and 80.0
   now was told its figures differ in the dossier and the profile, not in its extract. One definition now
   (releases.released_differs / released_acceptance_differs): the index as published (GEN.index_decimals), the
   acceptance score as shown (cut at two decimals) -- the figures the ranks, groups and bands are decided on.
2. The restatement diff (CLI table, releases.restatement_diff, changed_units) named every city whose unrounded index
   moved, with 6 significant figures no reader sees: a city whose published figures did not move was listed as
   changed. It now compares and writes the figures as shown.
3. The dossier dated a release with the stored UTC time, unmarked ("2026-12-05 22:30:27" for a release the
   extracts' cover dates 2026-12-06 06:30 北京时间): after 16:00 UTC the two said different days. The dossier
   now shows Beijing time, marked; the profile, which showed no release time at all, shows the same.
4. The dossier's cycle evidence was the mart's English clauses only, in a bilingual document whose profile words
   them in Chinese: both languages now, by the profile's function (evaluation_text.evidence_text).
5. Two clauses of that evidence had no Chinese wording -- the exit for late reporting ("not reported within the
   grace period in N year(s) (counts as exit)") and the manual review -- so a Chinese reader read them in English
   on the profile (8 review cycles of the sample). Every branch of the model's evidence now has one, checked
   branch by branch against the model (a new branch without a wording fails the count).

Labels and thresholds are read from the seeds, never copied here.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl
import pytest
from test_verdicts_contestable import _acceptance_row, _dossier_input
from test_verdicts_contestable10 import ACROSS

from pipelines.evaluation.rules import acceptance_score_text, load_rules
from pipelines.labels import index_decimals, index_text, load_bands, performance_group

BOUNDS = sorted({b.lower_bound for b in load_bands() if b.lower_bound is not None})
STEP = 10.0 ** -index_decimals()
# a release at 20:00 UTC is 04:00 the next day in Beijing: the day a city reads differs from the stored one
RELEASED_AT = datetime(2025, 7, 15, 20, 0)
BEIJING = "2025-07-16 04:00"


def _same_shown(bound: float) -> tuple[float, float]:
    """Two different unrounded indices that read as the same published figure, just above ``bound``."""
    a, b = bound + 0.1 * STEP, bound + 0.4 * STEP
    assert index_text(a) == index_text(b) and a != b
    return a, b


def _across_shown(bound: float) -> tuple[float, float]:
    """Two indices 0.002 * STEP apart that read differently: either side of the half step below ``bound``."""
    a, b = bound - 0.501 * STEP, bound - 0.499 * STEP
    assert index_text(a) != index_text(b)
    return a, b


def _release(released_at=RELEASED_AT) -> dict:
    return {
        "release_id": "R2024-02",
        "evaluation_year": 2024,
        "released_at": released_at,
        "data_version": "3f-abc",
        "catalog_version": "2024.1",
        "rules_version": "2024.1",
        "code_version": "abc",
        "window_first_year": 2016,
        "window_last_year": 2024,
        "supersedes_release_id": "R2024-01",
    }


# --- 1. "differs from the release" judged on the figures shown ----------------------------------------------------


@pytest.mark.parametrize("bound", BOUNDS)
def test_differs_from_the_release_is_judged_on_the_published_index(bound):
    from pipelines.evaluation.releases import released_differs

    old, new = _same_shown(bound)
    released = {"stage": "watch", "composite_index": old, "rank": 7}
    assert not released_differs(released, {"stage": "watch", "composite_index": new, "rank": 7})
    old, new = _across_shown(bound)
    assert released_differs({"stage": "watch", "composite_index": old}, {"stage": "watch", "composite_index": new})


@pytest.mark.parametrize("param", ["ACC.remove_below", "ACC.cultivation_from"])
def test_differs_from_the_release_is_judged_on_the_acceptance_score_shown(param):
    from pipelines.evaluation.releases import released_acceptance_differs

    bound = load_rules()[param]
    released, current = _acceptance_row(bound + 0.001), _acceptance_row(bound + 0.004)
    assert acceptance_score_text(released["acceptance_score"]) == acceptance_score_text(current["acceptance_score"])
    assert not released_acceptance_differs(released, current)
    # one hundredth apart as shown: differs (same band)
    assert released_acceptance_differs(released, _acceptance_row(bound + 0.011))


@pytest.mark.parametrize("bound", BOUNDS)
def test_the_dossier_the_profile_and_the_extract_agree_on_differs(bound):
    """The three surfaces of one city and year: none says "differ" beside figures that read the same."""
    from dashboards.i18n import t
    from dashboards.pages.profile import acceptance_view
    from pipelines.evaluation.dossier import _render
    from pipelines.evaluation.releases import released_differs
    from pipelines.extracts import with_release

    old, new = _same_shown(bound)
    d = _dossier_input(new, performance_group(new))
    d["evaluation"] = {"stage": "watch", "composite_index": new, "rank": 30, "rules_version": "2024.1"}
    d["evaluation"] |= {"is_robust": None, "cycle": "2022–2024", "rules_fired": None}
    d["release"] = _release()
    d["released"] = {"stage": "watch", "composite_index": old, "rank": 30, "n_ranked": 40}
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时结论"))
    assert "differ" not in line, line

    # the profile reads queries.release_status, whose "differs" is released_differs of the same rows
    status = _release() | {
        "released": d["released"],
        "differs": released_differs(d["released"], d["evaluation"]),
        "released_cycle": None,
        "current_cycle": None,
    }
    view = str(acceptance_view(None, status, None, "en"))
    assert t("differs_from_release", "en") not in view

    con = duckdb.connect()
    con.execute("create schema releases")
    con.execute(
        "create table releases.city_score_year as select 'R2024-02' as release_id, '320100' as unit_code, "
        "? as composite_index, 30 as rank",
        [old],
    )
    con.execute(
        "create table releases.evaluation_year as select 'R2024-02' as release_id, '320100' as unit_code, "
        "'watch' as stage"
    )
    scores = pl.DataFrame({"unit_code": ["320100"], "stage": ["watch"], "composite_index": [new], "rank": [30]})
    out = with_release(con, scores, 2024, {"release_id": "R2024-02", "derived": False})
    assert out["differs_from_release"].to_list() == [False]


# --- 2. the restatement diff names the figures as shown -------------------------------------------------------------


def test_a_restatement_names_only_cities_whose_shown_figures_moved():
    from pipelines.evaluation.releases import restatement_diff

    bound = BOUNDS[0]
    same_old, same_new = _same_shown(bound)
    across_old, across_new = _across_shown(bound)
    cols = {"unit_code": ["320100", "320200"], "unit_name": ["南京市", "无锡市"], "rank": [30, 31]}
    cols |= {"performance_group": [performance_group(same_old), performance_group(across_old)], "stage": ["watch"] * 2}
    old = pl.DataFrame(cols | {"composite_index": [same_old, across_old]})
    new = pl.DataFrame(cols | {"composite_index": [same_new, across_new]})
    new = new.with_columns(performance_group=pl.Series([performance_group(same_new), performance_group(across_new)]))
    con = duckdb.connect()
    con.execute("create schema releases")
    frame = old.with_columns(release_id=pl.lit("R2024-01"))  # noqa: F841
    con.execute("create table releases.evaluation_year as select * from frame")
    diff = restatement_diff(con, {"release_id": "R2024-01"}, {"evaluation_year": new}, ["pledge_loans_2024.csv"])
    assert "320100" not in diff["unit_code"].to_list(), diff
    (row,) = diff.filter((pl.col("unit_code") == "320200") & (pl.col("field") == "composite_index")).iter_rows(
        named=True
    )
    assert (row["old_value"], row["new_value"]) == (index_text(across_old), index_text(across_new))


# --- 3. the release dated in Beijing time on every surface -----------------------------------------------------------


@pytest.mark.parametrize("stored", [RELEASED_AT, "2025-07-15 20:00:00"])
def test_the_dossier_dates_the_release_in_beijing_time(stored):
    from pipelines.china_time import ZONE_NAME
    from pipelines.evaluation.dossier import _render

    d = _dossier_input(80.0, performance_group(80.0))
    d["release"] = _release(stored)
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布编号"))
    assert f"{BEIJING} {ZONE_NAME['zh']} / {ZONE_NAME['en']}" in line and "2025-07-15" not in line, line


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_dates_the_release_in_beijing_time(lang):
    from dashboards.pages.profile import acceptance_view
    from pipelines.china_time import ZONE_NAME

    status = _release() | {"released": {"stage": "watch", "composite_index": 80.0}, "differs": False}
    view = str(acceptance_view(None, status, None, lang))
    assert f"{BEIJING} {ZONE_NAME[lang]}" in view, view


# --- 4. the cycle evidence in both languages, worded once -----------------------------------------------------------


def test_the_dossier_words_the_cycle_evidence_in_both_languages_as_the_profile_does():
    from dashboards.evaluation_text import evidence_text
    from dashboards.pages.profile import cycle_rows
    from pipelines.evaluation.dossier import _render

    evidence = "W2 targets lagging in 1 year(s) 2022; third-party evaluation pending"
    d = _dossier_input(65.0, performance_group(65.0))
    d["cycles"] = pl.DataFrame([ACROSS | {"evidence": evidence}])
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    row = next(x for x in markdown_text.splitlines() if x.startswith("| 2020-2022"))
    for lang in ("zh", "en"):
        worded = evidence_text(evidence, lang)
        assert worded in row, (lang, row)
        (profile,) = cycle_rows(pl.DataFrame([ACROSS | {"evidence": evidence}]), lang)
        assert worded in profile["evidence"]


# --- 5. every clause of a cycle's evidence reads in Chinese -----------------------------------------------------------

# one clause per branch of fct_evaluation_cycle.evidence, in the model's order (numbers as the model writes them)
EVIDENCE_CLAUSES = [
    "withdrawn in 2021",
    # round 13: every clause names its figures, its threshold, its year(s) and the rules version
    "X1 previous cycle in rectification, index change 2019{dash}2022 -1.2, not above 0.0 (rules 2024.1)",
    "R1 in 2020{dash}2021 (2 consecutive watch years, rules 2024.1)",
    "R2 index change over cycle -9.6, threshold -6.8 (2022{dash}2025, rules 2024.1)",
    "not reported within the grace period of 6 months in 2 year(s) 2021{dash}2022 (counts as exit)",
    "review: sanction evidence not robust in 1 year(s) 2023 (robust share below 0.80)",
    "W1 bottom group in 2 year(s) 2020{dash}2021",
    "W2 targets lagging in 2 year(s) 2021{dash}2023 (2021 3/4 = 0.75 > 0.50, 2023 2/3 = 0.67 > 0.50)",
    "EX1 leader in 2025, index change 2022{dash}2025 +3.1, above 0.0 (rules 2024.1)",
    # verdicts round 14: the score as the acceptance lines show it (cut at two decimals)
    "third-party score 67.79 (report version 1)",
    "cycle still running: evidence to 2024, verdict in 2026",
    "third-party evaluation pending",
    "third-party evaluation pending: indicator-only verdict (TP.pending_blocks_verdict = 0)",
    # programme cycle round 4: a unit that joined inside the cycle
    "joined in 2026, inside the cycle: index change since 2025 (GEN.joined_entry_baseline), third-party evaluation "
    "due at the end of 2027",
    # verdicts round 14: a change across a catalogue change that reads otherwise like-for-like (GEN.change_like_for_like)
    "index change 2019{dash}2022 -2.4 across catalogues 2021.1 and 2024.1, like-for-like +0.1: X1, EX1 and R2 count a "
    "change only where both agree (GEN.change_like_for_like)",
]
# the clauses of snapshots published before round 13 (no threshold or years named): still read in Chinese
EARLIER_CLAUSES = [
    "X1 previous cycle in rectification, index change -1.2",
    "R1 in 2020{dash}2021",
    "R2 index change over cycle -9.6, threshold -6.8",
    "not reported within the grace period in 2 year(s) (counts as exit)",
    "review: sanction evidence not robust in 1 year(s)",
    "W2 targets lagging in 1 year(s) 2023",
    "EX1 leader in 2025, index change +3.1",
    "third-party score 67.7 (report version 1)",
]


def test_every_evidence_branch_of_the_cycle_mart_has_a_clause_here():
    """A branch added to the model without a clause here (and its Chinese wording) fails this count."""
    import re

    from pipelines.settings import DBT_PROJECT_DIR

    sql = (DBT_PROJECT_DIR / "models/marts/evaluation/fct_evaluation_cycle.sql").read_text(encoding="utf-8")
    block = sql[sql.index("concat_ws('; ',") : sql.index(") as evidence")]
    assert len(re.findall(r"^    case when ", block, flags=re.MULTILINE)) == len(EVIDENCE_CLAUSES)


@pytest.mark.parametrize("clause", EVIDENCE_CLAUSES + EARLIER_CLAUSES)
def test_every_evidence_clause_reads_in_chinese(clause):
    """The profile and the dossier word a cycle's evidence in Chinese clause by clause; the exit for late reporting
    and the manual review were left in English (a Chinese reader read "not reported ... (counts as exit)")."""
    import re

    from dashboards.evaluation_text import evidence_text
    from pipelines.labels import RANGE_DASH

    text = evidence_text(clause.format(dash=RANGE_DASH), "zh")
    # rule codes and the rules seed's parameter stay as they are named in the rules seed
    params = r"TP\.pending_blocks_verdict|GEN\.joined_entry_baseline|GEN\.change_like_for_like"
    words = re.sub(rf"\b(?:EX1|X1|R1|R2|W1|W2|{params})\b", "", text)
    assert not re.search(r"[A-Za-z]{2,}", words), text
    # and every figure of the English clause is in it, so the two languages cannot disagree on a number
    codes = r"\b(?:EX1|X1|R1|R2|W1|W2)\b"
    figures = re.findall(r"\d+(?:\.\d+)?", re.sub(codes, "", clause.format(dash=RANGE_DASH)))
    assert all(f in re.sub(codes, "", text) for f in figures), (figures, text)
