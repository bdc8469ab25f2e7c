"""The packages' structure: no import cycles, every module importable on its own, no two modules of one
name doing different jobs.

A cycle hides until some entry point happens to import the modules in the "wrong" order, so each module is
imported in a fresh process of its own (no help from project modules another import loaded first), and the
module-level import graph is checked for cycles directly. The processes are forked from one interpreter that
has imported only third-party libraries (dagster, dbt, polars, dash ...): the project's own import order is
what is checked, and the libraries' import time is paid once instead of once per module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import PROJECT_ROOT

PACKAGES = ("pipelines", "dashboards")


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in sorted((PROJECT_ROOT / pkg).rglob("*.py")):
            parts = p.relative_to(PROJECT_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = p
    return out


def top_level_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ours that ``name`` imports when it is imported (not the ones imported inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def add(target: str) -> None:
        # `from a.b import c` may name module a.b.c or attribute c of a.b
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in tree.body:
        stmts = [node]
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` imports never run
            continue
        for stmt in stmts:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    add(alias.name)
            elif isinstance(stmt, ast.ImportFrom):
                base = stmt.module or ""
                if stmt.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (stmt.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in stmt.names:
                    add(f"{base}.{alias.name}")
    # importing a.b.c first imports its parent packages
    parts = name.split(".")
    for i in range(1, len(parts)):
        parent = ".".join(parts[:i])
        if parent in known:
            found.add(parent)
    found.discard(name)
    return found


def test_no_import_cycles():
    mods = modules()
    known = set(mods)
    graph = {name: top_level_imports(name, path, known) for name, path in mods.items()}
    # a package's __init__ importing its own submodules is how packages re-export; a submodule importing its
    # parent package is implied by Python itself, so that edge is not a cycle of ours
    for name in graph:
        graph[name] = {d for d in graph[name] if not name.startswith(d + ".")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


# Third-party libraries the project imports at module level, loaded once in the parent before it forks. No
# project module may be among them (nothing of `pipelines` or `dashboards` is loaded before a child's import).
THIRD_PARTY = (
    "dagster",
    "dagster_dbt",
    "dagster_duckdb",
    "dbt.cli.main",
    "duckdb",
    "polars",
    "pandas",
    "pyarrow",
    "numpy",
    "dash",
    "dash_ag_grid",
    "plotly.graph_objects",
    "flask",
    "flask_login",
    "yaml",
    "jinja2",
    "click",
    "xlsxwriter",
    "openpyxl",
)

# Runs in a clean interpreter: load the libraries, then fork one child per module; a child imports its module
# and exits (os._exit: no atexit work of the parent runs twice). Exit code and traceback come back per module.
_FORK_IMPORTS = """
import importlib, json, os, sys, traceback
for lib in json.loads(sys.argv[1]):
    try:
        importlib.import_module(lib)
    except Exception:
        pass
assert not [m for m in sys.modules if m.split(".")[0] in ("pipelines", "dashboards")], "a project module was preloaded"
out = {}
for name in json.loads(sys.argv[2]):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code, msg = 0, b""
        try:
            importlib.import_module(name)
        except BaseException:  # SystemExit too: a module that ends the process on import fails
            code, msg = 1, traceback.format_exc()[-1500:].encode()
        os.write(w, msg)
        os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    out[name] = [os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")]
print(json.dumps(out))
"""


def _import_each_alone(names: list[str]) -> dict[str, tuple[int, str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _FORK_IMPORTS, json.dumps(THIRD_PARTY), json.dumps(names)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {k: tuple(v) for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


@pytest.mark.slow
def test_every_module_imports_in_isolation():
    results = _import_each_alone(sorted(modules()))
    assert set(results) == set(modules())
    failed = [f"{name}:\n{err}" for name, (rc, err) in sorted(results.items()) if rc != 0]
    assert not failed, "modules that fail to import on their own:\n" + "\n\n".join(failed)


def test_a_module_that_fails_alone_is_reported():
    """The forked import sees a module's own failure: a missing module fails, the others pass."""
    results = _import_each_alone(["pipelines.no_such_module", "json"])
    assert results["json"][0] == 0
    assert results["pipelines.no_such_module"][0] != 0
    assert "ModuleNotFoundError" in results["pipelines.no_such_module"][1]


def test_module_names_do_not_collide():
    """One name, one job: no two modules (in any package) share a file name, apart from packages' markers."""
    seen: dict[str, list[str]] = {}
    for name, path in modules().items():
        if path.name != "__init__.py":
            seen.setdefault(path.stem, []).append(name)
    shared = {stem: names for stem, names in seen.items() if len(names) > 1}
    assert not shared, f"modules sharing a name: {shared}"


def test_no_module_level_mutable_state_is_written():
    """No module keeps run state in a module-level list/dict that functions append to (it leaks between runs
    and threads): flag module-level names bound to an empty list/dict and mutated inside a function."""
    offenders = []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        empties = {
            t.id
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(getattr(node, "value", None), ast.List | ast.Dict)
            and not getattr(node.value, "elts", getattr(node.value, "keys", [1]))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        }
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for call in ast.walk(fn):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and isinstance(call.func.value, ast.Name)
                    and call.func.value.id in empties
                    and call.func.attr in {"append", "extend", "remove", "update", "pop", "clear", "insert"}
                ):
                    offenders.append(f"{name}.{call.func.value.id}")
    assert not offenders, f"module-level state mutated by functions: {sorted(set(offenders))}"
