"""The numbers that calibrate the sample generator: REAL totals read from data/reference, plus the stated
assumptions used where no real series exists. docs/sample_data.md explains them for readers.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines import reference

PATENT_TYPES = reference.PATENT_TYPES
PANEL_FIRST_PATENT_YEAR, PANEL_LAST_PATENT_YEAR = 2010, 2023

# Patent lifetime (years from grant until lapse for non-payment), Weibull(scale, shape). Fitted so that the
# stock implied by the real 31-province grants 2010-2023 matches the real in-force stock 2018-2023 within
# ~10% (least squares on log ratios; lapse before 2010 grants is the only stock not modelled).
LIFETIME_WEIBULL = {"invention": (37.0, 0.8), "utility_model": (15.25, 0.5), "design": (5.0, 0.5)}
# Statutory terms counted from the filing date; designs filed from 2021-06-01 get 15 years (2020 Patent Law).
TERM_YEARS = {"invention": 20, "utility_model": 10, "design": 10}
DESIGN_TERM_15_FROM = np.datetime64("2021-06-01")

# IP pledge financing, patents + trademarks, national, 亿元. 2023 is REAL (8539.9, reference file);
# 2021 3098 and 2022 ">4000" and 2020 2180 are from the same file's source note (2020 marked unverified);
# 2016-2019 are an ASSUMED ramp from roughly 1,000亿 in 2016; 2024+ ASSUMED +25 %/year then +20 %/year.
PLEDGE_NATIONAL_100M = {
    2016: 1000.0,
    2017: 1200.0,
    2018: 1450.0,
    2019: 1700.0,
    2020: 2180.0,
    2021: 3098.0,
    2022: 4300.0,
}
PLEDGE_GROWTH_AFTER_2023 = (1.25, 1.20)
# Average registered loan, 万元: 2023 REAL ratio 8539.9亿 / 4.2万笔 ≈ 2,033万; earlier years ASSUMED smaller.
AVG_LOAN_10K = {2016: 1500.0, 2023: 2033.0}

# Administrative enforcement cases, national, at scale 1. REAL anchors: 2017 66,649 patent administrative
# cases; 2023 68,000 patent-infringement disputes + 44,000 patent/trademark violation cases = 112,000.
# Other years ASSUMED by interpolation; 2024+ flat +3 %/year.
CASES_NATIONAL = {
    2016: 60000,
    2017: 66649,
    2018: 72000,
    2019: 78000,
    2020: 84000,
    2021: 92000,
    2022: 102000,
    2023: 112000,
}


def province_grants(first_year: int, last_year: int) -> pl.DataFrame:
    """Grants by province, type and year: REAL 2010-2023 (31 provinces, domestic applicants) and
    extrapolated outside that range (2024+ by the province's 2021-2023 trend, clipped to ±15 %/year;
    before 2010 by -12 %/year). Columns: province_code, year, patent_type, grants, is_real."""
    panel = reference.province_panel().filter(
        pl.col("province_code") != reference.NATIONAL_CODE,
        pl.col("year").is_between(PANEL_FIRST_PATENT_YEAR, PANEL_LAST_PATENT_YEAR),
    )
    long = panel.unpivot(
        index=["province_code", "year"],
        on=[f"grants_{t}" for t in PATENT_TYPES],
        variable_name="patent_type",
        value_name="grants",
    ).with_columns(pl.col("patent_type").str.strip_prefix("grants_"), is_real=pl.lit(True))
    frames = [long.filter(pl.col("year").is_between(first_year, last_year))]
    last = long.filter(pl.col("year") == PANEL_LAST_PATENT_YEAR)
    base = long.filter(pl.col("year") == PANEL_LAST_PATENT_YEAR - 2).select(
        "province_code", "patent_type", base=pl.col("grants")
    )
    trend = last.join(base, on=["province_code", "patent_type"]).with_columns(
        growth=((pl.col("grants") / pl.col("base")).sqrt()).fill_nan(1.0).clip(0.85, 1.15)
    )
    for year in range(PANEL_LAST_PATENT_YEAR + 1, last_year + 1):
        k = year - PANEL_LAST_PATENT_YEAR
        frames.append(
            trend.select(
                "province_code",
                "patent_type",
                year=pl.lit(year, pl.Int64),
                grants=(pl.col("grants") * pl.col("growth") ** k).round(0),
                is_real=pl.lit(False),
            )
        )
    first = long.filter(pl.col("year") == PANEL_FIRST_PATENT_YEAR)
    for year in range(first_year, min(PANEL_FIRST_PATENT_YEAR, last_year + 1)):
        k = PANEL_FIRST_PATENT_YEAR - year
        frames.append(
            first.select(
                "province_code",
                "patent_type",
                year=pl.lit(year, pl.Int64),
                grants=(pl.col("grants") * 0.88**k).round(0),
                is_real=pl.lit(False),
            )
        )
    cols = ["province_code", "year", "patent_type", "grants", "is_real"]
    return pl.concat([f.select(cols) for f in frames]).sort("province_code", "year", "patent_type")


def pledge_national_100m(year: int) -> float:
    if year in PLEDGE_NATIONAL_100M:
        return PLEDGE_NATIONAL_100M[year]
    real_2023 = reference.national_pledge_amount_2023()
    if year == 2023:
        return real_2023
    if year < min(PLEDGE_NATIONAL_100M):
        return PLEDGE_NATIONAL_100M[min(PLEDGE_NATIONAL_100M)] * 0.85 ** (min(PLEDGE_NATIONAL_100M) - year)
    value = real_2023
    for k in range(year - 2023):
        value *= PLEDGE_GROWTH_AFTER_2023[min(k, len(PLEDGE_GROWTH_AFTER_2023) - 1)]
    return value


def avg_loan_10k(year: int) -> float:
    (y0, v0), (y1, v1) = sorted(AVG_LOAN_10K.items())
    return float(np.clip(v0 + (v1 - v0) * (year - y0) / (y1 - y0), 1000.0, 2600.0))


def cases_national(year: int) -> float:
    if year in CASES_NATIONAL:
        return float(CASES_NATIONAL[year])
    if year < min(CASES_NATIONAL):
        return CASES_NATIONAL[min(CASES_NATIONAL)] * 0.92 ** (min(CASES_NATIONAL) - year)
    return CASES_NATIONAL[max(CASES_NATIONAL)] * 1.03 ** (year - max(CASES_NATIONAL))


# REAL published city figures the sample is anchored to: invention patents in force per 10k residents
# (每万人口发明专利拥有量). Shenzhen 2022: 137.9, "about 5.8 times the national 23.7" (Shenzhen municipal
# statistical communiqué / market-regulation bureau, 2023). Beijing (2023: 262.9) and Shanghai are whole
# provinces in the panel, so they need no anchor: their city statistics are the real province figures.
CITY_IN_FORCE_ANCHORS = {"440300": (2022, 137.9)}
