"""Python steps between the indicator marts and the evaluation marts: rank uncertainty and coherence."""

import dagster as dg

from pipelines.assets.dbt import dbt_evaluation_models, dbt_indicator_models
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


class ReleaseConfig(dg.Config):
    # False: release only in runs of the annual evaluation schedule (tag ipcity/trigger=annual)
    force: bool = False


@dg.asset(
    key=["releases", "releases"],
    group_name="evaluation",
    deps=[dbt_evaluation_models],
    description="The annual evaluation released as an immutable record (release id, data/catalog/rules/code "
    "versions, MC seed, window): only in runs of the annual schedule (or with force); a re-release with the same "
    "figures is a no-op, changed figures are a restatement with a per-city diff.",
    kinds={"duckdb"},
)
def evaluation_release(
    context: dg.AssetExecutionContext, warehouse: Warehouse, config: ReleaseConfig
) -> dg.MaterializeResult:
    from pipelines.evaluation.releases import release

    tags = context.run.tags if context.run else {}
    if tags.get("ipcity/trigger") != "annual" and not config.force:
        return dg.MaterializeResult(metadata={"released": False, "why": "not the annual evaluation run"})
    partition = tags.get("dagster/partition")
    result = release(warehouse.file, int(partition) if partition else None)
    return dg.MaterializeResult(
        metadata={
            "released": result.created,
            "release_id": result.release_id,
            "evaluation_year": result.evaluation_year,
            "supersedes": result.supersedes_release_id or "",
            "changed_units": ", ".join(result.changed_units),
        }
    )


EVALUATION_ASSETS = [fct_rank_uncertainty, fct_catalog_coherence, evaluation_release]
