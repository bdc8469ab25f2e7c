"""Writing Excel 97-2003 workbooks (.xls, BIFF8) in tests: the same workbook an .xlsx test uses, "saved as .xls".

xlwt (a test dependency only: unmaintained, but it writes BIFF8 as Excel does) writes the cells openpyxl reads from
the .xlsx: values (numbers, text, booleans, dates as serials under their date format), error cells, number
formats, merged ranges, hidden sheets, rows and columns. Formulas are written as their saved results, which is what a .xls holds
for the reader (BIFF stores each formula's result with it).
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import xlrd


def xls_from_xlsx(xlsx: Path, xls: Path) -> Path:
    """Writes the workbook ``xlsx`` again as the .xls ``xls``: every sheet, cell, number format, merge and hidden
    sheet."""
    import openpyxl
    import xlwt

    src = openpyxl.load_workbook(xlsx, data_only=True)
    out = xlwt.Workbook(encoding="utf-8")
    styles: dict[str, object] = {}
    # xlrd's table read backwards: xlwt's own maps '#VALUE!' to the code of '#NUM!' and has no '#N/A'
    error_codes = {text: code for code, text in xlrd.error_text_from_code.items()}

    def style(fmt: str):
        if fmt not in styles:
            styles[fmt] = xlwt.XFStyle()
            styles[fmt].num_format_str = fmt
        return styles[fmt]

    for ws in src.worksheets:
        sheet = out.add_sheet(ws.title, cell_overwrite_ok=True)
        sheet.visibility = {"hidden": 1, "veryHidden": 2}.get(ws.sheet_state, 0)
        for row in ws.iter_rows():
            for c in row:
                v, r, col = c.value, c.row - 1, c.column - 1
                if v is None:
                    continue
                if c.data_type == "e":
                    sheet.row(r).set_cell_error(col, error_codes[v])
                elif isinstance(v, bool):
                    sheet.row(r).set_cell_boolean(col, v)
                elif isinstance(v, (date, datetime, time)):
                    fmt = c.number_format if c.number_format != "General" else "yyyy-mm-dd"
                    sheet.write(r, col, v, style(fmt))
                elif isinstance(v, (int, float)):
                    sheet.write(r, col, float(v), style(c.number_format))
                else:
                    sheet.write(r, col, str(v), style(c.number_format))
        for rng in ws.merged_cells.ranges:
            sheet.merge(rng.min_row - 1, rng.max_row - 1, rng.min_col - 1, rng.max_col - 1)
        for r, dim in ws.row_dimensions.items():
            if dim.hidden:
                sheet.row(r - 1).hidden = True
        for dim in ws.column_dimensions.values():
            if dim.hidden:
                for c in range(dim.min, dim.max + 1):
                    sheet.col(c - 1).hidden = True
    src.close()
    xls.parent.mkdir(parents=True, exist_ok=True)
    out.save(str(xls))
    assert xls.read_bytes().startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")  # OLE2: a real .xls
    return xls


def save_as_xls(wb, xls: Path) -> Path:
    """An openpyxl workbook built in a test, saved as .xls (through an .xlsx beside it)."""
    xlsx = xls.with_name(xls.stem + ".__source.xlsx")
    xlsx.parent.mkdir(parents=True, exist_ok=True)
    wb.save(xlsx)
    try:
        return xls_from_xlsx(xlsx, xls)
    finally:
        xlsx.unlink()
