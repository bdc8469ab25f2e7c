"""The eleventh year's provincial extracts (issue 19: a new year costs at most 1.1x that year alone).

A new year moves the evaluation window, so ``write_all`` re-versions every earlier province-year: ten years are
checked and ~280 re-versions written. These tests hold the three savings on that path to the files a plain run
writes:
* re-versions (Parquet files and manifest only) are written by threads of the run, not shipped to worker
  processes, whose start (~1 s of CPU each) cost what they saved; the files equal a serial run's;
* each province's content hash comes from one CSV text per table and year (``_year_digests``), equal to the
  per-province ``_digest`` on every kind of value, a value with a line break included;
* a table without rows copies the Parquet bytes the writer gave the same columns before, equal to a fresh write.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import math
import random
import shutil

import duckdb
import polars as pl
import pytest

from pipelines import extracts as X
from pipelines.data_nature import nature_of

pytestmark = pytest.mark.slow


def _tree(root) -> dict[str, bytes]:
    """Every file under ``root`` but the workbooks (their zip holds the time of writing); manifests without
    their generation time."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix == ".xlsx":
            continue
        data = p.read_bytes()
        if p.name == "versions.json":
            v = json.loads(data)
            for e in v["versions"]:
                e.pop("generated_at")
            data = json.dumps(v, sort_keys=True).encode()
        out[str(p.relative_to(root))] = data
    return out


@pytest.fixture
def moved(sample_snapshot, tmp_path):
    """The last year's v1 of every province (write_all, serial), then every city's index moved in a copy of the
    snapshot: the next write_all re-versions every province, as a new year does to the earlier ones."""
    snap = tmp_path / "snap.duckdb"
    shutil.copy(sample_snapshot.snapshot, snap)
    with duckdb.connect(str(snap), read_only=True) as con:
        year = X.released_years(con)[-1]
    root = tmp_path / "v1"
    mp = pytest.MonkeyPatch()
    mp.setenv("IPCITY_EXTRACT_WORKERS", "1")
    try:
        first = X.write_all(snap, root, years=[year])
    finally:
        mp.undo()
    assert first and all(e["version"] == 1 for e in first)
    with duckdb.connect(str(snap)) as con:
        con.execute(
            "update marts.fct_city_score_year set composite_index = composite_index + 0.5, "
            "composite_index_published = composite_index_published + 0.5 where year = ?",
            [year],
        )
    return snap, root, year, len(first)


def test_re_versions_are_written_without_worker_processes(moved, tmp_path, monkeypatch):
    snap, v1, year, n = moved
    assert n >= X.MIN_PARALLEL  # enough versions that the pool was started for them before
    started = []

    class NoProcesses(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, *a, **k):
            started.append(k)
            super().__init__(*a, **k)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", NoProcesses)
    shutil.copytree(v1, tmp_path / "pooled")
    shutil.copytree(v1, tmp_path / "serial")
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "2")
    pooled = X.write_all(snap, tmp_path / "pooled", years=[year])
    assert started == []  # every version a re-version: no worker process
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "1")
    serial = X.write_all(snap, tmp_path / "serial", years=[year])
    assert len(pooled) == n and all(e["version"] == 2 and e["previous_version"] == 1 for e in pooled)
    assert [(e["province_code"], e["content_hash"], e["files"]) for e in pooled] == [
        (e["province_code"], e["content_hash"], e["files"]) for e in serial
    ]
    assert _tree(tmp_path / "pooled") == _tree(tmp_path / "serial")


def test_first_versions_still_go_to_the_pool_and_come_back_in_order(moved, tmp_path, monkeypatch):
    """A run with first versions of one year and re-versions of another: the first versions (workbooks) are
    written by worker processes, the entries come back year by year as given, and the files equal a serial run's."""
    snap, v1, year, n = moved
    with duckdb.connect(str(snap), read_only=True) as con:
        years = X.released_years(con)
    assert len(years) >= 2  # the sample's released years (a skip would prove nothing in CI)
    other = years[-2]
    started = []

    class Recording(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, *a, **k):
            started.append(k)
            super().__init__(*a, **k)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Recording)
    shutil.copytree(v1, tmp_path / "pooled")
    shutil.copytree(v1, tmp_path / "serial")
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "2")
    pooled = X.write_all(snap, tmp_path / "pooled", years=[year, other])
    assert len(started) == 1
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "1")
    serial = X.write_all(snap, tmp_path / "serial", years=[year, other])
    assert [(e["year"], e["province_code"], e["version"]) for e in pooled] == [
        (e["year"], e["province_code"], e["version"]) for e in serial
    ]
    assert [e["year"] for e in pooled] == [year] * n + [other] * (len(pooled) - n)  # the years as given
    assert _tree(tmp_path / "pooled") == _tree(tmp_path / "serial")


def test_the_content_hashes_are_taken_once_per_table_and_year(moved, tmp_path, monkeypatch):
    snap, v1, year, n = moved
    calls = []
    real = X._digest
    monkeypatch.setattr(X, "_digest", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "1")
    shutil.copytree(v1, tmp_path / "again")
    assert X.write_all(snap, tmp_path / "again", years=[year])
    assert calls == []
    # and they are the hashes content_hash gives each province's tables (what the manifests compare)
    with duckdb.connect(str(snap), read_only=True) as con:
        for e in X.write_all(snap, tmp_path / "fresh", years=[year])[:5]:
            assert e["content_hash"] == X.content_hash(X.extract_tables(con, e["province_code"], year))


def _value(rng: random.Random, kind: str):
    if kind == "float":
        return rng.choice([None, math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 1e300, 0.1 + 0.2, 123456789.123])
    if kind == "str":
        return rng.choice([None, "", "南京", 'a "quoted", comma', "=SUM(A1)", "tab\there", "trailing ", "line\nbreak"])
    if kind == "int":
        return rng.choice([None, 0, -1, 2**62])
    if kind == "bool":
        return rng.choice([None, True, False])
    return rng.choice([None, dt.date(2023, 1, 1), dt.date(1999, 12, 31)])


@pytest.mark.parametrize("seed", range(40))
def test_year_digests_equal_each_provinces_digest(seed):
    rng = random.Random(seed)
    codes = ["110000", "320000", "440000", "650000"]
    kinds = {"f": "float", "s": "str", "i": "int", "b": "bool", "d": "date"}
    tables, keys = {}, {}
    for name in ("scores", "indicators", "targets"):
        cols = rng.sample(list(kinds), rng.randint(1, 5))
        n = rng.randint(0, 12)
        newline = rng.random() < 0.3  # a value with a line break: that table falls back to per province
        rows = [
            {
                c: (
                    _value(rng, kinds[c]) if not (kinds[c] == "str" and not newline) else rng.choice(["x", None, "y,z"])
                )
                for c in cols
            }
            for _ in range(n)
        ]
        schema = {
            c: {"float": pl.Float64, "str": pl.String, "int": pl.Int64, "bool": pl.Boolean, "date": pl.Date}[kinds[c]]
            for c in cols
        }
        df = pl.DataFrame(rows, schema=schema, orient="row")
        tables[name] = X._hash_frame(df)
        # rows of other provinces (and none) besides the wanted ones, in any order
        keys[name] = pl.Series("province_code", [rng.choice([*codes, "710000", None]) for _ in range(n)], pl.String)
    got = X._year_digests(tables, keys, codes)
    for code in codes:
        parts = {name: X._by_province(df, keys[name], codes)[code] for name, df in tables.items()}
        assert got[code] == X._digest(parts), (seed, code)


def test_an_empty_tables_parquet_is_written_once_and_equals_a_fresh_write(moved, tmp_path, monkeypatch):
    snap, v1, year, n = moved
    if hasattr(X, "_empty_parquet_bytes"):  # (absent before the copy existed)
        X._empty_parquet_bytes.cache_clear()
    empty_writes = []
    real = pl.DataFrame.write_parquet

    def counting(self, file, *a, **k):
        if self.height == 0:
            empty_writes.append(str(file))
        return real(self, file, *a, **k)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", counting)
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "1")
    shutil.copytree(v1, tmp_path / "v2")
    entries = X.write_all(snap, tmp_path / "v2", years=[year])
    monkeypatch.undo()
    empty = [f for e in entries for f in e["files"] if f["format"] == "parquet" and f["rows"] == 0]
    assert len(empty) >= 2  # the sample's provinces without targets or acceptance rows
    assert len(empty_writes) < len(empty)  # each distinct set of columns written once
    with duckdb.connect(str(snap), read_only=True) as con:
        metadata = nature_of(con).parquet_metadata()
    for f in empty:
        path = tmp_path / "v2" / f["path"]
        df = pl.read_parquet(path)
        fresh = tmp_path / "fresh.parquet"
        df.write_parquet(fresh, metadata=metadata)
        assert path.read_bytes() == fresh.read_bytes(), f["path"]


class _Counting:
    """A DuckDB connection that counts the statements asking the catalog (information_schema)."""

    def __init__(self, con, asked: list):
        self._con, self._asked = con, asked

    def __getattr__(self, name):
        return getattr(self._con, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._con.__exit__(*exc)

    def _note(self, query):
        if "information_schema" in query:
            self._asked.append(query)

    def execute(self, query, *a, **k):
        self._note(query)
        return self._con.execute(query, *a, **k)

    def sql(self, query, *a, **k):
        self._note(query)
        return self._con.sql(query, *a, **k)


def test_the_catalog_is_read_once_per_run_and_answers_as_duckdb(sample_snapshot, tmp_path, monkeypatch):
    snap = sample_snapshot.snapshot
    asked: list[str] = []
    real = duckdb.connect
    monkeypatch.setattr(X.duckdb, "connect", lambda *a, **k: _Counting(real(*a, **k), asked))
    monkeypatch.setenv("IPCITY_EXTRACT_WORKERS", "1")
    entries = X.write_all(snap, tmp_path / "out")
    monkeypatch.undo()
    assert len({e["year"] for e in entries}) >= 2
    # the catalog once for the run (two statements) and data_nature's own question, not ~15 per year
    assert len(asked) <= 3, asked
    with duckdb.connect(str(snap), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        asked_plain = [(s, t, X._has(con, s, t), X._columns(con, s, t)) for s, t in [*tables, ("marts", "nope")]]
        token = X._CATALOG.set((con, X._read_catalog(con)))
        try:
            assert asked_plain == [(s, t, X._has(con, s, t), X._columns(con, s, t)) for s, t, _, _ in asked_plain]
        finally:
            X._CATALOG.reset(token)
