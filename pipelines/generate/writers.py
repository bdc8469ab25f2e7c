"""File formats offices actually send: GBK or BOM-prefixed CSV with Chinese headers, Excel with a title row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import xlsxwriter

from pipelines.sources import SOURCES

# Fixed workbook timestamp so the same seed gives byte-identical files.
_WORKBOOK_CREATED = dt.datetime(2000, 1, 1)


def chinese_headers(source: str) -> dict[str, str]:
    """Contract column -> its first Chinese alias (the header an office would use)."""
    return {c.name: next((a for a in c.aliases if not a.isascii()), c.name) for c in SOURCES[source].columns}


def write_csv(frame: pl.DataFrame, path: Path, encoding: str = "utf-8", headers: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (frame.rename(headers, strict=False) if headers else frame).write_csv()
    path.write_bytes(text.encode(encoding))
    return path


def write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, statistics=True)
    return path


def write_xlsx_with_title(frame: pl.DataFrame, path: Path, title: str, headers: dict[str, str]) -> Path:
    """One sheet: a merged title line, then the header row, then the data; dates as real Excel dates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    workbook.set_properties({"created": _WORKBOOK_CREATED, "author": "sample generator"})
    sheet = workbook.add_worksheet("统计表")
    date_fmt = workbook.add_format({"num_format": "yyyy-mm-dd"})
    bold = workbook.add_format({"bold": True})
    sheet.merge_range(0, 0, 0, frame.width - 1, title, bold)
    sheet.write_row(1, 0, [headers.get(c, c) for c in frame.columns], bold)
    date_cols = {i for i, dtype in enumerate(frame.dtypes) if dtype == pl.Date}
    for r, row in enumerate(frame.iter_rows(), start=2):
        for c, value in enumerate(row):
            if value is None:
                continue
            if c in date_cols:
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_fmt)
            else:
                sheet.write(r, c, value)
    workbook.close()
    return path
