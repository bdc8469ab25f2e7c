"""The eleventh year's publish cost (issue 19): when a new year moves the evaluation window, every earlier
province-year gets a new version, and its changes list is computed once for the whole year (``diff_year``: one
join of the year's previous and current rows) instead of one Python diff per province. These tests hold that the
lists are exactly the row-by-row diff's (``diff_tables``) on randomised tables — floats by ``math.isclose``'s rule,
NaN, infinities, signed zeros, nulls in values and keys, added and removed rows, several provinces — and that
``write_all`` takes that path."""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

import polars as pl
import pytest

from pipelines import extracts as X

KEY = "__province__"
CODES = ["110000", "320000", "440000", "650000"]


def _float(rng: random.Random, old: float | None) -> float | None:
    """A new value for an old float: the same, within the closeness rule, just outside it, or anything."""
    roll = rng.random()
    if old is None:
        return None if roll < 0.5 else rng.choice([0.0, -0.0, 1.5, math.nan, math.inf])
    if roll < 0.3:
        return old
    if roll < 0.45 and math.isfinite(old):
        return old * (1 + rng.choice([1e-12, -5e-10, 2e-9, -3e-8]))  # inside or outside rel_tol 1e-9
    if roll < 0.5:
        return old + rng.choice([5e-13, 2e-12])  # the absolute tolerance near zero
    return rng.choice([None, math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-13, rng.uniform(-1e6, 1e6)])


def _old_float(rng: random.Random) -> float | None:
    return rng.choice([None, math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-13, 1e300, rng.uniform(-1e6, 1e6)])


def _tables(rng: random.Random) -> tuple[dict, dict]:
    """One province's old and new tables: indicators (string keys, one null key at times) and acceptance (int
    keys), every value type the marts use, rows kept, changed, removed and added."""
    old, new = {}, {}
    ind_old, ind_new = [], []
    unit_codes = [f"{c:06d}" for c in rng.sample(range(100000, 100050), rng.randint(0, 6))]
    for u in unit_codes:
        for i in rng.sample(["MGT01", "PRO02", "QLT01", "UTL03", None], rng.randint(0, 4)):
            o = {
                "unit_code": u,
                "indicator_code": i,
                "unit_name": rng.choice(["南京", "苏州", "=HYPERLINK(1)", None]),
                "value": _old_float(rng),
                "rank": rng.choice([None, 1, 2, 300]),
                "is_imputed": rng.choice([None, True, False]),
                "as_of": rng.choice([None, dt.date(2023, 1, 1), dt.date(2024, 6, 30)]),
                "stage": rng.choice([None, "", "rectification", "watch"]),
                "amount": rng.choice([None, Decimal("1.10"), Decimal("2.00")]),
            }
            n = dict(o)
            n["value"] = _float(rng, o["value"])
            for c in ("unit_name", "rank", "is_imputed", "as_of", "stage", "amount"):
                if rng.random() < 0.2:
                    n[c] = rng.choice([None, o[c], {"rank": 7, "is_imputed": True}.get(c, o[c])])
            roll = rng.random()
            if roll < 0.1:
                ind_old.append(o)  # removed
            elif roll < 0.2:
                ind_new.append(n)  # added
            else:
                ind_old.append(o)
                ind_new.append(n)
    schema = {
        "unit_code": pl.String,
        "indicator_code": pl.String,
        "unit_name": pl.String,
        "value": pl.Float64,
        "rank": pl.Int64,
        "is_imputed": pl.Boolean,
        "as_of": pl.Date,
        "stage": pl.String,
        "amount": pl.Decimal(10, 2),
    }
    rng.shuffle(ind_new)  # the new rows in another order than the old
    old["indicators"] = pl.DataFrame(ind_old, schema=schema)
    new["indicators"] = pl.DataFrame(ind_new, schema=schema)
    acc_schema = {
        "unit_code": pl.String,
        "cycle_first_year": pl.Int32,
        "cycle_last_year": pl.Int32,
        "acceptance_score": pl.Float32,
    }
    acc_old = [
        {"unit_code": u, "cycle_first_year": y, "cycle_last_year": y + 2, "acceptance_score": rng.uniform(0, 100)}
        for u in unit_codes[:3]
        for y in rng.sample([2016, 2019, 2022], 2)
    ]
    acc_new = [
        {**r, "acceptance_score": rng.choice([r["acceptance_score"], None, rng.uniform(0, 100)])}
        for r in acc_old
        if rng.random() < 0.8
    ]
    old["acceptance"] = pl.DataFrame(acc_old, schema=acc_schema)
    new["acceptance"] = pl.DataFrame(acc_new, schema=acc_schema)
    return old, new


def _year(frames: dict[str, dict[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    names = next(iter(frames.values())).keys()
    return {
        name: pl.concat([f[name].with_columns(pl.lit(code).alias(KEY)) for code, f in frames.items()]) for name in names
    }


@pytest.mark.parametrize("seed", range(60))
def test_the_years_changes_are_the_row_by_row_diffs(seed):
    rng = random.Random(seed)
    olds, news = {}, {}
    for code in CODES:
        olds[code], news[code] = _tables(rng)
    got = X.diff_year(_year(olds), _year(news), KEY, CODES)
    assert got is not None and set(got) == set(CODES)
    for code in CODES:
        want = X.diff_tables(olds[code], news[code])
        assert got[code].equals(want), (code, got[code], want)


def test_the_closeness_rule_at_its_edges():
    """``math.isclose``'s rule cell by cell: equal, inside rel_tol or abs_tol, NaN only equal to NaN, an
    infinity only equal to itself, a null only equal to a null."""
    pairs = [
        (1.0, 1.0 + 1e-10),
        (1.0, 1.0 + 2e-9),
        (0.0, 1e-12),
        (0.0, 2e-12),
        (-0.0, 0.0),
        (math.nan, math.nan),
        (math.nan, 1.0),
        (math.inf, math.inf),
        (math.inf, 1e308),
        (math.inf, -math.inf),
        (None, None),
        (None, 0.0),
        (1e308, -1e308),
    ]
    old = {"scores": pl.DataFrame({"unit_code": [str(i) for i in range(len(pairs))], "v": [a for a, _ in pairs]})}
    new = {"scores": pl.DataFrame({"unit_code": [str(i) for i in range(len(pairs))], "v": [b for _, b in pairs]})}
    want = X.diff_tables(old, new)
    assert set(want["unit_code"]) == {"1", "3", "6", "8", "9", "11", "12"}
    got = X.diff_year(_year({"440000": old}), _year({"440000": new}), KEY, ["440000"])
    assert got["440000"].equals(want)


def test_what_it_cannot_decide_goes_back_to_the_row_by_row_diff():
    base = pl.DataFrame({"unit_code": ["1", "2"], "v": [1.0, 2.0]})
    one = {"440000": {"scores": base}}
    # a column's type changed between the versions, a column added, a duplicate key, a nested column
    assert X.diff_year(_year(one), _year({"440000": {"scores": base.with_columns(pl.col("v").cast(pl.Int64))}}),
                       KEY, ["440000"]) is None  # fmt: skip
    assert (
        X.diff_year(_year(one), _year({"440000": {"scores": base.with_columns(w=pl.lit(1))}}), KEY, ["440000"]) is None
    )
    dup = pl.DataFrame({"unit_code": ["1", "1"], "v": [1.0, 3.0]})
    assert X.diff_year(_year(one), _year({"440000": {"scores": dup}}), KEY, ["440000"]) is None
    nested = {"440000": {"scores": base.with_columns(w=pl.lit([1, 2]))}}
    assert X.diff_year(_year(nested), _year(nested), KEY, ["440000"]) is None
    # a table only one side has
    assert X.diff_year(_year(one), _year({"440000": {"scores": base, "indicators": base}}), KEY, ["440000"]) is None


def test_a_column_named_like_the_joins_own_goes_back_to_the_row_by_row_diff():
    df = pl.DataFrame({"unit_code": ["1"], "v": [1.0], "v__new": [2.0]})
    assert X.diff_year(_year({"440000": {"scores": df}}), _year({"440000": {"scores": df}}), KEY, ["440000"]) is None


def _stored(root, code: str, tables: dict[str, pl.DataFrame]) -> dict:
    """A previous version's manifest entry whose Parquet files hold ``tables`` (as ``_write_version`` lists them)."""
    folder = root / code[:2] / "2020" / "v1"
    folder.mkdir(parents=True)
    files = []
    for name, df in tables.items():
        df.write_parquet(folder / f"{name}.parquet")
        files.append({"path": f"{code[:2]}/2020/v1/{name}.parquet", "format": "parquet", "table": name})
        files.append({"path": f"{code[:2]}/2020/v1/{name}.csv", "format": "csv", "table": name})
    return {"version": 1, "files": files}


def _current(frames: dict[str, dict[str, pl.DataFrame]]) -> tuple[dict, dict]:
    """The year's tables (every province's rows, ``province_code`` on each) and their province keys."""
    year = {
        name: pl.concat([f[name].with_columns(pl.lit(code).alias("province_code")) for code, f in frames.items()])
        for name in next(iter(frames.values()))
    }
    return year, {name: df["province_code"] for name, df in year.items()}


def test_the_year_reads_the_previous_versions_once_and_lists_each_provinces_changes(tmp_path):
    rng = random.Random(7)
    olds, news = {}, {}
    for code in CODES:
        olds[code], news[code] = _tables(rng)
    with_code = {
        code: {n: df.with_columns(pl.lit(code).alias("province_code")) for n, df in t.items()}
        for code, t in olds.items()
    }
    previous = {code: _stored(tmp_path, code, with_code[code]) for code in CODES}
    year, keys = _current(news)
    got = X._year_changes(tmp_path, previous, year, keys)
    assert set(got) == set(CODES)
    for code in CODES:
        new = {n: df.filter(pl.col("province_code") == code) for n, df in year.items()}
        assert got[code].equals(X.diff_tables(with_code[code], new)), code


def test_a_previous_version_of_another_shape_is_diffed_by_its_own_job(tmp_path):
    """A previous version written by an older release of the code (a column fewer, a table missing) is not read
    with the others: the year's lists leave those provinces to their own jobs' row-by-row diff."""
    rng = random.Random(11)
    olds, news = {}, {}
    for code in CODES:
        olds[code], news[code] = _tables(rng)
    old = {
        code: {n: df.with_columns(pl.lit(code).alias("province_code")) for n, df in t.items()}
        for code, t in olds.items()
    }
    year, keys = _current(news)
    # a table missing from one province's previous version: only that province is left out
    missing = {**old, CODES[0]: {"indicators": old[CODES[0]]["indicators"]}}
    previous = {code: _stored(tmp_path / "a", code, missing[code]) for code in CODES}
    assert set(X._year_changes(tmp_path / "a", previous, year, keys)) == set(CODES[1:])
    # a column fewer in one province's file (one with rows): the reader refuses the set, every province diffs on
    # its own
    code = max(CODES, key=lambda c: old[c]["indicators"].height)
    assert old[code]["indicators"].height
    fewer = {**old, code: {**old[code], "indicators": old[code]["indicators"].drop("stage")}}
    previous = {code: _stored(tmp_path / "b", code, fewer[code]) for code in CODES}
    assert X._year_changes(tmp_path / "b", previous, year, keys) == {}


def test_a_missing_previous_file_is_left_to_the_provinces_own_job(tmp_path):
    rng = random.Random(3)
    olds, news = {}, {}
    for code in CODES:
        olds[code], news[code] = _tables(rng)
    old = {
        code: {n: df.with_columns(pl.lit(code).alias("province_code")) for n, df in t.items()}
        for code, t in olds.items()
    }
    previous = {code: _stored(tmp_path, code, old[code]) for code in CODES}
    (tmp_path / previous[CODES[2]]["files"][0]["path"]).unlink()
    year, keys = _current(news)
    assert X._year_changes(tmp_path, previous, year, keys) == {}
