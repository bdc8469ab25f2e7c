"""Round 3 of what made the dashboard look untrustworthy to an official (screenshots of every page, national and
Guangdong accounts, 简体中文 and English, 1366×768 and 1920×1080): figures flush left in the provinces grid and
their shares in whole per cent beside one decimal on the target page; "-3.6" in the rule texts beside "−3.6" in
the charts; rule parameters described for engineers ("robust SD = 1.4826 x MAD", "as fct_target_status"); English
names of the county-level groupings made by the dashboard instead of dbt; the programmes page's English texts cut
("National IP strong-city demonstratio…") and an empty "Designated" for the 2012–2016 cohorts."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "dbt_project" / "seeds" / "evaluation_rules.csv"
CJK = re.compile(r"[\u4e00-\u9fff]")
HYPHEN_SIGN = re.compile(r"(?<![0-9A-Za-z.])-\d")


def _text(component) -> str:
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return "".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def _rollup(**over) -> pl.DataFrame:
    row = {
        "province_code": "440000",
        "province_name": "广东省",
        "n_cities": 6,
        "mean_index": 111.04,
        "sd_index": 23.7,
        "min_index": -2.0,
        "max_index": 153.7,
        "mean_acceptance_score": None,
        "share_key_targets_met": 0.6667,
        "n_flagged": 1,
        "flagged_units": "惠州市",
        **{f"n_{s}": 0 for s in ("normal", "exemplary", "watch", "review", "rectification", "exit_candidate")},
        **{f"n_{s}": 0 for s in ("not_reported", "withdrawn")},
    }
    row.update(over)
    return pl.DataFrame([row])


# -- figures right-aligned, one decimal like the other pages -----------------------------------------------------


def test_every_number_format_right_aligns_its_column():
    """nat_zh_1366_provinces.png: 城市数, 平均综合指数, 重点目标达成率 and 预警城市数 flush left."""
    from dashboards import components

    for f in (components.ONE_DECIMAL, components.INTEGER, components.PERCENT, components.INDEX_TEXT):
        assert f["type"] == "numericColumn"


def test_a_grid_right_aligns_any_column_of_figures_its_page_forgot():
    from dashboards.components import grid

    g = grid("x", "en", [{"field": "name"}, {"field": "n"}, {"field": "share"}], [{"name": "a", "n": 3, "share": 0.5}])
    by = {c["field"]: c for c in g.columnDefs}
    assert by["n"]["type"] == by["share"]["type"] == "numericColumn"
    assert "type" not in by["name"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_provinces_grid_figures_right_aligned_with_the_target_pages_decimals(lang):
    from dashboards.components import grid
    from dashboards.pages.provinces import columns, rollup_rows

    (row,) = rollup_rows(_rollup(), lang)
    assert row["share_key_met"] == 66.7  # the target page shows shares with one decimal; this grid showed 67
    g = grid("pv", lang, columns(lang), [row])
    by = {c["field"]: c for c in g.columnDefs}
    for field in ("n_cities", "mean_index", "sd_index", "range_index", "mean_acceptance", "share_key_met", "n_flagged"):
        assert by[field].get("type") == "numericColumn", field
    assert ".1f" in by["share_key_met"]["valueFormatter"]["function"]
    assert by["province"].get("wrapText") and by["province"].get("autoHeight")  # "新疆维…"


def test_province_index_range_reads_once_for_one_city_and_with_a_true_minus():
    from dashboards.pages.provinces import range_text

    assert range_text(114.5, 114.5) == "114.5"
    assert range_text(-2.04, 153.7) == "\u22122.0–153.7"
    assert range_text(None, None) == "–"


# -- one minus sign --------------------------------------------------------------------------------------------


def test_figures_formatted_in_python_carry_the_true_minus_like_the_charts():
    from dashboards.formatting import fmt_number, fmt_value, true_minus
    from dashboards.pages.compare import _measure_text
    from dashboards.pages.programmes import pct

    assert fmt_value(-0.0361, "比率", 1) == "\u22123.6"
    assert fmt_number(-1234.5, 1) == "\u22121,234.5" and fmt_number(2.0, 1, signed=True) == "+2.0"
    assert pct(-0.012) == "\u22121.2%"
    assert _measure_text("rank_change", -3, False, "en") == "\u22123"
    assert _measure_text("pillar_score", -3.25, False, "en").startswith("\u22123.")
    # a year range, a date and a code keep their hyphen
    assert true_minus("2016-2020, 2025-06-30, COVID-19, (-2), 变化 -3.6") == (
        "2016-2020, 2025-06-30, COVID-19, (\u22122), 变化 \u22123.6"
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rule_texts_use_the_true_minus(lang):
    """nat_zh_1366_watchlist.png: "综合指数较2022年变化 -3.6" beside the charts' "−3.6"."""
    from dashboards.evaluation_text import evidence_text, rules_text

    row = {
        "fired_x1": True,
        "fired_r2": True,
        "index_change_cycle": -3.6,
        "r2_threshold_points": 5.0,
        "cycle_baseline_year": 2022,
        "rules_fired": "X1 exit candidate (previous cycle in rectification; index change since 2022 -3.6); "
        "R2 rectification (index change over cycle -3.6, threshold -5.0)",
    }
    text = rules_text(row, lang)
    assert "\u22123.6" in text and not HYPHEN_SIGN.search(text), text
    ev = evidence_text("X1 previous cycle in rectification, index change -13.7; R1 in 2021-2023", lang)
    assert "\u221213.7" in ev and "2021\u20132023" in ev and not HYPHEN_SIGN.search(ev), ev


def test_flag_rule_values_use_the_true_minus():
    from dashboards.pages.flag import param_value_text

    assert param_value_text("regress_points", "-5", "zh") == "\u22125"
    assert param_value_text("lagging_share", "-0.5", "en") == "\u221250%"


# -- rule parameters in words for officials ------------------------------------------------------------------------

# what an official does not read: column or parameter names, model names, statistics shorthand, "x" for times
ENGINEER_WORDS = re.compile(
    r"[a-z]+_[a-z_]+|\b(?:fct|seed|MAD|SD|GEN|EX1|W1|W2|R1|R2|X1|TS|RPT|ACC|AMB|TP)\b|\d x \d| x |robust|uncertainty runs"
)


def _rules() -> list[dict]:
    with open(RULES, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_every_rule_parameter_has_a_plain_description_in_both_languages():
    rows = _rules()
    assert {"official_zh", "official_en"} <= set(rows[0])
    for r in rows:
        key = f"{r['rules_version']} {r['rule_code']}.{r['param']}"
        zh, en = r["official_zh"].strip(), r["official_en"].strip()
        assert zh and en, key
        assert CJK.search(zh) and not CJK.search(en), key
        for text in (zh, en):
            assert not ENGINEER_WORDS.search(text), (key, text)
    # one text per parameter: a version that keeps a parameter keeps its words
    per_param: dict[tuple[str, str], set] = {}
    for r in rows:
        per_param.setdefault((r["rule_code"], r["param"]), set()).add((r["official_zh"], r["official_en"]))
    assert all(len(v) == 1 for v in per_param.values())


def test_the_engineers_descriptions_are_what_the_plain_ones_replace():
    """The old descriptions fail the same check (so the check is the fault's)."""
    assert any(ENGINEER_WORDS.search(r["description_en"]) for r in _rules())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_flag_page_and_simulator_show_the_plain_descriptions(lang):
    from dashboards.evaluation_text import rule_description
    from dashboards.pages.flag import rule_thresholds

    rules = pl.DataFrame(_rules()).filter(pl.col("rules_version") == "2024.1")
    text = _text(rule_thresholds(rules, ["r2", "w2"], lang))
    col = "official_en" if lang == "en" else "official_zh"
    for r in rules.filter(pl.col("rule_code").is_in(["R2", "W2"]) & (pl.col("param") != "enabled")).to_dicts():
        assert r[col] in text
        assert r["description_en" if lang == "en" else "description_zh"] not in text
    assert not ENGINEER_WORDS.search(text.replace("R2", "").replace("W2", "")), text
    # a snapshot published before the plain column: the engineers' text rather than nothing
    assert rule_description({"description_zh": "旧", "description_en": "old"}, lang) == (
        "old" if lang == "en" else "旧"
    )


def test_simulator_reads_the_plain_descriptions():
    import inspect

    from dashboards.pages import simulator

    src = inspect.getsource(simulator)
    assert "description_zh" not in src and "description_en" not in src and "rule_description(" in src


# -- the programmes page ---------------------------------------------------------------------------------------------


def test_grid_cells_wrap_and_an_empty_cell_reads_as_a_dash():
    """en_programmes.png: "National IP strong-city demonstratio…", "Third-party evaluation p…", "Plan 20…"."""
    from dashboards.components import grid

    g = grid("x", "en", [{"field": "a"}, {"field": "note", "tooltipField": "note"}], [{"a": "x", "note": "y"}])
    assert g.defaultColDef["wrapText"] and g.defaultColDef["autoHeight"]
    assert "'–'" in g.defaultColDef["valueFormatter"]["function"]
    note = next(c for c in g.columnDefs if c["field"] == "note")
    assert note["wrapText"] is False  # its whole text is its tooltip


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_cohort_without_a_designated_number_says_so(lang):
    """The 2012–2016 demonstration-city cohorts: "Designated" was an empty cell."""
    from dashboards.i18n import t
    from dashboards.pages.programmes import programme_columns

    col = next(c for c in programme_columns(lang) if c["field"] == "units_announced")
    assert t("pg_not_announced", lang) in col["valueFormatter"]["function"]
    assert col["type"] == "numericColumn" and col.get("headerTooltip")


# -- English unit names: one definition, in dbt --------------------------------------------------------------------


def test_the_dashboard_takes_english_unit_names_from_dim_city():
    """The dashboard made the groupings' English names itself (labels seed + province) while dim_city had none;
    now it reads dbt's (int_units) and only falls back to the Chinese name."""
    from dashboards.queries import with_english_names

    df = pl.DataFrame(
        {
            "unit_code": ["419000", "320500"],
            "unit_name": ["省直辖县级行政区划", "苏州市"],
            "unit_name_en": ["X (Henan)", None],
        }
    )
    assert with_english_names(df)["unit_name_en"].to_list() == ["X (Henan)", "苏州市"]


def test_published_dim_city_names_every_unit_in_english(sample_snapshot):
    import duckdb

    con = duckdb.connect(str(sample_snapshot.snapshot), read_only=True)
    try:
        rows = con.execute(
            "select unit_code, unit_name, unit_name_en, level from marts.dim_city where level <> 'province'"
        ).fetchall()
    finally:
        con.close()
    groupings = [r for r in rows if r[3] == "direct_county_group"]
    assert len(groupings) == 4
    for code, name, en, _ in groupings:
        assert en and not CJK.search(en) and "(" in en, (code, name, en)
    names = [r[2] for r in rows]
    assert all(names) and not any(CJK.search(n) for n in names)
    assert len(set(names)) == len(names)


# -- counts that add up ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_target_summary_counts_every_status_and_adds_up(lang):
    """en_targets.png: "640 targets: 238 achieved, 19 on track, 296 lagging, 14 invalid." (567 of 640: the chart's
    "acceleration needed" and "insufficient data" were left out)."""
    from dashboards.i18n import t
    from dashboards.pages.targets import BUCKET_ORDER, bucket_label, summary_text

    counts = {"achieved": 3, "on_track": 1, "acceleration_needed": 2, "lagging": 4, "insufficient_data": 1}
    df = pl.DataFrame({"bucket": [b for b, n in counts.items() for _ in range(n)]})
    text = summary_text(df, lang)
    assert text.startswith("共11项" if lang == "zh" else "11 targets")
    for b in BUCKET_ORDER:
        assert t("tg_summary_part", lang).format(label=bucket_label(b, lang), n=counts.get(b, 0)) in text


# -- times say their zone ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_publication_time_in_the_footer_is_beijing_time_and_says_so(lang):
    """Every page's footer read "发布于 2026-12-05 06:13": the machine's clock, no zone (UTC on the server)."""
    from dashboards.app import footer_text
    from dashboards.i18n import t

    text = footer_text({"year": 2025, "published_at": "2026-12-05T06:13:00+00:00", "run_id": "8e28ac7d"}, lang)
    assert "2026-12-05 14:13" in text and t("tz_beijing", lang) in text


def test_the_snapshot_records_its_publication_time_with_its_zone():
    import inspect

    from pipelines import snapshot_writer

    assert "datetime.now(UTC).isoformat" in inspect.getsource(snapshot_writer)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_alert_times_are_beijing_time_and_the_headers_say_so(lang):
    from dashboard_fixtures import alert_row

    from dashboards.i18n import t
    from dashboards.pages.alerts import alert_rows, columns

    row = alert_row()
    (r,) = alert_rows(pl.DataFrame([row]), lang)
    # dash5: the zone is in each time's cell, as in every grid (in the headers it widened the grid past 1366 px)
    zone = t("tz_beijing", lang)
    assert (r["since"], r["resolved_at"]) == (f"2026-12-05 09:19 {zone}", f"2026-12-06 04:00 {zone}")
    heads = {c["field"]: c["headerName"] for c in columns(lang)}
    assert all(heads[f] for f in ("since", "resolved_at", "silenced_until"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_third_party_grid_headers_name_their_columns_once(lang):
    """zh_programmes.png: the findings column was headed "第三方评估状态", the section's title, beside 状态."""
    from dashboards.i18n import t
    from dashboards.pages.programmes import third_party_columns

    heads = [c["headerName"] for c in third_party_columns(lang)]
    assert len(set(heads)) == len(heads) and t("pg_third_party", lang) not in heads


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_access_page_carries_the_synthetic_data_note(tmp_path, lang):
    """gd_zh_1366_flag_unit321200.png: the refusal page had the header but not the note every page carries."""
    from dashboard_http import signed_in_client

    from dashboards.app import create_app
    from dashboards.i18n import t

    app = create_app(
        tmp_path / "no.snapshot.duckdb",
        user_store=tmp_path / "access" / "users.sqlite",
        secret_key_file=tmp_path / "access" / "secret_key",
    )
    client = signed_in_client(app, tmp_path / "access" / "users.sqlite", "gd_test", "province", "44")
    r = client.get(f"/quality?lang={lang}", headers={"Accept": "text/html"})
    assert r.status_code == 403
    import html as h

    assert h.escape(t("synthetic_banner", lang)) in r.get_data(as_text=True)


def test_a_file_preview_keeps_one_line_per_row():
    """gd_en_1920_downloads.png (after the grids' default wrap): the formula column at the grid's edge wrapped a
    letter a line, rows a screen tall. The preview's cells stay one line with their text as tooltip."""
    from dashboards.pages.downloads import preview_columns

    for col in preview_columns(["年份", "城市", "计算公式", "原始值"]):
        assert col["wrapText"] is False and col["autoHeight"] is False and col["tooltipField"] == col["field"]
