"""预警 Alerts: current firing alerts and the alert history per city, with acknowledge and silence.

The alert state lives in the alert store (pipelines/alerts/store.py, a SQLite file beside the warehouse), not in
the published snapshot: it changes between runs (acknowledgements, silences, deliveries), and the dashboard may
write it — never the warehouse, which has one writer (the pipeline). Callbacks are thin; the row shaping and the
actions are pure functions tested without a browser.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from dash import Input, Output, State, dcc, html

from pipelines.china_time import china_time_text
from pipelines.counts import count_en
from pipelines.labels import label_text, next_step

from .. import access, queries
from ..components import card, control, current_user, fit_values, grid, guarded, page_title, section, snapshot
from ..i18n import ALERT_RULES, ALERT_STATES, norm_lang, t
from ..snapshot import SnapshotUnavailable

PATH = "/alerts"
NAV_KEY = "nav_alerts"

# component ids
LANG_ID = "al-lang"
STATE_ID = "al-state"
CITY_ID = "al-city"
CARDS_ID = "al-cards"
GRID_ID = "al-grid"
BODY_ID = "al-body"
ACK_ID = "al-ack"
SILENCE_ID = "al-silence"
PERIOD_ID = "al-period"
FEEDBACK_ID = "al-feedback"
REFRESH_ID = "al-refresh"

TEXT = {
    "al_title": ("当前预警与预警历史（每城市）", "Current alerts and alert history per city"),
    "al_state": ("状态", "State"),
    "al_firing": ("预警中", "Firing"),
    "al_resolved": ("已解除", "Resolved"),
    "al_all": ("全部", "All"),
    "al_city_code": ("城市代码", "City code"),
    "al_rule": ("规则", "Rule"),
    "al_kind": ("类型", "Kind"),
    "al_severity": ("级别", "Severity"),
    "al_alert": ("预警内容", "Alert"),
    # the zone is in each time's cell (北京时间 / UTC+8, as every grid's times): in the headers, "（北京时间）" was a
    # piece no header could wrap, 132 px three times over in a grid that scrolled sideways at 1366×768
    "al_since": ("预警开始", "Since"),
    "al_resolved_at": ("解除时间", "Resolved at"),
    "al_ack": ("确认人", "Acknowledged by"),
    "al_silenced": ("静默至", "Silenced until"),
    "al_id": ("编号", "ID"),
    "al_ack_button": ("确认所选预警", "Acknowledge selected"),
    "al_silence_button": ("静默所选预警", "Silence selected"),
    "al_period": ("静默时长", "Silence for"),
    "al_none": ("暂无预警。", "No alerts."),
    "al_no_store": (
        "尚无预警记录（流水线尚未评估预警规则）。",
        "No alert store yet (the pipeline has not evaluated the alert rules).",
    ),
    "al_select_first": ("请先在表格中勾选预警。", "Select alerts in the table first."),
    "al_acked": ("已确认{n}条预警。", "Acknowledged {alerts}."),
    "al_silenced_n": ("已静默{n}条预警，至 {until}。", "Silenced {alerts} until {until}."),
    "al_card_firing": ("预警中", "Firing"),
    "al_card_acked": ("预警中且已确认", "Firing, acknowledged"),
    "al_card_silenced": ("静默中", "Silenced"),
    "al_card_pending": ("待投递消息", "Messages awaiting delivery"),
    "al_engineering": ("数据工程", "Data engineering"),
    "al_channels": ("投递通道", "Delivery channels"),
    "al_channel": ("通道", "Channel"),
    "al_channel_since": ("拒收起始", "Refusing since"),
    "al_channel_waiting": ("等待中的摘要", "Digests waiting"),
    "al_channel_next": ("下次尝试", "Next try"),
    "al_channel_answer": ("接收方回应", "Receiver's answer"),
}
RULES = ALERT_RULES  # one list of rule names (i18n): the profile's alert history labels them too
KINDS = {
    "sanction": ("处置", "Sanction"),
    "review": (label_text("review"), label_text("review", "en")),  # the stage of the same name (labels seed)
    "condition": ("状况", "Condition"),
    "event": ("事件", "Event"),
}
STATES = ALERT_STATES
SEVERITIES = {"critical": ("严重", "Critical"), "warning": ("警告", "Warning"), "info": ("提示", "Info")}
PERIODS = {"1d": ("1 天", "1 day"), "7d": ("7 天", "7 days"), "30d": ("30 天", "30 days")}
PERIOD_DELTA = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def tx(key: str, lang: str, **kw) -> str:
    zh, en = TEXT[key]
    return (en if norm_lang(lang) == "en" else zh).format(**kw)


def lbl(mapping: dict, code: str | None, lang: str) -> str:
    pair = mapping.get(code or "")
    return (pair[1] if norm_lang(lang) == "en" else pair[0]) if pair else (code or "")


def store_file():
    """The alert store: IPCITY_ALERT_STORE, else beside the published snapshot's data folder
    (<data>/published/x.snapshot.duckdb → <data>/alerts/alerts.sqlite), the pipeline's own layout."""
    import os
    from pathlib import Path

    import flask

    if os.environ.get("IPCITY_ALERT_STORE"):
        return Path(os.environ["IPCITY_ALERT_STORE"])
    if flask.has_app_context():
        return snapshot().path.parent.parent / "alerts" / "alerts.sqlite"
    from pipelines.alerts.store import store_path

    return store_path()


def load_alerts(state: str = "firing", unit_code: str | None = None, path=None) -> tuple[pl.DataFrame, dict]:
    """Alerts (filtered) with their active silence, and counts for the cards; empty when there is no store."""
    from pipelines.alerts.store import active_silence, connect, now_utc

    path = path or store_file()

    try:
        with connect(path, read_only=True) as con:
            where, params = [], []
            if state in ("firing", "resolved"):
                where.append("state = ?")
                params.append(state)
            if unit_code:
                where.append("unit_code = ?")
                params.append(unit_code)
            sql = "SELECT * FROM alerts.alerts" + (" WHERE " + " AND ".join(where) if where else "")
            rows = [
                dict(r)
                for r in con.execute(
                    sql + " ORDER BY state, CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,"
                    " kind <> 'sanction', last_fired_at DESC, unit_code",
                    params,
                ).fetchall()
            ]
            now = now_utc()
            for r in rows:
                s = active_silence(con, r, now)
                r["silenced_until"] = s["ends_at"] if s else None
            firing = [dict(r) for r in con.execute("SELECT * FROM alerts.alerts WHERE state = 'firing'").fetchall()]
            counts = {
                "firing": len(firing),
                "acked": sum(1 for r in firing if r["acked_at"]),
                "silenced": sum(1 for r in firing if active_silence(con, r, now)),
                "pending": con.execute("SELECT count(*) FROM alerts.messages WHERE status <> 'delivered'").fetchone()[
                    0
                ],
            }
    except FileNotFoundError:
        return pl.DataFrame(), {}
    return (pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()), counts


def user_role(principal=None) -> str:
    """The signed-in user's recipient role (labels.RECIPIENT_ROLES) for the next steps the page shows: a provincial
    account reads the provincial office's step, every other account the national office's (engineering alerts carry
    the data engineers' step whoever reads them, lifecycle.step_role)."""
    principal = principal or access.current_principal()
    return "province" if principal.role == "province" else "national"


def alert_rows(
    df: pl.DataFrame, lang: str, names_en: dict[str, str] | None = None, role: str = "national"
) -> list[dict]:
    """Grid rows: labels in the user's language; values from data are passed as text (the grid escapes them).
    The store keeps the Chinese city name; in English the city's English name by its code (``names_en``).
    ``role``: the reader's (user_role), whose next step each firing alert shows."""
    from pipelines.alerts.lifecycle import step_role

    if not df.height:
        return []
    en = norm_lang(lang) == "en"
    out = []
    for r in df.iter_rows(named=True):
        city = r.get("unit_name")
        # what to do about a firing alert of this rule (the labels seed's words, as the digests say it): in the
        # alert's own cell, which wraps, rather than a twelfth column the 1366 px grid has no room for
        step = next_step(r["rule_id"], "en" if en else "zh", step_role(r, role)) if r["state"] == "firing" else ""
        title = r["title_en"] if en else r["title_zh"]
        if step:
            title = f"{title} · Next step: {step}" if en else f"{title}｜下一步：{step}"
        if en and r.get("unit_code"):
            city = (names_en or {}).get(r["unit_code"]) or city
        out.append(
            {
                "fingerprint": r["fingerprint"],
                "id": r["fingerprint"][:8],
                "rule": lbl(RULES, r["rule_id"], lang),
                "kind": lbl(KINDS, r["kind"], lang),
                "severity": lbl(SEVERITIES, r["severity"], lang),
                "city": city or tx("al_engineering", lang),
                "unit_code": r.get("unit_code") or "",
                "title": title,
                "next_step": step,
                "state": lbl(STATES, r["state"], lang),
                # the store's UTC shown in Beijing time, marked so in the cell: an unmarked UTC time read as
                # Beijing time is eight hours off
                "since": china_time_text(r.get("last_fired_at"), norm_lang(lang)),
                "resolved_at": china_time_text(r.get("resolved_at"), norm_lang(lang))
                if r["state"] == "resolved"
                else "",
                "acked_by": r.get("acked_by") or "" if r.get("acked_at") else "",
                "silenced_until": china_time_text(r.get("silenced_until"), norm_lang(lang)),
                "is_critical": r["severity"] == "critical" and r["state"] == "firing",
            }
        )
    return out


# The columns sized from the alerts shown (components.fit_values): each id, date, time, kind, state and Latin word
# whole on its line. Fixed least widths could not be right for every set of alerts: 100 px time columns broke
# "2026-12-" / "05" at 1366 px, and 120 px ones pushed the English grid past the window (dash5's no-sideways-scroll
# test). The alert's own text, which wraps anywhere between words, absorbs what is left.
FITTED = frozenset(
    {"id", "state", "severity", "city", "rule", "kind", "since", "resolved_at", "acked_by", "silenced_until"}
)


def columns(lang: str, rows: list[dict] | None = None) -> list[dict]:
    # Eleven columns in the 1,250 px a 1366×768 laptop gives the grid, in a dense grid (8 px either side of a cell):
    # texts wrap between words, and the id, times and acknowledger, which nobody filters by, leave out the filter
    # button's room. The least widths below are floors; ``rows`` raise them to what their values need.
    no_filter = {"filter": False}
    wrap = {"wrapText": True, "autoHeight": True}
    return fit_values(
        [
            {"field": "id", "headerName": tx("al_id", lang), "minWidth": 60, "maxWidth": 110, **no_filter},
            # the state is chosen above the grid (firing, resolved, all): no filter of its own
            {"field": "state", "headerName": tx("al_state", lang), "minWidth": 60, "maxWidth": 110, **no_filter},
            {
                "field": "severity",
                "headerName": tx("al_severity", lang),
                "minWidth": 60,
                "maxWidth": 110,
                "cellClassRules": {"ipc-critical": "data.is_critical"},
                **no_filter,
            },
            {"field": "city", "headerName": t("city", lang), "minWidth": 80, "maxWidth": 170, **wrap},
            {"field": "rule", "headerName": tx("al_rule", lang), "minWidth": 80, "maxWidth": 150, **wrap},
            {"field": "kind", "headerName": tx("al_kind", lang), "minWidth": 60, "maxWidth": 110, **no_filter},
            # the alert's text takes the room a wider screen gives (sized to fit in proportion to the widths: at
            # 1920 px it stood in 150 px, five lines, beside 160 px of "–" under each time)
            {"field": "title", "headerName": tx("al_alert", lang), "minWidth": 120, "width": 480, **wrap},
            *(
                {"field": f, "headerName": tx(key, lang), "minWidth": 60, "maxWidth": 170, **no_filter, **wrap}
                for f, key in (("since", "al_since"), ("resolved_at", "al_resolved_at"))
            ),
            {
                "field": "acked_by",
                "headerName": tx("al_ack", lang),
                "minWidth": 60,
                "maxWidth": 150,
                **no_filter,
                **wrap,
            },
            {
                "field": "silenced_until",
                "headerName": tx("al_silenced", lang),
                "minWidth": 60,
                "maxWidth": 170,
                **no_filter,
                **wrap,
            },
        ],
        rows,
        FITTED,
    )


def act(action: str, fingerprints: list[str], user: str | None, period: str, lang: str, path=None) -> str:
    """Acknowledge or silence the selected alerts in the alert store; returns the feedback text."""
    from pipelines.alerts.store import acknowledge, silence

    path = path or store_file()
    if not fingerprints:
        return tx("al_select_first", lang)
    who = user or "dashboard"
    # the table's rows carry whole fingerprints: each is matched exactly (never as a prefix or a pattern), and one
    # no longer in the store (pruned since the table was drawn) counts as nothing done
    fingerprints = [fp for fp in fingerprints if isinstance(fp, str)]
    if action == ACK_ID:
        n = sum(acknowledge(fp, who, "dashboard", path=path, exact=True) for fp in fingerprints)
        return tx("al_acked", lang, n=f"{n:,}", alerts=count_en(n, "alert"))
    delta = PERIOD_DELTA.get(period)
    if delta is None:
        raise ValueError(f"unknown silence period {period!r}")
    n = 0
    for fp in fingerprints:
        try:
            silence(by=who, duration=delta, fingerprint=fp, comment="dashboard", path=path, exact=True)
        except ValueError:  # not in the store (any more)
            continue
        n += 1
    from pipelines.alerts.store import now_utc

    until = china_time_text(now_utc() + delta, norm_lang(lang))
    return tx("al_silenced_n", lang, n=f"{n:,}", alerts=count_en(n, "alert"), until=until)


def channel_rows(lang: str, path=None) -> list[dict] | None:
    """Each delivery channel's state as grid rows (pipelines.alerts.lifecycle.channel_states, the one reading the
    CLI's `ipcity alerts status` prints too); None when there is no alert store yet. The routing file's channels are
    listed when it reads; a refusing channel or one with digests waiting is listed from the store either way."""
    from pipelines.alerts.answers import answer_zh
    from pipelines.alerts.config import load_routing
    from pipelines.alerts.lifecycle import channel_states
    from pipelines.alerts.store import connect

    lang = norm_lang(lang)
    routing = load_routing(strict=False)
    try:
        with connect(path or store_file(), read_only=True) as con:
            states = channel_states(con, routing.channels if routing.readable else ())
    except FileNotFoundError:
        return None
    return [
        {
            "channel": s["channel"],
            "state": s["state_en"] if lang == "en" else s["state_zh"],
            "is_refusing": s["state"] == "channel_refusing",
            "since": china_time_text(s["since"], lang),
            "waiting": s["waiting"],
            "next_try": china_time_text(s["next_try_at"], lang),
            "answer": (s["response"] if lang == "en" else answer_zh(s["response"]))[:300],
        }
        for s in states
    ]


def channel_view(component_id: str, lang: str, path=None):
    """The delivery channels' state (answering / refusing), for the Alerts page and the quality page alike: a
    refusing channel is what a data engineer mends, and the quality page is where the engineers look."""
    rows = channel_rows(lang, path)
    if rows is None:
        return html.P(tx("al_no_store", lang), className="ipc-muted")
    # the channel's name and times sized from their values like the alerts grid's (components.fit_values)
    cols = [
        {"field": "channel", "headerName": tx("al_channel", lang), "minWidth": 100},
        {
            "field": "state",
            "headerName": tx("al_state", lang),
            "minWidth": 120,
            "cellClassRules": {"ipc-critical": "data.is_refusing"},
        },
        {"field": "since", "headerName": tx("al_channel_since", lang), "minWidth": 60},
        {"field": "waiting", "headerName": tx("al_channel_waiting", lang), "type": "numericColumn", "minWidth": 90},
        {"field": "next_try", "headerName": tx("al_channel_next", lang), "minWidth": 60},
        {"field": "answer", "headerName": tx("al_channel_answer", lang), "minWidth": 200},
    ]
    cols = fit_values(cols, rows, frozenset({"channel", "since", "next_try"}))
    return grid(component_id, lang, cols, rows, height=None, pagination=False)


def cards(counts: dict, lang: str) -> list:
    return [
        card(tx(f"al_card_{k}", lang), str(counts.get(k, 0)), f"al-card-{k}")
        for k in ("firing", "acked", "silenced", "pending")
    ]


def english_names() -> dict[str, str]:
    """Unit code → English name from the published snapshot; none when it is not there (the store still works)."""
    try:
        units = queries.units(snapshot())
    except SnapshotUnavailable:
        return {}
    return dict(zip(units["unit_code"].to_list(), units["unit_name_en"].to_list()))


def body(state: str, city: str | None, lang: str):
    df, counts = load_alerts(state, city or None)
    if not counts:
        return [], html.P(tx("al_no_store", lang), className="ipc-muted")
    if not df.height:
        return cards(counts, lang), html.P(tx("al_none", lang), className="ipc-muted")
    rows = alert_rows(df, lang, english_names() if norm_lang(lang) == "en" else None, user_role())
    return cards(counts, lang), grid(
        GRID_ID,
        lang,
        columns(lang, rows),
        rows,
        height=560,
        dense=True,
        # AG Grid 32.2+ selection API: a checkbox column, select-all in the header, no select-on-click
        rowSelection={"mode": "multiRow", "checkboxes": True, "headerCheckbox": True, "enableClickSelection": False},
        getRowId="params.data.fingerprint",
    )


@guarded
def layout(lang: str, state=None, city=None, **_):
    state = state if state in ("firing", "resolved", "all") else "firing"
    return [
        dcc.Store(id=LANG_ID, data=lang),
        dcc.Store(id=REFRESH_ID, data=0),
        page_title(NAV_KEY, lang, tx("al_title", lang)),
        html.Div(
            [
                control(
                    tx("al_state", lang),
                    dcc.RadioItems(
                        id=STATE_ID,
                        options=[{"label": tx(f"al_{s}", lang), "value": s} for s in ("firing", "resolved", "all")],
                        value=state,
                        inline=True,
                    ),
                ),
                control(
                    tx("al_city_code", lang),
                    dcc.Input(
                        id=CITY_ID,
                        value=city or "",
                        debounce=True,
                        maxLength=6,
                        pattern="[0-9]{0,6}",
                        className="ipc-input",
                    ),
                ),
                control(
                    tx("al_period", lang),
                    dcc.Dropdown(
                        id=PERIOD_ID,
                        options=[{"label": lbl(PERIODS, k, lang), "value": k} for k in PERIODS],
                        value="7d",
                        clearable=False,
                        searchable=False,
                    ),
                ),
                html.Button(tx("al_ack_button", lang), id=ACK_ID, className="ipc-button"),
                html.Button(tx("al_silence_button", lang), id=SILENCE_ID, className="ipc-button"),
            ],
            className="ipc-controls",
        ),
        html.Div(id=FEEDBACK_ID, className="ipc-muted", role="status"),
        html.Div(id=CARDS_ID, className="ipc-cards"),
        section(tx("al_title", lang), html.Div(id=BODY_ID)),
        section(tx("al_channels", lang), channel_view("al-channels", lang)),
    ]


def register_callbacks(app) -> None:
    from dash import ctx

    @app.callback(
        Output(CARDS_ID, "children"),
        Output(BODY_ID, "children"),
        Input(STATE_ID, "value"),
        Input(CITY_ID, "value"),
        Input(REFRESH_ID, "data"),
        State(LANG_ID, "data"),
    )
    def update(state, city, _refresh, lang):
        city = (city or "").strip()
        return body(state or "firing", city if city.isdigit() and len(city) == 6 else None, lang)

    @app.callback(
        Output(FEEDBACK_ID, "children"),
        Output(REFRESH_ID, "data"),
        Input(ACK_ID, "n_clicks"),
        Input(SILENCE_ID, "n_clicks"),
        State(GRID_ID, "selectedRows"),
        State(PERIOD_ID, "value"),
        State(REFRESH_ID, "data"),
        State(LANG_ID, "data"),
        prevent_initial_call=True,
    )
    def on_action(_ack, _silence, selected, period, refresh, lang):
        fps = [r["fingerprint"] for r in (selected or []) if isinstance(r, dict) and "fingerprint" in r]
        feedback = act(ctx.triggered_id, fps, current_user(), period, lang)
        if fps:  # who silenced or acknowledged which alerts, beside the alert store's own record
            action = "alert_ack" if ctx.triggered_id == ACK_ID else "alert_silence"
            detail = "" if action == "alert_ack" else f"for {period}"
            access.audit(access.current_principal(), action, ",".join(map(str, fps)), "ok", detail)
        return feedback, (refresh or 0) + 1
