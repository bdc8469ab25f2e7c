"""Alerts that reach people, round 6: the conditions that mean "a city falls behind" as the recipients (the national
and the provincial offices) read them, and what an operator's route test sends.

Real receivers only: aiosmtpd on 127.0.0.1, a real DuckDB warehouse and SQLite store.
"""

from __future__ import annotations

import duckdb
import pytest
from alert_receivers import SmtpSink
from test_alerts import run_alerts, write_target_marts
from test_alerts_round5 import write_routing

from pipelines.evaluation.rules import acceptance_bands_text


@pytest.fixture
def site(tmp_path, monkeypatch):
    routing = tmp_path / "routing.yaml"
    monkeypatch.setenv("IPCITY_ALERT_ROUTING", str(routing))
    monkeypatch.setenv("IPCITY_ALERT_STORE", str(tmp_path / "alerts.sqlite"))
    monkeypatch.setenv("IPCITY_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    wh = write_target_marts(tmp_path / "warehouse.duckdb", status="on_track")
    sink = SmtpSink().start()
    write_routing(routing, sink.port)
    yield {"warehouse": wh, "routing": routing, "tmp": tmp_path, "sink": sink}
    sink.stop()


def _zh(msg) -> str:
    return SmtpSink.text(msg).split("\nTo ")[0]


def _en(msg) -> str:
    return SmtpSink.text(msg).split("\nTo ", 1)[1]


# ------------------------------------------------------------------------------------------ acceptance band
ACCEPTANCE = [
    # unit, cycle, first year, judged year, complete, status, score, band
    ("410100", "2020-2022", 2020, 2022, True, "combined", 55.0, "title_removed"),  # history: an earlier cycle
    ("410100", "2023-2025", 2023, 2025, True, "combined", 64.999, "new_pilot_round"),
    ("410700", "2020-2022", 2020, 2022, True, "combined", 50.0, "title_removed"),  # history
    ("410700", "2023-2025", 2023, 2025, True, "combined", 70.0, "demonstration_cultivation"),
    ("320581", "2023-2025", 2023, 2025, False, "indicator_only", 59.996, "title_removed"),  # county-level unit
    ("320500", "2023-2025", 2023, 2025, True, "third_party_pending", None, None),  # no verdict yet
]


def write_acceptance(wh) -> None:
    with duckdb.connect(str(wh)) as con:
        # a county-level programme unit of Suzhou (Jiangsu): its province office hears of it, no other does
        con.execute(
            "insert into marts.dim_city values ('320581', '常熟市', 'Changshu', '320000', '江苏省', true, 'active')"
        )
        con.execute(
            "create table marts.fct_acceptance_score (unit_code varchar, cycle varchar, cycle_first_year integer, "
            "judged_year integer, is_complete boolean, acceptance_status varchar, acceptance_score double, "
            "acceptance_band varchar)"
        )
        con.executemany("insert into marts.fct_acceptance_score values (?, ?, ?, ?, ?, ?, ?, ?)", ACCEPTANCE)


def test_an_acceptance_band_that_falls_behind_reaches_its_province_and_the_nation_as_the_dashboard_reads_it(site):
    """A unit whose latest cycle's acceptance score is below 60 (title removed) or 60–70 (a new pilot round) falls
    behind by the management measures: the alert step raised nothing for it (no rule read fct_acceptance_score).
    Now one alert per unit: its province office and the national office hear it, in both languages, with the score
    as the profile shows it (cut, never rounded up across a threshold), the band and the thresholds of the seed; a
    county-level unit reaches its own province only; an earlier cycle's band, a good band and a pending third-party
    evaluation raise nothing; a rerun sends nothing; a correction out of the band is one resolution."""
    sink, wh = site["sink"], site["warehouse"]
    write_acceptance(wh)
    run_alerts(wh, "run-1")
    henan, jiangsu = sink.to("ipo-410000@test.local"), sink.to("ipo-320000@test.local")
    assert len(henan) == 1 and len(jiangsu) == 1 and len(sink.to("national@test.local")) == 1
    zh, en = _zh(henan[0]), _en(henan[0])
    # the score as the dashboard's profile shows it: 64.999 reads 64.99 (cut), beside its band and the seed's bands
    assert "郑州市" in zh and "2023-2025 周期验收评分 64.99，可开展新一轮试点" in zh
    assert acceptance_bands_text("zh", 2025) in zh and acceptance_bands_text("en", 2025) in en
    assert "acceptance score 64.99 for the cycle 2023-2025, new pilot round" in en
    assert "新乡市" not in zh and "常熟市" not in zh  # a good band raises nothing; another province's unit neither
    js = _zh(jiangsu[0])
    # 59.996 is below 60: it must never read "60.00" beside "title removed"
    assert "常熟市" in js and "验收评分 59.99，撤销称号" in js and "60.00" not in js
    assert "‼" in js  # title removed is critical
    assert "第三方评估待定（仅按指标评分）" in js and "周期尚未结束，评分为暂定" in js
    assert "cycle not complete: provisional score" in _en(jiangsu[0])
    assert "苏州市" not in js  # third-party evaluation pending: no band, no alert
    national = _zh(sink.to("national@test.local")[0])
    assert "郑州市" in national and "常熟市" in national and "新乡市" not in national

    n = len(sink.messages)
    assert run_alerts(wh, "run-2")["messages"] == [] and len(sink.messages) == n  # the same data: nothing new

    with duckdb.connect(str(wh)) as con:  # Zhengzhou's score corrected to 71: out of the band
        con.execute(
            "update marts.fct_acceptance_score set acceptance_score = 71, acceptance_band = 'demonstration_cultivation' "
            "where unit_code = '410100' and cycle = '2023-2025'"
        )
    run_alerts(wh, "run-3")
    new = sink.messages[n:]
    assert sorted(m["X-Envelope-To"] for m in new) == ["ipo-410000@test.local", "national@test.local"]
    assert all("新预警 0 条、解除 1 条" in m["Subject"] for m in new)
    assert run_alerts(wh, "run-4")["messages"] == []


# ------------------------------------------------------------------------------------------------ route tests
def test_a_route_test_reads_in_the_route_s_language(site):
    """`ipcity alerts test` is how an operator checks what a route's recipients will get: it wrote every test in
    both languages whatever the route's `lang`, so a `lang: en` recipient got Chinese it cannot read and a `lang: zh`
    office a message unlike its digests. Each test is now in its route's language; the default stays both."""
    import re

    import yaml
    from click.testing import CliRunner

    from pipelines.cli import main

    sink = site["sink"]
    cfg = yaml.safe_load(site["routing"].read_text(encoding="utf-8"))
    cfg["routes"][0]["lang"] = "zh"
    cfg["routes"][1]["lang"] = "en"
    cfg["routes"].append({"name": "archive", "audience": "city", "recipients": {"mail": ["archive@test.local"]}})
    site["routing"].write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    res = CliRunner().invoke(main, ["alerts", "test"])
    assert res.exit_code == 0, res.output
    by = {m["X-Envelope-To"]: m for m in sink.messages}
    zh, en, both = by["ipo-110000@test.local"], by["national@test.local"], by["archive@test.local"]
    assert str(en["Subject"]) == "IP strong-city monitor: test message"
    assert not re.search(r"[\u4e00-\u9fff]", str(en["Subject"]) + SmtpSink.text(en)), SmtpSink.text(en)
    assert "Test message: route national_office, channel mail." in SmtpSink.text(en)
    assert str(zh["Subject"]) == "【知识产权强市监测】测试消息"
    assert "Test message" not in SmtpSink.text(zh) and "测试消息：路由 province_office，通道 mail。" in SmtpSink.text(
        zh
    )
    text = SmtpSink.text(both)
    assert "测试消息" in str(both["Subject"]) and "test message" in str(both["Subject"])
    assert text.index("测试消息") < text.index("Test message")
    # each carries its idempotency key, the one in its Message-ID
    for m in (zh, en, both):
        assert m["X-Idempotency-Key"] in SmtpSink.text(m) and m["Message-ID"].startswith(f"<{m['X-Idempotency-Key']}@")
