"""Validate a dataframe against a suite with Great Expectations and hand back plain, JSON-ready results.

Dataframes go through GX's pandas data source. On DuckDB we never use GX's SQL path: it fails every
expectation there without saying why; reading the table into polars and validating the pandas copy is
exact and fast enough (see bench/). GX takes seconds to import, so it is imported on first use only, and
one ephemeral context (with its data source and batch definition) serves the whole process.

Typical use (from a Dagster asset check):

    result = validate("raw.patent_grants", df, partition="2020",
                      context={"valid_region_codes": codes, "previous_row_count": 41_000})
    record_results(con, run_id, result.asset, result)
    passed = result.passed_blocking       # only severity "error" blocks
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from pipelines.china_time import utc_now
from pipelines.quality.suites import (
    MissingParameter,
    SuiteDefinition,
    add_derived,
    available_inputs,
    build_parameters,
    load_config,
    load_suite,
    needed_parameters,
    resolve,
    suite_sample_columns,
)

_LOCK = threading.Lock()

_GX_SEVERITY = {"error": "critical", "warn": "warning"}


@dataclass
class ExpectationResult:
    check_name: str
    expectation_type: str
    column: str | None
    severity: str  # "error" blocks, "warn" is recorded and shown
    passed: bool
    observed_value: Any  # JSON-ready
    failing_sample: list | dict | None  # up to config samples.max_failing_rows rows/values, JSON-ready
    unexpected_count: int | None = None
    element_count: int | None = None
    exception: str | None = None
    expectation: dict = field(default_factory=dict)  # the definition as written in the suite file

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SuiteResult:
    suite_name: str
    asset: str
    partition: str | None
    results: list[ExpectationResult]
    skipped: list[str]  # checks not run because their input (partition, previous_row_count...) was not given
    row_count: int
    checked_at: datetime
    seconds: float

    @property
    def passed_blocking(self) -> bool:
        return all(r.passed for r in self.results if r.severity == "error")

    @property
    def passed_all(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def success(self) -> bool:
        return self.passed_all

    def failures(self, severity: str | None = None) -> list[ExpectationResult]:
        return [r for r in self.results if not r.passed and (severity is None or r.severity == severity)]

    def by_check(self) -> dict[str, ExpectationResult]:
        return {r.check_name: r for r in self.results}

    def to_dict(self) -> dict:
        return {
            "suite_name": self.suite_name,
            "asset": self.asset,
            "partition": self.partition,
            "row_count": self.row_count,
            "checked_at": self.checked_at.isoformat(),
            "seconds": self.seconds,
            "passed_blocking": self.passed_blocking,
            "passed_all": self.passed_all,
            "skipped": list(self.skipped),
            "results": [r.to_dict() for r in self.results],
        }


@contextlib.contextmanager
def _pyspark_connect_probe_raises():
    """GX probes pyspark's optional Spark Connect support on import. pyspark (installed for the Spark engine)
    checks that support's dependencies and, when the main module looks uninitialised (`python -c`, the
    execnet workers of pytest-xdist, some process pools) and grpc is absent, calls sys.exit(0) to skip its
    own doctests: the whole process ends silently inside `import great_expectations`. While GX is imported,
    the check is made to take its normal path, which raises an ImportError GX already handles."""
    if not _probe_needs_ps1() or hasattr(sys, "ps1"):
        yield
        return
    sys.ps1 = ""  # what pyspark reads as "interactive, not a doctest run"
    try:
        yield
    finally:
        del sys.ps1


def _probe_needs_ps1() -> bool:
    """Whether importing GX here takes `_pyspark_connect_probe_raises`' detour through sys.ps1 (a process whose
    main module looks uninitialised)."""
    main = sys.modules.get("__main__")
    return main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__")


@contextlib.contextmanager
def _pyspark_left_out():
    """While GX is imported for a DuckDB run, pyspark (and py4j) count as not installed.

    GX's compatibility modules import pyspark whenever it is installed (it is, for `ipcity run --engine spark`):
    ≈ 0.4 s of CPU on the run's start-up, beside the planning it shares the interpreter with, and pyspark's
    FutureWarning about pandas 3 on every run's stderr. The checks give GX pandas frames only, never Spark ones,
    so GX's own fallback for a missing pyspark (its NotImported placeholders) is all they need. A process that
    has imported pyspark already, or runs the Spark engine, imports GX as before. Only the import itself is
    affected: pyspark can be imported normally afterwards."""
    from pipelines import settings

    try:
        duckdb_run = settings.engine() == "duckdb"
    except ValueError:  # an unknown engine is refused by the run with its own message, not here
        duckdb_run = False
    left_out = [name for name in _SPARK_PACKAGES if name not in sys.modules] if duckdb_run else []
    if len(left_out) < len(_SPARK_PACKAGES):  # not a DuckDB run, or Spark's packages are loaded already
        yield
        return
    for name in left_out:
        sys.modules[name] = None  # the import system's own "not importable" mark: `import pyspark` raises
    try:
        yield
    finally:
        for name in left_out:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


# what GX's compatibility modules import for Spark when installed (pyspark, and py4j, pyspark's bridge to the JVM)
_SPARK_PACKAGES = ("pyspark", "py4j")


_GX_INIT = threading.Lock()


@contextlib.contextmanager
def _expectation_configurations_kept():
    """While a suite is validated, each expectation's ``configuration`` is built once instead of on every read.

    GX 1.x rebuilds `Expectation.configuration` (a pydantic ``dict()`` of every field, then a new
    ExpectationConfiguration) each time it is read, and its validator reads it about 90 times per expectation
    while it plans the metrics: about half of a small suite's validation in a profile (bench/RESULTS.md, "GX
    rebuilds each expectation's configuration"). Nothing changes an expectation while it is validated (GX
    builds its own objects from the suite's configurations first), so the first answer is the answer. The
    cache lives for one validation and holds each expectation it answers for (so no id is reused meanwhile);
    GX's property is put back afterwards, also when the validation raises. Callers hold `_LOCK`: one
    validation at a time.
    """
    from great_expectations.expectations.expectation import Expectation

    original = Expectation.__dict__["configuration"]
    kept: dict[int, tuple[Any, Any]] = {}

    def configuration(self):
        hit = kept.get(id(self))
        if hit is None:
            hit = kept[id(self)] = (self, original.fget(self))
        return hit[1]

    Expectation.configuration = property(configuration, doc=original.__doc__)
    try:
        yield
    finally:
        Expectation.configuration = original


def _gx() -> dict[str, Any]:
    """The process-wide GX objects, created once (by the first caller; a second waits for it)."""
    with _GX_INIT:
        return _gx_objects()


def import_in_background() -> threading.Thread | None:
    """Import GX and build its context in a thread, once per process, and return at once.

    Importing GX costs ≈ 4 s of Python that the first check step used to wait for. `ipcity run` calls this
    when it finds files to load, before it plans (pipelines/launcher.py): planning waits on file reads and
    Polars, which release the GIL, and the dbt parse of a fresh checkout runs in a second process meanwhile.
    (The first check comes early: the cities check blocks every other ingest step.) A failure here is left
    for the first check to raise, with its message.
    Not in a process whose main module looks uninitialised (pytest-xdist workers): the import's sys.ps1
    detour would then be visible to every thread."""
    global _BACKGROUND
    with _BACKGROUND_LOCK:
        if _BACKGROUND is not None or _gx_objects.cache_info().currsize or _probe_needs_ps1():
            return None

        def run() -> None:
            with contextlib.suppress(Exception):
                _gx()

        # not a daemon: a process that ends meanwhile (planning failed) waits for the import rather than
        # tearing it down halfway, while it may still write a warning to stderr
        _BACKGROUND = threading.Thread(target=run, name="gx-import")
        _BACKGROUND.start()
        return _BACKGROUND


_BACKGROUND: threading.Thread | None = None
_BACKGROUND_LOCK = threading.Lock()


@functools.cache
def _gx_objects() -> dict[str, Any]:
    """The process-wide GX objects, created on first use (analytics off before the import)."""
    os.environ["GX_ANALYTICS_ENABLED"] = "False"  # no usage events from officials' machines
    with _pyspark_connect_probe_raises(), _pyspark_left_out():
        import great_expectations as gx
        import great_expectations.expectations as gxe
        from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.enable_analytics(False)
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = ctx.data_sources.add_pandas("ipcity_quality")
    asset = source.add_dataframe_asset("frame")
    return {
        "gx": gx,
        "gxe": gxe,
        "context": ctx,
        "batch_definition": asset.add_batch_definition_whole_dataframe("whole_frame"),
    }


def _expectation_class(gxe, type_name: str):
    camel = "".join(part.capitalize() for part in type_name.split("_"))
    try:
        return getattr(gxe, camel)
    except AttributeError:
        raise ValueError(f"unknown expectation type {type_name!r}") from None


def _to_polars(df) -> pl.DataFrame:
    if isinstance(df, pl.DataFrame):
        return df
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    return pl.from_pandas(df)


# The dates a datetime64[ns] holds (pandas.Timestamp.min/max, whole days inside them).
_NS_FIRST_DAY, _NS_LAST_DAY = date(1677, 9, 22), date(2262, 4, 11)


def _fits_nanoseconds(df: pl.DataFrame, name: str, dtype) -> bool:
    """Whether a naive date or datetime column not already in nanoseconds holds only dates that nanoseconds
    can (a cast outside that range would wrap around silently)."""
    if not (
        dtype == pl.Date or (isinstance(dtype, pl.Datetime) and dtype.time_zone is None and dtype.time_unit != "ns")
    ):
        return False
    low, high = df.select(pl.col(name).min().alias("low"), pl.col(name).max().alias("high")).row(0)
    if low is None:
        return True
    low, high = (v.date() if isinstance(v, datetime) else v for v in (low, high))
    return _NS_FIRST_DAY < low and high < _NS_LAST_DAY


def _to_pandas(df: pl.DataFrame):
    """A pandas copy whose dtypes GX judges correctly.

    Integers with nulls must not turn into float64 (types would pass as float), pandas 3's "str" dtype is
    not recognised by GX's type check (strings go in as object), and DECIMAL or HUGEINT results of SQL
    aggregates are validated as the floats and 64-bit integers they stand for.
    """
    import pandas as pd
    import pyarrow as pa

    casts = []
    for name, dtype in df.schema.items():
        if _fits_nanoseconds(df, name, dtype):
            # GX compares a datetime64[ns] column with its bounds in one vectorised step, but any other unit
            # (Polars dates arrive as datetime64[ms]) through a Python call per cell: 0.25 s per date check on
            # 50k rows. Values outside nanoseconds' range (1678–2261) keep their unit and the per-cell way.
            casts.append(pl.col(name).cast(pl.Datetime("ns")))
        elif isinstance(dtype, pl.Decimal):
            casts.append(pl.col(name).cast(pl.Float64))
        elif dtype.is_integer() and dtype not in (pl.Int64, pl.Int32):
            casts.append(pl.col(name).cast(pl.Int64))
        elif dtype == pl.Null:
            casts.append(pl.col(name).cast(pl.String))  # an all-null column: still a column of nothing
    if casts:
        df = df.with_columns(casts)

    def mapper(t):
        if pa.types.is_int64(t):
            return pd.Int64Dtype()
        if pa.types.is_int32(t):
            return pd.Int32Dtype()
        if pa.types.is_boolean(t):
            return pd.BooleanDtype()
        return None

    out = df.to_pandas(types_mapper=mapper)
    for name, dtype in df.schema.items():
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def jsonable(value: Any) -> Any:
    """Turn numpy/pandas scalars, timestamps, NaN and sets into plain JSON values."""
    import numpy as np
    import pandas as pd

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    return str(value)


def _column_of(kwargs: dict) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    if "column_A" in kwargs:
        return f"{kwargs['column_A']},{kwargs['column_B']}"
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    return None


def _translate(defn: dict, vr, max_rows: int) -> ExpectationResult:
    res = dict(vr.result or {})
    exc = vr.exception_info or {}
    exception = exc.get("exception_message") if exc.get("raised_exception") else None
    sample: list | dict | None = None
    unexpected = res.get("unexpected_count")
    if "observed_value" in res:
        observed = jsonable(res["observed_value"])
        details = res.get("details") or {}
        mismatched = details.get("mismatched") or {}
        if not vr.success and mismatched.get("missing"):
            # extra columns are allowed (lineage, derived); the missing ones are the finding
            sample = {"missing": jsonable(mismatched["missing"])}
    elif unexpected is not None:
        observed = {
            "unexpected_count": int(unexpected),
            "element_count": int(res.get("element_count") or 0),
            "unexpected_percent": jsonable(res.get("unexpected_percent")),
        }
    else:
        observed = None
    if exception:
        observed = {"exception": exception}
    if not vr.success and sample is None:
        rows = res.get("partial_unexpected_index_list")
        values = res.get("partial_unexpected_list")
        if rows:
            sample = jsonable(rows[:max_rows])
        elif values:
            sample = jsonable(values[:max_rows])
    return ExpectationResult(
        check_name=defn["check"],
        expectation_type=defn["type"],
        column=_column_of(defn.get("kwargs", {})),
        severity=defn["severity"],
        passed=bool(vr.success),
        observed_value=observed,
        failing_sample=sample,
        unexpected_count=None if unexpected is None else int(unexpected),
        element_count=None if res.get("element_count") is None else int(res["element_count"]),
        exception=exception,
        expectation={k: defn[k] for k in ("type", "kwargs", "severity") if k in defn},
    )


def build_suite(suite: SuiteDefinition, params: dict, inputs: set[str], config: dict):
    """(GX ExpectationSuite, definitions run in order, checks skipped) for one validation."""
    expectations, run, skipped = build_expectations(suite, params, inputs, config)
    # Given to the constructor, not added one by one: `add_expectation` compares each new expectation with every
    # one before it (pydantic dicts, a set-like suite: O(n²) per suite, bench/bench_gx_suite_build.py), and it
    # would silently drop a check whose type and arguments repeat another's under a different name.
    return _gx()["gx"].ExpectationSuite(name=suite.name, expectations=expectations), run, skipped


def build_expectations(suite: SuiteDefinition, params: dict, inputs: set[str], config: dict):
    """(GX expectations, definitions run in order, checks skipped) for one validation."""
    g = _gx()
    run, skipped, expectations = [], [], []
    for defn in suite.expectations:
        if not needed_parameters(defn) <= inputs:
            skipped.append(defn["check"])
            continue
        try:
            kwargs = resolve(defn.get("kwargs", {}), params, config)
        except MissingParameter as exc:
            raise MissingParameter(
                f"suite {suite.name}: check {defn['check']} needs parameter {exc.args[0]!r} (pass it in context=...)"
            ) from None
        cls = _expectation_class(g["gxe"], defn["type"])
        expectations.append(cls(**kwargs, severity=_GX_SEVERITY[defn["severity"]], meta={"check": defn["check"]}))
        run.append(defn)
    return expectations, run, skipped


def validate(suite_name: str, df, *, partition: str | int | None = None, context: dict | None = None) -> SuiteResult:
    """Validate a polars or pandas dataframe against the suite ``expectations/<suite_name>.json``.

    ``partition``: the partition year ("2020") for yearly sources and year-keyed marts; enables the
    partition-window checks. ``context``: ``valid_region_codes`` (required by suites with region checks),
    ``today``, ``evaluation_year``, ``previous_row_count`` — see `suites.build_parameters`.
    Raises `MissingParameter` when a check that must run lacks its parameter.
    """
    started = time.perf_counter()
    checked_at = utc_now()
    suite = load_suite(suite_name)
    config = load_config()
    max_rows = int((config.get("samples") or {}).get("max_failing_rows", 10))
    params = build_parameters(suite, partition, context, config)
    frame = add_derived(_to_polars(df), suite, params)
    pdf = _to_pandas(frame)
    inputs = available_inputs(partition, params)
    with _LOCK:
        gx_suite, run, skipped = build_suite(suite, params, inputs, config)
        batch = _gx()["batch_definition"].get_batch(batch_parameters={"dataframe": pdf})
        # Counts and observed values for every expectation, then the failing rows named by their key columns
        # for the failed ones only: the rows' index lists are the costliest metrics GX computes (about a third
        # of a validation), and a run almost always passes. The results are those of one SUMMARY validation.
        with _expectation_configurations_kept():
            validation = batch.validate(
                gx_suite, result_format={"result_format": "BASIC", "partial_unexpected_count": 0}
            )
        by_check = {vr.expectation_config.meta.get("check"): vr for vr in validation.results}
        failed = [defn for defn in run if not by_check[defn["check"]].success]
        if failed:
            failed_suite, _, _ = build_suite(
                dataclasses.replace(suite, expectations=tuple(failed)), params, inputs, config
            )
            result_format = {
                "result_format": "SUMMARY",
                "partial_unexpected_count": max_rows,
                "unexpected_index_column_names": suite_sample_columns(suite, pdf.columns),
            }
            with _expectation_configurations_kept():
                for vr in batch.validate(failed_suite, result_format=result_format).results:
                    by_check[vr.expectation_config.meta.get("check")] = vr
    results = [_translate(defn, by_check[defn["check"]], max_rows) for defn in run]
    return SuiteResult(
        suite_name=suite.name,
        asset=suite.asset,
        partition=None if partition is None else str(partition),
        results=results,
        skipped=skipped,
        row_count=frame.height,
        checked_at=checked_at,
        seconds=round(time.perf_counter() - started, 3),
    )
