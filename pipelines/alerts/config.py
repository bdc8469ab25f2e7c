"""Alert rules and routing, from versioned YAML; secrets from the environment or files outside the repo."""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
DEFAULT_RULES = HERE / "rules.yaml"
DEFAULT_ROUTING = HERE / "routing.yaml"
CHANNEL_TYPES = {"file", "smtp", "webhook", "dingtalk", "wecom"}
AUDIENCES = {"city", "engineering"}
# Keys that would hold a secret in clear text: refused, so a routing file can never carry one.
SECRET_KEYS = {"password", "secret", "access_token", "key", "token"}
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


@dataclass(frozen=True)
class Route:
    name: str
    audience: str
    recipients: dict[str, list[str]]  # channel name -> recipient templates
    per_province: bool = False
    rules: tuple[str, ...] = ()  # empty = every rule of the audience
    detail: str = "full"  # full: every alert listed; summary: one line per city (national overview)


@dataclass(frozen=True)
class Routing:
    version: str
    channels: dict[str, dict]
    routes: list[Route]
    immediate_attempts: int = 3
    backoff_seconds: tuple[float, ...] = (2, 30, 120, 600, 1800, 3600)
    max_attempts: int = 30
    path: Path = field(default=DEFAULT_ROUTING)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after attempt number `attempt` (1-based) failed."""
        seq = self.backoff_seconds or (60,)
        return float(seq[min(attempt, len(seq)) - 1])


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise AlertConfigError(f"{path}: file not found") from e
    except yaml.YAMLError as e:
        raise AlertConfigError(f"{path}: not valid YAML: {e}") from e
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
    return Rules(version=str(data["version"]), rules=rules, path=path)


def load_routing(path: Path | str | None = None) -> Routing:
    path = Path(path or os.environ.get("IPCITY_ALERT_ROUTING") or DEFAULT_ROUTING)
    data = _read_yaml(path)
    channels = data.get("channels") or {}
    for name, ch in channels.items():
        if not isinstance(ch, dict) or ch.get("type") not in CHANNEL_TYPES:
            raise AlertConfigError(f"{path}: channel {name}: type must be one of {sorted(CHANNEL_TYPES)}")
        clear = SECRET_KEYS & set(ch)
        if clear:
            raise AlertConfigError(
                f"{path}: channel {name}: {sorted(clear)} in clear text; name an environment variable "
                f"({', '.join(k + '_env' for k in sorted(clear))}) or a file outside the repository "
                f"({', '.join(k + '_file' for k in sorted(clear))}) instead"
            )
    routes = []
    for i, r in enumerate(data.get("routes") or []):
        name = r.get("name") or f"route{i + 1}"
        if r.get("audience") not in AUDIENCES:
            raise AlertConfigError(f"{path}: route {name}: audience must be one of {sorted(AUDIENCES)}")
        if r.get("detail", "full") not in ("full", "summary"):
            raise AlertConfigError(f"{path}: route {name}: detail must be full or summary")
        recipients = {}
        for ch, who in (r.get("recipients") or {}).items():
            if ch not in channels:
                raise AlertConfigError(f"{path}: route {name}: unknown channel {ch}")
            who = [who] if isinstance(who, str) else who
            if not isinstance(who, list) or not who or not all(isinstance(w, str) and w.strip() for w in who):
                raise AlertConfigError(
                    f"{path}: route {name}: channel {ch} needs a list of recipients (strings), got {who!r}; "
                    "a province's own address is a template such as ipo-{province_code}@example.cn on a "
                    "`per: province` route"
                )
            for tpl in who:
                _check_template(tpl, per_province=r.get("per") == "province", where=f"{path}: route {name}")
            recipients[ch] = list(who)
        routes.append(
            Route(
                name=name,
                audience=r["audience"],
                recipients=recipients,
                per_province=r.get("per") == "province",
                rules=tuple(r.get("rules") or ()),
                detail=r.get("detail", "full"),
            )
        )
    d = data.get("delivery") or {}
    return Routing(
        version=str(data["version"]),
        channels=channels,
        routes=routes,
        immediate_attempts=int(d.get("immediate_attempts", 3)),
        backoff_seconds=tuple(float(x) for x in d.get("backoff_seconds", (2, 30, 120, 600, 1800, 3600))),
        max_attempts=int(d.get("max_attempts", 30)),
        path=path,
    )


def _check_template(tpl: str, *, per_province: bool, where: str) -> None:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(tpl) if f is not None}
    except ValueError as e:
        raise AlertConfigError(f"{where}: recipient {tpl!r}: {e} (a literal brace is written {{{{ or }}}})") from e
    unknown = fields - RECIPIENT_FIELDS
    if unknown:
        raise AlertConfigError(
            f"{where}: recipient {tpl!r}: unknown placeholder {', '.join('{' + f + '}' for f in sorted(unknown))}; "
            f"use {{province_code}} or {{province_name}}"
        )
    if fields and not per_province:
        # Without `per: province` the digest spans provinces (and engineering alerts have none): the address
        # would come out as "ipo-@...". Refused rather than mailed to nobody.
        raise AlertConfigError(f"{where}: recipient {tpl!r} names the province: only on a route with `per: province`")


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
