"""The two publish steps that write files, before and after: ``published__provincial_extracts``
(``pipelines.extracts.write_all``) and ``published__dossiers`` (``pipelines.evaluation.dossier.write_dossiers``),
the code of a git ref (default ``main``) against this working tree, on the same published snapshot, alternating.

    python bench/bench_publish.py --snapshot data/published/snapshot.duckdb [--ref main] [--rounds 2] [--verify]

Each step runs in a fresh interpreter (the ref's code from ``git archive``, or this tree) into an empty folder,
as a pipeline run does. Prints one JSON line per step and round (wall seconds of the step; CPU seconds of the
interpreter and its worker processes, imports included) and a summary line with the best wall seconds of each
and the ratio ref / tree. ``--verify`` then compares the last round's files: CSV, Parquet and dossiers byte for
byte, manifests without their ``generated_at``, and every part of every workbook with the generation time masked
(pyexcelerate stamps ``docProps/core.xml``; the cover sheet shows ``generated_at``). No timing assertion: the
ratio is for people to read (the machine is shared; a core taken by someone else shows up as a lower ratio).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside the child: the step's code is whatever ``sys.path[0]`` holds.
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
step, snapshot, out = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
import duckdb
if step == "extracts":
    from pipelines.extracts import write_all
    t = time.perf_counter()
    n = len(write_all(snapshot, out))
else:
    from pipelines.evaluation.dossier import write_dossiers
    with duckdb.connect(str(snapshot), read_only=True) as con:  # as pipelines/assets/publish.py asks
        flagged = con.execute(
            "SELECT unit_code, year FROM marts.fct_evaluation_year "
            "WHERE stage IN ('watch', 'review', 'rectification', 'exit_candidate', 'not_reported') "
            "ORDER BY year, unit_code"
        ).fetchall()
    t = time.perf_counter()
    n = len(write_dossiers(snapshot, flagged, out))
wall = time.perf_counter() - t
cpu = sum(x.ru_utime + x.ru_stime for x in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))
print(json.dumps({"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "files_or_versions": n}))
"""


def run_step(code_root: Path, step: str, snapshot: Path, out: Path) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(code_root), step, str(snapshot), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def _mask_time(name: str, data: bytes) -> bytes:
    if name == "docProps/core.xml":
        return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"T", data)
    if name == "xl/worksheets/sheet1.xml":  # the cover sheet's generated_at
        return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d</t>", b"T</t>", data)
    return data


def compare_trees(a: Path, b: Path) -> dict:
    """Counts of identical files by kind; AssertionError naming the first file that differs."""
    fa = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    fb = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert fa == fb, f"different file lists: {sorted(set(fa) ^ set(fb))[:5]}"
    counts: dict[str, int] = {}
    for rel in fa:
        x, y = a / rel, b / rel
        kind = rel.suffix.lstrip(".")
        if kind == "json":
            va, vb = (json.loads(p.read_text(encoding="utf-8")) for p in (x, y))
            for v in (va, vb):
                for e in v["versions"]:
                    e.pop("generated_at")
            assert va == vb, rel
        elif kind == "xlsx":
            with zipfile.ZipFile(x) as za, zipfile.ZipFile(y) as zb:
                assert za.namelist() == zb.namelist(), rel
                for name in za.namelist():
                    assert _mask_time(name, za.read(name)) == _mask_time(name, zb.read(name)), (rel, name)
        else:
            assert x.read_bytes() == y.read_bytes(), rel
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshot", type=Path, required=True)
    ap.add_argument("--ref", default="main")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", default="extracts,dossiers")
    ap.add_argument("--verify", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_publish_") as tmp:
        tmp = Path(tmp)
        ref_root = tmp / "ref"
        ref_root.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.ref], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(ref_root)], input=archive.stdout, check=True)
        best: dict[tuple[str, str], float] = {}
        for step in args.steps.split(","):
            for r in range(args.rounds):
                for label, code in ((args.ref, ref_root), ("tree", ROOT)):
                    out = tmp / f"{step}_{label}_{r}"
                    res = run_step(code, step, args.snapshot.resolve(), out)
                    print(json.dumps({"step": step, "code": label, "round": r, **res}), flush=True)
                    key = (step, label)
                    best[key] = min(best.get(key, float("inf")), res["seconds"])
            summary = {
                "step": step,
                f"best_{args.ref}_s": best[(step, args.ref)],
                "best_tree_s": best[(step, "tree")],
                "ratio": round(best[(step, args.ref)] / best[(step, "tree")], 2),
            }
            if args.verify:
                last = args.rounds - 1
                summary["identical"] = compare_trees(tmp / f"{step}_{args.ref}_{last}", tmp / f"{step}_tree_{last}")
            print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
