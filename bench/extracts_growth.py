"""The provincial extracts step of the eleventh year, alone: ``write_all`` as the increment's run calls it, against
``write_all`` for that year alone, on the snapshots and extracts a ``bench/growth.py`` run left.

    python bench/extracts_growth.py --growth <work of growth.py> [--code <checkout> ...] [--repeats 2]

The increment's extracts folder is rolled back to the history's versions (each province-year's v1; the last year
removed), then ``write_all`` on the increment's snapshot writes what the increment's run wrote (a new version of
every earlier province-year, whose figures moved with the window, and the new year's first versions). The year
alone is ``write_all`` on the alone run's snapshot into an empty folder. Each ``--code`` checkout is run in its
own process (its ``pipelines`` on the path), the checkouts interleaved repeat by repeat, so before and after are
measured in the same minutes of a shared machine. Prints one JSON line per measurement: wall seconds and the
CPU seconds of the process tree.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
from pathlib import Path
from pipelines import extracts as X
snap, root = Path(sys.argv[1]), Path(sys.argv[2])
t = time.perf_counter()
entries = X.write_all(snap, root)
print(json.dumps({"seconds": time.perf_counter() - t, "versions": len(entries),
                  "revised": sum(e["previous_version"] is not None for e in entries)}))
"""


def rolled_back(src: Path, dst: Path, last_year: int) -> None:
    """``src`` (the increment's extracts) as the history left it: every manifest's v1 only, no ``last_year``."""
    shutil.copytree(src, dst)
    for manifest in dst.glob("*/*/versions.json"):
        year_dir = manifest.parent
        if int(year_dir.name) == last_year:
            shutil.rmtree(year_dir)
            continue
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["versions"] = [v for v in data["versions"] if v["version"] == 1]
        manifest.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        for v in year_dir.glob("v[0-9]*"):
            if v.is_dir() and v.name != "v1":
                shutil.rmtree(v)


def measure(code: Path, snapshot: Path, root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(snapshot), str(root)],
        env=env,
        cwd=code,
        check=True,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # CPU seconds of the process and its pool's workers (reaped, so counted here): on a shared machine the wall
    # time follows the other tenants' load, the CPU time much less
    res["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--growth", type=Path, required=True, help="the --work folder of a bench/growth.py run")
    ap.add_argument("--code", type=Path, action="append", help="checkouts to compare (default: this one)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--last-year", type=int, default=2023)
    args = ap.parse_args(argv)
    codes = [c.resolve() for c in (args.code or [Path(__file__).resolve().parent.parent])]
    growing, alone = args.growth / "run_growing", args.growth / "run_alone"
    snap_inc = next(growing.rglob("*.snapshot.duckdb"))
    snap_alone = next(alone.rglob("*.snapshot.duckdb"))
    extracts_inc = next(p for p in growing.rglob("extracts") if p.is_dir())
    with tempfile.TemporaryDirectory(prefix="extracts_growth_") as tmp:
        history = Path(tmp) / "history"
        rolled_back(extracts_inc, history, args.last_year)
        for rep in range(args.repeats):
            for code in codes:
                for what, snap in (("increment", snap_inc), ("alone", snap_alone)):
                    root = Path(tmp) / f"{what}_{rep}_{codes.index(code)}"
                    if what == "increment":
                        shutil.copytree(history, root)
                    res = measure(code, snap, root)
                    res.update(what=what, code=str(code), repeat=rep, load=round(os.getloadavg()[0], 2))
                    print(json.dumps(res), flush=True)
                    shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
