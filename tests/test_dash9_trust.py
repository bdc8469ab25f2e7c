"""Round 9 of "a dashboard officials trust": a chart's title is not the heading of its page's next section (the
compare heatmap was titled as the strengths list below it); a stacked chart's legend runs as its stack does, top of
the legend = top of the stack (tests/test_group_legend_order.py); the synthetic-data note drawn in every chart reads
over any fill (it was a faint grey over the map's grey provinces); the city profile's third-party score carries the
report-conflict mark the programmes page and the dossier show.

Pure functions over small frames; the real app and a real DuckDB snapshot (a copy of the session's sample run) for
the page and the query. tests/e2e/test_dash9_browser.py shows the same to a person."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import plotly.graph_objects as go
import pytest
from dashboard_fixtures import year_and_units

from dashboards import figures
from dashboards.i18n import t
from pipelines.data_nature import DataNature
from pipelines.labels import label_text

NOTE = DataNature().row_value()


# -- 1. a chart's title is not a section heading of its page ------------------------------------------------------


@pytest.fixture(scope="module")
def national(sample_snapshot, tmp_path_factory):
    from dashboard_fixtures import national_client

    return national_client(sample_snapshot.snapshot, tmp_path_factory.mktemp("dash9_access"))


def _post(client, body) -> dict:
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return json.loads(r.get_data(as_text=True))["response"]


def headings(node) -> list[str]:
    """Every H1–H4 text of a Dash layout as the page router sends it (JSON of components)."""
    found = []
    if isinstance(node, list):
        for child in node:
            found += headings(child)
    elif isinstance(node, dict):
        props = node.get("props") or {}
        if node.get("type") in ("H1", "H2", "H3", "H4") and isinstance(props.get("children"), str):
            found.append(props["children"])
        for value in props.values():
            if isinstance(value, (list, dict)):
                found += headings(value)
    return found


def bare_title(title: str, lang: str) -> str:
    """A chart's title without its year (figures.year_title adds " · 2025年" / " · 2025")."""
    suffix = re.escape(t("title_year", lang)).replace(re.escape("{title}"), "").replace(re.escape("{year}"), r"\d{4}")
    return re.sub(suffix + "$", "", title)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_chart_of_the_compare_page_is_titled_as_one_of_its_sections(national, sample_snapshot, lang):
    """zh_1366_compare: "相对示范城市平均水平的优势与短板 · 2025年" over the heatmap, then the same words as the
    heading of the list under it: an official read one section twice, or took the heatmap for the list."""
    from dashboard_http import callback_body, page_body

    from dashboards.payloads import COMPARE_OUTPUTS

    year, codes = year_and_units(sample_snapshot.snapshot)
    page = _post(national, page_body("/compare", f"?lang={lang}&year={year}&units={codes[0]},{codes[-1]}"))
    heads = set(headings(page["_pages_content"]["children"]))
    assert t("cmp_sw", lang) in heads, heads  # the page's sections were read
    got = _post(
        national,
        callback_body(
            COMPARE_OUTPUTS,
            [("cmp-year", "value", year), ("cmp-units", "value", [codes[0], codes[-1]])],
            [("cmp-lang", "data", lang)],
        ),
    )
    titles = {
        graph: bare_title(got[graph]["figure"]["layout"]["title"]["text"], lang)
        for graph in ("cmp-radar", "cmp-heatmap")
    }
    assert all(titles.values()), titles
    assert not set(titles.values()) & heads, (titles, heads)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_heatmaps_title_says_what_its_cells_are(lang):
    import polars as pl

    units = pl.DataFrame({"unit_code": ["1", "2"], "unit_name": ["甲市", "乙市"], "unit_name_en": ["A", "B"]})
    catalog = pl.DataFrame({"indicator_code": ["MGT01"], "name_zh": ["培训"], "name_en": ["Training"]})
    matrix = pl.DataFrame({"unit_code": ["1", "2"], "indicator_code": ["MGT01"] * 2, "diff": [3.0, -4.0]})
    fig = figures.strength_heatmap(matrix, units, catalog, ["1", "2"], lang, extent=10.0, year=2025)
    title = fig.layout.title.text
    assert bare_title(title, lang) == t("cmp_heat_title", lang) and "2025" in title
    assert bare_title(title, lang) not in {t("cmp_sw", lang), t("cmp_table", lang)}


# -- 3. the data note reads over any fill ---------------------------------------------------------------------------


def _rgba(colour: str) -> tuple[float, float, float, float]:
    colour = colour.strip()
    if colour.startswith("#"):
        h = colour[1:]
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0
    parts = [float(x) for x in re.findall(r"[\d.]+", colour)]
    return parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0


def _over(top: str | tuple, below: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b, a = _rgba(top) if isinstance(top, str) else top
    return tuple(a * c + (1 - a) * d for c, d in zip((r, g, b), below))


def _luminance(rgb) -> float:
    def f(v):
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * f(rgb[0]) + 0.7152 * f(rgb[1]) + 0.0722 * f(rgb[2])


def contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# the fills a chart draws under its middle: the map's no-data grey and its non-programme grey, the heatmap's missing
# cells, the group colours, and the extremes
FILLS = ["#000000", "#ffffff", figures.NO_DATA_COLOR, "#B8B8B8", "#9ca3af", "#0072B2", "#CC79A7", "#E69F00"]


@pytest.mark.parametrize("fill", FILLS)
def test_the_data_note_reads_over_any_fill(fill):
    """map_zh_1366: "合成示例 / Synthetic sample", 22 % grey and bare, vanished over the grey provinces. On its own
    box the text keeps at least 7 : 1 (WCAG AAA) against what lies behind it, whatever the fill."""
    fig = figures.stamp_data_note(go.Figure(go.Bar(x=[1], y=[1])), NOTE)
    note = next(a for a in fig["layout"]["annotations"] if a["name"] == figures.DATA_NOTE_NAME)
    assert note.get("bgcolor"), "the note has no box of its own"
    behind = _over(note["bgcolor"], _rgba(fill)[:3])
    text = _over(note["font"]["color"], behind)
    assert contrast(text, behind) >= 7, (fill, note["font"], note["bgcolor"], contrast(text, behind))
    assert note["font"]["size"] >= 14  # read on a projector too


def test_the_note_box_leaves_the_data_under_it_visible():
    """The box is a veil, not a patch: a bar or a province under the note still shows."""
    fig = figures.stamp_data_note(go.Figure(go.Bar(x=[1], y=[1])), NOTE)
    note = next(a for a in fig["layout"]["annotations"] if a["name"] == figures.DATA_NOTE_NAME)
    assert 0.5 <= _rgba(note["bgcolor"])[3] < 1


# -- 4. the profile's third-party score carries the report-conflict mark ---------------------------------------------


def _row(**over) -> dict:
    return {
        "third_party_status": "received",
        "third_party_score": 72.5,
        "third_party_weight": 0.3,
        "third_party_evaluator": "某评估机构 / Some evaluator",
        "third_party_report_version": 2,
        **over,
    }


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profiles_third_party_cell_marks_a_report_sent_twice(lang):
    from dashboards.pages.profile import _third_party_cell

    mark = label_text("third_party_report_conflict", lang)
    assert mark in _third_party_cell(_row(report_conflict=True), lang)
    assert mark not in _third_party_cell(_row(report_conflict=False), lang)
    assert mark not in _third_party_cell(_row(), lang)  # a snapshot published before the column


@pytest.fixture(scope="module")
def conflicted(sample_snapshot, tmp_path_factory):
    """A copy of the sample run's snapshot in which one received third-party report was sent twice (its row in
    fct_third_party_evaluation says so, as stg_raw__third_party_evaluations makes it)."""
    copy = tmp_path_factory.mktemp("dash9_conflict") / "x.snapshot.duckdb"
    shutil.copy(sample_snapshot.snapshot, copy)
    with duckdb.connect(str(copy)) as con:
        unit, cycle = con.execute(
            "select unit_code, cycle from marts.fct_acceptance_score where third_party_status = 'received' "
            "order by unit_code, cycle limit 1"
        ).fetchone()
        con.execute(
            "update marts.fct_third_party_evaluation set report_conflict = true, "
            "report_conflict_detail = 'rows 3, 9' where unit_code = ? and cycle = ?",
            [unit, cycle],
        )
    return copy, unit, cycle


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_profile_page_marks_the_conflicted_cycle_only(conflicted, lang):
    from dashboards import queries
    from dashboards.pages.profile import acceptance_view
    from dashboards.snapshot import Snapshot

    path, unit, cycle = conflicted
    snap = Snapshot(path)
    try:
        acceptance = queries.profile_acceptance(snap, unit)
        view = acceptance_view(acceptance, None, None, lang)
    finally:
        snap.close()
    table = next(c for c in view.children if getattr(c, "id", None) == "pf-acceptance-table")
    mark = label_text("third_party_report_conflict", lang)
    cells = {row.children[0].children: row.children[2].children for row in table.children[1].children}
    from dashboards.formatting import range_dashes

    assert mark in cells[range_dashes(cycle)], cells
    assert all(mark not in text for c, text in cells.items() if c != range_dashes(cycle)), cells


# -- the review: the flag page's subtitle writes its year as every title does ----------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_flag_pages_subtitle_writes_the_year_as_titles_do(national, sample_snapshot, lang):
    """zh_1366_flag: "泰州市 · 2025" under 为何被标记, where every chart and card writes "2025年"."""
    from dashboard_http import page_body

    from dashboards.i18n import name_col

    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        unit, year, name = con.execute(
            f"select e.unit_code, e.year, d.{name_col(lang)} from marts.fct_evaluation_year as e "
            "join marts.dim_city as d using (unit_code) where e.stage in ('watch', 'rectification', 'exit_candidate') "
            "order by e.year desc, e.unit_code limit 1"
        ).fetchone()
    finally:
        con.close()
    page = json.dumps(_post(national, page_body("/flag", f"?lang={lang}&unit={unit}&year={year}")), ensure_ascii=False)
    assert t("title_year", lang).format(title=name, year=year) in page
