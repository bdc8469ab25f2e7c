"""What officials read, in both languages: labels instead of codes, numbers formatted alike, nothing overlapping.

Pure functions behind the callbacks, over small frames: no snapshot, no browser."""

from __future__ import annotations

import polars as pl
import pytest

from dashboards.pages import profile

CATALOG = pl.DataFrame(
    {"indicator_code": ["PRO01"], "name_zh": ["行政执法案件结案率"], "name_en": ["Enforcement case closure rate"]}
)


def _alerts(**extra) -> pl.DataFrame:
    rows = {
        "year": [2025, 2025, 2025, 2025],
        "alert_type": ["source_reporting", "behind_target", "stage", "rank_drop"],
        "status": ["late", "deteriorating", "exit_candidate", "firing"],
        "plan_id": [None, "plan_2021_2025", None, None],
        "indicator_code": [None, "PRO01", None, None],
        "progress_index": [None, -24.0, None, None],
        "message": [
            "绵阳市：2025 年知识产权培训数据逾期报送",
            "绵阳市：2025 年目标“行政执法案件结案率”倒退",
            "绵阳市：2025 年评价为“退出候选”",
            "绵阳市：2025 年排名下降 16 位（现第 52 名）",
        ],
        "created_at": ["2026-12-04 15:03"] * 4,
    }
    return pl.DataFrame({**rows, **extra})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_profile_alert_history_labels_every_rule_and_status(lang):
    rows = profile.alert_rows(_alerts(), CATALOG, lang)
    shown = [(r["type_label"], r["status_label"]) for r in rows]
    codes = {"source_reporting", "late", "behind_target", "deteriorating", "stage", "exit_candidate", "rank_drop"}
    assert not codes & {x for pair in shown for x in pair}, shown
    if lang == "zh":
        assert shown == [
            ("数据未按期报送", "逾期报送"),
            ("目标滞后", "倒退"),
            ("评价阶段预警", "退出候选"),
            ("排名大幅下降", "预警中"),
        ]
    else:
        assert shown == [
            ("Data not reported on time", "Late"),
            ("Behind target", "Deteriorating"),
            ("Stage alert", "Exit candidate"),
            ("Rank drop", "Firing"),
        ]


def test_profile_alert_history_in_english_uses_the_alerts_english_title():
    titles = ["510700: training_events 2025 is late", None, "510700: exit candidate in 2025", None]
    rows = profile.alert_rows(_alerts(title_en=titles), CATALOG, "en")
    assert rows[0]["message"] == titles[0]
    # without an English title: type, indicator and status, never a Chinese message or an empty "—"
    assert rows[1]["message"] == "Behind target: Enforcement case closure rate — Deteriorating"
    assert rows[3]["message"] == "Rank drop — Firing"


def _side_by_side() -> pl.DataFrame:
    base = {
        "unit_code": ["510700", "520100"],
        "unit_name": ["绵阳市", "贵阳市"],
        "unit_name_en": ["Mianyang", "Guiyang"],
        "composite_index": [156.2, 99.8],
        "composite": [84.8, 54.2],
        "score_mgt": [77.4, 31.4],
        "score_pro": [92.7, 69.4],
        "score_utl": [76.5, 71.0],
        "score_qlt": [92.7, 51.8],
        "score_env": [82.6, 33.0],
        "rank": [1, 33],
        "rank_change": [0, -8],
        "performance_group": ["leader", "moderate"],
        "stage": ["exemplary", "normal"],
    }
    return pl.DataFrame(base)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_side_by_side_numbers_read_alike(lang):
    from dashboards.pages import compare

    cols, rows = compare.side_by_side_table(_side_by_side(), lang)
    by = {r["measure"]: r for r in rows}
    utl = "运用" if lang == "zh" else "Utilisation"
    # one decimal for every score, also when it happens to be whole (71.0, not 71 beside 76.5)
    assert by[utl]["520100"] == "71.0" and by[utl]["510700"] == "76.5"
    change = "排名变化" if lang == "zh" else "Rank change"
    assert (by[change]["510700"], by[change]["520100"]) == ("0", "\u22128")  # the true minus, as the charts print it
    assert by["排名" if lang == "zh" else "Rank"]["520100"] == "33"
    # the first column says what its rows are
    assert cols[0]["headerName"] == ("指标" if lang == "zh" else "Measure")


def test_every_source_has_a_name_in_both_languages():
    """The data-quality chart and tables name sources; a source added to the contract needs its label too."""
    from dashboards.i18n import SOURCE_NAMES
    from pipelines.sources import SOURCES

    assert set(SOURCES) <= set(SOURCE_NAMES), set(SOURCES) - set(SOURCE_NAMES)
    assert all(zh and en and zh != en for zh, en in SOURCE_NAMES.values())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quality_run_counts_have_thousands_separators_and_every_column_a_title(lang):
    from dashboards.pages import quality

    cols = quality.run_columns(lang)
    counts = [c for c in cols if c["field"] in ("files", "rows_read", "rows_loaded", "rows_rejected")]
    assert len(counts) == 4 and all("',d'" in c["valueFormatter"]["function"] for c in counts)
    assert all(c["headerName"] for c in quality.source_columns(lang))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quarantine_rows_name_the_source(lang):
    from dashboards.pages import quality

    rej = pl.DataFrame({"source": ["pledge_loans"], "reason": ["not a date in month: '2025-13'"], "rows": [1]})
    [row] = quality.rejection_rows(rej, lang)
    assert row["source"] == ("知识产权质押融资" if lang == "zh" else "Pledge loans")


def test_target_plan_legend_is_clear_of_the_axis_title():
    """The legend sat at y=-0.35 under the plot, on top of the x-axis title (seen at 1366×768); above the bars,
    under the title, it has a band of its own, in the order the bars are stacked."""
    from dashboards.pages import targets

    by_plan = pl.DataFrame({"plan_id": ["plan_2016_2020"], "targets": [10]})
    for b in targets.BUCKET_ORDER:
        by_plan = by_plan.with_columns(pl.lit(1).alias(f"n_{b}"), pl.lit(10.0).alias(f"pct_{b}"))
    layout = targets.plan_figure(by_plan, "zh").layout
    assert layout.xaxis.title.text
    assert layout.legend.y >= 1 and layout.legend.yanchor == "bottom"
    assert layout.legend.traceorder == "normal"
    assert layout.margin.t >= 90  # title (20 px font) and one legend row above the plot


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_footer_says_what_the_figures_are_and_where_they_come_from(lang):
    """Every page's footer: the latest evaluation year, when and by which run the data were published, the
    catalog and rules versions, the release (or that there is none yet), and that city data are synthetic;
    not the snapshot's file name."""
    from dashboards.app import footer_text

    info = {
        "year": 2025,
        "published_at": "2026-12-04T15:03:33",
        "run_id": "8e28ac7d-eb54-48ac-9169-ee189d58854d",
        "catalog_version": "2024.1",
        "rules_version": "2024.1",
        "release_id": None,
    }
    text = footer_text(info, lang)
    assert "2025" in text and "2026-12-04 15:03" in text and "8e28ac7d" in text and "2024.1" in text
    assert "duckdb" not in text and "None" not in text and "T15" not in text
    if lang == "zh":
        assert "尚未正式发布" in text and "合成示例数据" in text
    else:
        assert "not yet formally released" in text and "synthetic" in text
    released = footer_text({**info, "release_id": "2025-r1"}, lang)
    assert "2025-r1" in released and "尚未正式发布" not in released


def test_footer_without_metadata_shows_no_placeholders():
    from dashboards.app import footer_text

    text = footer_text({"year": None, "published_at": None, "run_id": None}, "en")
    assert text and "None" not in text and "nan" not in text


def _rollup() -> pl.DataFrame:
    row = {
        "province_code": "410000",
        "province_name": "河南省",
        "n_cities": 4,
        "mean_index": 57.2,
        "sd_index": 37.2,
        "min_index": 22.6,
        "max_index": 96.2,
        "mean_acceptance_score": None,
        "share_key_targets_met": 0.31,
        "n_flagged": 3,
        "flagged_units": "南阳市、安阳市、新乡市",
    }
    return pl.DataFrame([row])


def test_province_rollup_names_flagged_cities_in_english():
    from dashboards.pages import provinces

    names = {("410000", "南阳市"): "Nanyang", ("410000", "安阳市"): "Anyang", ("410000", "新乡市"): "Xinxiang"}
    [en] = provinces.rollup_rows(_rollup(), "en", names)
    assert en["flagged_units"] == "Nanyang, Anyang, Xinxiang"
    [zh] = provinces.rollup_rows(_rollup(), "zh", names)
    assert zh["flagged_units"] == "南阳市、安阳市、新乡市"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_province_chart_explains_its_red_bars(lang):
    from dashboards.pages import provinces

    title = provinces.chart(_rollup(), lang).layout.title.text
    # in the grid's word for the cities beside it (预警城市; it said 被标记城市)
    assert ("预警城市" in title) if lang == "zh" else ("flagged" in title.lower())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_profile_values_in_their_unit_with_the_indicators_precision(lang):
    catalog = pl.DataFrame(
        {
            "indicator_code": ["ENV03", "PRO01"],
            "name_zh": ["每万人口专利授权量", "行政执法案件结案率"],
            "name_en": ["Patent grants per 10k people", "Enforcement case closure rate"],
            "unit": ["件/万人", "比率"],
        }
    )
    values = pl.DataFrame(
        {
            "year": [2025, 2025, 2024],
            "indicator_code": ["ENV03", "PRO01", "ENV03"],
            "value": [127.6701, 0.86234, 1234.5],
            "normalised_score": [86.2462, 83.27, 80.0],
        }
    )
    rows = profile.value_rows(values, catalog, lang)
    env, pro = rows[0], rows[1]
    assert env["value"] == pytest.approx(127.6701)  # the number stays for sorting and the provenance click
    assert env["value_text"] == ("128 件/万人" if lang == "zh" else "128 per 10k people")
    assert pro["value_text"] == "86.2%"
    assert rows[2]["value_text"].startswith("1,234")
    cols = {c["field"]: c for c in profile.value_columns(lang)}
    assert "value_text" in cols["value"]["valueFormatter"]["function"]
    assert "ag-right-aligned-cell" in cols["value"]["cellClass"]  # a number column, also when it is clickable
    assert "'.1f'" in cols["normalised_score"]["valueFormatter"]["function"]
    assert all(c["headerName"] for c in cols.values())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_target_ambition_rows_name_the_plan_and_show_ratios_as_percentages(lang):
    from dashboards.pages import programmes

    row = {
        "unit_name": "绵阳市",
        "unit_name_en": "Mianyang",
        "plan_id": "plan_2016_2020",
        "indicator_name": "行政执法案件结案率",
        "indicator_name_en": "Enforcement case closure rate",
        "indicator_code": "PRO01",
        "unit": "比率",
        "baseline_value": 0.8247,
        "baseline_year": 2016,
        "target_value": 0.9145,
        "target_year": 2020,
        "required_growth": 0.026,
        "trend_growth": None,
        "peer_median_growth": 0.015,
        "peer_p90_growth": 0.023,
        "peer_scope": None,
        "n_peers": 3,
        "ambition_class": "stretch",
        "ambition_weight": 1.0,
    }
    [r] = programmes.ambition_rows(pl.DataFrame([row]), lang)
    assert r["plan_id"] == ("2016–2020年规划" if lang == "zh" else "Plan 2016–2020")
    assert r["target"] == "82.5% (2016) → 91.5% (2020)"
    assert r["ambition_weight"] == "1.0"


def test_alerts_page_names_cities_in_the_readers_language():
    from dashboards.pages import alerts

    row = {
        "fingerprint": "ac530ca3ffff",
        "rule_id": "stage",
        "kind": "sanction",
        "severity": "critical",
        "unit_name": "泰州市",
        "unit_code": "321200",
        "title_zh": "泰州市：2025 年评价为“退出候选”",
        "title_en": "321200: exit candidate in 2025",
        "state": "firing",
        "last_fired_at": "2026-12-04T15:03:31",
        "resolved_at": None,
        "acked_at": None,
        "acked_by": None,
        "silenced_until": None,
    }
    df = pl.DataFrame([row, {**row, "fingerprint": "b" * 12, "unit_name": None, "unit_code": None}])
    names = {"321200": "Taizhou (Jiangsu)"}
    en = alerts.alert_rows(df, "en", names)
    assert [r["city"] for r in en] == ["Taizhou (Jiangsu)", "Data engineering"]
    assert alerts.alert_rows(df, "zh", names)[0]["city"] == "泰州市"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_signed_in_badge_names_the_province_not_its_code(lang):
    import json

    import flask

    from dashboards import access
    from dashboards.app import shell_content

    gd = access.Principal("gd", "province", "440000")
    with flask.Flask(__name__).app_context():  # the page list reads the app's page roles
        _, _, toggles, _ = shell_content("/", f"?lang={lang}", gd, {"440000": ("广东省", "Guangdong")})
    badge = next(c for c in toggles if getattr(c, "id", None) == "ipc-user").children
    assert "440000" not in badge
    assert badge == ("gd · 省级知识产权局（广东省）" if lang == "zh" else "gd · Provincial office (Guangdong)")
    # and readable on the dark header (it was #555 on #0b3c5d)
    from pathlib import Path

    css = (Path(__file__).resolve().parents[1] / "dashboards" / "assets" / "style.css").read_text(encoding="utf-8")
    rule = next(line for line in css.splitlines() if line.startswith(".ipc-user "))
    assert "#555" not in rule, json.dumps(rule)


def test_programme_roster_in_english_names_city_province_and_programme_in_english():
    from dashboards.pages import programmes

    member = {
        "unit_code": "320600",
        "unit_name": "南通市",
        "province_code": "320000",
        "province_name": "江苏省",
        "programme_code": "strong_city_demo",
        "programme_name_zh": "国家知识产权强市建设示范城市",
        "cohort": "2024-01",
        "joined_on": "2024-01-09",
        "left_on": None,
        "exit_reason": None,
        "first_evaluated_year": 2024,
        "last_evaluated_year": 2026,
        "source_note": "http://example.gov.cn | 南通成功入选",
    }
    df = pl.DataFrame([member])
    names = {
        "unit_name_en": {"320600": "Nantong"},
        "programme_en": {"strong_city_demo": "National IP strong-city demo"},
    }
    [en] = programmes.membership_rows(df, "en", **names)
    assert en["city_link"].startswith("[Nantong](") and en["province"] == "Jiangsu"
    assert en["programme"] == "National IP strong-city demo"
    [zh] = programmes.membership_rows(df, "zh", **names)
    assert zh["city_link"].startswith("[南通市](") and zh["province"] == "江苏省"
    assert zh["programme"] == "国家知识产权强市建设示范城市"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_programme_source_notes_read_in_the_page_language(lang):
    """The curator's fields ("confidence: high | batch: …") were shown raw on the Chinese page; links and quoted
    source text stay as published."""
    from dashboards.pages import programmes

    note = (
        "https://example.gov.cn/a.html | 昌平区获批(国知发运函字〔2026〕25号) | confidence: high | "
        "batch: 2026-03 (2025-2027 round; 国知发运函字〔2026〕25号)"
    )
    text = programmes.source_text(note, lang)
    if lang == "zh":
        assert text == (
            "https://example.gov.cn/a.html；昌平区获批(国知发运函字〔2026〕25号)；可信度：高；"
            "批次：2026-03（2025–2027年轮次；国知发运函字〔2026〕25号）"
        )
        assert (
            programmes.source_text("confidence: medium | batch: 2024-01 (2nd)", lang)
            == "可信度：中；批次：2024-01（第2批）"
        )
        assert programmes.source_text("batch: unclear (2022-08 or 2024-01)", lang) == "批次：不明（2022-08 或 2024-01）"
        assert "confidence" not in text and "batch" not in text
    else:
        assert text.endswith("Confidence: high; Batch: 2026-03 (2025–2027 round; 国知发运函字〔2026〕25号)")
        assert programmes.source_text("batch: 2024-01 (2nd)", lang) == "Batch: 2024-01 (batch 2)"
    assert programmes.source_text(None, lang) == ""


def test_programme_third_party_table_names_cities_in_english():
    from dashboards.pages import programmes

    frame = pl.DataFrame(
        {
            "unit_code": ["320600", "110114"],
            "unit_name": ["南通市", "昌平区"],
            "cycle": ["2024-2026"] * 2,
            "status": ["pending"] * 2,
            "evaluator": [None, None],
            "report_version": [None, None],
            "third_party_score": [None, None],
            "findings": [None, None],
        }
    )
    names = {"320600": "Nantong"}
    en = [r["unit_name"] for r in programmes.third_party_rows(frame, "en", names)]
    zh = [r["unit_name"] for r in programmes.third_party_rows(frame, "zh", names)]
    assert en == ["Nantong", "昌平区"]  # no English name in the city list: the name as published, never invented
    assert zh == ["南通市", "昌平区"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_watchlist_keeps_stage_and_city_whole_and_in_view(lang):
    """At 1366×768 the English stage ("Exit can…") and city ("Taizhou (Jiang…") were cut, and scrolling right to
    the why-flagged link lost which city a row was: both columns are wide enough and pinned."""
    from dashboards.components import DEFAULT_COLUMN
    from dashboards.pages import watchlist

    cols = {c["field"]: c for c in watchlist.columns(lang)}
    for field in ("stage_label", "city_link"):
        assert cols[field].get("pinned") == "left"
        assert cols[field]["minWidth"] >= 120 and cols[field].get("maxWidth", 10**6) >= cols[field]["minWidth"]
        # a long English name wraps onto a second line instead of being cut (the grid fits 1366 px: round 4)
        assert cols[field].get("wrapText", DEFAULT_COLUMN["wrapText"]) is True


def _quality_checks() -> pl.DataFrame:
    exp = '{{"type": "{}", "kwargs": {{"column": "{}"}}, "severity": "error"}}'
    return pl.DataFrame(
        {
            "check_name": ["city_code__not_null", "unit_code__unique", "foo__new"],
            "asset": ["raw.training_events", "marts.dim_city", "raw.not_a_source"],
            "partition": ["2025", None, None],
            "severity": ["error", "error", "warn"],
            "passed": [False, True, True],
            "observed_value": ['{"unexpected_count": 3, "element_count": 10}', None, None],
            "expectation": [
                exp.format("expect_column_values_to_not_be_null", "city_code"),
                exp.format("expect_column_values_to_be_unique", "unit_code"),
                exp.format("expect_something_new", "x"),
            ],
        }
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quality_checks_name_assets_and_expectations_in_words(lang):
    from dashboards.pages import quality

    rows = quality.check_rows(_quality_checks(), lang)
    shown = [(r["asset_label"], r["expectation_text"]) for r in rows]
    if lang == "zh":
        assert shown[:2] == [
            ("知识产权培训（原始数据）", "不为空（city_code）"),
            ("城市名录（分析数据集）", "取值唯一（unit_code）"),
        ]
    else:
        assert shown[:2] == [
            ("Training events (raw data)", "Not null (city_code)"),
            ("City list (mart)", "Values unique (unit_code)"),
        ]
    # no raw GX type or asset id is what the grid shows; an unknown one stays visible as it is
    assert not any("expect_" in e or a.startswith(("raw.", "marts.")) for a, e in shown[:2])
    assert shown[2] == ("raw.not_a_source", "expect_something_new（x）" if lang == "zh" else "expect_something_new (x)")
    assert [r["asset"] for r in rows] == ["raw.training_events", "marts.dim_city", "raw.not_a_source"]  # the tooltip
    column = next(c for c in _check_grid_columns(lang) if c["field"] == "asset_label")
    assert column["tooltipField"] == "asset"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quality_checks_are_named_in_words_with_the_technical_name_on_hover(lang):
    """amount_10k_yuan__not_null reads "质押金额(万元)：不为空" / "Amount 10k yuan: not null": the column by the
    contract's header, the check's kind translated; the technical name stays on hover and in its own column."""
    from dashboards.pages import quality

    label = quality.check_label
    cases = {
        ("amount_10k_yuan__not_null", "raw.pledge_loans"): ("质押金额(万元)：不为空", "Amount 10k yuan: not null"),
        ("city_code__known_region", "raw.cities"): ("城市代码：行政区划代码已知", "City code: known region code"),
        ("composite_index__non_negative", "marts.fct_city_score_year"): (
            "综合指数：不为负数",
            "Composite index: not negative",
        ),
        ("row_count__vs_previous_year", "raw.patent_grants"): (
            "行数：与上年相比变化合理",
            "Row count: change against the previous year plausible",
        ),
        ("freshness", "raw.pledge_loans"): ("数据及时更新", "Data up to date"),
    }
    for (name, asset), pair in cases.items():
        assert label(name, asset, None, lang) == pair[lang == "en"]
    # a kind without a label is said by its expectation type; failing that, as it is
    unique = '{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "x"}}'
    assert label("x__brand_new", "raw.x", unique, lang).endswith("取值唯一" if lang == "zh" else "Values unique")
    assert label("x__brand_new", "raw.x", None, lang).endswith("brand_new")
    rows = quality.check_rows(_quality_checks(), lang)
    assert rows[0]["check_label"] == ("城市代码：不为空" if lang == "zh" else "City code: not null")
    assert rows[0]["check_name"] == "city_code__not_null"
    cols = {c["field"]: c for c in _check_grid_columns(lang)}
    # the technical name is the check's tooltip; its own column pushed the grid off a 1366 px screen (dash5)
    assert cols["check_label"]["tooltipField"] == "check_name"
    assert all("__" not in r["check_label"] for r in rows[:2])


def _check_grid_columns(lang):
    from dashboards.pages import quality

    return quality.check_columns(lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_quality_sources_table_names_each_source(lang):
    from dashboards.pages import quality
    from dashboards.queries import SOURCE_NATURE

    rows = quality.source_rows(lang)
    ids = [s for s, *_ in SOURCE_NATURE]
    assert not {r["source"] for r in rows} & set(ids)  # a name, never the raw id
    assert [r["source_id"] for r in rows] == ids
    by_id = {r["source_id"]: r["source"] for r in rows}
    if lang == "zh":
        assert by_id["population (provinces)"] == "人口与GDP（省级）" and by_id["pledge_loans"] == "知识产权质押融资"
    else:
        assert by_id["population (cities)"] == "Population and GDP (cities)" and by_id["targets"] == "Plan targets"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_programme_calendar_says_the_rule_parameter_in_words(lang):
    from dashboards.pages import programmes

    row = {
        "calendar_note_zh": "长期称号;自批次年份起年度评价,三年周期以评价规则GEN.cycle_anchor_year为起点",
        "calendar_note_en": "Open-ended title; three-year cycles anchored at the rules seed's GEN.cycle_anchor_year",
        "cycle_anchor_year": 2017,
    }
    note = programmes.calendar_note(row, lang)
    assert "GEN." not in note and "cycle_anchor_year" not in note and "seed" not in note
    if lang == "zh":
        assert note.endswith("三年周期以评价规则设定的首个评估周期起始年（2017年）为起点")
    else:
        assert note.endswith("anchored at 2017, the first evaluation-cycle year set in the evaluation rules")
    plain = {"calendar_note_zh": "第二批", "calendar_note_en": "Second batch", "cycle_anchor_year": 2024}
    assert programmes.calendar_note(plain, lang) == ("第二批" if lang == "zh" else "Second batch")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_acceptance_names_a_bilingual_evaluator_in_the_page_language_only(lang):
    from dashboards.pages import programmes

    sample = "合成示例评估机构(SYNTHETIC sample evaluator)"
    r = {"third_party_status": "received", "third_party_score": 80.0, "third_party_weight": 0.4}
    cell = profile._third_party_cell({**r, "third_party_evaluator": sample, "third_party_report_version": 1}, lang)
    if lang == "zh":
        assert "合成示例评估机构" in cell and "SYNTHETIC" not in cell
    else:
        assert "SYNTHETIC sample evaluator" in cell and "合成" not in cell
    frame = pl.DataFrame(
        {
            "unit_name": ["宜昌市"] * 2,
            "cycle": ["2017–2019"] * 2,
            "status": ["received"] * 2,
            "evaluator": [sample, "某某知识产权评估中心"],
            "report_version": [1, 1],
            "third_party_score": [80.0, 70.0],
            "findings": [None, None],
        }
    )
    shown = [r["evaluator"] for r in programmes.third_party_rows(frame, lang)]
    # a name given in one language only is shown as it is: nothing is invented
    assert shown == [("合成示例评估机构" if lang == "zh" else "SYNTHETIC sample evaluator"), "某某知识产权评估中心"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_province_grid_explains_its_blank_acceptance_and_sd_cells(lang):
    from dashboards.pages import provinces

    tips = {c["field"]: c.get("headerTooltip") for c in provinces.columns(lang)}
    acceptance, sd = tips["mean_acceptance"], tips["sd_index"]
    assert acceptance and sd
    if lang == "zh":
        assert "年度" in acceptance and "第三方评估" in acceptance and "只有一个城市" in sd
    else:
        assert "year roll-up" in acceptance and "third-party" in acceptance and "only one city" in sd


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_comparison_says_an_empty_strengths_list_in_words(lang):
    from dashboards.i18n import t
    from dashboards.pages import compare

    sw = pl.DataFrame(
        {"unit_code": ["510700"], "kind": ["strength"], "indicator_code": ["PRO01"], "name_zh": ["结案率"]}
        | {"name_en": ["Closure rate"], "diff": [12.5]}
    )
    [card] = compare.strengths_list(sw, {"510700": "绵阳市"}, ["510700"], lang)
    strengths, weaknesses = (div.children[1].children for div in card.children[1:])
    assert len(strengths) == 1 and "(+12.5)" in strengths[0].children
    # in words that say what is not there (round 11: a bare "None" read as a program's empty value)
    assert [li.children for li in weaknesses] == [t("sw_none_weakness", lang)]


@pytest.mark.parametrize(("score", "shown"), [(59.99, "59.99"), (59.999, "59.99"), (69.9999, "69.99"), (70.0, "70.00")])
def test_profile_acceptance_score_is_never_shown_across_its_band_threshold(score, shown):
    """As in the dossier (pipelines.evaluation.rules.acceptance_score_text): 59.99 beside "title removed" must not
    read 60.0; the score is cut, not rounded, to two decimals."""
    acceptance = pl.DataFrame(
        {
            "cycle": ["2022–2024"],
            "indicator_score": [62.0],
            "third_party_status": ["received"],
            "third_party_score": [50.0],
            "third_party_weight": [0.3],
            "third_party_evaluator": ["某某知识产权评估中心"],
            "third_party_report_version": [1],
            "acceptance_score": [score],
            "acceptance_band": ["title_removed" if score < 60 else "new_pilot_round"],
            "acceptance_status": ["combined"],
        }
    )
    view = profile.acceptance_view(acceptance, None, None, "zh")
    cells = [c.children for c in _find_all(view, "Td")]
    assert shown in cells, cells
    assert not any(c in ("60.0", "70.0") for c in cells if isinstance(c, str)) or score == 70.0
    # one format across the row: the indicator and third-party scores beside it have two decimals too
    assert cells[1] == "62.00" and cells[2].startswith("50.00 (×0.3)"), cells


def _find_all(component, type_name: str) -> list:
    found = []
    if type(component).__name__ == type_name:
        found.append(component)
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found += _find_all(child, type_name)
    return found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_navigation_sits_on_its_own_bar_with_labels_short_enough_for_one_line(lang):
    """The navigation wrapped onto two or three lines beside the title at 1366 px. It is now a bar of its own
    below the title, language and account, never wrapping at 1366 px or wider, with short labels (the page's
    full name as the link's tooltip); the browser test measures it."""
    from pathlib import Path

    import flask

    from dashboards.app import PAGES, shell, shell_content
    from dashboards.i18n import t

    header = shell().children[0]
    top, nav = header.children
    assert nav.id == "ipc-nav" and {c.id for c in top.children} == {"ipc-title", "ipc-lang"}
    with flask.Flask(__name__).app_context():
        _, links, _, _ = shell_content("/compare", f"?lang={lang}")
    assert len(links) == len(PAGES)
    # ≈ 1366 px minus the margins at 17 px: twelve links of at most ~110 Latin or ~50 CJK characters in all
    total = sum(len(a.children) for a in links)
    assert total <= (110 if lang == "en" else 50), [a.children for a in links]
    compare = next(a for a in links if a.id == "nav-compare")
    assert compare.title == t("nav_compare", lang) and "active" in compare.className
    css = (Path(__file__).resolve().parents[1] / "dashboards" / "assets" / "style.css").read_text(encoding="utf-8")
    rule = next(line for line in css.splitlines() if line.startswith(".ipc-nav {"))
    assert "flex-wrap: nowrap" in rule


def test_value_axes_drop_trailing_zeros():
    """An axis to 200 read 0.00 … 200.00 (the hover's two decimals); ticks now drop trailing zeros."""
    import polars as pl

    from dashboards.figures import trend_lines
    from dashboards.formatting import axis_tickformat

    assert axis_tickformat(2) == ",.2~f"  # d3-format: the trim flag follows the precision
    trend = pl.DataFrame(
        {
            "unit_code": ["510700"] * 2 + ["410500"] * 2,
            "unit_name": ["绵阳市"] * 2 + ["安阳市"] * 2,
            "unit_name_en": ["Mianyang"] * 2 + ["Anyang"] * 2,
            "year": [2024, 2025] * 2,
            "value": [180.0, 230.0, 1.2, 1.5],
        }
    )
    fig = trend_lines(trend, ["510700", "410500"], "zh", "QLT01", "件/万人")
    assert "~" in fig.layout.yaxis.tickformat


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_extract_list_names_the_province_in_the_page_language_and_the_time_plainly(lang):
    from dashboards.i18n import t
    from dashboards.pages import downloads

    entry = {
        "province_code": "440000",
        "province_name": "广东省",
        "year": 2025,
        "version": 1,
        "release_id": "2025-x",
        "generated_at": "2026-12-04T19:54:25",
        "previous_version": None,
        "changes": 0,
        "files": [{"table": "all", "format": "xlsx", "path": "440000/2025/v1/a.xlsx"}],
    }
    [row] = downloads.extract_rows([entry], lang, {"440000": ("广东省", "Guangdong")})
    assert row["province"] == ("Guangdong" if lang == "en" else "广东省")
    assert row["generated_at"] == "2026-12-04 19:54"
    # without the names (no snapshot) the manifest's name, never a code or nothing
    assert downloads.extract_rows([entry], lang)[0]["province"] == "广东省"
    # the download link says what it is in the page's language ("↓ URL" in both before)
    assert t("dl_link", lang) == ("↓ 下载链接" if lang == "zh" else "↓ Download link")


def test_watchlist_is_named_apart_from_the_alerts_and_its_empty_list_says_whose():
    """退出预警 beside 预警 read as the same page: the watchlist is 整改/退出风险名单 (风险名单 in the bar); a
    provincial office's empty list says 本省, since it holds that province's cities only."""
    from dashboards.access import Principal
    from dashboards.i18n import nav_label, t
    from dashboards.pages import watchlist

    assert t("nav_watchlist", "zh") == "整改/退出风险名单"
    assert "预警" not in nav_label("nav_watchlist", "zh") and "预警" not in t("nav_watchlist", "zh")
    national, province = Principal("chief", "national"), Principal("gdoffice", "province", "44")
    assert "本省" not in watchlist.empty_text(national, "zh")
    assert watchlist.empty_text(province, "zh").startswith("本省")
    assert "your province" in watchlist.empty_text(province, "en")


def test_grid_pager_reads_naturally_in_chinese():
    """AG Grid composes "{page} 1 {of} 4": 第 1 / 4, and the stylesheet closes it with 页 (not "页 1 / 4")."""
    from pathlib import Path

    from dashboards.components import AG_GRID_LOCALE_ZH

    assert (AG_GRID_LOCALE_ZH["page"], AG_GRID_LOCALE_ZH["of"]) == ("第", "/")
    css = (Path(__file__).parents[1] / "dashboards/assets/style.css").read_text(encoding="utf-8")
    assert '.ipc-grid:lang(zh) .ag-paging-description::after { content: "页"' in css


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_simulator_names_the_rule_of_a_parameter_in_words(lang):
    """The small print under a rule parameter was its id ("规则参数 GEN.robust_share"): the rule in words, the id
    on hover (the layout sets the caption's title to the key)."""
    from dashboards.pages import simulator

    caption = simulator.rule_caption("R2.regress_points", lang)
    assert caption == ("所属规则：整改：综合指数下降" if lang == "zh" else "Rule: Rectification: index decline")
    assert "GEN" not in simulator.rule_caption("GEN.robust_share", lang)
    assert simulator.rule_caption("ZZ9.new_param", lang).endswith("ZZ9")  # an unnamed rule by its code


def test_programme_texts_use_full_width_punctuation_in_chinese():
    """Chinese sentences with "," and ":" read as typed on an English keyboard: full width, placeholders untouched."""
    import re

    from dashboards.i18n_programme import PROGRAMME_TEXT

    for key, (zh, _en) in PROGRAMME_TEXT.items():
        bare = re.sub(r"\{[^}]*\}", "", zh)
        if re.search(r"[\u4e00-\u9fff]", bare):
            assert not re.search(r"[,:;()]", bare), (key, zh)


def test_download_preview_shows_one_precision_per_indicator_and_shares_in_per_cent():
    """The preview showed the file's 4-decimal values (4.7655, 0.6731) and scores as 24 beside 22.02: each indicator
    now has one precision (digits_for), shares read as per cent, scores one decimal; the numbers stay numbers."""
    from dashboards.indicator_download import EXTRACT_HEADERS as H
    from dashboards.pages import downloads

    df = pl.DataFrame(
        {
            H["indicator_code"]: ["ENV01", "ENV01", "PRO01", "PRO02"],
            H["unit"]: ["人次/万人", "人次/万人", "比率", "天"],
            H["raw_value"]: [4.7655, 0.513, 0.6731, 73.0],
            H["value"]: [4.7655, 0.513, 0.6731, 73.0],
            H["normalised_score"]: [22.02, 14.9, 48.43, 24.0],
        }
    )
    rows = downloads.preview_rows(df)
    assert [(r["_digits"], r["_scale"]) for r in rows] == [(2, 1.0), (2, 1.0), (1, 100.0), (1, 1.0)]
    assert rows[0][H["raw_value"]] == 4.7655  # still a number: the grid formats and sorts it
    cols = {c["field"]: c for c in downloads.preview_columns(df.columns)}
    for header in (H["raw_value"], H["value"]):
        assert cols[header]["valueFormatter"] == downloads.VALUE_FORMAT["valueFormatter"]
    assert "'.1f'" in cols[H["normalised_score"]]["valueFormatter"]["function"]


def test_profile_target_table_has_one_precision_per_indicator():
    """QLT01 read "74 → 120, 232" in the 2021–2025 row and "31.8 → 51.0, 63.9" in the 2016–2020 row; one indicator
    now has one precision in every row (as in the value table beside it: 232.0)."""
    targets = pl.DataFrame(
        {
            "plan_id": ["plan_2016_2020", "plan_2021_2025", "plan_2021_2025"],
            "indicator_code": ["QLT01", "QLT01", "PRO01"],
            "baseline_value": [31.8, 74.0, 0.879],
            "target_value": [51.0, 120.0, 0.948],
            "current_year": [2020, 2025, 2025],
            "current_value": [63.9, 232.0125, 0.862],
            "progress_index": [1.0, 1.0, -0.24],
            "status": ["achieved", "achieved", "deteriorating"],
        }
    )
    catalog = pl.DataFrame(
        {
            "indicator_code": ["QLT01", "PRO01"],
            "unit": ["件/万人", "比率"],
            "name_zh": ["每万人口发明专利拥有量", "行政执法案件结案率"],
            "name_en": ["Invention patents in force per 10k people", "Case closure rate"],
        }
    )
    rows = profile.target_rows(targets, catalog, "zh")
    qlt = [(r["baseline_value"], r["target_value"], r["current_value"]) for r in rows if r["indicator_code"] == "QLT01"]
    assert qlt == [("31.8", "51.0", "63.9"), ("74.0", "120.0", "232.0")]
    assert [r["current_value"] for r in rows if r["indicator_code"] == "PRO01"] == ["86.2"]


def test_trend_axis_title_is_wrapped_to_the_plot_and_says_its_unit_once():
    """The English trend's vertical title ("Invention patents in force per 10k people (per 10k people)") ran past the
    plot into the chart title: it is wrapped in lines (<br>), the axis makes room, and the unit is not said twice."""
    from dashboards.figures import trend_lines
    from dashboards.formatting import axis_title, wrap_axis_title

    name = "High-value invention patents in force per 10k people"
    assert axis_title(name, "件/万人", "en") == name
    assert axis_title("结案周期中位数", "天", "zh") == "结案周期中位数 (天)"
    wrapped = wrap_axis_title(name)
    assert wrapped.replace("<br>", " ") == name and all(len(line) <= 40 for line in wrapped.split("<br>"))
    assert wrap_axis_title("每万人口高价值发明专利拥有量（件/万人）") == "每万人口高价值发明专利拥有量（件/万人）"
    assert "<br>" in wrap_axis_title("每万人口高价值发明专利拥有量每万人口高价值发明专利拥有量")
    trend = pl.DataFrame(
        {"unit_code": ["510700"] * 2, "year": [2024, 2025], "value": [150.0, 232.0], "unit_name": ["绵阳市"] * 2}
    ).with_columns(unit_name_en=pl.lit("Mianyang"))
    fig = trend_lines(trend, ["510700"], "en", "QLT01 " + name, unit="件/万人", name=name)
    assert "<br>" in fig.layout.yaxis.title.text and fig.layout.yaxis.automargin is True


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_wide_tables_fit_1366_so_no_figure_is_cut_at_the_edge(lang):
    """At 1366 px a grid's columns scrolled under the window's edge: "20.0" read "20." on the target shares, the
    watchlist's rules were cut. Their minimum widths now fit (the watchlist has ~1,000 px beside its two pinned
    columns; the share tables are stacked, full width) and long names wrap instead of "新疆维…"."""
    from dashboards.pages import targets, watchlist

    cols = watchlist.columns(lang)
    unpinned = [c for c in cols if c.get("pinned") != "left"]
    assert sum(c.get("minWidth", 100) for c in unpinned) <= 1000
    assert all(c["minWidth"] <= c.get("maxWidth", 10**6) for c in unpinned)
    by_field = {c["field"]: c for c in cols}
    assert by_field["links"]["cellRenderer"] == "markdown" and by_field["rules_text"]["wrapText"]
    assert by_field["province_name_en" if lang == "en" else "province_name"]["wrapText"]
    first = {"field": "name", "headerName": "x", "pinned": "left", "minWidth": 120}
    share = targets.share_columns(first, lang)
    # stacked, full width (round 4: every status's share, so a row adds up to 100 %)
    assert sum(c["minWidth"] for c in share) <= 1267 and share[0]["wrapText"]
    assert all(c.get("filter") is False for c in share[1:])  # no filter button eating a narrow header


def test_watchlist_links_cell_has_why_and_dossier_on_two_lines():
    from dashboards.pages import watchlist

    row = {
        "unit_code": "321200",
        "unit_name": "泰州市",
        "stage": "exit_candidate",
        "is_robust": True,
        "share_bottom": 1.0,
        "composite_index": 26.9,
        "targets_lagging": 4,
        "targets_evaluable": 4,
        "rank": 64,
        "n_ranked": 65,
        "p05_rank": 64,
        "p95_rank": 65,
        "dossier_html": "321200_2025.html",
        "dossier_md": None,
        "year": 2025,
    }
    [r] = watchlist.watch_rows(pl.DataFrame([row]), "zh", 2025)
    why, dossier = r["links"].split("  \n")
    assert why.startswith("[为何被标记](/flag?") and dossier == "[HTML](/dossiers/321200_2025.html)"
