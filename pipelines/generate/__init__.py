"""Seeded sample data for every source of the contract, built on the real reference data.

REAL (data/reference): administrative units, the 64-unit programme roster, province population/GDP
2005-2024, province patent grants and patents in force 2010-2023 (the patent_stats landing file and the
volume of generated grants), national anchors for pledge financing and enforcement cases.
SYNTHETIC: every individual record, city-level population/GDP shares, pledge/case/training allocation,
targets, two programme status events, and which units lag, lead or sit on the border (sample_truth.json).
See docs/sample_data.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.data_nature import TRUTH_HASHES_KEY, sha256_file
from pipelines.generate import calibration as cal
from pipelines.generate import landing, writers
from pipelines.generate.activity import ActivityModel
from pipelines.generate.city_stats import city_patent_stats
from pipelines.generate.grants import GrantModel, in_force_summary
from pipelines.generate.plan_targets import build_targets, unit_values
from pipelines.generate.profiles import BASE_YEAR, YEAR0, build_profiles
from pipelines.generate.resubmission import write_resubmission
from pipelines.generate.third_party_sample import write_acceptance_sample, write_third_party_sample
from pipelines.generate.units import build_population, population_landing

__all__ = ["build_models", "generate"]

PLEDGE_CSV_YEARS_BEFORE = 2019  # earlier pledge files arrive as CSV with amounts in 亿元; later as XLSX


def _national_indices(volumes: pl.DataFrame, last_year: int) -> dict[str, np.ndarray]:
    years = np.arange(YEAR0, max(last_year, 2025) + 1)
    totals = dict(volumes.group_by("year").agg(pl.col("grants").sum()).iter_rows())
    known = sorted(totals)

    def grant_total(y: int) -> float:
        return totals[min(max(y, known[0]), known[-1])]

    grants = np.array([grant_total(y) for y in years]) / grant_total(BASE_YEAR)
    pledge = np.array([cal.pledge_national_100m(y) for y in years]) / cal.pledge_national_100m(BASE_YEAR)
    cases = np.array([cal.cases_national(y) for y in years]) / cal.cases_national(BASE_YEAR)
    training = 1.04 ** (years - BASE_YEAR).astype(float)
    return {"grants": grants, "pledge": pledge, "cases": cases, "training": training}


def build_models(seed: int, scale: float, history_first_year: int, last_year: int, case_scale: float | None = None):
    """Units, the grant and activity models and the truth profiles, wired together (no files written).
    ``case_scale``: sampling rate of the enforcement case records (None = ``scale``; 1 = complete)."""
    units = build_population(seed, last_year)
    real_volumes = cal.province_grants(min(history_first_year, BASE_YEAR), max(last_year, BASE_YEAR))
    # Full (real) volumes: the city statistics report them; the records are a sample at rate `scale`.
    grant_model = GrantModel(units, None, real_volumes, seed, last_year, scale=scale)
    activity = ActivityModel(units, None, seed, scale, last_year, case_scale=case_scale)
    intensity = {
        "grants": lambda lv: grant_model.expected_per_capita(BASE_YEAR, lv),
        "pledge": lambda lv: activity.pledge_intensity(BASE_YEAR, lv),
        "cases": lambda lv: activity.case_intensity(BASE_YEAR, lv),
        "training": lambda lv: activity.training_intensity(BASE_YEAR, lv),
    }
    profiles = build_profiles(units, seed, last_year, _national_indices(real_volumes, last_year), intensity)
    grant_model.profiles = activity.profiles = profiles
    grant_model.anchor_to_published(cal.CITY_IN_FORCE_ANCHORS)
    return units, grant_model, activity, profiles


def generate(
    landing_dir: Path,
    seed: int = 42,
    scale: float = 0.02,
    first_year: int = 2016,
    last_year: int = 2025,
    history_first_year: int = 2010,
    grants_format: str = "parquet",
    progress: Callable[[str], None] | None = None,
    resubmission: bool = False,
    case_scale: float | None = None,
) -> dict:
    """Write landing files for all nine sources under ``landing_dir/<source>/`` and the known truth to
    ``landing_dir.parent / "sample_truth.json"``. With ``resubmission`` a late pledge-loan file with typical
    mistakes is added (see resubmission.py), so the quarantine has something to show. Returns {"files": {source: [paths]}, "rows": {source: n},
    "truth": path, "seconds": {...}}. Deterministic for a seed. ``case_scale``: sampling rate of the enforcement
    case records (None = ``scale``; ``ipcity generate`` writes them complete, rate 1: see docs/sample_data.md)."""
    if grants_format not in ("parquet", "csv"):
        raise ValueError("grants_format must be 'parquet' or 'csv'")
    if not history_first_year <= first_year <= last_year:
        raise ValueError("need history_first_year <= first_year <= last_year")
    if case_scale is not None and not 0 < case_scale <= 1:
        raise ValueError("case_scale must be in (0, 1]")
    say = progress or (lambda _msg: None)
    landing_dir = Path(landing_dir)
    files: dict[str, list[str]] = {}
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}

    def record(source: str, path: Path, n: int) -> None:
        files.setdefault(source, []).append(str(path))
        rows[source] = rows.get(source, 0) + n

    t0 = time.perf_counter()
    units, grant_model, activity, profiles = build_models(seed, scale, history_first_year, last_year, case_scale)

    say("reference landing files (cities, programme, population, patent_stats)")
    cities = landing.cities_landing(units)
    record("cities", writers.write_csv(cities, landing_dir / "cities" / "cities.csv"), cities.height)
    programme = landing.programme_landing(units, profiles, last_year)
    record(
        "programme_cities",
        writers.write_csv(
            programme,
            landing_dir / "programme_cities" / "programme_cities.csv",
            encoding="utf-8-sig",
            headers=writers.chinese_headers("programme_cities"),
        ),
        programme.height,
    )
    population = population_landing(units)
    record(
        "population", writers.write_csv(population, landing_dir / "population" / "population.csv"), population.height
    )
    stats = landing.patent_stats_landing()
    record(
        "patent_stats",
        writers.write_csv(
            stats,
            landing_dir / "patent_stats" / "patent_stats_province_2010_2023.csv",
            encoding="gbk",
            headers=writers.chinese_headers("patent_stats"),
        ),
        stats.height,
    )
    seconds["reference"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    summaries = []
    for year in range(history_first_year, last_year + 1):
        frame = grant_model.year_frame(year)
        path = landing_dir / "patent_grants" / f"patent_grants_{year}.{grants_format}"
        if grants_format == "parquet":
            writers.write_parquet(frame, path)
        else:
            writers.write_csv(frame, path)
        record("patent_grants", path, frame.height)
        summaries.append(in_force_summary(frame))
        say(f"patent_grants {year}: {frame.height:,} rows")
    in_force = pl.concat(summaries)
    seconds["patent_grants"] = time.perf_counter() - t1

    # City-level statistics at full volume: the count source of QLT01/QLT03/ENV03 (city_stats.py).
    city_stats = city_patent_stats(grant_model, history_first_year, last_year)
    record(
        "patent_stats",
        writers.write_csv(
            city_stats,
            landing_dir / "patent_stats" / f"patent_stats_city_{history_first_year}_{last_year}.csv",
            encoding="gbk",
            headers=writers.chinese_headers("patent_stats"),
        ),
        city_stats.height,
    )
    say(f"patent_stats (cities, full volume): {city_stats.height:,} rows")

    t2 = time.perf_counter()
    pledges, cases_all, trainings = [], [], []
    plg_headers = writers.chinese_headers("pledge_loans")
    for year in range(first_year, last_year + 1):
        pledge = activity.pledge_year(year)
        pledges.append(pledge)
        if year < PLEDGE_CSV_YEARS_BEFORE:
            in_100m = pledge.with_columns((pl.col("amount_10k_yuan") / 10_000).round(6)).rename(
                {"amount_10k_yuan": "质押金额(亿元)"}
            )
            path = writers.write_csv(
                in_100m,
                landing_dir / "pledge_loans" / f"pledge_loans_{year}.csv",
                encoding="utf-8-sig",
                headers=plg_headers,
            )
        else:
            path = writers.write_xlsx_with_title(
                pledge,
                landing_dir / "pledge_loans" / f"pledge_loans_{year}.xlsx",
                f"{year}年知识产权质押融资统计",
                plg_headers,
            )
        record("pledge_loans", path, pledge.height)

        cases = activity.cases_year(year)
        cases_all.append(cases)
        record(
            "enforcement_cases",
            writers.write_csv(
                cases,
                landing_dir / "enforcement_cases" / f"cases_{year}.csv",
                encoding="gbk",
                headers=writers.chinese_headers("enforcement_cases"),
            ),
            cases.height,
        )
        training = activity.training_year(year)
        trainings.append(training)
        record(
            "training_events",
            writers.write_csv(
                training,
                landing_dir / "training_events" / f"training_{year}.csv",
                encoding="utf-8-sig",
                headers=writers.chinese_headers("training_events"),
            ),
            training.height,
        )
        say(f"pledge/cases/training {year}: {pledge.height:,} / {cases.height:,} / {training.height:,} rows")
    seconds["activity"] = time.perf_counter() - t2

    # Baselines at full volume: the sampled record counts scaled back up (≈ the city statistics).
    values = unit_values(
        units.frame.filter(pl.col("is_programme")),
        population,
        in_force.with_columns(pl.col("n") / scale),
        pl.concat(pledges),
        pl.concat(cases_all),
        pl.concat(trainings),
        list(range(first_year, last_year + 1)),
    )
    targets = build_targets(values, seed, first_year, last_year)
    # a window that holds no plan's base year (e.g. --years 2023-2025) has no targets to send: an office sends no
    # file then, and a header-only file would be refused as empty in every run
    if targets.height:
        record("targets", writers.write_csv(targets, landing_dir / "targets" / "targets.csv"), targets.height)
    # SYNTHETIC third-party evaluation of the first completed cycle, through the platform's template (issue 17)
    third_party = write_third_party_sample(landing_dir, profiles, seed, last_year)
    if third_party is not None:
        record("third_party_evaluations", *third_party)
    # SYNTHETIC acceptance reports of the strong-city batches accepted within the sample, so the two-command start
    # shows the management measures' bands (title removed, new pilot round, demonstration cultivation)
    for accepted in write_acceptance_sample(landing_dir, profiles, seed, last_year):
        record("third_party_evaluations", *accepted)
    if resubmission:
        record("pledge_loans", *write_resubmission(landing_dir, last_year))

    truth_path = landing_dir.parent / "sample_truth.json"
    truth = {
        "seed": seed,
        "scale": scale,
        "case_scale": activity.case_scale,
        "years": [first_year, last_year],
        "history_first_year": history_first_year,
        "lagging": profiles.lagging,
        "leading": profiles.leading,
        "borderline": profiles.borderline,
        "rectification_city": profiles.rectification,
        "withdrawn_city": profiles.withdrawn,
        # the files written, by hash: what tells a loaded file from the generator apart from an office's file
        # (pipelines/data_nature.py labels every file a user takes away from it)
        TRUTH_HASHES_KEY: {src: sorted({sha256_file(Path(f)) for f in paths}) for src, paths in files.items()},
        "description": (
            "Synthetic sample truth. Among the 64 national IP demonstration units, 'lagging' units sit far below "
            "programme peers in 2016 (half the 10th percentile of intensity in every source; cases three quarters), stagnate in absolute "
            "terms 2017-2019 and decline by 15%/year from 2020 with worse case handling, fewer officials trained, "
            "faster patent lapse and fewer first-time borrowers. 'leading' units start at >= 1.15x the 85th "
            "percentile and grow 10%/year faster than the rest from 2017. 'borderline' units sit at the lower-third "
            "boundary (33rd percentile), strong in some pillars and weak in others with +/-8% yearly noise, so their "
            "rank flips with small weight changes. rectification_city and withdrawn_city are chosen from 'lagging' "
            "and carry synthetic status events in programme_cities. All other units follow smooth seeded growth."
        ),
    }
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8")
    seconds["total"] = time.perf_counter() - t0
    say(f"done in {seconds['total']:.1f}s")
    return {"files": files, "rows": rows, "truth": str(truth_path), "seconds": seconds}
