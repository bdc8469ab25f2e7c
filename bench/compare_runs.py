"""The latest run of two Dagster homes side by side: whole run, planning, and step times by group.

    python bench/compare_runs.py BEFORE_DAGSTER_HOME AFTER_DAGSTER_HOME

How bench/RESULTS.md's "fixed costs of a default sample run" table was made: run `python -m pipelines.cli run`
from each checkout with IPCITY_WAREHOUSE pointing into a fresh folder (the Dagster home sits beside it,
<folder>/dagster_home), then compare the two homes. The wall time of each command is /usr/bin/time's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the storage class named in the homes' dagster.yaml

GROUPS = {
    "ingest (raw__*)": lambda k: k.startswith("raw__"),
    "GX raw checks": lambda k: k.startswith("gx_raw"),
    "GX mart checks": lambda k: k.startswith("gx_marts"),
    "dbt indicator step": lambda k: k == "dbt_indicator_models",
    "dbt evaluation step": lambda k: k == "dbt_evaluation_models",
    "provincial extracts": lambda k: k == "published__provincial_extracts",
    "dossiers": lambda k: k == "published__dossiers",
}


def latest_run(home: str) -> dict:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(home)
    run = instance.get_runs(limit=1)[0]
    logs = instance.all_logs(run.run_id)
    first_step = next(e for e in logs if e.dagster_event and e.dagster_event.event_type_value == "STEP_START")
    steps = {s.step_key: s.end_time - s.start_time for s in instance.get_run_step_stats(run.run_id)}
    return {
        "run span (first event → last)": logs[-1].timestamp - logs[0].timestamp,
        "planning before the first step": first_step.timestamp - logs[0].timestamp,
        "events": len(logs),
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before")
    ap.add_argument("after")
    args = ap.parse_args(argv)
    a, b = latest_run(args.before), latest_run(args.after)
    print("| | before | after |\n|---|---:|---:|")
    for key in ("run span (first event → last)", "planning before the first step"):
        print(f"| {key} | {a[key]:.1f} s | {b[key]:.1f} s |")
    grouped: set[str] = set()
    for name, member in GROUPS.items():
        keys = {k for k in a["steps"] | b["steps"] if member(k)}
        grouped |= keys
        print(
            f"| {name} | {sum(a['steps'].get(k, 0) for k in keys):.1f} s | {sum(b['steps'].get(k, 0) for k in keys):.1f} s |"
        )
    rest = (set(a["steps"]) | set(b["steps"])) - grouped
    print(
        f"| other steps | {sum(a['steps'].get(k, 0) for k in rest):.1f} s | {sum(b['steps'].get(k, 0) for k in rest):.1f} s |"
    )
    print(f"| events | {a['events']} | {b['events']} |")


if __name__ == "__main__":
    main()
