"""Verdicts a city cannot contest, round 8.

1. Ranks were decided on the composite index at 9 decimals while every reader shows it at one: two neighbours
   showing the same 80.0 were ranked apart (44 such pairs in the sample), and 69.96 read "70.0" beside the bottom
   group. Ranks, ties (并列) and performance groups are now decided on the PUBLISHED figure: GEN.index_decimals of
   the rules seed, half up in exact decimal arithmetic, identically in SQL (macro published_index) and Python
   (pipelines.labels.published_index); tied cities share the rank and the group (dbt unit tests
   ranks_and_groups_are_decided_on_the_published_index, ties_are_equal_published_indices_not_equal_doubles; the
   uncertainty runs rank and band the same way).
2. Old region codes were mapped for statistics but not for the programme roster, targets and third-party reports
   (dbt unit tests roster_rows_sent_under_an_old_code_are_the_unit_of_the_new_code,
   targets_sent_under_an_old_code_are_the_targets_of_the_new_unit,
   third_party_reports_sent_under_an_old_code_are_on_the_new_unit).
3. The acceptance score's level_detail did not mark a value carried forward (imputed); it does now, in both
   languages (labels seed level_value_imputed; dbt unit test a_level_value_carried_forward_is_marked_in_level_detail),
   and the profile shows it beside the band.
4. A cycle verdict moved by data corrected after publication was shown in place of the published one; the
   dossier shows the verdict as released with its rules versions and data release, and the current one beside it
   marked "revised after publication" (labels seed revised_after_publication).

Labels and thresholds are read from the seeds, never copied here."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest
from test_verdicts_contestable import _acceptance_row, _dossier_input

from pipelines.evaluation.rules import load_rules
from pipelines.labels import label_text, load_bands, performance_group

# --- 1. ranks and groups on the published figure ------------------------------------------------------------------


def test_the_published_index_is_exact_decimal_half_up():
    """80.05 is 80.04999… in binary: round() and f"{x:.1f}" read it 80.0, a reader (and the published figure) 80.1.
    The float noise of sums (1e-13) is taken off first, so 80.04999999999999 is not 80.0 either."""
    from pipelines.labels import index_decimals, index_text, published_index

    assert index_decimals() == int(load_rules()["GEN.index_decimals"])
    assert published_index(80.05) == 80.1 and index_text(80.05) == "80.1"
    assert published_index(80.04999999999999) == 80.1  # 80.05 but for the noise of a sum
    assert published_index(80.0499) == 80.0
    assert published_index(0.15) == 0.2 and published_index(2.675, 2) == 2.68
    assert published_index(None) is None and index_text(None) == "–"
    values = np.array([80.05, 0.15, 69.95, 125.05, 99.94999, np.nan, 7.25])
    assert np.array_equal(
        published_index(values), np.array([published_index(v) for v in values.tolist()], dtype=float), equal_nan=True
    )


def test_python_rounds_as_the_sql_of_the_macro_in_duckdb():
    """The macro's SQL (cast to decimal(38, 9), then round) and the Python rounding agree on halves and noise."""
    from pipelines.labels import published_index

    rng = np.random.default_rng(8)
    xs = np.concatenate([rng.uniform(0, 300, 20000), np.round(rng.uniform(0, 300, 20000), 1) + 0.05])
    frame = pl.DataFrame({"i": range(len(xs)), "x": xs})
    with duckdb.connect() as con:
        con.register("frame", frame)
        # the branch the macro generates for one decimal (the sample test below checks the macro itself)
        sql = con.sql(
            "select cast(cast(round(cast(x as decimal(38, 9)), 1) as decimal(38, 9)) as double) as p "
            "from frame order by i"
        ).pl()
    assert np.array_equal(published_index(xs), sql["p"].to_numpy())


def test_cities_showing_the_same_figure_share_the_rank_and_the_group():
    """69.96 and 70.04 both read 70.0: the same rank and the band the figure is in (70 opens it), in Python as in
    the marts; 69.94 reads 69.9 and is under the bound."""
    from pipelines.labels import index_text

    floor = next(b.lower_bound for b in load_bands() if b.lower_bound_inclusive and b.lower_bound is not None)
    under, over = floor - 0.04, floor + 0.04
    assert index_text(under) == index_text(over) == f"{floor:.1f}"
    assert performance_group(under) == performance_group(over) == performance_group(floor)
    assert performance_group(floor - 0.06) != performance_group(floor)


def test_the_uncertainty_runs_rank_and_band_on_the_published_figure():
    """The Monte Carlo runs rank (1, 2, 2, 4) and band as the marts do: two cities showing 80.0 are tied in every
    run, and a city showing the bound is in the band above it."""
    from pipelines.evaluation.uncertainty import _rank_desc, performance_group_codes
    from pipelines.labels import group_names

    values = np.array([[[80.04, 79.96, 80.05, 60.0]]])
    ranks = _rank_desc(values, np.array([[True, True, True, True]]))
    assert ranks[0, 0].tolist() == [2.0, 2.0, 1.0, 4.0]
    floor = next(b.lower_bound for b in load_bands() if b.lower_bound_inclusive and b.lower_bound is not None)
    codes = performance_group_codes(np.array([floor - 0.04, floor + 0.04]))
    assert codes.tolist() == [group_names().index(performance_group(floor))] * 2


def test_the_sample_ranks_on_the_published_figure(sample_snapshot):
    """Every ranked unit-year of the sample: its rank is the competition rank of its published figure among the
    year's ranked units, the figure is stored (composite_index_published), and its group is the figure's."""
    from pipelines.labels import published_index

    with duckdb.connect(str(sample_snapshot.snapshot), read_only=True) as con:
        df = con.sql(
            """select unit_code, year, composite_index, composite_index_published, rank, rank_is_shared,
                      performance_group
               from marts.fct_city_score_year where is_ranked"""
        ).pl()
    assert df.height > 100
    mine = [published_index(v) for v in df["composite_index"].to_list()]
    assert df["composite_index_published"].to_list() == mine
    df = df.with_columns(
        expected=pl.col("composite_index_published").rank("min", descending=True).over("year").cast(pl.Int64)
    )
    assert (df["rank"] == df["expected"]).all(), df.filter(pl.col("rank") != pl.col("expected"))
    shared = df.group_by("year", "composite_index_published").agg(pl.len().alias("n"), pl.col("rank").n_unique())
    assert (shared["rank"] == 1).all()
    groups = [performance_group(v) for v in df["composite_index"].to_list()]
    assert df["performance_group"].to_list() == groups
    # the measure: neighbours showing the same figure whose 9-decimal indices differ (ranked apart before)
    split = shared.filter(pl.col("n") > 1).height
    print(f"published figures shared by more than one unit-year: {split}")


# --- 3. an imputed level value is marked ------------------------------------------------------------------------


def test_the_profile_marks_a_level_value_carried_forward_in_both_languages():
    from dashboards.pages.profile import acceptance_view

    row = _acceptance_row(load_rules()["ACC.cultivation_from"] + 5) | {
        "acceptance_scored": True,
        "is_complete": True,
        "benchmark_lag_years": 0,
        "level_indicators_imputed": "QLT01",
        "level_detail": f"QLT01 8.0 [{label_text('level_value_imputed', 'zh')} / "
        f"{label_text('level_value_imputed', 'en')}] / 10.0 = 80.0",
    }
    for lang in ("zh", "en"):
        view = str(acceptance_view(pl.DataFrame([row]), None, None, lang))
        assert f"{label_text('level_value_imputed', lang)} (QLT01)" in view, view
        assert "QLT01 8.0 [" in view


# --- 4. a cycle verdict revised after publication ---------------------------------------------------------------


def _release() -> dict:
    return {
        "release_id": "R2024-01",
        "released_at": "2025-07-15 10:00:00",
        "data_version": "3f-abc",
        "code_version": "abc",
        "window_first_year": 2016,
        "window_last_year": 2024,
        "supersedes_release_id": None,
    }


def _cycle(verdict: str, status: str = "final") -> dict:
    return {
        "unit_code": "320100",
        "cycle": "2022-2024",
        "cycle_start": 2022,
        "cycle_end": 2024,
        "verdict": verdict,
        "verdict_status": status,
        "rules_versions": "2022:2024.1, 2023:2024.1, 2024:2024.1",
        "evidence": None,
        "index_change": 1.0,
        "is_robust": True,
        "judged_year": 2024,
        "is_complete": True,
    }


def test_a_cycle_verdict_moved_after_publication_shows_old_and_new_marked():
    """A file corrected after the release turns the published 'rectification' into 'normal': the dossier showed the
    cycle table's current verdict only, as if it were the one published. It now names the verdict as released,
    the rules versions and data release it was judged on, and the current verdict beside it, marked."""
    from pipelines.evaluation.dossier import _render
    from pipelines.evaluation.releases import released_cycle_differs

    d = _dossier_input(95.0, performance_group(95.0))
    d["release"] = _release()
    d["released_cycle"] = _cycle("rectification")
    current = _cycle("normal")
    d["cycles"] = pl.DataFrame([current])
    assert released_cycle_differs(d["released_cycle"], current)
    assert not released_cycle_differs(d["released_cycle"], _cycle("rectification"))
    assert not released_cycle_differs(d["released_cycle"], _cycle("normal") | {"cycle_start": 2025})
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时周期结论"))
    for lang in ("zh", "en"):
        assert label_text("revised_after_publication", lang) in line
        assert f"{label_text('rectification', lang)} → {label_text('normal', lang)}" in line
    assert "2024.1" in line and "3f-abc" in line and "R2024-01" in line
    d["cycles"] = pl.DataFrame([_cycle("rectification")])
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时周期结论"))
    assert label_text("revised_after_publication", "en") not in line


class _Row(dict):
    """An evaluation row: the fields a test does not set are null, as in a mart row."""

    def __missing__(self, key):
        return None


def test_the_year_line_shows_the_current_figures_beside_the_released_ones():
    from pipelines.evaluation.dossier import _render

    d = _dossier_input(95.0, performance_group(95.0))
    d["release"] = _release()
    d["evaluation"] = _Row(stage="normal", is_robust=True, cycle="2022-2024", rules_version="2024.1")
    d["released"] = {"stage": "watch", "composite_index": 69.0, "rank": 38, "n_ranked": 40}
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时结论"))
    # old → new as every surface words it (releases.release_verdict_text, round 13: the words of the labels seed's
    # current_data_differ in both languages, where the line said "当前 now")
    assert all(label_text("current_data_differ", lang) in line for lang in ("zh", "en")), line
    assert "69.0 → 95.0" in line, line


@pytest.mark.parametrize("code", ["level_value_imputed", "revised_after_publication"])
def test_the_new_labels_are_in_both_languages(code):
    assert label_text(code, "zh") != code and label_text(code, "en") != code
    assert label_text(code, "zh") != label_text(code, "en")
