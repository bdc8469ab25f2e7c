"""The cyclic garbage collector in a process that imports Dagster, dbt or GX and then runs: one policy for `ipcity
run` (pipelines/cli.py), its dbt children (pipelines/supervised.py) and the benchmark that stands in for it
(bench/pipeline_run.py), so the benchmark times what the command does.

Importing those libraries builds hundreds of thousands of long-lived objects (modules, classes, dbt's mashumaro
codecs) and little cyclic garbage, yet every full collection walks all of them again: a dozen walks during the
parent's start-up (≈ 2 s), ≈ 0.7 s of a dbt child's ≈ 2.6 s of fixed CPU, and the walks at interpreter exit
(≈ 2 s for the parent's heap after a national run, bench/RESULTS.md). So: no collection while importing
(``pause_collection``), then the heap built so far frozen out of the collector's view and collection on again
(``freeze_heap``). What is made after the freeze is collected as usual; frozen cyclic garbage is never collected,
which is why a process that goes on to run other code (a test session) must not call these.
"""

from __future__ import annotations

import gc


def pause_collection() -> None:
    """No cyclic collection until ``freeze_heap``: start-up makes little cyclic garbage."""
    gc.disable()


def freeze_heap(*, collect_first: bool = False) -> None:
    """Move every object alive now out of the collector's view (gc.freeze) and collect again from here on.
    ``collect_first``: one full collection before, so cyclic garbage made so far is freed rather than frozen
    (one walk instead of every later one)."""
    if collect_first:
        gc.collect()
    gc.freeze()
    gc.enable()
