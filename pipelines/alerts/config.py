"""Alert rules and routing, from versioned YAML; secrets from the environment or files outside the repo."""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email.utils import getaddresses, parseaddr
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from pipelines.china_time import CHINA_STANDARD_TIME
from pipelines.counts import noun_en

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_RULES = HERE / "rules.yaml"
DEFAULT_ROUTING = HERE / "routing.yaml"
# Dagster ends a sensor tick after 60 s (DEFAULT_SENSOR_GRPC_TIMEOUT) and counts it failed: a delivery tick's budget
# leaves room under it for loading the routing file and writing the ledger.
SENSOR_BUDGET_MAX = 50.0
CHANNEL_TYPES = {"file", "smtp", "webhook", "dingtalk", "wecom"}
# Group robots: a channel is one robot in one group chat, so a route's recipients on it are the members it mentions
# in one message, not several recipients each posted a copy (MENTION_SEPARATOR joins them into one recipient).
ROBOT_TYPES = frozenset({"dingtalk", "wecom"})
MENTION_SEPARATOR = ", "
AUDIENCES = {"city", "engineering"}
# A route's language (`lang`): what its recipients read. Both by default: a Chinese section, then an English one.
LANGUAGES = ("zh", "en", "both")
# Keys that would hold a secret in clear text: refused, so a routing file can never carry one.
SECRET_KEYS = {"password", "secret", "access_token", "key", "token"}
# Hosts a plain-text SMTP login may go to (a relay on this machine): anywhere else a login needs TLS.
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# The From of an smtp channel that names no `sender`: a relay on this machine takes it, one elsewhere seldom does.
SENDER_DEFAULT = "ipcity-monitor@localhost"
# What a recipient template may name: the province of the alert, so only on a `per: province` route.
RECIPIENT_FIELDS = {"province_code", "province_name"}


class AlertConfigError(ValueError):
    """A rules or routing file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Rules:
    version: str
    rules: dict[str, dict]
    path: Path

    def get(self, rule_id: str) -> dict | None:
        r = self.rules.get(rule_id)
        return r if r and r.get("enabled", True) else None

    def severity(self, rule_id: str, stage: str | None = None) -> str:
        sev = (self.rules.get(rule_id) or {}).get("severity", "warning")
        return sev.get(stage, "warning") if isinstance(sev, dict) else sev

    def audience(self, rule_id: str) -> str:
        return (self.rules.get(rule_id) or {}).get("audience", "city")

    def urgent(self, rule_id: str, status: str | None = None) -> bool:
        """Whether an alert of this rule goes out inside the delivery quiet hours (`urgent` in the rules file: true,
        or the statuses that are, as a band of acceptance_band: [title_removed])."""
        u = (self.rules.get(rule_id) or {}).get("urgent", False)
        return status in u if isinstance(u, list) else bool(u)


@dataclass(frozen=True)
class Route:
    name: str
    audience: str
    recipients: dict[str, list[str]]  # channel name -> recipient templates
    per_province: bool = False
    rules: tuple[str, ...] = ()  # empty = every rule of the audience
    detail: str = "full"  # full: every alert listed; summary: one line per city (national overview)
    lang: str = "both"  # the recipients' language: zh, en, or both (a Chinese section, then an English one)
    # who the recipients are (labels.RECIPIENT_ROLES), for the next step a digest words for them: `role` in the file,
    # else engineer for an engineering route, province for a `per: province` route, national otherwise
    role: str = "national"


@dataclass(frozen=True)
class RoutingProblem:
    """An entry of a routing file that was refused (the run reads the rest): which file, entry and line, and why."""

    path: Path
    entry: str  # "route province_office", "channel mail", "delivery" or "file": what was left out
    line: int | None  # 1-based line of the entry in the file, when known
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}, line {self.line}" if self.line else str(self.path)
        return f"{where}: {self.entry}: {self.reason}" if self.entry != "file" else f"{where}: {self.reason}"


@dataclass(frozen=True)
class Routing:
    version: str
    channels: dict[str, dict]
    routes: list[Route]
    immediate_attempts: int = 3
    backoff_seconds: tuple[float, ...] = (2, 30, 120, 600, 1800, 3600)
    max_attempts: int = 30
    # Seconds a pipeline run's alert step spends delivering at most (`delivery.run_budget_seconds`): past it, the
    # digests not yet tried stay due for the delivery sensor, and the run goes on.
    run_budget_seconds: float = 120
    # Seconds one tick of the alert_delivery_sensor spends delivering at most (`delivery.sensor_budget_seconds`):
    # Dagster ends a sensor tick at 60 s (its gRPC timeout) and counts it failed; a slow relay now leaves the
    # digests not yet tried due for the next tick, and an attempt under way is cut at the budget.
    sensor_budget_seconds: float = 40
    # Seconds between tries of a channel whose receiver refused its credentials (`delivery.refusal_retry_seconds`):
    # slow, since only an operator mending the token helps; `ipcity alerts retry --channel` tries at once.
    refusal_retry_seconds: float = 3600
    # Delivery quiet hours in Beijing time (`delivery.quiet_hours: {start: "22:00", end: "07:00"}`; none by default):
    # an office does not want a digest at 03:00 that could as well wait for the morning. Inside them a digest without
    # an urgent alert (rules file `urgent`: a failed run, a title removed) waits for the window's end.
    quiet_hours: tuple[time, time] | None = None
    path: Path = field(default=DEFAULT_ROUTING)
    # What `load_routing(strict=False)` refused. A refused channel's waiting messages are held, not failed; a file
    # that could not be read at all (``readable`` false) sends nothing and leaves every alert pending.
    problems: tuple[RoutingProblem, ...] = ()
    refused_channels: frozenset[str] = frozenset()
    readable: bool = True
    # Entries used as written that will likely not reach people as meant (an smtp channel to a relay off this machine
    # with no `sender`): named where problems are (the CLI, the run's log and metadata), never left out.
    warnings: tuple[RoutingProblem, ...] = ()
    # Where a reader finds every alert (the dashboard's Alerts page): named when a robot's size limit cuts a digest.
    dashboard_url: str = ""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after attempt number `attempt` (1-based) failed."""
        seq = self.backoff_seconds or (60,)
        return float(seq[min(attempt, len(seq)) - 1])

    def quiet_until(self, at: datetime) -> datetime | None:
        """The end of the quiet hours (a UTC instant) when ``at`` falls inside them, else None. The window is read in
        Beijing time (the offices' clock, whatever the server's) and may run past midnight (22:00 to 07:00)."""
        if not self.quiet_hours:
            return None
        start, end = self.quiet_hours
        local = at.astimezone(CHINA_STANDARD_TIME)
        now = local.time().replace(tzinfo=None)
        day = local.date()
        if start < end:
            inside, end_day = start <= now < end, day
        else:  # past midnight: inside from start to 24:00 (ends tomorrow) and from 00:00 to end (ends today)
            inside, end_day = (now >= start or now < end), (day + timedelta(days=1) if now >= start else day)
        if not inside:
            return None
        return datetime.combine(end_day, end, tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)


def yaml_error(e: yaml.YAMLError) -> str:
    """What YAML found wrong and where (line and column), without the copy of the line PyYAML's own text quotes: a
    line it cannot read may be the very one with a secret written in clear (`password: "…` with its quote unclosed),
    and this text reaches the run's log, the step's metadata, the engineers' alert mail and the alert store."""
    parts = []
    for text, mark in (
        (getattr(e, "context", None), getattr(e, "context_mark", None)),
        (getattr(e, "problem", None), getattr(e, "problem_mark", None)),
    ):
        if text:
            parts.append(f"{text} (line {mark.line + 1}, column {mark.column + 1})" if mark else str(text))
    return ": ".join(parts) or type(e).__name__


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise AlertConfigError(f"{path}: file not found") from e
    except yaml.YAMLError as e:
        raise AlertConfigError(f"{path}: not valid YAML: {yaml_error(e)}") from None
    if not isinstance(data, dict) or "version" not in data:
        raise AlertConfigError(f"{path}: expected a mapping with a `version`")
    return data


def load_rules(path: Path | str | None = None) -> Rules:
    path = Path(path or os.environ.get("IPCITY_ALERT_RULES") or DEFAULT_RULES)
    data = _read_yaml(path)
    rules = data.get("rules") or {}
    for rid, r in rules.items():
        if not isinstance(r, dict):
            raise AlertConfigError(f"{path}: rule {rid} must be a mapping")
        if r.get("audience", "city") not in AUDIENCES:
            raise AlertConfigError(f"{path}: rule {rid}: audience must be one of {sorted(AUDIENCES)}")
        urgent = r.get("urgent", False)
        if not (isinstance(urgent, bool) or (isinstance(urgent, list) and all(isinstance(u, str) for u in urgent))):
            # `urgent: title_removed` (no brackets) was read as true: every band of the rule went out in the night
            raise AlertConfigError(
                f"{path}: rule {rid}: urgent must be true, false or a list of statuses such as [title_removed], "
                f"got {urgent!r}"
            )
    return Rules(version=str(data["version"]), rules=rules, path=path)


def load_routing(path: Path | str | None = None, *, strict: bool = True) -> Routing:
    """The routing file. ``strict`` (the CLI: someone is mending the file) raises AlertConfigError at the first bad
    entry. Otherwise (a run's alert step, the sensors) one bad entry never blocks the others: a bad channel or route
    is left out, a bad recipient list leaves out that channel of its route, bad delivery settings fall back to the
    defaults, each noted in ``Routing.problems``; a file that cannot be read at all routes nothing."""
    path = Path(path or os.environ.get("IPCITY_ALERT_ROUTING") or DEFAULT_ROUTING)
    problems: list[RoutingProblem] = []

    def refuse(entry: str, line: int | None, error: AlertConfigError) -> None:
        if strict:
            raise error
        reason = error.reason if isinstance(error, _EntryError) else str(error).removeprefix(f"{path}: ")
        problems.append(RoutingProblem(path, entry, line, reason))

    try:
        data = _read_yaml(path)
    except AlertConfigError as e:
        refuse("file", None, e)
        return Routing(version="", channels={}, routes=[], path=path, problems=tuple(problems), readable=False)
    lines = _entry_lines(path)

    channels: dict[str, dict] = {}
    raw_channels = data.get("channels") or {}
    if not isinstance(raw_channels, dict):
        line = lines.get("channels")
        refuse("channels", line, _EntryError(path, "channels", line, "must be a mapping of channels"))
        raw_channels = {}
    warnings: list[RoutingProblem] = []
    for name, ch in raw_channels.items():
        where = ("channels", str(name))
        try:
            _check_channel(path, str(name), ch, lines.get(where))
            channels[name] = ch
        except _EntryError as e:
            refuse(f"channel {name}", lines.get(where), e)
            continue
        if (
            ch["type"] == "smtp"
            and not (ch.get("starttls") or ch.get("ssl"))
            and str(ch.get("host", "127.0.0.1")) not in LOOPBACK
        ):
            # the digests (which cities fall behind, the offices' addresses) would cross the network in clear text
            warnings.append(
                RoutingProblem(
                    path,
                    f"channel {name}",
                    lines.get(where),
                    f"no TLS: mail to {ch.get('host')} crosses the network in clear text; set `starttls: true` (port "
                    "587 or 25) or `ssl: true` (port 465), with `cafile` for the relay's CA",
                )
            )
        if ch["type"] == "smtp" and not ch.get("sender") and str(ch.get("host", "127.0.0.1")) not in LOOPBACK:
            # the default sender, ipcity-monitor@localhost, is no mailbox: a relay off this machine refuses it (every
            # digest alike) or the offices' servers file the mail as spam, and an answer or a bounce reaches nobody
            warnings.append(
                RoutingProblem(
                    path,
                    f"channel {name}",
                    lines.get(where),
                    f"no `sender`: mail to {ch.get('host')} goes From {SENDER_DEFAULT}, which a relay off this "
                    "machine or the offices' mail servers refuse or file as spam, and no answer or bounce reaches "
                    "anyone; set `sender: 知识产权强市监测 <ipcity@your-domain>` (the mailbox the relay sends as)",
                )
            )
    refused_channels = frozenset(str(n) for n in raw_channels) - set(channels)

    routes = []
    raw_routes = data.get("routes") or []
    if not isinstance(raw_routes, list):
        line = lines.get("routes")
        refuse("routes", line, _EntryError(path, "routes", line, "must be a list of routes"))
        raw_routes = []
    for i, r in enumerate(raw_routes):
        line = lines.get(("routes", i))
        name = (r.get("name") if isinstance(r, dict) else None) or f"route{i + 1}"
        shown = name if _one_line(str(name)) else repr(name)  # the problem's entry names it on one line (refused)
        try:
            route, dropped = _route(path, name, r, channels, refused_channels, line, strict=strict)
        except _EntryError as e:
            refuse(f"route {shown}", line, e)
            continue
        for ch, e in dropped:
            refuse(f"route {shown}, channel {ch}", line, e)
        routes.append(route)

    warnings += _shared_mailboxes(path, routes, channels, lines, raw_routes)

    d = data.get("delivery") or {}
    delivery = {}
    try:
        if not isinstance(d, dict):
            raise ValueError("must be a mapping")
        parsed = {
            "immediate_attempts": int(d.get("immediate_attempts", 3)),
            "backoff_seconds": tuple(float(x) for x in d.get("backoff_seconds", (2, 30, 120, 600, 1800, 3600))),
            "max_attempts": int(d.get("max_attempts", 30)),
            "run_budget_seconds": float(d.get("run_budget_seconds", 120)),
            "sensor_budget_seconds": float(d.get("sensor_budget_seconds", Routing.sensor_budget_seconds)),
            "refusal_retry_seconds": float(d.get("refusal_retry_seconds", Routing.refusal_retry_seconds)),
        }
        parsed["quiet_hours"] = _quiet_hours(d.get("quiet_hours"))
        if parsed["refusal_retry_seconds"] <= 0:
            raise ValueError("refusal_retry_seconds must be more than 0")
        if parsed["run_budget_seconds"] <= 0:
            raise ValueError("run_budget_seconds must be more than 0")
        if not 0 < parsed["sensor_budget_seconds"] <= SENSOR_BUDGET_MAX:
            raise ValueError(
                f"sensor_budget_seconds must be more than 0 and at most {SENSOR_BUDGET_MAX:g} (Dagster ends a sensor "
                "tick at 60 s)"
            )
        delivery = parsed  # all or nothing: a refused value is not used (the defaults are, as the problem says)
    except (TypeError, ValueError) as e:
        refuse(
            "delivery",
            lines.get("delivery"),
            _EntryError(path, "delivery", lines.get("delivery"), f"{e}; the default attempts and backoff are used"),
        )
    dashboard_url = data.get("dashboard_url") or ""
    if dashboard_url and not (isinstance(dashboard_url, str) and urlsplit(dashboard_url).scheme in ("http", "https")):
        line = lines.get("dashboard_url")
        refuse(
            "dashboard_url",
            line,
            _EntryError(path, "dashboard_url", line, f"must be an http(s) address, got {dashboard_url!r}; left out"),
        )
        dashboard_url = ""
    return Routing(
        version=str(data["version"]),
        dashboard_url=dashboard_url,
        channels=channels,
        routes=routes,
        path=path,
        problems=tuple(problems),
        refused_channels=refused_channels,
        warnings=tuple(warnings),
        **delivery,
    )


def _shared_mailboxes(path: Path, routes: list, channels: dict, lines: dict, raw_routes) -> list[RoutingProblem]:
    """One mailbox on two routes gets each route's digest: two mails the same day, the alerts both routes take told
    twice. The routes may mean it (another language, the full list beside a summary), so it is a warning naming the
    mailbox and the routes, not a refusal."""
    index = {
        (r.get("name") if isinstance(r, dict) else None) or f"route{i + 1}": i
        for i, r in enumerate(raw_routes if isinstance(raw_routes, list) else [])
    }
    seen: dict[str, list[str]] = {}
    for route in routes:
        for ch, templates in route.recipients.items():
            if channels.get(ch, {}).get("type") not in ("smtp", "file"):
                continue
            for tpl in templates:
                mailbox = (parseaddr(_sample(tpl))[1] or tpl).strip().lower()
                names = seen.setdefault(mailbox, [])
                if route.name not in names:
                    names.append(route.name)
    out = []
    for mailbox, names in seen.items():
        if len(names) > 1:
            out.append(
                RoutingProblem(
                    path,
                    f"route {names[-1]}",
                    lines.get(("routes", index.get(names[-1]))),
                    f"mailbox {mailbox} is also on {noun_en(len(names) - 1, 'route')} {', '.join(names[:-1])}: it gets each "
                    "route's digest, "
                    "the alerts both routes take twice; keep it on one route unless both digests are meant",
                )
            )
    return out


def _clock(name: str, value) -> time:
    """A quiet-hours bound: "HH:MM" (Beijing time). PyYAML reads an unquoted 22:00 as the number 1320 (YAML 1.1's
    base 60), so such a number is read back as hours and minutes; a bare small number (22, meaning an hour?) is
    refused rather than read as 00:22."""
    if isinstance(value, int) and not isinstance(value, bool) and 60 <= value < 24 * 60:
        return time(value // 60, value % 60)
    if isinstance(value, str) and re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    raise ValueError(f'quiet_hours {name} must be a Beijing time "HH:MM" in quotes (e.g. "22:00"), got {value!r}')


def _quiet_hours(value) -> tuple[time, time] | None:
    """`delivery.quiet_hours`: {start, end} in Beijing time, or nothing (no quiet hours, the default)."""
    if value in (None, False, {}):
        return None
    if not isinstance(value, dict) or set(value) - {"start", "end"} or not {"start", "end"} <= set(value):
        raise ValueError(
            f'quiet_hours must be a mapping {{start: "HH:MM", end: "HH:MM"}} (Beijing time), got {value!r}'
        )
    start, end = _clock("start", value["start"]), _clock("end", value["end"])
    if start == end:
        raise ValueError(f"quiet_hours start and end must differ, both {start:%H:%M}")
    return start, end


class _EntryError(AlertConfigError):
    """One entry of a routing file refused; the message names the file, the line, the entry and the reason."""

    def __init__(self, path: Path, entry: str, line: int | None, reason: str):
        self.reason = reason
        super().__init__(str(RoutingProblem(path, entry, line, reason)))


def _entry_lines(path: Path) -> dict:
    """1-based line of each top-level key, each channel (("channels", name)) and each route (("routes", i)) of a
    YAML file that has already parsed: what a message points the engineer at."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    out: dict = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    for key, value in root.value:
        out[key.value] = key.start_mark.line + 1
        if key.value == "channels" and isinstance(value, yaml.MappingNode):
            out.update({("channels", k.value): k.start_mark.line + 1 for k, _ in value.value})
        if key.value == "routes" and isinstance(value, yaml.SequenceNode):
            out.update({("routes", i): item.start_mark.line + 1 for i, item in enumerate(value.value)})
    return out


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_channel(path: Path, name: str, ch, line: int | None) -> None:
    entry = f"channel {name}"
    if not isinstance(ch, dict) or ch.get("type") not in CHANNEL_TYPES:
        raise _EntryError(path, entry, line, f"type must be one of {sorted(CHANNEL_TYPES)}")
    if ch["type"] == "smtp" and ch.get("starttls") and ch.get("ssl"):
        raise _EntryError(
            path,
            entry,
            line,
            "`ssl: true` (TLS from the start, port 465) and `starttls: true` (plain text, then STARTTLS, port 587 or "
            "25) exclude each other: keep the one the relay's port speaks",
        )
    if ch["type"] == "smtp" and ch.get("username") and not (ch.get("starttls") or ch.get("ssl")):
        if str(ch.get("host", "127.0.0.1")) not in LOOPBACK:
            raise _EntryError(
                path,
                entry,
                line,
                f"a login (username {ch['username']!r}) to {ch.get('host')} without TLS would send the password in "
                "clear over the network; set `starttls: true` (port 587) or `ssl: true` (port 465)",
            )
    for key in ("timeout", "session_timeout"):
        # a number of seconds: "60s" failed every attempt on the channel (a ValueError in the ledger, thirty times)
        value = ch.get(key)
        if key in ch and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600):
            raise _EntryError(
                path, entry, line, f"`{key}` is a number of seconds (more than 0, at most 3600), got {value!r}"
            )
    if "bounce_maildir" in ch and not (ch["type"] == "smtp" and isinstance(ch["bounce_maildir"], str)):
        raise _EntryError(
            path,
            entry,
            line,
            "`bounce_maildir` is an smtp channel's setting: the path of the sender mailbox's Maildir folder (where "
            "the mail server delivers the bounces), as text",
        )
    for key in ("sender", "username", "host"):
        if ch["type"] == "smtp" and key in ch and not _one_line(ch[key]):
            raise _EntryError(
                path,
                entry,
                line,
                f"`{key}` must be one line of text (it goes into the mail's headers), got {ch[key]!r}",
            )
    if "reply_to" in ch:
        # one mailbox, with or without a name, on one line: it becomes the mail's Reply-To and its unsubscribe address
        value = ch["reply_to"]
        address = parseaddr(value)[1] if isinstance(value, str) and _one_line(value) else ""
        if ch["type"] not in ("smtp", "file") or "@" not in address or "," in value or " " in address:
            raise _EntryError(
                path,
                entry,
                line,
                f"`reply_to` is a mail channel's one mailbox (whom a recipient's answer reaches, e.g. "
                f"'监测平台运维 <ops@example.gov.cn>'), on one line, got {value!r}",
            )
    named = [(k, v) for k, v in ch.items() if str(k).endswith("_env")]
    if isinstance(ch.get("headers_env"), dict):
        named = [(k, v) for k, v in named if k != "headers_env"]
        named += [(f"headers_env: {h}", v) for h, v in ch["headers_env"].items()]
    for key, value in named:
        # the name of a variable, not the secret itself: a password written in `password_env` was quoted, as "the
        # variable" to set, into the ledger, the CLI and the engineers' alerts (it is never repeated here). A name
        # no shell writes (a hyphen, a dot) is taken when the environment holds it: a deployment that set it by
        # systemd or a container keeps its channel.
        if not (isinstance(value, str) and (_ENV_NAME.fullmatch(value) or value in os.environ)):
            raise _EntryError(
                path,
                entry,
                line,
                f"`{key}` names an environment variable (letters, digits and _, not starting with a digit), not the "
                "secret itself: put the value in the deployment's environment and its name here",
            )
    if ch["type"] == "webhook":
        _check_webhook(path, entry, line, ch)
    clear = SECRET_KEYS & set(ch)
    if clear:
        raise _EntryError(
            path,
            entry,
            line,
            f"{sorted(clear)} in clear text; name an environment variable "
            f"({', '.join(k + '_env' for k in sorted(clear))}) or a file outside the repository "
            f"({', '.join(k + '_file' for k in sorted(clear))}) instead",
        )


# Header and query-parameter names that carry a credential: never in clear text in a routing file.
_SECRETISH = re.compile(r"auth|token|secret|key|sign|password|cookie|session", re.IGNORECASE)


def _check_webhook(path: Path, entry: str, line: int | None, ch: dict) -> None:
    """A webhook's credentials come from the environment or a file outside the repository, as a channel's secrets
    do: a header such as Authorization is named in `headers_env` (header: variable), and a URL with a token in its
    query is given whole by `url_env` / `url_file`."""
    if not (ch.get("url") or ch.get("url_env") or ch.get("url_file")):
        raise _EntryError(path, entry, line, "a webhook needs `url` (or `url_env` / `url_file`)")
    headers = ch.get("headers") or {}
    if not isinstance(headers, dict) or not isinstance(ch.get("headers_env") or {}, dict):
        raise _EntryError(path, entry, line, "`headers` and `headers_env` map a header's name to a value / a variable")
    clear = sorted(str(h) for h in headers if _SECRETISH.search(str(h)))
    if clear:
        raise _EntryError(
            path,
            entry,
            line,
            f"header(s) {clear} in clear text; name an environment variable for each instead, e.g. "
            f"headers_env: {{{clear[0]}: IPCITY_HOOK_{re.sub(r'[^A-Za-z0-9]', '_', clear[0]).upper()}}}",
        )
    query = parse_qs(urlsplit(str(ch.get("url") or "")).query)
    clear = sorted(k for k in query if _SECRETISH.search(k))
    if clear:
        raise _EntryError(
            path,
            entry,
            line,
            f"the url carries {clear} in its query in clear text; give the whole url by an environment variable "
            "(url_env) or a file outside the repository (url_file)",
        )


def _route(
    path: Path, name: str, r, channels: dict, refused_channels: frozenset[str], line: int | None, *, strict: bool
) -> tuple[Route, list[tuple[str, _EntryError]]]:
    """One route, and the channels of it left out (each with its error: the route's other channels are used). Raises _EntryError for a route that
    cannot be used at all: not a mapping, a bad audience or detail, no usable recipients."""
    entry = f"route {name}" if _one_line(str(name)) else f"route {name!r}"
    if not isinstance(r, dict):
        raise _EntryError(path, entry, line, f"expected a mapping with audience and recipients, got {r!r}")
    if not _one_line(str(name)):
        # the route's name is a header of each digest (X-Ipcity-Route) and a field of its payload: a line break in it
        # failed every digest of the route on the channel, and held the channel's other digests back with it
        raise _EntryError(path, entry, line, f"the route's name must be one line of printable text, got {name!r}")
    if r.get("audience") not in AUDIENCES:
        raise _EntryError(path, entry, line, f"audience must be one of {sorted(AUDIENCES)}")
    if r.get("detail", "full") not in ("full", "summary"):
        raise _EntryError(path, entry, line, "detail must be full or summary")
    if r.get("lang", "both") not in LANGUAGES:
        raise _EntryError(path, entry, line, f"lang must be one of {', '.join(LANGUAGES)}, got {r.get('lang')!r}")
    role = r.get("role") or _default_role(r)
    allowed = ROLES_OF_AUDIENCE[r["audience"]]
    if role not in allowed:
        raise _EntryError(
            path, entry, line, f"role must be one of {', '.join(allowed)} for audience {r['audience']}, got {role!r}"
        )
    given = r.get("recipients") or {}
    if not isinstance(given, dict):
        raise _EntryError(path, entry, line, f"recipients must map a channel to a list of recipients, got {given!r}")
    recipients, dropped = {}, []
    for ch, who in given.items():
        try:
            good, bad = _recipients(path, entry, line, ch, who, channels, refused_channels, r.get("per"))
        except _EntryError as e:
            if strict:
                raise
            dropped.append((ch, e))
            continue
        # One bad address among good ones leaves out that address alone (named in the problems, so the engineers
        # hear of it): it dropped the channel of the route, and every good address on it was sent nothing.
        if bad and strict:
            raise bad[0][1]
        # each its own entry: two bad addresses are two problems (and two engineering alerts), not one
        dropped += [(f"{ch}, recipient {tpl}", e) for tpl, e in bad]
        if good and channels[ch].get("type") in ROBOT_TYPES:
            # one robot, one group chat: each mention posted its own copy of every digest into the same group; the
            # group now gets one message naming (DingTalk: @-mentioning) every member the route lists
            good = [MENTION_SEPARATOR.join(dict.fromkeys(good))]
        if good:
            recipients[ch] = good
    if given and not recipients:
        raise _EntryError(path, entry, line, "; ".join(e.reason for _, e in dropped) + " (no usable recipients left)")
    return (
        Route(
            name=name,
            audience=r["audience"],
            recipients=recipients,
            per_province=r.get("per") == "province",
            rules=tuple(r.get("rules") or ()),
            detail=r.get("detail", "full"),
            lang=r.get("lang", "both"),
            role=role,
        ),
        dropped,
    )


# The recipient roles (labels.RECIPIENT_ROLES) a route of each audience may name: city alerts go to the offices,
# engineering alerts to the data engineers.
ROLES_OF_AUDIENCE = {"city": ("national", "province"), "engineering": ("engineer",)}


def _one_line(value) -> bool:
    """Text a header can carry as written: printable, no line break or other control character."""
    return isinstance(value, str) and value.isprintable()


def _default_role(r: dict) -> str:
    """A route's role when the file names none: what its audience and `per` say of its recipients."""
    if r.get("audience") == "engineering":
        return "engineer"
    return "province" if r.get("per") == "province" else "national"


def _recipients(
    path, entry, line, ch, who, channels, refused_channels, per
) -> tuple[list[str], list[tuple[str, _EntryError]]]:
    """A route's recipients on one channel, checked: the usable ones, and an error for each one left out. Raises
    _EntryError when the channel cannot be used at all (unknown or refused, no list)."""
    if ch in refused_channels:
        raise _EntryError(
            path, entry, line, f"channel {ch} was refused (see its own message): its recipients get nothing"
        )
    if ch not in channels:
        raise _EntryError(path, entry, line, f"unknown channel {ch}")
    who = [who] if isinstance(who, str) else who
    if not isinstance(who, list) or not who or not all(isinstance(w, str) and w.strip() for w in who):
        raise _EntryError(
            path,
            entry,
            line,
            f"channel {ch} needs a list of recipients (strings), got {who!r}; a province's own address is a "
            "template such as ipo-{province_code}@example.cn on a `per: province` route",
        )
    good, bad = [], []
    mailboxes: dict[str, str] = {}  # the bare address, lower case, of each mail recipient kept: the first entry
    for tpl in who:
        problem = _template_problem(tpl, per_province=per == "province")
        if not problem and channels[ch].get("type") == "smtp":
            problem = _mailbox_problem(tpl)
        if not problem and channels[ch].get("type") in ("smtp", "file"):
            # one mailbox written twice ("ops@x.cn", "OPS@x.cn", "运维 <ops@x.cn>") was three recipients, each sent
            # its own copy of every digest: the later entry is left out, named (a mail's domain and, in practice,
            # its mailbox name are read without regard to case)
            mailbox = (parseaddr(_sample(tpl))[1] or tpl).strip().lower()
            if mailbox in mailboxes:
                problem = (
                    f"recipient {tpl!r} is the mailbox of {mailboxes[mailbox]!r}, already on channel {ch} of this "
                    "route: one mailbox gets one digest (this entry is left out)"
                )
            else:
                mailboxes[mailbox] = tpl
        if problem:
            bad.append((tpl, _EntryError(path, entry, line, problem)))
        else:
            good.append(tpl)
    if not good:
        raise bad[0][1] if len(bad) == 1 else _EntryError(path, entry, line, "; ".join(e.reason for _, e in bad))
    return good, bad


def _sample(tpl: str) -> str:
    """A recipient template as one province's address reads (a checked template: its placeholders are known)."""
    return tpl.format(province_code="410000", province_name="河南省")


def _mailbox_problem(tpl: str) -> str | None:
    """A mail recipient must be one mailbox: "a@x.cn, b@x.cn" in one item would name both in the To header while
    only the first is sent it (the envelope takes one address), and a bare name reaches nobody."""
    found = [addr for _, addr in getaddresses([_sample(tpl)]) if addr]
    local, _, domain = found[0].rpartition("@") if len(found) == 1 else ("", "", "")
    if not local or not domain or "@" in local:
        return (
            f"recipient {tpl!r} must be one e-mail address (optionally with a name: 国家知识产权局 <x@cnipa.gov.cn>); "
            "list each address as its own item"
        )
    return None


def _template_problem(tpl: str, *, per_province: bool) -> str | None:
    """What is wrong with a recipient template, or None."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(tpl) if f is not None}
    except ValueError as e:
        return f"recipient {tpl!r}: {e} (a literal brace is written {{{{ or }}}})"
    unknown = fields - RECIPIENT_FIELDS
    if unknown:
        return (
            f"recipient {tpl!r}: unknown placeholder {', '.join('{' + f + '}' for f in sorted(unknown))}; "
            f"use {{province_code}} or {{province_name}}"
        )
    if fields and not per_province:
        # Without `per: province` the digest spans provinces (and engineering alerts have none): the address
        # would come out as "ipo-@...". Refused rather than mailed to nobody.
        return f"recipient {tpl!r} names the province: only on a route with `per: province`"
    return None


def expand_recipient(template: str, province_code: str | None, province_name: str | None) -> str:
    """A recipient of a route for one province (the template was checked when the routing file was read)."""
    return template.format(province_code=province_code or "", province_name=province_name or "")


def secret(channel: dict, key: str, *, required: bool = True) -> str | None:
    """A channel secret from `<key>_env` (environment variable) or `<key>_file` (a file outside the repo)."""
    env = channel.get(f"{key}_env")
    if env and os.environ.get(env):
        return os.environ[env]
    file = channel.get(f"{key}_file")
    if file:
        p = Path(os.path.expanduser(file)).resolve()
        if p.is_relative_to(REPO_ROOT):
            raise AlertConfigError(f"secret {key}: {p} is inside the repository; keep secret files outside it")
        if p.exists():
            return p.read_text(encoding="utf-8").strip()
    if required and (env or file):
        raise AlertConfigError(f"secret {key}: set the environment variable {env or ''} or the file {file or ''}")
    return None
