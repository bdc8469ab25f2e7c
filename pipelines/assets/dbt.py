"""dbt models as Dagster assets; dbt tests become asset checks.

The evaluation models read the Monte Carlo rank intervals that a Python asset writes between the two dbt
steps, so the project is split into two @dbt_assets by path.
"""

import contextlib
import functools
import importlib.metadata
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from packaging.version import Version  # dagster-dbt's own version type (its dependency)

from pipelines import dbt_manifest, incremental, settings
from pipelines.dbt_manifest import dbt_environment
from pipelines.resources import Warehouse
from pipelines.supervised import supervisor_environment

DBT_PROJECT = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)
EVALUATION_PATH = " ".join(settings.DBT_EVALUATION_SELECTORS)


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than its sources (fresh clone, edits), in
    the environment the pipeline's dbt steps give dbt (`dbt_manifest.parse_environment`). `ipcity run` has
    usually parsed it already, beside its planning (`dbt_manifest.start_parse`)."""
    manifest = DBT_PROJECT.manifest_path
    if dbt_manifest.is_stale():
        from dbt.cli.main import dbtRunner

        # the step's environment for this parse only (patch.dict restores os.environ as it was afterwards)
        with mock.patch.dict(os.environ, dbt_manifest.parse_environment()):
            res = dbtRunner().invoke(dbt_manifest.parse_args())
        if not res.success:
            raise RuntimeError(f"dbt parse failed: {res.exception}")
    return manifest


def _shared_target() -> Path:
    """The project's target folder: where dagster-dbt puts each step's folder and seeds it from
    (dagster_dbt.core.dbt_cli_invocation)."""
    target = Path(os.getenv("DBT_TARGET_PATH", "target"))
    return target if target.is_absolute() else DBT_PROJECT.project_dir / target


def keep_partial_parse(step_target: Path) -> None:
    """Hand this step's parse state to the next dbt step. dagster-dbt gives every step its own target folder and
    seeds it with the project's `target/partial_parse.msgpack`; dbt discards that state when the profile's
    environment differs (the warehouse path and memory settings of this run, not those of the import-time
    parse) and parses the whole project again (~8 s). Copying the state the step just wrote back makes the next
    step of the run (and the next run with the same settings) parse only what changed. Written to a temporary
    name and renamed, so a concurrent run never reads half a file; a stale or foreign state only costs a full
    parse, which dbt decides itself."""
    produced = Path(step_target) / "partial_parse.msgpack"
    if not produced.is_file():
        return
    shared = _shared_target() / "partial_parse.msgpack"
    tmp = shared.with_name(f".{shared.name}.{os.getpid()}.tmp")
    try:
        shared.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, tmp)
        os.replace(tmp, shared)
    except OSError:  # a read-only checkout: the next step parses in full, as before
        tmp.unlink(missing_ok=True)


def prune_step_folders(
    target: Path, op_name: str, *, keep: int, min_age_s: float, now: float | None = None
) -> list[Path]:
    """Remove the older step folders dagster-dbt left for ``op_name`` under ``target`` (named
    ``<op>-<run id[:7]>-<7 chars>``): all but the ``keep`` newest, and only those older than ``min_age_s``.
    Without this every run added ≈ 16 MB per dbt step to the checkout, for as long as the pipeline ran."""
    import re
    import time

    pattern = re.compile(rf"{re.escape(op_name)}-[0-9a-f]{{7}}-[0-9a-f-]{{7}}")
    folders = []
    for p in target.iterdir() if target.is_dir() else []:
        if p.is_dir() and pattern.fullmatch(p.name):
            try:
                folders.append((p.stat().st_mtime, p))
            except OSError:
                continue
    folders.sort(reverse=True)
    cutoff = (now if now is not None else time.time()) - min_age_s
    removed = []
    for mtime, p in folders[keep:]:
        if mtime < cutoff:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


class IpcityTranslator(DagsterDbtTranslator):
    """Sources map onto the raw assets (raw/<table>); models are keyed <schema>/<name>."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props["source_name"] == "raw":
                return dg.AssetKey(["raw", dbt_resource_props["name"]])
            # Tables written by Python assets between the dbt steps are keyed like models: <schema>/<table>.
            return dg.AssetKey(
                [dbt_resource_props.get("schema") or dbt_resource_props["source_name"], dbt_resource_props["name"]]
            )
        schema = dbt_resource_props.get("schema") or "marts"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "catalog"
        return dbt_resource_props.get("schema") or "marts"


TRANSLATOR = IpcityTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _builds_incremental_models(context: dg.AssetExecutionContext) -> bool:
    """Whether this step builds every model that is incremental by year (a step of a partial selection does
    not, and then records nothing: the next plan still sees the changes since the last complete build)."""
    selected = {key.path[-1] for key in context.selected_asset_keys}
    return set(incremental.INCREMENTAL_MODELS) <= selected


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    # dbt runs as a subprocess and finds the warehouse through the one environment variable.
    # ... and its memory limit and spill folder (profiles.yml `config_options`; a share of RAM, settings.py)
    env = dbt_environment(warehouse.file)
    Path(env["IPCITY_DBT_TEMP_DIR"]).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    # dbt (the launchers SUPERVISED_DBT, spark_engine.LAUNCHER) dies with this process: a `kill -9` of the run
    # left dbt building and writing the warehouse after the run was marked dead, racing the next run.
    os.environ.update(supervisor_environment())
    engine = settings.engine()
    # The models incremental by year rebuild only the partition years that changed since the last successful
    # build, or everything when anything else changed (pipelines/incremental.py). The connection is closed
    # before dbt opens the warehouse.
    tracked = _builds_incremental_models(context)
    plan = None
    os.environ.pop(incremental.REBUILD_YEARS_ENV, None)  # a step without a plan rebuilds every year
    if tracked:
        with warehouse.get_connection(step="dbt") as con:
            plan = incremental.plan_build(con, engine)
        context.log.info(f"dbt build plan: {plan.describe()}")
        os.environ.update(plan.dbt_env())
    args = ["build", *(plan.dbt_args() if plan else [])]
    passed_step = None
    try:
        if engine == "spark":  # `ipcity run --engine spark` (pipelines/spark_engine.py)
            from pipelines.spark_engine import build_on_spark

            yield from build_on_spark(context, dbt, warehouse, extra_args=args[1:])
        else:
            invocation = dbt.cli([*args, *settings.DBT_PRODUCTION_EXCLUDE], context=context)
            found: dict[str, list[dict]] = {}
            try:
                yield from with_failing_rules_named(invocation.stream(), invocation, warehouse, context.log, found)
            except Exception:  # dbt failed (not an interrupted run: that must not wait for dbt to exit)
                # a failed step's tests go to the quality store too, beside GX's (what failed, where, how many rows)
                record_test_results(invocation, warehouse, context.run.run_id, context.log, found)
                raise
            finally:
                keep_partial_parse(invocation.target_path)
            passed_step = invocation
    finally:
        prune_step_folders(
            _shared_target(),
            context.op_execution_context.op.name,
            keep=settings.DBT_STEP_FOLDERS_KEPT,
            min_age_s=settings.DBT_STEP_FOLDER_MIN_AGE_S,
        )
    # Reached only when dbt succeeded (a failed invocation raises): the step's test results, and the fingerprints
    # it read become the record, through one connection (opening the warehouse is most of what recording costs).
    if plan is not None or passed_step is not None:
        with warehouse.get_connection(step="dbt") as con:
            if passed_step is not None:
                record_test_results(passed_step, warehouse, context.run.run_id, context.log, con=con)
            if plan is not None:
                incremental.record_build(con, engine, plan, context.run.run_id)


# The merged column tests (dbt_project/tests/generic/column_rules.sql): one dbt node per model and severity judges
# the model's not_null / accepted_values / in_range / expression rules; its rows name each failing column and rule.
COLUMN_RULES_PREFIX = "column_rules_"


def failing_rules(con, compiled_sql: str) -> list[tuple[str | None, str, int]]:
    """The rows of a column_rules test: (column or None for a model-level expression, rule, failing rows)."""
    return con.execute(
        f"select column_name, rule, failing_rows from ({compiled_sql}) t order by column_name nulls last, rule"
    ).fetchall()


# A column_rules rule by the check kind the quality page says it with (dashboards/i18n.py CHECK_KINDS).
RULE_KINDS = {"not_null": "not_null", "accepted_values": "allowed", "in_range": "in_range", "expression_holds": "holds"}


def describe_failing_rules(rows: list[tuple[str | None, str, int]]) -> str:
    """Each failing column and rule with its failing-row count, in 简体中文 and English, the rule said as the
    quality page says GX's check kinds, then as the yml writes it."""
    from dashboards.i18n import CHECK_KINDS
    from pipelines.counts import count_en, count_zh

    zh, en = [], []
    for column, rule, n in rows:
        kind = rule.split(":")[0].split(" [")[0]
        name_zh, name_en = CHECK_KINDS.get(RULE_KINDS.get(kind, kind), (kind, kind))
        zh.append(f"{'列 ' + column if column else '整行'}：{name_zh}（{rule}）未通过{count_zh(n, '行')}")
        en.append(f"{'column ' + column if column else 'row'}: {name_en} ({rule}) fails on {count_en(n, 'row')}")
    return "未通过的规则：" + "；".join(zh) + " / failing rules: " + "; ".join(en)


def with_failing_rules_named(events, invocation, warehouse: Warehouse, log, found: dict | None = None):
    """dagster-dbt's events, with each failed column_rules check naming its failing columns, rules and row counts.

    dbt reports only the test's failure count, so a failed column_rules check is held back until dbt has exited
    (the warehouse is then free), its compiled query runs once more on the warehouse for its rows, and the check
    is yielded with them as its description and metadata; passing checks and all other events pass through at
    once. Only failed checks cost a query, and a failed run fails as before, after its checks are reported."""
    held, error = [], None
    try:
        for ev in events:
            if (
                isinstance(ev, dg.AssetCheckResult | dg.AssetCheckEvaluation)
                and not ev.passed
                and ev.check_name.startswith(COLUMN_RULES_PREFIX)
            ):
                held.append(ev)
                continue
            yield ev
    except Exception as exc:  # dbt failed (a blocking test among others): report the held checks first
        error = exc
    if held:
        yield from _named(held, invocation, warehouse, log, found)
    if error is not None:
        raise error


def _md_cell(text: str) -> str:
    """A rule's text in a Markdown table cell: its pipes escaped (an expression may hold `||`)."""
    return text.replace("|", "\\|")


def _named(held, invocation, warehouse: Warehouse, log, found: dict | None = None):
    import json

    try:
        invocation.process.wait()
        results = json.loads((Path(invocation.target_path) / "run_results.json").read_text())["results"]
        compiled = {r["unique_id"]: r.get("compiled_code") for r in results}
        with warehouse.get_connection(step="dbt") as con:
            described = []
            for ev in held:
                uid = ev.metadata["unique_id"].value
                rows = failing_rules(con, compiled[uid])
                described.append((ev, rows))
                if found is not None:  # the quality store records them too (record_test_results)
                    found[uid] = [{"column_name": c, "rule": r, "failing_rows": n} for c, r, n in rows]
    except Exception as exc:  # the check still fails as dbt judged it; only the naming of its rules is missing
        log.warning(f"could not read the failing rules of {[ev.check_name for ev in held]}: {exc!r}")
        yield from held
        return
    for ev, rows in described:
        cls = type(ev)
        yield cls(
            asset_key=ev.asset_key,
            check_name=ev.check_name,
            passed=ev.passed,
            severity=ev.severity,
            metadata={
                **ev.metadata,
                "failing_rules": dg.MetadataValue.md(
                    "| column / 列 | rule / 规则 | failing rows / 未通过行数 |\n|---|---|---:|\n"
                    + "\n".join(f"| {c or ''} | {_md_cell(r)} | {n} |" for c, r, n in rows)
                ),
            },
            description=describe_failing_rules(rows),
        )


def record_test_results(
    invocation, warehouse: Warehouse, run_id: str, log, found: dict | None = None, *, samples: bool = True, con=None
) -> int:
    """Record every data test this dbt step ran (run_results.json, with the manifest dagster-dbt holds) in
    quality.check_results, engine "dbt": what `ipcity quality` and the quality page show beside GX's results.

    A passing test costs no query. A failed one keeps its failing rows: a column_rules test's failing columns and
    rules (``found``, read by ``with_failing_rules_named``), any other test's first rows from its compiled query
    (``samples``; on Spark the warehouse reads Spark's tables through views, spark_engine.build_on_spark, so the
    same portable sample query serves both engines: dbt_results.sample_sql). Recording never fails the step:
    the checks are reported to Dagster either way, and a step that already failed keeps its own error. ``con``: a
    warehouse connection the step has open anyway."""
    from pipelines.quality.dbt_results import dbt_test_rows, failing_rows_sample
    from pipelines.quality.results import record_dbt_results

    found = dict(found or {})
    try:
        invocation.process.wait()  # dbt has exited: run_results.json is whole and the warehouse is free
        run_results = invocation.get_artifact("run_results.json")
        failed = [
            r
            for r in run_results.get("results", [])
            if r.get("status") in ("fail", "warn")
            and r.get("unique_id", "").startswith("test.")
            and r["unique_id"] not in found
            and r.get("compiled_code")
        ]
        with contextlib.nullcontext(con) if con is not None else warehouse.get_connection(step="dbt") as c:
            for r in failed if samples else []:
                try:
                    found[r["unique_id"]] = failing_rows_sample(c, r["compiled_code"])
                except Exception as exc:  # the result is still recorded, without its rows
                    log.warning(f"could not read the failing rows of {r['unique_id']}: {exc!r}")
            rows = dbt_test_rows(run_id, run_results, invocation.manifest, invocation.target_path, found)
            return record_dbt_results(c, rows)
    except Exception as exc:
        log.warning(f"dbt test results not recorded in quality.check_results: {exc!r}")
        return 0


ensure_manifest()


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    exclude=EVALUATION_PATH,
    name="dbt_indicator_models",
)
def dbt_indicator_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    yield from _build(context, dbt, warehouse)


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=TRANSLATOR,
    select=EVALUATION_PATH,
    name="dbt_evaluation_models",
)
def dbt_evaluation_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    yield from _build(context, dbt, warehouse)


DBT_ASSETS = [dbt_indicator_models, dbt_evaluation_models]


# The venv's dbt, whether or not the venv is activated (the README runs .venv/bin/ipcity directly).
VENV_DBT = Path(sys.executable).with_name("dbt")
# What the dbt steps start: this environment's dbt-core (IPCITY_PYTHON), in a child that dies with the run
# (pipelines/supervised.py). dagster-dbt starts its executable itself, so the supervision is in the executable.
SUPERVISED_DBT = Path(__file__).resolve().parents[1] / "dbt_supervised"


class IpcityDbtCli(DbtCliResource):
    """dagster-dbt's dbt resource without the dbt adapter it opens in this process before every invocation.
    That handle (profile, project and macros loaded again, ≈ 1.5-3.5 s per dbt step in a py-spy profile of
    `ipcity run`) serves only ``fetch_row_counts()`` / ``fetch_column_metadata()``, which this project does not
    call; dbt itself runs as a subprocess with its own adapter. dagster-dbt passes no adapter for the dbt Fusion
    engine either, so the invocation and its event stream work without one."""

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - dagster-dbt's signature
        return None

    @functools.cached_property
    def _cli_version(self) -> Version:
        """The dbt executable's version. dagster-dbt asks ``dbt --version`` before the first invocation of a
        process: a second Python process that imports dbt (≈ 2-4 s) and asks PyPI for the latest release, a
        network call from an official's machine on every run (and a wait where there is no network). When the
        executable is this environment's own dbt, its version is the installed dbt-core's."""
        from pipelines.spark_engine import LAUNCHER  # runs this environment's dbt-core on Spark

        if Path(self.dbt_executable) in (VENV_DBT, LAUNCHER, SUPERVISED_DBT):
            return Version(importlib.metadata.version("dbt-core"))
        return super()._cli_version


def dbt_resource() -> DbtCliResource:
    return IpcityDbtCli(
        project_dir=DBT_PROJECT,
        profiles_dir=str(settings.DBT_PROJECT_DIR),
        dbt_executable=str(SUPERVISED_DBT),
        # The step's dbt.log at info level (node results, warnings, errors with their database message), not
        # debug: the debug file held every statement of ~330 nodes (7.8 MB per run) and writing it was ~7 % of
        # the indicator step (3 interleaved pairs, bench/RESULTS.md). The compiled SQL stays in target/.
        global_config_flags=["--log-level-file", "info"],
    )
