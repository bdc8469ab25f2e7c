"""Ingest cost of the office-file rules (issue 12) against the loader before them, in the same run.

    python bench/bench_office_ingest.py [--grants 1000000] [--xlsx-rows 20000] [--baseline-commit a1ded63]

Writes a synthetic grants CSV (the national-export shape, 17 columns) and a pledge workbook, then times
`ingest_file` on each in a fresh process, once with this checkout's `pipelines` and once with the baseline
commit's (exported with `git archive` into a temp dir). Prints one JSON line with seconds and the ratios
new / baseline. No timing assertion anywhere: the ratios are for people to read.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]

_RUN = r"""
import sys, time, duckdb
from datetime import date
from pathlib import Path
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
from conftest import write_cities_csv
from pipelines.ingest.load import ingest_file
from pipelines.sources import SOURCES
tmp = Path(sys.argv[3])
con = duckdb.connect(str(tmp / ("wh_" + sys.argv[5] + ".duckdb")))
ingest_file(con, SOURCES["cities"], write_cities_csv(tmp / "cities.csv"))
t = time.perf_counter()
r = ingest_file(con, SOURCES[sys.argv[4].split("/")[0]], tmp / sys.argv[4], partition=2025, today=date(2026, 1, 15))
print(time.perf_counter() - t, r.rows_loaded, r.rows_rejected)
"""


def _grants_csv(path: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    types = np.array(["invention", "utility_model", "design"])
    kinds = np.array(["B", "U", "S"])
    t = rng.integers(0, 3, n)
    days = rng.integers(0, 365, n)
    grant = np.datetime64("2025-01-01") + days
    df = pl.DataFrame(
        {
            "publication_number": [f"CN{100000000 + i}{k}" for i, k in zip(range(n), kinds[t], strict=True)],
            "application_number": [f"CN2024{i:08d}.X" for i in range(n)],
            "patent_type": types[t],
            "kind_code": kinds[t],
            "application_date": (grant - 400).astype(str),
            "grant_date": grant.astype(str),
            "applicant_name": ["深圳某科技有限公司"] * n,
            "applicant_type": ["enterprise"] * n,
            "region_code": rng.choice(["440300", "320500", "330100", "440305"], n),
            "ipc_main": ["H04L 9/40"] * n,
            "lapse_date": [None] * n,
            **{
                c: rng.choice(["0", "1"], n)
                for c in ("hv_strategic_industry", "hv_overseas_family", "hv_maintained_10y")
            },
            **{c: rng.choice(["0", "1"], n) for c in ("hv_pledged", "hv_award", "is_high_value")},
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path)


def _pledge_xlsx(path: Path, n: int) -> None:
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("数据")
    ws.write_row(
        0,
        0,
        [
            "城市代码",
            "统计月份",
            "质押登记笔数",
            "质押金额(万元)",
            "质押专利数",
            "质押商标数",
            "服务企业数",
            "首贷企业数",
        ],
    )
    for i in range(n):
        ws.write_row(i + 1, 0, [f"4403{i % 100:02d}", f"2025-{i % 12 + 1:02d}", 12, 15600.5, 25, 10, 11, 5])
    wb.close()


def _time(code_dir: Path, tmp: Path, rel: str, tag: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _RUN, str(code_dir), str(ROOT / "tests"), str(tmp), rel, tag],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"{tag} failed:\n{out.stderr[-3000:]}")
    return float(out.stdout.strip().splitlines()[-1].split()[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grants", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=20_000)
    ap.add_argument("--baseline-commit", default="a1ded63")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = tmp / "baseline"
        base.mkdir()
        archive = subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "archive",
                args.baseline_commit,
                "pipelines",
                "dbt_project/seeds",
                "data/reference",
            ],
            capture_output=True,
            check=True,
        ).stdout
        tarfile.open(fileobj=io.BytesIO(archive)).extractall(base)
        t0 = time.perf_counter()
        _grants_csv(tmp / "patent_grants" / "grants_2025.csv", args.grants)
        _pledge_xlsx(tmp / "pledge_loans" / "pledge_2025.xlsx", args.xlsx_rows)
        results = {"grants_rows": args.grants, "xlsx_rows": args.xlsx_rows, "write_s": time.perf_counter() - t0}
        for rel, label in (("patent_grants/grants_2025.csv", "grants_csv"), ("pledge_loans/pledge_2025.xlsx", "xlsx")):
            old = _time(base, tmp, rel, "old_" + label)
            new = _time(ROOT, tmp, rel, "new_" + label)
            results |= {f"{label}_baseline_s": round(old, 3), f"{label}_new_s": round(new, 3)}
            results[f"{label}_ratio_new_over_baseline"] = round(new / old, 3)
        print(json.dumps(results))


if __name__ == "__main__":
    main()
