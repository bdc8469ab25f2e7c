"""Python steps between the indicator marts and the evaluation marts: rank uncertainty and coherence."""

import dagster as dg

from pipelines.assets.dbt import dbt_indicator_models
from pipelines.resources import Warehouse


class UncertaintyConfig(dg.Config):
    n_runs: int = 1000
    seed: int = 20160086
    weight_jitter: float = 0.25


@dg.asset(
    key=["marts", "fct_rank_uncertainty"],
    group_name="evaluation",
    deps=[dbt_indicator_models],
    description="Monte Carlo rank intervals (weights ±25 %, arithmetic vs geometric, with/without imputation); "
    "a flag is robust only when it holds in at least the rules' robust share of runs.",
    kinds={"duckdb", "numpy"},
)
def fct_rank_uncertainty(
    context: dg.AssetExecutionContext, warehouse: Warehouse, config: UncertaintyConfig
) -> dg.MaterializeResult:
    from pipelines.evaluation.uncertainty import run_uncertainty, write_rank_uncertainty

    with warehouse.get_connection() as con:
        df = run_uncertainty(con, n_runs=config.n_runs, seed=config.seed, weight_jitter=config.weight_jitter)
        n = write_rank_uncertainty(con, df)
    return dg.MaterializeResult(metadata={"rows": n, "runs": config.n_runs, "seed": config.seed})


@dg.asset(
    key=["marts", "fct_catalog_coherence"],
    group_name="evaluation",
    deps=[dbt_indicator_models],
    description="Within-pillar indicator correlations (collinear > 0.9, silent < 0.3) and Cronbach's alpha per pillar.",
    kinds={"duckdb"},
)
def fct_catalog_coherence(warehouse: Warehouse) -> dg.MaterializeResult:
    from pipelines.evaluation.coherence import run_coherence, write_catalog_coherence

    with warehouse.get_connection() as con:
        n = write_catalog_coherence(con, run_coherence(con))
    return dg.MaterializeResult(metadata={"rows": n})


EVALUATION_ASSETS = [fct_rank_uncertainty, fct_catalog_coherence]
