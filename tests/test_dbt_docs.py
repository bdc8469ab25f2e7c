"""The dbt project documents itself: one yml per model with every column described, exposures naming every
dashboard page and what it reads, nothing reading a layer above its own, and `ipcity docs` building and serving
the site (lineage page -> mart -> source)."""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.request
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.settings import DBT_EVALUATION_SELECTORS, DBT_PROJECT_DIR, PROJECT_ROOT

MODELS = DBT_PROJECT_DIR / "models"
# Every model has its own yml now; this list stays empty (a name here is exempt from the per-model checks).
NOT_YET = re.compile(r"^$")
LAYER = {"staging": 0, "intermediate": 1, "marts": 2}
# The indicator-step marts the evaluation step's intermediates read (see test_no_model_reads_a_layer_above_its_own).
EVALUATION_STEP_INPUTS = {
    "dim_city",
    "dim_indicator",
    "fct_city_indicator_year",
    "fct_city_score_year",
    "fct_target_status_year",
}


def model_files() -> dict[str, Path]:
    return {p.stem: p for p in MODELS.rglob("*.sql")}


def _yml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def test_every_model_has_its_own_yml_with_every_column_described():
    problems = []
    for name, sql in sorted(model_files().items()):
        if NOT_YET.match(name) or sql.parent.name == "staging":
            continue
        yml = sql.with_suffix(".yml")
        if not yml.is_file():
            problems.append(f"{name}: no {yml.name}")
            continue
        models = _yml(yml).get("models", [])
        if [m["name"] for m in models] != [name]:
            problems.append(f"{yml.name} must describe exactly {name}")
            continue
        m = models[0]
        if not (m.get("description") or "").strip():
            problems.append(f"{name}: no description")
        problems += [f"{name}.{c['name']}: no description" for c in m.get("columns", []) if not c.get("description")]
        if not m.get("columns"):
            problems.append(f"{name}: no columns")
    assert not problems, "\n".join(problems)


def test_published_marts_columns_match_their_yml(sample_snapshot):
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        for name, sql in model_files().items():
            if sql.parent.name != "marts" or NOT_YET.match(name) or not sql.with_suffix(".yml").is_file():
                continue
            have = [r[0] for r in con.execute(f"select * from marts.{name} limit 0").description]
            documented = [c["name"] for c in _yml(sql.with_suffix(".yml"))["models"][0]["columns"]]
            assert documented == have, name
    finally:
        con.close()


def _refs(sql: Path) -> set[str]:
    return set(re.findall(r"ref\('([^']+)'\)", sql.read_text(encoding="utf-8")))


def _in_evaluation_step(sql: Path) -> bool:
    """Built by the second dbt step (pipelines/assets/dbt.py selects it by these paths)."""
    rel = sql.relative_to(DBT_PROJECT_DIR).as_posix()
    return any(rel.startswith(s.removeprefix("path:") + "/") for s in DBT_EVALUATION_SELECTORS)


def test_no_model_reads_a_layer_above_its_own():
    """staging -> intermediate -> marts; an int_* model lives under intermediate/ and only there.

    One declared exception: the evaluation step's intermediates (models/intermediate/evaluation) take the marts of
    the indicator step as their inputs (EVALUATION_STEP_INPUTS). That step runs after the Monte Carlo step and the
    policy simulator replays it on a copy of the published snapshot (pipelines/scenarios.py), which carries the
    marts only, so these are the tables it can read. They never read a mart of their own step."""
    files = model_files()
    layer = {
        n: LAYER[p.relative_to(MODELS).parts[0]] for n, p in files.items() if p.relative_to(MODELS).parts[0] in LAYER
    }
    misplaced = [
        f"{name}: {sql.relative_to(MODELS)}"
        for name, sql in files.items()
        if name.startswith("int_") != (sql.relative_to(MODELS).parts[0] == "intermediate")
    ]
    assert not misplaced, f"int_* models live under intermediate/, and only they: {misplaced}"
    upward, inputs_read = [], set()
    for name, sql in files.items():
        if name not in layer or NOT_YET.match(name):
            continue
        for ref in _refs(sql):
            if ref not in layer or layer[ref] <= layer[name]:
                continue
            if sql.parent == MODELS / "intermediate" / "evaluation" and ref in EVALUATION_STEP_INPUTS:
                inputs_read.add(ref)
                continue
            upward.append(f"{name} ({layer[name]}) reads {ref} ({layer[ref]})")
    assert not upward, upward
    # the exception stays exact: every declared input is read, and is built by the first dbt step
    assert inputs_read == EVALUATION_STEP_INPUTS, EVALUATION_STEP_INPUTS - inputs_read
    assert not [n for n in EVALUATION_STEP_INPUTS if _in_evaluation_step(files[n])]


def test_the_first_dbt_step_builds_nothing_that_reads_the_monte_carlo_step():
    """Every model downstream of a table the Python evaluation step writes (source evaluation_inputs) is selected
    by DBT_EVALUATION_SELECTORS, so the first dbt step (everything else) never builds one before it exists."""
    files = model_files()
    readers = {n for n, p in files.items() if "source('evaluation_inputs'" in p.read_text(encoding="utf-8")}
    assert readers, "no model reads the Monte Carlo output: the source was renamed"
    grew = True
    while grew:
        more = {n for n, p in files.items() if n not in readers and _refs(p) & readers}
        grew, readers = bool(more), readers | more
    assert not [n for n in sorted(readers) if not _in_evaluation_step(files[n])]
    assert all(
        _in_evaluation_step(files[n]) for n in files if n.startswith("int_evaluation_") and n != "int_evaluation_years"
    )


def test_exposures_name_every_dashboard_page():
    exposures = {e["name"]: e for e in _yml(MODELS / "exposures" / "exposures.yml")["exposures"]}
    pages = [p.stem for p in (PROJECT_ROOT / "dashboards" / "pages").glob("*.py") if p.stem != "__init__"]
    for page in pages:
        text = (PROJECT_ROOT / "dashboards" / "pages" / f"{page}.py").read_text(encoding="utf-8")
        if "PATH = " not in text:
            continue
        assert f"page_{page}" in exposures, f"no exposure for dashboards/pages/{page}.py"
        assert exposures[f"page_{page}"]["depends_on"], page


@pytest.mark.slow
def test_ipcity_docs_builds_and_serves_the_lineage(tmp_path, monkeypatch):
    from pipelines.docs import docs_server, generate_docs

    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "no_warehouse_yet.duckdb"))
    folder = generate_docs(tmp_path / "docs")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    profile = manifest["exposures"]["exposure.ipcity.page_profile"]
    assert "model.ipcity.fct_city_score_year" in profile["depends_on"]["nodes"]
    # lineage continues below the mart down to a raw source
    parents = manifest["parent_map"]
    seen, stack = set(), ["model.ipcity.fct_city_score_year"]
    while stack:
        node = stack.pop()
        for p in parents.get(node, []):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    assert any(n.startswith("source.ipcity.raw.") for n in seen)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = docs_server(folder, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30).read().decode("utf-8")
        assert "page_profile" in page and "fct_programme_average_year" in page
    finally:
        server.shutdown()
        server.server_close()
