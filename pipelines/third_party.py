"""The third-party evaluation template (每三年期开展一轮第三方评估): the file an evaluator fills and uploads.

The platform generates it from the contract (``pipelines.sources.THIRD_PARTY_EVALUATIONS``): Chinese headers
(the contract's first Chinese alias, which the loader maps back), one pre-filled row per programme unit and
cycle whose evaluation is still pending, and a second sheet that explains every column. Filled in, it lands
in ``landing/third_party_evaluations/`` and is validated like every landing file (quarantine, accounting).

Every text cell is written as a string (xlsxwriter ``write_string``) so a unit name or a finding that starts
with "=" never becomes a formula; the CSV variant prefixes such cells with an apostrophe.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from pipelines.sources import THIRD_PARTY_EVALUATIONS, Column

SOURCE = THIRD_PARTY_EVALUATIONS
TEMPLATE_SHEET = "第三方评估"
NOTES_SHEET = "填写说明"

_NOTES_ZH = {
    "city_code": "6位行政区划代码(GB/T 2260),由平台预填",
    "unit_name": "城市或城区名称,由平台预填",
    "cycle_first_year": "评估周期起始年,由平台预填",
    "cycle_last_year": "评估周期结束年,由平台预填",
    "evaluator": "第三方评估机构全称",
    "report_version": "报告版本号(1、2…);更正时提交更高版本,平台以最高版本为准",
    "evaluated_on": "评估报告日期(YYYY-MM-DD),不得晚于提交日",
    "score_mgt": "管理能力提升工程得分(0-100)",
    "score_pro": "知识产权大保护工程得分(0-100)",
    "score_utl": "知识产权运用促进工程得分(0-100)",
    "score_qlt": "知识产权质量提升工程得分(0-100)",
    "score_env": "知识产权发展环境建设工程得分(0-100)",
    "site_visit_score": "现场核查得分(0-100)",
    "site_visit_date": "现场核查日期(YYYY-MM-DD,可空),不得晚于报告日期",
    "document_review_score": "材料审查得分(0-100)",
    "findings": "主要发现(文字,最多2000字)",
    "site_visit_findings": "现场核查发现(文字,最多2000字)",
    "document_review_findings": "材料审查发现(文字,最多2000字)",
}
_TYPE_ZH = {"str": "文本", "int": "整数", "float": "数值", "date": "日期", "bool": "是/否"}


def header(c: Column) -> str:
    """The Chinese header of a contract column (its first non-ASCII alias), as the loader accepts it."""
    return next((a for a in c.aliases if not a.isascii()), c.name)


def pending_cycles(db_path: Path) -> pl.DataFrame:
    """Programme units and cycles still waiting for a third-party evaluation, from a warehouse or snapshot."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.sql(
            "SELECT unit_code AS city_code, unit_name, cycle_first_year, cycle_last_year "
            "FROM marts.fct_third_party_evaluation WHERE status = 'pending' "
            "ORDER BY cycle_first_year NULLS LAST, unit_code NULLS LAST"
        ).pl()
    finally:
        con.close()


def template_frame(rows: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every contract column (contract names), with the pre-filled rows (missing columns empty)."""
    cols = [c.name for c in SOURCE.columns]
    if rows is None or rows.height == 0:
        return pl.DataFrame(schema={c: pl.String for c in cols})
    return rows.select(
        [(pl.col(c).cast(pl.String) if c in rows.columns else pl.lit(None, pl.String)).alias(c) for c in cols]
    )


def _neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """The text columns' cells that a spreadsheet would run as a formula get a leading apostrophe, in the CSV and
    the workbook alike (the one rule every export uses, dashboards.security; OWASP CSV injection). The pre-filled
    names come from the warehouse, so they are data like any other."""
    from dashboards.security import neutralise_text

    text = [c.name for c in SOURCE.columns if c.dtype == "str"]
    return frame.with_columns(neutralise_text(frame.select(text)).get_columns())


def write_template(path: Path, rows: pl.DataFrame | None = None, created: datetime | None = None, nature=None) -> Path:
    """Write the template as .xlsx (data sheet + notes sheet) or .csv (UTF-8 with BOM), by the suffix.
    ``created`` fixes the workbook's creation time (the seeded sample is byte-identical for a seed). ``nature``
    (data_nature.DataNature of the snapshot the rows were pre-filled from): the file says what they are drawn from,
    as every download does — the per-row provenance column last (the loader ignores an extra column, by name, so a
    filled template still loads), and in a workbook its document properties and a note on the notes sheet."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = template_frame(rows)
    headers = [header(c) for c in SOURCE.columns]
    if path.suffix.lower() == ".csv":
        safe = _neutralised(frame).rename(dict(zip(frame.columns, headers, strict=True)))
        if nature is not None:
            from pipelines.data_nature import with_provenance_column

            safe = with_provenance_column(safe, nature)
        text = safe.write_csv()
        path.write_bytes(text.encode("utf-8-sig"))
        return path
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"template must be .xlsx or .csv, not {path.suffix!r}")
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False})
    if created is not None or nature is not None:
        wb.set_properties(
            {
                **({"created": created} if created is not None else {}),
                **(nature.document_properties() if nature is not None else {}),
            }
        )
    try:
        bold = wb.add_format({"bold": True, "bg_color": "#EEEEEE", "border": 1})
        text_fmt = wb.add_format({"num_format": "@"})
        ws = wb.add_worksheet(TEMPLATE_SHEET)
        for j, (c, h) in enumerate(zip(SOURCE.columns, headers, strict=True)):
            ws.write_string(0, j, h, bold)
            ws.set_column(j, j, max(12, min(40, 2 * len(h) + 4)), text_fmt if c.dtype == "str" else None)
            if c.dtype == "float" and c.min_value is not None and c.max_value is not None:
                ws.data_validation(
                    1,
                    j,
                    1000,
                    j,
                    {
                        "validate": "decimal",
                        "criteria": "between",
                        "minimum": c.min_value,
                        "maximum": c.max_value,
                        "error_message": f"{h}: {c.min_value:g}-{c.max_value:g}",
                    },
                )
        if nature is not None:
            ws.write_string(0, len(headers), nature.header(), bold)
            ws.set_column(len(headers), len(headers), 24)
            for i in range(1, frame.height + 1):
                ws.write_string(i, len(headers), nature.row_value())
        for i, row in enumerate(_neutralised(frame).iter_rows(), start=1):
            for j, (c, value) in enumerate(zip(SOURCE.columns, row, strict=True)):
                if value is None or value == "":
                    continue
                if c.dtype in ("int", "float"):
                    ws.write_number(i, j, float(value))
                else:
                    ws.write_string(i, j, str(value))  # never a formula
        ws.freeze_panes(1, 0)
        notes = wb.add_worksheet(NOTES_SHEET)
        for j, h in enumerate(("列名", "字段", "类型", "必填", "范围", "说明")):
            notes.write_string(0, j, h, bold)
        for i, c in enumerate(SOURCE.columns, start=1):
            rng = ""
            if c.min_value is not None or c.max_value is not None:
                rng = f"{'' if c.min_value is None else f'{c.min_value:g}'}-{'' if c.max_value is None else f'{c.max_value:g}'}"
            for j, v in enumerate(
                (header(c), c.name, _TYPE_ZH[c.dtype], "是" if c.required else "否", rng, _NOTES_ZH.get(c.name, ""))
            ):
                notes.write_string(i, j, v)
        if nature is not None:
            below = len(SOURCE.columns) + 2
            for k, (name, value) in enumerate(nature.note_rows()):
                notes.write_string(below + k, 0, name)
                notes.write_string(below + k, 1, value)
        notes.set_column(0, 0, 22)
        notes.set_column(5, 5, 60)
    finally:
        wb.close()
    return path
