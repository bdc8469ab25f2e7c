"""Alert lifecycle as Alertmanager does it, grouping, routing and delivery with a ledger.

firing → ongoing (never re-sent) → resolved (one resolution notice); a firing alert whose state changes
(Condition.change_key: a target now deteriorating, a rank drop in a new year) is a new episode, told once. A fingerprint per (rule, city, subject)
identifies an alert across runs; a condition that comes back after it resolved is a new episode of the same
alert and is sent again. What is sent is decided per (route, channel, recipient) from what it has heard
(alerts.heard): each hears an episode fire once, also when its route became usable only later, and hears the
resolution only if it heard the firing. A silence holds notifications back; an alert that was still firing
while silenced is sent again once the silence ends (as Alertmanager re-notifies after a silence). All
notifications of one dispatch are grouped into ONE digest per (route, channel, recipient): a province office
gets one message listing its cities.

Delivery is at-least-once with an exactly-once effect: the digests are written to alerts.messages in the same
transaction that records what each recipient has heard (an outbox), then delivered; every attempt is a row in
alerts.deliveries (attempt, status, response, next retry), retried with backoff until delivered. The
idempotency key is derived from the message content, so the same digest is never created twice, and every
receiver sees it (Message-ID / X-Idempotency-Key) to drop a repeat. A message is leased while being sent so
two dispatchers (the pipeline and the delivery sensor) never send it at the same time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import urlencode, urljoin

from pipelines.alerts import channels
from pipelines.alerts.bounces import read_bounces
from pipelines.alerts.conditions import Condition, delivery_failed, describe_change
from pipelines.alerts.config import ROBOT_TYPES, Route, Routing, Rules, expand_recipient
from pipelines.alerts.store import active_silence, connect, fingerprint, iso, now_utc, parse
from pipelines.counts import count_en, count_zh
from pipelines.data_nature import nature_now
from pipelines.labels import label_set, label_text, next_step

LEASE_SECONDS = 120


def lease_seconds(ch: dict | None) -> float:
    """How long a message is leased to the dispatcher sending it: at least LEASE_SECONDS, and longer than the
    channel's whole session (`session_timeout`) may take. A channel given a session_timeout of 300 s (a slow relay)
    had its message leased for 120 s: the delivery sensor's next tick claimed it while the first send was still under
    way, and the office got the digest twice."""
    try:
        session = float((ch or {}).get("session_timeout", channels.SESSION_TIMEOUT))
    except (TypeError, ValueError):
        session = channels.SESSION_TIMEOUT
    return max(float(LEASE_SECONDS), session + 60)


SUBJECT_PREFIX = "【知识产权强市监测】"


# --------------------------------------------------------------------------------------------- lifecycle
def apply_conditions(
    con: sqlite3.Connection,
    conditions: list[Condition],
    *,
    evaluated: set[str],
    rules_version: str,
    run_id: str | None,
    at: datetime,
    cleared: dict[str, dict] | None = None,
) -> dict:
    """Record what holds now: new alerts fire, known ones stay firing, alerts of an evaluated rule whose
    condition is gone resolve. ``cleared``: what cleared an alert, by fingerprint ({"zh", "en"}: a corrected file
    loaded, or the file withdrawn), kept in its detail for the resolution its recipients read. Returns counts by
    transition."""
    t = iso(at)
    counts = {"new": 0, "refired": 0, "changed": 0, "ongoing": 0, "resolved": 0}
    seen = set()
    for c in conditions:
        fp = fingerprint(c.rule_id, c.unit_code, c.subject_key)
        if fp in seen:
            continue
        seen.add(fp)
        row = con.execute(
            "SELECT state, episode, change_key FROM alerts.alerts WHERE fingerprint = ?", (fp,)
        ).fetchone()
        values = (
            c.rules_version if hasattr(c, "rules_version") else rules_version,
            c.audience,
            c.kind,
            c.severity,
            c.unit_name,
            c.province_code,
            c.province_name,
            c.year,
            c.title_zh,
            c.title_en,
            c.detail_json(),
            t,
            run_id,
            c.change_key,
        )
        common = (
            "rules_version = ?, audience = ?, kind = ?, severity = ?, unit_name = ?, province_code = ?, "
            "province_name = ?, year = ?, title_zh = ?, title_en = ?, detail_json = ?, last_seen_at = ?, "
            "last_run_id = ?, change_key = ?"
        )
        # What the condition says changed while it fires (a target from limited progress to deteriorating, a rank
        # drop in a new year): a new episode, so each recipient is told once, with no resolution in between. A row
        # of an older store (no change_key yet) only learns it.
        changed = (
            row is not None
            and row["state"] == "firing"
            and row["change_key"] is not None
            and row["change_key"] != c.change_key
        )
        if row is None:
            con.execute(
                f"""INSERT INTO alerts.alerts (fingerprint, rule_id, unit_code, subject_key, state, episode,
                    first_fired_at, last_fired_at, rules_version, audience, kind, severity, unit_name,
                    province_code, province_name, year, title_zh, title_en, detail_json, last_seen_at, last_run_id,
                    change_key)
                    VALUES (?, ?, ?, ?, 'firing', 1, ?, ?, {", ".join("?" * 14)})""",
                (fp, c.rule_id, c.unit_code, c.subject_key, t, t, *values),
            )
            counts["new"] += 1
        elif row["state"] == "resolved" or changed:
            # an acknowledgement was of the earlier state: the new one asks for attention again. A change keeps what
            # it changed from, so the notice reads "from → to" (worse or better); a return after a resolution is new.
            # A return after a resolution counts as a repeat and keeps when it last cleared (SQLite reads every
            # right-hand side from the row as it was): recipients read "again, since when, how many times".
            repeat = "" if changed else "refires = refires + 1, last_resolved_at = resolved_at, "
            con.execute(
                f"""UPDATE alerts.alerts SET state = 'firing', episode = episode + 1, last_fired_at = ?,
                    {repeat}resolved_at = NULL, suppressed = 0, acked_at = NULL, acked_by = NULL, ack_comment = NULL,
                    changed_from = ?, {common} WHERE fingerprint = ?""",
                (t, row["change_key"] if changed else None, *values, fp),
            )
            counts["changed" if changed else "refired"] += 1
        else:
            con.execute(f"UPDATE alerts.alerts SET {common} WHERE fingerprint = ?", (*values, fp))
            counts["ongoing"] += 1
    if evaluated:
        marks = ", ".join("?" * len(evaluated))
        firing = con.execute(
            f"SELECT fingerprint FROM alerts.alerts WHERE state = 'firing' AND rule_id IN ({marks})",
            tuple(sorted(evaluated)),
        ).fetchall()
        for (fp,) in firing:
            if fp not in seen:
                con.execute(
                    "UPDATE alerts.alerts SET state = 'resolved', resolved_at = ?, last_run_id = ? WHERE fingerprint = ?",
                    (t, run_id, fp),
                )
                if (cleared or {}).get(fp):
                    con.execute(
                        "UPDATE alerts.alerts SET detail_json = json_set(coalesce(detail_json, '{}'), '$.cleared', "
                        "json(?)) WHERE fingerprint = ?",
                        (json.dumps(cleared[fp], ensure_ascii=False), fp),
                    )
                counts["resolved"] += 1
    return counts


def fire_events(con: sqlite3.Connection, events: list[Condition], *, rules_version: str, run_id: str | None, at):
    """One-off events (a failed run, a failed blocking check, a dead run): they fire once and never resolve
    by absence; acknowledging one closes it."""
    return apply_conditions(con, events, evaluated=set(), rules_version=rules_version, run_id=run_id, at=at)


# ---------------------------------------------------------------------------------------------- routing
def recipients_for(alert: dict, routing: Routing) -> list[tuple[Route, str, str]]:
    """(route, channel, recipient) for one alert."""
    out = []
    for route in routing.routes:
        if route.audience != alert["audience"] or (route.rules and alert["rule_id"] not in route.rules):
            continue
        if route.per_province and not alert.get("province_code"):
            continue
        for channel, templates in route.recipients.items():
            for tpl in templates:
                out.append(
                    (route, channel, expand_recipient(tpl, alert.get("province_code"), alert.get("province_name")))
                )
    return out


def still_routed(routing: Routing, route: str, channel: str, recipient: str) -> bool:
    """Whether the routing file still sends to ``recipient`` over ``channel`` of ``route`` (for some province, on a
    per-province route). An entry the file refuses for now (a route, a channel or an item being mended) counts as
    still there: only an address the file no longer names is gone."""

    for p in routing.problems:
        if p.entry.startswith((f"route {route}", f"channel {channel}")):
            return True
    for r in routing.routes:
        if r.name != route:
            continue
        for tpl in r.recipients.get(channel, ()):
            if _names(r, tpl, recipient):
                return True
    return False


def _names(route: Route, tpl: str, recipient: str) -> bool:
    """Whether a recipient template of ``route`` gives ``recipient`` (for some province, on a per-province route)."""
    import re
    from string import Formatter

    if not route.per_province:
        return tpl == recipient
    pattern = "".join(re.escape(text) + (".+" if name else "") for text, name, _, _ in Formatter().parse(tpl))
    return re.fullmatch(pattern, recipient, flags=re.DOTALL) is not None


def _regroup_robot_heard(con: sqlite3.Connection, routing: Routing) -> None:
    """What a group robot's members heard, as what the group heard. A route's recipients on a robot channel are one
    recipient, the members it mentions (config.MENTION_SEPARATOR); a store written when each member was a recipient
    of its own, or one whose route has since mentioned another member, holds what each heard under its old name.
    Those rows become the group's (the most telling one the group received: latest episode, latest), so the group is
    not posted every alert still firing again because its mention list changed. What none of them received (a digest
    still waiting under the old name, which is parked as no longer routed) is the group's to hear in its next digest."""
    for route in routing.routes:
        for channel, templates in route.recipients.items():
            if (routing.channels.get(channel) or {}).get("type") not in ROBOT_TYPES or len(templates) != 1:
                continue
            (tpl,) = templates
            stale = con.execute(
                """SELECT h.fingerprint, h.recipient, h.episode, h.updated_at, m.status AS message_status,
                          a.province_code, a.province_name
                   FROM alerts.heard AS h
                   LEFT JOIN alerts.messages AS m ON h.idempotency_key = m.idempotency_key
                   LEFT JOIN alerts.alerts AS a ON h.fingerprint = a.fingerprint
                   WHERE h.route = ? AND h.channel = ?""",
                (route.name, channel),
            ).fetchall()
            by_alert: dict[str, list] = defaultdict(list)
            for h in stale:
                if not _names(route, tpl, h["recipient"]):
                    by_alert[h["fingerprint"]].append(h)
            for fp, rows in by_alert.items():
                target = (
                    expand_recipient(tpl, rows[0]["province_code"], rows[0]["province_name"])
                    if route.per_province
                    else tpl
                )
                current = con.execute(
                    """SELECT h.recipient, h.episode, h.updated_at, m.status AS message_status FROM alerts.heard AS h
                       LEFT JOIN alerts.messages AS m ON h.idempotency_key = m.idempotency_key
                       WHERE h.fingerprint = ? AND h.route = ? AND h.channel = ? AND h.recipient = ?""",
                    (fp, route.name, channel, target),
                ).fetchall()
                received = [h for h in [*rows, *current] if h["message_status"] == "delivered"] or current
                best = max(received, key=lambda h: (h["episode"], h["updated_at"] or "")) if received else None
                for h in [*rows, *current]:
                    if best is None or h["recipient"] != best["recipient"]:
                        con.execute(
                            "DELETE FROM alerts.heard WHERE fingerprint = ? AND route = ? AND channel = ? "
                            "AND recipient = ?",
                            (fp, route.name, channel, h["recipient"]),
                        )
                if best is not None and best["recipient"] != target:
                    con.execute(
                        "UPDATE alerts.heard SET recipient = ? WHERE fingerprint = ? AND route = ? AND channel = ? "
                        "AND recipient = ?",
                        (target, fp, route.name, channel, best["recipient"]),
                    )


# What a delivery_failed alert's resolution says when it resolves because its recipient left the routing file (not
# because a digest reached it): the engineers are told why it closed.
UNROUTED_NOTE = {
    "zh": "（已解除：该收件人已从路由文件中移除，不再跟踪）",
    "en": " (resolved: the recipient was removed from the routing file and is no longer followed)",
}


def _note_removed_recipients(con: sqlite3.Connection, routing: Routing) -> None:
    """A firing delivery_failed alert whose recipient the routing file no longer names: its title says so, as the
    resolution that follows is worded (the alert would otherwise read "resolved" as if the digest had arrived)."""
    for r in con.execute(
        "SELECT fingerprint, title_zh, title_en, detail_json FROM alerts.alerts "
        "WHERE rule_id = 'delivery_failed' AND state = 'firing'"
    ).fetchall():
        d = json.loads(r["detail_json"] or "{}")
        if still_routed(routing, d.get("route", ""), d.get("channel", ""), d.get("recipient", "")):
            continue
        if not r["title_zh"].endswith(UNROUTED_NOTE["zh"]):
            con.execute(
                "UPDATE alerts.alerts SET title_zh = ?, title_en = ? WHERE fingerprint = ?",
                (r["title_zh"] + UNROUTED_NOTE["zh"], r["title_en"] + UNROUTED_NOTE["en"], r["fingerprint"]),
            )


def alert_unrouted(con: sqlite3.Connection, routing: Routing, rules: Rules) -> list[Condition] | None:
    """City alerts that no route of the routing file reaches (no route of the audience takes the rule, only a
    per-province route for a city whose province the reference data do not give, a route left out as refused):
    they fired and nobody heard, and nobody knew. One engineering alert per rule, naming how many and which cities;
    it resolves once each is routed (or the condition is gone)."""
    if not rules.get("alert_unrouted"):
        return None
    by_rule: dict[str, list[dict]] = defaultdict(list)
    for r in con.execute(
        "SELECT * FROM alerts.alerts WHERE state = 'firing' AND audience = 'city' ORDER BY rule_id, unit_code"
    ).fetchall():
        if not recipients_for(dict(r), routing):
            by_rule[r["rule_id"]].append(dict(r))
    out = []
    for rule, alerts in sorted(by_rule.items()):
        shown = alerts[:10]
        more = len(alerts) > len(shown)
        names = "、".join(str(a.get("unit_name") or a.get("unit_code")) for a in shown) + ("等" if more else "")
        codes = ", ".join(str(a.get("unit_code")) for a in shown) + (", …" if more else "")
        rule_zh, rule_en = RULE_NAMES.get(rule, (rule, rule))
        out.append(
            Condition(
                rule_id="alert_unrouted",
                audience="engineering",
                severity=rules.severity("alert_unrouted"),
                subject_key=rule,
                title_zh=f"预警无人接收：{count_zh(len(alerts), '条')}“{rule_zh}”预警在路由文件中没有任何收件人（{names}），"
                "请为其设置路由（如国家局路由，或补全城市所属省份）",
                title_en=f"alerts reach nobody: {count_en(len(alerts), f'{rule_en} alert')} "
                f"{'has' if len(alerts) == 1 else 'have'} no recipient in the routing file "
                f"({codes}); give them a route (a national route, or the city's province in the reference data)",
                detail={"rule": rule, "n_alerts": len(alerts), "units": [a.get("unit_code") for a in alerts]},
            )
        )
    return out


# ----------------------------------------------------------------------------------------------- digest
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
# The rules' display names: the labels seed's alert_rule list (dbt_project/seeds/labels.csv), which the
# dashboard reads too.
RULE_NAMES = label_set("alert_rule")


def _city_label(a: dict, lang: str) -> str:
    """A city's heading in a digest: its Chinese name; in English the name its English titles give it ("Zhengzhou
    (410100)"), or its code — an English reader is not given a heading in Chinese."""
    if lang == "zh":
        return channels.one_line(a.get("unit_name") or a.get("unit_code") or "数据工程")
    if not a.get("unit_code"):
        return "data engineering"
    head, sep, _ = (a.get("title_en") or "").partition(": ")
    return channels.one_line(head if sep and head.endswith(f"({a['unit_code']})") else a["unit_code"])


def change_of(a: dict) -> dict | None:
    """What a firing alert changed from, for its notice: {"from", "to"} in each language and ``direction`` (worse,
    better or changed, the labels seed's alert_change codes), or None for an alert that fired afresh. A stage that
    went from watch to rectification is one notice saying so, not a "resolved" watch beside a new rectification."""
    if not a.get("changed_from") or a.get("state", "firing") != "firing":
        return None
    before, now = describe_change(a["rule_id"], a["changed_from"]), describe_change(a["rule_id"], a.get("change_key"))
    if before is None or now is None:
        return None
    if before[2] is None or now[2] is None or before[2] == now[2]:
        direction = "alert_change_other"
    else:
        direction = "alert_change_worse" if now[2] > before[2] else "alert_change_better"
    return {
        "direction": direction.removeprefix("alert_change_").replace("other", "changed"),
        "code": direction,
        "from_zh": before[0],
        "to_zh": now[0],
        "from_en": before[1],
        "to_en": now[1],
    }


def repeat_of(a: dict) -> dict | None:
    """A firing alert that fired again after it had cleared (not a change told as "from → to"): how many times it
    has fired, since when and when it last cleared, in Beijing time; None for a first firing. Recipients treat a
    repeat otherwise than a new alert (a city that keeps slipping back), so the notice says so."""
    if a.get("state", "firing") != "firing" or a.get("changed_from") or not a.get("refires"):
        return None
    from pipelines.china_time import china_time_text

    return {
        "times": int(a["refires"]) + 1,
        "first_fired_at": a.get("first_fired_at"),
        "last_resolved_at": a.get("last_resolved_at"),
        "first_zh": china_time_text(a.get("first_fired_at"), "zh"),
        "first_en": china_time_text(a.get("first_fired_at"), "en"),
        "cleared_zh": china_time_text(a.get("last_resolved_at"), "zh"),
        "cleared_en": china_time_text(a.get("last_resolved_at"), "en"),
    }


def _repeat_mark(a: dict, lang: str) -> str:
    r = repeat_of(a)
    if r is None:
        return ""
    if lang == "zh":
        cleared = f"；上次解除于 {r['cleared_zh']}" if r["cleared_zh"] else ""
        return (
            f"【{label_text('alert_refired')}：自 {r['first_zh']} 首次预警以来第{count_zh(r['times'], '次')}{cleared}】"
        )
    cleared = f"; last cleared {r['cleared_en']}" if r["cleared_en"] else ""
    return f"[{label_text('alert_refired', 'en')}: {count_en(r['times'], 'time')} since first fired {r['first_en']}{cleared}] "


def _change_mark(a: dict, lang: str) -> str:
    ch = change_of(a)
    if ch is None:
        return ""
    if lang == "zh":
        return f"【{label_text(ch['code'])}：{ch['from_zh']} → {ch['to_zh']}】"
    return f"[{label_text(ch['code'], 'en')}: {ch['from_en']} → {ch['to_en']}] "


def cleared_text(a: dict, lang: str) -> str:
    """Why a resolved alert cleared, in ``lang``: what the resolution recorded (a corrected file loaded, when, its
    rows), else the labels seed's alert_cleared_<rule> (what the rule no longer finds); "" for none. A resolution
    read "已解除" and the title of what had fired, and left the reader to guess whether the data were corrected."""
    said = (json.loads(a.get("detail_json") or "{}").get("cleared") or {}).get(lang)
    if not said:
        code = f"alert_cleared_{a['rule_id']}"
        said = label_text(code, lang)
        said = "" if said == code else said
    return said


def _cleared_mark(a: dict, lang: str) -> str:
    said = cleared_text(a, lang) if a.get("state") == "resolved" and not a.get("left_scope") else ""
    if not said:
        return ""
    return f"（解除原因：{said}）" if lang == "zh" else f" (cleared: {said})"


def _line(a: dict, lang: str, under_city: bool = False) -> str:
    title = a["title_zh"] if lang == "zh" else a["title_en"]
    # Under the city's heading the title's own "City：" / "Name (code): " / "code: " prefix is noise: drop it.
    for prefix in (f"{a.get('unit_name')}：", f"{_city_label(a, 'en')}: ", f"{a.get('unit_code')}: "):
        if under_city and a.get("unit_code") and title.startswith(prefix):
            title = title[len(prefix) :]
    mark = "‼ " if a.get("severity") == "critical" else ""
    skipped = PROVINCE_SKIPPED[lang] if a.get("province_office_skipped") else ""
    left = a["left_scope"][lang] if a.get("left_scope") else ""
    again = _repeat_mark(a, lang)
    cleared = _cleared_mark(a, lang)
    return f"  [{a['fingerprint'][:8]}] {mark}{_change_mark(a, lang)}{again}{title}{skipped}{left}{cleared}"


# Beside a city alert that a per-province route would have taken but could not (the reference data give the city no
# province): the national reader would otherwise take it that the province office knows.
PROVINCE_SKIPPED = {
    "zh": "（未通知省局：参考数据未给出该市所属省份）",
    "en": " (no province office was told: the reference data give this city no province)",
}


def province_office_skipped(alert: dict, routing: Routing) -> bool:
    """Whether a per-province route of the alert's audience takes its rule but left it out for want of a province."""
    return not alert.get("province_code") and any(
        r.per_province and r.audience == alert["audience"] and (not r.rules or alert["rule_id"] in r.rules)
        for r in routing.routes
    )


def _counts_line(alerts: list[dict], lang: str) -> str:
    counts: dict[str, int] = defaultdict(int)
    for a in alerts:
        key = f"{a['rule_id']}:{a['kind']}" if a["rule_id"] == "stage" else a["rule_id"]
        counts[key] += 1
    parts = []
    for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        rule, _, kind = key.partition(":")
        name = RULE_NAMES.get(rule, (rule, rule))[0 if lang == "zh" else 1]
        if kind:
            name += ("（复核）" if kind == "review" else "（处置）") if lang == "zh" else f" ({kind})"
        parts.append(f"{name} {n}")
    return ("；" if lang == "zh" else "; ").join(parts)


def _named_in_summary(a: dict) -> bool:
    """Whether a summary digest names the alert rather than count it: a stage, a critical one, a change, a repeat."""
    return a["rule_id"] == "stage" or a["severity"] == "critical" or bool(change_of(a) or repeat_of(a))


def _city_summary(alerts: list[dict], lang: str) -> str:
    """One line for a city in a summary digest: its alerts by rule, the severe ones named."""
    parts = []
    for a in sorted(alerts, key=lambda a: (SEVERITY_ORDER.get(a["severity"], 3), a["rule_id"])):
        if _named_in_summary(a):
            parts.append(_line(a, lang, under_city=True).split("] ", 1)[1])
    rest = [a for a in alerts if not _named_in_summary(a)]
    if rest:
        parts.append(_counts_line(rest, lang))
    return ("；" if lang == "zh" else "; ").join(parts)


# How a recipient acknowledges or silences an alert. The CLI and the dashboard's Alerts page are the national office's
# and the operators' (the page refuses a provincial account): a province office's digest says whom to ask instead.
ACK_HINT = {
    "zh": {
        False: "确认：ipcity alerts ack <编号>；静默：ipcity alerts silence <编号> --for 7d；或在监测平台“预警”页面操作。",
        True: "如需确认或静默某条预警，请将其编号告知国家知识产权局监测平台运维人员（“预警”页面仅限国家局账号）。",
    },
    "en": {
        False: "Acknowledge: ipcity alerts ack <id>; silence: ipcity alerts silence <id> --for 7d; or on the dashboard's "
        "Alerts page.",
        True: "To acknowledge or silence an alert, send its id to the monitoring platform's operators at CNIPA (the "
        "Alerts page is for national accounts).",
    },
}
# How a recipient stops receiving these digests (or moves them to another address), and that the links ask for a
# sign-in: the routing file decides who hears what, and only the operators edit it; there is no self-service list.
STOP_HINT = {
    "zh": "不再接收或更改收件地址：请联系监测平台运维人员修改预警路由文件。",
    "en": "To stop receiving these messages or change the address, ask the monitoring platform's operators to change "
    "the alert routing file.",
}
LINK_HINT = {
    "zh": "链接须登录监测平台后打开（省级账号仅能查看本省城市）。",
    "en": "The links open after signing in to the dashboard (a provincial account sees its own province's cities).",
}


def _hint(lang: str, per_province: bool, linked: bool) -> str:
    """The digest's closing lines in ``lang``: acknowledge or silence, stop receiving, and (with links) sign in."""
    sep = "" if lang == "zh" else " "
    return sep.join([ACK_HINT[lang][per_province], STOP_HINT[lang], *([LINK_HINT[lang]] if linked else [])])


def city_link(dashboard_url: str, unit_code: str | None, lang: str) -> str:
    """The address of a unit's profile page beside the routing file's ``dashboard_url`` (the Alerts page of the same
    dashboard, wherever it is mounted), in the reader's language; "" without either."""
    if not dashboard_url or not unit_code:
        return ""
    return urljoin(dashboard_url, "profile?" + urlencode({"unit": unit_code, "lang": lang}))


def full_list_where(dashboard_url: str, per_province: bool) -> dict[str, str]:
    """Where a recipient whose digest a robot's size limit cut finds the whole of it, in words and (with the routing
    file's ``dashboard_url``) addresses, Chinese and English: what the recipient's role may open. The Alerts page is
    the national office's and the operators' (dashboards.access refuses a provincial account); a province office is
    sent to its province's watch list and its province's extract on the Downloads page, which its account opens."""
    from dashboards.i18n import t

    def page(path: str, lang: str) -> str:
        return f" {urljoin(dashboard_url, path + '?' + urlencode({'lang': lang}))}" if dashboard_url else ""

    if not per_province:
        return {
            "zh": f"监测平台“{t('nav_alerts', 'zh')}”页面{page('alerts', 'zh')}",
            "en": f"the dashboard's {t('nav_alerts', 'en')} page{page('alerts', 'en')}",
        }
    return {
        "zh": f"监测平台“{t('nav_watchlist', 'zh')}”页面（本省）{page('watchlist', 'zh')}及“{t('nav_downloads', 'zh')}”页面的"
        f"本省数据包{page('downloads', 'zh')}（“{t('nav_alerts', 'zh')}”页面仅限国家局账号）",
        "en": f"your province on the dashboard's {t('nav_watchlist', 'en')} page{page('watchlist', 'en')} and your "
        f"province's extract on the {t('nav_downloads', 'en')} page{page('downloads', 'en')} (the "
        f"{t('nav_alerts', 'en')} page is for national accounts)",
    }


# The HTML part's column heads, per language
HTML_HEADS = {"zh": ("地区", "编号", "预警"), "en": ("Area", "ID", "Alert")}


def step_role(a: dict, role: str) -> str:
    """The role whose next step an alert carries for a reader in ``role``: an engineering alert's step is the data
    engineers' whoever reads it (the national dashboard shows them too); a city alert's is the office's own."""
    if a.get("audience") == "engineering":
        return "engineer"
    return role if role != "engineer" else "national"


def _next_steps(alerts: list[dict], lang: str, role: str) -> list[tuple]:
    """One "step" part per rule among the firing alerts, in the order the digest names them, worded for the
    recipient's ``role`` (a provincial office's step was sent to the national office too)."""
    rules = list(dict.fromkeys((a["rule_id"], step_role(a, role)) for a in alerts))
    steps = [(r, next_step(r, lang, who)) for r, who in rules]
    return [("step", label_text(r, lang), text) for r, text in steps if text]


def _html_digest(subject: str, sections: list[tuple[str, list[tuple]]], frame: dict, key_line: str) -> str:
    """The digest as the HTML alternative of its mail: the same parts as the plain text, each section's alerts in a
    table (what an office's mail client shows as one), every value from the data escaped (a city, a title or a
    recipient is text, never markup) and a link only as an http(s) address."""
    from html import escape

    def link(url: str, text: str) -> str:
        if url.startswith(("https://", "http://")):
            return f'<a href="{escape(url, quote=True)}">{escape(text)}</a>'
        return escape(text)

    out = [
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>',
        '<body style="font-family: sans-serif; font-size: 14px">',
        f"<p><b>{escape(subject)}</b></p>",
    ]
    cell = 'style="border: 1px solid #999; padding: 3px 6px; text-align: left; vertical-align: top"'
    for lang, parts in sections:
        greeting, hint = frame[lang]
        out.append(f'<div lang="{lang}"><p>{escape(greeting)}</p>')
        table_open = False
        for part in parts:
            if part[0] == "head":
                if table_open:
                    out.append("</table>")
                out.append(f"<p>{escape(part[1])}</p>")
                out.append('<table style="border-collapse: collapse">')
                out.append("<tr>" + "".join(f"<th {cell}>{escape(h)}</th>" for h in HTML_HEADS[lang]) + "</tr>")
                table_open = True
            elif part[0] == "city":
                continue  # each of its rows names it (with its link)
            elif part[0] == "step":
                _, rule, text = part
                out.append(f"<tr><td {cell}>{escape(rule)}</td><td {cell}></td><td {cell}>{escape(text)}</td></tr>")
            elif part[0] == "summary":
                _, city, summary, url = part
                out.append(
                    f"<tr><td {cell}>{link(url, city)}</td><td {cell}></td><td {cell}>{escape(summary)}</td></tr>"
                )
            else:
                _, city, line = part
                ident, _, text = line.strip().partition("] ")
                url = next((p[2] for p in parts if p[0] == "city" and p[1] == city), "")
                out.append(
                    f"<tr><td {cell}>{link(url, city)}</td><td {cell}><code>{escape(ident.lstrip('['))}</code></td>"
                    f"<td {cell}>{escape(text)}</td></tr>"
                )
        if table_open:
            out.append("</table>")
        out.append((f"<p>{escape(hint)}</p>" if hint else "") + "</div>")
    out.append(f"<p><small>{escape(key_line)}</small></p></body></html>")
    return "\n".join(out)


SUBJECT_AREAS = 2  # cities a subject names before "等 N 个地区" / "and N more"


def _subject_areas(alerts: list[dict], lang: str) -> str:
    """The cities a digest concerns, for its subject: the first two by severity and name, then how many more; "" for
    a digest of the data engineers (no city)."""
    cities: dict[str, int] = {}
    for a in alerts:
        if a.get("unit_code"):
            name = _city_label(a, lang)
            cities[name] = min(cities.get(name, 9), SEVERITY_ORDER.get(a["severity"], 3))
    if not cities:
        return ""
    names = sorted(cities, key=lambda c: (cities[c], c))
    shown, more = names[:SUBJECT_AREAS], len(names) - SUBJECT_AREAS
    if lang == "zh":
        return "：" + "、".join(shown) + (f"等{count_zh(len(names), '个地区')}" if more > 0 else "")
    return ": " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _repeat_fields(a: dict) -> dict | None:
    """What a webhook's structured digest says of a repeat: the times in UTC, as the store keeps them."""
    r = repeat_of(a)
    return {k: r[k] for k in ("times", "first_fired_at", "last_resolved_at")} if r else None


def compose(
    route: str,
    channel: str,
    recipient: str,
    items: list[tuple[dict, str]],
    run_id: str | None,
    detail: str = "full",
    lang: str = "both",
    dashboard_url: str = "",
    per_province: bool = False,
    role: str = "national",
) -> dict:
    """One digest, its next steps worded for the route's ``role`` (labels.RECIPIENT_ROLES). ``lang``: the route's
    language — zh or en alone, or both (the Chinese section first).
    ``dashboard_url`` (the routing file's, the dashboard's Alerts page): each city's heading carries the address of
    its profile page in the section's language, a page a provincial office can open for its own cities (the Alerts
    page is the national office's)."""
    firing = [a for a, tr in items if tr == "firing"]
    resolved = [a for a, tr in items if tr == "resolved"]
    key_src = "|".join(
        [route, channel, recipient]
        + sorted(f"{a['fingerprint']}:{tr}:{a['episode']}:{a['notifications']}" for a, tr in items)
        + ([f"lang:{lang}"] if lang != "both" else [])
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:32]
    subject_zh = f"{SUBJECT_PREFIX}新预警{count_zh(len(firing), '条')}、解除{count_zh(len(resolved), '条')}"
    subject_en = f"IP strong-city monitor: {len(firing)} firing, {len(resolved)} resolved"
    # of the firing ones, how many are changes and which way: "新预警 1 条" alone read the same for a city that got
    # better as for one that got worse
    directions = [c["code"] for c in map(change_of, firing) if c] + ["alert_refired" for a in firing if repeat_of(a)]
    if directions:
        counted = [(code, directions.count(code)) for code in sorted(set(directions))]
        subject_zh += "（其中" + "、".join(f"{label_text(code)}{count_zh(n, '条')}" for code, n in counted) + "）"
        subject_en += " (" + ", ".join(f"{n} {label_text(code, 'en')}" for code, n in counted) + ")"
    # which cities, in the subject: an office's inbox showed "新预警 1 条、解除 0 条" on every digest alike
    subject_zh += _subject_areas([a for a, _ in items], "zh")
    subject_en += _subject_areas([a for a, _ in items], "en")
    subject = {"zh": subject_zh, "en": subject_en}.get(lang, f"{subject_zh} · {subject_en}")

    def blocks(lang: str) -> list[tuple]:
        """The digest's section in ``lang`` as parts, rendered as the plain text and as the HTML part's tables."""
        out: list[tuple] = []
        by_city: dict[str, list[dict]] = defaultdict(list)
        for a in firing:
            by_city[_city_label(a, lang)].append(a)
        if firing:
            n_cities = len([c for c in by_city if any(a.get("unit_code") for a in by_city[c])])
            out.append(
                (
                    "head",
                    (
                        f"新预警{count_zh(len(firing), '条')}，涉及{count_zh(n_cities, '个地区')}："
                        if lang == "zh"
                        else f"Firing: {count_en(len(firing), 'alert')} in {count_en(n_cities, 'area')}: "
                    )
                    + _counts_line(firing, lang),
                )
            )
            # the most severe cities first, then by name
            order = sorted(by_city, key=lambda c: (min(SEVERITY_ORDER.get(a["severity"], 3) for a in by_city[c]), c))
            for city in order:
                link = city_link(dashboard_url, by_city[city][0].get("unit_code"), lang)
                if detail == "summary":
                    out.append(("summary", city, _city_summary(by_city[city], lang), link))
                    continue
                out.append(("city", city, link))
                items = sorted(
                    by_city[city], key=lambda a: (SEVERITY_ORDER.get(a["severity"], 3), a["rule_id"], a["subject_key"])
                )
                out.extend(("item", city, _line(a, lang, under_city=True)) for a in items)
        if firing:  # what to do per kind of alert, not only acknowledge or silence
            out.append(("head", "下一步：" if lang == "zh" else "Next steps:"))
            out.extend(_next_steps(firing, lang, role))
        if resolved:
            out.append(("head", ("已解除：" if lang == "zh" else "Resolved: ") + _counts_line(resolved, lang)))
            out.extend(("item", _city_label(a, lang), _line(a, lang)) for a in resolved)
        # A value from the data (a city's name, a title built from it, a province named in a note) is one line of
        # the digest: "郑州市\n  [0000beef] ‼ …" in a name made a line of its own, a forged alert in the plain text and
        # a robot's message. The break becomes a space; the text is kept.
        return [tuple(channels.one_line(x) if isinstance(x, str) else x for x in part) for part in out]

    def section(lang: str) -> list[str]:
        lines = []
        for part in blocks(lang):
            if part[0] in ("head", "item"):
                lines.append(part[-1])
            elif part[0] == "step":
                lines.append(f"  · {part[1]}{'：' if lang == 'zh' else ': '}{part[2]}")
            elif part[0] == "city":
                lines.append(f" {part[1]}" + (f"  {part[2]}" if part[2] else ""))
            else:
                _, city, summary, link = part
                lines.append(f" {city}{'：' if lang == 'zh' else ': '}{summary}" + (f"  {link}" if link else ""))
        return lines

    linked = bool(dashboard_url) and any(a.get("unit_code") for a in firing)  # the city headings carry links
    # a recipient may be expanded from the data ({province_name}): one line too
    recipient_line, route_line = channels.one_line(recipient), channels.one_line(route)
    zh = [
        f"收件人 {recipient_line}（{route_line}）：",
        *section("zh"),
        "",
        _hint("zh", per_province, linked),
        "",
    ]
    en = [
        f"To {recipient_line} ({route_line}):",
        *section("en"),
        "",
        _hint("en", per_province, linked),
        "",
    ]
    key_line = {"zh": "消息编号", "en": "idempotency key"}.get(lang, "消息编号 / idempotency key")
    body = "\n".join(
        [
            *(zh if lang != "en" else []),
            *(en if lang != "zh" else []),
            f"{key_line}: {key}" + (f"   run: {run_id}" if run_id else ""),
        ]
    )
    html_text = _html_digest(
        subject,
        [(section_lang, blocks(section_lang)) for section_lang in ("zh", "en") if lang in (section_lang, "both")],
        {
            "zh": (f"收件人 {recipient_line}（{route_line}）：", _hint("zh", per_province, linked)),
            "en": (f"To {recipient_line} ({route_line}):", _hint("en", per_province, linked)),
        },
        f"{key_line}: {key}" + (f"   run: {run_id}" if run_id else ""),
    )

    def brief(a: dict, tr: str) -> dict:
        return {
            "fingerprint": a["fingerprint"],
            "transition": tr,
            "rule": a["rule_id"],
            "kind": a["kind"],
            "severity": a["severity"],
            "unit_code": a.get("unit_code"),
            "unit_name": a.get("unit_name"),
            "province_code": a.get("province_code"),
            "subject": a["subject_key"],
            "year": a.get("year"),
            "title_zh": a["title_zh"],
            "title_en": a["title_en"],
            "detail": json.loads(a.get("detail_json") or "{}"),
            "change": change_of(a) if tr == "firing" else None,
            "repeat": _repeat_fields(a) if tr == "firing" else None,
            # why it cleared (a corrected file loaded, when; the rule's own words otherwise): a resolution said only
            # that it had
            "cleared": {"zh": cleared_text(a, "zh"), "en": cleared_text(a, "en")}
            if tr == "resolved" and a.get("state") == "resolved" and not a.get("left_scope")
            else None,
            "next_step": {
                "zh": next_step(a["rule_id"], "zh", step_role(a, role)),
                "en": next_step(a["rule_id"], "en", step_role(a, role)),
            }
            if tr == "firing"
            else None,
        }

    payload = {
        "idempotency_key": key,
        "run_id": run_id,
        "route": route,
        "recipient": recipient,
        "lang": lang,
        "firing": [brief(a, "firing") for a in firing],
        "resolved": [brief(a, "resolved") for a in resolved],
    }
    return {
        "idempotency_key": key,
        "route": route,
        "channel": channel,
        "recipient": recipient,
        "subject": subject,
        "body": body,
        "html": html_text,
        "payload": payload,
        "n_firing": len(firing),
        "n_resolved": len(resolved),
    }


def _left_scope(con: sqlite3.Connection, a: dict, routing: Routing, heard: list[dict]) -> list[tuple]:
    """Recipients that heard this episode of the alert fire, got that digest, are still in the routing file, and that
    the alert no longer reaches: a city moved to another province (the old province office heard it fire and, the
    alert now being the new office's, would never hear its end), or a route that no longer takes its rule. Each is
    told once, as a resolution saying why: (route, channel, recipient, the digest's province, {"zh", "en"})."""
    if a["state"] != "firing":
        return []  # a resolution reaches whoever heard the firing, whatever the routing says now
    reached = {(r.name, ch, rc) for r, ch, rc in recipients_for(a, routing)}
    routes = {r.name: r for r in routing.routes}
    out = []
    for h in heard:
        key = (h["route"], h["channel"], h["recipient"])
        route = routes.get(h["route"])
        if (
            key in reached
            or route is None
            or h["state"] != "firing"
            or h["episode"] != a["episode"]
            or h["message_status"] != "delivered"
            or not still_routed(routing, *key)
            # an entry being mended (a refused channel or item of the route): not a change of scope
            or any(p.entry.startswith((f"route {h['route']}", f"channel {h['channel']}")) for p in routing.problems)
        ):
            continue
        province = ""
        if route.per_province:
            payload = con.execute(
                "SELECT payload_json FROM alerts.messages WHERE idempotency_key = ?", (h["idempotency_key"],)
            ).fetchone()
            items = json.loads((payload[0] if payload else None) or "{}").get("firing") or []
            province = next((i.get("province_code") or "" for i in items if i["fingerprint"] == a["fingerprint"]), "")
        if route.per_province and province and province != (a.get("province_code") or ""):
            name = a.get("province_name") or a.get("province_code") or "?"
            note = {"zh": LEFT_SCOPE["zh"]["province"].format(name), "en": LEFT_SCOPE["en"]["province"].format(name)}
        else:
            note = {"zh": LEFT_SCOPE["zh"]["route"], "en": LEFT_SCOPE["en"]["route"]}
        out.append((route, h["channel"], h["recipient"], province, note))
    return out


# What a recipient is told when an alert it heard fire is no longer its concern (it is still firing, elsewhere)
LEFT_SCOPE = {
    "zh": {
        "province": "（仍在预警，但该市现属{}，今后由该省局接收，本收件人不再跟踪）",
        "route": "（仍在预警，但路由已不再把此类预警发给本收件人，不再跟踪）",
    },
    "en": {
        "province": " (still firing, but the city now belongs to {}, whose office is told from now on; no longer "
        "followed here)",
        "route": " (still firing, but the routing no longer sends this kind of alert here; no longer followed here)",
    },
}


def plan_notifications(con: sqlite3.Connection, routing: Routing, *, run_id: str | None, at: datetime) -> list[dict]:
    """Turn pending transitions into digests in the outbox (same transaction): returns the new messages.

    What is pending is decided per (route, channel, recipient) from what it has heard (alerts.heard), not per
    alert: a recipient hears each episode of a firing alert once — in its next digest, also when its route or
    channel became usable only after the alert fired (a routing entry refused for a while, a recipient added) —
    and hears the resolution if and only if it heard the firing. A digest refused for good (status `failed`) is
    not heard: no resolution follows it, and it is not planned again either (it would be refused again, run after
    run); it stays parked until an operator requeues it (`ipcity alerts deliver --retry-failed`), and once it
    arrives the resolution follows. A resolution whose firing digest is still waiting for a retry waits for it:
    each recipient hears "firing" before "resolved"."""
    _regroup_robot_heard(con, routing)
    heard = {
        (r["fingerprint"], r["route"], r["channel"], r["recipient"]): dict(r)
        for r in con.execute(
            """SELECT h.*, m.status AS message_status FROM alerts.heard AS h
               LEFT JOIN alerts.messages AS m ON h.idempotency_key = m.idempotency_key
               WHERE h.state = 'firing' OR h.fingerprint IN (SELECT fingerprint FROM alerts.alerts
                                                             WHERE state = 'firing')"""
        ).fetchall()
    }
    heard_by_alert: dict[str, list[dict]] = defaultdict(list)
    for h in heard.values():
        heard_by_alert[h["fingerprint"]].append(h)
    # Every firing alert (a recipient may not have heard it yet) and every resolved one someone heard fire.
    rows = [
        dict(r)
        for r in con.execute(
            """SELECT * FROM alerts.alerts WHERE state = 'firing'
                  OR fingerprint IN (SELECT fingerprint FROM alerts.heard WHERE state = 'firing')
               ORDER BY province_code, unit_code, rule_id, subject_key"""
        ).fetchall()
    ]
    # A per-province route's digest is one province's, whatever its recipient template says: a template without
    # {province_code} (one gateway for every office) must not put several provinces' cities in one message.
    groups: dict[tuple[str, str, str, str, str, str], list[tuple[dict, str]]] = defaultdict(list)
    for a in rows:
        transition = a["state"]
        if active_silence(con, a, at):
            # Held back (marked, so the delivery sensor's next tick after the silence ends plans it: see
            # release_ended_silences): whoever heard it fire is told again (as Alertmanager re-notifies).
            con.execute("UPDATE alerts.alerts SET suppressed = 1 WHERE fingerprint = ?", (a["fingerprint"],))
            if transition == "firing":
                con.execute(
                    "UPDATE alerts.heard SET resend = 1 WHERE fingerprint = ? AND state = 'firing' AND episode = ?",
                    (a["fingerprint"], a["episode"]),
                )
            continue  # a resolution waits for the silence's end as well
        if a.get("suppressed"):
            # its silence is over: whatever is planned below, nothing holds it now (no re-planning tick after tick)
            con.execute("UPDATE alerts.alerts SET suppressed = 0 WHERE fingerprint = ?", (a["fingerprint"],))
        due = []
        for route, channel, recipient in recipients_for(a, routing):
            h = heard.get((a["fingerprint"], route.name, channel, recipient))
            told_firing = h is not None and h["state"] == "firing"
            if transition == "firing" and told_firing and h["episode"] == a["episode"] and not h["resend"]:
                continue  # heard this episode fire (also when its digest was refused for good: no resend loop)
            if (
                transition == "resolved"
                and told_firing
                and h["message_status"] == "failed"
                and _received_firing(con, a, route.name, channel, recipient, h["episode"])
            ):
                pass  # its reminder (a silence's re-send) was refused, but the first firing digest arrived
            elif transition == "resolved" and not (told_firing and h["message_status"] not in ("pending", "failed")):
                # Never heard it fire: no bare resolution. Its firing digest still waiting for a retry ("pending"):
                # the resolution waits for it, so the firing arrives first (planned once it is delivered, see
                # deliver_due); refused for good ("failed"): the recipient never had it, so no resolution follows.
                continue
            due.append((route, channel, recipient))
        left = _left_scope(con, a, routing, heard_by_alert.get(a["fingerprint"], ()))
        for route, channel, recipient, province, note in left:
            # told once that the alert is no longer its concern (a resolution for this recipient, saying why)
            groups[(route.name, channel, recipient, route.detail, route.lang, province)].append(
                ({**a, "left_scope": note}, "resolved")
            )
        if not due:
            continue  # a recipient of it whose route is refused now keeps what it heard, and is served when mended
        if a.get("audience") == "city" and province_office_skipped(a, routing):
            a["province_office_skipped"] = True
        for route, channel, recipient in due:
            province = (a.get("province_code") or "") if route.per_province else ""
            groups[(route.name, channel, recipient, route.detail, route.lang, province)].append((a, transition))
        con.execute(
            "UPDATE alerts.alerts SET notified_state = ?, notified_episode = episode, suppressed = 0, "
            "notifications = notifications + 1 WHERE fingerprint = ?",
            (transition, a["fingerprint"]),
        )
    t = iso(at)
    messages = []
    # what the figures are drawn from, fixed when the digest is written (a retry days later says the same)
    synthetic = list(nature_now().synthetic) if groups else []
    urgency = _urgency_rules() if groups else None
    for (route, channel, recipient, detail, lang, _province), items in sorted(groups.items()):
        superseded = _supersede_waiting(con, route, channel, recipient, _province, items, at)
        role = next((r.role for r in routing.routes if r.name == route), "national")
        m = compose(
            route, channel, recipient, items, run_id, detail, lang, routing.dashboard_url, bool(_province), role=role
        )
        m["payload"]["synthetic_sources"] = synthetic
        if superseded:
            con.execute(
                f"UPDATE alerts.messages SET status = 'superseded', next_retry_at = NULL, last_response = ? "
                f"WHERE idempotency_key IN ({', '.join('?' * len(superseded))})",
                (f"superseded by {m['idempotency_key']}: not sent, its alerts' latest state is there", *superseded),
            )
        cur = con.execute(
            """INSERT OR IGNORE INTO alerts.messages (idempotency_key, run_id, route, channel, recipient, subject,
               body, payload_json, n_firing, n_resolved, status, attempts, next_retry_at, created_at, html, urgent)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)""",
            (
                m["idempotency_key"],
                run_id,
                route,
                channel,
                recipient,
                m["subject"],
                m["body"],
                json.dumps(m["payload"], ensure_ascii=False, default=str),
                m["n_firing"],
                m["n_resolved"],
                t,
                t,
                m["html"],
                int(any(is_urgent(a, urgency) for a, tr in items if tr == "firing")),
            ),
        )
        # what this recipient has now heard, pointing at the digest that carries it
        con.executemany(
            """INSERT INTO alerts.heard (fingerprint, route, channel, recipient, episode, state, idempotency_key,
               resend, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)
               ON CONFLICT (fingerprint, route, channel, recipient) DO UPDATE SET episode = excluded.episode,
               state = excluded.state, idempotency_key = excluded.idempotency_key, resend = 0,
               updated_at = excluded.updated_at""",
            [
                (a["fingerprint"], route, channel, recipient, a["episode"], tr, m["idempotency_key"], t)
                for a, tr in items
            ],
        )
        if cur.rowcount:
            con.executemany(
                "INSERT OR IGNORE INTO alerts.message_items VALUES (?, ?, ?, ?)",
                [(m["idempotency_key"], a["fingerprint"], tr, a["episode"]) for a, tr in items],
            )
            con.execute(
                "INSERT INTO alerts.dispatches VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (run_id, t, route, channel, recipient, m["n_firing"], m["n_resolved"]),
            )
            messages.append(m)
    return messages


# What an attempt answered when the message may have arrived all the same (the connection ended after the mail's
# data or the webhook's request was sent, before the receiver's answer): such a digest is only ever sent again under
# its own idempotency key, which the receiver can drop as a repeat, never replaced by one it cannot recognise.
UNCONFIRMED_MARKS = ("SMTPServerDisconnected", "session_timeout", "Timeout", "RemoteDisconnected", "ConnectionReset")


def _urgency_rules() -> Rules | None:
    """The rules file, for which alerts are urgent (sent inside the quiet hours); None when it cannot be read, and
    then every digest counts as urgent: a failed run's alert held till morning by an unreadable file is worse than
    a night's digest sent at once."""
    from pipelines.alerts.config import AlertConfigError, load_rules

    try:
        return load_rules()
    except AlertConfigError:
        return None


def is_urgent(a: dict, rules: Rules | None) -> bool:
    """An alert that goes out inside the delivery quiet hours (rules file `urgent`, by rule or by its status: a
    failed run, a title removed)."""
    if rules is None:
        return True
    return rules.urgent(a["rule_id"], json.loads(a.get("detail_json") or "{}").get("status"))


def _supersede_waiting(
    con: sqlite3.Connection, route: str, channel: str, recipient: str, province: str, items: list, at: datetime
) -> list[str]:
    """The recipient's digests still waiting for a retry that a digest planned now replaces, so it is told each
    alert's latest state once: an alert that resolved and fired again (or fired and resolved) before the waiting
    digest went out was otherwise sent twice (the old firing, then the new one), or a stale "resolved" beside its
    new firing. Of a replaced digest, the alerts whose state it still tells are carried into the new one (``items``,
    extended here); what it says that is no longer so is dropped, and what the recipient has heard of those is
    forgotten (it never heard it), so no bare resolution follows a firing it never got. A digest being sent now
    (leased) or one an attempt may have delivered (the connection ended before the answer) is left as it is.
    Returns the replaced digests' keys."""
    planned = {a["fingerprint"] for a, _ in items}
    keys = []
    for m in con.execute(
        """SELECT m.idempotency_key, m.next_retry_at, m.attempts FROM alerts.messages AS m
           WHERE m.status = 'pending' AND m.route = ? AND m.channel = ? AND m.recipient = ? AND m.run_id <> 'test'
           ORDER BY m.created_at, m.idempotency_key""",
        (route, channel, recipient),
    ).fetchall():
        key = m["idempotency_key"]
        tries = con.execute(
            "SELECT response, next_retry_at FROM alerts.deliveries WHERE idempotency_key = ? ORDER BY attempt", (key,)
        ).fetchall()
        leased = (
            m["next_retry_at"] is not None
            and m["next_retry_at"] > iso(at)
            and not any(r["next_retry_at"] == m["next_retry_at"] for r in tries)
        )
        if leased or any(mark in (r["response"] or "") for r in tries for mark in UNCONFIRMED_MARKS):
            continue
        old = [
            (dict(a), i["transition"], i["episode"])
            for i in con.execute(
                "SELECT fingerprint, transition, episode FROM alerts.message_items WHERE idempotency_key = ?", (key,)
            ).fetchall()
            for a in con.execute("SELECT * FROM alerts.alerts WHERE fingerprint = ?", (i["fingerprint"],)).fetchall()
        ]
        if province and any((a.get("province_code") or "") != province for a, _, _ in old):
            continue  # a gateway shared by provinces: another province's digest is not merged into this one
        for a, transition, episode in old:
            current = a["state"] == transition and a["episode"] == episode and not active_silence(con, a, at)
            if current and a["fingerprint"] not in planned:
                items.append((a, transition))
                planned.add(a["fingerprint"])
            elif not current and a["fingerprint"] not in planned:
                con.execute(
                    "DELETE FROM alerts.heard WHERE fingerprint = ? AND route = ? AND channel = ? AND recipient = ? "
                    "AND idempotency_key = ?",
                    (a["fingerprint"], route, channel, recipient, key),
                )
        keys.append(key)
    return keys


def _received_firing(con, a: dict, route: str, channel: str, recipient: str, episode: int) -> bool:
    """Whether a digest carrying this episode's firing reached the recipient (the latest one it was sent may be a
    reminder that was refused: the first one still counts)."""
    return bool(
        con.execute(
            """SELECT 1 FROM alerts.message_items AS i INNER JOIN alerts.messages AS m
               ON i.idempotency_key = m.idempotency_key
               WHERE i.fingerprint = ? AND i.transition = 'firing' AND i.episode = ? AND m.route = ?
               AND m.channel = ? AND m.recipient = ? AND m.status = 'delivered' LIMIT 1""",
            (a["fingerprint"], episode, route, channel, recipient),
        ).fetchone()
    )


# --------------------------------------------------------------------------------------------- delivery
def release_ended_silences(routing: Routing, *, path=None, run_id: str | None = None) -> list[dict]:
    """Plan what a silence held back once it has ended: the firing alert re-told, the resolution that waited. Called
    at the start of every delivery pass (the delivery sensor's minute tick, `ipcity alerts deliver`), so a recipient
    hears it within the minute, not at the next run or the hourly freshness sensor. Returns the digests planned."""
    if not routing.readable:
        return []
    at = now_utc()
    with connect(path) as con:
        held = [dict(r) for r in con.execute("SELECT * FROM alerts.alerts WHERE suppressed = 1").fetchall()]
        if not any(active_silence(con, a, at) is None for a in held):
            return []  # nothing held, or every silence still holds: no write on a quiet tick
        return plan_notifications(con, routing, run_id=run_id, at=at)


# A pending message whose retry time has come (the parameter: now). A retry is scheduled on the wall clock: after the
# clock was set back (an NTP step, a VM restored from a snapshot) a retry due "in ten minutes" waited that long plus
# however far the clock went back, hours perhaps. An attempt stamped later than now shows the clock went back past it:
# the retry it scheduled is due now (a retry early rather than hours late; its idempotency key lets a receiver drop a
# repeat). A lease (a dispatcher sending it now) schedules no attempt of its own, so it still holds.
DUE = """(next_retry_at IS NULL OR next_retry_at <= :now OR EXISTS (
    SELECT 1 FROM alerts.deliveries AS d WHERE d.idempotency_key = alerts.messages.idempotency_key
    AND d.attempted_at > :now AND d.next_retry_at = alerts.messages.next_retry_at))"""


def _claim(path, key: str, at: datetime, lease: float = LEASE_SECONDS) -> dict | None:
    with connect(path) as con:
        cur = con.execute(
            f"""UPDATE alerts.messages SET next_retry_at = :lease WHERE idempotency_key = :key AND status = 'pending'
               AND {DUE}""",
            {"lease": iso(at + timedelta(seconds=lease)), "key": key, "now": iso(at)},
        )
        if not cur.rowcount:
            return None
        return dict(con.execute("SELECT * FROM alerts.messages WHERE idempotency_key = ?", (key,)).fetchone())


# Resolutions held back because the recipient's firing digest was still waiting for a retry, whose firing digest
# has arrived since: they are planned right after that delivery (by whichever dispatcher delivered it).
HELD_RESOLUTIONS = """SELECT 1 FROM alerts.heard AS h
    INNER JOIN alerts.alerts AS a ON h.fingerprint = a.fingerprint
    INNER JOIN alerts.messages AS m ON h.idempotency_key = m.idempotency_key
    WHERE h.state = 'firing' AND a.state = 'resolved' AND m.status = 'delivered' AND m.idempotency_key IN ({keys})
    LIMIT 1"""


def deliver_due(
    routing: Routing,
    *,
    path=None,
    sleep=time.sleep,
    keys: list[str] | None = None,
    run_id: str | None = None,
    follow_up: bool = True,
    budget: float | None = None,
    cut_at_budget: bool = False,
) -> list[dict]:
    """Deliver every pending message whose retry time has come; up to `immediate_attempts` attempts each in
    this call (with the backoff between them when it is short), then it waits for the next dispatch. `keys`:
    only these messages, each tried even on a channel that just failed (a route test shows every recipient's
    answer, and a backlog due on the same channel neither goes first nor marks the channel down).

    A firing digest delivered late (after a retry) may have a resolution waiting for it (see plan_notifications):
    `follow_up` plans and delivers those at once, so the recipient hears the resolution right after the firing.

    ``budget``: seconds this call may spend (a pipeline run's alert step: routing.run_budget_seconds). Many digests
    on a slow relay (each session up to its session_timeout) held the run for as long as they took; past the budget
    no further digest is started, and those left stay due, untried, for the delivery sensor's next tick.
    ``cut_at_budget`` (the delivery sensor, whose tick Dagster ends at 60 s): an attempt under way ends with the budget
    too (its session is cut, a retry under the same idempotency key, which a receiver can drop as a repeat); the
    run's step lets a started attempt finish (a cut mid-DATA may leave the relay with the mail, unconfirmed)."""
    started = time.monotonic()
    if not routing.readable:
        return []  # no channel is known: every message waits, untried, for a routing file that reads
    if keys is None and follow_up:
        release_ended_silences(routing, path=path, run_id=run_id)
    now = now_utc()
    with connect(path) as con:
        due = [
            (r[0], r[1], r[2], r[3], r[4])
            for r in con.execute(
                f"""SELECT idempotency_key, channel, run_id, urgent, quiet_until FROM alerts.messages
                   WHERE status = 'pending' AND {DUE} ORDER BY created_at, idempotency_key""",
                {"now": iso(now)},
            ).fetchall()
            # a message for a channel the routing file refused waits for it to be mended (no attempt spent)
            if (keys is None or r[0] in keys) and r[1] not in routing.refused_channels
        ]
        refusing = channel_refusals(con)
    # A channel whose credentials were refused (401/403) waits as a whole until its next try: none of its digests is
    # tried (or parked) meanwhile; when the time comes the oldest goes first, and the rest follow only if it passes.
    # A route test (run_id 'test') is tried anyway: it is how an operator checks a mended token.
    # (a next try further off than the refusal schedule sets one: the clock was set back past the last try, due now)
    waiting = {
        c
        for c, r in refusing.items()
        if r["next_try_at"] and now < parse(r["next_try_at"]) <= now + timedelta(seconds=routing.refusal_retry_seconds)
    }
    # Inside the delivery quiet hours (Beijing time) a digest without an urgent alert waits for their end, untried
    # (no attempt spent), its wait written for `ipcity alerts status`; an urgent one and a route test go at once.
    quiet_end = routing.quiet_until(now)
    held = [(key, until) for key, _c, run, urgent, until in due if quiet_end and not urgent and run != "test"]
    if any(until != iso(quiet_end) for _, until in held):  # written once per window, not on every sensor tick
        with connect(path) as con:
            con.executemany(
                "UPDATE alerts.messages SET quiet_until = ? WHERE idempotency_key = ?",
                [(iso(quiet_end), key) for key, _ in held],
            )
    held_keys = {key for key, _ in held}
    results = []
    down: set[str] = set()  # channels that failed every attempt in this call
    for key, channel, run, _urgent, _until in due:
        if budget is not None and time.monotonic() - started >= budget:
            break  # the rest stays pending and due: the delivery sensor takes it from here
        if key in held_keys:
            continue
        if channel in waiting and run != "test":
            continue
        if run != "test" and _robot_minute_full(path, routing, channel):
            continue  # the robot's minute is full: the digest stays due, untried, for the next dispatch
        msg = _claim(path, key, now_utc(), lease_seconds(routing.channels.get(channel)))
        if msg is None:
            continue  # another dispatcher holds it
        if msg["channel"] in down and keys is None:
            # The channel is down: do not spend another timeout on it now; the message waits its turn.
            wait = routing.backoff(max(1, msg["attempts"]))
            with connect(path) as con:
                con.execute(
                    "UPDATE alerts.messages SET next_retry_at = ? WHERE idempotency_key = ?",
                    (iso(now_utc() + timedelta(seconds=wait)), key),
                )
            results.append(_outcome(msg, "retry", msg["attempts"], msg.get("last_response")))
            continue
        if msg["run_id"] != "test" and not still_routed(routing, msg["route"], msg["channel"], msg["recipient"]):
            # The routing file no longer names this recipient (an office's address replaced, perhaps now someone
            # else's): a digest still waiting for a retry is not sent there. It is parked as failed, with why; the
            # new address hears the alerts from its own digests (it has not heard them).
            response = f"not sent: {msg['recipient']} is no longer in the routing file (route {msg['route']})"
            t = now_utc()
            with connect(path) as con:
                con.execute(
                    # a ledger row of its own (the attempt's number, its response saying nothing was sent)
                    "INSERT INTO alerts.deliveries VALUES (?, ?, ?, 'failed', ?, NULL)",
                    (key, msg["attempts"] + 1, iso(t), response),
                )
                con.execute(
                    "UPDATE alerts.messages SET status = 'failed', next_retry_at = NULL, last_response = ? "
                    "WHERE idempotency_key = ?",
                    (response, key),
                )
            results.append(_outcome(msg, "failed", msg["attempts"], response))
            continue
        ch = routing.channels.get(msg["channel"])
        for i in range(max(1, routing.immediate_attempts)):
            attempt = msg["attempts"] + 1
            if ch is None:
                ok, response = False, f"channel {msg['channel']} is not configured in {routing.path}"
            else:
                route = next((r for r in routing.routes if r.name == msg["route"]), None)
                where = full_list_where(routing.dashboard_url, bool(route and route.per_province))
                # a hard budget: the attempt's session ends with it, a relay slower than the time left is cut (a
                # retry like any other) rather than hold a sensor tick past Dagster's timeout
                bounded = ch if not (cut_at_budget and budget) else _within(ch, budget - (time.monotonic() - started))
                ok, response = channels.send(
                    {
                        **msg,
                        "payload": json.loads(msg["payload_json"] or "{}"),
                        # the ledger row this attempt writes (alerts.deliveries: key, attempt): a mail's DSN ENVID
                        "delivery_id": delivery_id(key, attempt),
                    },
                    bounded,
                    link=where,
                )
            t = now_utc()
            # a receiver that said how long to leave it alone (HTTP 429 Retry-After) is not asked sooner
            wait = max(routing.backoff(attempt), channels.retry_after(response or "") or 0)
            if ok:
                status, next_retry = "delivered", None
            elif channels.refuses_channel(response):
                # the channel's credentials, not this digest: the channel is marked (named to the engineers by
                # delivery_failed, in `ipcity alerts status`) and this digest waits at the head of its queue,
                # never parked however many slow tries it takes; a route test's message is answered at once
                waiting.add(msg["channel"])
                retry_at = t + timedelta(seconds=routing.refusal_retry_seconds)
                _mark_refusing(path, msg["channel"], response, t, retry_at)
                status, next_retry = ("failed", None) if msg["run_id"] == "test" else ("retry", retry_at)
            elif attempt >= routing.max_attempts or response.startswith(channels.PERMANENT):
                status, next_retry = "failed", None
            else:
                status, next_retry = "retry", t + timedelta(seconds=wait)
            # Tried again in this call after a short wait: the message stays leased to this dispatcher meanwhile, or
            # another one (the delivery sensor, `ipcity alerts deliver`) would claim it and send it as well.
            again = (
                status == "retry"
                and msg["channel"] not in waiting  # a refusing channel is tried on its slow schedule, not now
                and i + 1 < routing.immediate_attempts
                and wait <= 10
                and (budget is None or time.monotonic() - started + wait < budget)
            )
            held_until = t + timedelta(seconds=wait + lease_seconds(ch)) if again else next_retry
            with connect(path) as con:
                con.execute(
                    "INSERT INTO alerts.deliveries VALUES (?, ?, ?, ?, ?, ?)",
                    (key, attempt, iso(t), status, response, iso(next_retry) if next_retry else None),
                )
                con.execute(
                    """UPDATE alerts.messages SET attempts = ?, status = ?, next_retry_at = ?, last_response = ?,
                       delivered_at = ? WHERE idempotency_key = ?""",
                    (
                        attempt,
                        "pending" if status == "retry" else status,
                        iso(held_until) if held_until else None,
                        response,
                        iso(t) if ok else None,
                        key,
                    ),
                )
            msg["attempts"] = attempt
            if ok and msg["channel"] in refusing:
                # the channel answers again (the token mended): its waiting digests follow in order, in this call
                _clear_refusing(path, msg["channel"])
                refusing.pop(msg["channel"], None)
                waiting.discard(msg["channel"])
            if not again:
                break  # delivered, failed, or a longer outage: the next dispatch (run, sensor tick, `alerts deliver`)
            sleep(wait)
        if (
            status != "delivered"
            and not channels.refused_by_receiver(response)
            and not channels.refuses_channel(response)
        ):
            down.add(msg["channel"])
        results.append(_outcome(msg, status, attempt, response))
    delivered = [r["idempotency_key"] for r in results if r["status"] == "delivered"]
    if follow_up and keys is None and delivered:
        with connect(path) as con:
            held = con.execute(HELD_RESOLUTIONS.format(keys=", ".join("?" * len(delivered))), delivered).fetchone()
            planned = plan_notifications(con, routing, run_id=run_id, at=now_utc()) if held else []
        if planned:
            left = None if budget is None else max(0.0, budget - (time.monotonic() - started))
            results += deliver_due(
                routing,
                path=path,
                sleep=sleep,
                run_id=run_id,
                follow_up=False,
                budget=left,
                cut_at_budget=cut_at_budget,
            )
    return results


def _robot_minute_full(path, routing: Routing, channel: str) -> bool:
    """Whether a group robot channel has had its minute's worth of messages (channels.ROBOT_PER_MINUTE, attempts of
    any dispatcher in the last 60 s, from the ledger). An alert storm sent a robot one digest per province office at
    once: past 20 a minute WeCom refuses (45009) and DingTalk throttles the robot for ten minutes (130101), so the
    rest of the storm and the next hour's alerts came late. What is over the limit waits, untried, for the next
    dispatch (the delivery sensor's next minute)."""
    if (routing.channels.get(channel) or {}).get("type") not in channels.ROBOT_TEXT_BYTES:
        return False
    now = now_utc()
    with connect(path) as con:
        # within the minute up to now: after the clock was set back, attempts stamped "later" than now would have kept
        # the robot's minute full until the clock caught up with them
        (n,) = con.execute(
            """SELECT count(*) FROM alerts.deliveries AS d JOIN alerts.messages AS m USING (idempotency_key)
               WHERE m.channel = ? AND d.attempted_at >= ? AND d.attempted_at <= ?
                 AND coalesce(d.response, '') NOT LIKE 'not sent:%'""",
            (channel, iso(now - timedelta(seconds=60)), iso(now)),
        ).fetchone()
    return n >= channels.ROBOT_PER_MINUTE


def channel_refusals(con: sqlite3.Connection) -> dict[str, dict]:
    """The channels whose receiver refuses their credentials, by name: since, the answer, the next try, tries."""
    return {r["channel"]: dict(r) for r in con.execute("SELECT * FROM alerts.channel_refusals ORDER BY channel")}


def channel_states(con: sqlite3.Connection, channels=()) -> list[dict]:
    """Each delivery channel's state, the one reading of it for `ipcity alerts status`, the dashboard's Alerts page
    and its quality page (the data engineers' view): answering or refusing (with since, the receiver's answer and the
    next try), and how many digests wait for it. ``channels``: the routing file's (a channel that refuses, or has
    digests waiting, is listed even when the routing file no longer names it)."""
    from pipelines.labels import label_set

    states = label_set("channel_state")
    refusing = channel_refusals(con)
    waiting = dict(
        con.execute("SELECT channel, count(*) FROM alerts.messages WHERE status = 'pending' GROUP BY channel")
    )
    out = []
    for name in sorted(set(channels) | set(refusing) | set(waiting)):
        r = refusing.get(name)
        code = "channel_refusing" if r else "channel_answering"
        out.append(
            {
                "channel": name,
                "state": code,
                "state_zh": states[code][0],
                "state_en": states[code][1],
                "since": r["since"] if r else None,
                "next_try_at": r["next_try_at"] if r else None,
                "response": (r["response"] or "") if r else "",
                "waiting": int(waiting.get(name, 0)),
            }
        )
    return out


def quiet_waits(con: sqlite3.Connection, at: datetime) -> list[dict]:
    """The digests the delivery quiet hours hold at ``at``: to whom, over which route and channel, and until when
    (UTC), the soonest first (`ipcity alerts status`)."""
    return [
        dict(r)
        for r in con.execute(
            """SELECT route, channel, recipient, subject, quiet_until FROM alerts.messages
               WHERE status = 'pending' AND quiet_until > ? ORDER BY quiet_until, created_at, idempotency_key""",
            (iso(at),),
        )
    ]


def _mark_refusing(path, channel: str, response: str, at: datetime, retry_at: datetime) -> None:
    with connect(path) as con:
        con.execute(
            """INSERT INTO alerts.channel_refusals (channel, since, response, next_try_at, tries) VALUES (?, ?, ?, ?, 1)
               ON CONFLICT (channel) DO UPDATE SET response = excluded.response, next_try_at = excluded.next_try_at,
               tries = tries + 1""",
            (channel, iso(at), response, iso(retry_at)),
        )


def _clear_refusing(path, channel: str) -> None:
    with connect(path) as con:
        con.execute("DELETE FROM alerts.channel_refusals WHERE channel = ?", (channel,))


def retry_channel(routing: Routing, channel: str, *, path=None) -> list[dict]:
    """`ipcity alerts retry --channel`: a refusing channel's oldest waiting digest is tried now (its token mended),
    and the rest follow in order if it passes. Returns deliver_due's results."""
    now = iso(now_utc())
    with connect(path) as con:
        con.execute("UPDATE alerts.channel_refusals SET next_try_at = ? WHERE channel = ?", (now, channel))
        con.execute(
            "UPDATE alerts.messages SET next_retry_at = ? WHERE channel = ? AND status = 'pending'", (now, channel)
        )
    return deliver_due(routing, path=path)


def delivery_id(key: str, attempt: int) -> str:
    """One attempt's id in the delivery ledger, "<idempotency key>.<attempt>" (bounces.parse_dsn reads it back)."""
    return f"{key}.{attempt}"


def _within(ch: dict, left: float) -> dict:
    """The channel with its whole-session bound (``session_timeout``) no longer than the ``left`` seconds of a
    budget (and never under a second, so an attempt started is an attempt)."""
    own = float(ch.get("session_timeout", channels.SESSION_TIMEOUT))
    return {**ch, "session_timeout": max(1.0, min(own, left))}


def _outcome(msg: dict, status: str, attempts: int, response: str | None) -> dict:
    """What one delivery call did with a message, with the receiver's last answer (what an operator mends)."""
    return {
        "idempotency_key": msg["idempotency_key"],
        "route": msg["route"],
        "channel": msg["channel"],
        "recipient": msg["recipient"],
        "status": status,
        "attempts": attempts,
        "response": response,
    }


def dispatch(
    routing: Routing,
    *,
    run_id: str | None,
    path=None,
    at: datetime | None = None,
    only_new: bool = False,
    budget: float | None = None,
) -> dict:
    """Plan digests for pending transitions and deliver everything due (``only_new``: the digests planned now
    alone) within ``budget`` seconds; returns the run's digest summary."""
    if not routing.readable:
        # No route is known: the alerts stay pending (not marked as heard), so they go out once the file reads.
        return {"messages": [], "deliveries": []}
    at = at or now_utc()
    with connect(path) as con:
        messages = plan_notifications(con, routing, run_id=run_id, at=at)
    if only_new:
        keys = [m["idempotency_key"] for m in messages]
        delivered = deliver_due(routing, path=path, run_id=run_id, keys=keys, budget=budget) if keys else []
    else:
        delivered = deliver_due(routing, path=path, run_id=run_id, budget=budget)
    status = {d["idempotency_key"]: d["status"] for d in delivered}
    return {
        "messages": [
            {
                "route": m["route"],
                "channel": m["channel"],
                "recipient": m["recipient"],
                "firing": m["n_firing"],
                "resolved": m["n_resolved"],
                "status": status.get(m["idempotency_key"], "pending"),
            }
            for m in messages
        ],
        "deliveries": delivered,
    }


def record_and_dispatch(
    conditions: list[Condition],
    *,
    evaluated: set[str],
    rules: Rules,
    routing: Routing,
    run_id: str | None,
    path=None,
    events: bool = False,
    cleared: dict[str, dict] | None = None,
) -> dict:
    at = now_utc()
    started = time.monotonic()  # the run's delivery budget (routing.run_budget_seconds) covers both dispatches
    if routing.readable:
        # digests a mail server bounced after the relay took them: parked now, so delivery_failed below names them
        read_bounces(routing, path=path)
    with connect(path) as con:
        counts = apply_conditions(
            con,
            conditions,
            evaluated=set() if events else evaluated,
            rules_version=rules.version,
            run_id=run_id,
            at=at,
            cleared=cleared,
        )
    out = dispatch(routing, run_id=run_id, path=path, at=at, budget=routing.run_budget_seconds)
    # A digest refused for good in this dispatch (or before) is an engineering alert now, in the same run: the
    # recipient that was not reached is named to those who can mend it.
    # A city alert no route reaches (firing, heard by nobody) is one too.
    if routing.readable and (rules.get("delivery_failed") or rules.get("alert_unrouted")):
        with connect(path) as con:
            routed = lambda route, channel, recipient: still_routed(routing, route, channel, recipient)  # noqa: E731
            found = [*(delivery_failed(con, rules, routed) or []), *(alert_unrouted(con, routing, rules) or [])]
            if rules.get("delivery_failed"):
                _note_removed_recipients(con, routing)
            told = apply_conditions(
                con,
                found,
                evaluated={r for r in ("delivery_failed", "alert_unrouted") if rules.get(r)},
                rules_version=rules.version,
                run_id=run_id,
                at=now_utc(),
            )
        if told["new"] or told["refired"] or told["resolved"]:
            # only the digests planned now: the others due on the channels have had this run's attempts
            left = max(0.0, routing.run_budget_seconds - (time.monotonic() - started))
            more = dispatch(routing, run_id=run_id, path=path, only_new=True, budget=left)
            out = {"messages": out["messages"] + more["messages"], "deliveries": out["deliveries"] + more["deliveries"]}
            counts = {k: counts.get(k, 0) + told.get(k, 0) for k in set(counts) | set(told)}
    return {"transitions": counts, **out}


def take_bounces(routing: Routing, rules: Rules, *, path=None) -> list[dict]:
    """Read the bounces (pipelines.alerts.bounces) and, when a digest was parked, tell the engineers at once (the
    delivery_failed alert of record_and_dispatch) rather than at the next run: the delivery sensor's tick and
    `ipcity alerts deliver` call it. Returns the digests parked."""
    parked = read_bounces(routing, path=path) if routing.readable else []
    if parked:
        record_and_dispatch([], evaluated=set(), rules=rules, routing=routing, run_id=None, path=path, events=True)
    return parked
