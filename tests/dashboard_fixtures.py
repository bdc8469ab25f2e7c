"""Snapshots for the dashboard tests and benchmark.

``build_sample_run`` is the real thing: generate the sample landing files and run the whole pipeline
(ingest → quality → dbt → evaluation → publish) into a temp folder; the browser tests, the HTTP tests and the
benchmark use it. ``build_snapshot`` hand-makes a snapshot in the published shape (every table and column a real
publish writes: ``snapshot_writer.published_schema``) for the unit tests that need
edge cases the pipeline never publishes (tables missing, two publishes with known different rankings).
Units and coordinates are real (reference data); its scores, statuses and quality records are invented.

Reuse an existing real snapshot instead of running the pipeline with
``IPCITY_TEST_SNAPSHOT=/path/to/x.snapshot.duckdb``.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np
import polars as pl

from pipelines import settings
from pipelines.labels import group_names, performance_group
from pipelines.snapshot_writer import SCHEMA_FILE, SNAPSHOT_SCHEMA_VERSION, published_schema

SHARED_REFERENCE = Path("/work/shared/reference")
SEEDS = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds"

INDICATORS = [
    # code, pillar, name_zh, name_en, unit, direction
    ("MGT01", "MGT", "每万人培训党政干部人次", "Officials trained per 10k people", "人次/万人", "higher"),
    (
        "MGT02",
        "MGT",
        "每万人培训服务机构人员人次",
        "Service-agency staff trained per 10k people",
        "人次/万人",
        "higher",
    ),
    ("MGT03", "MGT", "每百万人培训活动场次", "Training events per million people", "场/百万人", "higher"),
    ("PRO01", "PRO", "案件结案率", "Case closure rate", "%", "higher"),
    ("PRO02", "PRO", "结案天数中位数", "Median days to close", "天", "lower"),
    ("PRO03", "PRO", "调解结案占比", "Share of closed cases resolved by mediation", "%", "higher"),
    ("PRO04", "PRO", "每万人行政案件办理量", "Administrative cases handled per 10k people", "件/万人", "higher"),
    ("UTL01", "UTL", "质押融资额占GDP比", "Pledge financing per GDP", "万元/亿元", "higher"),
    (
        "UTL02",
        "UTL",
        "每百万人质押融资服务企业数",
        "Enterprises served by pledge financing per million people",
        "家/百万人",
        "higher",
    ),
    ("UTL03", "UTL", "首贷企业占比", "Share of first-time borrowers", "%", "higher"),
    ("UTL04", "UTL", "质押金额同比增长", "Pledge amount growth, year on year", "%", "higher"),
    (
        "UTL05",
        "UTL",
        "每千件有效发明专利质押数",
        "Patents pledged per 1,000 invention patents in force",
        "件/千件",
        "higher",
    ),
    ("QLT01", "QLT", "每万人口发明专利拥有量", "Invention patents in force per 10k people", "件/万人", "higher"),
    (
        "QLT02",
        "QLT",
        "每万人口高价值发明专利拥有量",
        "High-value invention patents in force per 10k people",
        "件/万人",
        "higher",
    ),
    ("QLT03", "QLT", "发明专利授权占比", "Invention share of grants", "%", "higher"),
    ("QLT04", "QLT", "企业发明专利授权占比", "Enterprises' share of invention grants", "%", "higher"),
    ("ENV01", "ENV", "每万人培训参与人次", "Training participants per 10k people", "人次/万人", "higher"),
    ("ENV02", "ENV", "每万人学校参与人次", "School participants per 10k people", "人次/万人", "higher"),
    ("ENV03", "ENV", "每万人专利授权量", "Patent grants per 10k people", "件/万人", "higher"),
]
PILLARS = {
    "MGT": ("管理能力", "Management capability"),
    "PRO": ("大保护", "Big protection"),
    "UTL": ("运用", "Utilisation"),
    "QLT": ("质量", "Quality"),
    "ENV": ("发展环境", "Development environment"),
}
TARGET_INDICATORS = ["QLT01", "QLT02", "UTL01", "PRO01", "ENV03", "MGT01"]
# The statuses of a target with a gap to close (the fixture's targets lie 10-60 % above their baseline) ...
GAP_TARGET_STATUSES = [
    "achieved",
    "on_track",
    "acceleration_needed",
    "limited_progress",
    "deteriorating",
    "insufficient_data",
]
# ... and every status fct_target_status_year gives: a target equal to its baseline (or of 0, or none) asks for
# nothing and is 'invalid_target' (the fixture's first programme unit's INVALID_TARGET_INDICATOR targets)
TARGET_STATUSES = [*GAP_TARGET_STATUSES, "invalid_target"]
INVALID_TARGET_INDICATOR = "MGT01"
SOURCES = [
    "cities",
    "programme_cities",
    "population",
    "targets",
    "patent_stats",
    "patent_grants",
    "pledge_loans",
    "enforcement_cases",
    "training_events",
]


def reference_dir() -> Path:
    """The repo's copy of the reference data when present, else the shared folder it is copied from."""
    if (settings.REFERENCE_DIR / "cities_prefecture_level_2023.csv").exists():
        return settings.REFERENCE_DIR
    return SHARED_REFERENCE


def _english_name(pinyin: str, level: str) -> str:
    return "".join((pinyin or "").split()).capitalize()


def build_dim_city(rng: np.random.Generator, n_extra_programme: int = 40) -> pl.DataFrame:
    ref = reference_dir()
    cities = pl.read_csv(
        ref / "cities_prefecture_level_2023.csv", schema_overrides={"province_code": pl.String, "city_code": pl.String}
    )
    roster = pl.read_csv(
        ref / "national_ip_demonstration_cities_2012_2016.csv",
        schema_overrides={"prefecture_code": pl.String, "county_or_district_code_2023": pl.String},
    )
    provinces = pl.read_csv(ref / "modood_provinces.csv", schema_overrides={"code": pl.String})

    prefectures = cities.select(
        unit_code=pl.col("city_code"),
        unit_name=pl.col("city_name"),
        unit_name_en=pl.struct("pinyin", "level").map_elements(
            lambda r: _english_name(r["pinyin"], r["level"]), return_dtype=pl.String
        ),
        province_code=pl.col("province_code"),
        province_name=pl.col("province_name"),
        level=pl.col("level"),
        parent_code=pl.col("province_code"),
        lng=pl.col("lng").cast(pl.Float64),
        lat=pl.col("lat").cast(pl.Float64),
    )
    pref_rows = {r["unit_code"]: r for r in prefectures.iter_rows(named=True)}

    county_rows = []
    cohort = {}
    for r in roster.iter_rows(named=True):
        code = r["county_or_district_code_2023"] or r["prefecture_code"]
        cohort[code] = r["first_designation_year"]
        if r["county_or_district_code_2023"]:
            parent = pref_rows[r["prefecture_code"]]
            suffix = "市" if r["admin_level"] == "county_level_city" else ""
            county_rows.append(
                {
                    "unit_code": code,
                    "unit_name": r["unit_name"] + suffix,
                    "unit_name_en": r["unit_name"] + suffix,  # no pinyin source for counties; keep the real name
                    "province_code": parent["province_code"],
                    "province_name": parent["province_name"],
                    "level": r["admin_level"],
                    "parent_code": r["prefecture_code"],
                    # Counties sit near their prefecture's seat; the fixture nudges them so points do not overlap.
                    "lng": (parent["lng"] or 0) + float(rng.uniform(-0.35, 0.35)),
                    "lat": (parent["lat"] or 0) + float(rng.uniform(-0.25, 0.25)),
                }
            )
    counties = pl.DataFrame(county_rows, schema=prefectures.schema)

    others = [c for c in pref_rows if c not in cohort and pref_rows[c]["lng"] is not None]
    for code in rng.choice(others, size=n_extra_programme, replace=False):
        cohort[str(code)] = 2022

    prov = provinces.select(
        unit_code=pl.col("code") + "0000",
        unit_name=pl.col("name"),
        unit_name_en=pl.col("name"),
        province_code=pl.col("code") + "0000",
        province_name=pl.col("name"),
        level=pl.lit("province"),
        parent_code=pl.lit(None, pl.String),
    ).join(
        prefectures.group_by("province_code").agg(pl.col("lng").mean(), pl.col("lat").mean()),
        on="province_code",
        how="left",
    )

    dim = pl.concat([prov, prefectures, counties], how="vertical_relaxed")
    codes = dim["unit_code"].to_list()
    status = {c: "active" for c in cohort}
    programme_codes = sorted(cohort)
    for c in rng.choice(programme_codes, size=3, replace=False):
        status[str(c)] = "rectification"
    withdrawn = str(rng.choice(programme_codes))
    status[withdrawn] = "withdrawn"
    return dim.with_columns(
        is_programme=pl.Series([c in cohort for c in codes]),
        programme_cohort_year=pl.Series([cohort.get(c) for c in codes], dtype=pl.Int32),
        programme_status=pl.Series([status.get(c) for c in codes], dtype=pl.String),
        withdrawn_year=pl.Series([2021 if c == withdrawn else None for c in codes], dtype=pl.Int32),
    )


def build_dim_indicator() -> pl.DataFrame:
    counts = {p: sum(1 for i in INDICATORS if i[1] == p) for p in PILLARS}
    return pl.DataFrame(
        [
            {
                "catalog_version": "v1",
                "indicator_code": code,
                "pillar_code": pillar,
                "pillar_name_zh": PILLARS[pillar][0],
                "pillar_name_en": PILLARS[pillar][1],
                "name_zh": zh,
                "name_en": en,
                "definition": en,
                "formula": "",
                "unit": unit,
                "source_table": "",
                "direction": direction,
                "weight": 1 / counts[pillar],
                "pillar_weight": 0.2,
            }
            for code, pillar, zh, en, unit, direction in INDICATORS
        ]
    )


def build_facts(dim: pl.DataFrame, years: list[int], rng: np.random.Generator) -> dict[str, pl.DataFrame]:
    units = dim.filter(pl.col("level") != "province")
    codes = units["unit_code"].to_numpy()
    is_prog = units["is_programme"].to_numpy()
    n_u, n_y, n_i = len(codes), len(years), len(INDICATORS)
    strength = rng.normal(0, 1, n_u) + 0.6 * is_prog
    momentum = rng.normal(0.6, 0.5, n_u)
    ind_bias = rng.normal(0, 0.6, (n_u, n_i))
    t = np.arange(n_y)
    score = (
        50
        + 12 * strength[:, None, None]
        + momentum[:, None, None] * t[None, :, None]
        + 8 * ind_bias[:, None, :]
        + rng.normal(0, 4, (n_u, n_y, n_i))
    )
    score = np.clip(score, 0, 100)
    base = np.array([5, 3, 20, 80, 120, 30, 2, 40, 15, 35, 8, 6, 10, 3, 25, 70, 50, 30, 18], dtype=float)
    raw = base[None, None, :] * np.exp((score - 50) / 60)
    missing = rng.random((n_u, n_y, n_i)) < 0.02

    ind_rows = pl.DataFrame(
        {
            "unit_code": np.repeat(codes, n_y * n_i),
            "year": np.tile(np.repeat(np.array(years, dtype=np.int32), n_i), n_u),
            "indicator_code": np.tile([i[0] for i in INDICATORS], n_u * n_y),
            "catalog_version": "v1",
            "raw_value": np.where(missing, np.nan, raw).ravel(),
            "value": raw.ravel(),
            "is_imputed": missing.ravel(),
            "is_outlier": (rng.random(n_u * n_y * n_i) < 0.005),
            "is_missing": missing.ravel(),
            "normalised_score": score.ravel(),
        }
    ).with_columns(pl.col("raw_value").fill_nan(None))

    pillar_idx = {p: [k for k, i in enumerate(INDICATORS) if i[1] == p] for p in PILLARS}
    pillar_scores = {p: score[:, :, idx].mean(axis=2) for p, idx in pillar_idx.items()}
    composite = sum(pillar_scores.values()) / len(PILLARS)
    frames = []
    for k, year in enumerate(years):
        c = composite[:, k]
        prog_mean = c[is_prog].mean()
        frames.append(
            pl.DataFrame(
                {
                    "unit_code": codes,
                    "year": np.int32(year),
                    "catalog_version": "v1",
                    **{f"score_{p.lower()}": pillar_scores[p][:, k] for p in PILLARS},
                    "composite": c,
                    "composite_index": c / prog_mean * 100,
                    "programme_average_composite": np.full(len(codes), prog_mean),
                    "is_evaluated": is_prog,
                }
            )
        )
    # As the mart: rank and n_ranked among programme units only, rank_all among every city.
    scores = (
        pl.concat(frames)
        .with_columns(
            rank_all=pl.col("composite").rank("ordinal", descending=True).over("year").cast(pl.Int64),
            rank=pl.when(pl.col("is_evaluated"))
            .then(pl.col("composite").rank("ordinal", descending=True).over("year", "is_evaluated"))
            .cast(pl.Int64),
            n_ranked=pl.when(pl.col("is_evaluated")).then(pl.len().over("year", "is_evaluated")).cast(pl.Int64),
            is_ranked=pl.col("is_evaluated"),
        )
        .with_columns(
            performance_group_all=pl.col("composite_index").map_elements(performance_group, return_dtype=pl.String),
        )
        .with_columns(
            performance_group=pl.when(pl.col("is_ranked")).then(pl.col("performance_group_all")),
            group_third=pl.when(pl.col("rank") <= pl.col("n_ranked") / 3)
            .then(pl.lit("upper"))
            .when(pl.col("rank") <= 2 * pl.col("n_ranked") / 3)
            .then(pl.lit("middle"))
            .otherwise(pl.lit("lower")),
        )
        .sort("unit_code", "year")
        .with_columns(
            index_change=pl.col("composite_index") - pl.col("composite_index").shift(1).over("unit_code"),
            rank_change=(pl.col("rank").shift(1).over("unit_code") - pl.col("rank")).cast(pl.Int32),
        )
    )

    width = (8 + 30 * rng.random(len(scores))).astype(int)
    uncertainty = (
        scores.select("unit_code", "year", nominal_rank=pl.col("rank"))
        .with_columns(
            median_rank=pl.col("nominal_rank").cast(pl.Float64),
            p05_rank=pl.max_horizontal(pl.lit(1), pl.col("nominal_rank") - pl.Series(width // 2)).cast(pl.Float64),
            p95_rank=(pl.col("nominal_rank") + pl.Series(width - width // 2)).cast(pl.Float64),
        )
        .filter(pl.col("nominal_rank").is_not_null())
    )

    programme = scores.filter(pl.col("is_evaluated"))
    prog_rows = programme.sort("unit_code", "year").to_dicts()
    eval_rows = []
    low_streak: dict[str, int] = {}
    for r in prog_rows:
        idx = r["composite_index"]
        streak = low_streak.get(r["unit_code"], 0) + 1 if idx < 80 else 0
        low_streak[r["unit_code"]] = streak
        fired = dict.fromkeys(("x1", "r1", "r2", "w1", "w2", "ex1"), False)
        if performance_group(idx) == group_names()[0]:
            stage, fired["ex1"] = "exemplary", True
        elif streak >= 3:
            stage, fired["x1"], fired["w1"] = "exit_candidate", True, True
        elif streak == 2:
            stage, fired["r1"], fired["w1"] = "rectification", True, True
        elif streak == 1:
            stage, fired["w1"] = "watch", True
        else:
            stage = "normal"
        share = float(rng.uniform(0.4, 1.0)) if stage != "normal" else float(rng.uniform(0, 0.2))
        text = {
            "x1": "X1 exit candidate (previous cycle in rectification; index change since 2022 -3.0)",
            "r1": f"R1 rectification ({streak} consecutive watch years)",
            "w1": f"W1 watch (group {r['performance_group']}, rank {r['rank']}/{r['n_ranked']})",
            "ex1": "EX1 exemplary (group leader, index change since 2022 +2.0)",
        }
        eval_rows.append(
            {
                "unit_code": r["unit_code"],
                "year": r["year"],
                "stage": stage,
                "rules_fired": "; ".join(text[k] for k in text if fired[k]),
                **{f"fired_{k}": v for k, v in fired.items()},
                "performance_group": r["performance_group"],
                "rank": r["rank"],
                "n_ranked": r["n_ranked"],
                "cycle_start": 2023,
                "index_change_cycle": -3.0,
                "watch_run_years": streak,
                "targets_evaluable": 3,
                "targets_lagging": 1,
                "is_robust": None if stage == "normal" else share >= 0.8,
                "share_bottom": share,
            }
        )
    evaluation = pl.DataFrame(eval_rows, infer_schema_length=None).with_columns(
        pl.col("year", "cycle_start", "watch_run_years", "targets_evaluable", "targets_lagging").cast(pl.Int32)
    )
    cycles = []
    for code in programme["unit_code"].unique().sort().to_list():
        for cycle, start, end in (("2016-2020", 2016, 2020), ("2021-2025", 2021, 2025)):
            if end > max(years) + 5:
                continue
            verdict = str(rng.choice(["passed", "passed", "passed", "conditional", "failed"]))
            cycles.append(
                {
                    "unit_code": code,
                    "cycle": cycle,
                    "cycle_start": start,
                    "cycle_end": end,
                    "verdict": verdict,
                    "evidence": f"{verdict}: targets met {rng.integers(2, 7)}/6",
                }
            )
    cycle_df = pl.DataFrame(cycles).with_columns(pl.col("cycle_start", "cycle_end").cast(pl.Int32))

    target_rows = []
    last = max(years)
    unit_idx = {c: k for k, c in enumerate(codes)}
    ind_idx = {i[0]: k for k, i in enumerate(INDICATORS)}
    programme_codes = programme["unit_code"].unique().sort().to_list()
    first_unit = programme_codes[0] if programme_codes else None
    for code in programme_codes:
        for plan, b, tgt in (("plan_2016_2020", 2016, 2020), ("plan_2021_2025", 2020, 2025)):
            if b > last or b not in years:
                continue
            for ind in TARGET_INDICATORS:
                # Targets start from the unit's own baseline value so that the trend and target lines share a scale.
                bv = float(raw[unit_idx[code], years.index(b), ind_idx[ind]])
                tv = bv * float(rng.uniform(1.1, 1.6))
                cur_year = min(tgt, last)
                cv = float(raw[unit_idx[code], years.index(cur_year), ind_idx[ind]])
                row = {
                    "unit_code": code,
                    "plan_id": plan,
                    "indicator_code": ind,
                    "baseline_year": b,
                    "baseline_value": bv,
                    "target_year": tgt,
                    "target_value": tv,
                    "current_year": cur_year,
                    "current_value": cv,
                    "progress_index": (cv - bv) / (tv - bv) * 100,
                    "growth_ratio": cv / bv,
                    "status": str(rng.choice(GAP_TARGET_STATUSES)),
                    "projected_value": cv * float(rng.uniform(0.95, 1.2)),
                }
                if code == first_unit and ind == INVALID_TARGET_INDICATOR:
                    # as the mart writes an invalid target: no progress, growth or projection (the draws above are
                    # kept, so every other row is as before)
                    row |= {"target_value": bv, "progress_index": None, "growth_ratio": None}
                    row |= {"status": "invalid_target", "projected_value": None}
                target_rows.append(row)
    targets = pl.DataFrame(target_rows).with_columns(
        pl.col("baseline_year", "target_year", "current_year").cast(pl.Int32)
    )

    return {
        "fct_city_indicator_year": ind_rows,
        "fct_city_score_year": scores,
        "fct_rank_uncertainty": uncertainty,
        "fct_evaluation_year": evaluation,
        "fct_evaluation_cycle": cycle_df,
        "fct_target_status": targets,
    }


def build_quality(years: list[int], rng: np.random.Generator, runs: int = 3) -> dict[str, pl.DataFrame]:
    start = datetime(2026, 3, 1, 2, 0, 0)
    checks, rejections, files = [], [], []
    reasons = [
        ("R01", "unknown region code / 未知行政区划代码"),
        ("R02", "date outside partition / 日期不在分区内"),
        ("R03", "negative amount / 金额为负"),
        ("R04", "duplicate key / 主键重复"),
    ]
    for k in range(runs):
        run_id = f"run-{k + 1:04d}"
        at = start + timedelta(days=k)
        for name, asset in (
            ("not_null_unit_code", "marts.fct_city_score_year"),
            ("composite_between_0_100", "marts.fct_city_score_year"),
            ("unique_unit_year", "marts.fct_city_indicator_year"),
            ("pledge_amount_non_negative", "raw.pledge_loans"),
            ("case_dates_ordered", "raw.enforcement_cases"),
            ("grant_kind_code_valid", "raw.patent_grants"),
            ("population_positive", "raw.population"),
            ("row_count_vs_previous", "raw.training_events"),
        ):
            passed = bool(rng.random() > 0.15)
            checks.append(
                {
                    "run_id": run_id,
                    "checked_at": at,
                    "check_name": name,
                    "asset": asset,
                    "partition": str(years[-1]),
                    "severity": "error" if "unique" in name else "warn",
                    "passed": passed,
                    "observed_value": json.dumps(
                        {"unexpected_count": 0 if passed else int(rng.integers(1, 40)), "element_count": 400}
                    ),
                    "failing_sample": None if passed else json.dumps([{"unit_code": "110100"}]),
                    "expectation": name.replace("_", " "),
                }
            )
        for src in SOURCES:
            n_read = int(rng.integers(300, 50000))
            rej = int(rng.integers(0, 60)) if src in ("pledge_loans", "enforcement_cases", "patent_grants") else 0
            files.append(
                {
                    "source": src,
                    "file_name": f"{src}_{years[-1]}.csv",
                    "file_hash": f"{k}{src}",
                    "partition": str(years[-1]),
                    "rows_read": n_read,
                    "rows_loaded": n_read - rej,
                    "rows_rejected": rej,
                    "status": "loaded",
                    "message": None,
                    "ingested_at": at,
                    "run_id": run_id,
                }
            )
            if rej:
                code, reason = reasons[int(rng.integers(0, len(reasons)))]
                rejections.append({"run_id": run_id, "source": src, "reason_code": code, "reason": reason, "rows": rej})
    return {
        "check_results": pl.DataFrame(checks),
        "rejections_summary": pl.DataFrame(rejections),
        "ingested_files": pl.DataFrame(files),
    }


def build_snapshot(
    path: Path,
    *,
    first_year: int = 2016,
    last_year: int = 2025,
    seed: int = 7,
    include_alerts: bool = True,
    include_quality: bool = True,
    include_evaluation: bool = True,
) -> Path:
    """Write a snapshot DuckDB file at ``path`` (overwritten) and return the path."""
    rng = np.random.default_rng(seed)
    years = list(range(first_year, last_year + 1))
    dim = build_dim_city(rng)
    facts = build_facts(dim, years, rng)
    if not include_evaluation:
        for name in ("fct_evaluation_year", "fct_evaluation_cycle", "fct_rank_uncertainty"):
            facts.pop(name)
    tables = {
        ("marts", "dim_city"): dim,
        ("marts", "dim_indicator"): build_dim_indicator(),
        **{("marts", k): v for k, v in facts.items()},
    }
    # provenance marts (issue 11): each value's recorded input, and the ledger rows each unit-year came from
    ind = facts["fct_city_indicator_year"]
    tables[("marts", "fct_indicator_provenance")] = ind.select(
        "unit_code",
        "year",
        "indicator_code",
        numerator_measure=pl.col("indicator_code").str.to_lowercase(),
        numerator_value=pl.col("value"),
        denominator_measure=pl.lit(None, pl.String),
        denominator_value=pl.lit(None, pl.Float64),
    )
    tables[("marts", "fct_unit_year_source_rows")] = (
        ind.select("unit_code", "year")
        .unique()
        .with_columns(
            source_name=pl.lit("patent_grants"),
            source_file=pl.format("patent_grants/grants_{}.csv", pl.col("year")),
            row_ranges=pl.lit("2-41"),
            n_row_ranges=pl.lit(1),
            n_rows=pl.lit(40),
            first_row_number=pl.lit(2),
        )
    )
    if include_quality:
        q = build_quality(years, rng)
        tables[("quality", "check_results")] = q["check_results"]
        tables[("quality", "rejections_summary")] = q["rejections_summary"]
        tables[("raw", "ingested_files")] = q["ingested_files"]
    if include_alerts and include_evaluation:
        ev = facts["fct_evaluation_year"].filter(pl.col("stage").is_in(["watch", "rectification", "exit_candidate"]))
        tables[("marts", "fct_alerts")] = ev.select(
            "unit_code",
            "year",
            alert_type=pl.lit("behind_target"),
            status=pl.lit("limited_progress"),
            plan_id=pl.lit("plan_2021_2025"),
            indicator_code=pl.lit("UTL01"),
            progress_index=pl.lit(0.3),
            message=pl.format("{} → {}", pl.col("year"), pl.col("stage")),
            created_at=pl.lit(datetime(2026, 3, 3, 8, 0)),
        )

    # the tables a flag leaves out (a snapshot from before they were published, a run that published no quality)
    left_out = set()
    if not include_quality:
        left_out |= {"quality.check_results", "quality.rejections_summary", "raw.ingested_files", "raw.rejected_rows"}
    if not include_evaluation:
        left_out |= {"marts.fct_evaluation_year", "marts.fct_evaluation_cycle", "marts.fct_rank_uncertainty"}
    if not (include_alerts and include_evaluation):
        left_out.add("marts.fct_alerts")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    try:
        write_published_tables(con, {f"{schema}.{name}": frame for (schema, name), frame in tables.items()}, left_out)
        # the same contract header the pipeline's publish writes
        con.execute("create schema meta")
        con.execute("create table meta.snapshot_info (key varchar, value varchar)")
        con.execute("insert into meta.snapshot_info values ('schema_version', ?)", [str(SNAPSHOT_SCHEMA_VERSION)])
        con.execute("checkpoint")
    finally:
        con.close()
    return path


def write_published_tables(con, frames: dict[str, pl.DataFrame], left_out: set[str] = frozenset()) -> None:
    """Every table a real publish writes, with its columns and types (snapshot_writer.published_schema, read from a
    real publish), filled from ``frames`` by column name; a column the frame lacks is null, a table without a frame
    is its dbt seed's rows (the labels, the calendars, the catalogs) or empty. The hand-made snapshot lacked tables
    and columns the report PDF and the comparison page read (a 500 no real snapshot has). A frame of a table or
    column publish does not write is refused: the fixture cannot drift from what publish writes."""
    contract = published_schema()
    for name, frame in frames.items():
        if name not in contract:
            raise ValueError(f"{name}: not a table publish writes ({SCHEMA_FILE.name})")
        extra = sorted(set(frame.columns) - {column for column, _ in contract[name]})
        if extra:
            raise ValueError(f"{name}: {', '.join(extra)} not a column publish writes ({SCHEMA_FILE.name})")
    for name, columns in contract.items():
        if name in left_out:
            continue
        schema, table = name.split(".")
        con.execute(f"create schema if not exists {schema}")
        con.execute(f'create table {schema}."{table}" (' + ", ".join(f'"{c}" {t}' for c, t in columns) + ")")
        if name in frames:
            con.register("frame_view", frames[name].to_arrow())
            con.execute(f'insert into {schema}."{table}" by name select * from frame_view')
            con.unregister("frame_view")
        elif schema == "marts" and (SEEDS / f"{table}.csv").exists():
            seed = str(SEEDS / f"{table}.csv")
            con.execute(
                f'insert into {schema}."{table}" by name select * from read_csv(?, header = true, all_varchar = true)',
                [seed],
            )


def publish_snapshot(target: Path, **kwargs) -> Path:
    """Mimic the pipeline's publish: build beside the target, then swap it in with one os.replace."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    build_snapshot(tmp, **kwargs)
    os.replace(tmp, target)
    return target


class SampleRun(NamedTuple):
    snapshot: Path
    dossier_dir: Path
    truth: dict
    dossiers: tuple[str, ...]  # file names in dossier_dir


def build_sample_run(
    base: Path,
    *,
    seed: int = 42,
    scale: float = 0.002,
    first_year: int = 2016,
    last_year: int = 2025,
    case_scale: float | None = 1.0,
) -> SampleRun:
    """Generate sample landing files and run the real pipeline in ``base``; return the published snapshot.

    The pipeline resolves every path from IPCITY_WAREHOUSE and DAGSTER_HOME, so both point into ``base`` for
    the duration and are restored afterwards.
    """
    from pipelines import settings as ps
    from pipelines.generate import generate
    from pipelines.launcher import run_pipeline

    base = Path(base)
    saved = {k: os.environ.get(k) for k in ("IPCITY_WAREHOUSE", "DAGSTER_HOME", "IPCITY_LANDING")}
    os.environ["IPCITY_WAREHOUSE"] = str(base / "warehouse.duckdb")
    os.environ["DAGSTER_HOME"] = str(base / "dagster_home")
    os.environ.pop("IPCITY_LANDING", None)
    try:
        # complete enforcement case records, as `ipcity generate` writes them: PRO04 at its real order on screen
        generate(
            base / "landing",
            seed=seed,
            scale=scale,
            first_year=first_year,
            last_year=last_year,
            case_scale=case_scale,
        )
        summary = run_pipeline()
        assert summary.success, summary.runs
        snapshot = ps.snapshot_path()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert snapshot.is_file(), f"the pipeline published nothing at {snapshot}"
    return sample_run_from(snapshot)


def sample_run_from(snapshot: Path) -> SampleRun:
    """A published sample run's snapshot with its truth file and one dossier (the pipeline's folder layout:
    ``<dir>/published/<x>.snapshot.duckdb``, ``<dir>/dossiers``, ``<dir>/sample_truth.json``).

    The dossier is written, with the evaluation step's own writer, for the worst-flagged unit of the last year,
    a known-lagging sample city when one is flagged, so the watchlist's dossier links lead somewhere.
    """
    from pipelines.evaluation.dossier import write_dossier

    snapshot = Path(snapshot)
    data = snapshot.parent.parent
    dossier_dir = data / "dossiers"
    truth_file = data / "sample_truth.json"
    truth = json.loads(truth_file.read_text(encoding="utf-8")) if truth_file.is_file() else {}
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        year = con.execute("select max(year) from marts.fct_evaluation_year").fetchall()[0][0]
        flagged = [
            r[0]
            for r in con.execute(
                "select unit_code from marts.fct_evaluation_year where year = ? and stage in "
                "('exit_candidate', 'rectification', 'watch') order by case stage when 'exit_candidate' then 0 "
                "when 'rectification' then 1 else 2 end, rank nulls last, unit_code",
                [year],
            ).fetchall()
        ]
    finally:
        con.close()
    lagging = set(truth.get("lagging", []))
    flagged.sort(key=lambda c: c not in lagging)  # stable: keeps the severity order within each part
    if flagged and not (dossier_dir / f"{flagged[0]}_{year}.html").is_file():
        write_dossier(snapshot, flagged[0], year, dossier_dir)
    # The pipeline writes a dossier for every flagged city-year; the latest year's worst-flagged unit comes
    # first, as the one the watchlist tests follow.
    main = [f"{flagged[0]}_{year}.html", f"{flagged[0]}_{year}.md"] if flagged else []
    others = sorted(p.name for p in dossier_dir.glob("*_*.*") if p.name not in main) if dossier_dir.is_dir() else []
    return SampleRun(snapshot, dossier_dir, truth, tuple(main + others))


def test_snapshot_override() -> Path | None:
    """A real sample-run snapshot to test against instead of the fixture (one-line switch for the lead)."""
    value = os.environ.get("IPCITY_TEST_SNAPSHOT")
    return Path(value) if value else None


test_snapshot_override.__test__ = False  # not a test despite the name


def year_and_units(snapshot: Path) -> tuple[int, list[str]]:
    """A published snapshot's latest ranked year and its ranked units, best first (the compare page's picks in the
    dash8/dash9 tests, in-process and in the browser; each round had its own copy)."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        year = con.execute("select max(year) from marts.fct_city_score_year where is_ranked").fetchall()[0][0]
        codes = [
            r[0]
            for r in con.execute(
                "select unit_code from marts.fct_city_score_year where year = ? and is_ranked order by rank, unit_code",
                [year],
            ).fetchall()
        ]
    finally:
        con.close()
    return year, codes


def alert_row(**overrides) -> dict:
    """One row of the alerts page as ``dashboards.pages.alerts.load_alerts`` gives it: a resolved alert with its
    firing and resolving times, for the pure tests of the page's rows and columns (dash5 and trust2 each wrote it
    out), with ``overrides`` for what a test is about."""
    return {
        "fingerprint": "abcdef0123456789",
        "rule_id": "x",
        "kind": "x",
        "severity": "warning",
        "unit_name": "洛阳市",
        "unit_code": "410300",
        "title_en": "t",
        "title_zh": "t",
        "state": "resolved",
        "last_fired_at": "2026-12-05T01:19:00Z",
        "resolved_at": "2026-12-05T20:00:00Z",
        "silenced_until": None,
        "acked_at": None,
        **overrides,
    }


def national_client(snapshot: Path, access_dir: Path):
    """A Flask test client of the dashboard on ``snapshot``, signed in as the national test account, its users
    store and session key in ``access_dir`` (the dash8, dash9 and dash10 trust modules each built it themselves)."""
    from dashboard_http import signed_in_client

    from dashboards.app import create_app

    app = create_app(
        snapshot, user_store=access_dir / "users.sqlite", secret_key_file=access_dir / "secret_key", debug=False
    )
    return signed_in_client(app, access_dir / "users.sqlite", "national_test")
