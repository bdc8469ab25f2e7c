"""Suite definitions: loading `expectations/*.json`, resolving their parameters, adding derived columns.

A suite file is a thin, reviewable wrapper around Great Expectations' own expectation names and kwargs:

    {"suite": "raw.patent_grants", "asset": "raw.patent_grants", "source": "patent_grants",
     "sample_columns": [...],            # columns shown with every failing row, when present
     "derived": [{"name": "region_code__unit", "fn": "region_unit", "column": "region_code"}, ...],
     "expectations": [{"check": "...", "type": "expect_...", "severity": "error"|"warn",
                       "needs": ["partition"], "kwargs": {...}}]}

Values that differ per run are references resolved here, so the files hold no dates or code lists:
``{"$param": name}`` (see `build_parameters`), ``{"$config": "a.b"}`` (expectations/config.yml) and
``{"$types": "int"}`` (the pandas dtypes a contract type may arrive as). An expectation whose ``needs`` are
not given for this run is skipped and listed as such; any other missing parameter is an error, because a
blocking check that silently did not run is worse than a failed run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from pipelines.settings import EXPECTATIONS_DIR

SEVERITIES = ("error", "warn")

# How each contract type (pipelines/sources.py) may look once a polars frame is handed to pandas by
# `runner._to_pandas`: integers become nullable Int64, booleans nullable boolean, strings object.
TYPE_LISTS: dict[str, list[str]] = {
    "str": ["str"],
    "int": ["int64", "int32", "Int64Dtype", "Int32Dtype"],
    "float": ["float64", "float32", "Float64Dtype"],
    "date": ["datetime64[s]", "datetime64[ms]", "datetime64[us]", "datetime64[ns]"],
    "bool": ["bool", "BooleanDtype"],
}


class MissingParameter(ValueError):
    pass


@dataclass(frozen=True)
class SuiteDefinition:
    name: str
    asset: str
    source: str | None
    description: str
    sample_columns: tuple[str, ...]
    derived: tuple[dict, ...]
    expectations: tuple[dict, ...]
    path: Path


def suites_dir() -> Path:
    return EXPECTATIONS_DIR


@cache
def load_config(directory: str | None = None) -> dict:
    path = Path(directory or suites_dir()) / "config.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def row_sample() -> tuple[int, int]:
    """(max_rows, seed) of the row suite's repeatable sample: expectations/config.yml `row_sample`, the one place
    its size is set (the run's checks and the benches read it here)."""
    cfg = load_config()["row_sample"]
    return int(cfg["max_rows"]), int(cfg["seed"])


def suite_names(directory: Path | None = None) -> list[str]:
    d = Path(directory or suites_dir())
    return sorted(p.name[: -len(".json")] for p in d.glob("*.json"))


@cache
def _load(path: str) -> SuiteDefinition:
    p = Path(path)
    raw = json.loads(p.read_text(encoding="utf-8"))
    checks = [e["check"] for e in raw["expectations"]]
    dupes = {c for c in checks if checks.count(c) > 1}
    if dupes:
        raise ValueError(f"{p.name}: duplicate check names {sorted(dupes)}")
    for e in raw["expectations"]:
        if e.get("severity") not in SEVERITIES:
            raise ValueError(f"{p.name}: {e['check']} has severity {e.get('severity')!r}, expected one of {SEVERITIES}")
    return SuiteDefinition(
        name=raw["suite"],
        asset=raw["asset"],
        source=raw.get("source"),
        description=raw.get("description", ""),
        sample_columns=tuple(raw.get("sample_columns", ())),
        derived=tuple(raw.get("derived", ())),
        expectations=tuple(raw["expectations"]),
        path=p,
    )


def load_suite(name: str, directory: Path | None = None) -> SuiteDefinition:
    path = Path(directory or suites_dir()) / f"{name}.json"
    if not path.exists():
        raise KeyError(f"no suite {name!r} in {path.parent} (have: {', '.join(suite_names(path.parent))})")
    return _load(str(path))


def _year_of(partition: str | int) -> int:
    text = str(partition).strip()
    if len(text) < 4 or not text[:4].isdigit():
        raise ValueError(f"partition {partition!r} does not start with a year")
    return int(text[:4])


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def build_parameters(suite: SuiteDefinition, partition: str | int | None, context: dict | None, config: dict) -> dict:
    """Every ``$param`` a suite may use, from the partition, the caller's context and the config.

    context keys: ``valid_region_codes`` (iterable of 6-digit codes: raw.cities codes and province codes),
    ``today`` (date; default today), ``evaluation_year`` (int; ignored when a partition is given: the
    partition year is used),
    ``previous_row_count`` (rows of the previous year's partition).
    """
    import pandas as pd  # GX compares datetime64 columns with Timestamps, not dates or strings

    context = dict(context or {})
    params: dict[str, Any] = {"today": pd.Timestamp(_as_date(context.get("today") or date.today()))}
    if partition is not None:
        year = _year_of(partition)
        params.update(
            partition_year=year,
            partition_start=pd.Timestamp(year, 1, 1),
            partition_end=pd.Timestamp(year, 12, 31),
        )
    if context.get("valid_region_codes") is not None:
        params["valid_region_codes"] = sorted({str(c) for c in context["valid_region_codes"]})
    # A yearly partition is judged against its own year (is it complete?); the evaluation year applies to
    # whole, unpartitioned sources (is the latest year there yet?).
    evaluation_year = params.get("partition_year") or context.get("evaluation_year")
    fresh = (config.get("freshness") or {}).get(suite.source or "", {})
    if evaluation_year is not None:
        params["evaluation_year"] = int(evaluation_year)
        if "max_lag_days" in fresh:
            end = date(int(evaluation_year), 12, 31)
            params["freshness_min_date"] = pd.Timestamp(end - timedelta(days=int(fresh["max_lag_days"])))
        if "max_lag_years" in fresh:
            params["freshness_min_year"] = int(evaluation_year) - int(fresh["max_lag_years"])
    prev = context.get("previous_row_count")
    if prev:  # none or zero rows last year: nothing to compare against
        factor = float(config["row_count"]["max_change_factor"])
        params["previous_row_count"] = int(prev)
        params["previous_row_count_min"] = int(math.floor(int(prev) / factor))
        params["previous_row_count_max"] = int(math.ceil(int(prev) * factor))
    return params


def _config_value(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"expectations/config.yml has no {dotted!r}")
        node = node[part]
    return node


def resolve(value: Any, params: dict, config: dict) -> Any:
    """Replace ``$param``/``$config``/``$types`` references inside a kwargs structure."""
    if isinstance(value, dict):
        if set(value) == {"$param"}:
            name = value["$param"]
            if name not in params:
                raise MissingParameter(name)
            return params[name]
        if set(value) == {"$config"}:
            return _config_value(config, value["$config"])
        if set(value) == {"$types"}:
            return list(TYPE_LISTS[value["$types"]])
        if set(value) == {"$plausibility"}:
            # "rule_id.low|high" from dbt_project/seeds/ingest_plausibility.csv, the thresholds the loader uses
            from pipelines.sources import plausibility_thresholds

            rule, bound = value["$plausibility"].rsplit(".", 1)
            return plausibility_thresholds()[rule][0 if bound == "low" else 1]
        return {k: resolve(v, params, config) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, params, config) for v in value]
    return value


def needed_parameters(expectation: dict) -> set[str]:
    """The run inputs (``needs``) an expectation depends on; without them it is skipped, not failed."""
    return set(expectation.get("needs", ()))


def available_inputs(partition: str | int | None, params: dict) -> set[str]:
    have = set()
    if partition is not None:
        have.add("partition")
    if "evaluation_year" in params:
        have.add("evaluation_year")
    if "previous_row_count" in params:
        have.add("previous_row_count")
    return have


# --- derived columns: facts GX cannot compute itself, computed in polars before validation -----------------


def _region_unit(df: pl.DataFrame, spec: dict, params: dict) -> pl.Expr:
    # The contract: a code is valid when it is a known unit or its prefecture (code[:4] || '00') is.
    # The derived value is the unit a code resolves to, so GX's in-set test implements exactly that rule.
    if "valid_region_codes" not in params:
        raise MissingParameter("valid_region_codes")
    codes = params["valid_region_codes"]
    col = pl.col(spec["column"]).cast(pl.String)
    return pl.when(col.is_in(codes)).then(col).otherwise(col.str.slice(0, 4) + "00")


def _year_of_col(df: pl.DataFrame, spec: dict, params: dict) -> pl.Expr:
    return pl.col(spec["column"]).dt.year().cast(pl.Int64)


def _sum_of(df: pl.DataFrame, spec: dict, params: dict) -> pl.Expr:
    return pl.sum_horizontal([pl.col(c) for c in spec["columns"]], ignore_nulls=False)


def _pair(df: pl.DataFrame, spec: dict, params: dict) -> pl.Expr:
    # GX's own pair-in-set expectation walks the frame row by row (26 s for 100k rows); "a/b" in a set is
    # the same rule, vectorised. Null when either side is missing: not-null checks report those.
    return pl.concat_str([pl.col(c).cast(pl.String) for c in spec["columns"]], separator="/")


def _ratio(df: pl.DataFrame, spec: dict, params: dict) -> pl.Expr:
    # numerator / denominator for a plausibility rule; null where the denominator is not positive or the
    # numerator is zero (the loader's rule judges the same rows)
    num, den = (pl.col(c).cast(pl.Float64) for c in spec["columns"])
    return pl.when((den > 0) & (num > 0)).then(num / den)


DERIVED = {"region_unit": _region_unit, "year_of": _year_of_col, "sum_of": _sum_of, "pair": _pair, "ratio": _ratio}


def add_derived(df: pl.DataFrame, suite: SuiteDefinition, params: dict) -> pl.DataFrame:
    exprs = []
    for spec in suite.derived:
        inputs = [spec["column"]] if "column" in spec else list(spec["columns"])
        if any(c not in df.columns for c in inputs):
            continue  # the presence check reports the missing column; a derived one would only add noise
        exprs.append(DERIVED[spec["fn"]](df, spec, params).alias(spec["name"]))
    return df.with_columns(exprs) if exprs else df


def suite_sample_columns(suite: SuiteDefinition, columns: Iterable[str]) -> list[str]:
    cols = set(columns)
    return [c for c in suite.sample_columns if c in cols]
