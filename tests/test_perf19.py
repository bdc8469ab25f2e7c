"""Issue 19, the national run's fixed costs: the cyclic garbage collector's policy (pipelines/heap.py) in the
processes of a run. Each case runs in a child interpreter: freezing the heap of the test session itself would keep
its cyclic garbage for ever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A stand-in for dbt's CLI module, found before the real one: it records whether the collector ran while it was
# imported and, when dbt's `cli()` is called, whether the import heap is frozen and collection is on again.
FAKE_DBT = textwrap.dedent(
    """
    import gc, importlib.abc, importlib.util, json, sys, types

    STATE = {}

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name == "dbt.cli.main":
                return importlib.util.spec_from_loader(name, self)
            return None

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            STATE["collecting_while_imported"] = gc.isenabled()

            def cli():
                STATE["collecting_when_run"] = gc.isenabled()
                STATE["frozen_when_run"] = gc.get_freeze_count()
                STATE["argv"] = sys.argv
                print(json.dumps(STATE))
                return 0

            module.cli = cli

    for pkg in ("dbt", "dbt.cli"):
        sys.modules[pkg] = types.ModuleType(pkg)
        sys.modules[pkg].__path__ = []  # a package, so that dbt.cli.main is looked up
    sys.meta_path.insert(0, Finder())
    """
)


def _child(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("IPCITY_SUPERVISOR_PID", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_a_dbt_child_imports_dbt_without_collecting_and_runs_it_with_the_import_heap_frozen():
    """The dbt step's child (pipelines/dbt_supervised → pipelines.supervised dbt): before, every full collection
    walked dbt's ≈ 250k import-time objects again (≈ 0.7 s of its ≈ 2.6 s fixed CPU, twice a run)."""
    code = FAKE_DBT + "\nfrom pipelines import supervised\nsys.exit(supervised.main(['dbt', 'build', '--quiet']))\n"
    done = _child(code)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["collecting_while_imported"] is False
    assert state["collecting_when_run"] is True and state["frozen_when_run"] > 0
    assert state["argv"] == ["dbt", "build", "--quiet"]


def test_the_heap_policy_pauses_collection_then_frees_start_up_garbage_before_freezing_the_rest():
    code = textwrap.dedent(
        """
        import gc, json, weakref
        from pipelines.heap import freeze_heap, pause_collection
        pause_collection()
        paused = not gc.isenabled()
        class Cycle:
            pass
        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b  # cyclic garbage made while starting
        freeze_heap(collect_first=True)
        print(json.dumps({"paused": paused, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                          "cycle_freed": gone() is None}))
        """
    )
    done = _child(code)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["paused"] and state["enabled"] and state["frozen"] > 0
    assert state["cycle_freed"]  # collected before the freeze, not frozen for ever


def test_the_parse_of_a_stale_manifest_runs_as_the_dbt_steps_do(monkeypatch):
    """The parse a fresh checkout's run waits for (pipelines/dbt_manifest.start_parse) starts dbt through the
    supervised entry, with its collector policy and its death with the run; before, `python -c` imported dbt
    with the collector walking it."""
    from pipelines import dbt_manifest

    started = {}

    class Popen:
        def __init__(self, args, env, **kwargs):
            started.update(args=args, env=env)

    monkeypatch.setattr(dbt_manifest, "is_stale", lambda: True)
    monkeypatch.setattr(dbt_manifest.subprocess, "Popen", Popen)
    dbt_manifest.start_parse()
    assert started["args"][:4] == [sys.executable, "-m", "pipelines.supervised", "dbt"]
    assert started["args"][4:] == dbt_manifest.parse_args()
    assert started["env"]["IPCITY_SUPERVISOR_PID"] == str(os.getpid())
    assert str(ROOT) in started["env"]["PYTHONPATH"].split(os.pathsep)
