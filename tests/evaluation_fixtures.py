"""Small DuckDB marts shaped per docs/contracts.md, for the evaluation tests, and a throwaway dbt project that
runs only the evaluation models (plus the real macros and generic tests) on top of them.

Two kinds of fixtures:
- ``rule_cases``: hand-built score rows, one unit per rule, so each rule's effect can be asserted exactly;
- ``synthetic_programme``: indicator-level data with known lagging / leading / borderline units, scored with
  the same arithmetic as the dbt marts, for the uncertainty step and the dossier.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipelines.labels import performance_group
from pipelines.settings import DBT_PROJECT_DIR, dbt_var

YEARS = list(range(2016, 2026))

DDL = {
    "dim_city": """unit_code VARCHAR, unit_name VARCHAR, unit_name_en VARCHAR, province_code VARCHAR,
        province_name VARCHAR, level VARCHAR, parent_code VARCHAR, lng DOUBLE, lat DOUBLE, peer_group VARCHAR,
        is_programme BOOLEAN, programme_cohort_year INTEGER, programme_status VARCHAR, withdrawn_year INTEGER""",
    "dim_indicator": """catalog_version VARCHAR, indicator_code VARCHAR, pillar_code VARCHAR,
        pillar_name_zh VARCHAR, pillar_name_en VARCHAR, name_zh VARCHAR, name_en VARCHAR, definition VARCHAR,
        formula VARCHAR, unit VARCHAR, source_table VARCHAR, direction VARCHAR, weight DOUBLE,
        pillar_weight DOUBLE, is_key_indicator BOOLEAN""",
    "fct_city_indicator_year": """unit_code VARCHAR, year INTEGER, indicator_code VARCHAR,
        catalog_version VARCHAR, raw_value DOUBLE, value DOUBLE, is_imputed BOOLEAN, is_outlier BOOLEAN,
        is_missing BOOLEAN, normalised_score DOUBLE, peer_group VARCHAR""",
    # the published contract of fct_city_score_year, every column (the dashboard reads them without fallbacks)
    "fct_city_score_year": """unit_code VARCHAR, year INTEGER, catalog_version VARCHAR, score_mgt DOUBLE,
        score_pro DOUBLE, score_utl DOUBLE, score_qlt DOUBLE, score_env DOUBLE, composite DOUBLE,
        indicator_coverage DOUBLE, composite_index DOUBLE, programme_average_composite DOUBLE, rank BIGINT,
        n_ranked BIGINT, rank_is_shared BOOLEAN, rank_all BIGINT, rank_all_is_shared BOOLEAN, performance_group VARCHAR, group_third VARCHAR,
        performance_group_all VARCHAR, index_change DOUBLE, rank_change BIGINT, is_evaluated BOOLEAN,
        is_ranked BOOLEAN""",
    "fct_target_status": """unit_code VARCHAR, plan_id VARCHAR, indicator_code VARCHAR, baseline_year INTEGER,
        baseline_value DOUBLE, target_year INTEGER, target_value DOUBLE, current_year INTEGER,
        current_value DOUBLE, progress_index DOUBLE, growth_ratio DOUBLE, status VARCHAR,
        projected_value DOUBLE""",
    # the programme marts the acceptance score and the cycle verdict read (models/marts/programme, issue 17)
    "fct_target_ambition": """unit_code VARCHAR, plan_id VARCHAR, indicator_code VARCHAR, ambition_class VARCHAR""",
    "fct_third_party_evaluation": """unit_code VARCHAR, cycle_first_year INTEGER, cycle_last_year INTEGER,
        status VARCHAR, evaluator VARCHAR, report_version INTEGER, third_party_score DOUBLE""",
    # the evaluation calendar (models/marts/programme/fct_programme_unit_year, the mart twin of dbt's
    # int_programme_unit_years): the cycle of every programme unit-year on its programme's calendar
    "fct_programme_unit_year": """unit_code VARCHAR, year INTEGER, programme_code VARCHAR, cohort VARCHAR,
        cycle_start INTEGER, cycle_end INTEGER, cycle_baseline_year INTEGER, cycle VARCHAR,
        withdrawn_year INTEGER""",
    # the memberships (models/marts/programme/fct_programme_membership): the years each unit owes its reports
    "fct_programme_membership": """unit_code VARCHAR, programme_code VARCHAR, cohort VARCHAR,
        first_evaluated_year INTEGER, last_evaluated_year INTEGER, programme_name_zh VARCHAR, joined_on DATE,
        left_on DATE, exit_reason VARCHAR, period_end DATE, numbers_pilot_rounds BOOLEAN""",
    # the statistics path of the national unit 000000 (staging models of the main project)
    "stg_raw__patent_stats": """region_code VARCHAR, region_name VARCHAR, year INTEGER, grants_invention BIGINT,
        grants_utility_model BIGINT, grants_design BIGINT, grants_total BIGINT, in_force_invention BIGINT,
        in_force_utility_model BIGINT, in_force_design BIGINT, in_force_total BIGINT""",
    "stg_raw__population": """region_code VARCHAR, year INTEGER, population_10k DOUBLE, gdp_100m_yuan DOUBLE""",
}


def create_marts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists marts")
    for name, cols in DDL.items():
        con.execute(f"create or replace table marts.{name} ({cols})")
    con.execute("create schema if not exists raw")
    for name, cols in RAW_FIXTURE_DDL.items():
        con.execute(f"create or replace table raw.{name} ({cols})")


def group_of(index: float | None) -> str | None:
    return performance_group(index)


def _catalog() -> pl.DataFrame:
    seeds = DBT_PROJECT_DIR / "seeds"
    ind = pl.read_csv(seeds / "indicator_catalog.csv", infer_schema=False)
    pil = pl.read_csv(seeds / "pillars.csv", infer_schema=False)
    return ind.join(
        pil.select(
            "catalog_version",
            "pillar_code",
            pl.col("name_zh").alias("pillar_name_zh"),
            pl.col("name_en").alias("pillar_name_en"),
            "pillar_weight",
        ),
        on=["catalog_version", "pillar_code"],
    ).select(
        "catalog_version",
        "indicator_code",
        "pillar_code",
        "pillar_name_zh",
        "pillar_name_en",
        "name_zh",
        "name_en",
        "definition",
        "formula",
        "unit",
        "source_table",
        "direction",
        pl.col("weight").cast(pl.Float64),
        pl.col("pillar_weight").cast(pl.Float64),
        (pl.col("is_key_indicator") == "true").alias("is_key_indicator"),
    )


def catalog_version_of(year: int) -> str:
    versions = pl.read_csv(DBT_PROJECT_DIR / "seeds" / "catalog_versions.csv", infer_schema=False)
    return versions.filter(pl.col("evaluation_year") == str(year))["catalog_version"][0]


def _insert(con: duckdb.DuckDBPyConnection, table: str, df: pl.DataFrame) -> None:
    cols = [c.split()[0] for c in DDL[table].replace("\n", " ").split(",")]
    frame = df.select([pl.col(c) if c in df.columns else pl.lit(None).alias(c) for c in cols])  # noqa: F841
    con.execute(f"insert into marts.{table} select * from frame")


def _city_rows(codes: list[str], names: list[str], withdrawn: dict[str, int] | None = None) -> pl.DataFrame:
    withdrawn = withdrawn or {}
    return pl.DataFrame(
        {
            "unit_code": codes,
            "unit_name": names,
            "unit_name_en": [f"City {c}" for c in codes],
            "province_code": [c[:2] + "0000" for c in codes],
            "province_name": ["测试省"] * len(codes),
            "level": ["prefecture"] * len(codes),
            "peer_group": ["city"] * len(codes),
            "is_programme": [True] * len(codes),
            "programme_cohort_year": [2012] * len(codes),
            "programme_status": ["withdrawn" if c in withdrawn else "active" for c in codes],
            "withdrawn_year": [withdrawn.get(c) for c in codes],
        },
        schema_overrides={"withdrawn_year": pl.Int32, "programme_cohort_year": pl.Int32},
    )


def _score_rows(
    indexes: dict[str, dict[int, float]], not_in_programme: dict[str, set[int]] | None = None
) -> pl.DataFrame:
    """fct_city_score_year rows from composite indexes; rank, n_ranked and group follow the dbt rules. A year in
    ``not_in_programme[unit]`` is scored on the programme scale but not ranked (a unit before it joined)."""
    rows = []
    outside = not_in_programme or {}
    for year in YEARS:
        for unit, idx in indexes.items():
            if year in idx and year in outside.get(unit, set()):
                rows.append(
                    {
                        "unit_code": unit,
                        "year": year,
                        "catalog_version": catalog_version_of(year),
                        "composite": idx[year] / 2,
                        "composite_index": idx[year],
                        "programme_average_composite": 50.0,
                        "performance_group": group_of(idx[year]),
                        "performance_group_all": group_of(idx[year]),
                        "is_evaluated": False,
                        "is_ranked": False,
                    }
                )
        ranked = sorted(
            ((idx[year], u) for u, idx in indexes.items() if year in idx and year not in outside.get(u, set())),
            key=lambda t: (-t[0], t[1]),
        )
        # standard competition ranking on the index rounded at 9 decimals, as the mart: equal indices share a rank
        keys = [round(v, 9) for v, _ in ranked]
        for value, unit in ranked:
            r = keys.index(round(value, 9)) + 1
            shared = keys.count(round(value, 9)) > 1
            rows.append(
                {
                    "unit_code": unit,
                    "year": year,
                    "catalog_version": catalog_version_of(year),
                    "composite": value / 2,
                    "composite_index": value,
                    "programme_average_composite": 50.0,  # index = 100 x composite / programme average
                    "rank": r,
                    "n_ranked": len(ranked),
                    "rank_is_shared": shared,
                    "rank_all": r,
                    "rank_all_is_shared": shared,
                    "performance_group": group_of(value),
                    "performance_group_all": group_of(value),
                    "is_evaluated": True,
                    "is_ranked": True,
                }
            )
    return pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "rank": pl.Int32, "n_ranked": pl.Int32})


# --- hand-built rule cases -------------------------------------------------------------------------------

FLAT = {y: 95.0 for y in YEARS}
RULE_UNITS = {
    # code: (name, composite index by year)
    "110100": ("稳定市", FLAT),
    "120100": ("领先市", {y: 130.0 + 3 * (y - 2016) for y in YEARS}),
    "130100": ("一年末位市", {**FLAT, 2018: 65.0}),
    "130200": (
        "两年末位市",
        {
            **FLAT,
            2016: 90.0,
            2018: 65.0,
            2019: 66.0,
            2020: 64.0,
            2021: 66.0,
            2022: 65.0,
            2023: 95.0,
            2024: 96.0,
            2025: 97.0,
        },
    ),
    "130300": ("倒退市", {**FLAT, 2019: 96.0, 2020: 93.0, 2021: 90.0, 2022: 88.0}),
    "130400": ("目标滞后市", FLAT),
    "130500": ("撤销市", {**{y: 66.0 for y in YEARS}}),
    "130600": ("整改后改善市", {**FLAT, 2017: 65.0, 2018: 66.0, 2019: 80.0, 2022: 92.0}),
    "130700": ("跨周期市", {**FLAT, 2019: 60.0, 2020: 61.0}),
    # rectification in 2017-2019 (R1 2017-2018); in 2020-2022 one bottom-group year (2020, an interim X1) and
    # out of every watch condition by the cycle's last year although still below its 2019 baseline
    "130800": ("周期末脱离关注市", {**FLAT, 2017: 65.0, 2018: 66.0, 2019: 75.0, 2020: 65.0, 2021: 72.0, 2022: 74.0}),
    # a 2022 strong-city unit (issue 17): scored in 2021, its baseline year, but in the programme from 2022 to
    # 2024 on its own calendar, one 2022-2024 cycle with baseline 2021 -- a leader that improves on 2021. On the
    # demonstration cities' calendar 2022 would close 2020-2022 (baseline 2019, no index: no improvement to
    # judge) and 2023-2024 would open 2023-2025. Its changes (+1, +3, +3) leave the year's median and MAD of
    # the changes, hence every R2 threshold, where the other units put them.
    "140100": ("强市示范市", {2021: 126.0, 2022: 127.0, 2023: 129.0, 2024: 129.0}),
}
WITHDRAWN = {"130500": 2021}
# Programme calendars of the rule cases (marts.fct_programme_unit_year): the 2012-2016 demonstration-city
# calendar (three-year cycles from GEN.cycle_anchor_year, 2017) for every unit, except the strong-city units:
# unit -> (first evaluated year, last evaluated year, cycle start, cycle end) of the 2022 strong-city calendar.
STRONG_CITY = {"140100": (2022, 2024, 2022, 2024)}
NOT_IN_PROGRAMME = {"140100": {2021}}
THIRD_PARTY_SCORE = 30.0
THIRD_PARTY_EVALUATOR = "测试评估机构"
STRONG_CITY_THIRD_PARTY_SCORE = 80.0


def demonstration_cycle(year: int) -> tuple[int, int, int] | None:
    """(start, end, baseline year) of the 2012-2016 demonstration cities' cycle holding ``year``: anchored at the
    rules seed's GEN.cycle_anchor_year, length GEN.cycle_length (as int_programme_calendar: the calendar seed
    leaves both empty for demo_city)."""
    from pipelines.evaluation.rules import load_rules

    # the rules version in force in the year the 2012 cohort's calendar starts, as int_programme_calendar reads it
    # (never a max over the versions)
    rules = load_rules(year=2012)
    anchor, length = int(rules["GEN.cycle_anchor_year"]), int(rules["GEN.cycle_length"])
    if year < anchor:
        return None
    start = anchor + length * ((year - anchor) // length)
    return start, start + length - 1, start - 1


def cycle_of(unit: str, year: int) -> tuple[int, int, int] | None:
    """(start, end, baseline year) of the rule case's cycle holding ``year`` on its own calendar."""
    if unit in STRONG_CITY:
        first, last, start, end = STRONG_CITY[unit]
        return (start, end, start - 1) if first <= year <= last else None
    return demonstration_cycle(year)


def programme_calendar(
    con: duckdb.DuckDBPyConnection, strong_city: dict | None = None, withdrawn: dict | None = None
) -> None:
    """marts.fct_programme_unit_year for every programme unit-year of marts.fct_city_score_year that has no row
    yet: the strong-city units (``strong_city``, default STRONG_CITY) on their calendar, the others on the
    demonstration cities' calendar. ``withdrawn`` (default WITHDRAWN): unit -> the year its governing membership
    was withdrawn in (int_programme_unit_years.withdrawn_year), on its rows before that year."""
    withdrawn = WITHDRAWN if withdrawn is None else withdrawn
    strong_city = STRONG_CITY if strong_city is None else strong_city
    con.execute(f"create table if not exists marts.fct_programme_unit_year ({DDL['fct_programme_unit_year']})")
    missing = con.sql(
        """select distinct s.unit_code, s.year from marts.fct_city_score_year s
           where s.is_evaluated and not exists (select 1 from marts.fct_programme_unit_year c
                                               where c.unit_code = s.unit_code and c.year = s.year)"""
    ).fetchall()
    rows = []
    for unit, year in missing:
        if unit in strong_city:
            first, last, start, end = strong_city[unit]
            cycle = (start, end, start - 1) if first <= year <= last else None
            programme, cohort = "strong_city_demo", "2022-08"
        else:
            cycle, programme, cohort = demonstration_cycle(year), "demo_city", "2012"
        start, end, base = cycle or (None, None, None)
        label = f"{start}-{end}" if cycle else None
        gone = withdrawn.get(unit)
        rows.append((unit, year, programme, cohort, start, end, base, label, gone if gone and year < gone else None))
    if rows:
        con.executemany("insert into marts.fct_programme_unit_year values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def rule_uncertainty(con: duckdb.DuckDBPyConnection, overrides: dict[tuple[str, int], dict] | None = None) -> None:
    """marts.fct_rank_uncertainty for the rule cases as if every run agreed with the nominal method (shares 0 or
    1 from the nominal index), with ``overrides`` per (unit, year) -- e.g. a fall that only some runs show."""
    rows = []
    for unit, (_, idx) in RULE_UNITS.items():
        for year, value in idx.items():
            cycle = cycle_of(unit, year)
            change = value - idx[cycle[2]] if cycle is not None and cycle[2] in idx else None
            row = {
                "unit_code": unit,
                "year": year,
                "median_rank": 1.0,
                "p05_rank": 1.0,
                "p95_rank": 1.0,
                "share_bottom": float(value < 70),
                "share_leader": float(value > 125),
                "share_regressing": None if change is None else float(change <= -5 and value < 100),
                "share_improved": None if change is None else float(change > 0),
            }
            row.update((overrides or {}).get((unit, year), {}))
            rows.append(row)
    frame = pl.DataFrame(rows, schema_overrides={"year": pl.Int32})  # noqa: F841 - DuckDB reads it
    con.execute("create or replace table marts.fct_rank_uncertainty as select * from frame")


def reporting(con: duckdb.DuckDBPyConnection, stops_after: dict[str, int], ingested: str = "2026-03-01") -> None:
    """Pledge-loan reports (the city-reported source) of every rule unit for 2016-2025, except that a unit in
    ``stops_after`` sends nothing after that year; event files for every year. Each year's data land on
    ``Y+1-02-01`` (on time), the last ones on ``ingested`` -- the ledger's latest ingestion is the as-of date."""
    rows, ledger = [], []
    for year in YEARS:
        landed = f"{year + 1}-02-01" if year < YEARS[-1] else ingested
        for unit in RULE_UNITS:
            if year <= stops_after.get(unit, 9999):
                rows.append((unit, f"{year}-06-01", year, 100.0, landed))
        for source in ("pledge_loans", "enforcement_cases", "training_events"):
            ledger.append((source, f"h{source}{year}", f"{source}_{year}.csv", str(year), landed))
    con.executemany(
        "insert into raw.pledge_loans (city_code, month, year, amount_10k_yuan, _ingested_at) "
        "values (?, cast(? as date), ?, ?, cast(? as timestamp))",
        rows,
    )
    con.executemany(
        """insert into raw.ingested_files (source, file_hash, file_name, partition, rows_read, rows_loaded,
           rows_rejected, status, ingested_at) values (?, ?, ?, ?, 1, 1, 0, 'loaded', cast(? as timestamp))""",
        ledger,
    )


def rule_cases(con: duckdb.DuckDBPyConnection) -> None:
    """One unit per rule; see RULE_UNITS. 130400 has two key targets that lag in 2021 and 2022 only."""
    create_marts(con)
    codes = list(RULE_UNITS)
    _insert(con, "dim_city", _city_rows(codes, [RULE_UNITS[c][0] for c in codes], WITHDRAWN))
    _insert(con, "dim_indicator", _catalog())
    indexes = {c: dict(v[1]) for c, v in RULE_UNITS.items()}
    # the withdrawn city still has scores after withdrawal in the fixture: the evaluation must ignore them
    _insert(con, "fct_city_score_year", _score_rows(indexes, NOT_IN_PROGRAMME))
    programme_calendar(con)
    # Targets of 130400 (plan 2021-2025, baseline 100 -> target 200). 2021: 101 is limited progress (elapsed
    # 0.2, progress 0.01); 2022: 99 deteriorates; 2023 on: on track.
    values = {2021: (101.0, 99.0), 2022: (99.0, 98.0), 2023: (170.0, 170.0), 2024: (190.0, 190.0), 2025: (200.0, 200.0)}
    ind_rows, target_rows = [], []
    for k, code in enumerate(("QLT01", "PRO01")):
        target_rows.append(
            {
                "unit_code": "130400",
                "plan_id": "plan_2021_2025",
                "indicator_code": code,
                "baseline_year": 2020,
                "baseline_value": 100.0,
                "target_year": 2025,
                "target_value": 200.0,
                "current_year": 2025,
                "current_value": 200.0,
                "status": "achieved",
            }
        )
        for year, pair in values.items():
            ind_rows.append(
                {
                    "unit_code": "130400",
                    "year": year,
                    "indicator_code": code,
                    "catalog_version": catalog_version_of(year),
                    "raw_value": pair[k],
                    "value": pair[k],
                    "is_imputed": False,
                    "is_outlier": False,
                    "is_missing": False,
                    "normalised_score": 50.0,
                    "peer_group": "city",
                }
            )
    # a non-key indicator lagging all along must not count
    target_rows.append(
        {
            "unit_code": "130400",
            "plan_id": "plan_2021_2025",
            "indicator_code": "MGT01",
            "baseline_year": 2020,
            "baseline_value": 100.0,
            "target_year": 2025,
            "target_value": 200.0,
            "current_year": 2025,
            "current_value": 90.0,
            "status": "deteriorating",
        }
    )
    for year in range(2021, 2026):
        ind_rows.append(
            {
                "unit_code": "130400",
                "year": year,
                "indicator_code": "MGT01",
                "catalog_version": catalog_version_of(year),
                "raw_value": 90.0,
                "value": 90.0,
                "is_imputed": False,
                "is_outlier": False,
                "is_missing": False,
                "normalised_score": 10.0,
                "peer_group": "city",
            }
        )
    _insert(
        con,
        "fct_target_status",
        pl.DataFrame(
            target_rows, schema_overrides={"baseline_year": pl.Int32, "target_year": pl.Int32, "current_year": pl.Int32}
        ),
    )
    _insert(con, "fct_city_indicator_year", pl.DataFrame(ind_rows, schema_overrides={"year": pl.Int32}))
    # Plan review (fct_target_ambition): the QLT01 target of 130400 asked for no more than the city's trend
    # (unambitious: its achievement weighs AMB.unambitious_weight), PRO01 is a stretch, MGT01 not assessable.
    con.executemany(
        "insert into marts.fct_target_ambition values ('130400', 'plan_2021_2025', ?, ?)",
        [("QLT01", "unambitious"), ("PRO01", "stretch"), ("MGT01", "not_assessable")],
    )
    # Third-party evaluation (fct_third_party_evaluation): the evaluator scored 130400's 2023-2025 cycle
    # THIRD_PARTY_SCORE (current report version 2); its 2020-2022 cycle is on the calendar but pending.
    con.executemany(
        "insert into marts.fct_third_party_evaluation values ('130400', ?, ?, ?, ?, ?, ?)",
        [
            (2023, 2025, "received", THIRD_PARTY_EVALUATOR, 2, THIRD_PARTY_SCORE),
            (2020, 2022, "pending", None, None, None),
        ],
    )
    # ... and the strong-city unit 140100's 2022-2024 cycle of its own calendar (an upload that would match no
    # cycle on the demonstration cities' calendar)
    con.execute(
        "insert into marts.fct_third_party_evaluation values ('140100', 2022, 2024, 'received', ?, 1, ?)",
        [THIRD_PARTY_EVALUATOR, STRONG_CITY_THIRD_PARTY_SCORE],
    )
    # statistics path of the national unit: two provinces, QLT01 = (600k + 400k) / (6000 + 4000) = 100 in every
    # year; the 2024 / 2025 statistics are not published yet (the benchmark falls back to 2023)
    stats = [
        (code, year, grants_inv, 2 * grants_inv, in_force, pop)
        for year in range(2016, 2024)
        for code, grants_inv, in_force, pop in (("110000", 300, 600_000, 6000.0), ("120000", 100, 400_000, 4000.0))
    ]
    con.executemany(
        """insert into marts.stg_raw__patent_stats (region_code, year, grants_invention, grants_total,
           in_force_invention) values (?, ?, ?, ?, ?)""",
        [r[:5] for r in stats],
    )
    con.executemany(
        "insert into marts.stg_raw__population (region_code, year, population_10k) values (?, ?, ?)",
        [(r[0], r[1], r[5]) for r in stats],
    )


# --- synthetic programme with known truth ----------------------------------------------------------------


def _nominal_composite(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Composite exactly as int_pillar_scores / int_composite compute it (all values present)."""
    return con.sql(
        """
        with p as (
          select v.unit_code, v.year, i.pillar_code, max(i.pillar_weight) as pw,
                 sum(i.weight * v.normalised_score) / sum(i.weight) as pillar_score
          from marts.fct_city_indicator_year v
          join marts.dim_indicator i on i.catalog_version = v.catalog_version and i.indicator_code = v.indicator_code
          group by all)
        select unit_code, year, sum(pw * pillar_score) / sum(pw) as composite from p group by all order by all
        """
    ).pl()


def synthetic_programme(
    con: duckdb.DuckDBPyConnection, seed: int = 7, n_units: int = 40, imputed_share: float = 0.05
) -> dict[str, list[str]]:
    """Indicator scores for ``n_units`` programme cities, scored like the dbt marts (weighted arithmetic
    means, index = 100 x composite / programme mean). Returns the truth: lagging, leading, borderline."""
    create_marts(con)
    rng = np.random.default_rng(seed)
    cat = _catalog()
    codes = [f"{320100 + 100 * i:06d}" for i in range(n_units)]
    truth = {"lagging": codes[:3], "leading": codes[3:6], "borderline": codes[6:9]}
    _insert(con, "dim_city", _city_rows(codes, [f"测试{i}市" for i in range(n_units)]))
    _insert(con, "dim_indicator", cat)
    indicators = sorted(cat["indicator_code"].unique().to_list())
    n_ind = len(indicators)
    strength = rng.normal(55, 8, n_units)
    strength[:3] = 22.0  # lagging: far below
    strength[3:6] = 85.0
    # borderline: near the emerging boundary (index 70) on average, but very uneven across indicators so
    # that weights and aggregation move them across it
    strength[6:9] = 35.0
    profile = rng.normal(0, 6, (n_units, n_ind))
    pillar_of = dict(zip(cat["indicator_code"].to_list(), cat["pillar_code"].to_list()))
    uneven = np.array([12.0 if pillar_of[c] in ("MGT", "UTL", "ENV") else -12.0 for c in indicators])
    profile[6:9] = uneven[None, :] * np.array([1.0, -1.0, 1.0])[:, None]
    ind_rows = []
    score = np.zeros((len(YEARS), n_units, n_ind))
    for t, _year in enumerate(YEARS):
        trend = np.zeros(n_units)
        trend[:3] = -2.5 * t
        trend[3:6] = 1.5 * t
        s = strength[:, None] + trend[:, None] + profile + rng.normal(0, 3, (n_units, n_ind))
        score[t] = np.clip(s, 0, 100)
    imputed = rng.random(score.shape) < imputed_share
    imputed[0] = False
    for t, year in enumerate(YEARS):
        version = catalog_version_of(year)
        for c, unit in enumerate(codes):
            for i, code in enumerate(indicators):
                ind_rows.append(
                    (
                        unit,
                        year,
                        code,
                        version,
                        float(score[t, c, i]),
                        float(score[t, c, i]),
                        bool(imputed[t, c, i]),
                        False,
                        False,
                        float(score[t, c, i]),
                        "city",
                    )
                )
    frame = pl.DataFrame(
        ind_rows,
        orient="row",
        schema=[
            ("unit_code", pl.String),
            ("year", pl.Int32),
            ("indicator_code", pl.String),
            ("catalog_version", pl.String),
            ("raw_value", pl.Float64),
            ("value", pl.Float64),
            ("is_imputed", pl.Boolean),
            ("is_outlier", pl.Boolean),
            ("is_missing", pl.Boolean),
            ("normalised_score", pl.Float64),
            ("peer_group", pl.String),
        ],
    )
    _insert(con, "fct_city_indicator_year", frame)
    # Borderline units: rescale their scores until their nominal index sits at 69.5 (just inside the bottom
    # group) every year, so the nominal method flags them while their uneven profile lets weights and
    # aggregation move them across the 70 boundary.
    for _ in range(6):
        comp = _nominal_composite(con)
        idx = comp.with_columns((100 * pl.col("composite") / pl.col("composite").mean().over("year")).alias("i"))
        factors = idx.filter(pl.col("unit_code").is_in(truth["borderline"])).select(  # noqa: F841 - DuckDB reads it
            "unit_code", pl.col("year").cast(pl.Int32), (69.5 / pl.col("i")).alias("f")
        )
        con.execute("""update marts.fct_city_indicator_year v set normalised_score = normalised_score * f.f,
                       value = value * f.f, raw_value = raw_value * f.f
                       from factors f where f.unit_code = v.unit_code and f.year = v.year""")
    comp = _nominal_composite(con)
    comp = comp.with_columns(
        (100 * pl.col("composite") / pl.col("composite").mean().over("year")).alias("composite_index")
    )
    indexes: dict[str, dict[int, float]] = {}
    for unit, year, _, idx in comp.iter_rows():
        indexes.setdefault(unit, {})[year] = idx
    scores = (
        _score_rows(indexes)
        .drop("composite")
        .join(
            comp.select("unit_code", "year", "composite").with_columns(pl.col("year").cast(pl.Int32)),
            on=["unit_code", "year"],
        )
    )
    _insert(con, "fct_city_score_year", scores)
    programme_calendar(con, strong_city={})
    con.execute("""insert into raw.ingested_files values
        ('patent_grants', 'abc123', 'grants_2025.csv', '2025', 10, 10, 0, 'loaded', null, timestamp '2026-01-02 00:00:00')""")
    return truth


# --- a dbt project holding only the evaluation models ----------------------------------------------------

HARNESS_PROJECT = """name: ipcity
version: "1.0.0"
config-version: 2
profile: eval_harness
model-paths: ["models"]
seed-paths: ["seeds"]
test-paths: ["tests"]
macro-paths: ["macros"]
flags:
  require_generic_test_arguments_property: true
vars:
  min_pillar_coverage: 0.25
  range_dash: "{range_dash}"
models:
  ipcity:
    +schema: marts
    +materialized: table
    upstream:
      +materialized: view
      +schema: fixture_views
seeds:
  ipcity:
    +schema: marts
"""

UPSTREAM = (
    "dim_city",
    "dim_indicator",
    "fct_city_indicator_year",
    "fct_city_score_year",
    "fct_target_status",
    "fct_target_ambition",
    "fct_third_party_evaluation",
    "stg_raw__patent_stats",
    "stg_raw__population",
)


RAW_FIXTURE_DDL = {
    "pledge_loans": """city_code VARCHAR, month DATE, year INTEGER, amount_10k_yuan DOUBLE, _ingested_at TIMESTAMP,
        _source_file VARCHAR""",
    "ingested_files": """source VARCHAR, file_hash VARCHAR, file_name VARCHAR, partition VARCHAR, rows_read BIGINT,
        rows_loaded BIGINT, rows_rejected BIGINT, status VARCHAR, message VARCHAR, ingested_at TIMESTAMP""",
    # the reporting dates' evidence (pipelines/ingest/load.py): no sightings here, the ledger's loads are the dates
    "file_receipts": """source VARCHAR, file_name VARCHAR, file_hash VARCHAR, first_seen_utc TIMESTAMP,
        first_seen_on DATE, seen_by VARCHAR, run_id VARCHAR""",
    "corrections": """source VARCHAR, key_values VARCHAR, old_file VARCHAR, old_row_number BIGINT, old_values VARCHAR,
        new_file VARCHAR, new_row_number BIGINT, new_values VARCHAR, changed_columns VARCHAR, corrected_at TIMESTAMP,
        run_id VARCHAR""",
}


def ensure_fixture_tables(warehouse: Path) -> None:
    """Empty upstream tables for a warehouse built without create_marts (e.g. copied marts only): the
    evaluation models also read the statistics path, the ledger and the pledge-loan reports. Programme unit-years
    without a calendar row get the demonstration cities' calendar."""
    with duckdb.connect(str(warehouse)) as con:
        if con.sql(
            "select count(*) from information_schema.tables where table_schema = 'marts' "
            "and table_name = 'fct_city_score_year'"
        ).fetchall()[0][0]:
            programme_calendar(con, strong_city={})
        con.execute("create schema if not exists marts")
        if con.sql(
            "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = 'dim_city'"
        ).fetchall()[0][0]:
            # one membership per fixture unit, from its cohort year to the year before its withdrawal (as the
            # roster's dated events give int_programme_memberships)
            con.execute(
                f"create table if not exists marts.fct_programme_membership ({DDL['fct_programme_membership']})"
            )
            con.execute(
                """insert into marts.fct_programme_membership
                   select d.unit_code, 'demo_city', cast(d.programme_cohort_year as varchar), d.programme_cohort_year,
                          d.withdrawn_year - 1,
                          -- what the dossier's membership table reads (the mart's columns of the same names)
                          '国家知识产权示范城市', make_date(d.programme_cohort_year, 1, 1),
                          case when d.withdrawn_year is not null then make_date(d.withdrawn_year, 1, 1) end,
                          case when d.withdrawn_year is not null then 'withdrawn' end,
                          -- an open-ended demonstration-city title: no period end, no pilot rounds
                          cast(null as date), false
                   from marts.dim_city d
                   where d.is_programme
                     and not exists (select 1 from marts.fct_programme_membership m where m.unit_code = d.unit_code)"""
            )
        con.execute("create schema if not exists raw")
        for name in (
            "stg_raw__patent_stats",
            "stg_raw__population",
            "fct_target_ambition",
            "fct_third_party_evaluation",
        ):
            con.execute(f"create table if not exists marts.{name} ({DDL[name]})")
        for name, cols in RAW_FIXTURE_DDL.items():
            con.execute(f"create table if not exists raw.{name} ({cols})")


def run_evaluation_dbt(
    warehouse: Path, work_dir: Path, rules_csv: str | None = None, *, data_tests: bool = False
) -> None:
    """Build the evaluation models on ``warehouse`` whose marts schema already holds the upstream marts.

    Upstream refs become views (schema fixture_views) over the fixture tables, so only our SQL runs.
    ``data_tests``: also run the models' dbt data tests on these cases. They are half of a build's time, so one
    build per kind of case runs them (the rule cases' default build in tests/test_evaluation_rules.py, the
    dossier's, the uncertainty cases'); the variants that only move a threshold or a fixture row skip them. The
    models' dbt unit tests never run here: every one of them runs on the main project in
    tests/test_patents_in_force.py."""
    proj = work_dir / "eval_dbt"
    if proj.exists():
        shutil.rmtree(proj)
    (proj / "models" / "upstream").mkdir(parents=True)
    (proj / "seeds").mkdir()
    # the project's own range dash (dbt_project.yml var), which the evaluation marts write their cycles with
    harness = HARNESS_PROJECT.replace("{range_dash}", dbt_var("range_dash"))
    (proj / "dbt_project.yml").write_text(harness, encoding="utf-8")
    (proj / "profiles.yml").write_text(
        f"eval_harness:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: '{warehouse}'\n"
        "      threads: 1\n",
        encoding="utf-8",
    )
    shutil.copytree(DBT_PROJECT_DIR / "macros", proj / "macros")
    if (DBT_PROJECT_DIR / "tests" / "generic").exists():
        shutil.copytree(DBT_PROJECT_DIR / "tests" / "generic", proj / "tests" / "generic")
    # the evaluation step's models: its intermediates and its marts (settings.DBT_EVALUATION_SELECTORS, bar the
    # province roll-up built on them)
    shutil.copytree(
        DBT_PROJECT_DIR / "models" / "intermediate" / "evaluation", proj / "models" / "evaluation_intermediate"
    )
    shutil.copytree(DBT_PROJECT_DIR / "models" / "marts" / "evaluation", proj / "models" / "evaluation")
    # the roster mart is built in the evaluation step (after the acceptance score, whose ban flag it reads) but the
    # harness gives the roster as a fixture table: its intermediate (what the evaluation models read) is a view of
    # that table, and the mart's own model is not built here (its dbt unit test runs in the main project)
    for f in ("fct_programme_membership.sql", "fct_programme_membership.yml"):
        (proj / "models" / "evaluation" / f).unlink()
    (proj / "models" / "upstream" / "int_programme_memberships.sql").write_text(
        "select *, programme_name_zh as programme from marts.fct_programme_membership", encoding="utf-8"
    )
    for name in UPSTREAM:
        (proj / "models" / "upstream" / f"{name}.sql").write_text(f"select * from marts.{name}", encoding="utf-8")
    # the evaluation calendar the models read (ref int_programme_unit_years), from its mart twin -- as the policy
    # simulator does on a snapshot
    (proj / "models" / "upstream" / "int_programme_unit_years.sql").write_text(
        "select unit_code, year, true as is_evaluated, programme_code, cohort, cycle_start, cycle_end, "
        # the rule cases test the acceptance arithmetic and bands: every case unit is judged at acceptance (the
        # calendar's acceptance_scored; the demo_city label gives their cycle calendar only). A unit under an
        # open-ended title, never banded, is tested on the sample run (test_verdicts_contestable5).
        "cycle_baseline_year, true as acceptance_scored, withdrawn_year from marts.fct_programme_unit_year",
        encoding="utf-8",
    )
    # The evaluation reads the one target-status method, fct_target_status_year (built in the indicator step, in
    # models/marts/): build it here too, from the fixture's targets.
    shutil.copy(DBT_PROJECT_DIR / "models" / "marts" / "fct_target_status_year.sql", proj / "models" / "evaluation")
    (proj / "models" / "upstream" / "stg_raw__targets.sql").write_text(
        "select distinct unit_code, plan_id, indicator_code, baseline_year, baseline_value, target_year, target_value "
        "from marts.fct_target_status",
        encoding="utf-8",
    )
    # the raw tables the evaluation reads directly (reporting status), as the main project's sources declare them
    (proj / "models" / "upstream" / "_raw.yml").write_text(
        "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: pledge_loans\n",
        encoding="utf-8",
    )
    # the labels seed: the W1 reason says 并列 / tied beside a shared rank (fct_evaluation_year)
    seeds = DBT_PROJECT_DIR / "seeds"
    # unit_code_changes: the change attribution reads a release's rows under the codes they replaced
    code_changes = seeds.glob("unit_code_changes.*")
    for f in [*seeds.glob("evaluation_rules*"), seeds / "rules_versions.csv", *seeds.glob("labels.*"), *code_changes]:
        shutil.copy(f, proj / "seeds" / f.name)
    if rules_csv is not None:
        (proj / "seeds" / "evaluation_rules.csv").write_text(rules_csv, encoding="utf-8")

    ensure_fixture_tables(warehouse)
    # a separate process, so no DuckDB handle of dbt's stays open in the test process
    dbt = Path(sys.executable).parent / "dbt"
    skipped = ["unit_test"] if data_tests else ["test", "unit_test"]
    res = subprocess.run(
        [
            str(dbt),
            "build",
            *(arg for kind in skipped for arg in ("--exclude-resource-type", kind)),
            "--project-dir",
            str(proj),
            "--profiles-dir",
            str(proj),
        ],
        capture_output=True,
        text=True,
        cwd=proj,
    )
    if res.returncode != 0:
        raise RuntimeError(f"dbt build failed:\n{res.stdout[-6000:]}\n{res.stderr[-2000:]}")


def rules_with(changes: dict[tuple[str, str], str], versions: tuple[str, ...] | None = None) -> str:
    """The rules seed text with some (rule_code, param) values replaced in ``versions`` (default: every
    rules version)."""
    df = pl.read_csv(DBT_PROJECT_DIR / "seeds" / "evaluation_rules.csv", infer_schema=False)
    n_versions = len(versions) if versions else df["rules_version"].n_unique()
    for (rule, param), value in changes.items():
        hit = (pl.col("rule_code") == rule) & (pl.col("param") == param)
        if versions:
            hit = hit & pl.col("rules_version").is_in(list(versions))
        assert df.filter(hit).height == n_versions, (rule, param)
        df = df.with_columns(pl.when(hit).then(pl.lit(value)).otherwise(pl.col("value")).alias("value"))
    return df.write_csv()
