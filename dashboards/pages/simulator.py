"""情景模拟 Policy simulator: national-office users change pillar weights and rule parameters (a scenario) and see
which ranks, stages, cycle verdicts and acceptance bands would change, and how robust the changes are.

The computation is ``pipelines.scenarios.run_scenario``: the project's own dbt models and uncertainty step on a
scratch copy of the snapshot — no rule is re-implemented here. Scenarios are saved in the scenario store beside
the warehouse, compared and exported, and every view says they are simulations, never verdicts."""

from __future__ import annotations

import hashlib
import hmac
import json

import flask
import polars as pl
from dash import ALL, Input, Output, State, ctx, dcc, html

from pipelines import scenarios as sc
from pipelines.data_nature import nature_of
from pipelines.labels import label_text

from .. import access
from ..components import card, control, current_user, grid, guarded, page_title, snapshot, unavailable
from ..evaluation_text import rule_description
from ..formatting import labelled, shown_time
from ..i18n import GROUPS, label, norm_lang, t
from ..i18n_programme import RULE_NAMES

PATH = "/simulator"
NAV_KEY = "nav_simulator"

# Component ids
LANG_STORE = "sim-lang"
RESULT_STORE = "sim-result"
NAME = "sim-name"
RUN = "sim-run"
SAVE = "sim-save"
OPEN = "sim-open"
COMPARE = "sim-compare"
SAVED = "sim-saved"
COMPARE_WITH = "sim-compare-with"
EXPORT_CSV = "sim-export-csv"
EXPORT_XLSX = "sim-export-xlsx"
DOWNLOAD = "sim-download"
STATUS = "sim-status"
CARDS = "sim-cards"
CHANGES = "sim-changes"
CHANGES_GRID = "sim-changes-grid"
CHANGED_PARAMS = "sim-changed-params"
WEIGHT = "sim-weight"  # pattern id {"type": WEIGHT, "key": pillar}
RULE = "sim-rule"  # pattern id {"type": RULE, "key": "R2.regress_points"}

NATIONAL_ROLES = ("national", "national_office", "admin")
PILLAR_NAMES = {
    "MGT": ("管理能力", "Management"),
    "PRO": ("大保护", "Protection"),
    "UTL": ("运用", "Utilisation"),
    "QLT": ("质量", "Quality"),
    "ENV": ("发展环境", "Environment"),
}


def user_role() -> str | None:
    """The signed-in user's role when the app has a login system (Flask-Login), else None."""
    if not flask.has_request_context() or not hasattr(flask.current_app, "login_manager"):
        return None
    try:
        from flask_login import current_user as login_user

        return getattr(login_user, "role", None) if login_user.is_authenticated else None
    except Exception:  # noqa: BLE001 - a broken session means no role, never an open door
        return None


def authorize_simulation() -> bool:
    """Only the national office may run, save or export scenarios (the single permission module decides)."""
    return access.current_principal().is_national


def collect_scenario(weight_ids, weights, rule_ids, rule_values, base_weights: dict[str, float]) -> sc.Scenario:
    """The scenario from the form: only values that differ from the published ones count."""
    pillar = {}
    for wid, value in zip(weight_ids, weights, strict=True):
        if value is None or value == "":
            continue
        if abs(float(value) - base_weights.get(wid["key"], -1)) > 1e-9:
            pillar = {
                k: float(v) for k, v in zip([w["key"] for w in weight_ids], weights, strict=True) if v not in (None, "")
            }
            break
    rules = {rid["key"]: str(v) for rid, v in zip(rule_ids, rule_values, strict=True) if v not in (None, "")}
    return sc.Scenario(rules=rules, pillar_weights=pillar)


# -- results the browser holds ---------------------------------------------------------------------------------
# A run's result waits in the browser (a dcc.Store) until Save or Export sends it back, so what comes back is
# whatever the browser says: saved as it was, a national account could file made-up outcomes under its name as
# a simulation of real parameters. Re-running the scenario at Save would double a run's minutes (dbt and the
# uncertainty step), so the server seals what it computed (run, or loaded from the store) with an HMAC under the
# session key, and keeps only results whose seal matches.
_SEALED = ("scenario_id", "params", "changes", "base_snapshot")


def _seal(result: dict) -> str:
    key = hmac.new(flask.current_app.config["SECRET_KEY"], b"ipcity simulator result", hashlib.sha256).digest()
    body = json.dumps([result.get(k) for k in _SEALED], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def sealed(result: dict) -> dict:
    """``result`` (computed here) with its seal, for the browser to hold."""
    return {**result, "seal": _seal(result)}


def genuine(result) -> bool:
    """Whether ``result`` is one this server computed, unchanged (scenario id, parameters, changes, snapshot)."""
    if not isinstance(result, dict) or not isinstance(result.get("seal"), str):
        return False
    if not isinstance(result.get("scenario_id"), str) or not isinstance(result.get("params"), str):
        return False
    if not isinstance(result.get("changes"), list) or not isinstance(result.get("base_snapshot"), str):
        return False
    return hmac.compare_digest(result["seal"], _seal(result))


def change_rows(changes: list[dict], lang: str, names_en: dict[str, str] | None = None) -> list[dict]:
    """The change list in the reader's words; in English each city by its English name (``names_en``, unit code →
    name: the store keeps the Chinese one, and the English page listed 温州市, 芜湖市, …)."""
    out = []
    en = norm_lang(lang) == "en"
    for r in changes:

        def val(v, kind=r["kind"]):
            if v is None:
                return "–"
            # every coded value in the reader's words (labels seed): an acceptance band read "title_removed" and
            # "new_pilot_round" in both languages, codes no official knows
            from ..i18n import ACCEPTANCE_BANDS, STAGES

            words = {"stage": STAGES, "verdict": STAGES, "acceptance_band": ACCEPTANCE_BANDS}.get(kind)
            return label(words, v, lang) if words and v in words else v

        city = r.get("unit_name")
        if en and r.get("unit_code"):
            city = (names_en or {}).get(r["unit_code"]) or city
        out.append(
            {
                **r,
                "unit_name": city,
                "kind_label": t(f"kind_{r['kind']}", lang),
                "base_label": val(r["base_value"]),
                "scenario_label": val(r["scenario_value"]),
                # the labels seed's words, as the evaluation pages say them ("unknown" of earlier stores read as
                # not assessed); the flag's own code for the cell's colour
                "robustness": sc.robustness_of_change(r.get("robustness")),
                "robust_label": label_text(sc.robustness_of_change(r.get("robustness")), lang),
            }
        )
    return out


def change_columns(lang: str) -> list[dict]:
    return [
        {"field": "kind_label", "headerName": t("sim_kind", lang), "maxWidth": 130},
        {"field": "unit_name", "headerName": t("city", lang), "minWidth": 110},
        {"field": "period", "headerName": t("sim_period", lang), "maxWidth": 120},
        {"field": "base_label", "headerName": t("sim_base", lang), "maxWidth": 140},
        {"field": "scenario_label", "headerName": t("sim_scenario", lang), "maxWidth": 140},
        {
            "field": "robust_label",
            "headerName": t("sim_robustness", lang),
            # the seed's words are a sentence ("不稳健：结论在不确定性模拟中不成立"): they wrap, never cut
            "minWidth": 160,
            "wrapText": True,
            "autoHeight": True,
            "cellClassRules": {
                "ipc-status-good": "data.robustness == 'robust'",
                "ipc-status-bad": "data.robustness == 'not_robust'",
            },
        },
    ]


def summary_cards(changes: list[dict], lang: str) -> list:
    """One card per kind of change, each saying what it counts: ranks and stages are judged per city and year,
    verdicts and acceptance bands per city and evaluation cycle (sc.compare_outcomes' periods)."""
    n = {k: sum(1 for r in changes if r["kind"] == k) for k in sc.CHANGE_KINDS}
    years, cycles = t("sim_scope_years", lang), t("sim_scope_cycles", lang)
    return [
        card(t("sim_n_rank", lang), f"{n['rank']:,}", "sim-card-rank", note=years),
        card(t("sim_n_stage", lang), f"{n['stage']:,}", "sim-card-stage", note=years),
        card(t("sim_n_verdict", lang), f"{n['verdict']:,}", "sim-card-verdict", note=cycles),
        card(t("sim_n_band", lang), f"{n['acceptance_band']:,}", "sim-card-band", note=cycles),
    ]


def _param_value(key: str, value, lang: str) -> str:
    """A parameter's value as the form shows it: a group by its name, a number without a trailing ".0"."""
    if key in sc.GROUP_PARAMS:
        return label(GROUPS, str(value), lang)
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def scenario_changes_text(params: str | None, rules: pl.DataFrame | None, weights: dict[str, float], lang: str) -> str:
    """What a scenario changes against the published parameters, in words ("…门槛：20 → 60"): each rule parameter by
    its plain description (rules seed official_*), each pillar weight by the pillar's name (pure)."""
    scenario = sc.Scenario.from_json(params or "{}")
    known = {}
    if rules is not None and rules.height:
        for r in rules.sort("rules_version").iter_rows(named=True):  # the latest version wins, as the form's values
            known[f"{r['rule_code']}.{r['param']}"] = r
    zh = norm_lang(lang) == "zh"
    parts = []
    for key, value in sorted(scenario.rules.items()):
        r = known.get(key)
        name = (rule_description(r, lang) if r else "") or key
        base = _param_value(key, r["value"], lang) if r else "–"
        if base == _param_value(key, value, lang):  # a scenario saved before 0.1 and "0.10" were one value
            continue
        parts.append(f"{name}{'：' if zh else ': '}{base} → {_param_value(key, value, lang)}")
    for code, w in sorted(scenario.pillar_weights.items()):
        base = weights.get(code)
        if base is not None and abs(base - w) <= 1e-9:
            continue
        pillar = PILLAR_NAMES.get(code, (code, code))[0 if zh else 1]
        name = t("sim_pillar_weight", lang).format(pillar=pillar)
        parts.append(f"{name}{'：' if zh else ': '}{'–' if base is None else f'{base:g}'} → {w:g}")
    return ("；" if zh else "; ").join(parts)


def english_names() -> dict[str, str]:
    """Unit code → English name from the published snapshot (the alerts page's reading, one definition)."""
    from .alerts import english_names as names

    return names()


def published_params(snap) -> tuple[pl.DataFrame | None, dict[str, float]]:
    """The published rules and pillar weights a scenario's changes are said against; none where the snapshot lacks
    them (a saved scenario still opens over a snapshot without its rules table: its changes then read "–" as base)."""
    rules = sc.base_rules(snap.path) if snap.has("marts.evaluation_rules") else None
    weights = sc.base_pillar_weights(snap.path) if snap.has("marts.pillars") else {}
    return rules, weights


def render_changes(result: dict | None, lang: str, rules: pl.DataFrame | None = None, weights=None):
    if not result:
        return [], html.P(t("sim_run_first", lang), className="ipc-muted")
    changes = result.get("changes", [])
    # Verdict and stage changes first: they are what the office acts on; ranks follow.
    order = {"verdict": 0, "acceptance_band": 1, "stage": 2, "rank": 3}
    changes = sorted(changes, key=lambda r: (order.get(r["kind"], 9), str(r["period"]), r["unit_code"] or ""))
    what = scenario_changes_text(result.get("params"), rules, weights or {}, lang)
    changed = html.P([html.Strong(t("sim_changed_params", lang)), what or "–"], id=CHANGED_PARAMS, className="ipc-note")
    if not changes:
        return summary_cards([], lang), html.Div(
            [changed, html.P(t("sim_no_changes", lang), className="ipc-muted", id="sim-no-changes")]
        )
    names_en = english_names() if norm_lang(lang) == "en" else None
    return summary_cards(changes, lang), html.Div(
        [
            html.P(t("sim_disclaimer", lang), className="ipc-note ipc-sim-disclaimer"),
            changed,
            grid(CHANGES_GRID, lang, change_columns(lang), change_rows(changes, lang, names_en), height=460),
        ]
    )


def saved_options(lang: str) -> list[dict]:
    df = sc.list_scenarios()
    return [
        {
            "label": f"{r['name']} · {shown_time(r['created_at'], lang)} · {r['n_changes']}",
            "value": r["scenario_id"],
        }
        for r in df.iter_rows(named=True)
    ]


def compare_rows(a: str, b: str) -> list[dict]:
    df = sc.compare_scenarios(a, b).filter(pl.col("value_a") != pl.col("value_b"))
    return df.to_dicts()


def rule_caption(key: str, lang: str) -> str:
    """The small print under a rule parameter: the rule it belongs to in words ("所属规则：整改：综合指数下降"); the
    parameter's id (R2.regress_points) is the caption's tooltip. A rule without a name is shown by its code."""
    code = key.partition(".")[0]
    return t("sim_param", lang).format(rule=label(RULE_NAMES, code, lang))


def editable_rules(rules: pl.DataFrame) -> pl.DataFrame:
    """One row per rule parameter a scenario can change, valued as in the latest rules version: numbers and the
    two group names. List-valued parameters (which sources a city reports, which indicators are compared with
    the nation) are settings of the data, not thresholds, and the seed holds one row per version."""
    latest = rules["rules_version"].max()
    is_number = pl.col("value").cast(pl.Float64, strict=False).is_not_null()
    key = pl.concat_str("rule_code", pl.lit("."), "param")
    return rules.filter(
        (pl.col("rules_version") == latest)
        & (is_number | key.is_in(sorted(sc.GROUP_PARAMS)))
        & ~key.is_in(sorted(sc.CALENDAR_PARAMS))
    )


@guarded
def layout(lang: str, **_):
    snap = snapshot()
    if not snap.has("marts.evaluation_rules", "marts.pillars", "marts.fct_evaluation_year"):
        return [page_title(NAV_KEY, lang), unavailable(lang)]
    if not authorize_simulation():
        return [page_title(NAV_KEY, lang), html.P(t("sim_denied", lang), className="ipc-unavailable", id="sim-denied")]
    rules = sc.base_rules(snap.path)
    weights = sc.base_pillar_weights(snap.path)
    zh = norm_lang(lang) == "zh"
    weight_inputs = [
        control(
            PILLAR_NAMES[code][0 if zh else 1],
            dcc.Input(
                id={"type": WEIGHT, "key": code},
                type="number",
                min=0,
                max=1,
                step=0.01,
                value=weights.get(code),
                debounce=True,
                className="ipc-input",
            ),
        )
        for code in sc.PILLARS
    ]
    rule_inputs = []
    for r in editable_rules(rules).iter_rows(named=True):
        key = f"{r['rule_code']}.{r['param']}"
        desc = rule_description(r, lang)
        if r["param"] == "enabled" and float(r["value"]) in (0.0, 1.0):
            # a rule switched on or off: a choice, not a number to type (the value stays 1/0 for the scenario)
            widget = dcc.RadioItems(
                id={"type": RULE, "key": key},
                options=[{"label": t("sim_on", lang), "value": 1.0}, {"label": t("sim_off", lang), "value": 0.0}],
                value=float(r["value"]),
                inline=True,
                className="ipc-radio",
            )
        elif key in sc.GROUP_PARAMS:
            widget = dcc.Dropdown(
                id={"type": RULE, "key": key},
                options=[{"label": label(GROUPS, g, lang), "value": g} for g in sc.GROUPS],
                value=r["value"],
                clearable=False,
                className="ipc-dropdown",
            )
        else:
            widget = dcc.Input(
                id={"type": RULE, "key": key},
                type="number",
                value=float(r["value"]),
                debounce=True,
                className="ipc-input",
            )
        # what the parameter means is the label an official reads; its id in the rules seed is the small print
        rule_inputs.append(
            html.Div(
                [control(desc or key, widget), html.Small(rule_caption(key, lang), title=key, className="ipc-muted")],
                className="ipc-sim-rule",
            )
        )
    return [
        dcc.Store(id=LANG_STORE, data=lang),
        dcc.Store(id=RESULT_STORE),
        page_title(NAV_KEY, lang, t("sim_title", lang)),
        html.P(t("sim_disclaimer", lang), className="ipc-banner ipc-sim-disclaimer"),
        html.Div(
            [
                control(t("sim_name", lang), dcc.Input(id=NAME, type="text", maxLength=100, className="ipc-input")),
                html.Button(t("sim_run", lang), id=RUN, className="ipc-button ipc-primary"),
                html.Button(t("sim_save", lang), id=SAVE, className="ipc-button"),
                html.Button(t("sim_export_csv", lang), id=EXPORT_CSV, className="ipc-button"),
                html.Button(t("sim_export_xlsx", lang), id=EXPORT_XLSX, className="ipc-button"),
                dcc.Download(id=DOWNLOAD),
            ],
            className="ipc-controls",
        ),
        html.Div(
            [
                control(
                    t("sim_saved_list", lang),
                    dcc.Dropdown(id=SAVED, options=saved_options(lang), className="ipc-dropdown ipc-wide"),
                ),
                html.Button(t("sim_open", lang), id=OPEN, className="ipc-button"),
                control(
                    t("sim_compare_with", lang),
                    dcc.Dropdown(id=COMPARE_WITH, options=saved_options(lang), className="ipc-dropdown ipc-wide"),
                ),
                html.Button(t("sim_compare", lang), id=COMPARE, className="ipc-button"),
            ],
            className="ipc-controls",
        ),
        dcc.Loading(html.Div(id=STATUS, className="ipc-status-line"), type="dot"),
        html.Div(id=CARDS, className="ipc-cards"),
        html.Div(id=CHANGES),
        html.Details(
            [html.Summary(t("sim_weights", lang)), html.Div(weight_inputs, className="ipc-controls")],
            open=True,
        ),
        html.Details([html.Summary(t("sim_rules", lang)), html.Div(rule_inputs, className="ipc-sim-rules")], open=True),
    ]


def register_callbacks(app) -> None:
    @app.callback(
        Output(STATUS, "children"),
        Output(RESULT_STORE, "data"),
        Output(CARDS, "children"),
        Output(CHANGES, "children"),
        Output(SAVED, "options"),
        Output(COMPARE_WITH, "options"),
        Output(NAME, "value"),
        Output({"type": RULE, "key": ALL}, "value"),
        Output({"type": WEIGHT, "key": ALL}, "value"),
        Input(RUN, "n_clicks"),
        Input(SAVE, "n_clicks"),
        Input(OPEN, "n_clicks"),
        Input(COMPARE, "n_clicks"),
        State(NAME, "value"),
        State(SAVED, "value"),
        State(COMPARE_WITH, "value"),
        State(RESULT_STORE, "data"),
        State({"type": RULE, "key": ALL}, "value"),
        State({"type": RULE, "key": ALL}, "id"),
        State({"type": WEIGHT, "key": ALL}, "value"),
        State({"type": WEIGHT, "key": ALL}, "id"),
        State(LANG_STORE, "data"),
        prevent_initial_call=True,
    )
    def act(
        _run,
        _save,
        _open,
        _compare,
        name,
        saved_id,
        compare_id,
        result,
        rule_values,
        rule_ids,
        weights,
        weight_ids,
        lang,
    ):
        from dash import no_update

        keep_inputs = ([no_update] * len(rule_ids), [no_update] * len(weight_ids))
        nothing = (no_update,) * 7  # status, result, cards, changes, both lists, name: the status is [0]
        if not authorize_simulation():
            return (t("sim_denied", lang), *nothing[1:], *keep_inputs)
        snap = snapshot()
        trigger = ctx.triggered_id
        try:
            if trigger == RUN:
                scenario = collect_scenario(
                    weight_ids, weights, rule_ids, rule_values, sc.base_pillar_weights(snap.path)
                )
                scenario = sc.validate_scenario(scenario, sc.base_rules(snap.path))
                if not scenario.rules and not scenario.pillar_weights:
                    return (t("sim_no_params", lang), *nothing[1:], *keep_inputs)
                scenario_id, changes = sc.run_scenario(snap.path, scenario)
                result = sealed(
                    {
                        "scenario_id": scenario_id,
                        "params": scenario.to_json(),
                        "changes": changes.to_dicts(),
                        "base_snapshot": snap.path.name,
                    }
                )
                cards, body = render_changes(result, lang, *published_params(snap))
                return (
                    labelled(t("sim_changes", lang), changes.height, lang),
                    result,
                    cards,
                    body,
                    no_update,
                    no_update,
                    no_update,
                    *keep_inputs,
                )
            if trigger == SAVE:
                if not result:
                    return (t("sim_run_first", lang), *nothing[1:], *keep_inputs)
                if not genuine(result):
                    # in the audit log, as every refusal is: a forged result is someone trying
                    access.audit(
                        access.current_principal(),
                        "scenario_save",
                        str(result.get("scenario_id"))[:100] if isinstance(result, dict) else "",
                        "refused",
                        "results differ from the ones the server computed",
                    )
                    return (t("sim_not_computed", lang), *nothing[1:], *keep_inputs)
                me = current_user()
                scenario_id, copy_of = result["scenario_id"], None
                owner = sc.scenario_owner(scenario_id)
                if owner is not sc.NOT_SAVED and owner != me:
                    # another account's saved scenario, opened here: Save files the saver's own copy and never
                    # rewrites (or re-signs) the other account's record
                    scenario_id, copy_of = sc.new_scenario_id(), scenario_id
                sc.save_scenario(
                    scenario_id,
                    name or "",
                    sc.Scenario.from_json(result["params"]),
                    pl.DataFrame(result["changes"], schema=sc._CHANGE_SCHEMA)
                    if result["changes"]
                    else pl.DataFrame(schema=sc._CHANGE_SCHEMA),
                    author=me,
                    base_snapshot=result.get("base_snapshot", ""),
                )
                access.audit(
                    access.current_principal(),
                    "scenario_save",
                    scenario_id,
                    "ok",
                    f"copy of {copy_of} saved by {owner!r}" if copy_of else "",
                )
                opts = saved_options(lang)
                shown = (name or "").strip() or scenario_id
                return (
                    t("sim_saved", lang).format(name=shown),
                    # the copy's result, so a second Save updates the copy instead of filing another one
                    sealed({**result, "scenario_id": scenario_id}) if copy_of else no_update,
                    no_update,
                    no_update,
                    opts,
                    opts,
                    no_update,
                    *keep_inputs,
                )
            if trigger == OPEN:
                if not saved_id:
                    return (no_update, *nothing[1:], *keep_inputs)
                info, scenario, changes = sc.load_scenario(saved_id)
                result = sealed(
                    {
                        "scenario_id": info["scenario_id"],
                        "params": scenario.to_json(),
                        "changes": changes.to_dicts(),
                        "base_snapshot": info["base_snapshot"] or "",
                    }
                )
                cards, body = render_changes(result, lang, *published_params(snap))
                rule_vals = [
                    (scenario.rules[rid["key"]] if rid["key"] in sc.GROUP_PARAMS else float(scenario.rules[rid["key"]]))
                    if rid["key"] in scenario.rules
                    else v
                    for rid, v in zip(rule_ids, rule_values, strict=True)
                ]
                weight_vals = [
                    scenario.pillar_weights.get(w["key"], v) for w, v in zip(weight_ids, weights, strict=True)
                ]
                status = f"{info['name']} · {shown_time(info['created_at'], lang)} · " + labelled(
                    t("sim_changes", lang), changes.height, lang
                )
                return (status, result, cards, body, no_update, no_update, info["name"], rule_vals, weight_vals)
            if trigger == COMPARE:
                if not saved_id or not compare_id:
                    return (no_update, *nothing[1:], *keep_inputs)
                rows = [{**r, "kind_label": t(f"kind_{r['kind']}", lang)} for r in compare_rows(saved_id, compare_id)]
                cols = [
                    {"field": "kind_label", "headerName": t("sim_kind", lang), "maxWidth": 130},
                    {"field": "unit_name", "headerName": t("city", lang)},
                    {"field": "period", "headerName": t("sim_period", lang), "maxWidth": 120},
                    {"field": "base_value", "headerName": t("sim_base", lang)},
                    {"field": "value_a", "headerName": t("sim_value_a", lang)},
                    {"field": "value_b", "headerName": t("sim_value_b", lang)},
                ]
                body = html.Div(
                    [
                        html.P(t("sim_disclaimer", lang), className="ipc-note"),
                        grid("sim-compare-grid", lang, cols, rows, height=420),
                    ]
                )
                return (
                    labelled(t("sim_compare", lang), len(rows), lang),
                    no_update,
                    [],
                    body,
                    no_update,
                    no_update,
                    no_update,
                    *keep_inputs,
                )
        except sc.ScenarioBusy:
            return (t("sim_busy", lang), *nothing[1:], *keep_inputs)
        except sc.ScenarioError as e:
            return (t("sim_error", lang).format(error=str(e)), *nothing[1:], *keep_inputs)
        except KeyError:
            return (t("sim_error", lang).format(error="unknown scenario"), *nothing[1:], *keep_inputs)
        return (no_update, *nothing[1:], *keep_inputs)

    @app.callback(
        Output(DOWNLOAD, "data"),
        Input(EXPORT_CSV, "n_clicks"),
        Input(EXPORT_XLSX, "n_clicks"),
        State(RESULT_STORE, "data"),
        State(NAME, "value"),
        prevent_initial_call=True,
    )
    def export(_csv, _xlsx, result, name):
        if not result or not authorize_simulation():
            return None
        if not genuine(result):
            return None  # not a result this server computed (a forged or edited store value): nothing to export
        fmt = "csv" if ctx.triggered_id == EXPORT_CSV else "xlsx"
        changes = (
            pl.DataFrame(result["changes"], schema=sc._CHANGE_SCHEMA)
            if result["changes"]
            else pl.DataFrame(schema=sc._CHANGE_SCHEMA)
        )
        # which of the data are synthetic: the published snapshot's (pipelines/data_nature.py)
        data = sc.export_changes(changes, fmt, name or result["scenario_id"], nature=nature_of(snapshot()))
        access.audit(access.current_principal(), "scenario_export", result["scenario_id"], "ok", fmt)
        return dcc.send_bytes(data, f"scenario_{result['scenario_id']}.{fmt}")
