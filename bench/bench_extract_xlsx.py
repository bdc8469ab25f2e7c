"""The provincial extracts' XLSX writer: xlsxwriter (cell by cell, the writer before pyexcelerate) against
``pipelines.extracts.write_xlsx`` (pyexcelerate), in the same process, alternating, on the same frames.

    python bench/bench_extract_xlsx.py [--extracts data/extracts] [--rows 5000] [--rounds 3]

Workloads: every latest-version extract found under ``--extracts`` (the parquet tables a pipeline run wrote,
one workbook per province and year), and a synthetic table of ``--rows`` × 20 columns (Chinese headers, text,
numbers, booleans). Prints one JSON line per workload with the best seconds of each writer and the ratio
xlsxwriter / pyexcelerate. No timing assertion: the ratio is for people to read.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from pipelines import extracts as X


def write_xlsx_xlsxwriter(path: Path, cover, sheets) -> None:
    """``pipelines.extracts.write_xlsx`` as it was with xlsxwriter (the baseline)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(
        str(path),
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "nan_inf_to_errors": True,
            "in_memory": True,
        },
    )
    bold = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1, "text_wrap": True})
    ws = wb.add_worksheet("封面")
    ws.set_column(0, 0, 28)
    ws.set_column(1, 1, 90)
    for i, (k, v) in enumerate(cover):
        ws.write_string(i, 0, k, bold)
        ws.write_string(i, 1, X._neutral(v))
    for name, df, headers in sheets:
        sheet = wb.add_worksheet(name)
        out = X._chinese(X._for_spreadsheet(df), headers)
        sheet.write_row(0, 0, out.columns, bold)
        sheet.freeze_panes(1, 0)
        for j, col in enumerate(out.columns):
            values = out[col].to_list()
            for i, v in enumerate(values, start=1):
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                if isinstance(v, bool):
                    sheet.write_boolean(i, j, v)
                elif isinstance(v, int | float):
                    sheet.write_number(i, j, v)
                else:
                    sheet.write_string(i, j, str(v))
            width = max([len(str(col))] + [len(str(v)) for v in values[:200] if v is not None])
            sheet.set_column(j, j, min(max(8, width * 1.3), 40))
    wb.close()


COVER = [(f"封面项目 {i} / Cover item {i}", f"值 {i}：广东省（440000）v3") for i in range(11)]


def real_workbooks(root: Path) -> list[list]:
    books = []
    for manifest in sorted(root.glob("*/*/versions.json")):
        entry = json.loads(manifest.read_text(encoding="utf-8"))["versions"][-1]
        sheets = [
            (X.TABLES[f["table"]][0], pl.read_parquet(root / f["path"]), X.HEADERS)
            for f in entry["files"]
            if f["format"] == "parquet" and f["table"] in X.TABLES
        ]
        books.append(sheets)
    return books


def synthetic(rows: int) -> list[list]:
    rng = np.random.default_rng(1)
    cities = ["广州市", "深圳市", "珠海市", "汕头市", "佛山市", '=HYPERLINK("http://x")', "+1+2", "@SUM(A1)"]
    cols = {}
    for j in range(8):
        cols[f"文本列{j}"] = [cities[k] for k in rng.integers(0, len(cities), rows)]
    for j in range(9):
        v = rng.normal(50, 20, rows)
        v[rng.random(rows) < 0.05] = np.nan
        cols[f"数值列{j}"] = v
    cols["年份"] = rng.integers(2016, 2026, rows)
    cols["是否补值"] = rng.random(rows) < 0.1
    cols["排名"] = rng.integers(1, 300, rows)
    return [[("指标数据", pl.DataFrame(cols), X.HEADERS)]]


def timed(fn, books, tmp: Path) -> float:
    started = time.perf_counter()
    for i, sheets in enumerate(books):
        fn(tmp / f"b{i}.xlsx", COVER, sheets)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extracts", type=Path, default=Path("data/extracts"))
    ap.add_argument("--rows", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    workloads = {f"synthetic {args.rows}x20": synthetic(args.rows)}
    if args.extracts.is_dir():
        books = real_workbooks(args.extracts)
        if books:
            workloads[f"{len(books)} real extracts"] = books
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for label, books in workloads.items():
            cells = sum(df.height * df.width for sheets in books for _, df, _ in sheets)
            best = {"xlsxwriter": math.inf, "pyexcelerate": math.inf}
            for _ in range(args.rounds):
                best["xlsxwriter"] = min(best["xlsxwriter"], timed(write_xlsx_xlsxwriter, books, tmp))
                best["pyexcelerate"] = min(best["pyexcelerate"], timed(X.write_xlsx, books, tmp))
            ratio = best["xlsxwriter"] / best["pyexcelerate"]
            print(json.dumps({"workload": label, "cells": cells, **best, "ratio_xlsxwriter_over_pyexcelerate": ratio}))


if __name__ == "__main__":
    main()
