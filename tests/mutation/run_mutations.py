"""Mutation testing of the evaluation core: one deliberate bug at a time, the relevant tests run, the bug reverted.

    python tests/mutation/run_mutations.py                  # every mutant, report on stdout
    python tests/mutation/run_mutations.py --list           # what would be mutated, and whether the snippet is found
    python tests/mutation/run_mutations.py --only S01,P04   # some mutants
    python tests/mutation/run_mutations.py --area labels    # one area
    python tests/mutation/run_mutations.py --report docs/testing_last_run.md --json out.json

Not part of CI (it takes tens of minutes); run it before an issue touching the evaluation core is called
resolved and record the score in docs/testing.md. It never edits your checkout: the tracked and untracked
(non-ignored) files are copied to a scratch folder, every mutant is applied there, and reverted byte for byte
after its tests ran.

Each mutant is keyed by a code snippet, not a line number, so it survives edits elsewhere in the file. When its
snippet is no longer found (someone rewrote the code), the mutant is reported as ``missing`` and not scored:
update the snippet, do not delete the mutant. For SQL mutants the dbt unit tests of the mutated model run
first (``dbt test --select <model> --exclude test_type:data`` on a warehouse built once with ``--empty``);
when they do not kill the mutant, the listed pytest tests run. A mutant is killed when any of its tests fails
(or times out); it survives when all pass. Survivors that are harmless (an equivalent mutant) carry the reason
in ``harmless`` and are listed as such.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
DBT = str(Path(sys.executable).parent / "dbt")


@dataclass
class Mutant:
    id: str
    area: str
    file: str
    find: str
    replace: str
    tests: list[str] = field(default_factory=list)  # pytest node ids / files, fastest first
    dbt_select: str | None = None  # SQL: dbt unit tests of this selection run first
    what: str = ""
    harmless: str | None = None  # why a survivor does not matter (equivalent mutant)


# -- test selections, fastest first ---------------------------------------------------------------------------
UNC = "tests/test_evaluation_uncertainty.py"
# the marts' groups against the bands seed read through pipelines.labels (the macro's mutants)
T_GROUPS = ["tests/test_dbt_marts.py::test_composite_index_recomputed_by_hand"]
# the uncertainty runs' band positions against pipelines.labels at and around every band floor
T_GROUPS_PY = [f"{UNC}::test_group_codes_follow_the_bands_seed"]
T_NOMINAL = [f"{UNC}::test_nominal_variant_reproduces_published_index"]
T_UNC_PY = [
    f"{UNC}::test_share_exactly_at_robust_share_is_robust_in_python",
    f"{UNC}::test_intervals_and_shares",
    f"{UNC}::test_same_seed_same_bytes_other_seed_differs",
]
T_ROBUST_SQL = [f"{UNC}::test_share_exactly_at_robust_share_is_robust_in_the_marts"]
T_COH = [f"{UNC}::test_coherence_flags_collinear_silent_and_ok_pairs", f"{UNC}::test_coherence_flags_and_alpha"]
T_RULES = ["tests/test_evaluation_rules.py"]
T_THRESH = ["tests/test_evaluation_thresholds.py"]
T_LABELS_FAST = [
    "tests/test_stage_labels.py::test_the_label_tables_carry_each_stages_meaning",
    "tests/test_stage_labels.py::test_dashboard_and_dossier_agree_on_every_stage_label",
]
T_LABELS = [*T_LABELS_FAST, "tests/test_stage_labels.py"]
T_PUBLISH = ["tests/test_publish.py"]
T_AUTH = ["tests/test_authorisation.py"]
T_XLSX = [
    "tests/test_dashboard_data.py::test_fast_xlsx_writer_round_trips_and_keeps_text_as_text",
    "tests/test_extracts.py::test_extract_workbook_round_trips_typed_and_never_a_formula",
]
T_LOADERS = ["tests/test_ingest_loaders.py"]
T_INGEST = ["tests/test_ingest_loaders.py", "tests/test_bad_inputs.py"]
T_PATENTS = ["tests/test_patents_in_force.py"]
T_LAPSE_RULE = ["tests/test_patents_in_force.py::test_lapse_between_application_and_grant_is_quarantined", *T_INGEST]

SIGNALS = "dbt_project/models/intermediate/evaluation/int_evaluation_signals_year.sql"
EVAL_YEAR = "dbt_project/models/marts/evaluation/fct_evaluation_year.sql"
SCORE = "dbt_project/models/marts/fct_city_score_year.sql"
MACRO = "dbt_project/macros/performance_group.sql"
PATENTS = "dbt_project/models/intermediate/int_patents__unit_year.sql"
U = "pipelines/evaluation/uncertainty.py"
COH = "pipelines/evaluation/coherence.py"
VAL = "pipelines/ingest/validate.py"
READ = "pipelines/ingest/readers.py"
PUB = "pipelines/snapshot_writer.py"
DL = "dashboards/indicator_download.py"
I18N = "dashboards/i18n.py"
TXT = "dashboards/evaluation_text.py"
DOS = "pipelines/evaluation/dossier.py"

M = Mutant
MUTANTS: list[Mutant] = [
    # -- stock definitions: patents in force (SQL) ---------------------------------------------------------
    M(
        "S01",
        "stock definitions",
        PATENTS,
        "g.lapse_year > s.year",
        "g.lapse_year >= s.year",
        T_PATENTS,
        "int_patents__unit_year",
        "a patent lapsing in Y counted as in force at the end of Y (issue 18 survivor)",
    ),
    M(
        "S02",
        "stock definitions",
        PATENTS,
        "and g.grant_year <= s.year",
        "and g.grant_year < s.year",
        T_PATENTS,
        "int_patents__unit_year",
        "a patent granted in Y not yet in force at the end of Y",
    ),
    M(
        "S03",
        "stock definitions",
        PATENTS,
        "sum(case when g.patent_type = 'invention' and (g.lapse_year is null",
        "sum(case when (g.lapse_year is null",
        T_PATENTS,
        "int_patents__unit_year",
        "utility models and designs counted as inventions in force",
    ),
    M(
        "S04",
        "stock definitions",
        "dbt_project/models/staging/stg_raw__patent_grants.sql",
        "{{ year_of('lapse_date') }} as lapse_year",
        "{{ year_of('grant_date') }} as lapse_year",
        T_PATENTS,
        "stg_raw__patent_grants",
        "lapse year taken from the grant date",
    ),
    M(
        "S05",
        "stock definitions",
        PATENTS,
        "coalesce(sum(case when g.grant_year = s.year then g.n_patents end), 0)",
        "coalesce(sum(case when g.grant_year <= s.year then g.n_patents end), 0)",
        T_PATENTS,
        "int_patents__unit_year",
        "grants of the year become cumulative grants",
    ),
    # -- normalisation (SQL) ----------------------------------------------------------------------------------
    M(
        "S06",
        "normalisation",
        "dbt_project/models/intermediate/int_indicator_imputed.sql",
        "(raw_value is null and prev_year = year - 1 and prev_raw_value is not null) as is_imputed",
        "(raw_value is null and prev_year = year - 1) as is_imputed",
        [],
        "int_indicator_imputed",
        "a missing value after a missing value flagged as carried forward",
    ),
    M(
        "S07",
        "normalisation",
        "dbt_project/models/intermediate/int_indicator_imputed.sql",
        "when prev_year = year - 1 then prev_raw_value",
        "when prev_year = year - 2 then prev_raw_value",
        [],
        "int_indicator_imputed",
        "carry-forward from two years back instead of one",
    ),
    M(
        "S08",
        "normalisation",
        "dbt_project/models/intermediate/int_indicator_capped.sql",
        "v.value > m.mean_value + 2 * m.sd_value",
        "v.value > m.mean_value + 3 * m.sd_value",
        [],
        "int_indicator_capped",
        "outlier fence at 3 SD instead of 2",
    ),
    M(
        "S09",
        "normalisation",
        "dbt_project/models/intermediate/int_indicator_capped.sql",
        "when f.value > b.highest_inlier then b.highest_inlier",
        "when f.value > b.highest_inlier then f.value",
        [],
        "int_indicator_capped",
        "outliers not capped",
    ),
    M(
        "S10",
        "normalisation",
        "dbt_project/models/marts/fct_city_indicator_year.sql",
        "s.skewness > 1",
        "s.skewness > 1.2",
        [],
        "fct_city_indicator_year",
        "square-root transform only above skewness 1.2",
    ),
    M(
        "S11",
        "normalisation",
        "dbt_project/models/marts/fct_city_indicator_year.sql",
        "when d.direction = 'lower' then",
        "when d.direction = 'higher' then",
        [],
        "fct_city_indicator_year",
        "direction of 'lower is better' indicators inverted",
    ),
    M(
        "S12",
        "normalisation",
        "dbt_project/models/marts/fct_city_indicator_year.sql",
        "when b.max_value = b.min_value then 50.0",
        "when b.max_value = b.min_value then 0.0",
        [],
        "fct_city_indicator_year",
        "an indicator without spread scores 0 instead of the neutral 50",
    ),
    M(
        "S13",
        "normalisation",
        "dbt_project/models/marts/fct_city_indicator_year.sql",
        "else 100.0 * ((t.transformed_value - b.min_value) / (b.max_value - b.min_value))",
        "else 100.0 * ((t.transformed_value - b.min_value) / (b.max_value))",
        [],
        "fct_city_indicator_year",
        "min-max divides by the maximum instead of the range",
    ),
    # -- aggregation (SQL) ------------------------------------------------------------------------------------
    M(
        "S14",
        "aggregation",
        "dbt_project/models/intermediate/int_pillar_scores.sql",
        "then weighted_sum / observed_weight",
        "then weighted_sum / total_weight",
        [],
        "int_pillar_scores",
        "missing indicators count as 0 in the pillar",
    ),
    M(
        "S15",
        "aggregation",
        "dbt_project/models/intermediate/int_pillar_scores.sql",
        "observed_weight >= {{ var('min_pillar_coverage') }} * total_weight",
        "observed_weight > {{ var('min_pillar_coverage') }} * total_weight",
        [],
        "int_pillar_scores",
        "a pillar exactly at the minimum coverage gets no score",
    ),
    M(
        "S16",
        "aggregation",
        "dbt_project/models/intermediate/int_composite.sql",
        "when sum(case when pillar_score is null then 1 else 0 end) = 0",
        "when sum(case when pillar_score is null then 1 else 0 end) <= 1",
        [],
        "int_composite",
        "a composite from four of five pillars",
    ),
    M(
        "S17",
        "aggregation",
        "dbt_project/models/intermediate/int_composite.sql",
        "then sum(pillar_weight * pillar_score) / sum(pillar_weight)",
        "then avg(pillar_score)",
        [],
        "int_composite",
        "pillar weights ignored",
    ),
    # -- index base, ranks, groups (SQL) ------------------------------------------------------------------------
    M(
        "S18",
        "index base",
        SCORE,
        "then 100.0 * f.composite / a.average_composite end",
        "then 100.0 * f.composite / (a.average_composite + 1) end",
        [],
        "fct_city_score_year",
        "index base is not the programme average",
    ),
    M(
        "S19",
        "index base",
        SCORE,
        "select year, avg(composite) as average_composite",
        "select year, max(composite) as average_composite",
        [],
        "fct_city_score_year",
        "index relative to the best city instead of the programme average",
    ),
    M(
        "S20",
        "index base",
        SCORE,
        "composite_index - prev_index end as index_change",
        "prev_index - composite_index end as index_change",
        [],
        "fct_city_score_year",
        "index change with the wrong sign",
    ),
    M(
        "S21",
        "index base",
        SCORE,
        "then prev_rank - rank end as rank_change",
        "then rank - prev_rank end as rank_change",
        [],
        "fct_city_score_year",
        "rank change with the wrong sign",
    ),
    M(
        "S22",
        "groups",
        SCORE,
        "order by i.composite desc nulls last, i.unit_code nulls last\n            )\n        end as rank,",
        "order by i.composite desc nulls last, i.unit_code desc nulls last\n            )\n        end as rank,",
        [],
        "fct_city_score_year",
        "ties ranked in reverse unit-code order",
    ),
    M("S23", "groups", SCORE, "ntile(3)", "ntile(4)", [], "fct_city_score_year", "quarters instead of thirds"),
    # the macro looks the index up in the bands seed (int_performance_bands): its comparison logic is mutated
    M(
        "S24",
        "groups",
        MACRO,
        "or {{ index_expr }} > b.lower_bound",
        "or {{ index_expr }} >= b.lower_bound",
        T_GROUPS,
        "fct_city_score_year",
        "an exclusive lower bound admits the bound itself (the leader floor)",
    ),
    M(
        "S25",
        "groups",
        MACRO,
        "(b.lower_bound_inclusive and",
        "(not b.lower_bound_inclusive and",
        T_GROUPS,
        "fct_city_score_year",
        "inclusive and exclusive lower bounds swapped (exactly the strong floor drops out of strong)",
    ),
    M(
        "S26",
        "groups",
        MACRO,
        "b.upper_bound is null",
        "b.upper_bound is not null",
        T_GROUPS,
        "fct_city_score_year",
        "the top band (no upper bound) is never assigned",
    ),
    # -- rules and robustness (SQL) -----------------------------------------------------------------------------
    M(
        "S27",
        "robustness",
        SIGNALS,
        "f.share_bottom >= p.robust_share as is_watch_robust",
        "f.share_bottom > p.robust_share as is_watch_robust",
        T_ROBUST_SQL,
        None,
        "a watch flag at exactly robust_share counted as not robust (issue 18 survivor)",
    ),
    M(
        "S28",
        "rules",
        SIGNALS,
        "p.w1_enabled = 1 and j.performance_group = p.w1_bottom_group as w1",
        "p.w1_enabled = 0 and j.performance_group = p.w1_bottom_group as w1",
        T_RULES,
        None,
        "W1 never fires",
    ),
    M(
        "S29",
        "rules",
        SIGNALS,
        "and j.index_change_cycle > p.ex1_improve_min_points as ex1",
        "and j.index_change_cycle < p.ex1_improve_min_points as ex1",
        T_RULES,
        None,
        "EX1 on decline",
    ),
    M(
        "S30",
        "rules",
        SIGNALS,
        "p.r1_enabled = 1 and r.watch_run_years >= p.r1_watch_years as r1",
        "p.r1_enabled = 1 and r.watch_run_years > p.r1_watch_years as r1",
        T_RULES,
        None,
        "R1 needs three watch years instead of two",
    ),
    M(
        "S31",
        "rules",
        SIGNALS,
        "and j.composite_index < p.r2_below_index as r2",
        "and j.composite_index < p.r2_below_index + 100 as r2",
        [*T_THRESH, *T_RULES],
        None,
        "R2 also rectifies leaders that slid",
    ),
    M(
        "S32",
        "rules",
        SIGNALS,
        "and j.targets_lagging_share > p.w2_lagging_share as w2",
        "and j.targets_lagging_share > p.w2_lagging_share + 0.5 as w2",
        T_RULES,
        None,
        "W2 never fires",
    ),
    M(
        "S33",
        "rules",
        EVAL_YEAR,
        "when f.r1 or f.r2 then 'rectification'\n      when f.is_watch then 'watch'",
        "when f.is_watch then 'watch'\n      when f.r1 or f.r2 then 'rectification'",
        T_RULES,
        None,
        "watch outranks rectification",
    ),
    M(
        "S34",
        "rules",
        EVAL_YEAR,
        "when f.r1 or f.r2 then 'rectification'",
        "when f.r1 then 'rectification'",
        T_RULES,
        None,
        "R2 no longer rectifies",
    ),
    M(
        "S35",
        "robustness",
        EVAL_YEAR,
        "when 'watch' then s.watch_robust",
        "when 'watch' then s.exemplary_robust",
        T_ROBUST_SQL,
        None,
        "a watch stage reports another rule's robustness",
    ),
    M(
        "S36",
        "rules",
        SIGNALS,
        "coalesce(f.w1, false) or coalesce(f.w2, false) as is_watch",
        "coalesce(f.w1, false) as is_watch",
        T_RULES,
        None,
        "W2 alone no longer puts a city on watch",
    ),
    M(
        "S37",
        "rules",
        SIGNALS,
        "and j.targets_lagging_share > p.w2_lagging_share as w2",
        "and j.targets_lagging_share >= p.w2_lagging_share as w2",
        T_THRESH,
        None,
        "W2 fires at a lagging share equal to the threshold",
    ),
    M(
        "S38",
        "rules",
        SIGNALS,
        "and j.index_change_cycle <= -p.r2_regress_points",
        "and j.index_change_cycle < -p.r2_regress_points",
        T_THRESH,
        None,
        "R2 misses a fall of exactly regress_points",
    ),
    M(
        "S39",
        "rules",
        SIGNALS,
        "and j.composite_index < p.r2_below_index as r2",
        "and j.composite_index <= p.r2_below_index as r2",
        T_THRESH,
        None,
        "R2 fires for a city ending exactly at below_index",
    ),
    M(
        "S40",
        "rules",
        SIGNALS,
        "and j.index_change_cycle > p.ex1_improve_min_points as ex1",
        "and j.index_change_cycle >= p.ex1_improve_min_points as ex1",
        T_THRESH,
        None,
        "EX1 for a gain equal to improve_min_points",
    ),
    M(
        "S41",
        "rules",
        SIGNALS,
        "and j.targets_evaluable >= p.w2_min_targets",
        "and j.targets_evaluable > p.w2_min_targets",
        T_THRESH,
        None,
        "W2 needs one target more than min_targets",
    ),
    # -- groups, index base, ranks and robustness in Python (the uncertainty runs) -----------------------------
    M(
        "P01",
        "groups",
        U,
        "admits = index >= band.lower_bound if band.lower_bound_inclusive else index > band.lower_bound",
        "admits = index > band.lower_bound if band.lower_bound_inclusive else index > band.lower_bound",
        T_GROUPS_PY,
        what="an inclusive band floor (moderate, strong) excludes the floor in the uncertainty runs",
    ),
    M(
        "P02",
        "groups",
        U,
        "admits = index >= band.lower_bound if band.lower_bound_inclusive else index > band.lower_bound",
        "admits = index >= band.lower_bound if band.lower_bound_inclusive else index >= band.lower_bound",
        T_GROUPS_PY,
        what="an exclusive band floor (leader) admits the floor in the uncertainty runs",
    ),
    M(
        "P03",
        "groups",
        U,
        "for position in range(len(bands) - 1, -1, -1):",
        "for position in range(len(bands) - 1, 0, -1):",
        T_GROUPS_PY,
        what="the top band never assigned in the uncertainty runs",
    ),
    M(
        "P04",
        "groups",
        U,
        "return np.where(np.isnan(index), -1, out).astype(np.int8)",
        "return out.astype(np.int8)",
        T_GROUPS_PY,
        what="an unranked (nan) index counted as emerging",
    ),
    M(
        "P05",
        "robustness",
        U,
        '(pl.col("share_bottom") >= robust_share).alias("is_robust_bottom")',
        '(pl.col("share_bottom") > robust_share).alias("is_robust_bottom")',
        T_UNC_PY,
        what="exactly robust_share counted as not robust (issue 18 survivor)",
    ),
    M(
        "P06",
        "robustness",
        U,
        'robust_share = float(rules["GEN.robust_share"]) if robust_share is None else robust_share',
        "robust_share = 0.75 if robust_share is None else robust_share",
        T_UNC_PY,
        what="a copied constant instead of the rules seed",
    ),
    M(
        "P07",
        "robustness",
        U,
        "share_bottom = share(group == 3)",
        "share_bottom = share(group >= 2)",
        T_UNC_PY,
        what="share in the bottom group counts moderate runs too",
    ),
    M(
        "P08",
        "robustness",
        U,
        "share_leader = share(group == 0)",
        "share_leader = share(group <= 1)",
        T_UNC_PY,
        what="share leader counts strong runs too",
    ),
    M(
        "P09",
        "index base",
        U,
        "keyed = np.where(ranked[None] & ~np.isnan(values), -values, np.inf)",
        "keyed = np.where(ranked[None] & ~np.isnan(values), values, np.inf)",
        T_NOMINAL,
        what="rank 1 = lowest index",
    ),
    M(
        "P10",
        "index base",
        U,
        "rng = np.random.default_rng(seed)",
        "rng = np.random.default_rng()",
        T_UNC_PY,
        what="runs not reproducible from the seed",
    ),
    M(
        "P11",
        "index base",
        U,
        "index = 100.0 * comp / np.nanmean(comp, axis=2, keepdims=True)",
        "index = 100.0 * comp / np.nanmax(comp, axis=2, keepdims=True)",
        T_UNC_PY,
        what="run index relative to the best city instead of the programme mean",
    ),
    M(
        "P12",
        "aggregation",
        U,
        "pillar = pillar / got",
        "pillar = pillar / full[:, :, None]",
        [*T_NOMINAL, *T_UNC_PY],
        what="missing indicators count as 0 in a run's pillar",
    ),
    M(
        "P13",
        "aggregation",
        U,
        "comp = np.where(complete & (den > 0), comp, np.nan)",
        "comp = np.where(den > 0, comp, np.nan)",
        [f"{UNC}::test_a_unit_missing_a_whole_pillar_is_not_ranked_in_any_run", *T_NOMINAL, *T_UNC_PY],
        what="a run ranks a unit missing a pillar",
    ),
    M(
        "P14",
        "rules",
        U,
        "share_regressing = share((change <= -regress_points) & below, has_change)",
        "share_regressing = share((change <= regress_points) & below, has_change)",
        T_ROBUST_SQL + T_UNC_PY,
        what="regressing share counts improvers",
    ),
    # -- statistical coherence ------------------------------------------------------------------------------
    M(
        "P15",
        "aggregation",
        COH,
        '"collinear" if rho > COLLINEAR_ABOVE',
        '"collinear" if rho < COLLINEAR_ABOVE',
        T_COH,
        what="collinear flag inverted",
    ),
    M(
        "P16",
        "aggregation",
        COH,
        '"silent" if rho < SILENT_BELOW',
        '"silent" if rho > SILENT_BELOW',
        T_COH,
        what="silent flag inverted",
    ),
    M(
        "P17",
        "aggregation",
        COH,
        "return float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var)), n",
        "return float(1 - x.var(axis=0, ddof=1).sum() / total_var), n",
        T_COH,
        what="alpha without k/(k-1)",
    ),
    # -- labels ---------------------------------------------------------------------------------------------
    M(
        "L01",
        "labels",
        I18N,
        '"watch": ("关注", "Watch"),\n    "rectification": ("整改", "Rectification"),',
        '"watch": ("整改", "Watch"),\n    "rectification": ("关注", "Rectification"),',
        T_LABELS,
        what="Chinese labels of watch and rectification swapped (issue 18 survivor)",
    ),
    M(
        "L02",
        "labels",
        I18N,
        '"watch": ("关注", "Watch"),\n    "rectification": ("整改", "Rectification"),',
        '"watch": ("关注", "Rectification"),\n    "rectification": ("整改", "Watch"),',
        T_LABELS,
        what="English labels of watch and rectification swapped",
    ),
    M(
        "L03",
        "labels",
        I18N,
        '"normal": ("正常", "Normal"),\n    "exemplary": ("示范", "Exemplary"),',
        '"normal": ("示范", "Normal"),\n    "exemplary": ("正常", "Exemplary"),',
        T_LABELS,
        what="normal and exemplary swapped",
    ),
    M(
        "L04",
        "labels",
        I18N,
        '"exit_candidate": ("退出候选", "Exit candidate"),',
        '"exit_candidate": ("整改", "Exit candidate"),',
        T_LABELS,
        what="exit candidate called rectification",
    ),
    M(
        "L05",
        "labels",
        DOS,
        '"watch": "关注",\n    "rectification": "整改",',
        '"watch": "整改",\n    "rectification": "关注",',
        T_LABELS,
        what="dossier labels swapped",
    ),
    M(
        "L06",
        "labels",
        TXT,
        'f"R1 整改：',
        'f"R1 关注：',
        ["tests/test_stage_labels.py"],
        what="Chinese rules text names R1 watch",
    ),
    M(
        "L07",
        "labels",
        TXT,
        'f"W1 关注：',
        'f"W1 整改：',
        ["tests/test_stage_labels.py"],
        what="Chinese rules text names W1 rectification",
    ),
    M(
        "L08",
        "labels",
        I18N,
        'return pair[1] if norm_lang(lang) == "en" else pair[0]',
        'return pair[0] if norm_lang(lang) == "en" else pair[1]',
        T_LABELS,
        what="languages swapped in labels",
    ),
    # -- publish --------------------------------------------------------------------------------------------
    M(
        "B01",
        "publish",
        PUB,
        "os.replace(tmp, snapshot)",
        '__import__("shutil").copyfile(tmp, snapshot)',
        T_PUBLISH,
        what="snapshot overwritten in place (same inode, readers see a half-written file)",
    ),
    M(
        "B02",
        "publish",
        PUB,
        "tmp.unlink(missing_ok=True)\n        raise",
        "raise",
        T_PUBLISH,
        what="a failed publish leaves its temporary file",
    ),
    M(
        "B03",
        "publish",
        PUB,
        'PUBLISHED_RAW_TABLES = ("ingested_files", "rejected_rows")',
        'PUBLISHED_RAW_TABLES = ("ingested_files", "rejected_rows", "patent_grants")',
        T_PUBLISH,
        what="record tables published to the dashboard",
    ),
    M(
        "B04",
        "publish",
        PUB,
        'PUBLISHED_SCHEMAS = ("marts", "quality")',
        'PUBLISHED_SCHEMAS = ("marts",)',
        T_PUBLISH,
        what="quality results not published",
    ),
    M(
        "B05",
        "publish",
        PUB,
        '"INSERT INTO snap.meta.snapshot_info VALUES (?, ?), (?, ?), (?, ?)",\n            ["published_at", info["published_at"], "run_id", run_id,',
        '"INSERT INTO snap.meta.snapshot_info VALUES (?, ?), (?, ?), (?, ?)",\n            ["published_at", info["published_at"], "run_id", "",',
        T_PUBLISH,
        what="run id not recorded in the snapshot",
    ),
    # -- authorisation and safe downloads -----------------------------------------------------------------
    M(
        "A01",
        "authorisation",
        DL,
        "if not authorize_download(user, province_code):",
        "if False and not authorize_download(user, province_code):",
        T_AUTH,
        what="permission check skipped",
    ),
    M(
        "A02",
        "authorisation",
        DL,
        "if not authorize_download(user, province_code):",
        "if not authorize_download(user, None):",
        T_AUTH,
        what="permission asked for another scope",
    ),
    M(
        "A03",
        "authorisation",
        DL,
        "if fmt not in FORMATS:",
        "if fmt in ():",
        T_AUTH,
        what="unknown download formats accepted",
    ),
    M(
        "A04",
        "authorisation",
        DL,
        'return b"\\xef\\xbb\\xbf" + df.write_csv().encode("utf-8")',
        'return df.write_csv().encode("utf-8")',
        T_AUTH,
        what="CSV without BOM (Excel reads GBK)",
    ),
    M(
        "A05",
        "authorisation",
        "dashboards/xlsx.py",
        "    return neutralise_text(out)\n",
        "    return out\n",
        T_XLSX,
        what="text from the data written as a formula (not neutralised before pyexcelerate)",
    ),
    M(
        "A06",
        "authorisation",
        "dashboards/xlsx.py",
        "[neutralise_cell(str(c)) for c in df.columns]",
        "[str(c) for c in df.columns]",
        T_XLSX,
        what="a header starting with = written as a formula (not neutralised before pyexcelerate)",
    ),
    # -- ingestion rules ----------------------------------------------------------------------------------
    M(
        "I01",
        "ingestion rules",
        READ,
        'return raw[3:].decode("utf-8", errors="strict"), "utf-8-sig"',
        'return raw[3:].decode("utf-8", errors="strict"), "utf-8"',
        T_LOADERS,
        what="BOM not recorded",
    ),
    M(
        "I02",
        "ingestion rules",
        READ,
        'return raw.decode("gb18030"), "gbk"',
        'return raw.decode("gb18030"), "utf-8"',
        T_LOADERS,
        what="GBK file recorded as UTF-8",
    ),
    M(
        "I03",
        "ingestion rules",
        VAL,
        "value < c.min_value,",
        "value < c.min_value - 1e18,",
        T_INGEST,
        what="negative values loaded",
    ),
    M(
        "I04",
        "ingestion rules",
        VAL,
        "value > c.max_value,",
        "value > c.max_value * 1e6,",
        T_INGEST,
        what="implausible magnitudes loaded",
    ),
    M(
        "I05",
        "ingestion rules",
        VAL,
        '(pl.col("lapse_date") < pl.col("grant_date"), pl.lit("lapse_date before grant_date"))',
        '(pl.col("lapse_date") < pl.col("application_date"), pl.lit("lapse_date before grant_date"))',
        T_LAPSE_RULE,
        what="a patent lapsing before its grant loaded",
    ),
    M(
        "I06",
        "ingestion rules",
        VAL,
        'pl.col("target_year") <= pl.col("baseline_year")',
        'pl.col("target_year") < pl.col("baseline_year")',
        T_INGEST,
        what="a target year equal to its baseline",
    ),
    M(
        "I07",
        "ingestion rules",
        VAL,
        'pl.col("first_time_borrowers") > pl.col("enterprises_served")',
        'pl.col("first_time_borrowers") > pl.col("enterprises_served") + 1000',
        T_INGEST,
        what="more first-time borrowers than enterprises served",
    ),
    M(
        "I08",
        "ingestion rules",
        VAL,
        'checks.append((pl.col(d) > today, pl.format("future date in {}: {}"',
        'checks.append((pl.col(d) > pl.lit(date(2100, 1, 1)), pl.format("future date in {}: {}"',
        T_INGEST,
        what="future dates loaded",
    ),
    M(
        "I09",
        "ingestion rules",
        VAL,
        '((pl.col("patent_type") == "invention") & pl.col("kind_code").is_in(["B", "C"]))',
        '((pl.col("patent_type") == "invention") & pl.col("kind_code").is_in(["B", "C", "U"]))',
        T_INGEST,
        what="a utility-model kind code accepted for an invention",
    ),
    M(
        "I10",
        "ingestion rules",
        VAL,
        'later = agreeing.filter(pl.col(ROW_NUMBER) != pl.col("__first"))',
        'later = agreeing.filter(pl.col(ROW_NUMBER) < pl.col("__first"))',
        T_INGEST,
        what="duplicate keys within a file loaded",
    ),
    M(
        "I11",
        "ingestion rules",
        VAL,
        'pl.col("year") != partition,',
        'pl.col("year") > partition,',
        T_INGEST,
        what="rows of an earlier year loaded into a partition",
    ),
]


# -- running ------------------------------------------------------------------------------------------------


def scratch_copy(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in files:
        if not name:
            continue
        src = ROOT / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


def env_for(work: Path, warehouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IPCITY_TEST_SNAPSHOT", "CI")}
    env["PYTHONPATH"] = str(work)
    env["IPCITY_WAREHOUSE"] = str(warehouse)
    env["DAGSTER_HOME"] = str(work / ".dagster_home")
    return env


def run(cmd: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int, str]:
    try:
        res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        return res.returncode, (res.stdout + res.stderr)[-3000:]
    except subprocess.TimeoutExpired:
        return -9, "timeout"


def dbt_args(work: Path, *args: str) -> list[str]:
    d = work / "dbt_project"
    return [
        DBT,
        *args,
        "--project-dir",
        str(d),
        "--profiles-dir",
        str(d),
        "--target-path",
        str(work / ".mut_target"),
        "--log-path",
        str(work / ".mut_logs"),
    ]


def pytest_cmd(tests: list[str]) -> list[str]:
    return [PY, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=", *tests]


def prepare_dbt(work: Path, env: dict) -> None:
    """A warehouse with empty raw tables and every model built with --empty: what dbt unit tests need."""
    code = "import duckdb; from pipelines.ingest.load import ensure_schema; c = duckdb.connect(r'%s'); ensure_schema(c); c.close()"
    subprocess.run([PY, "-c", code % env["IPCITY_WAREHOUSE"]], cwd=work, env=env, check=True)
    rc, out = run(dbt_args(work, "build", "--empty", "--exclude", "test_type:data"), work / "dbt_project", env, 1800)
    if rc != 0:
        raise SystemExit(f"baseline dbt build failed:\n{out}")


def run_mutant(m: Mutant, work: Path, env: dict, timeout: float) -> dict:
    path = work / m.file
    original = path.read_bytes()
    text = original.decode("utf-8")
    if m.find not in text:
        return {"status": "missing", "seconds": 0.0, "detail": "snippet not found"}
    started = time.perf_counter()
    path.write_text(text.replace(m.find, m.replace), encoding="utf-8")
    try:
        detail = ""
        if m.dbt_select:
            rc, out = run(
                dbt_args(work, "test", "--select", m.dbt_select, "--exclude", "test_type:data"),
                work / "dbt_project",
                env,
                timeout,
            )
            if rc != 0:
                return {
                    "status": "killed",
                    "by": "dbt unit tests",
                    "seconds": time.perf_counter() - started,
                    "detail": "timeout" if rc == -9 else "",
                }
            detail = "dbt unit tests passed; "
        if m.tests:
            rc, out = run(pytest_cmd(m.tests), work, env, timeout)
            if rc == 5:
                return {"status": "error", "seconds": time.perf_counter() - started, "detail": "no tests collected"}
            if rc != 0:
                failed = [ln for ln in out.splitlines() if ln.startswith(("FAILED", "ERROR"))]
                return {
                    "status": "killed",
                    "by": (failed[0] if failed else out.splitlines()[-1:] or ["?"])[0][:160],
                    "seconds": time.perf_counter() - started,
                    "detail": "timeout" if rc == -9 else "",
                }
        return {"status": "survived", "seconds": time.perf_counter() - started, "detail": detail + "all tests passed"}
    finally:
        path.write_bytes(original)
        assert path.read_bytes() == original


def baseline(mutants: list[Mutant], work: Path, env: dict, timeout: float) -> None:
    tests = []
    for m in mutants:
        for t in m.tests:
            if t not in tests:
                tests.append(t)
    # files given whole make their node ids redundant
    whole = {t for t in tests if "::" not in t}
    tests = [t for t in tests if "::" not in t or t.split("::")[0] not in whole]
    rc, out = run(pytest_cmd(tests), work, env, timeout * 4)
    if rc != 0:
        raise SystemExit(f"the unmutated code fails its own tests; fix that first:\n{out}")


def report(results: list[tuple[Mutant, dict]], seconds: float) -> str:
    scored = [(m, r) for m, r in results if r["status"] in ("killed", "survived")]
    killed = sum(1 for _, r in scored if r["status"] == "killed")
    survived = [(m, r) for m, r in scored if r["status"] == "survived"]
    missing = [(m, r) for m, r in results if r["status"] not in ("killed", "survived")]
    score = killed / len(scored) if scored else 0.0
    lines = [
        f"Mutants: {len(results)} listed, {len(scored)} applied, {killed} killed, {len(survived)} survived, "
        f"{len(missing)} not applied. Score {score:.1%} ({killed}/{len(scored)}). {seconds / 60:.1f} min of mutant runs.",
        "",
        "| id | area | file | mutation | result | by / note | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, r in results:
        note = r.get("by") or r.get("detail") or ""
        if r["status"] == "survived" and m.harmless:
            note = f"harmless: {m.harmless}"
        lines.append(f"| {m.id} | {m.area} | `{m.file}` | {m.what} | {r['status']} | {note} | {r['seconds']:.0f} |")
    by_area: dict[str, list[int]] = {}
    for m, r in scored:
        by_area.setdefault(m.area, [0, 0])[0 if r["status"] == "killed" else 1] += 1
    lines += ["", "| area | killed | survived |", "|---|---|---|"]
    lines += [f"| {a} | {k} | {s} |" for a, (k, s) in sorted(by_area.items())]
    if survived:
        lines += ["", "Survivors:"]
        lines += [
            f"- {m.id} {m.what}: {m.harmless or 'NOT explained: add a test or mark it harmless'}" for m, _ in survived
        ]
    if missing:
        lines += ["", "Not applied (update the snippet):"]
        lines += [f"- {m.id} `{m.file}`: {r['detail']}" for m, r in missing]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list mutants and whether their snippet is found")
    ap.add_argument("--only", help="comma-separated mutant ids")
    ap.add_argument("--area", help="only mutants of this area")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per mutant step before it counts as killed")
    ap.add_argument("--no-baseline", action="store_true", help="skip running the selected tests on unmutated code")
    ap.add_argument("--report", type=Path, help="also write the Markdown report here")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    ap.add_argument(
        "--combine", nargs="+", type=Path, help="only render one report from the --json files of partial runs"
    )
    args = ap.parse_args(argv)

    if args.combine:
        by_id = {m.id: m for m in MUTANTS}
        done = {r["id"]: r for f in args.combine for r in json.loads(f.read_text(encoding="utf-8"))}
        results = [(m, done[m.id]) for m in MUTANTS if m.id in done]
        text = report(results, sum(r["seconds"] for _, r in results))
        print(text)
        if args.report:
            args.report.write_text(text + "\n", encoding="utf-8")
        unknown = set(done) - set(by_id)
        return 1 if unknown else 0

    mutants = MUTANTS
    if args.only:
        wanted = set(args.only.split(","))
        mutants = [m for m in mutants if m.id in wanted]
    if args.area:
        mutants = [m for m in mutants if m.area == args.area]
    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids)), "duplicate mutant ids"

    if args.list:
        for m in mutants:
            found = (ROOT / m.file).is_file() and m.find in (ROOT / m.file).read_text(encoding="utf-8")
            print(f"{m.id}  {m.area:18s} {'ok     ' if found else 'MISSING'} {m.file}: {m.what}")
        return 0

    started = time.perf_counter()
    # a stopped run (kill PID) still removes its scratch copy: SIGTERM unwinds through the finally below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="ipcity-mutants-"))
    try:
        scratch_copy(work)
        env = env_for(work, work / ".mut_warehouse.duckdb")
        print(f"scratch copy: {work}", flush=True)
        if any(m.dbt_select for m in mutants):
            prepare_dbt(work, env)
        if not args.no_baseline:
            print("baseline: the selected tests on unmutated code ...", flush=True)
            baseline(mutants, work, env, args.timeout)
        results = []
        for m in mutants:
            r = run_mutant(m, work, env, args.timeout)
            results.append((m, r))
            print(f"{m.id} {m.area:18s} {r['status']:9s} {r['seconds']:6.0f}s  {m.what}  {r.get('by', '')}", flush=True)
        text = report(results, time.perf_counter() - started)
        print("\n" + text)
        if args.report:
            args.report.write_text(text + "\n", encoding="utf-8")
        if args.json:
            args.json.write_text(
                json.dumps(
                    [{"id": m.id, "area": m.area, "file": m.file, "what": m.what, **r} for m, r in results],
                    ensure_ascii=False,
                    indent=1,
                ),
                encoding="utf-8",
            )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
