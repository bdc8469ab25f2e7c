"""Where a figure comes from, in one step: its formula (the catalog's definition, rendered here and nowhere
else), the measures that went in for that unit-year with their values, and the landing files and row numbers
those measures were computed from (with the ledger's hash and load time of each file).

Pure functions over the snapshot (``provenance``) and over its result (``formula_text``, ``provenance_view``);
the profile page and the extracts call them.
"""

from __future__ import annotations

import re

import polars as pl
from dash import html

from .formatting import digits_for, fmt_value, formula_unit, labelled, shown_time, true_minus
from .i18n import t

IND = "marts.fct_city_indicator_year"
DIM_IND = "marts.dim_indicator"
INPUTS = "marts.fct_indicator_provenance"
SOURCE_ROWS = "marts.fct_unit_year_source_rows"
FILES = "raw.ingested_files"

# Component ids of the panel (the browser test finds them by these).
FORMULA_ID = "pf-prov-formula"
INPUTS_ID = "pf-prov-inputs"
SOURCES_ID = "pf-prov-sources"


def sources_of(source_table: str | None) -> list[str]:
    """The raw sources a catalog entry names ("training_events, population", "patent_grants or patent_stats")."""
    return [s for s in re.split(r"[^a-z_]+", source_table or "") if s and s not in ("or", "and")]


def formula_text(indicator: dict, lang: str = "zh") -> str:
    """The one rendering of an indicator's formula: ``CODE 名称 = formula (unit)`` from its catalog row."""
    name = indicator.get("name_en" if lang == "en" else "name_zh") or ""
    # the unit in the reader's language (the catalog's is Chinese: "(比率)" stood in the English panel)
    unit = f" ({formula_unit(indicator['unit'], lang)})" if indicator.get("unit") else ""
    return f"{indicator['indicator_code']} {name} = {indicator['formula']}{unit}"


def provenance(snap, unit_code: str, year: int, indicator_code: str) -> dict | None:
    """Everything behind one indicator value of one unit-year; None when the snapshot has no such value."""
    value = snap.query(
        f"select year, indicator_code, catalog_version, raw_value, value, is_imputed, normalised_score "
        f"from {IND} where unit_code = ? and year = ? and indicator_code = ?",
        (unit_code, int(year), indicator_code),
    )
    if value.is_empty():
        return None
    row = value.row(0, named=True)
    catalog = snap.query(
        f"select indicator_code, name_zh, name_en, definition, formula, unit, source_table from {DIM_IND} "
        "where catalog_version = ? and indicator_code = ?",
        (row["catalog_version"], indicator_code),
    ).row(0, named=True)
    # a carried-forward value was computed in the latest earlier year that had one
    computed_in = int(year)
    if row["is_imputed"]:
        earlier = snap.query(
            f"select max(year) as y from {IND} where unit_code = ? and indicator_code = ? and year < ? "
            "and raw_value is not null",
            (unit_code, indicator_code, int(year)),
        )["y"][0]
        computed_in = int(earlier) if earlier is not None else computed_in
    inputs = snap.query(
        f"select numerator_measure, numerator_value, numerator_scale, denominator_measure, denominator_value, "
        f"is_growth_rate from {INPUTS} where unit_code = ? and year = ? and indicator_code = ?",
        (unit_code, computed_in, indicator_code),
    )
    sources = sources_of(catalog["source_table"])
    rows = snap.query(
        f"select r.source_name, r.source_file, r.n_rows, r.row_ranges, r.n_row_ranges, f.file_hash, f.ingested_at "
        f"from {SOURCE_ROWS} r left join (select source, file_name, any_value(file_hash) as file_hash, "
        f"max(ingested_at) as ingested_at from {FILES} where status <> 'failed' group by source, file_name) f "
        "on f.source = r.source_name and f.file_name = r.source_file "
        "where r.unit_code = ? and r.year = ? and list_contains(string_split(?, ','), r.source_name) "
        "order by r.source_name, r.source_file",
        (unit_code, computed_in, ",".join(sources)),
    )
    return {
        "unit_code": unit_code,
        "year": int(year),
        "computed_in": computed_in,
        "indicator": catalog,
        "value": row,
        "inputs": inputs.row(0, named=True) if inputs.height else None,
        "source_rows": rows,
    }


def _num(v) -> str:
    if v is None:
        return "–"
    return true_minus(f"{v:,.6g}" if isinstance(v, float) else f"{v:,}")


def provenance_view(p: dict | None, lang: str) -> html.Div:
    """The panel: formula, inputs, source rows."""
    if p is None:
        return html.Div(t("prov_pick", lang), className="ipc-muted")
    v, ind = p["value"], p["indicator"]
    head = [
        html.H3(f"{ind['indicator_code']} · {p['year']}", className="ipc-prov-title"),
        html.P(
            [
                html.Strong(t("prov_value", lang) + ": "),
                # as the clicked cell shows it (formatting.fmt_value: a share as 67.3%, else in its unit): the
                # panel said 0.6731 under a cell reading 67.3%; the formula's own result below stays a fraction
                fmt_value(v["value"], ind.get("unit"), digits_for([v["value"]], ind.get("unit")), lang, with_unit=True)
                if v["value"] is not None
                else "–",
                " · " + labelled(t("prov_score", lang), _num(v["normalised_score"]), lang),
                (f" · {t('prov_imputed', lang).format(year=p['computed_in'])}" if v["is_imputed"] else ""),
            ]
        ),
    ]
    formula = html.Div(
        [html.Strong(t("prov_formula", lang) + ": "), html.Code(formula_text(ind, lang))],
        id=FORMULA_ID,
        className="ipc-prov-formula",
    )
    i = p["inputs"]
    if i is None:
        inputs = html.Div(t("prov_no_inputs", lang), id=INPUTS_ID, className="ipc-muted")
    else:
        lines = [(i["numerator_measure"], i["numerator_value"])]
        if i["denominator_measure"] is not None:
            lines.append((i["denominator_measure"], i["denominator_value"]))
        scale = f" × {_num(i['numerator_scale'])}" if i["numerator_scale"] not in (None, 1.0) else ""
        inputs = html.Div(
            [
                html.Strong(t("prov_inputs", lang).format(year=p["computed_in"]) + ":"),
                html.Table(
                    html.Tbody([html.Tr([html.Td(html.Code(m)), html.Td(_num(x))]) for m, x in lines]),
                    className="ipc-prov-table",
                ),
                html.P(
                    f"= {lines[0][0]}{scale}"
                    + (f" / {lines[1][0]}" if len(lines) > 1 else "")
                    + (" − 1" if i["is_growth_rate"] else "")
                    + f" = {_num(v['raw_value'] if not v['is_imputed'] else v['value'])}",
                    className="ipc-muted",
                ),
            ],
            id=INPUTS_ID,
        )
    src: pl.DataFrame = p["source_rows"]
    if src.is_empty():
        sources = html.Div(t("prov_no_rows", lang), id=SOURCES_ID, className="ipc-muted")
    else:
        header = html.Tr(
            [html.Th(t(k, lang)) for k in ("prov_source", "prov_file", "prov_rows", "prov_row_numbers", "prov_loaded")]
        )
        body = [
            html.Tr(
                [
                    html.Td(r["source_name"]),
                    html.Td(html.Code(r["source_file"]), title=f"sha256 {r['file_hash'] or '–'}"),
                    html.Td(_num(r["n_rows"])),
                    html.Td(r["row_ranges"] + (" …" if r["n_row_ranges"] > 50 else "")),
                    html.Td(shown_time(r["ingested_at"], lang) or "–"),
                ]
            )
            for r in src.iter_rows(named=True)
        ]
        sources = html.Div(
            [
                html.Strong(t("prov_sources", lang) + ":"),
                html.Table([html.Thead(header), html.Tbody(body)], className="ipc-prov-table"),
            ],
            id=SOURCES_ID,
        )
    return html.Div([*head, formula, inputs, sources], className="ipc-provenance")


def extract_provenance(snap, year: int) -> pl.DataFrame:
    """For an extract: per unit and indicator of ``year``, the formula (as ``formula_text`` renders it), the
    inputs as ``measure = value`` and the source files with their row numbers, so a figure in a downloaded file
    is traceable without the dashboard."""
    catalog = snap.query(
        f"select d.indicator_code, d.name_zh, d.name_en, d.formula, d.unit, d.source_table from {DIM_IND} d "
        f"where d.catalog_version = (select max(catalog_version) from {IND} where year = ?)",
        (int(year),),
    )
    formulas = catalog.select(
        "indicator_code",
        pl.struct(catalog.columns).map_elements(formula_text, return_dtype=pl.String).alias("formula_text"),
        pl.col("source_table").map_elements(sources_of, return_dtype=pl.List(pl.String)).alias("source_name"),
    )
    inputs = snap.query(
        f"select unit_code, indicator_code, numerator_measure, numerator_value, denominator_measure, "
        f"denominator_value from {INPUTS} where year = ?",
        (int(year),),
    ).select(
        "unit_code",
        "indicator_code",
        pl.concat_str(
            pl.format("{} = {}", "numerator_measure", pl.col("numerator_value").round(4).cast(pl.String)),
            pl.when(pl.col("denominator_measure").is_not_null()).then(
                pl.format("{} = {}", "denominator_measure", pl.col("denominator_value").round(4).cast(pl.String))
            ),
            separator="; ",
            ignore_nulls=True,
        ).alias("inputs_text"),
    )
    rows = snap.query(
        f"select unit_code, source_name, source_file, row_ranges, n_row_ranges from {SOURCE_ROWS} where year = ?",
        (int(year),),
    ).select(
        "unit_code",
        "source_name",
        pl.format(
            "{} 行 {}{}",
            "source_file",
            "row_ranges",
            pl.when(pl.col("n_row_ranges") > 50).then(pl.lit(" …")).otherwise(pl.lit("")),
        ).alias("rows_text"),
    )
    sources = (
        formulas.select("indicator_code", "source_name")
        .explode("source_name")
        .join(rows, on="source_name")
        .group_by("unit_code", "indicator_code")
        .agg(pl.col("rows_text").sort().str.join("; ").alias("source_rows_text"))
    )
    return (
        inputs.join(formulas.select("indicator_code", "formula_text"), on="indicator_code", how="left")
        .join(sources, on=["unit_code", "indicator_code"], how="left")
        .select("unit_code", "indicator_code", "formula_text", "inputs_text", "source_rows_text")
    )
