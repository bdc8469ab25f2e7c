"""dbt's data tests as rows of quality.check_results (engine "dbt"), beside Great Expectations' expectations.

A dbt step's run_results.json says each test's status and failure count; the manifest dagster-dbt already holds
says what the test is (its model, columns, kind, severity, where it is defined). Reading both costs no query: only
a test that failed has its failing rows read back from the warehouse (``failing_rows_sample``), as the step names
a failed column_rules check's rules (pipelines/assets/dbt.py). One row per test node and run: the test's name is
the check's name, so the same check lines up across runs (``check_history``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.china_time import utc_from_iso, utc_now

# How many failing rows of a failed test are kept as its sample (as GX keeps samples.max_failing_rows).
SAMPLE_ROWS = 10
# dbt statuses of a test that ran: pass, fail (error severity), warn (warn severity or warn_if), error (the
# query itself failed). A skipped test (behind a failed blocking test) did not run, so it has no result to record.
RAN = ("pass", "fail", "warn", "error")


def _finished(result: dict, fallback: datetime) -> datetime:
    for timing in reversed(result.get("timing") or []):
        at = utc_from_iso(timing.get("completed_at"))
        if at is not None:
            return at
    return fallback


def _asset(node: dict, manifest: dict) -> str:
    """The checked model or source as ``<schema>.<name>``, as Dagster keys it (IpcityTranslator) and GX names it."""
    parent = node.get("attached_node")
    if not parent:
        parents = (node.get("depends_on") or {}).get("nodes") or []
        parent = next((p for p in parents if p.startswith(("model.", "source.", "seed.", "snapshot."))), None)
    if parent is None:
        return node.get("name", "")
    target = manifest.get("nodes", {}).get(parent) or manifest.get("sources", {}).get(parent) or {}
    if parent.startswith("source."):
        schema = target.get("source_name") if target.get("source_name") == "raw" else target.get("schema")
        return f"{schema or 'raw'}.{target.get('name') or parent.rsplit('.', 1)[-1]}"
    return f"{target.get('schema') or 'marts'}.{target.get('name') or parent.rsplit('.', 1)[-1]}"


def _kind(node: dict, uid: str) -> str:
    if uid.startswith("unit_test."):
        return "unit_test"
    meta = node.get("test_metadata") or {}
    return meta.get("name") or "singular"


def _columns(node: dict) -> list[str]:
    """The columns a test reads, as its yml names them (column_rules: every column it judges)."""
    kwargs = (node.get("test_metadata") or {}).get("kwargs") or {}
    out: list[str] = []
    if node.get("column_name"):
        out.append(node["column_name"])
    for key in ("column_name", "field", "columns", "combination_of_columns", "parts", "total"):
        value = kwargs.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            out += [str(v) for v in value]
        elif isinstance(value, list):
            out += [str(v) for v in value]
    return list(dict.fromkeys(c for c in out if c))


def _kwargs(node: dict) -> dict:
    """The test's arguments as written in the yml, without dbt's own wrapping of the model."""
    kwargs = (node.get("test_metadata") or {}).get("kwargs") or {}
    return {k: v for k, v in kwargs.items() if k != "model"}


def compiled_path(node: dict, target_path: Path) -> str:
    """Where dbt wrote the test's compiled query in this step's target folder (kept for the step folders' lifetime,
    pipelines/assets/dbt.prune_step_folders; a failed test keeps its query in the store as well)."""
    if node.get("compiled_path"):
        return str(node["compiled_path"])
    return str(
        Path(target_path)
        / "compiled"
        / node.get("package_name", "")
        / node.get("original_file_path", "")
        / node.get("path", "")
    )


def dbt_test_rows(
    run_id: str,
    run_results: dict,
    manifest: dict,
    target_path: Path,
    samples: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[tuple]:
    """quality.check_results rows (results.CHECK_RESULTS_COLUMNS order) for every test dbt ran in one step.

    ``samples``: unique_id -> the failing rows read back for a failed test (column_rules: its (column, rule,
    failing rows) rows, which also name the failing columns and rules)."""
    import json

    samples = samples or {}
    generated = utc_from_iso((run_results.get("metadata") or {}).get("generated_at")) or now or utc_now()
    nodes, unit_tests = manifest.get("nodes", {}), manifest.get("unit_tests", {})
    rows = []
    for r in run_results.get("results", []):
        uid = r.get("unique_id", "")
        if not uid.startswith(("test.", "unit_test.")) or r.get("status") not in RAN:
            continue
        node = nodes.get(uid) or unit_tests.get(uid) or {}
        status = r["status"]
        kind = _kind(node, uid)
        configured = str((node.get("config") or {}).get("severity") or "error").lower()
        # "is it blocking": a failed or broken test stops what is below it (error); a warn status never does
        severity = "warn" if status == "warn" else ("error" if status in ("fail", "error") else configured)
        passed = status == "pass"
        failures = r.get("failures")
        columns, rule = _columns(node), kind
        sample = samples.get(uid)
        if kind == "column_rules" and sample:
            # the failing columns and rules themselves, not every column the test judges
            columns = list(dict.fromkeys(s["column_name"] for s in sample if s.get("column_name")))
            rule = "; ".join(dict.fromkeys(str(s["rule"]) for s in sample))
        expectation = {
            "engine": "dbt",
            "unique_id": uid,
            "test": kind,
            "kwargs": _kwargs(node),
            "defined_in": node.get("original_file_path"),
            "compiled_path": compiled_path(node, target_path),
        }
        if not passed:  # the query that failed, kept with its result (the step folder is pruned after a while)
            expectation["compiled_code"] = r.get("compiled_code")
        rows.append(
            (
                run_id,
                _finished(r, generated),
                node.get("name") or uid.split(".")[-2 if uid.count(".") > 2 else -1],
                _asset(node, manifest),
                None,
                severity,
                passed,
                json.dumps({"status": status, "failures": failures, "message": r.get("message")}, ensure_ascii=False),
                None if sample is None else json.dumps(sample, ensure_ascii=False, default=str),
                json.dumps(expectation, ensure_ascii=False, default=str),
                "dbt",
                ", ".join(columns) or None,
                rule,
                failures,
            )
        )
    return rows


def sample_sql(compiled_sql: str, limit: int = SAMPLE_ROWS) -> str:
    """The query for a failed test's first failing rows, in SQL that DuckDB and Spark SQL both read: the test's
    compiled query as a derived table with ``limit`` (no DuckDB-only syntax). dbt may end the compiled query with a
    ``;`` or a ``--`` comment (a singular test's file, a macro's trailing note): the query stands on lines of its
    own and its closing ``;`` is dropped, so neither swallows nor breaks the wrapping."""
    body = compiled_sql.strip()
    while body.endswith(";"):
        body = body[:-1].rstrip()
    return f"select * from (\n{body}\n) as failing limit {int(limit)}"


def failing_rows_sample(con, compiled_sql: str, limit: int = SAMPLE_ROWS) -> list[dict]:
    """The first rows a failed test's compiled query returns (its failing rows), JSON-ready.

    ``con``: any DB-API connection or cursor (``execute``, ``description``, ``fetchmany``): the DuckDB warehouse,
    which on the Spark engine reads Spark's tables through views (spark_engine.attach_spark_marts), or a Spark SQL
    cursor: one code path for both engines."""
    cur = con.cursor() if hasattr(con, "cursor") else con
    try:
        cur.execute(sample_sql(compiled_sql, limit))
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchmany(int(limit))]
    finally:
        if cur is not con:
            cur.close()
