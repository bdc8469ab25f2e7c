"""Every suite passes on a clean batch and fails, on the right check and naming the right rows, on a bad one.

Clean batches are built from the contract (pipelines/sources.py, docs/contracts.md) as small polars frames
with the dtypes the warehouse hands out (DuckDB -> polars).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.quality import MissingParameter, load_suite, patent_grant_city_counts, suite_names, validate
from pipelines.sources import SOURCES

POLARS = {"str": pl.String, "int": pl.Int64, "float": pl.Float64, "date": pl.Date, "bool": pl.Boolean}
TODAY = date(2026, 3, 1)

CITIES_ROWS = [
    # province_code, province_name, city_code, city_name, short, level, parent_code, lng, lat
    ("110000", "北京市", "110100", "北京市", "北京", "municipality", None, 116.4, 39.9),
    ("130000", "河北省", "130100", "石家庄市", "石家庄", "prefecture", None, 114.52, 38.05),
    ("130000", "河北省", "130200", "唐山市", "唐山", "prefecture", None, 118.2, 39.63),
    ("320000", "江苏省", "320500", "苏州市", "苏州", "prefecture", None, 120.62, 31.32),
    ("320000", "江苏省", "320581", "常熟市", "常熟", "county_level_city", "320500", 120.75, 31.65),
    ("440000", "广东省", "440300", "深圳市", "深圳", "prefecture", None, 114.07, 22.62),
]
VALID_CODES = sorted({r[2] for r in CITIES_ROWS} | {r[0] for r in CITIES_ROWS})
CONTEXT = {"valid_region_codes": VALID_CODES, "today": TODAY}


def raw_frame(source_name: str, rows: list[dict]) -> pl.DataFrame:
    """A raw table as the warehouse holds it: contract columns, partition year, lineage columns."""
    src = SOURCES[source_name]
    schema = {c.name: POLARS[c.dtype] for c in src.columns}
    data = [dict(r) for r in rows]
    if src.partitioned:
        schema["year"] = pl.Int32
        for r in data:
            r.setdefault("year", r[src.partition_date].year)
    schema.update(_source_file=pl.String, _row_number=pl.Int64)
    for i, r in enumerate(data, start=2):  # row 1 is the header in the landing file
        r.setdefault("_source_file", f"{source_name}_sample.csv")
        r.setdefault("_row_number", i)
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in data], schema=schema, orient="row")


def cities() -> pl.DataFrame:
    keys = (
        "province_code",
        "province_name",
        "city_code",
        "city_name",
        "city_name_short",
        "level",
        "parent_code",
        "lng",
        "lat",
    )
    return raw_frame("cities", [dict(zip(keys, r)) | {"pinyin": "x"} for r in CITIES_ROWS])


def programme_cities() -> pl.DataFrame:
    return raw_frame(
        "programme_cities",
        [
            dict(
                city_code="130100",
                unit_name="石家庄市",
                programme="ip_demonstration_city",
                cohort="2012",
                cohort_year=2012,
                status="active",
            ),
            dict(
                city_code="320500",
                unit_name="苏州市",
                programme="ip_demonstration_city",
                cohort="2012",
                cohort_year=2012,
                status="active",
            ),
            dict(
                city_code="320581",
                unit_name="常熟市",
                programme="ip_strong_county",
                cohort="2022",
                cohort_year=2022,
                status="rectification",
                status_since=date(2024, 5, 1),
            ),
            dict(
                city_code="440300",
                unit_name="深圳市",
                programme="ip_demonstration_city",
                cohort="2012",
                cohort_year=2012,
                status="withdrawn",
                status_since=date(2023, 1, 1),
                withdrawn_on=date(2023, 1, 1),
            ),
        ],
    )


def population() -> pl.DataFrame:
    rows = []
    for code, pop in (("130000", 7420.0), ("130100", 1120.5), ("320500", 1291.1), ("320581", 167.0)):
        for year in (2023, 2024):
            rows.append(dict(region_code=code, year=year, population_10k=pop, gdp_100m_yuan=pop * 9.1))
    return raw_frame("population", rows)


def targets() -> pl.DataFrame:
    return raw_frame(
        "targets",
        [
            dict(
                city_code="130100",
                plan_id="plan_2021_2025",
                indicator_code="QLT01",
                baseline_year=2020,
                baseline_value=8.1,
                target_year=2025,
                target_value=14.0,
            ),
            dict(
                city_code="130100",
                plan_id="plan_2021_2025",
                indicator_code="UTL01",
                baseline_year=2020,
                baseline_value=20.0,
                target_year=2025,
                target_value=40.0,
            ),
            dict(
                city_code="320500",
                plan_id="plan_2016_2020",
                indicator_code="QLT01",
                baseline_year=2016,
                baseline_value=30.0,
                target_year=2020,
                target_value=45.0,
            ),
        ],
    )


def patent_stats() -> pl.DataFrame:
    rows = []
    for code, inv in (("130000", 9000), ("320000", 60000), ("440000", 70000)):
        for year in (2023, 2024):
            g = dict(grants_invention=inv, grants_utility_model=inv * 4, grants_design=inv // 2)
            f = dict(in_force_invention=inv * 6, in_force_utility_model=inv * 12, in_force_design=inv * 2)
            rows.append(
                dict(
                    region_code=code,
                    region_name="x",
                    year=year,
                    **g,
                    grants_total=sum(g.values()),
                    **f,
                    in_force_total=sum(f.values()),
                )
            )
    return raw_frame("patent_stats", rows)


def _grant(n: int, region: str, grant_date: date, **over) -> dict:
    row = dict(
        publication_number=f"CN{112000000 + n}B",
        application_number=f"2019{n:08d}.1",
        patent_type="invention",
        kind_code="B",
        application_date=date(2019, 3, 1),
        grant_date=grant_date,
        applicant_name="某公司",
        applicant_type="enterprise",
        region_code=region,
        ipc_main="G06F",
        lapse_date=None,
        hv_strategic_industry=True,
        hv_overseas_family=False,
        hv_maintained_10y=False,
        hv_pledged=False,
        hv_award=False,
        is_high_value=True,
    )
    row.update(over)
    return row


def patent_grants() -> pl.DataFrame:
    rows = [
        _grant(i, code, date(2020, 1 + i % 12, 1 + i % 28))
        for i, code in enumerate(["130102", "130100", "320581", "320506", "440305", "110105", "130203"])
    ]
    rows.append(_grant(50, "320500", date(2020, 12, 28), patent_type="utility_model", kind_code="U"))
    rows.append(
        _grant(51, "440300", date(2020, 12, 30), patent_type="design", kind_code="S", lapse_date=date(2022, 1, 1))
    )
    return raw_frame("patent_grants", rows)


def pledge_loans() -> pl.DataFrame:
    rows = [
        dict(
            city_code=code,
            month=date(2020, m, 1),
            registrations=10 + m,
            amount_10k_yuan=1500.0 * m,
            patents_pledged=30 + m,
            trademarks_pledged=5,
            enterprises_served=8 + m,
            first_time_borrowers=3,
        )
        for code in ("130100", "320500")
        for m in range(1, 13)
    ]
    return raw_frame("pledge_loans", rows)


def enforcement_cases() -> pl.DataFrame:
    return raw_frame(
        "enforcement_cases",
        [
            dict(
                case_id="SZ-2020-001",
                city_code="320500",
                case_type="patent_infringement_dispute",
                filed_date=date(2020, 2, 3),
                closed_date=date(2020, 5, 1),
                resolution="mediation",
            ),
            dict(
                case_id="SZ-2020-002",
                city_code="320581",
                case_type="trademark",
                filed_date=date(2020, 6, 3),
                closed_date=None,
                resolution=None,
            ),
            dict(
                case_id="SJZ-2020-001",
                city_code="130100",
                case_type="counterfeit_patent",
                filed_date=date(2020, 12, 20),
                closed_date=date(2021, 1, 15),
                resolution="penalty",
            ),
        ],
    )


def training_events() -> pl.DataFrame:
    return raw_frame(
        "training_events",
        [
            dict(
                event_id=f"T{i:03d}",
                city_code=code,
                event_date=date(2020, 1 + i, 10),
                audience=aud,
                participants=30 + i,
                hours=3.5,
                title="专利导航",
            )
            for i, (code, aud) in enumerate(
                [
                    ("130100", "officials"),
                    ("320500", "enterprises"),
                    ("320581", "schools"),
                    ("440300", "service_agencies"),
                    ("110100", "public"),
                ]
            )
        ]
        + [
            dict(
                event_id="T999",
                city_code="320500",
                event_date=date(2020, 11, 5),
                audience="officials",
                participants=12,
                hours=2.0,
            )
        ],
    )


def city_counts() -> pl.DataFrame:
    prev = pl.DataFrame({"region_code": ["130102"] * 100 + ["320581"] * 40 + ["440305"] * 3, "year": [2019] * 143})
    cur = pl.DataFrame({"region_code": ["130102"] * 150 + ["320581"] * 30 + ["440305"] * 11, "year": [2020] * 191})
    return patent_grant_city_counts(cur, prev, unit_codes=VALID_CODES)


def dim_city() -> pl.DataFrame:
    rows = [
        dict(
            unit_code=r[2],
            unit_name=r[3],
            unit_name_en="x",
            province_code=r[0],
            province_name=r[1],
            level=r[5],
            parent_code=r[6],
            lng=r[7],
            lat=r[8],
            is_programme=r[2] in ("130100", "320500", "320581"),
            programme_cohort_year=2012 if r[2] in ("130100", "320500") else (2022 if r[2] == "320581" else None),
            programme_status="active" if r[2] in ("130100", "320500", "320581") else None,
            withdrawn_year=None,
        )
        for r in CITIES_ROWS
    ]
    rows.append(
        dict(
            unit_code="130000",
            unit_name="河北省",
            unit_name_en="Hebei",
            province_code="130000",
            province_name="河北省",
            level="province",
            parent_code=None,
            lng=114.5,
            lat=38.0,
            is_programme=False,
            programme_cohort_year=None,
            programme_status=None,
            withdrawn_year=None,
        )
    )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "programme_cohort_year": pl.Int64,
            "withdrawn_year": pl.Int64,
            "parent_code": pl.String,
            "programme_status": pl.String,
        },
    )


PILLARS = {"MGT": 3, "PRO": 4, "UTL": 5, "QLT": 4, "ENV": 3}


def dim_indicator() -> pl.DataFrame:
    rows = [
        dict(
            catalog_version="2016",
            indicator_code=f"{p}{i:02d}",
            pillar_code=p,
            pillar_name_zh="管理能力",
            pillar_name_en="x",
            name_zh="指标",
            name_en="indicator",
            definition="d",
            formula="a / b",
            unit="per 10k",
            source_table="raw.x",
            direction="lower" if f"{p}{i:02d}" == "PRO02" else "higher",
            weight=1 / n,
            pillar_weight=0.2,
        )
        for p, n in PILLARS.items()
        for i in range(1, n + 1)
    ]
    return pl.DataFrame(rows)


def fct_city_indicator_year() -> pl.DataFrame:
    rows = []
    for unit in ("130100", "320500", "320581"):
        for code, raw_value in (("PRO01", 0.82), ("QLT01", 12.5), ("UTL04", -0.15), ("PRO03", 0.4)):
            rows.append(
                dict(
                    unit_code=unit,
                    year=2020,
                    indicator_code=code,
                    catalog_version="2016",
                    raw_value=raw_value,
                    value=raw_value,
                    is_imputed=False,
                    is_outlier=False,
                    is_missing=False,
                    normalised_score=55.0,
                )
            )
    rows.append(
        dict(
            unit_code="440300",
            year=2020,
            indicator_code="QLT01",
            catalog_version="2016",
            raw_value=None,
            value=80.1,
            is_imputed=True,
            is_outlier=False,
            is_missing=False,
            normalised_score=99.0,
        )
    )
    return pl.DataFrame(rows, schema_overrides={"raw_value": pl.Float64})


def fct_city_score_year() -> pl.DataFrame:
    rows = [
        dict(
            unit_code=u,
            year=2020,
            catalog_version="2016",
            score_mgt=s,
            score_pro=s,
            score_utl=s,
            score_qlt=s,
            score_env=s,
            composite=s,
            composite_index=s / 50 * 100,
            rank=r,
            n_ranked=3,
            performance_group=g,
            group_third=t,
            index_change=1.5,
            rank_change=0,
            is_evaluated=True,
        )
        for r, (u, s, g, t) in enumerate(
            [
                ("320500", 80.0, "leader", "upper"),
                ("130100", 50.0, "moderate", "middle"),
                ("320581", 20.0, "emerging", "lower"),
            ],
            start=1,
        )
    ]
    rows.append(
        dict(
            unit_code="440300",
            year=2020,
            catalog_version="2016",
            score_mgt=None,
            score_pro=None,
            score_utl=None,
            score_qlt=None,
            score_env=None,
            composite=None,
            composite_index=None,
            rank=None,
            n_ranked=None,
            performance_group=None,
            group_third=None,
            index_change=None,
            rank_change=None,
            is_evaluated=False,
        )
    )
    return pl.DataFrame(
        rows,
        schema_overrides={
            c: pl.Float64
            for c in (
                "score_mgt",
                "score_pro",
                "score_utl",
                "score_qlt",
                "score_env",
                "composite",
                "composite_index",
                "index_change",
            )
        }
        | {
            "rank": pl.Int64,
            "n_ranked": pl.Int64,
            "rank_change": pl.Int64,
            "performance_group": pl.String,
            "group_third": pl.String,
        },
    )


def fct_target_status() -> pl.DataFrame:
    rows = [
        dict(
            unit_code="130100",
            plan_id="plan_2021_2025",
            indicator_code="QLT01",
            baseline_year=2020,
            baseline_value=8.1,
            target_year=2025,
            target_value=14.0,
            current_year=2024,
            current_value=12.0,
            progress_index=0.66,
            growth_ratio=1.48,
            status="on_track",
            projected_value=14.5,
        ),
        dict(
            unit_code="320500",
            plan_id="plan_2016_2020",
            indicator_code="QLT01",
            baseline_year=2016,
            baseline_value=30.0,
            target_year=2020,
            target_value=45.0,
            current_year=2020,
            current_value=47.0,
            progress_index=1.1,
            growth_ratio=1.56,
            status="achieved",
            projected_value=None,
        ),
        dict(
            unit_code="320581",
            plan_id="plan_2021_2025",
            indicator_code="UTL01",
            baseline_year=2020,
            baseline_value=None,
            target_year=2025,
            target_value=40.0,
            current_year=None,
            current_value=None,
            progress_index=None,
            growth_ratio=None,
            status="insufficient_data",
            projected_value=None,
        ),
    ]
    return pl.DataFrame(
        rows,
        schema_overrides={
            "baseline_value": pl.Float64,
            "current_year": pl.Int64,
            "current_value": pl.Float64,
            "progress_index": pl.Float64,
            "growth_ratio": pl.Float64,
            "projected_value": pl.Float64,
        },
    )


def third_party_evaluations() -> pl.DataFrame:
    from datetime import date

    return raw_frame(
        "third_party_evaluations",
        [
            dict(
                city_code=code,
                unit_name=name,
                cycle_first_year=2017,
                cycle_last_year=2019,
                evaluator="第三方评估机构",
                report_version=1,
                evaluated_on=date(2020, 4, 15),
                score_mgt=78.0,
                score_pro=74.5,
                score_utl=70.0,
                score_qlt=81.0,
                score_env=76.0,
                site_visit_score=80.0,
                site_visit_date=date(2020, 3, 3),
                document_review_score=75.0,
                findings="建设方案总体落实",
                site_visit_findings="现场核查了服务平台",
                document_review_findings="佐证材料齐全",
            )
            for code, name in (("130100", "石家庄市"), ("440300", "深圳市"))
        ],
    )


def profile_rows() -> pl.DataFrame:
    """A partition profile as pipelines/quality/partition_profile.py builds it: one row per partition and measure."""
    from pipelines.quality.partition_profile import SCHEMA

    rows = [
        ("rows_vs_previous_year", None, 240.0, 80.0, 720.0, "warn"),
        ("nulls_in_required_column", "registrations", 0.0, None, 0.0, "error"),
        ("duplicate_keys", "city_code,month", 0.0, None, 0.0, "error"),
        ("rows_outside_partition_year", "month", 0.0, None, 0.0, "error"),
        ("days_from_latest_to_year_end", "month", 30.0, None, 62.0, "warn"),
    ]
    frame = pl.DataFrame(
        [
            {"asset": "raw.pledge_loans", "year": 2020, "check": c, "column": col, "value": v, "low": lo, "high": hi}
            | {"severity": sev}
            for c, col, v, lo, hi, sev in rows
        ],
        schema=SCHEMA,
    )
    return frame.with_columns(error_ok=pl.lit(True), warn_ok=pl.lit(True))


# suite name -> (clean frame builder, partition, extra context)
CLEAN = {
    # the profile of every yearly partition (issue 19): aggregates the loader cannot see, one small frame
    "raw.partition_profile": (profile_rows, None, {}),
    "raw.cities": (cities, None, {}),
    "raw.programme_cities": (programme_cities, None, {}),
    "raw.population": (population, None, {"evaluation_year": 2024}),
    "raw.targets": (targets, None, {}),
    "raw.patent_stats": (patent_stats, None, {"evaluation_year": 2024}),
    "raw.patent_grants": (patent_grants, "2020", {"previous_row_count": 8}),
    "raw.patent_grants.city_counts": (city_counts, "2020", {}),
    "raw.pledge_loans": (pledge_loans, "2020", {"previous_row_count": 20}),
    "raw.enforcement_cases": (enforcement_cases, "2020", {"previous_row_count": 2}),
    "raw.training_events": (training_events, "2020", {"previous_row_count": 6}),
    "raw.third_party_evaluations": (third_party_evaluations, None, {}),
    "marts.dim_city": (dim_city, None, {}),
    "marts.dim_indicator": (dim_indicator, None, {}),
    "marts.fct_city_indicator_year": (fct_city_indicator_year, "2020", {}),
    "marts.fct_city_score_year": (fct_city_score_year, "2020", {}),
    "marts.fct_target_status": (fct_target_status, None, {}),
}


def run(name: str, df: pl.DataFrame, partition=None, **ctx):
    return validate(name, df, partition=partition, context=CONTEXT | ctx)


def failed_checks(result) -> set[str]:
    return {r.check_name for r in result.results if not r.passed}


def test_every_suite_file_has_a_clean_batch():
    assert set(suite_names()) == set(CLEAN)
    # one suite per raw source and per contract mart
    assert {f"raw.{s}" for s in SOURCES} <= set(suite_names())


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_suite_passes_on_clean_batch(name):
    build, partition, ctx = CLEAN[name]
    result = run(name, build(), partition, **ctx)
    assert [(r.check_name, r.observed_value, r.failing_sample) for r in result.results if not r.passed] == []
    assert result.success is True and result.passed_blocking is True
    # every expectation of the file ran: a check that silently never runs would hide here otherwise
    assert result.skipped == []
    assert [r.check_name for r in result.results] == [e["check"] for e in load_suite(name).expectations]
    assert all(r.exception is None for r in result.results)


def _sample_values(result, check: str, column: str) -> list:
    sample = result.by_check()[check].failing_sample
    assert isinstance(sample, list) and sample, f"{check} has no failing sample"
    return [row[column] for row in sample]


def _replace(df: pl.DataFrame, mask: pl.Expr, **values) -> pl.DataFrame:
    return df.with_columns(
        [pl.when(mask).then(pl.lit(v, dtype=df.schema[c])).otherwise(pl.col(c)).alias(c) for c, v in values.items()]
    )


# suite -> (make bad frame from clean, checks expected to fail, (check, sample column, values expected in sample))
BAD = {
    "raw.partition_profile": (
        lambda df: _replace(df, pl.col("check") == "duplicate_keys", value=3.0, error_ok=False),
        {"profile__blocking_measures_within_bounds"},
        ("profile__blocking_measures_within_bounds", "check", ["duplicate_keys"]),
    ),
    "raw.third_party_evaluations": (
        lambda df: _replace(df, pl.col("city_code") == "440300", score_qlt=140.0),
        {"score_qlt__in_range"},
        ("score_qlt__in_range", "city_code", ["440300"]),
    ),
    "raw.cities": (
        lambda df: _replace(df, pl.col("city_code") == "130200", lat=99.0, parent_code="990100"),
        {"lat__in_range", "parent_code__known_region"},
        ("lat__in_range", "city_code", ["130200"]),
    ),
    "raw.programme_cities": (
        lambda df: _replace(df, pl.col("city_code") == "320581", status="dissolved"),
        {"status__allowed"},
        ("status__allowed", "city_code", ["320581"]),
    ),
    "raw.population": (
        lambda df: _replace(df, (pl.col("region_code") == "320500") & (pl.col("year") == 2024), population_10k=-3.0),
        {"population_10k__in_range"},
        ("population_10k__in_range", "region_code", ["320500"]),
    ),
    "raw.targets": (
        lambda df: _replace(df, pl.col("indicator_code") == "UTL01", target_year=2019),
        {"target_year__after_baseline_year"},
        ("target_year__after_baseline_year", "indicator_code", ["UTL01"]),
    ),
    "raw.patent_stats": (
        lambda df: _replace(df, (pl.col("region_code") == "440000") & (pl.col("year") == 2023), grants_design=-1),
        {"grants_design__non_negative", "grants_total__sum_of_types"},
        ("grants_design__non_negative", "region_code", ["440000"]),
    ),
    "raw.patent_grants": (
        lambda df: _replace(df, pl.col("publication_number") == "CN112000003B", grant_date=date(2021, 1, 4)),
        {"grant_date__in_partition_year", "year__matches_grant_date"},
        ("grant_date__in_partition_year", "publication_number", ["CN112000003B"]),
    ),
    "raw.patent_grants.city_counts": (
        lambda df: _replace(df, pl.col("unit_code") == "320500", grants=400, change_factor=10.0),
        {"city_grants__change_vs_previous_year"},
        ("city_grants__change_vs_previous_year", "unit_code", ["320500"]),
    ),
    "raw.pledge_loans": (
        lambda df: _replace(
            df, (pl.col("city_code") == "320500") & (pl.col("month") == date(2020, 7, 1)), registrations=-5
        ),
        {"registrations__non_negative"},
        ("registrations__non_negative", "city_code", ["320500"]),
    ),
    "raw.enforcement_cases": (
        lambda df: _replace(df, pl.col("case_id") == "SZ-2020-002", city_code="990101"),
        {"city_code__known_region"},
        ("city_code__known_region", "case_id", ["SZ-2020-002"]),
    ),
    "raw.training_events": (
        lambda df: _replace(df, pl.col("event_id") == "T999", event_id="T001"),
        {"event_id__unique"},
        ("event_id__unique", "event_id", ["T001", "T001"]),
    ),
    "marts.dim_city": (
        lambda df: _replace(df, pl.col("unit_code") == "130200", level="city"),
        {"level__allowed"},
        ("level__allowed", "unit_code", ["130200"]),
    ),
    "marts.dim_indicator": (
        lambda df: _replace(df, pl.col("indicator_code") == "UTL02", weight=1.5),
        {"weight__share"},
        ("weight__share", "indicator_code", ["UTL02"]),
    ),
    # 1.3 is a fine value for QLT01 (per 10k people) but not for a share: only the share rule may fire
    "marts.fct_city_indicator_year": (
        lambda df: _replace(
            df,
            (pl.col("unit_code").is_in(["320500", "320581"])) & pl.col("indicator_code").is_in(["PRO03", "QLT01"]),
            raw_value=1.3,
        ),
        {"raw_value__share_indicators_within_0_1"},
        ("raw_value__share_indicators_within_0_1", "unit_code", ["320500", "320581"]),
    ),
    "marts.fct_city_score_year": (
        lambda df: _replace(df, pl.col("unit_code") == "130100", score_qlt=120.0),
        {"score_qlt__score_range"},
        ("score_qlt__score_range", "unit_code", ["130100"]),
    ),
    "marts.fct_target_status": (
        lambda df: _replace(df, pl.col("unit_code") == "320500", status="done"),
        {"status__allowed"},
        ("status__allowed", "unit_code", ["320500"]),
    ),
}


def test_every_suite_has_a_bad_batch():
    assert set(BAD) == set(CLEAN)


@pytest.mark.parametrize("name", sorted(BAD))
def test_suite_fails_on_bad_batch(name):
    build, partition, ctx = CLEAN[name]
    make_bad, expected, (check, column, values) = BAD[name]
    result = run(name, make_bad(build()), partition, **ctx)
    assert failed_checks(result) == expected
    assert result.passed_all is False
    blocking = any(result.by_check()[c].severity == "error" for c in expected)
    assert result.passed_blocking is (not blocking)
    assert _sample_values(result, check, column) == values


def test_raw_sample_names_source_file_and_row():
    df = pledge_loans()
    bad = _replace(df, (pl.col("city_code") == "130100") & (pl.col("month") == date(2020, 3, 1)), amount_10k_yuan=-1.0)
    row = bad.filter(pl.col("amount_10k_yuan") < 0).row(0, named=True)
    result = run("raw.pledge_loans", bad, "2020")
    (sample,) = result.by_check()["amount_10k_yuan__non_negative"].failing_sample
    assert sample["_source_file"] == "pledge_loans_sample.csv" and sample["_row_number"] == row["_row_number"]
    assert sample["amount_10k_yuan"] == -1.0 and sample["month"] == "2020-03-01"


def test_missing_column_and_wrong_type_are_blocking():
    df = population().drop("gdp_100m_yuan").with_columns(pl.col("population_10k").cast(pl.String))
    result = run("raw.population", df, evaluation_year=2024)
    fails = failed_checks(result)
    assert {"columns_present", "gdp_100m_yuan__type", "population_10k__type"} <= fails
    assert result.by_check()["columns_present"].failing_sample == {"missing": ["gdp_100m_yuan"]}
    # strings arrive as object columns, so GX judges each value: all 8 are text, not numbers
    assert result.by_check()["population_10k__type"].observed_value["unexpected_count"] == 8
    assert result.passed_blocking is False


def test_integer_column_with_nulls_keeps_its_type():
    # programme_cities has no nullable int; population.year with a null must fail not_null but pass the type check
    df = population().with_columns(
        pl.when((pl.col("region_code") == "320581") & (pl.col("year") == 2023))
        .then(None)
        .otherwise(pl.col("year"))
        .alias("year")
    )
    result = run("raw.population", df, evaluation_year=2024)
    assert result.by_check()["year__type"].passed
    assert failed_checks(result) == {"year__not_null"}


def test_region_rule_accepts_districts_of_known_prefectures_only():
    df = patent_grants()
    # 130102 (a district of 石家庄 130100) is fine; 139901 resolves to unknown prefecture 139900
    bad = _replace(df, pl.col("publication_number") == "CN112000000B", region_code="139901")
    assert df.filter(pl.col("region_code") == "130102").height == 1
    result = run("raw.patent_grants", bad, "2020")
    assert failed_checks(result) == {"region_code__known_region"}
    (sample,) = result.by_check()["region_code__known_region"].failing_sample
    assert sample["publication_number"] == "CN112000000B" and sample["region_code"] == "139901"


def test_dates_in_future_and_pair_rules():
    df = enforcement_cases()
    bad = _replace(df, pl.col("case_id") == "SZ-2020-001", closed_date=date(2020, 1, 1))
    bad = _replace(bad, pl.col("case_id") == "SJZ-2020-001", closed_date=date(2027, 1, 1))
    result = run("raw.enforcement_cases", bad, "2020")
    assert failed_checks(result) == {"closed_date__not_before_filed_date", "closed_date__not_in_future"}
    assert _sample_values(result, "closed_date__not_in_future", "case_id") == ["SJZ-2020-001"]


def test_kind_code_must_match_patent_type():
    bad = _replace(patent_grants(), pl.col("publication_number") == "CN112000001B", kind_code="U")
    result = run("raw.patent_grants", bad, "2020")
    assert failed_checks(result) == {"kind_code__matches_patent_type"}
    assert _sample_values(result, "kind_code__matches_patent_type", "publication_number") == ["CN112000001B"]


def test_freshness_warns_without_blocking():
    stale = patent_grants().filter(pl.col("grant_date") < date(2020, 7, 1))
    result = run("raw.patent_grants", stale, "2020")
    assert failed_checks(result) == {"freshness"}
    assert result.by_check()["freshness"].severity == "warn"
    assert result.passed_blocking is True and result.passed_all is False
    assert result.by_check()["freshness"].observed_value == str(stale["grant_date"].max())
    # a yearbook source one year behind the evaluation year is normal, two years behind is stale
    assert run("raw.population", population(), evaluation_year=2025).passed_all
    late = run("raw.population", population(), evaluation_year=2026)
    assert failed_checks(late) == {"freshness"} and late.by_check()["freshness"].observed_value == 2024


def test_row_count_against_previous_year():
    df = training_events()  # 6 rows
    assert run("raw.training_events", df, "2020", previous_row_count=18).passed_all  # 18 / 3 = 6
    result = run("raw.training_events", df, "2020", previous_row_count=21)  # 21 / 3 = 7 > 6
    assert failed_checks(result) == {"row_count__vs_previous_year"} and result.passed_blocking
    assert result.by_check()["row_count__vs_previous_year"].observed_value == 6


def test_checks_needing_run_inputs_are_skipped_and_listed():
    result = validate("raw.patent_grants", patent_grants(), context={"valid_region_codes": VALID_CODES})
    assert set(result.skipped) == {
        "grant_date__in_partition_year",
        "year__is_partition",
        "row_count__vs_previous_year",
        "freshness",
    }
    assert result.passed_all
    assert "grant_date__in_partition_year" not in result.by_check()


def test_region_codes_are_required_not_silently_skipped():
    with pytest.raises(MissingParameter, match="valid_region_codes"):
        validate("raw.patent_grants", patent_grants(), partition="2020")


def test_city_counts_flag_jumps_and_falls_above_the_factor():
    prev = pl.DataFrame(
        {"region_code": ["130102"] * 100 + ["320581"] * 40 + ["440305"] * 90 + ["110105"] * 5, "year": [2019] * 235}
    )
    cur = pl.DataFrame(
        {"region_code": ["130102"] * 301 + ["320581"] * 40 + ["440305"] * 29 + ["110105"] * 19, "year": [2020] * 389}
    )
    counts = patent_grant_city_counts(cur, prev, unit_codes=VALID_CODES, min_base_count=20)
    by_unit = {r["unit_code"]: r for r in counts.iter_rows(named=True)}
    # 320581 is a county-level unit: counted under itself and under its prefecture 320500
    assert by_unit["320581"]["grants"] == 40 and by_unit["320500"]["grants"] == 40
    assert by_unit["110100"]["change_factor"] is None  # 5 -> 19: below the base, noise
    result = run("raw.patent_grants.city_counts", counts, "2020")
    assert failed_checks(result) == {"city_grants__change_vs_previous_year"}
    assert result.passed_blocking
    flagged = _sample_values(result, "city_grants__change_vs_previous_year", "unit_code")
    assert sorted(flagged) == ["130100", "440300"]  # 100 -> 301 and 90 -> 29 (3.01x and 3.10x)


def test_results_are_json_ready():
    import json

    build, partition, ctx = CLEAN["raw.patent_grants"]
    bad = _replace(build(), pl.col("publication_number") == "CN112000003B", grant_date=date(2021, 1, 4))
    result = run("raw.patent_grants", bad, partition, **ctx)
    text = json.dumps(result.to_dict(), ensure_ascii=False)
    assert "CN112000003B" in text and "2021-01-04" in text
