"""数据质量 Data quality: latest runs, check results, quarantined rows, and which data are synthetic."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines.counts import count_en, count_zh
from pipelines.ingest.reason_labels import reason_text, refusal_text

from .. import queries
from ..check_text import asset_label, check_label, dbt_check_description, dbt_check_label
from ..components import (
    INTEGER,
    card,
    control,
    dropdown,
    graph,
    grid,
    guarded,
    memoised,
    page_title,
    records,
    section,
    snapshot,
    unavailable,
)
from ..figures import DATA_NOTE_LINE_PX, DATA_NOTE_PLACE_KEY, DATA_NOTE_TITLE_LINE
from ..formatting import range_text, shown_time
from ..i18n import (
    CHECK_ENGINES,
    CHECK_TRENDS,
    EXPECTATION_TYPES,
    SEVERITY,
    SOURCE_NAMES,
    TEXT,
    label,
    norm_lang,
    t,
)
from ..security import plot_text
from ..theme import OKABE_ITO, TITLE_MARGIN_PX, base_layout, empty_figure
from . import alerts as alert_page

PATH = "/quality"
NAV_KEY = "nav_quality"


def sources_figure(sources: pl.DataFrame | None, lang: str) -> go.Figure:
    """Rows loaded per source, each bar labelled with what was quarantined (0 is worth seeing too)."""
    if sources is None or not sources.height:
        return empty_figure(t("not_available", lang), height=260)
    df = sources.sort("rows_loaded").with_columns(
        source_label=pl.col("source").replace_strict(
            {k: label(SOURCE_NAMES, k, lang) for k in SOURCE_NAMES}, default=pl.col("source")
        )
    )
    loaded, rejected = t("dq_rows_loaded", lang), t("dq_rows_rejected", lang)
    text = [
        f"{loaded} {a:,} · {rejected} {b:,}" for a, b in zip(df["rows_loaded"].to_list(), df["rows_rejected"].to_list())
    ]
    colors = [OKABE_ITO["vermillion"] if b else OKABE_ITO["bluish_green"] for b in df["rows_rejected"].to_list()]
    fig = go.Figure(
        go.Bar(
            x=df["rows_loaded"].to_list(),
            y=[plot_text(v) for v in df["source_label"].to_list()],  # an unknown source by its name from the ledger
            orientation="h",
            marker_color=colors,
            text=text,
            textposition="auto",
            cliponaxis=False,
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": t("dq_rows_loaded", lang)},
        yaxis={"automargin": True},
        # the data note above the plot, on a line of its own under the title (a long one in English): in the
        # middle it hid "隔离行数 0" of the population and patent statistics, and every row's label runs far to the
        # right, so no corner of the plot is free
        meta={DATA_NOTE_PLACE_KEY: DATA_NOTE_TITLE_LINE},
    )
    base_layout(fig, t("dq_by_source", lang), height=max(300, 36 * df.height + 120) + DATA_NOTE_LINE_PX)
    return fig.update_layout(margin={"t": TITLE_MARGIN_PX + DATA_NOTE_LINE_PX})


def _observed(value) -> str:
    """GX's result JSON as 'unexpected / total (share)'; plain values as they are."""
    if value is None:
        return ""
    try:
        v = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    if isinstance(v, dict) and "unexpected_count" in v:
        total = v.get("element_count")
        out = f"{v['unexpected_count']:,}" + (f" / {total:,}" if total is not None else "")
        # GX's unexpected_percent is of the non-null values, which reads as a contradiction next to the total.
        return out
    return str(v)


def observed_over_partitions(values: list) -> str:
    """What the collapsed passed checks observed (pure): GX's counts summed over the partitions ("0 / 69,512":
    no unexpected value among 69,512 rows), other observations (a column's type) as their distinct values. The
    column was empty on every passed row, so a reader could not tell a check that looked at 69,512 rows from one
    that looked at none."""
    parsed = []
    for value in values:
        if value is None:
            continue
        try:
            parsed.append(json.loads(value) if isinstance(value, str) else value)
        except ValueError:
            parsed.append(value)
    if not parsed:
        return ""
    if all(isinstance(v, dict) and "unexpected_count" in v for v in parsed):
        unexpected = sum(v["unexpected_count"] or 0 for v in parsed)
        totals = [v.get("element_count") for v in parsed]
        total = None if any(n is None for n in totals) else sum(totals)
        return f"{unexpected:,}" + (f" / {total:,}" if total is not None else "")
    return ", ".join(dict.fromkeys(_observed(json.dumps(v) if isinstance(v, dict) else v) for v in parsed))


def _expectation(value, lang: str) -> str:
    """The check in words with the columns it reads: "不为空（unit_code）" / "Not null (unit_code)". An expectation
    type without a label is shown as it is (a new GX check is still visible, if not yet translated)."""
    try:
        v = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value or "")
    if isinstance(v, dict) and "type" in v:
        kwargs = v.get("kwargs") or {}
        columns = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
        columns += list(kwargs.get("column_list") or [])
        text = label(EXPECTATION_TYPES, v["type"], lang)
        if not columns:
            return text
        joined = ", ".join(map(str, columns))
        return f"{text}（{joined}）" if lang != "en" else f"{text} ({joined})"
    return str(v or "")


def dbt_rules_text(sample, rule: str | None, lang: str) -> str:
    """What a dbt test judges: a failed column_rules test's failing rules each with its rows ("status:
    accepted_values 2; unit_name: not_null 1"), else the test's rule as recorded."""
    try:
        rows = json.loads(sample) if isinstance(sample, str) else sample
    except ValueError:
        rows = None
    if isinstance(rows, list) and rows and all(isinstance(r, dict) and "rule" in r for r in rows):

        def rows_text(n: int) -> str:
            return count_en(n, "row") if lang == "en" else count_zh(n, "行")

        return "; ".join(
            f"{r.get('column_name') or '—'}: {r['rule']} {rows_text(r.get('failing_rows') or 0)}" for r in rows
        )
    return rule or ""


def _with_engine(checks: pl.DataFrame) -> pl.DataFrame:
    """A frame from an older reader (or test) without dbt's columns reads as GX's."""
    defaults = {"engine": "gx", "column_names": None, "rule": None, "failing_rows": None, "failing_sample": None}
    return checks.with_columns(
        pl.lit(v, dtype=pl.Int64 if c == "failing_rows" else pl.String).alias(c)
        for c, v in defaults.items()
        if c not in checks.columns
    )


def _dbt_observed(r: dict) -> str:
    """A failed dbt test's failing rows ("2"), or its status when the test itself broke (no count)."""
    if r.get("failing_rows") is not None:
        return f"{r['failing_rows']:,}"
    try:
        return str(json.loads(r.get("observed_value") or "{}").get("status") or "")
    except (ValueError, AttributeError):
        return ""


def _defined_in(expectation) -> str:
    try:
        return str(
            (json.loads(expectation) if isinstance(expectation, str) else expectation or {}).get("defined_in") or ""
        )
    except (ValueError, AttributeError):
        return ""


def _row_texts(r: dict, lang: str) -> dict:
    """The columns a check's row shows that depend on its engine."""
    if r["engine"] == "dbt":
        return {
            "check_label": dbt_check_label(r.get("rule"), r.get("column_names"), r.get("expectation"), lang),
            # a failed test: its failing rules and rows; a passing one: where it is declared (the yml to read)
            "expectation_text": dbt_rules_text(r.get("failing_sample"), None, lang)
            or _defined_in(r.get("expectation"))
            or (r.get("rule") or ""),
        }
    return {
        "check_label": check_label(r["check_name"], r["asset"], r.get("expectation"), lang),
        "expectation_text": _expectation(r.get("expectation"), lang),
    }


def check_rows(checks: pl.DataFrame, lang: str) -> list[dict]:
    """Grid rows, trimmed on the server: every FAILED check in full (what an engineer acts on), and the passed
    checks collapsed to one row per engine, asset, check and severity with the partitions they passed in ("2016–2025,
    10 partitions"). A run has thousands of checks; sending each passed one made the page's payload ~0.8 MB.
    Great Expectations' expectations and dbt's data tests share the grid, each row saying its engine."""
    checks = _with_engine(checks)
    failed = checks.filter(~pl.col("passed"))
    passed = (
        checks.filter(pl.col("passed"))
        .group_by("engine", "asset", "check_name", "severity", maintain_order=True)
        .agg(
            pl.len().alias("n"),
            pl.col("partition").cast(pl.String).min().alias("first"),
            pl.col("partition").cast(pl.String).max().alias("last"),
            pl.col("expectation").first(),
            pl.col("rule").first(),
            pl.col("column_names").first(),
            pl.col("failing_sample").first(),
            pl.col("observed_value").alias("observed"),
        )
    )
    passed_text = "✔ " + t("passed", lang)
    rows = [
        {
            "passed": False,
            "passed_label": "✘ " + t("failed", lang),
            "severity_label": label(SEVERITY, r.get("severity"), lang),
            "engine": r["engine"],
            "engine_label": label(CHECK_ENGINES, r["engine"], lang),
            "asset": r["asset"],
            "asset_label": asset_label(r["asset"], lang),
            "partition": None if r["partition"] is None else str(r["partition"]),
            "checks": 1,
            "check_name": r["check_name"],
            "failing_rows": r.get("failing_rows"),
            "observed_text": _dbt_observed(r) if r["engine"] == "dbt" else _observed(r.get("observed_value")),
            **_row_texts(r, lang),
        }
        for r in failed.iter_rows(named=True)
    ]
    for r in passed.iter_rows(named=True):
        if r["first"] is None:
            part = None
        elif r["first"] == r["last"]:
            part = r["first"]
        else:
            part = range_text(r["first"], r["last"])
        rows.append(
            {
                "passed": True,
                "passed_label": passed_text,
                "severity_label": label(SEVERITY, r.get("severity"), lang),
                "engine": r["engine"],
                "engine_label": label(CHECK_ENGINES, r["engine"], lang),
                "asset": r["asset"],
                "asset_label": asset_label(r["asset"], lang),
                "partition": part,
                "checks": r["n"],
                "check_name": r["check_name"],
                "failing_rows": None,
                "observed_text": "0" if r["engine"] == "dbt" else observed_over_partitions(r["observed"]),
                **_row_texts(r, lang),
            }
        )
    return rows


def check_columns(lang: str) -> list[dict]:
    return [
        {
            "field": "passed_label",
            "headerName": t("status", lang),
            "maxWidth": 110,
            "cellClassRules": {"ipc-status-bad": "!data.passed", "ipc-status-good": "data.passed"},
        },
        {"field": "severity_label", "headerName": t("severity", lang), "maxWidth": 90},
        # the engine narrow (its label wraps): the grid must still fit a 1366×768 laptop's 1,267 px
        {
            "field": "engine_label",
            "headerName": t("check_engine", lang),
            "minWidth": 90,
            "maxWidth": 110,
            "tooltipField": "engine",
        },
        # the name reads; the asset's id stays on hover for whoever looks it up in the warehouse
        {"field": "asset_label", "headerName": t("asset", lang), "minWidth": 150, "tooltipField": "asset"},
        {"field": "partition", "headerName": t("partition", lang), "maxWidth": 120},
        {
            "field": "checks",
            "headerName": t("dq_checks_run", lang),
            "type": "numericColumn",
            "maxWidth": 100,
            "filter": False,
        },
        # the check in words; its technical name on hover for the data engineers. Its own column made the grid
        # 1,490–1,570 px wide, off the right edge of a 1366×768 laptop's 1,267 px: the id is what the tooltip
        # shows, and the expectation's text names the column it checks.
        {"field": "check_label", "headerName": t("check", lang), "minWidth": 190, "tooltipField": "check_name"},
        # a dbt test's failing rows are what it observed (GX's: unexpected / total), so one column says both
        {"field": "observed_text", "headerName": t("observed", lang), "minWidth": 130},
        # the engine's column took 100 px of the 1,267: the names and rules below wrap onto a second line instead
        {"field": "expectation_text", "headerName": t("expectation", lang), "minWidth": 170},
    ]


def summary_cards(summary: dict) -> dict:
    def fmt(v):
        return "–" if v is None else f"{v:,}"

    return {k: fmt(v) for k, v in summary.items()}


def source_name(source: str, lang: str) -> str:
    """A SOURCE_NATURE id by the source's contract title, with the extent when one source feeds two tables:
    "population (provinces)" -> "人口与GDP（省级）" / "Population and GDP (provinces)"."""
    name, _, scope = source.partition(" (")
    scope = scope.removesuffix(")")
    text = label(SOURCE_NAMES, name, lang)
    if not scope:
        return text
    where = t(f"scope_{scope}", lang) if f"scope_{scope}" in TEXT else scope
    return f"{text}（{where}）" if lang != "en" else f"{text} ({where})"


def source_rows(lang: str) -> list[dict]:
    return [
        {
            "source": source_name(s, lang),
            "source_id": s,
            "name": en if lang == "en" else zh,
            "nature": t("real", lang) if real else t("synthetic", lang),
            "is_real": real,
        }
        for s, real, zh, en in queries.SOURCE_NATURE
    ]


def run_columns(lang: str) -> list[dict]:
    """The recent runs: counts with thousands separators, as on the cards above (1,832,020, not 1832020)."""
    count = {"type": "numericColumn", **INTEGER}
    return [
        {"field": "run_id", "headerName": t("run_id", lang), "minWidth": 280},
        {"field": "started", "headerName": t("started", lang), "minWidth": 160},
        {"field": "files", "headerName": t("files", lang), **count},
        {"field": "rows_read", "headerName": t("rows_read", lang), **count},
        {"field": "rows_loaded", "headerName": t("rows_loaded", lang), **count},
        {"field": "rows_rejected", "headerName": t("rows_rejected", lang), **count},
    ]


def source_columns(lang: str) -> list[dict]:
    return [
        {"field": "source", "headerName": t("source", lang), "minWidth": 180, "tooltipField": "source_id"},
        {"field": "name", "headerName": t("source_name", lang), "minWidth": 220},
        {"field": "nature", "headerName": t("nature", lang), "cellClassRules": {"ipc-synthetic": "!data.is_real"}},
    ]


def rejection_rows(rej: pl.DataFrame, lang: str) -> list[dict]:
    """Quarantined rows per source and reason, the source by its name (as in the chart beside it) and the
    loader's English reason in the reader's language."""
    lang = norm_lang(lang)
    return [
        {**r, "source": label(SOURCE_NAMES, r["source"], lang), "reason": reason_text(r["reason"], r["source"], lang)}
        for r in records(rej)
    ]


def refused_rows(refused: pl.DataFrame, lang: str) -> list[dict]:
    """Files refused whole: the source by its name, the ledger's English reason in the reader's language."""
    lang = norm_lang(lang)
    return [
        {
            "source": label(SOURCE_NAMES, r["source"], lang),
            "file_name": r["file_name"],
            "reason": refusal_text(r["message"], lang, r["source"]),
            "refused_at": shown_time(r["ingested_at"], lang),
        }
        for r in refused.iter_rows(named=True)
    ]


def refused_view(refused: pl.DataFrame | None, lang: str):
    """The refused files above the quarantined rows (a refused file has no rows to quarantine), or None."""
    if refused is None or not refused.height:
        return None
    columns = [
        {"field": "source", "headerName": t("source", lang)},
        {"field": "file_name", "headerName": t("file_name", lang), "minWidth": 200},
        {"field": "reason", "headerName": t("reason", lang), "minWidth": 360, "wrapText": True, "autoHeight": True},
        {"field": "refused_at", "headerName": t("refused_at", lang), "minWidth": 140},
    ]
    return html.Div(
        [
            html.H4(t("dq_refused_files", lang)),
            grid("dq-refused-grid", lang, columns, refused_rows(refused, lang), height=None, pagination=False),
        ],
        id="dq-refused",
    )


def noted_rows(noted: pl.DataFrame, lang: str) -> list[dict]:
    """Loaded files with the loader's notes: the source by its name, the ledger's English notes in the reader's
    language (the refusals' table in reason_labels; a note it does not know stays English)."""
    lang = norm_lang(lang)
    return [
        {
            "source": label(SOURCE_NAMES, r["source"], lang),
            "file_name": r["file_name"],
            "notes": reason_text(r["message"], r["source"], lang),
        }
        for r in noted.iter_rows(named=True)
    ]


def noted_view(noted: pl.DataFrame | None, lang: str):
    """The loaded files' notes below the quarantined rows, or None."""
    if noted is None or not noted.height:
        return None
    columns = [
        {"field": "source", "headerName": t("source", lang)},
        # the notes' grid stands in half the page's width (601 px at 1366×768): 100 + 200 + 420 px scrolled sideways
        {"field": "file_name", "headerName": t("file_name", lang), "minWidth": 150},
        {"field": "notes", "headerName": t("notes", lang), "minWidth": 280, "wrapText": True, "autoHeight": True},
    ]
    return html.Div(
        [
            html.H4(t("dq_file_notes", lang)),
            grid("dq-notes-grid", lang, columns, noted_rows(noted, lang), height=None, pagination=False),
        ],
        id="dq-notes",
    )


def history_rows(history: pl.DataFrame, lang: str) -> list[dict]:
    """The checks that fail in the latest runs or changed in the latest one, newly failing first: trend, engine,
    where, how many rows, since when, and one mark per run (oldest first)."""
    rows = []
    for r in history.iter_rows(named=True):
        if r["trend"] == "check_passing":
            continue
        dbt = r["engine"] == "dbt"
        rows.append(
            {
                "trend": r["trend"],
                "trend_label": label(CHECK_TRENDS, r["trend"], lang),
                "failing": not r["passed"],
                "severity_label": label(SEVERITY, r.get("failed_severity"), lang),
                "engine_label": label(CHECK_ENGINES, r["engine"], lang),
                "asset": r["asset"],
                "asset_label": asset_label(r["asset"], lang),
                "check_name": r["check_name"],
                # a dbt test in words (what, on which column); its technical name is the cell's tooltip
                "check_label": dbt_check_description(
                    r["asset"], r.get("rule"), r.get("column_names"), r.get("expectation"), lang, with_table=False
                )
                if dbt
                else check_label(r["check_name"], r["asset"], r.get("expectation"), lang),
                "failing_rows": None if r["passed"] else r["failing_rows"],
                "failing_since": shown_time(r["failing_since"], lang) if r["failing_since"] is not None else "",
                "runs": r["runs_oldest_first"],
            }
        )
    return rows


def history_columns(lang: str) -> list[dict]:
    return [
        {
            "field": "trend_label",
            "headerName": t("trend", lang),
            "minWidth": 130,
            "cellClassRules": {"ipc-status-bad": "data.failing", "ipc-status-good": "!data.failing"},
        },
        {"field": "severity_label", "headerName": t("severity", lang), "maxWidth": 90},
        {"field": "engine_label", "headerName": t("check_engine", lang), "minWidth": 120},
        {"field": "asset_label", "headerName": t("asset", lang), "minWidth": 170, "tooltipField": "asset"},
        {"field": "check_label", "headerName": t("check", lang), "minWidth": 200, "tooltipField": "check_name"},
        {"field": "check_name", "headerName": t("dq_technical_name", lang), "minWidth": 160},
        {"field": "failing_rows", "headerName": t("failing_rows", lang), "type": "numericColumn", **INTEGER},
        {"field": "failing_since", "headerName": t("failing_since", lang), "minWidth": 140},
        {"field": "runs", "headerName": t("runs_oldest_first", lang), "minWidth": 150},
    ]


def history_view(history: pl.DataFrame | None, lang: str):
    if history is None:
        return unavailable(lang)
    rows = history_rows(history, lang)
    if not rows:
        return html.P(t("dq_history_none", lang), className="ipc-muted", id="dq-no-history")
    return grid("dq-history-grid", lang, history_columns(lang), rows, height=None, pagination=False)


def run_label(run_id: str, started, lang: str) -> str:
    """A run in the selector: its start in Beijing time, marked, and its id's first characters (pure)."""
    return f"{shown_time(started, lang)} · {run_id[:8]}" if started else run_id


def failed_run_notice(snap, lang: str):
    """Says, when it is so, that the checks shown are a failed run's (published alone, its data not) and that the
    other pages' figures are still the last good release's; nothing otherwise."""
    failed = snap.quality_release()
    if failed is None:
        return None
    release = snap.query("select value from meta.snapshot_info where key = 'run_id'")
    text = t("dq_failed_run_shown", lang).format(
        run=failed.get("run_id", "")[:8],
        at=shown_time(failed.get("published_at"), lang),
        release=(release["value"][0] or "")[:8] if release.height else "—",
    )
    return html.P(text, className="ipc-warn", id="dq-failed-run", role="status")


@guarded
def layout(lang: str, run=None, **_):
    snap = snapshot()
    runs = queries.quality_runs(snap)
    run_ids = runs["run_id"].to_list() if runs is not None else []
    latest = queries.latest_run_id(snap)
    value = run if run in run_ids else latest
    labels = (
        {r["run_id"]: run_label(r["run_id"], r["started"], lang) for r in runs.iter_rows(named=True)}
        if runs is not None
        else {}
    )
    options = [{"label": labels[r], "value": r} for r in run_ids] or (
        [{"label": latest, "value": latest}] if latest else []
    )
    runs_view = (
        unavailable(lang)
        if runs is None
        else grid(
            "dq-runs",
            lang,
            run_columns(lang),
            records(runs, lang=lang),
            height=None,
            pagination=False,
        )
    )
    return [
        dcc.Store(id="dq-lang", data=lang),
        page_title(NAV_KEY, lang),
        failed_run_notice(snap, lang),
        html.Div(
            [
                control(
                    t("run_id", lang),
                    dropdown(
                        "dq-run", lang, options=options, value=value, clearable=False, className="ipc-dropdown-wide"
                    ),
                )
            ],
            className="ipc-controls",
        ),
        html.Div(id="dq-cards", className="ipc-cards"),
        html.Div(
            [
                html.Div(graph("dq-rej-fig", lang=lang), className="ipc-col"),
                html.Div(section(t("dq_rejections", lang), html.Div(id="dq-rejections")), className="ipc-col"),
            ],
            className="ipc-row ipc-two",
        ),
        section(t("dq_checks", lang), html.Div(id="dq-checks")),
        section(t("dq_history", lang), history_view(queries.quality_history(snap), lang)),
        section(t("dq_runs", lang), runs_view),
        # the alert delivery channels: a channel refusing its credentials is the data engineers' to mend (the same
        # reading as the Alerts page and `ipcity alerts status`)
        section(alert_page.tx("al_channels", lang), alert_page.channel_view("dq-channels", lang)),
        section(
            t("dq_sources", lang),
            grid(
                "dq-sources",
                lang,
                source_columns(lang),
                source_rows(lang),
                height=None,
                pagination=False,
            ),
        ),
    ]


def register_callbacks(app) -> None:
    @app.callback(
        Output("dq-cards", "children"),
        Output("dq-checks", "children"),
        Output("dq-rej-fig", "figure"),
        Output("dq-rejections", "children"),
        Input("dq-run", "value"),
        State("dq-lang", "data"),
    )
    @memoised("dq")
    def update(run_id, lang):
        snap = snapshot()
        checks = queries.quality_checks(snap, run_id)
        sources = queries.quality_sources(snap, run_id)
        rej = queries.quality_rejections(snap, run_id)
        s = summary_cards(queries.quality_summary(checks, sources))
        cards = [
            card(t("dq_checks_run", lang), s["checks"], "dq-card-checks"),
            card(t("dq_failed_error", lang), s["failed_error"], "dq-card-error"),
            card(t("dq_failed_warn", lang), s["failed_warn"], "dq-card-warn"),
            card(t("dq_rows_loaded", lang), s["rows_loaded"], "dq-card-loaded"),
            card(t("dq_rows_rejected", lang), s["rows_rejected"], "dq-card-rejected"),
        ]
        checks_view = (
            unavailable(lang)
            if checks is None
            else grid(
                "dq-check-grid",
                lang,
                check_columns(lang),
                check_rows(checks, lang),
                height=520,
            )
        )
        if rej is None:
            rej_view = unavailable(lang)
        elif not rej.height:
            rej_view = html.P(t("dq_no_rejections", lang), className="ipc-muted", id="dq-no-rejections")
        else:
            rej_view = grid(
                "dq-rej-grid",
                lang,
                [
                    {"field": "source", "headerName": t("source", lang)},
                    {"field": "reason", "headerName": t("reason", lang), "minWidth": 240},
                    {"field": "rows", "headerName": t("rows", lang), "type": "numericColumn", **INTEGER},
                ],
                rejection_rows(rej, lang),
                height=320,
                pagination=False,
            )
        refused = refused_view(queries.refused_files(snap), lang)
        if refused is not None:
            rej_view = html.Div([refused, rej_view])
        noted = noted_view(queries.noted_files(snap, run_id), lang)
        if noted is not None:
            rej_view = html.Div([rej_view, noted])
        return cards, checks_view, sources_figure(sources, lang), rej_view
