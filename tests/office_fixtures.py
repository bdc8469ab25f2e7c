"""Shared helpers of the office-file tests (round 12 on): ingest a pledge file checking rows in = loaded + quarantined,
what a file loaded and why rows were refused, the ledger's line, and workbook builders for shapes only some
programs write (WPS 表格). One place, so later rounds reuse them instead of copying."""

from __future__ import annotations

from test_ingest_loaders import PLEDGE, TODAY

from pipelines.ingest.load import ingest_file

PLEDGE_CODES = "城市代码,月份,登记笔数,质押金额(万元),质押专利数,质押商标数,服务企业数,首贷企业数"


def ingest_counted(con, path, partition=2025):
    r = ingest_file(con, PLEDGE, path, partition=partition, today=TODAY)
    assert r.rows_read == r.rows_loaded + r.rows_rejected
    return r


def loaded_of(con, file_name: str) -> list[tuple]:
    return con.execute(
        "SELECT city_code, strftime(month, '%Y-%m') FROM raw.pledge_loans WHERE _source_file = ? "
        "AND city_code NOT IN ('110100', '120100') ORDER BY _row_number",
        [file_name],
    ).fetchall()


def reasons_of(con, file_name: str) -> dict[int, str]:
    rows = con.execute(
        "SELECT row_number, reason FROM raw.rejected_rows WHERE file_name = ? AND reason NOT LIKE 'duplicate%'",
        [file_name],
    ).fetchall()
    return dict(rows)


def status_of(con, file_name: str) -> tuple[int, int, str]:
    return con.execute(
        "SELECT rows_loaded, rows_rejected, message FROM raw.ingested_files WHERE file_name = ?", [file_name]
    ).fetchone()


def wps_workbook(path):
    """An .xlsx the way WPS 表格 saves one: docProps/app.xml naming WPS, the 1904 date system flag, dates as numbers
    with a date format, formulas with their cached values, a merged title, and strings inline (no
    sharedStrings part). xlsxwriter writes the rest; the parts only WPS does are edited in the saved XML."""
    import datetime as dt
    import io
    import re
    import zipfile

    import xlsxwriter

    raw = io.BytesIO()
    wb = xlsxwriter.Workbook(raw, {"date_1904": True, "in_memory": True})
    ws, month = wb.add_worksheet("Sheet1"), wb.add_format({"num_format": "yyyy-mm"})
    ws.merge_range(0, 0, 0, 7, "2025年质押融资统计表")
    ws.write_row(1, 0, PLEDGE_CODES.split(","))
    for r, (code, m, n, amount) in enumerate([("440300", 3, 2, 20.5), ("440100", 4, 3, 30)], start=2):
        ws.write_string(r, 0, code)
        ws.write_datetime(r, 1, dt.datetime(2025, m, 1), month)
        ws.write_row(r, 2, [n, amount])
        ws.write_formula(r, 4, f"=C{r + 1}*2", None, n * 2)  # the cached value WPS stores
        ws.write_row(r, 5, [0, 1, 0])
    wb.close()
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    strings = re.findall(rb"<t[^>]*>(.*?)</t>", src.read("xl/sharedStrings.xml"))

    def inline(m):
        return b'<c r="%s"%s t="inlineStr"><is><t>%s</t></is></c>' % (m[1], m[2] or b"", strings[int(m[3])])

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/sharedStrings.xml":
                continue
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb'<c r="([A-Z]+\d+)"( s="\d+")? t="s"><v>(\d+)</v></c>', inline, data)
            if item.filename in ("[Content_Types].xml", "xl/_rels/workbook.xml.rels"):
                data = re.sub(rb"<(?:Override|Relationship)[^>]*sharedStrings[^>]*/>", b"", data)
            if item.filename == "docProps/app.xml":
                data = re.sub(rb"<Application>.*?</Application>", "<Application>WPS 表格</Application>".encode(), data)
            z.writestr(item.filename, data)
    return path
