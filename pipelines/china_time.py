"""China Standard Time (UTC+8, no daylight saving since 1991): the clock the programme's offices read and the
management measures count days in. The stores keep UTC (ISO text ending in Z); what a person reads is shown here,
in Beijing time and saying so, whatever zone the machine runs in (a server on UTC showed 06:20 for 14:20 Beijing time,
and a reader in China takes an unmarked time for Beijing time). English says "UTC+8", never "CST": an English reader
takes "CST" for US Central Standard Time (UTC-6), fourteen hours off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "UTC+8")
# What a time in Beijing time is marked with, for each reader: the one definition every surface writes (pages,
# exports, mails, webhooks, CLI); "UTC+8" in English, as "CST" also names US Central Standard Time
ZONE_NAME = {"zh": "北京时间", "en": "UTC+8"}


def utc_now() -> datetime:
    """Now in UTC without a zone, for the stores' TIMESTAMP columns (DuckDB's TIMESTAMP carries none; every one
    holds UTC, which ``china_time_text`` reads a zoneless time as). The ingestion ledger wrote the machine's clock
    and the checks UTC: two zones in one store, neither said, so no shown time could be converted right."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_stamp() -> str:
    """Now in UTC as ISO text with its zone ("2026-12-05T06:20:00+00:00"), for files and manifests."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def utc_from_iso(text: str | None) -> datetime | None:
    """ISO text of an instant ("…Z", "…+08:00", or zoneless meaning UTC, as the stores write it) as the stores'
    zoneless UTC datetime; None for none. The one reading of such text: an offset is converted, never dropped."""
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def china_time_both(value: datetime | str | None) -> str:
    """``china_time_text`` marked for both readers of a bilingual file ("2026-12-05 14:20 北京时间 / UTC+8")."""
    text = china_time_text(value)
    return f"{text} {ZONE_NAME['zh']} / {ZONE_NAME['en']}" if text else ""


def china_today(at: datetime | None = None) -> date:
    """The calendar day in China now (or at ``at``), not the machine's local day."""
    return (at or datetime.now(UTC)).astimezone(CHINA_STANDARD_TIME).date()


def china_time_text(value: datetime | str | None, lang: str | None = None) -> str:
    """A UTC instant (a datetime, naive meaning UTC, or the stores' ISO text) as "YYYY-MM-DD HH:MM" in China
    Standard Time, followed by the zone's name in ``lang`` ("北京时间" / "UTC+8") when one is given; "" for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = utc_from_iso(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")
    return f"{text} {ZONE_NAME[lang]}" if lang else text
