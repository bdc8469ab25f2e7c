"""Stage labels say what the stage means, wherever a reader meets them (issue 18: swapping the Chinese labels
of watch and rectification passed every test, browser tests included).

The meaning comes from the programme's own words (国知发管字〔2016〕86号: cities that lag are urged to
rectify, 督促整改, up to the loss of the title, 退出; methodology §7: W rules put a city on watch, 关注; R
rules order rectification, 整改; X1 makes an exit candidate, 退出候选; EX1 marks an exemplary city, 示范).
Each label must carry its own stage's term and no other stage's term, in the dashboard (the label table, the
watchlist rows, the Chinese rules text) and in the evidence dossier, read from real evaluation marts built by
dbt on the hand-made rule cases (130100 is on watch in 2018, 130200 in rectification in 2019).
"""

from __future__ import annotations

import re

import duckdb
import evaluation_fixtures as F
import pytest

from dashboards import i18n, queries
from dashboards.evaluation_text import rules_text
from dashboards.pages.watchlist import watch_rows
from dashboards.snapshot import Snapshot
from pipelines.evaluation import dossier
from pipelines.snapshot_writer import publish_snapshot

# stage code -> (the Chinese term that carries its meaning, a stem of the English word)
MEANING = {
    "normal": ("正常", "normal"),
    "exemplary": ("示范", "exemplary"),
    "watch": ("关注", "watch"),
    "rectification": ("整改", "rectification"),
    "exit_candidate": ("退出", "exit"),
}
# which rule family puts a city in which stage (fct_evaluation_year: x1 > r1/r2 > w1/w2 > ex1)
RULE_STAGE = {"x1": "exit_candidate", "r1": "rectification", "r2": "rectification", "w1": "watch", "w2": "watch"}


def means(stage: str, zh: str | None = None, en: str | None = None) -> bool:
    """True when the label(s) carry the stage's own term and no other stage's."""
    ok = True
    if zh is not None:
        ok &= MEANING[stage][0] in zh
        ok &= not any(term in zh for code, (term, _) in MEANING.items() if code != stage)
    if en is not None:
        low = en.lower()
        ok &= MEANING[stage][1] in low
        ok &= not any(stem in low for code, (_, stem) in MEANING.items() if code != stage)
    return ok


def test_the_label_tables_carry_each_stages_meaning():
    for code in MEANING:
        zh, en = i18n.STAGES[code]
        assert means(code, zh=zh, en=en), (code, zh, en)
        assert i18n.label(i18n.STAGES, code, "zh") == zh and i18n.label(i18n.STAGES, code, "en") == en
        assert means(code, zh=dossier.STAGE_ZH[code]), (code, dossier.STAGE_ZH[code])
    # the self-check catches the swap of issue 18
    assert not means("watch", zh=i18n.STAGES["rectification"][0])
    assert not means("rectification", zh=i18n.STAGES["watch"][0], en=i18n.STAGES["watch"][1])


def test_dashboard_and_dossier_agree_on_every_stage_label():
    for code in MEANING:
        assert dossier.STAGE_ZH[code] == i18n.STAGES[code][0], code


@pytest.fixture(scope="module")
def rule_marts(tmp_path_factory):
    work = tmp_path_factory.mktemp("labels")
    wh = work / "wh.duckdb"
    with duckdb.connect(str(wh)) as con:
        F.rule_cases(con)
    F.run_evaluation_dbt(wh, work)
    snap_path = work / "published" / "wh.snapshot.duckdb"
    publish_snapshot(wh, snap_path)
    snap = Snapshot(snap_path)
    yield wh, snap
    snap.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_watchlist_rows_show_each_stage_by_its_meaning(rule_marts, lang):
    _, snap = rule_marts
    seen = set()
    for year in (2018, 2019):
        rows = watch_rows(queries.watchlist(snap, year), lang)
        for r in rows:
            seen.add(r["stage"])
            label = r["stage_label"]
            assert means(r["stage"], **{lang: label}), (year, r["unit_code"], r["stage"], label)
    assert {"watch", "rectification"} <= seen


def test_chinese_rules_text_names_each_rule_by_its_stage(rule_marts):
    wh, _ = rule_marts
    with duckdb.connect(str(wh), read_only=True) as con:
        rows = con.sql(
            "select * from marts.fct_evaluation_year where stage in ('watch', 'rectification', 'exit_candidate')"
        ).pl()
    fired_seen = set()
    for r in rows.iter_rows(named=True):
        text = rules_text(r, "zh")
        for rule, stage in RULE_STAGE.items():
            if r[f"fired_{rule}"]:
                fired_seen.add(rule)
                m = re.search(rf"{rule.upper()} (\S+?)：", text)
                assert m and means(stage, zh=m.group(1)), (rule, text)
    assert {"r1", "r2", "w1", "w2", "x1"} <= fired_seen


@pytest.mark.parametrize("unit,year,stage", [("130100", 2018, "watch"), ("130200", 2019, "rectification")])
def test_dossier_names_the_stage_by_its_meaning(rule_marts, tmp_path, unit, year, stage):
    wh, _ = rule_marts
    md, page = (p.read_text(encoding="utf-8") for p in dossier.write_dossier(wh, unit, year, tmp_path))
    m = re.search(r"阶段 / Stage: \*\*(\S+) (\w+)\*\*", md)
    assert m and m.group(2) == stage
    assert means(stage, zh=m.group(1)), m.group(0)
    assert m.group(1) in page
