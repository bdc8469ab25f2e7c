"""XLSX for the dashboard's downloads and the provincial extracts, written with pyexcelerate (the project keeps
file formats to maintained libraries; this module used to write the OOXML by hand).

Why pyexcelerate rather than xlsxwriter: speed in a callback. xlsxwriter writes cell by cell through Python
objects; pyexcelerate takes whole rows and renders the sheet XML from one template. Measured on the all-cities
indicator extract (6,821 rows × 16 columns, ``xlsx_bytes`` alone, two runs on a shared, loaded 2-core machine):
xlsxwriter 0.9–1.8 s, pyexcelerate 0.6–1.2 s, the former hand-written writer (sheet XML built column-wise by
Polars) 0.13–0.25 s. So the library is ~1.3–1.8× faster than xlsxwriter but ~4–7× slower than hand-written XML;
a download is encoded once per snapshot version and then served from the snapshot cache. ``_Writer`` keeps
pyexcelerate's own XML and only joins its per-cell output into 64 KiB pieces before zlib (one zlib call per cell
was a third of its time).

The one trap: pyexcelerate writes any ``str`` starting with "=" as a FORMULA (``pyexcelerate.DataTypes.get_type``)
and has no "strings are strings" switch. So every value goes through ``sheet_rows`` first: text columns are
neutralised with ``dashboards.security.neutralise_text`` (a leading apostrophe before "=", "+", "-", "@", tab,
CR, LF and their full-width forms, OWASP's advice) and header text with ``neutralise_cell``. No string handed to
pyexcelerate starts with "=", so no text from the data is ever written as a formula.
"""

from __future__ import annotations

import io

import polars as pl
from pyexcelerate import Font, Panes, Style, Workbook
from pyexcelerate.Range import Range
from pyexcelerate.Writer import Writer

from .security import neutralise_cell, neutralise_text

BOLD = Style(font=Font(bold=True))


def _dimension(ws) -> str:
    return "A1:" + Range.coordinate_to_string((max(1, ws.num_rows), max(1, ws.num_columns)))


# pyexcelerate's loop over a row's cells, and the same text joined in one step: the template has no autoescape,
# so ``{{ cell }}`` is ``str(cell)`` and ``join`` gives byte for byte the same XML, without a trip through
# Jinja's generator per cell (1.7 M cells in the provincial extracts; that loop was a fifth of a workbook's time).
_CELL_LOOP = "{% for cell in row %}{{ cell }}{% endfor %}"
_CELL_JOIN = '{{ row|join("") }}'


def _sheet_template():
    """pyexcelerate's own sheet template plus the ``<dimension>`` element it leaves out (its place in the schema is
    right before ``<sheetViews>``). Without it openpyxl's read-only mode (and pandas through it) returns each row
    only up to its last non-empty cell, so a row ending in empty cells comes back short. Each row's cells (the
    XML pyexcelerate makes for them) are joined at once rather than looped over (``_CELL_JOIN``)."""
    env = Writer.env
    assert not env.autoescape, "pyexcelerate's template environment escapes now: check _CELL_JOIN"
    source = env.loader.get_source(env, "xl/worksheets/sheet.xml")[0]
    marker = "<sheetViews>"
    assert source.count(marker) == 1, "pyexcelerate's sheet template changed: check _sheet_template"
    assert source.count(_CELL_LOOP) == 1, "pyexcelerate's sheet template changed: check _CELL_JOIN"
    source = source.replace(marker, '<dimension ref="{{ dimension(worksheet) }}"/>' + marker)
    source = source.replace(_CELL_LOOP, _CELL_JOIN)
    return env.from_string(source, globals={"dimension": _dimension})


class _Chunked:
    """A sheet template whose output is joined into 64 KiB pieces: pyexcelerate hands every cell's XML to zipfile
    as a separate write (one zlib call per cell), which was a third of its time."""

    def __init__(self, template):
        self.template = template

    def generate(self, *args, **kwargs):
        buf, size = [], 0
        for piece in self.template.generate(*args, **kwargs):
            buf.append(piece)
            size += len(piece)
            if size >= 1 << 16:
                yield "".join(buf)
                buf, size = [], 0
        if buf:
            yield "".join(buf)


# docProps/core.xml with the document properties (pyexcelerate writes creator and dates only): the values are
# escaped by the template (its environment does not autoescape).
_CORE_PROPERTIES = Writer.env.from_string(
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    "{% if title %}<dc:title>{{ title|e }}</dc:title>{% endif %}"
    "{% if subject %}<dc:subject>{{ subject|e }}</dc:subject>{% endif %}"
    "{% if description %}<dc:description>{{ description|e }}</dc:description>{% endif %}"
    "{% if keywords %}<cp:keywords>{{ keywords|e }}</cp:keywords>{% endif %}"
    "<dc:creator>IP Strong-City Monitor</dc:creator>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">{{ date }}</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">{{ date }}</dcterms:modified>'
    "</cp:coreProperties>"
)


class _Writer(Writer):
    """pyexcelerate's own writer (same parts, same XML plus ``<dimension>``) with chunked sheet output and zlib
    level 1 (a download is written once and fetched once; level 6 costs more time than its bytes save). Relies on
    internals of the pinned pyexcelerate 0.13.0 (``Writer.env``, ``_worksheet_template``, ``Workbook._writer``)."""

    _worksheet_template = _Chunked(_sheet_template())

    properties: dict[str, str] | None = None  # document properties (title, subject, description, keywords)

    def _render_template_wb(self, template, extra_context=None):
        if template is Writer._docProps_core_template and self.properties:
            return _CORE_PROPERTIES.render({**(extra_context or {}), **self.properties}).encode("utf-8")
        return super()._render_template_wb(template, extra_context)

    def save(self, file, **kwargs):
        return super().save(file, compresslevel=1, **kwargs)


def new_workbook(properties: dict[str, str] | None = None) -> Workbook:
    wb = Workbook()
    wb._writer = _Writer(wb)
    wb._writer.properties = properties
    return wb


def add_nature(wb: Workbook, nature) -> None:
    """The note sheet saying which data are synthetic and which real (``pipelines.data_nature.DataNature``), after
    the data sheets: a script reading the first sheet still reads the data."""
    rows = [[neutralise_cell(a), neutralise_cell(b)] for a, b in nature.note_rows()]
    add_table(wb, "数据说明 About", rows, [24, 120])


def spreadsheet_frame(df: pl.DataFrame, *, inf_as_error: bool = False) -> pl.DataFrame:
    """``df`` as pyexcelerate should see it: numbers and booleans as they are, NaN (and ±inf unless
    ``inf_as_error``) as null (an empty cell), everything else as neutralised text."""
    exprs = []
    for name, dtype in df.schema.items():
        x = pl.col(name)
        if dtype == pl.Boolean:
            continue
        if dtype == pl.Decimal:
            exprs.append(x.cast(pl.Float64))
        elif dtype.is_float():
            exprs.append(x.fill_nan(None) if inf_as_error else pl.when(x.is_finite()).then(x).otherwise(None))
        elif dtype.is_numeric():
            continue
        elif dtype.is_nested() or dtype == pl.Object:
            exprs.append(x.map_elements(str, return_dtype=pl.String))
        elif dtype != pl.String:
            exprs.append(x.cast(pl.String))  # dates, times, categoricals: their text
    out = df.with_columns(exprs) if exprs else df
    return neutralise_text(out)


def sheet_rows(df: pl.DataFrame, *, inf_as_error: bool = False) -> list[list]:
    """The header row (neutralised text) and the data rows of ``df``, ready for ``Workbook.new_sheet``."""
    out = spreadsheet_frame(df, inf_as_error=inf_as_error)
    return [[neutralise_cell(str(c)) for c in df.columns], *(list(r) for r in out.iter_rows())]


def add_table(wb: Workbook, name: str, rows: list[list], widths: list[float], header_style: Style = BOLD) -> None:
    """One sheet: ``rows`` (header first, from ``sheet_rows``), the header styled and frozen, column widths."""
    ws = wb.new_sheet(name, data=rows)
    for j in range(1, len(rows[0]) + 1):
        ws.set_cell_style(1, j, header_style)
    ws.panes = Panes(y=1)
    for j, w in enumerate(widths, start=1):
        ws.set_col_style(j, Style(size=w))


def xlsx_bytes(df: pl.DataFrame, sheet: str = "Sheet1", nature=None) -> bytes:
    """One sheet, bold frozen header row, numbers as numbers, booleans, None/NaN/inf as empty, text as text; with
    ``nature`` (``pipelines.data_nature.DataNature``) the note sheet and document properties saying which data are
    synthetic."""
    rows = sheet_rows(df)
    widths = []
    for j, name in enumerate(df.columns):
        longest = max([len(str(name))] + [len(str(r[j])) for r in rows[1:201] if r[j] is not None])
        widths.append(min(60, max(8, 2 * longest + 2)))  # CJK characters are about two columns wide
    wb = new_workbook(nature.document_properties() if nature is not None else None)
    add_table(wb, sheet, rows, widths)
    if nature is not None:
        add_nature(wb, nature)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
