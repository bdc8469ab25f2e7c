"""No English reader sees a Beijing time marked "CST": an English reader takes it for US Central Standard Time
(UTC-6), fourteen hours from Beijing's UTC+8. English marks the time "UTC+8"; Chinese keeps 北京时间.

Two halves: what the functions that format a time for a person return (pages, grids, exports, notices), and a scan
of every user-facing source (code, labels seed, docs, README) for the marker written as a literal, so a new header or
text that writes "CST" by hand fails here too. pipelines/china_time.py is the one definition of the markers and
explains there why "CST" is not one of them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from pipelines.settings import PROJECT_ROOT

CST = re.compile(r"\bCST\b")
# A UTC instant, a store's zoneless TIMESTAMP (UTC) and ISO text with a zone: 14:20 in Beijing for each
INSTANTS = (
    datetime(2026, 12, 5, 6, 20, tzinfo=UTC),
    datetime(2026, 12, 5, 6, 20),
    "2026-12-05T06:20:00Z",
    "2026-12-05T14:20:00+08:00",
)


def _english_time_texts(value) -> list[str]:
    """Every English text a person reads a time in, built by the functions each surface uses."""
    from dashboards.components import records
    from dashboards.formatting import shown_time
    from dashboards.i18n import t
    from dashboards.pages.quality import run_label
    from pipelines.alerts.lifecycle import repeat_of
    from pipelines.alerts.runs import dead_run_texts
    from pipelines.china_time import china_time_both, china_time_text, utc_from_iso

    utc = utc_from_iso(value) if isinstance(value, str) else value
    naive = utc.astimezone(UTC).replace(tzinfo=None) if utc.tzinfo else utc
    repeat = repeat_of({"state": "firing", "refires": 1, "first_fired_at": value, "last_resolved_at": value})
    return [
        china_time_text(value, "en"),  # alert pages, webhooks, mails, the CLI's silence line
        china_time_both(value),  # the extracts' cover (CSV/XLSX), both readers
        shown_time(value, "en"),  # quality page, provenance, scenarios, downloads, the PDF report
        records(pl.DataFrame({"at": [naive]}), lang="en")[0]["at"],  # every grid's time column
        run_label("3f2a9c1d-aaaa", naive, "en"),  # the quality page's run selector
        dead_run_texts(4242, "STARTED", naive)["en"],  # the engineers' notice
        repeat["first_en"],  # a repeat alert's notice
        repeat["cleared_en"],
        t("ft_published_tz", "en").format(at="2026-12-05 14:20", run="r1"),  # the dashboard's footer
        t("created_at", "en"),  # the profile's alert history header
        t("tz_beijing", "en"),
    ]


@pytest.mark.parametrize("value", INSTANTS, ids=["utc", "store_timestamp", "iso_z", "iso_plus8"])
def test_english_time_texts_say_utc_plus_8_never_cst(value):
    texts = _english_time_texts(value)
    said = [s for s in texts if CST.search(s)]
    assert not said, f"an English time text says CST (US Central Standard Time to an English reader): {said}"
    # every text that gives the time gives Beijing's 14:20 and marks it UTC+8
    for s in texts[:8]:
        assert re.search(r"2026-12-05 14:20 (北京时间 / )?UTC\+8\b", s), s


def test_the_markers_are_one_definition_and_unambiguous():
    from pipelines.china_time import CHINA_STANDARD_TIME, ZONE_NAME, china_time_text

    assert ZONE_NAME == {"zh": "北京时间", "en": "UTC+8"}
    assert china_time_text("2026-12-05T06:20:00Z", "zh") == "2026-12-05 14:20 北京时间"
    # a zone name a formatter could print (%Z, tzname) is not "CST" either
    assert not CST.search(datetime(2026, 12, 5, tzinfo=CHINA_STANDARD_TIME).strftime("%Z"))


def test_every_english_ui_text_is_free_of_cst():
    from dashboards.i18n import TEXT

    said = {key: en for key, (_zh, en) in TEXT.items() if CST.search(en)}
    assert not said, said


def _user_facing_files() -> list:
    root = PROJECT_ROOT
    out = [root / "README.md"]
    for d, suffixes in (
        ("pipelines", {".py", ".sql", ".yml", ".yaml", ".csv", ".md", ".html", ".j2"}),
        ("dashboards", {".py", ".js", ".css", ".html", ".md"}),
        ("docs", {".md"}),
        ("dbt_project/seeds", {".csv", ".yml"}),
        ("dbt_project/models", {".sql", ".yml"}),
        ("dbt_project/macros", {".sql", ".yml"}),
        ("expectations", {".py", ".json", ".yml"}),
    ):
        out += [p for p in sorted((root / d).rglob("*")) if p.is_file() and p.suffix in suffixes]
    return [p for p in out if p.relative_to(root).as_posix() != "pipelines/china_time.py"]


def test_no_user_facing_source_writes_cst():
    """CLI headers ("when / 时间 (CST 北京时间)"), the dossier's "Received (CST)", the footer's "published … CST"
    were each written by hand; a header or text writes pipelines.china_time.ZONE_NAME instead, and docs show UTC+8."""
    found = []
    for path in _user_facing_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if CST.search(line):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)
