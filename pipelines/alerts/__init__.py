"""Alerts that reach people: rules (rules.yaml) → conditions → lifecycle → digests → channels.

- `evaluate_and_notify`: after each successful evaluation build (the `marts/fct_alerts` asset).
- `notify_run_failure`: from the run-failure sensor and from `ipcity run` (a failed run, its failed blocking
  checks and refused landing files reach the data-engineer route).
- the store (alerts.alerts, alerts.deliveries, ...) lives beside the warehouse, see store.py.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.alerts import conditions as cond
from pipelines.alerts.conditions import Condition
from pipelines.alerts.config import AlertConfigError, expand_recipient, load_routing, load_rules
from pipelines.alerts.lifecycle import dispatch, record_and_dispatch
from pipelines.alerts.store import connect, store_path

__all__ = [
    "AlertConfigError",
    "evaluate_and_notify",
    "notify_run_failure",
    "notify_events",
    "mirror_to_warehouse",
    "alert_history",
    "dispatch",
    "store_path",
]


def evaluate_and_notify(
    con: duckdb.DuckDBPyConnection, *, run_id: str | None, today: date | None = None, path=None
) -> dict:
    """The run's alert step. A bad entry of the routing file is left out (the valid routes still deliver; a file
    that cannot be read delivers nothing and keeps every alert pending) and named in ``routing_problems`` and in an
    engineering alert: a routing file never fails the step, so it never holds back the snapshot."""
    rules, routing = load_rules(), load_routing(strict=False)
    found, evaluated = cond.evaluate(con, rules, today)
    refused = cond.alert_routing_refused(routing, rules)
    if refused is not None:
        found += refused
        evaluated.add("alert_routing_refused")
    from pipelines.data_nature import holding

    cleared = cond.landing_file_cleared(con) if "landing_file_refused" in evaluated else {}
    if "pledge_freshness" in evaluated:
        cleared |= cond.pledge_freshness_cleared(con, rules, today)
    with holding(con):  # the digests planned now say what the warehouse this step holds loaded
        out = record_and_dispatch(
            found, evaluated=evaluated, rules=rules, routing=routing, run_id=run_id, path=path, cleared=cleared
        )
    out["evaluated_rules"] = sorted(evaluated)
    out["routing_problems"] = [str(p) for p in routing.problems]
    out["routing_warnings"] = [str(p) for p in routing.warnings]
    return out


def notify_events(events: list[Condition], *, run_id: str | None, path=None) -> dict:
    rules, routing = load_rules(), load_routing(strict=False)
    events = [e for e in events if rules.get(e.rule_id)]
    return record_and_dispatch(
        events, evaluated=set(), rules=rules, routing=routing, run_id=run_id, path=path, events=True
    )


def run_failure_events(run_id: str, job: str, message: str, failed_checks: list[dict], tags: dict) -> list[Condition]:
    rules = load_rules()
    partition = tags.get("dagster/partition") or (
        f"{tags.get('dagster/asset_partition_range_start', '')}-{tags.get('dagster/asset_partition_range_end', '')}"
        if tags.get("dagster/asset_partition_range_start")
        else ""
    )
    events = [
        Condition(
            rule_id="run_failed",
            audience="engineering",
            kind="event",
            severity=rules.severity("run_failed"),
            subject_key=f"run:{run_id}",
            title_zh=f"运行失败：{job} {partition} ({run_id[:8]}) — {message[:300]}",
            title_en=f"run failed: {job} {partition} ({run_id[:8]}) — {message[:300]}",
            detail={"run_id": run_id, "job": job, "partition": partition, "message": message[:2000]},
        )
    ]
    for c in failed_checks:
        events.append(
            Condition(
                rule_id="blocking_check_failed",
                audience="engineering",
                kind="event",
                severity=rules.severity("blocking_check_failed"),
                subject_key=f"check:{run_id}:{c['asset']}:{c['check']}",
                # with the check's own account when it gives one (which rows, which file, what next: assets/checks.py)
                title_zh=f"阻断性检查未通过：{c['asset']} · {c['check']}（运行 {run_id[:8]}）"
                + (f" — {_said(c.get('description'), 'zh')}" if c.get("description") else ""),
                title_en=f"blocking check failed: {c['asset']} · {c['check']} (run {run_id[:8]})"
                + (f" — {_said(c.get('description'), 'en')}" if c.get("description") else ""),
                detail={"run_id": run_id, **c},
            )
        )
    return events


def _said(description: str, lang: str, limit: int = 700) -> str:
    """A check's description in one language: the GX checks write 中文 on the first line and English on the second
    (pipelines/assets/checks.failure_guide); a one-line description (a dbt check's, bilingual already) as it is."""
    lines = [line for line in description.splitlines() if line.strip()]
    text = lines[0] if lang == "zh" or len(lines) < 2 else lines[1]
    return text[:limit]


def failed_blocking_checks(instance, run_id: str) -> list[dict]:
    import dagster as dg

    out = []
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, limit=10_000
    ).records
    for rec in records:
        ev = rec.event_log_entry.dagster_event
        data = ev.event_specific_data if ev else None
        if data is None or data.passed or data.severity != dg.AssetCheckSeverity.ERROR:
            continue
        # the description names what failed where the check stands for several rules (a model's column rules)
        out.append(
            {"asset": data.asset_key.to_user_string(), "check": data.check_name, "description": data.description}
        )
    return out


def notify_run_failure(instance, run, message: str, *, path=None) -> dict:
    """A failed (or dead) Dagster run: alert the data engineers about it, its failed blocking checks and any
    landing file the warehouse refused (the warehouse is read only if no other run holds it)."""
    events = run_failure_events(
        run.run_id, run.job_name, message, failed_blocking_checks(instance, run.run_id), run.tags
    )
    out = notify_events(events, run_id=run.run_id, path=path)
    try:
        from pipelines import settings

        wh = settings.warehouse_path()
        if wh.exists():
            with duckdb.connect(str(wh), read_only=True) as con:
                rules, routing = load_rules(), load_routing(strict=False)
                found, evaluated = cond.evaluate(con, rules, only=(cond.landing_file_refused,))
                more = record_and_dispatch(
                    found,
                    evaluated=evaluated,
                    rules=rules,
                    routing=routing,
                    run_id=run.run_id,
                    path=path,
                    cleared=cond.landing_file_cleared(con) if evaluated else {},
                )
                out["messages"] += more["messages"]
    except duckdb.IOException:
        pass  # another run holds the warehouse; its own alert step evaluates the refused files
    return out


def alert_history(path=None, unit_code: str | None = None, state: str | None = None) -> pl.DataFrame:
    """Alerts from the store (newest first) for the CLI and the dashboard; empty when there is no store."""
    try:
        with connect(path, read_only=True) as con:
            where, params = [], []
            if unit_code:
                where.append("unit_code = ?")
                params.append(unit_code)
            if state:
                where.append("state = ?")
                params.append(state)
            sql = "SELECT * FROM alerts.alerts" + (" WHERE " + " AND ".join(where) if where else "")
            rows = [dict(r) for r in con.execute(sql + " ORDER BY last_fired_at DESC, fingerprint", params).fetchall()]
    except FileNotFoundError:
        rows = []
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()


MIRROR_COLUMNS = {
    "fingerprint": pl.String,
    "rule_id": pl.String,
    "kind": pl.String,
    "severity": pl.String,
    "unit_code": pl.String,
    "unit_name": pl.String,
    "province_code": pl.String,
    "year": pl.Int32,
    "alert_type": pl.String,
    "status": pl.String,
    "state": pl.String,
    "plan_id": pl.String,
    "indicator_code": pl.String,
    "progress_index": pl.Float64,
    "message": pl.String,
    "title_en": pl.String,
    "created_at": pl.Datetime,
    "resolved_at": pl.Datetime,
}


def mirror_to_warehouse(con: duckdb.DuckDBPyConnection, path=None) -> int:
    """marts.fct_alerts: the alert history copied into the warehouse so the published snapshot (profile page)
    carries it. The store stays the system of record."""
    import json

    hist = alert_history(path)
    rows = []
    for r in hist.iter_rows(named=True) if hist.height else []:
        d = json.loads(r.get("detail_json") or "{}")
        rows.append(
            {
                "fingerprint": r["fingerprint"],
                "rule_id": r["rule_id"],
                "kind": r["kind"],
                "severity": r["severity"],
                "unit_code": r["unit_code"],
                "unit_name": r["unit_name"],
                "province_code": r["province_code"],
                "year": r["year"],
                "alert_type": "behind_target" if r["rule_id"] == "target_behind" else r["rule_id"],
                "status": d.get("status") or d.get("stage") or r["state"],
                "state": r["state"],
                "plan_id": d.get("plan_id"),
                "indicator_code": d.get("indicator_code"),
                "progress_index": d.get("progress_index"),
                "message": r["title_zh"],
                "title_en": r["title_en"],
                "created_at": _ts(r["first_fired_at"]),
                "resolved_at": _ts(r["resolved_at"]) if r["state"] == "resolved" else None,
            }
        )
    frame = pl.DataFrame(rows, schema=MIRROR_COLUMNS)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.register("__alerts_mirror", frame.to_arrow())
    con.execute("CREATE OR REPLACE TABLE marts.fct_alerts AS SELECT * FROM __alerts_mirror")
    con.unregister("__alerts_mirror")
    return frame.height


def _ts(text: str | None):
    from datetime import datetime

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ") if text else None


def evaluate_freshness(today: date | None = None, path=None) -> dict:
    """The landing-freshness rule alone, from a read-only look at the warehouse (sensor)."""
    from pipelines import settings

    rules, routing = load_rules(), load_routing(strict=False)
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        found, evaluated = cond.evaluate(con, rules, today, only=(cond.pledge_freshness,))
        cleared = cond.pledge_freshness_cleared(con, rules, today) if evaluated else {}
    return record_and_dispatch(
        found, evaluated=evaluated, rules=rules, routing=routing, run_id=None, path=path, cleared=cleared
    )


def send_test(route: str | None = None, path=None, provinces: tuple[str, ...] = ()) -> list[dict]:
    """One test message per (route, channel, recipient), through the ledger like any digest. A `per: province`
    route's recipients are those of ``provinces`` (codes such as 410000; Beijing's when none is given): an operator
    mending Henan's mailbox tests Henan's address, which the test always wrote for Beijing."""
    import hashlib
    import json
    import secrets

    from pipelines.alerts.lifecycle import deliver_due
    from pipelines.alerts.store import iso, now_utc
    from pipelines.reference import provinces as province_list

    names = dict(zip(*province_list().select("province_code", "name").get_columns()))
    unknown = [p for p in provinces if p not in names]
    if unknown:
        raise AlertConfigError(
            f"未知的省份代码 {', '.join(unknown)}：请给出六位省级代码，如 410000（河南省） · unknown province "
            f"code(s) {', '.join(unknown)}: give a province's six-digit code, e.g. 410000 (Henan)"
        )
    offices = [(p, names[p]) for p in provinces] or [("110000", names["110000"])]
    routing = load_routing()
    at = now_utc()
    # one invocation's messages: two tests in the same second (the key's time has whole seconds) are two tests
    invocation = secrets.token_hex(8)
    keys = []
    with connect(path) as con:
        for r in routing.routes:
            if route and r.name != route:
                continue
            for channel, templates in r.recipients.items():
                recipients = dict.fromkeys(  # one test per address (a template without the province names one)
                    expand_recipient(tpl, code, name) if r.per_province else tpl
                    for tpl in templates
                    for code, name in (offices if r.per_province else offices[:1])
                )
                for recipient in recipients:
                    key = hashlib.sha256(
                        f"test|{r.name}|{channel}|{recipient}|{iso(at)}|{invocation}".encode()
                    ).hexdigest()[:32]
                    subject, body, html = _test_message(r, channel, key)
                    payload = {
                        "idempotency_key": key,
                        "route": r.name,
                        "recipient": recipient,
                        "test": True,
                        "lang": r.lang,
                        "firing": [],
                        "resolved": [],
                    }
                    con.execute(
                        """INSERT INTO alerts.messages (idempotency_key, run_id, route, channel, recipient, subject,
                           body, payload_json, n_firing, n_resolved, status, attempts, next_retry_at, created_at,
                           html) VALUES (?, 'test', ?, ?, ?, ?, ?, ?, 0, 0, 'pending', 0, ?, ?, ?)""",
                        (
                            key,
                            r.name,
                            channel,
                            recipient,
                            subject,
                            body,
                            json.dumps(payload, ensure_ascii=False),
                            iso(at),
                            iso(at),
                            html,
                        ),
                    )
                    keys.append(key)
    deliver_due(routing, path=path, keys=keys)
    with connect(path) as con:
        marks = ", ".join("?" * len(keys)) or "''"
        return [
            {"route": r[0], "channel": r[1], "recipient": r[2], "status": r[3], "response": r[4], "attempts": r[5]}
            for r in con.execute(
                "SELECT route, channel, recipient, status, last_response, attempts FROM alerts.messages "
                f"WHERE idempotency_key IN ({marks})",
                keys,
            ).fetchall()
        ]


def _test_message(route, channel: str, key: str) -> tuple[str, str, str]:
    """A route test's subject, body and HTML part in the route's language (``lang``), as its digests are written: a
    test that a `lang: en` recipient cannot read in part, or that reads otherwise than what it will receive (a mail
    digest is multipart/alternative, plain text and HTML), tests less than it should."""
    from pipelines.alerts.lifecycle import _html_digest

    subject, body = _test_text(route, channel, key)
    *lines, key_line = body.split("\n")
    langs = [route.lang] if route.lang in ("zh", "en") else ["zh", "en"]
    # the digests' own HTML layout (lifecycle._html_digest), each language's test line where a digest greets
    html = _html_digest(subject, [(lang, []) for lang in langs], dict(zip(langs, ((ln, "") for ln in lines))), key_line)
    return subject, body, html


def _test_text(route, channel: str, key: str) -> tuple[str, str]:
    from pipelines.alerts.lifecycle import STOP_HINT, SUBJECT_PREFIX

    # what the recipient does with it (a digest ends with its next steps): nothing, and whom to ask to stop them
    zh = (
        f"{SUBJECT_PREFIX}测试消息",
        f"测试消息：路由 {route.name}，通道 {channel}。收到即说明此通道可送达，无需处理。{STOP_HINT['zh']}",
        "消息编号",
    )
    en = (
        "IP strong-city monitor: test message",
        f"Test message: route {route.name}, channel {channel}. Its arrival shows the channel reaches you; nothing to "
        f"do. {STOP_HINT['en']}",
        "idempotency key",
    )
    if route.lang in ("zh", "en"):
        subject, line, key_name = zh if route.lang == "zh" else en
        return subject, f"{line}\n{key_name}: {key}"
    return f"{zh[0]} · {en[0]}", f"{zh[1]}\n{en[1]}\n{zh[2]} / {en[2]}: {key}"
