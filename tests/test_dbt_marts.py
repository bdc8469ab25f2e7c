"""Build the dbt project on generated sample data and check the marts against each other, against the raw
data and against a hand recomputation of docs/methodology.md.

Path: pipelines.generate.generate (small scale) -> pipelines.ingest.load.ingest_file for every landing file ->
`dbt build` (which also runs every dbt data test and unit test). A second warehouse with one city's pledge
loans changed checks that the change moves exactly what it should.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.labels import performance_group
from pipelines.settings import DBT_PRODUCTION_EXCLUDE, DBT_PROJECT_DIR
from pipelines.sources import SOURCES

SEED, SCALE = 42, 0.005
PILLARS = ("MGT", "PRO", "UTL", "QLT", "ENV")
MIN_PILLAR_COVERAGE = 0.25  # dbt_project.yml var min_pillar_coverage


def dbt_build(warehouse: Path, work: Path, *, data_tests: bool = True) -> None:
    """The project as the pipeline builds it (no dbt unit tests: every one runs in tests/test_patents_in_force.py);
    ``data_tests=False`` for a second build of the same data with one value changed."""
    from dbt.cli.main import dbtRunner

    os.environ["IPCITY_WAREHOUSE"] = str(warehouse)
    args = [
        "build",
        *DBT_PRODUCTION_EXCLUDE,
        *([] if data_tests else ["--exclude-resource-type", "test"]),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--quiet",
    ]
    res = dbtRunner().invoke(args)
    # dbt-duckdb keeps its DuckDB handle open in-process after the run; release it so the file can be reopened
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
    DuckDBConnectionManager.close_all_connections()
    if not res.success:
        failed = [
            f"{r.node.unique_id}: {r.status} {r.message}"
            for r in (res.result or [])
            if str(r.status) not in ("success", "pass")
        ]
        raise AssertionError(f"dbt build failed: {res.exception}\n" + "\n".join(failed))


def load_raw(warehouse: Path, landing: Path) -> None:
    from pipelines.ingest.load import ingest_file, landing_files

    con = duckdb.connect(str(warehouse))
    try:
        for source in SOURCES.values():  # cities first: the others validate region codes against it
            for path in landing_files(landing, source):
                ingest_file(con, source, path)
    finally:
        con.close()


@pytest.fixture(scope="session")
def raw_warehouse(tmp_path_factory) -> Path:
    from pipelines.generate import generate

    root = tmp_path_factory.mktemp("dbt_raw")
    generate(root / "landing", seed=SEED, scale=SCALE)
    # not "raw.duckdb": DuckDB names the catalog after the file stem, which would clash with schema raw
    warehouse = root / "ingested.duckdb"
    load_raw(warehouse, root / "landing")
    return warehouse


@pytest.fixture(scope="session")
def warehouse(raw_warehouse, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("dbt_build")
    path = work / "warehouse.duckdb"
    shutil.copy(raw_warehouse, path)
    old = os.environ.get("IPCITY_WAREHOUSE")
    try:
        dbt_build(path, work)
    finally:
        if old is None:
            os.environ.pop("IPCITY_WAREHOUSE", None)
        else:
            os.environ["IPCITY_WAREHOUSE"] = old
    return path


def q(path: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def test_marts_exist_with_contract_columns(warehouse):
    expected = {
        "dim_city": "unit_code unit_name unit_name_en province_code province_name level parent_code lng lat "
        "is_programme programme_cohort_year programme_status withdrawn_year",
        "dim_indicator": "catalog_version indicator_code pillar_code pillar_name_zh pillar_name_en name_zh name_en "
        "definition formula unit source_table direction weight pillar_weight",
        "fct_city_indicator_year": "unit_code year indicator_code catalog_version raw_value value is_imputed "
        "is_outlier is_missing normalised_score",
        "fct_city_score_year": "unit_code year catalog_version score_mgt score_pro score_utl score_qlt score_env "
        "composite composite_index rank n_ranked performance_group group_third "
        "programme_average_composite index_change rank_change is_evaluated is_ranked",
        "fct_target_status": "unit_code plan_id indicator_code baseline_year baseline_value target_year "
        "target_value current_year current_value progress_index growth_ratio status "
        "projected_value",
    }
    for table, cols in expected.items():
        have = set(q(warehouse, f"select * from marts.{table} limit 0").columns)
        assert set(cols.split()) <= have, (table, set(cols.split()) - have)
        assert q(warehouse, f"select count(*) as n from marts.{table}")["n"][0] > 0, table


def _evaluated_from_raw(warehouse: Path, years: list[int]) -> set[tuple[str, int]]:
    """Programme units evaluated each year, straight from raw.programme_cities and the calendar seed (not from the
    dbt models): from the joining year (cohort year when no date), to the year before a withdrawal or promotion,
    and within the cohort's evaluation years when its programme has a fixed period (issue 17)."""
    roster = q(
        warehouse,
        "select city_code, programme, cohort, cohort_year, status, status_since, withdrawn_on, joined_on "
        "from raw.programme_cities",
    )
    calendar = pl.read_csv(DBT_PROJECT_DIR / "seeds" / "programme_calendar.csv", infer_schema=False)
    period = {
        (r["programme_name_zh"], r["cohort"]): (r["first_evaluation_year"], r["last_evaluation_year"])
        for r in calendar.iter_rows(named=True)
    }
    out = set()
    for r in roster.iter_rows(named=True):
        first_cal, last_cal = period[(r["programme"], r["cohort"])]
        first = max(r["joined_on"].year if r["joined_on"] else r["cohort_year"], int(first_cal or 0))
        end = r["withdrawn_on"] or (r["status_since"] if r["status"] in ("withdrawn", "promoted") else None)
        if r["status"] in ("withdrawn", "promoted") and end is None:
            continue  # closed without a date: never evaluated under this row
        last = min(end.year - 1 if end else 10_000, int(last_cal) if last_cal else 10_000)
        out |= {(r["city_code"], y) for y in years if first <= y <= last}
    return out


def test_every_evaluated_programme_city_has_a_score_row_each_year(warehouse):
    years = q(warehouse, "select year from intermediate.int_evaluation_years where peer_group = 'city'")[
        "year"
    ].to_list()
    assert len(years) >= 5
    evaluated = _evaluated_from_raw(warehouse, years)
    assert evaluated
    scores = q(warehouse, "select unit_code, year, is_evaluated from marts.fct_city_score_year")
    rows = {(u, y): p for u, y, p in scores.iter_rows()}
    missing = [k for k in evaluated if k not in rows]
    assert not missing, missing[:10]
    assert all(rows[k] for k in evaluated)
    # and nothing else is flagged as evaluated
    flagged = {(u, y) for u, y, p in scores.iter_rows() if p}
    assert flagged == evaluated


def test_ranks_are_contiguous_and_index_averages_100(warehouse):
    s = q(
        warehouse,
        "select year, rank, n_ranked, composite, composite_index, composite_index_published"
        " from marts.fct_city_score_year where is_ranked",
    )
    for (year,), g in s.group_by(["year"]):
        n = g.height
        # competition ranking on the published index (methodology §6): 1 + the cities showing a higher figure, so
        # cities showing the same figure share a rank (1, 2, 2, 4) and the ranks run from 1 to at most n
        published = g["composite_index_published"].to_list()
        assert g["rank"].to_list() == [1 + sum(o > p for o in published) for p in published], year
        assert g["rank"].min() == 1 and g["rank"].max() <= n
        assert set(g["n_ranked"].to_list()) == {n}
        assert g["composite_index"].mean() == pytest.approx(100.0, abs=1e-9)
        # rank follows the composite (up to ties at the published figure)
        ordered = g.sort("rank")["composite_index_published"].to_list()
        assert ordered == sorted(ordered, reverse=True)
    # most of the programme is ranked each year (a city is left out only when a whole pillar is missing)
    share = q(
        warehouse,
        """select year, avg(case when is_ranked then 1.0 else 0.0 end) as share
                            from marts.fct_city_score_year where is_evaluated group by year""",
    )
    assert share["share"].min() > 0.5


def _pillar_and_composite(rows: pl.DataFrame) -> tuple[dict[str, float | None], float | None]:
    """docs/methodology.md §5: weighted mean over the pillar's indicators that have a score, weights
    renormalised, pillar kept when >= 25 % of its weight is observed; composite = pillar-weighted mean,
    only when all five pillars have a score."""
    pillars: dict[str, float | None] = {}
    pillar_weight: dict[str, float] = {}
    for (pillar,), g in rows.group_by(["pillar_code"]):
        total = g["weight"].sum()
        obs = g.filter(pl.col("normalised_score").is_not_null())
        w = obs["weight"].sum() if obs.height else 0.0
        pillars[pillar] = (
            sum(a * b for a, b in zip(obs["weight"], obs["normalised_score"])) / w
            if w > 0 and w >= MIN_PILLAR_COVERAGE * total
            else None
        )
        pillar_weight[pillar] = g["pillar_weight"][0]
    if any(pillars.get(p) is None for p in PILLARS):
        return pillars, None
    return pillars, sum(pillar_weight[p] * pillars[p] for p in PILLARS) / sum(pillar_weight[p] for p in PILLARS)


@pytest.mark.parametrize("pick", [0, 1])
def test_composite_index_recomputed_by_hand(warehouse, pick):
    years = q(warehouse, "select distinct year, catalog_version from marts.fct_city_score_year order by year")
    # one year of each catalog version, so both weight sets are exercised
    year = years.filter(pl.col("catalog_version") == years["catalog_version"].unique().sort()[pick])["year"].max()
    ranked = q(
        warehouse,
        f"select unit_code, composite from marts.fct_city_score_year where is_ranked and year = {year} order by unit_code",
    )
    unit = ranked["unit_code"][len(ranked) // 2]
    rows = q(
        warehouse,
        f"""
        select f.indicator_code, f.normalised_score, d.pillar_code, d.weight, d.pillar_weight
        from marts.fct_city_indicator_year f
        join marts.dim_indicator d using (catalog_version, indicator_code)
        where f.unit_code = '{unit}' and f.year = {year}""",
    )
    assert rows.height == 19
    pillars, composite = _pillar_and_composite(rows)
    got = q(warehouse, f"select * from marts.fct_city_score_year where unit_code = '{unit}' and year = {year}").row(
        0, named=True
    )
    for p in PILLARS:
        assert got[f"score_{p.lower()}"] == pytest.approx(pillars[p], rel=1e-12)
    assert got["composite"] == pytest.approx(composite, rel=1e-12)
    average = ranked["composite"].mean()
    assert got["composite_index"] == pytest.approx(100 * composite / average, rel=1e-12)
    assert got["performance_group"] == performance_group(got["composite_index"])


def test_normalised_scores_recomputed_by_hand(warehouse):
    """Outlier capping per year (mean +/- 2 SD), sqrt when window skewness > 1, min-max over the window."""
    d = q(
        warehouse,
        """select f.unit_code, f.year, f.indicator_code, f.value, f.is_outlier, f.is_sqrt_transformed,
                               f.normalised_score, i.direction
                        from marts.fct_city_indicator_year f join marts.dim_indicator i using (catalog_version, indicator_code)
                        where f.peer_group = 'city' and f.indicator_code in ('UTL01', 'PRO02', 'QLT03')""",
    )
    for (code,), g in d.group_by(["indicator_code"]):
        capped, flags = {}, {}
        for (year,), gy in g.filter(pl.col("value").is_not_null()).group_by(["year"]):
            vals = gy["value"].to_list()
            mean, sd = sum(vals) / len(vals), (pl.Series(vals).std() or 0.0)
            out = [sd > 0 and abs(v - mean) > 2 * sd for v in vals]
            inl = [v for v, o in zip(vals, out) if not o]
            for u, v, o in zip(gy["unit_code"], vals, out):
                flags[(u, year)] = o
                capped[(u, year)] = min(max(v, min(inl)), max(inl))
        xs = list(capped.values())
        m = sum(xs) / len(xs)
        m2 = sum((x - m) ** 2 for x in xs) / len(xs)
        skew = sum((x - m) ** 3 for x in xs) / len(xs) / m2**1.5
        t = {k: (math.copysign(math.sqrt(abs(v)), v) if skew > 1 else v) for k, v in capped.items()}
        lo, hi = min(t.values()), max(t.values())
        lower = g["direction"][0] == "lower"
        for r in g.iter_rows(named=True):
            k = (r["unit_code"], r["year"])
            if k not in t:
                assert r["normalised_score"] is None
                continue
            assert r["is_outlier"] == flags[k], (code, k)
            assert r["is_sqrt_transformed"] == (skew > 1)
            want = 100 * ((hi - t[k]) if lower else (t[k] - lo)) / (hi - lo)
            assert r["normalised_score"] == pytest.approx(want, abs=1e-9), (code, k)


def test_province_qlt01_is_in_force_inventions_per_10k_people(warehouse):
    raw = q(
        warehouse,
        """select s.region_code as unit_code, s.year, s.in_force_invention / p.population_10k as expected
                          from raw.patent_stats s join raw.population p on p.region_code = s.region_code and p.year = s.year
                          where s.region_code like '__0000' and s.in_force_invention is not null""",
    )
    got = q(
        warehouse,
        """select unit_code, year, raw_value from marts.fct_city_indicator_year
                          where peer_group = 'province' and indicator_code = 'QLT01'""",
    )
    window = set(
        q(warehouse, "select year from intermediate.int_evaluation_years where peer_group = 'province'")["year"]
    )
    raw = raw.filter(pl.col("year").is_in(list(window)))
    assert raw.height > 300  # 31 provinces x the statistics years
    joined = raw.join(got, on=["unit_code", "year"], how="left")
    assert joined["raw_value"].null_count() == 0
    assert (joined["raw_value"] == joined["expected"]).all()
    # provinces are never ranked with cities
    assert (
        q(
            warehouse,
            """select count(*) as n from marts.fct_city_score_year s join marts.dim_city d using (unit_code)
                           where d.level = 'province'""",
        )["n"][0]
        == 0
    )


def test_city_patent_counts_come_from_the_statistics_and_shares_from_the_records(warehouse):
    """Cities have both sources: QLT01/ENV03 are the city statistics' counts per 10k people (full volume, real
    order), QLT02 is the statistics' stock times the records' high-value share, and the reconciliation check
    finds the records a consistent sample of the statistics."""
    stats = q(
        warehouse,
        """select s.region_code as unit_code, s.year, s.in_force_invention, s.grants_total, p.population_10k
           from raw.patent_stats s join raw.population p on p.region_code = s.region_code and p.year = s.year
           where s.region_code in ('110100', '440300', '330200') and s.year in (2020, 2023)""",
    )
    got = q(
        warehouse,
        """select unit_code, year, indicator_code, raw_value from marts.fct_city_indicator_year
           where unit_code in ('110100', '440300', '330200') and year in (2020, 2023)
             and indicator_code in ('QLT01', 'ENV03', 'QLT02')""",
    ).pivot(on="indicator_code", index=["unit_code", "year"], values="raw_value")
    both = stats.join(got, on=["unit_code", "year"])
    assert both.height == 6
    assert ((both["QLT01"] - both["in_force_invention"] / both["population_10k"]).abs() < 1e-9).all()
    assert ((both["ENV03"] - both["grants_total"] / both["population_10k"]).abs() < 1e-9).all()
    beijing_2023 = both.filter(pl.col("unit_code") == "110100", pl.col("year") == 2023)["QLT01"].item()
    assert 240 < beijing_2023 < 290  # real 2023: 262.9
    # QLT02: the records' high-value share of Beijing's inventions in force at the end of 2023, applied to the stock
    rec = q(
        warehouse,
        """select count(*) filter (where is_high_value) * 1.0 / count(*) as share
           from raw.patent_grants where region_code like '1101%' and patent_type = 'invention'
             and year(grant_date) <= 2023 and (lapse_date is null or year(lapse_date) > 2023)""",
    )["share"][0]
    row = both.filter(pl.col("unit_code") == "110100", pl.col("year") == 2023).to_dicts()[0]
    expected = round(row["in_force_invention"] * rec) / row["population_10k"]
    assert row["QLT02"] == pytest.approx(expected, rel=1e-6)
    basis = q(
        warehouse,
        "select distinct patent_basis from intermediate.int_patents__unit_year where unit_code = '440300'",
    )["patent_basis"].to_list()
    assert basis == ["statistics_with_record_shares"]
    rec = q(
        warehouse,
        "select reconciliation_status, count(*) as n from intermediate.int_patents__records_vs_statistics group by 1",
    )
    assert dict(rec.iter_rows()).keys() == {"ok"} and rec["n"].sum() > 300


def test_target_status_matches_its_definition(warehouse):
    t = q(warehouse, "select * from marts.fct_target_status")
    assert t.height > 100
    assert set(t["status"]) <= {
        "achieved",
        "on_track",
        "acceleration_needed",
        "limited_progress",
        "deteriorating",
        "insufficient_data",
        "invalid_target",
    }
    assert len(set(t["status"])) >= 4
    # a target missing, of 0 or not beyond its baseline (in the indicator's direction) asks for nothing: invalid,
    # never achieved (dash12; round 16: a target the baseline already beat read "achieved")
    lower = set(
        q(warehouse, "select distinct indicator_code from marts.dim_indicator where direction = 'lower'")[
            "indicator_code"
        ].to_list()
    )
    sign = pl.when(pl.col("indicator_code").is_in(list(lower))).then(-1.0).otherwise(1.0)
    invalid = (
        (pl.col("target_value").is_null())
        | (pl.col("target_value") <= 0)
        | (sign * (pl.col("target_value") - pl.col("baseline_value")) <= 0)
    )
    flags = t.select(invalid.fill_null(False).alias("invalid"), (pl.col("status") == "invalid_target").alias("said"))
    assert (flags["invalid"] == flags["said"]).all()
    for r in t.filter(~pl.col("status").is_in(["insufficient_data", "invalid_target"])).iter_rows(named=True):
        if r["status"] == "achieved":
            continue
        g = r["growth_ratio"]
        if g is None:  # the baseline already met the target and the city has fallen short of it since
            assert r["status"] == "deteriorating" and r["progress_index"] is None, r
            continue
        want = (
            "on_track"
            if g >= 0.95
            else "acceleration_needed"
            if g >= 0.6
            else "limited_progress"
            if g >= 0
            else "deteriorating"
        )
        if r["target_value"] != r["baseline_value"]:
            assert r["status"] == want, r
        assert r["progress_index"] is None or r["progress_index"] <= 1


@pytest.fixture(scope="session")
def perturbed(raw_warehouse, warehouse, tmp_path_factory):
    """The same raw data with one ranked city's last-year pledge amounts multiplied by 5."""
    year = q(warehouse, "select max(year) as y from marts.fct_city_score_year")["y"][0]
    # a ranked prefecture with no county-level unit of its own, in the lower half on UTL01
    cand = q(
        warehouse,
        f"""
        select s.unit_code from marts.fct_city_score_year s
        join marts.dim_city d using (unit_code)
        join marts.fct_city_indicator_year f on f.unit_code = s.unit_code and f.year = s.year and f.indicator_code = 'UTL01'
        where s.is_ranked and s.year = {year} and d.level = 'prefecture' and not f.is_outlier
          and not exists (select 1 from marts.dim_city c where c.parent_code = s.unit_code
                          or (c.level in ('county_level_city', 'municipal_district') and substr(c.unit_code, 1, 4) = substr(s.unit_code, 1, 4)))
        order by f.raw_value""",
    )
    unit = cand["unit_code"][cand.height // 4]
    work = tmp_path_factory.mktemp("dbt_perturbed")
    path = work / "warehouse.duckdb"
    shutil.copy(raw_warehouse, path)
    con = duckdb.connect(str(path))
    con.execute(
        f"update raw.pledge_loans set amount_10k_yuan = amount_10k_yuan * 5 "
        f"where city_code = '{unit}' and extract(year from month) = {year}"
    )
    con.close()
    old = os.environ.get("IPCITY_WAREHOUSE")
    try:
        dbt_build(path, work, data_tests=False)
    finally:
        if old is None:
            os.environ.pop("IPCITY_WAREHOUSE", None)
        else:
            os.environ["IPCITY_WAREHOUSE"] = old
    return unit, year, path


def test_pledge_loans_move_only_the_utilisation_pillar(warehouse, perturbed):
    unit, year, changed = perturbed
    sql = f"select * from marts.fct_city_score_year where year = {year} order by unit_code"
    before, after = q(warehouse, sql), q(changed, sql)
    b = before.filter(pl.col("unit_code") == unit).row(0, named=True)
    a = after.filter(pl.col("unit_code") == unit).row(0, named=True)
    assert a["score_utl"] > b["score_utl"]
    for p in ("mgt", "pro", "qlt", "env"):
        assert a[f"score_{p}"] == pytest.approx(b[f"score_{p}"], rel=1e-12), p
    assert a["composite"] > b["composite"]
    assert a["composite_index"] > b["composite_index"]
    assert a["rank"] <= b["rank"]
    # the ranking still follows the composites
    ranked = after.filter(pl.col("is_ranked")).sort("rank")["composite"].to_list()
    assert ranked == sorted(ranked, reverse=True)

    ind = "select unit_code, year, indicator_code, raw_value from marts.fct_city_indicator_year where indicator_code like 'UTL%' order by all"
    ib, ia = q(warehouse, ind), q(changed, ind)
    # DuckDB sums in parallel, so a rebuild may differ in the last bits
    joined = ib.join(ia, on=["unit_code", "year", "indicator_code"], suffix="_after")
    assert joined.height == ib.height == ia.height
    diff = joined.filter(
        (pl.col("raw_value").is_null() != pl.col("raw_value_after").is_null())
        | (
            (pl.col("raw_value") - pl.col("raw_value_after")).abs()
            # a floor of 1: growth rates near zero are differences of large sums, so their last bits vary
            > 1e-9 * pl.max_horizontal(pl.col("raw_value").abs(), pl.col("raw_value_after").abs(), pl.lit(1.0))
        )
    )
    assert set(diff["unit_code"]) == {unit}
    assert {"UTL01", "UTL04"} <= set(diff["indicator_code"])
    assert set(diff["year"]) == {year}
    # other pillars of every city: same scores
    other = (
        "select unit_code, year, score_mgt, score_pro, score_qlt, score_env from marts.fct_city_score_year order by all"
    )
    ob, oa = q(warehouse, other), q(changed, other)
    assert ob.select("unit_code", "year").equals(oa.select("unit_code", "year"))
    for col in ("score_mgt", "score_pro", "score_qlt", "score_env"):
        x, y = ob[col].to_list(), oa[col].to_list()
        assert all(
            (u is None and v is None) or (u is not None and v is not None and abs(u - v) <= 1e-9) for u, v in zip(x, y)
        ), col
