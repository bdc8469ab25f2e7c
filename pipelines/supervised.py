"""Child processes of a run die with the run: a `kill -9` of the run (an operator, the OOM killer, a container
stop) must not leave its dbt child writing the warehouse after the run is marked dead, racing the next run.

Linux: the child asks the kernel for SIGKILL when its parent goes (prctl PR_SET_PDEATHSIG), kept across exec.
Elsewhere (no prctl): a daemon thread in the child polls its parent's id and ends the process when it changes.
Either way a parent that died before the child got here is caught by comparing the parent's id with the one the
parent wrote into the environment (IPCITY_SUPERVISOR_PID).

`python -m pipelines.supervised dbt ARGS` runs dbt under this supervision (pipelines/dbt_supervised is the
executable dagster-dbt starts); `python -m pipelines.supervised spark ARGS` the Spark launcher.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

SUPERVISOR_ENV = "IPCITY_SUPERVISOR_PID"
# the exit status of a child whose run is gone (128 + SIGKILL, as if the kernel had killed it)
ORPHANED_EXIT = 128 + signal.SIGKILL
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def supervisor_environment() -> dict[str, str]:
    """What the parent puts in the environment of a supervised child: its own process id, its interpreter, and
    this checkout first on the import path (dagster-dbt starts dbt in the dbt project's folder)."""
    from pipelines import settings

    path = os.pathsep.join(filter(None, [str(settings.PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {SUPERVISOR_ENV: str(os.getpid()), "IPCITY_PYTHON": sys.executable, "PYTHONPATH": path}


def _kernel_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int, every_s: float) -> None:
    while os.getppid() == parent:
        time.sleep(every_s)
    os._exit(ORPHANED_EXIT)


def die_with_parent(every_s: float = 1.0) -> None:
    """End this process when its parent ends (see the module's docstring). The kernel's signal follows the
    parent *thread* that started the child: Dagster's in-process executor runs a step in the run's main thread,
    which outlives the step's dbt."""
    expected = os.environ.get(SUPERVISOR_ENV)
    parent = os.getppid()
    if not _kernel_pdeathsig():
        threading.Thread(target=_watch, args=(parent, every_s), daemon=True, name="die-with-parent").start()
    # the parent died between starting this process and the line above: nothing would signal us any more
    if expected and expected.isdigit() and int(expected) != parent:
        os._exit(ORPHANED_EXIT)


def main(argv: list[str]) -> int:
    what, args = (argv[0] if argv else ""), argv[1:]
    die_with_parent()
    if what == "dbt":
        from pipelines.heap import freeze_heap, pause_collection

        # dbt's imports are ≈ 60 % of a dbt step's fixed CPU, a quarter of it collections walking them: each step
        # of a run pays it on the run's critical path (pipelines/heap.py)
        pause_collection()
        from dbt.cli.main import cli

        freeze_heap()
        sys.argv = ["dbt", *args]
        return cli()
    if what == "spark":
        from pipelines import spark_engine

        spark_engine.main(args)
        return 0
    print(f"usage: python -m pipelines.supervised dbt|spark ARGS (got {what!r})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
