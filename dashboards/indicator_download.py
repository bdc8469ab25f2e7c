"""Indicator extracts for download. Every download, from the page button or the /download URL, goes through
``prepare_download``, which calls ``dashboards.access.authorize`` first (the one permission function), and every
encoded file has its text neutralised so no cell becomes a formula."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.data_nature import DataNature, nature_of, with_provenance_column
from pipelines.extracts import HEADERS as EXTRACT_FILE_HEADERS
from pipelines.labels import YES_NO_ZH

from . import access, provenance, queries
from .security import neutralise_text
from .xlsx import xlsx_bytes

FORMATS = ("csv", "xlsx")

# The indicator download's columns, in output order, under the provincial extracts' Chinese headers (one
# header list for every file an office receives).
EXTRACT_HEADERS: dict[str, str] = {
    c: EXTRACT_FILE_HEADERS[c]
    for c in (
        "year",
        "province_name",
        "unit_code",
        "unit_name",
        "pillar_name_zh",
        "indicator_code",
        "name_zh",
        "unit",
        "raw_value",
        "value",
        "is_imputed",
        "normalised_score",
        "catalog_version",
        # provenance of the figure (dashboards/provenance.py)
        "formula_text",
        "inputs_text",
        "source_rows_text",
    )
}


DownloadDenied = access.AccessDenied


@dataclass(frozen=True)
class DownloadFile:
    filename: str
    content: bytes
    mimetype: str
    rows: int


def indicator_extract(snap, year: int, province_code: str | None = None) -> pl.DataFrame:
    """The year's indicator values per unit, with Chinese headers, for one province or all units."""
    units = queries.units(snap)
    if province_code:
        units = units.filter(pl.col("province_code") == province_code)
    cat = queries.indicator_catalog(snap, year).select(
        "indicator_code", "pillar_code", "pillar_name_zh", "name_zh", "unit"
    )
    ind = queries.indicator_year(snap, year).join(
        units.select("unit_code", "unit_name", "province_name"), on="unit_code"
    )
    df = (
        ind.join(cat, on="indicator_code", how="left")
        .join(provenance.extract_provenance(snap, year), on=["unit_code", "indicator_code"], how="left")
        .with_columns(
            year=pl.lit(year, pl.Int32),
            is_imputed=pl.when(pl.col("is_imputed")).then(pl.lit(YES_NO_ZH[0])).otherwise(pl.lit(YES_NO_ZH[1])),
            raw_value=pl.col("raw_value").round(4),
            value=pl.col("value").round(4),
            normalised_score=pl.col("normalised_score").round(2),
        )
        .sort("unit_code", "pillar_code", "indicator_code")
    )
    return df.select(list(EXTRACT_HEADERS)).rename(EXTRACT_HEADERS)


def to_csv_bytes(df: pl.DataFrame, nature: DataNature) -> bytes:
    # The BOM makes Excel on Chinese Windows read UTF-8 instead of guessing GBK. Each row says whether its figures
    # are synthetic (the last column, pipelines/data_nature.py): the header stays the first line.
    return b"\xef\xbb\xbf" + neutralise_text(with_provenance_column(df, nature)).write_csv().encode("utf-8")


def to_xlsx_bytes(df: pl.DataFrame, nature: DataNature, sheet: str = "指标数据") -> bytes:
    # Inline strings are never formulas, but a user who edits and re-enters such a cell would make one.
    return xlsx_bytes(neutralise_text(with_provenance_column(df, nature)), sheet, nature=nature)


def prepare_download(snap, principal: access.Principal, year: int, province_code: str | None, fmt: str) -> DownloadFile:
    """The single download path: permission check, extract, encode."""
    access.authorize(principal, "download", province=province_code, all_provinces=province_code is None)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    return snap.cached(("download", year, province_code, fmt), lambda: _encode(snap, year, province_code, fmt))


def _encode(snap, year: int, province_code: str | None, fmt: str) -> DownloadFile:
    # Cached per snapshot version by the caller.
    df = indicator_extract(snap, year, province_code)
    nature = nature_of(snap)
    scope = province_code or "all"
    name = f"ipcity_indicators_{year}_{scope}.{fmt}"
    if fmt == "csv":
        return DownloadFile(name, to_csv_bytes(df, nature), "text/csv; charset=utf-8", df.height)
    return DownloadFile(
        name, to_xlsx_bytes(df, nature), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", df.height
    )
