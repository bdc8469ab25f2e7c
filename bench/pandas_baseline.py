"""What an analyst would otherwise write: one pandas script from landing files to city-year patent indicators.

    python bench/pandas_baseline.py LANDING_DIR OUT.parquet [--today YYYY-MM-DD]

Reads the same landing files as the pipeline (cities, population, patent grants; CSV or Parquet), applies the
contract's row rules for patent grants (required values, lengths, formula-like text, enumerations, region codes,
dates, yes/no flags, date order, kind code vs type, no future dates, the file's year, duplicate numbers) and
computes per unit and year the same measures as dbt's int_patents__unit_year plus the per-10k indicators
QLT01-QLT04 and ENV03. Written the way a competent analyst would: pyarrow CSV engine, vectorised masks, one
groupby per measure family; no per-row Python. Prints rows read / rejected and the seconds of each part.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

PATENT_TYPES = {"invention", "utility_model", "design"}
KINDS = {"B", "U", "S", "C", "Y", "D"}
APPLICANT_TYPES = {"enterprise", "university", "research_institute", "individual", "other"}
KIND_OF_TYPE = {"invention": {"B", "C"}, "utility_model": {"U", "Y"}, "design": {"S", "D"}}
SYNONYMS = {
    "发明": "invention",
    "发明专利": "invention",
    "实用新型": "utility_model",
    "外观设计": "design",
    "企业": "enterprise",
    "大专院校": "university",
    "高校": "university",
    "科研单位": "research_institute",
    "科研院所": "research_institute",
    "个人": "individual",
    "机关团体": "other",
    "其他": "other",
}
TRUE = {"1", "true", "t", "yes", "y", "是", "√"}
FALSE = {"0", "false", "f", "no", "n", "否"}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
REQUIRED = (
    "publication_number",
    "application_number",
    "patent_type",
    "kind_code",
    "application_date",
    "grant_date",
    "applicant_name",
    "applicant_type",
    "region_code",
    "hv_strategic_industry",
    "hv_overseas_family",
    "hv_maintained_10y",
    "hv_pledged",
    "hv_award",
    "is_high_value",
)
TEXT = (
    "publication_number",
    "application_number",
    "patent_type",
    "kind_code",
    "applicant_name",
    "applicant_type",
    "region_code",
    "ipc_main",
)
MAX_LEN = {"publication_number": 20, "application_number": 20, "applicant_name": 200, "ipc_main": 30}
BOOLS = ("hv_strategic_industry", "hv_overseas_family", "hv_maintained_10y", "hv_pledged", "hv_award", "is_high_value")
DATES = ("application_date", "grant_date", "lapse_date")
FORMULA = re.compile(r"^[=+@]|^-[^0-9.\s]|^-[0-9.]+[-+*/=&|(]")


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype("str")
    return pd.read_csv(path, dtype="str", engine="pyarrow", encoding="utf-8")


def parse_dates(s: pd.Series) -> pd.Series:
    out = pd.to_datetime(s, format=DATE_FORMATS[0], errors="coerce")
    for fmt in DATE_FORMATS[1:]:
        todo = out.isna() & s.notna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(s[todo], format=fmt, errors="coerce")
    return out


def validate_grants(df: pd.DataFrame, year: int | None, codes: set[str], today: date) -> tuple[pd.DataFrame, int]:
    for c in df.columns:
        df[c] = df[c].str.strip().replace("", None)
    bad = pd.Series(False, index=df.index)
    for c in REQUIRED:
        bad |= df[c].isna()
    for c in TEXT:
        s = df[c]
        bad |= s.str.contains(FORMULA, na=False)
        if c in MAX_LEN:
            bad |= s.str.len().fillna(0) > MAX_LEN[c]
    for c, allowed in (("patent_type", PATENT_TYPES), ("kind_code", KINDS), ("applicant_type", APPLICANT_TYPES)):
        df[c] = df[c].replace(SYNONYMS)
        bad |= df[c].notna() & ~df[c].isin(allowed)
    code = df["region_code"].str.replace(r"\.0+$", "", regex=True)
    df["region_code"] = code
    known = code.isin(codes) | (code.str[:4] + "00").isin(codes)
    bad |= code.notna() & ~(code.str.fullmatch(r"\d{6}", na=False) & known)
    for c in DATES:
        parsed = parse_dates(df[c])
        bad |= df[c].notna() & parsed.isna()
        bad |= parsed > pd.Timestamp(today)
        df[c] = parsed
    for c in BOOLS:
        low = df[c].str.lower()
        bad |= low.notna() & ~low.isin(TRUE | FALSE)
        df[c] = low.isin(TRUE)
    bad |= df["grant_date"] < df["application_date"]
    bad |= df["lapse_date"] < df["grant_date"]
    kind_ok = pd.Series(False, index=df.index)
    for t, kinds in KIND_OF_TYPE.items():
        kind_ok |= (df["patent_type"] == t) & df["kind_code"].isin(kinds)
    bad |= df["patent_type"].notna() & df["kind_code"].notna() & ~kind_ok
    if year is not None:
        bad |= df["grant_date"].dt.year != year
    # A second occurrence of a publication number among otherwise good rows is a duplicate.
    bad |= ~bad & df["publication_number"].where(~bad).duplicated(keep="first") & df["publication_number"].notna()
    return df[~bad], int(bad.sum())


def attribution(cities: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """region code -> unit codes: the prefecture-level unit always, the county-level unit itself as well."""
    county = cities["level"].isin(["county_level_city", "municipal_district"])
    pref = cities.loc[~county, ["city_code"]].rename(columns={"city_code": "unit_code"})
    own = cities.loc[county, ["city_code"]].rename(columns={"city_code": "unit_code"})
    return pref, own


def indicators(grants: pd.DataFrame, cities: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    g = pd.DataFrame(
        {
            "region_code": grants["region_code"],
            "grant_year": grants["grant_date"].dt.year.astype("int64"),
            "lapse_year": grants["lapse_date"].dt.year.astype("Int64"),
            "invention": grants["patent_type"] == "invention",
            "enterprise": grants["applicant_type"] == "enterprise",
            "high_value": grants["is_high_value"],
        }
    )
    # Aggregate to the few distinct combinations first: the in-force join then runs on thousands of rows.
    small = (
        g.groupby(
            ["region_code", "grant_year", "lapse_year", "invention", "enterprise", "high_value"],
            dropna=False,
            observed=True,
        )
        .size()
        .rename("n")
        .reset_index()
    )
    small["pref"] = small["region_code"].str[:4] + "00"
    pref, own = attribution(cities)
    by_unit = pd.concat(
        [
            small.merge(pref, left_on="pref", right_on="unit_code"),
            small.merge(own, left_on="region_code", right_on="unit_code"),
        ],
        ignore_index=True,
    )
    years = sorted(g["grant_year"].unique())
    rows = []
    for y in years:
        upto = by_unit[by_unit["grant_year"] <= y]
        alive = upto["lapse_year"].isna() | (upto["lapse_year"] > y)
        this = upto["grant_year"] == y
        frame = pd.DataFrame(
            {
                "unit_code": upto["unit_code"],
                "grants_total": upto["n"].where(this, 0),
                "grants_invention": upto["n"].where(this & upto["invention"], 0),
                "grants_invention_enterprise": upto["n"].where(this & upto["invention"] & upto["enterprise"], 0),
                "in_force_invention": upto["n"].where(alive & upto["invention"], 0),
                "in_force_invention_high_value": upto["n"].where(alive & upto["invention"] & upto["high_value"], 0),
            }
        )
        agg = frame.groupby("unit_code").sum().reset_index()
        agg.insert(1, "year", y)
        rows.append(agg)
    out = pd.concat(rows, ignore_index=True)
    pop = population.rename(columns={"region_code": "unit_code"})[["unit_code", "year", "population_10k"]]
    out = out.merge(pop, on=["unit_code", "year"], how="left")
    out["QLT01"] = out["in_force_invention"] / out["population_10k"]
    out["QLT02"] = out["in_force_invention_high_value"] / out["population_10k"]
    out["QLT03"] = out["grants_invention"] / out["grants_total"].where(out["grants_total"] > 0)
    out["QLT04"] = out["grants_invention_enterprise"] / out["grants_invention"].where(out["grants_invention"] > 0)
    out["ENV03"] = out["grants_total"] / out["population_10k"]
    return out.sort_values(["unit_code", "year"]).reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("landing", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--today", default=date.today().isoformat())
    args = ap.parse_args(argv)
    today = date.fromisoformat(args.today)
    t = {"start": time.perf_counter()}
    cities = pd.read_csv(args.landing / "cities" / "cities.csv", dtype="str")
    codes = set(cities["city_code"]) | set(cities["province_code"])
    population = pd.read_csv(
        args.landing / "population" / "population.csv",
        dtype={"region_code": "str", "year": "int64", "population_10k": "float64"},
    )
    population = population[population["population_10k"].between(0.01, 20000)]
    t["reference"] = time.perf_counter()
    good, rejected, read_rows = [], 0, 0
    for path in sorted((args.landing / "patent_grants").iterdir()):
        m = re.search(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", path.stem)
        df = read(path)
        read_rows += len(df)
        ok, n_bad = validate_grants(df, int(m.group(1)) if m else None, codes, today)
        good.append(ok)
        rejected += n_bad
    grants = pd.concat(good, ignore_index=True)
    # Across files the same number counts once (the first file wins, as a re-sent record is not a new grant).
    before = len(grants)
    grants = grants.drop_duplicates("publication_number", keep="first")
    rejected += before - len(grants)
    t["grants"] = time.perf_counter()
    out = indicators(grants, cities, population)
    t["indicators"] = time.perf_counter()
    out.to_parquet(args.out, index=False)
    print(
        f"rows_read={read_rows} rows_rejected={rejected} unit_years={len(out)} "
        f"reference_s={t['reference'] - t['start']:.2f} grants_read_validate_s={t['grants'] - t['reference']:.2f} "
        f"indicators_s={t['indicators'] - t['grants']:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
