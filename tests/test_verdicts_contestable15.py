"""Released verdicts that cannot move under a city's feet, round 15.

1. Rules changed under an unchanged version label: office rules were added to the rules seed inside released rules
   versions (GEN.change_like_for_like into 2021.1 and 2024.1), a re-run could move a verdict while the version label
   read the same, and nothing in a release recorded the rules' content. A release now records, per rules version in
   force in its window, a hash of that version's rows (releases.releases.rules_content); every surface naming a
   released verdict (alert, profile, dossier, extract cover) says when the current rules of such a version differ
   (labels seed rules_changed_since_release). (Round 16: re-releasing under a version edited since is refused --
   the change needs a new version label; tests/test_verdicts_round16.py.)
2. A city recoded after a release (seed unit_code_changes: 莱芜 371200 → 济南 370100) lost its released verdict on every
   reader (releases are keyed by the code at release time). Readers now find it under the code it replaced, saying it
   was released under the old code (labels seed released_under_former_code).
3. Alerts and the released verdict: a city released flagged whose current stage is normal got no stage alert; the
   acceptance-band alert never named the released acceptance score. Both now name the official verdict, worded by the
   functions the profile and the dossier use (releases.release_verdict_text / release_acceptance_text).

Labels and thresholds are read from the seeds, never copied here.
"""

from __future__ import annotations

import shutil
from datetime import datetime

import duckdb
import polars as pl
import pytest
from test_verdicts_contestable13 import CURRENT, RELEASE, RELEASED, _stage_alerts, _warehouse

from pipelines.labels import label_text

LANGS = ("zh", "en")


# --- 1. the rules that judged a release ---------------------------------------------------------------------------


@pytest.fixture
def rules_changed(tmp_path, monkeypatch):
    """The rules seed as it is (what judged RELEASE), then one office rule added inside version 2024.1 -- the label
    unchanged, as GEN.change_like_for_like went in."""
    from pipelines.evaluation import rules
    from pipelines.evaluation.releases import rules_content_of

    recorded = rules_content_of(2016, 2025)
    changed = tmp_path / "evaluation_rules.csv"
    shutil.copy(rules.RULES_FILE, changed)
    with open(changed, "a", encoding="utf-8") as f:
        f.write("2024.1,GEN,an_office_rule_added_later,1,added later,后来加入,added later,后来加入\n")
    monkeypatch.setattr(rules, "RULES_FILE", changed)
    return recorded


def test_a_release_records_the_content_of_each_rules_version_in_its_window():
    from pipelines.evaluation.releases import rules_changed_since, rules_content_of, rules_version_hash
    from pipelines.extracts import rules_cover_rows

    recorded = dict(part.split("=") for part in rules_content_of(2016, 2025).split(";"))
    assert set(recorded) == {"2021.1", "2024.1"}
    assert all(recorded[v] == rules_version_hash(v) and recorded[v] for v in recorded)
    assert rules_content_of(2016, 2020).startswith("2021.1=") and ";" not in rules_content_of(2016, 2020)
    # the current rules judged it: nothing to say
    assert rules_changed_since({"rules_content": rules_content_of(2016, 2025)}) == []
    assert rules_cover_rows({"rules_content": rules_content_of(2016, 2025)}) == []
    assert rules_cover_rows({"rules_content": None}) == []  # a release from before the record: nothing claimed


def test_a_rule_added_inside_a_released_version_cannot_pass_unnoticed(rules_changed):
    from pipelines.evaluation.releases import release_verdict_text, rules_changed_since, rules_content_of

    release = RELEASE | {"rules_content": rules_changed}
    assert rules_changed_since(release) == ["2024.1"]
    # the descriptions do not decide: only rule, parameter and value are hashed; a release recording the new
    # rules is quiet again
    assert rules_changed_since(RELEASE | {"rules_content": rules_content_of(2016, 2025)}) == []
    for lang in LANGS:
        text = release_verdict_text(release, RELEASED["410300"], CURRENT["410300"], lang)
        assert f"{label_text('rules_changed_since_release', lang)}" in text and "2024.1" in text, text


@pytest.mark.parametrize("lang", LANGS)
def test_the_alert_and_the_profile_say_the_released_rules_changed(rules_changed, lang):
    from dashboards.pages.profile import acceptance_view
    from pipelines.evaluation.releases import released_differs

    con = _warehouse()
    con.execute("alter table releases.releases add column rules_content varchar")
    con.execute("update releases.releases set rules_content = ?", [rules_changed])
    title = getattr(_stage_alerts(con)["410300"], f"title_{lang}")
    assert label_text("rules_changed_since_release", lang) in title and "2024.1" in title, title
    released, current = RELEASED["410300"], CURRENT["410300"]
    status = RELEASE | {"rules_content": rules_changed, "released": released, "current": current}
    status |= {"differs": released_differs(released, current), "released_cycle": None, "current_cycle": None}
    assert label_text("rules_changed_since_release", lang) in str(acceptance_view(None, status, None, lang))


def test_the_dossier_and_the_extract_cover_say_the_released_rules_changed(rules_changed):
    from test_verdicts_contestable import _dossier_input

    from pipelines.evaluation.dossier import _render
    from pipelines.labels import performance_group

    current = CURRENT["410300"]
    d = _dossier_input(current["composite_index"], performance_group(current["composite_index"]))
    d["evaluation"] = {**current, "is_robust": True, "cycle": "2025–2027", "rules_version": "2024.1"}
    d["evaluation"] |= {"rules_fired": None}
    d["release"], d["released"] = RELEASE | {"rules_content": rules_changed}, RELEASED["410300"]
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时结论"))
    for lang in LANGS:
        assert label_text("rules_changed_since_release", lang) in line, line
    from pipelines.extracts import rules_cover_rows

    ((key, value),) = rules_cover_rows(d["release"])
    assert all(label_text("rules_changed_since_release", lang) in value for lang in LANGS) and "2024.1" in value


# --- 2. a city recoded after its release ---------------------------------------------------------------------------

OLD, NEW = "371200", "370100"  # 莱芜市 merged into 济南市 (seed unit_code_changes, 国函〔2018〕163号)


def _recoded_warehouse() -> duckdb.DuckDBPyConnection:
    """13's warehouse with 410100 released under 莱芜's old code 371200 and now in the marts as 济南 370100."""
    con = _warehouse()
    for schema, table in (
        ("marts", "dim_city"),
        ("marts", "fct_city_score_year"),
        ("marts", "fct_evaluation_year"),
    ):
        con.execute(f"update {schema}.{table} set unit_code = ? where unit_code = '410100'", [NEW])
    con.execute("update marts.dim_city set unit_name = '济南市', unit_name_en = 'Jinan' where unit_code = ?", [NEW])
    for table in ("evaluation_year", "city_score_year"):
        con.execute(f"update releases.{table} set unit_code = ? where unit_code = '410100'", [OLD])
    con.execute("alter table releases.evaluation_year add column is_robust boolean default true")
    return con


@pytest.mark.parametrize("lang", LANGS)
def test_an_alert_finds_the_verdict_released_under_the_old_code(lang):
    from pipelines.evaluation.releases import release_verdict_text

    alert = _stage_alerts(_recoded_warehouse())[NEW]
    title = getattr(alert, f"title_{lang}")
    assert alert.detail["release_id"] == "R2025-02"
    assert f"{label_text('released_under_former_code', lang)} {OLD}" in title and "莱芜市" in title, title
    released = RELEASED["410100"] | {"released_unit_code": OLD, "released_unit_name": "莱芜市"}
    assert release_verdict_text(RELEASE, released, CURRENT["410100"], lang) in title


def test_the_profile_finds_the_verdict_released_under_the_old_code(tmp_path):
    from dashboards.queries import release_status
    from dashboards.snapshot import Snapshot
    from pipelines.snapshot_writer import SNAPSHOT_SCHEMA_VERSION

    con = _recoded_warehouse()
    path = tmp_path / "snap.duckdb"
    con.execute(f"attach '{path}' as snap")
    con.execute("copy from database memory to snap")
    con.execute("create schema snap.meta")
    con.execute("create table snap.meta.snapshot_info (key varchar, value varchar)")
    con.execute("insert into snap.meta.snapshot_info values ('schema_version', ?)", [str(SNAPSHOT_SCHEMA_VERSION)])
    con.execute("detach snap")
    status = release_status(Snapshot(path), NEW, 2025)
    assert status["release_id"] == "R2025-02"
    assert status["released"]["stage"] == RELEASED["410100"]["stage"]
    assert status["released"]["released_unit_code"] == OLD and status["differs"]


def test_the_dossier_finds_the_verdict_released_under_the_old_code():
    from pipelines.evaluation.dossier import dossier_data
    from pipelines.evaluation.releases import release_verdict_text

    con = _recoded_warehouse()
    con.execute("create table marts.fct_evaluation_cycle (unit_code string, cycle_start integer, cycle_end integer)")
    for column in ("p05_rank", "p95_rank", "median_rank"):
        con.execute(f"alter table marts.fct_evaluation_year add column {column} double")
    d = dossier_data(con, NEW, 2025)
    assert d["release"]["release_id"] == "R2025-02"
    assert d["released"]["stage"] == RELEASED["410100"]["stage"] and d["released"]["released_unit_code"] == OLD
    for lang in LANGS:
        text = release_verdict_text(d["release"], d["released"], None, lang)
        assert f"{label_text('released_under_former_code', lang)} {OLD}" in text, text


def test_the_extract_finds_the_verdict_released_under_the_old_code():
    from pipelines.extracts import HEADERS, with_release

    con = _recoded_warehouse()
    scores = pl.DataFrame(
        {"unit_code": [NEW, "410300"], "stage": ["rectification", "exit_candidate"], "composite_index": [58.2, 55.0]}
    )
    out = with_release(con, scores, 2025, RELEASE | {"derived": False}).sort("unit_code")
    jinan = out.filter(pl.col("unit_code") == NEW).row(0, named=True)
    assert jinan["released_stage"] == RELEASED["410100"]["stage"] and jinan["released_unit_code"] == OLD
    assert jinan["differs_from_release"] is True
    assert out.filter(pl.col("unit_code") == "410300")["released_unit_code"].to_list() == [None]
    assert "released_unit_code" in HEADERS


def test_a_restatement_compares_a_recoded_city_with_itself():
    """Restating a year after 莱芜's code went to 济南: the diff compares the city's figures, not 371200 "removed"
    and 370100 "added" with every figure changed."""
    from pipelines.evaluation.releases import restatement_diff

    con = duckdb.connect()
    con.execute("create schema releases")
    con.execute(
        "create table releases.evaluation_year as select 'R2025-01' as release_id, ? as unit_code, "
        "'watch' as stage, 60.0 as composite_index, 39 as rank",
        [OLD],
    )
    same = pl.DataFrame({"unit_code": [NEW], "unit_name": ["济南市"], "stage": ["watch"], "composite_index": [60.0]})
    same = same.with_columns(rank=pl.lit(39, pl.Int32))
    assert restatement_diff(con, {"release_id": "R2025-01"}, {"evaluation_year": same}, []).height == 0
    moved = same.with_columns(stage=pl.lit("rectification"))
    diff = restatement_diff(con, {"release_id": "R2025-01"}, {"evaluation_year": moved}, [])
    assert diff.select("unit_code", "field", "old_value", "new_value").rows() == [
        (NEW, "stage", "watch", "rectification")
    ]


def test_a_successor_with_its_own_released_row_keeps_it():
    """莱芜 merged into 济南: when 济南 was released under its own code, that is its verdict, not 莱芜's."""
    from pipelines.evaluation.releases import recode_released, released_under

    own = {"unit_code": NEW, "stage": "normal"}
    assert released_under({NEW: own, OLD: {"unit_code": OLD, "stage": "watch"}}, NEW) is own
    frame = pl.DataFrame({"unit_code": [NEW, OLD], "stage": ["normal", "watch"]})
    assert recode_released(frame, [NEW])["unit_code"].to_list() == [NEW, OLD]


# --- 3. the alerts name the official verdict --------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_a_city_released_flagged_and_now_normal_gets_the_official_verdict_announced(lang):
    from pipelines.evaluation.releases import release_verdict_text

    con = _warehouse()
    con.execute("update marts.fct_evaluation_year set stage = 'normal' where unit_code = '410300'")
    alerts = _stage_alerts(con)
    assert "410300" in alerts, "released exit candidate, now normal: the official verdict was never announced"
    alert = alerts["410300"]
    title = getattr(alert, f"title_{lang}")
    current = CURRENT["410300"] | {"stage": "normal"}
    assert release_verdict_text(RELEASE, RELEASED["410300"], current, lang) in title, title
    assert label_text("exit_candidate", lang) in title and label_text("current_data_differ", lang) in title
    assert alert.detail["stage"] == "exit_candidate" and alert.detail["official_verdict"] == "released"


def _acceptance_warehouse(released_score: float, current_score: float) -> duckdb.DuckDBPyConnection:
    """One city's acceptance verdict of the cycle 2022–2024 as released (R2024-01) and as the marts give it now."""
    from pipelines.evaluation.rules import load_rules

    rules = load_rules(year=2024)

    def band(score: float) -> str:
        if score < rules["ACC.remove_below"]:
            return "title_removed"
        return "new_pilot_round" if score < rules["ACC.cultivation_from"] else "demonstration_cultivation"

    con = duckdb.connect()
    con.execute("create schema marts; create schema releases")
    con.execute(
        """create table marts.dim_city as select '410100' as unit_code, '郑州市' as unit_name,
             'Zhengzhou' as unit_name_en, '410000' as province_code, '河南省' as province_name,
             true as is_programme, 'active' as programme_status"""
    )
    row = "'410100' as unit_code, '2022–2024' as cycle, 2022 as cycle_first_year, 2024 as cycle_last_year, "
    row += "2024 as judged_year, true as is_complete, 'final' as acceptance_status"
    con.execute(
        f"create table marts.fct_acceptance_score as select {row}, ? as acceptance_score, ? as acceptance_band",
        [current_score, band(current_score)],
    )
    con.execute(
        "create table releases.releases as select 'R2024-01' as release_id, 2024 as evaluation_year, "
        "timestamp '2025-07-15 20:00:00' as released_at"
    )
    con.execute(
        f"create table releases.acceptance_score as select 'R2024-01' as release_id, {row}, "
        "? as acceptance_score, ? as acceptance_band",
        [released_score, band(released_score)],
    )
    return con


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("moved", [False, True])
def test_the_acceptance_alert_names_the_released_score(lang, moved):
    from pipelines.alerts.conditions import acceptance_band
    from pipelines.alerts.config import load_rules
    from pipelines.evaluation.releases import release_acceptance_text
    from pipelines.evaluation.rules import acceptance_score_text
    from pipelines.evaluation.rules import load_rules as seed_rules

    low = seed_rules(year=2024)["ACC.remove_below"]
    released, current = low - 3.0, (low - 1.0 if moved else low - 3.0)
    con = _acceptance_warehouse(released, current)
    (alert,) = acceptance_band(con, load_rules())
    title = getattr(alert, f"title_{lang}")
    rel = con.sql("select * from releases.releases").pl().row(0, named=True)
    ra = con.sql("select * from releases.acceptance_score").pl().row(0, named=True)
    cur = con.sql("select * from marts.fct_acceptance_score").pl().row(0, named=True)
    text = release_acceptance_text(rel, ra, cur, lang)
    assert text in title and "R2024-01" in title and acceptance_score_text(released) in title, title
    assert (label_text("current_data_differ", lang) in title) is moved
    assert alert.detail["release_id"] == "R2024-01"


@pytest.mark.parametrize("lang", LANGS)
def test_an_acceptance_released_behind_and_now_not_is_announced_as_released(lang):
    from pipelines.alerts.conditions import acceptance_band
    from pipelines.alerts.config import load_rules
    from pipelines.evaluation.rules import acceptance_score_text
    from pipelines.evaluation.rules import load_rules as seed_rules

    cultivation = seed_rules(year=2024)["ACC.cultivation_from"]
    con = _acceptance_warehouse(cultivation - 2.0, cultivation + 5.0)
    alerts = acceptance_band(con, load_rules())
    assert alerts, "released in a band that falls behind, now above it: the official verdict was never announced"
    title = getattr(alerts[0], f"title_{lang}")
    assert acceptance_score_text(cultivation - 2.0) in title and label_text("current_data_differ", lang) in title
    assert alerts[0].detail["status"] == "new_pilot_round"


def test_the_dossier_words_the_released_acceptance_as_the_alert_does():
    from test_verdicts_contestable import _acceptance_row, _dossier_input

    from pipelines.evaluation.dossier import _render
    from pipelines.evaluation.releases import release_acceptance_text
    from pipelines.evaluation.rules import load_rules as seed_rules
    from pipelines.labels import performance_group

    low = seed_rules()["ACC.remove_below"]
    ra, cur = _acceptance_row(low - 2.0), _acceptance_row(low + 5.0)
    d = _dossier_input(95.0, performance_group(95.0))
    d["release"] = {
        "release_id": "R2024-01",
        "released_at": datetime(2025, 7, 15, 20, 0),
        "data_version": "1f-a",
        "code_version": "abc",
        "window_first_year": 2016,
        "window_last_year": 2024,
        "supersedes_release_id": None,
    }
    d["released"], d["released_acceptance"], d["acceptance"] = None, ra, cur
    markdown_text, _ = _render(d, bands_text=lambda *a, **k: "")
    line = next(x for x in markdown_text.splitlines() if x.startswith("- 发布时验收评分"))
    for lang in LANGS:
        text = release_acceptance_text(d["release"], ra, cur, lang)
        assert text in line and label_text("current_data_differ", lang) in text, line
