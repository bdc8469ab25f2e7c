"""SYNTHETIC third-party evaluations for the sample: what an evaluator's upload looks like once filled in.

Written through the platform's own template writer (``pipelines.third_party.write_template``), so the sample
exercises the template -> landing -> loader path. Two uploads:

* the first completed cycle (2017-2019) of the 2012-2016 demonstration cities; their later cycles stay
  "third-party evaluation pending", as they would be before the evaluator reports. Scores are seeded draws
  around 75 (lagging sample units lower, leading ones higher); two units carry a corrected second version.
* the acceptance (验收) of every strong-city batch whose construction period the sample covers: a batch of the
  calendar seed (programme_calendar.csv) with acceptance_scored whose last evaluated year is before the sample's
  last year (the 2022 batch: cycle 2022-2024, accepted in the first half of 2025). Without it the two-command start
  showed all of these units "third-party evaluation pending" and never a band of the management measures (title
  removed, a new pilot round, demonstration cultivation). Scores are seeded draws around 78 (lagging units 58,
  leading 88), combined with each unit's indicator score (rules seed TP.third_party_weight) the sample's bands are
  mostly demonstration cultivation, some new pilot rounds and a few titles removed. A unit promoted before the
  period ended (its pilot cycle never reached acceptance) gets no report.

The evaluator is named as synthetic in both; the generator's own seeded stream per upload, so adding the second
left the first's draws unchanged.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from pipelines import reference
from pipelines.generate.profiles import Profiles
from pipelines.settings import DBT_PROJECT_DIR
from pipelines.third_party import write_template

CYCLE = (2017, 2019)
EVALUATOR = "合成示例评估机构(SYNTHETIC sample evaluator)"
PILLARS = ("score_mgt", "score_pro", "score_utl", "score_qlt", "score_env")


def third_party_sample(profiles: Profiles, seed: int, last_year: int) -> pl.DataFrame:
    """One row per 2012-2016 demonstration unit (not withdrawn before the cycle ended) for the 2017-2019 cycle."""
    if last_year < CYCLE[1] + 1:
        return pl.DataFrame()
    rng = np.random.default_rng([seed, 17])
    roster = reference.roster().sort("unit_code")
    rows = []
    for r in roster.iter_rows(named=True):
        code = r["unit_code"]
        centre = 58.0 if code in profiles.lagging else (88.0 if code in profiles.leading else 75.0)
        scores = np.clip(rng.normal(centre, 6.0, len(PILLARS) + 2), 35, 99).round(1)
        versions = 2 if code in sorted(profiles.leading)[:1] + sorted(profiles.borderline)[:1] else 1
        for v in range(1, versions + 1):
            row = {
                "city_code": code,
                "unit_name": r["unit_name"],
                "cycle_first_year": CYCLE[0],
                "cycle_last_year": CYCLE[1],
                "evaluator": EVALUATOR,
                "report_version": v,
                "evaluated_on": f"{CYCLE[1] + 1}-0{3 + v}-15",
                **{p: float(s) + (1.5 if v == 2 else 0.0) for p, s in zip(PILLARS, scores[:5], strict=True)},
                "site_visit_score": float(scores[5]),
                "site_visit_date": f"{CYCLE[1] + 1}-03-0{2 + v}",
                "document_review_score": float(scores[6]),
                "findings": "合成示例:"
                + ("重点目标进展滞后,需整改" if code in profiles.lagging else "建设方案总体落实")
                + (";第2版更正了评分" if v == 2 else ""),
                "site_visit_findings": "合成示例:现场核查了知识产权服务平台与维权援助中心",
                "document_review_findings": "合成示例:年度报告与佐证材料齐全",
            }
            rows.append(row)
    return pl.DataFrame(rows).with_columns(pl.col("report_version").cast(pl.Int64))


def acceptance_cycles(last_year: int) -> pl.DataFrame:
    """Strong-city batches (calendar seed rows with acceptance_scored) whose acceptance falls in the sample: the last
    evaluated year is before ``last_year`` (the acceptance is held the year after, on that year's data)."""
    cal = pl.read_csv(DBT_PROJECT_DIR / "seeds" / "programme_calendar.csv", infer_schema_length=0)
    return cal.filter(
        pl.col("acceptance_scored") == "true",
        pl.col("last_evaluation_year").is_not_null(),
        pl.col("last_evaluation_year").cast(pl.Int64) < last_year,
    ).select(
        "programme_code",
        "cohort",
        pl.col("first_evaluation_year").cast(pl.Int64).alias("cycle_first_year"),
        pl.col("last_evaluation_year").cast(pl.Int64).alias("cycle_last_year"),
    )


def acceptance_sample(profiles: Profiles, seed: int, last_year: int) -> pl.DataFrame:
    """One report per strong-city unit of a batch accepted within the sample (``acceptance_cycles``), version 1."""
    cycles = acceptance_cycles(last_year)
    if cycles.height == 0:
        return pl.DataFrame()
    promoted = set(reference.strong_city_promotions()["unit_code"].to_list())
    units = (
        reference.strong_city_roster()
        .join(cycles, on=["programme_code", "cohort"])
        .filter(~pl.col("unit_code").is_in(sorted(promoted)))
        .unique(subset=["unit_code", "cycle_first_year"], keep="first", maintain_order=True)
        .sort("cycle_first_year", "unit_code")
    )
    rng = np.random.default_rng([seed, 25])  # its own stream: the 2017-2019 draws stay as they were
    rows = []
    for r in units.iter_rows(named=True):
        code = r["unit_code"]
        centre = 58.0 if code in profiles.lagging else (88.0 if code in profiles.leading else 78.0)
        scores = np.clip(rng.normal(centre, 6.0, len(PILLARS) + 2), 35, 99).round(1)
        accepted = r["cycle_last_year"] + 1
        rows.append(
            {
                "city_code": code,
                "unit_name": r["unit_name"],
                "cycle_first_year": r["cycle_first_year"],
                "cycle_last_year": r["cycle_last_year"],
                "evaluator": EVALUATOR,
                "report_version": 1,
                "evaluated_on": f"{accepted}-04-20",
                **{p: float(s) for p, s in zip(PILLARS, scores[:5], strict=True)},
                "site_visit_score": float(scores[5]),
                "site_visit_date": f"{accepted}-03-18",
                "document_review_score": float(scores[6]),
                "findings": "合成示例:验收评估,"
                + ("重点目标进展滞后" if code in profiles.lagging else "建设方案总体落实"),
                "site_visit_findings": "合成示例:现场核查了知识产权服务平台与维权援助中心",
                "document_review_findings": "合成示例:建设期总结报告与佐证材料齐全",
            }
        )
    return pl.DataFrame(rows).with_columns(pl.col("report_version").cast(pl.Int64))


def write_third_party_sample(
    landing_dir: Path, profiles: Profiles, seed: int, last_year: int
) -> tuple[Path, int] | None:
    """Write the sample evaluation, or nothing when the sample ends before the cycle is complete (a header-only
    file is refused by the loader, as an office's empty upload would be)."""
    rows = third_party_sample(profiles, seed, last_year)
    if rows.height == 0:
        return None
    path = Path(landing_dir) / "third_party_evaluations" / f"third_party_{CYCLE[0]}_{CYCLE[1]}.xlsx"
    write_template(path, rows, created=datetime(CYCLE[1] + 1, 5, 31))
    return path, rows.height


def write_acceptance_sample(landing_dir: Path, profiles: Profiles, seed: int, last_year: int) -> list[tuple[Path, int]]:
    """Write one acceptance upload per accepted cycle (``acceptance_sample``); none when the sample ends before any
    strong-city batch's acceptance."""
    rows = acceptance_sample(profiles, seed, last_year)
    out = []
    if rows.height == 0:
        return out
    for (first, last), part in rows.group_by(["cycle_first_year", "cycle_last_year"], maintain_order=True):
        path = Path(landing_dir) / "third_party_evaluations" / f"third_party_{first}_{last}.xlsx"
        write_template(path, part, created=datetime(last + 1, 5, 31))
        out.append((path, part.height))
    return out
