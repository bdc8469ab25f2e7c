"""Statistical coherence of the indicator catalog: do a pillar's indicators measure one thing, without
duplicating each other?

Per year and pillar (catalog version in force that year), over every scored city unit:
- Spearman rank correlation of each indicator pair. Spearman, not Pearson, because per-capita indicators are
  heavily skewed (a few big cities dominate Pearson) and normalised scores are monotone in the raw values,
  so ranks are what the composite effectively rewards. Pairs above 0.9 are flagged ``collinear`` (one of
  them double-counts), pairs below 0.3 ``silent`` (they share little with each other);
- Cronbach's alpha of the pillar's normalised scores (complete cases), flagged ``low_alpha`` below 0.7.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

COLLINEAR_ABOVE = 0.9
SILENT_BELOW = 0.3
ALPHA_BELOW = 0.7
MIN_UNITS = 8  # fewer paired observations than this give no statistic


def _spearman(a: np.ndarray, b: np.ndarray) -> tuple[float | None, int]:
    ok = ~np.isnan(a) & ~np.isnan(b)
    n = int(ok.sum())
    if n < MIN_UNITS:
        return None, n
    ra = pl.Series(a[ok]).rank("average").to_numpy()
    rb = pl.Series(b[ok]).rank("average").to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return None, n
    return float(np.corrcoef(ra, rb)[0, 1]), n


def cronbach_alpha(items: np.ndarray) -> tuple[float | None, int]:
    """items: [unit, indicator]; complete cases only."""
    x = items[~np.isnan(items).any(axis=1)]
    n, k = x.shape
    if k < 2 or n < MIN_UNITS:
        return None, n
    total_var = x.sum(axis=1).var(ddof=1)
    if total_var == 0:
        return None, n
    return float(k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var)), n


def run_coherence(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    data = con.sql(
        """
        select v.year, v.catalog_version, i.pillar_code, v.indicator_code, v.unit_code, v.normalised_score
        from marts.fct_city_indicator_year v
        join marts.dim_indicator i
          on i.catalog_version = v.catalog_version and i.indicator_code = v.indicator_code
        join marts.fct_city_score_year s
          on s.unit_code = v.unit_code and s.year = v.year and s.composite is not null
        """
    ).pl()
    rows: list[dict] = []
    for (year, version, pillar), part in sorted(
        data.group_by("year", "catalog_version", "pillar_code"), key=lambda g: g[0]
    ):
        wide = part.pivot(on="indicator_code", index="unit_code", values="normalised_score").sort("unit_code")
        codes = sorted(c for c in wide.columns if c != "unit_code")
        m = wide.select(codes).cast(pl.Float64).fill_null(np.nan).to_numpy()
        base = {"year": year, "catalog_version": version, "pillar_code": pillar}
        for a in range(len(codes)):
            for b in range(a + 1, len(codes)):
                rho, n = _spearman(m[:, a], m[:, b])
                flag = (
                    None
                    if rho is None
                    else ("collinear" if rho > COLLINEAR_ABOVE else "silent" if rho < SILENT_BELOW else "ok")
                )
                rows.append(
                    {
                        **base,
                        "row_type": "pair",
                        "indicator_a": codes[a],
                        "indicator_b": codes[b],
                        "n_units": n,
                        "spearman": rho,
                        "cronbach_alpha": None,
                        "flag": flag,
                    }
                )
        alpha, n = cronbach_alpha(m)
        rows.append(
            {
                **base,
                "row_type": "pillar",
                "indicator_a": None,
                "indicator_b": None,
                "n_units": n,
                "spearman": None,
                "cronbach_alpha": alpha,
                "flag": None if alpha is None else ("low_alpha" if alpha < ALPHA_BELOW else "ok"),
            }
        )
    schema = {
        "year": pl.Int32,
        "catalog_version": pl.String,
        "pillar_code": pl.String,
        "row_type": pl.String,
        "indicator_a": pl.String,
        "indicator_b": pl.String,
        "n_units": pl.Int32,
        "spearman": pl.Float64,
        "cronbach_alpha": pl.Float64,
        "flag": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort(
        "year", "pillar_code", "row_type", "indicator_a", "indicator_b", nulls_last=True
    )


def write_catalog_coherence(con: duckdb.DuckDBPyConnection, df: pl.DataFrame) -> int:
    con.execute("create schema if not exists marts")
    arrow = df.to_arrow()  # noqa: F841 - read by name below
    con.execute("create or replace table marts.fct_catalog_coherence as select * from arrow")
    return df.height
