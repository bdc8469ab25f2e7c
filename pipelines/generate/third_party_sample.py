"""SYNTHETIC third-party evaluations for the sample: what an evaluator's upload looks like once filled in.

Written through the platform's own template writer (``pipelines.third_party.write_template``), so the sample
exercises the template -> landing -> loader path. Only the first completed cycle (2017-2019) of the
2012-2016 demonstration cities is "evaluated"; every later cycle stays "third-party evaluation pending", as
it would be before the evaluator reports. Scores are seeded draws around 75 (lagging sample units lower,
leading ones higher), the evaluator is named as synthetic, and two units carry a corrected second version.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from pipelines import reference
from pipelines.generate.profiles import Profiles
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
