"""Round 10 of "a dashboard officials trust": the map's synthetic-data note lies in a corner where no province is
(in the middle its veil lightened the cities beneath it); the programmes page's third-party cards say what they
count (city-cycles) and over which cycles; the page shows the acceptance bands (rules seed) and the roster's
re-join-within-ban flag, labelled; the flag page opened without a city (or with an unknown code) says what to do
and links there; the alerts grid's columns are sized from the values they show (components.fit_values).

Pure functions over small frames; the real app over a real DuckDB snapshot (the session's sample run) for the
pages. tests/e2e/test_dash10_browser.py shows the same to a person."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import plotly.graph_objects as go
import polars as pl
import pytest

from dashboards import figures
from dashboards.i18n import t
from pipelines.data_nature import DataNature
from pipelines.evaluation.rules import acceptance_bands_text
from pipelines.labels import label_text

NOTE = DataNature().row_value()


@pytest.fixture(scope="module")
def national(sample_snapshot, tmp_path_factory):
    from dashboard_fixtures import national_client

    return national_client(sample_snapshot.snapshot, tmp_path_factory.mktemp("dash10_access"))


def _page(client, path: str, query: str) -> str:
    from dashboard_http import page_body

    r = client.post("/_dash-update-component", json=page_body(path, query))
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    return json.dumps(json.loads(r.get_data(as_text=True))["response"], ensure_ascii=False)


# -- 2. the map's note lies where no province is ----------------------------------------------------------------


@pytest.mark.parametrize("trace", [go.Choropleth(locations=["110000"], z=[1]), go.Scattergeo(lon=[116], lat=[40])])
def test_a_maps_note_sits_in_a_corner_not_over_the_middle(trace):
    """map_zh_1366: the note's veil over the map's middle (Gansu, Qinghai, Sichuan) lightened the cities' colours.
    On a map it sits in the plot's bottom-left corner (the Indian Ocean on the 73–136°E, 3–54°N map), inside the
    plot so the PNG keeps it; a chart of axes keeps its note where it was."""
    note = next(a for a in figures.stamp_data_note(go.Figure(trace), NOTE)["layout"]["annotations"] if a["name"])
    assert (note["x"], note["y"], note["xanchor"], note["yanchor"]) == (0, 0, "left", "bottom"), note
    assert note["xref"] == note["yref"] == "paper"
    bar = next(a for a in figures.stamp_data_note(go.Figure(go.Bar(x=[1], y=[1])), NOTE)["layout"]["annotations"])
    assert (bar["x"], bar["y"]) == (0.5, 0.5)


def test_the_map_the_overview_draws_keeps_its_note_off_the_map():
    from dashboards.figures import city_map

    points = pl.DataFrame(
        {
            "unit_code": ["110100"],
            "unit_name": ["北京市"],
            "unit_name_en": ["Beijing"],
            "group": [None],
            "composite_index": [None],
            "rank": [None],
            "rank_is_shared": [None],
        },
        schema_overrides={
            "group": pl.String,
            "composite_index": pl.Float64,
            "rank": pl.Int64,
            "rank_is_shared": pl.Boolean,
        },
    )
    fig = figures.stamp_data_note(city_map(points, "zh"), NOTE)
    note = next(a for a in fig["layout"]["annotations"] if a.get("name") == figures.DATA_NOTE_NAME)
    # the overview's map has no corner free at every width (fitted to China on a phone, its bottom-left is the
    # southern islands' sea): its note has a line of its own above the map (tests/test_dashboard_round13.py)
    assert (note["x"], note["y"], note["yanchor"]) == (1, 1, "bottom")


# -- 3. the third-party cards say what they count, and over which cycles -------------------------------------------


def _tp(sample_snapshot) -> pl.DataFrame:
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        return con.sql("select * from marts.fct_third_party_evaluation").pl()
    finally:
        con.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_third_party_cards_say_what_is_counted_and_for_which_cycles(national, sample_snapshot, lang):
    """zh_programmes: "189 第三方评估待定 / 64 已提交": 189 of what (cities? this year?). A row of the mart is one city
    in one evaluation cycle: the card says city-cycles, the cycles' span and how many cities."""
    tp = _tp(sample_snapshot)
    pending = tp.filter(pl.col("status") == "pending")
    cycles = sorted(c for c in tp.filter(pl.col("status").is_in(["pending", "received"]))["cycle"].unique().to_list())
    page = _page(national, "/programmes", f"?lang={lang}")
    note = t("tp_card_scope", lang).format(
        cycles=t("tp_cycles_span", lang).format(first=cycles[0], last=cycles[-1]),
        cities=f"{pending['unit_code'].n_unique():,}",
    )
    assert note in page, note
    assert f"{pending.height:,}" in page
    assert ("城市·评估周期" if lang == "zh" else "city-cycles") in note


# -- 5. the acceptance bands and the re-join-within-ban flag ------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_programmes_page_shows_the_acceptance_bands_from_the_rules_seed(national, sample_snapshot, lang):
    """The page listed third-party scores with no word of the bands: < 60 title removed, 60–70 a new pilot round,
    ≥ 70 demonstration cultivation (rules seed ACC.remove_below / ACC.cultivation_from, labels seed names)."""
    year = max(_tp(sample_snapshot)["cycle_last_year"].drop_nulls().to_list())
    page = _page(national, "/programmes", f"?lang={lang}")
    assert acceptance_bands_text(lang, year) in page
    for code in ("title_removed", "new_pilot_round", "demonstration_cultivation"):
        assert label_text(code, lang) in page
    assert "pg-acceptance-bands" in page and "pg-ban-flag-count" in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_roster_flags_a_joining_inside_the_ban(sample_snapshot, lang):
    """fct_programme_membership.reapplied_within_ban was in the mart and nowhere on the page: a city joining while
    barred from applying read as any other joining. Its event cell now says so, with the ban's end, and the cell
    is marked; the count above the roster says how many."""
    from dashboards.pages.programmes import ban_flag_note, membership_columns, membership_rows

    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        members = con.sql("select * from marts.fct_programme_membership order by unit_code limit 3").pl()
    finally:
        con.close()
    members = members.with_columns(
        reapplied_within_ban=pl.Series([True, False, False]),
        reapply_ban_until=pl.Series([dt.date(2028, 6, 30), None, None], dtype=pl.Date),
    )
    rows = membership_rows(members, lang)
    assert label_text("rejoined_within_ban", lang) in rows[0]["exit_reason"]
    assert "2028-06-30" in rows[0]["exit_reason"]
    assert rows[0]["rejoined_within_ban"] is True
    assert not any(label_text("rejoined_within_ban", lang) in (r["exit_reason"] or "") for r in rows[1:])
    col = next(c for c in membership_columns(lang) if c["field"] == "exit_reason")
    assert "rejoined_within_ban" in json.dumps(col.get("cellClassRules"))
    note = ban_flag_note(members, lang)
    assert note.children == t("pg_ban_flag_count", lang).format(n="1")


# -- 4. the flag page without a city says what to do ------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "&unit=999999"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_flag_page_without_a_city_says_what_to_do_and_links_there(national, lang, query):
    """/flag opened bare (a bookmark, the address typed) showed one grey sentence and no way on: now what happened,
    what to do, and links to the watchlist (where a city is chosen) and the overview."""
    from dashboards.pages import flag

    page = _page(national, "/flag", f"?lang={lang}{query}")
    assert flag.EMPTY_ID in page
    assert f'"href": "/watchlist?lang={lang}"' in page and f'"href": "/?lang={lang}"' in page
    assert t("fl_open_watchlist", lang) in page and t("fl_open_overview", lang) in page
    said = t("fl_unknown_city", lang).format(code="999999") if query else t("fl_no_city", lang)
    assert said in page


def test_the_flag_pages_chart_carries_the_data_note_and_the_phone_rule(national, sample_snapshot):
    """Round 11 (dash11): the /flag page draws its history chart in its layout, not in a callback, so the data note
    every chart's own image carries (app.label_figure_callbacks) was missing from it and from its camera PNG; and
    without the charts' class the phone squeezed it into 340 px (title cut, axis titles over each other). Here, in
    this module, because it needs the sample run's flagged city and a signed-in client."""
    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        (unit,) = con.execute(
            "select unit_code from marts.fct_evaluation_year where stage <> 'normal' order by year desc, unit_code"
        ).fetchone()
    finally:
        con.close()
    page = json.loads(_page(national, "/flag", f"?lang=zh&unit={unit}"))
    found = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props") or {}
            if props.get("id") == "fl-history":
                found.append(props)
            for v in (*props.values(), *node.values()):
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(page)
    assert found, "no history chart on the flag page"
    props = found[0]
    assert "ipc-graph" in (props.get("className") or "").split()
    notes = [a for a in props["figure"]["layout"].get("annotations") or [] if a.get("name") == figures.DATA_NOTE_NAME]
    assert notes and notes[0]["text"] == NOTE, props["figure"]["layout"].get("annotations")


# -- 1. the alerts grid's widths come from its values -----------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_alert_columns_are_as_wide_as_their_widest_id_date_and_word(lang):
    """nat_zh_1366_alerts: "a6785d8" / "f" and "2026-12-" / "05" at 1366 px, under fixed 90–100 px least widths."""
    from dashboards.components import DENSE_CELL_PADDING_PX, value_min_width
    from dashboards.pages.alerts import alert_rows, columns

    row = {
        "fingerprint": "a6785d8f0123456789",
        "rule_id": "stage",
        "kind": "condition",
        "severity": "critical",
        "unit_name": "泰州市",
        "unit_code": "321200",
        "title_en": "t",
        "title_zh": "t",
        "state": "resolved",
        "last_fired_at": "2026-12-05T01:19:00Z",
        "resolved_at": "2026-12-05T20:00:00Z",
        "silenced_until": None,
        "acked_at": "2026-12-05T02:00:00Z",
        "acked_by": "national_office_reviewer",
    }
    rows = alert_rows(pl.DataFrame([row]), lang)
    cols = {c["field"]: c for c in columns(lang, rows)}
    pad = 2 * DENSE_CELL_PADDING_PX
    assert cols["id"]["minWidth"] >= 9 * 8 + pad
    for f in ("since", "resolved_at"):
        assert cols[f]["minWidth"] >= 9 * 10 + pad, cols[f]
    assert cols["acked_by"]["minWidth"] >= 9 * len("national_office_reviewer") + pad
    assert cols["acked_by"]["maxWidth"] >= cols["acked_by"]["minWidth"]
    # Chinese breaks between characters, a Latin word or a date never
    assert value_min_width(["泰州市（江苏）"], padding_px=0) == 16
    assert value_min_width(["2026-12-05 06:24 北京时间"], padding_px=0) == 90
    assert value_min_width(["2026-12-05 06:24 北京时间"], keep_words=True, padding_px=0) == 90
    assert value_min_width([None, ""], padding_px=0) == 0


# -- 6. the simulator's results in the reader's words -------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_simulators_changes_name_acceptance_bands_in_words(lang):
    """sim_zh_1366: an acceptance-band change read "new_pilot_round → title_removed", the codes, in both languages;
    stages and verdicts were already in words."""
    from dashboards.pages.simulator import change_rows

    changes = [
        {
            "kind": "acceptance_band",
            "unit_code": "321200",
            "unit_name": "泰州市",
            "period": "2022–2024",
            "base_value": "new_pilot_round",
            "scenario_value": "title_removed",
            "robustness": "robust",
        },
        {
            "kind": "verdict",
            "unit_code": "321200",
            "unit_name": "泰州市",
            "period": "2022–2024",
            "base_value": "exemplary",
            "scenario_value": "normal",
            "robustness": "robust",
        },
    ]
    band, verdict = change_rows(changes, lang)
    assert (band["base_label"], band["scenario_label"]) == (
        label_text("new_pilot_round", lang),
        label_text("title_removed", lang),
    )
    assert verdict["base_label"] == label_text("exemplary", lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_simulators_cards_say_what_they_count(lang):
    """sim_review_zh_1366: "40 年度阶段变化 / 18 周期结论变化": 40 of what? Ranks and stages change per city and year,
    verdicts and bands per city and cycle, all against the published results: each card says which."""
    from dashboards.pages.simulator import summary_cards

    changes = [{"kind": "stage"}] * 40 + [{"kind": "verdict"}] * 18
    cards = {c.id: c for c in summary_cards(changes, lang)}
    notes = {k: c.children[-1].children for k, c in cards.items()}
    assert notes["sim-card-rank"] == notes["sim-card-stage"] == t("sim_scope_years", lang)
    assert notes["sim-card-verdict"] == notes["sim-card-band"] == t("sim_scope_cycles", lang)
    assert ("城市·年度" if lang == "zh" else "city-years") in notes["sim-card-stage"]
    assert cards["sim-card-stage"].children[0].children == "40"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_simulators_results_say_what_the_scenario_changed(sample_snapshot, lang):
    """sim_review_en_1366: the change list stood with no word of which parameters made it (the form above it, 40
    inputs long, is the only place the changed one could be found). The results now say each changed parameter
    in words, published → scenario."""
    from dashboards.evaluation_text import rule_description
    from dashboards.pages.simulator import PILLAR_NAMES, scenario_changes_text
    from pipelines import scenarios as sc

    rules = sc.base_rules(sample_snapshot.snapshot)
    weights = sc.base_pillar_weights(sample_snapshot.snapshot)
    key = "EX1.improve_min_points"
    row = next(r for r in rules.sort("rules_version").iter_rows(named=True) if f"{r['rule_code']}.{r['param']}" == key)
    pillar = sorted(weights)[0]
    params = sc.Scenario(rules={key: "60"}, pillar_weights={**weights, pillar: weights[pillar] + 0.1}).to_json()
    text = scenario_changes_text(params, rules, weights, lang)
    assert rule_description(row, lang) in text and f"{float(row['value']):g} → 60" in text
    assert PILLAR_NAMES[pillar][0 if lang == "zh" else 1] in text
    assert f"{weights[pillar]:g} → {weights[pillar] + 0.1:g}" in text
    # a weight the scenario leaves as published is not listed as a change
    other = sorted(weights)[1]
    assert PILLAR_NAMES[other][0 if lang == "zh" else 1] not in text


def test_the_simulators_english_change_list_names_cities_in_english():
    """sim_review_en_1366: the English change list read 温州市, 芜湖市, 东莞市 (the store keeps Chinese names)."""
    from dashboards.pages.simulator import change_rows

    change = {
        "kind": "verdict",
        "unit_code": "330300",
        "unit_name": "温州市",
        "period": "2017–2019",
        "base_value": "exemplary",
        "scenario_value": "normal",
        "robustness": "unknown",
    }
    (en,) = change_rows([change], "en", {"330300": "Wenzhou"})
    (zh,) = change_rows([change], "zh", {"330300": "Wenzhou"})
    assert (en["unit_name"], zh["unit_name"]) == ("Wenzhou", "温州市")
    assert en["kind_label"] == "Cycle verdict"


def test_a_parameter_left_as_published_is_no_change_of_the_scenario(sample_snapshot):
    """sim_review_en_1366: "Target ambition …: 0.1 → 0.1" among the scenario's changes. The form sends 0.1 for the
    seed's "0.10"; compared as text it was a change, listed and run. Compared as numbers it is none."""
    from dashboards.pages.simulator import scenario_changes_text
    from pipelines import scenarios as sc

    rules = sc.base_rules(sample_snapshot.snapshot)
    latest = {
        f"{r}.{p}": v for r, p, v in rules.sort("rules_version").select("rule_code", "param", "value").iter_rows()
    }
    padded = [k for k, v in latest.items() if "." in v and v.endswith("0") and k not in sc.GROUP_PARAMS]
    assert padded, "no seed value written with a trailing zero to check against"
    form = {k: f"{float(latest[k]):g}" for k in padded}  # what the number inputs send
    assert sc.validate_scenario(sc.Scenario(rules=form), rules).rules == {}
    # a scenario stored with such a no-op before the fix lists nothing for it
    text = scenario_changes_text(sc.Scenario(rules=form).to_json(), rules, {}, "en")
    assert text == ""
