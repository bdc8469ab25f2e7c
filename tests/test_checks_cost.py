"""The checks' cheaper ways of judging still judge exactly what they judged before (issue 19, "checks ≤ ingestion").

* The partition profile counts unknown enumeration values and unknown region codes per distinct value, weighted
  by its rows, instead of evaluating the predicate on every row: the counts must be those of the per-row
  predicate for every kind of fault (unknown value, other case, stray space, unknown code, a district of a known
  prefecture, a code of the wrong shape, full-width digits, nulls).
* The row suite's sample draws row ids in the reservoir and reads those rows afterwards: the frame must be the
  one the reservoir gives when it samples the rows themselves, rows and order, over several row groups and
  partitions.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.ingest.load import ensure_schema
from pipelines.quality import validate
from pipelines.quality.partition_profile import PROFILE_SUITE, partition_profile, run_sample_frame
from pipelines.sources import SOURCES

CASES = SOURCES["enforcement_cases"]
CODES = frozenset(["440300", "440000", "110100"])
TODAY = date(2026, 1, 15)

# (city_code, case_type, resolution) spellings a raw table could hold if something other than the loader wrote it
CITY_CODES = ["440300", "440305", "110100", "110105", "990100", "44030", "4403001", "４４０３００", "44o300", None]
CASE_TYPES = ["trademark", "Trademark", "trademark ", "counterfeit_patent", "piracy", "", None]
RESOLUTIONS = ["mediation", "penalty", "MEDIATION", "settled", None]


def _warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    con.register("__codes", pl.DataFrame({"i": range(len(CITY_CODES)), "code": CITY_CODES}).to_arrow())
    con.register("__types", pl.DataFrame({"i": range(len(CASE_TYPES)), "t": CASE_TYPES}).to_arrow())
    con.register("__res", pl.DataFrame({"i": range(len(RESOLUTIONS)), "r": RESOLUTIONS}).to_arrow())
    # three years, each spelling in a different number of rows per year (so a count mixed up between values or
    # years shows)
    con.execute(f"""
        INSERT INTO raw.enforcement_cases (case_id, city_code, case_type, filed_date, closed_date, resolution,
            year, _source_file, _row_number)
        SELECT 'C' || y || '-' || s.i, c.code, t.t, make_date(y, s.i % 12 + 1, 1), NULL, r.r, y, 'f.csv', s.i
        FROM range(2022, 2025) y(y), range(3000) s(i)
        JOIN __codes c ON c.i = (s.i * (y - 2020)) % {len(CITY_CODES)}
        JOIN __types t ON t.i = (s.i // 3 + y) % {len(CASE_TYPES)}
        JOIN __res r ON r.i = (s.i // 7 + 2 * y) % {len(RESOLUTIONS)}
    """)
    for name in ("__codes", "__types", "__res"):
        con.unregister(name)
    return con


def _per_row_counts(con, years) -> dict:
    """The profile's former per-row predicates, verbatim, over every row."""
    con.register("__profile_codes", pl.DataFrame({"code": sorted(CODES)}).to_arrow())
    out = {}
    for y in years:
        for c in (col for col in CASES.columns if col.allowed):
            allowed = ", ".join("'" + a + "'" for a in c.allowed)
            out[("values_outside_enumeration", c.name, y)] = con.execute(
                f"SELECT count(*) FILTER (WHERE {c.name} IS NOT NULL AND {c.name} NOT IN ({allowed})) "
                f"FROM raw.enforcement_cases WHERE year = {y}"
            ).fetchall()[0][0]
        out[("unknown_region_codes", "city_code", y)] = con.execute(
            "SELECT count(*) FILTER (WHERE city_code IS NOT NULL AND NOT (regexp_full_match(city_code, '[0-9]{6}') "
            "AND (city_code IN (SELECT code FROM __profile_codes) OR left(city_code, 4) || '00' IN "
            f"(SELECT code FROM __profile_codes)))) FROM raw.enforcement_cases WHERE year = {y}"
        ).fetchall()[0][0]
    con.unregister("__profile_codes")
    return out


def test_unknown_enumeration_values_and_region_codes_are_counted_as_over_every_row(tmp_path):
    con = _warehouse(tmp_path)
    years = [2023, 2024]
    frame = partition_profile(con, CASES, years, valid_codes=CODES, today=TODAY)
    got = {
        (r["check"], r["column"], r["year"]): r["value"]
        for r in frame.iter_rows(named=True)
        if r["check"] in ("values_outside_enumeration", "unknown_region_codes")
    }
    expected = _per_row_counts(con, years)
    assert got == {k: float(v) for k, v in expected.items()}
    assert all(v > 0 for v in expected.values())  # every measure met a fault, so each count was put to the test
    # and they block, naming their year and column, as before
    r = validate(PROFILE_SUITE, frame)
    assert not r.passed_blocking
    failing = {
        (row["year"], row["check"], row["column"])
        for row in r.by_check()["profile__blocking_measures_within_bounds"].failing_sample
        if row["check"] in ("values_outside_enumeration", "unknown_region_codes")
    }
    assert failing == {(y, check, col) for check, col, y in expected}


def test_a_clean_partition_counts_no_unknown_value(tmp_path):
    con = _warehouse(tmp_path)
    con.execute(
        "UPDATE raw.enforcement_cases SET city_code = '440305', case_type = 'trademark', resolution = 'penalty'"
    )
    frame = partition_profile(con, CASES, [2024], valid_codes=CODES, today=TODAY)
    judged = frame.filter(pl.col("check").is_in(["values_outside_enumeration", "unknown_region_codes"]))
    assert judged.height == 3 and judged["value"].to_list() == [0.0, 0.0, 0.0]


def test_the_run_sample_is_the_reservoirs_own_rows_in_its_order(tmp_path):
    """Several row groups (DuckDB's are 122,880 rows) and partitions, a sample below and one above a group."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_schema(con)
    con.execute("""
        INSERT INTO raw.enforcement_cases (case_id, city_code, case_type, filed_date, closed_date, resolution,
            year, _source_file, _row_number)
        SELECT 'C' || i, '440300', CASE WHEN i % 3 = 0 THEN 'trademark' ELSE 'counterfeit_patent' END,
            make_date(2020 + i % 4, i % 12 + 1, i % 28 + 1), NULL, 'mediation', 2020 + i % 4, 'f' || (i % 5) || '.csv', i
        FROM range(400000) t(i)
    """)
    for years, limit, seed in (([2021], 1000, 1), ([2020, 2021, 2023], 10_000, 42), ([2022, 2023], 150_000, 7)):
        in_years = ", ".join(map(str, years))
        reservoir = con.sql(
            f"SELECT * FROM (SELECT * FROM raw.enforcement_cases WHERE year IN ({in_years})) "
            f"USING SAMPLE reservoir({limit} ROWS) REPEATABLE ({seed})"
        ).pl()
        frame, n = run_sample_frame(con, CASES, years, limit, seed)
        assert n == 100_000 * len(years)
        assert frame.schema == reservoir.schema
        assert frame.equals(reservoir), (years, limit)
