"""Who may see what: the one place the dashboard's permission rules live.

Roles (``dashboards.auth.ROLES``):
- national: everything;
- province: its own province's cities — profile, comparison, watchlist, dossiers, extracts — and the national
  rankings and overview as published (other provinces' rows without the internal evaluation detail);
- viewer: the published rankings and the overview only;
- evaluator: the third-party evaluation agency; the published pages only until its upload page exists.

Every data path goes through ``authorize``: page URLs, every Dash callback (``check_callback``, run before Dash
dispatches, so a crafted payload never reaches a query), the download routes and the dossier files. A refusal
raises ``AccessDenied`` after writing an audit row (who, what, when); the app turns it into 403.
The pure helpers (``visible_units``, ``published_rankings``, ``in_scope``) scope data frames for the callbacks.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

import flask
import polars as pl

log = logging.getLogger(__name__)

ALL_ROLES = frozenset({"national", "province", "viewer", "evaluator"})
CITY_ROLES = frozenset({"national", "province"})
NATIONAL = frozenset({"national"})

# Page path -> roles that may open it. A page registered later (another team's) declares ``ROLES`` in its module;
# a page in neither place is for the national office only (deny by default).
PAGE_ROLES: dict[str, frozenset[str]] = {
    "/": ALL_ROLES,
    "/rankings": ALL_ROLES,
    "/compare": CITY_ROLES,
    "/profile": CITY_ROLES,
    "/watchlist": CITY_ROLES,
    "/quality": NATIONAL,
    "/downloads": CITY_ROLES,
    # why a city is flagged: reached from the watchlist and the profile (not the navigation bar), for the same roles;
    # the gate checked only the navigation's pages, so a viewer or evaluator account opened it (round 15)
    "/flag": CITY_ROLES,
}
# Component-id prefix -> page, so a callback is checked against the page that owns its outputs.
ID_PREFIX_PAGE: dict[str, str] = {
    "ov-": "/",
    "rk-": "/rankings",
    "cmp-": "/compare",
    "pf-": "/profile",
    "wl-": "/watchlist",
    "dq-": "/quality",
    "dl-": "/downloads",
}
# Outputs any signed-in user's pages need (header, navigation, footer, Dash's page router).
SHELL_PREFIXES = ("ipc-", "_pages_")
# Inputs whose value may name any province because the view they filter is published (the national rankings).
PUBLISHED_INPUTS = frozenset({"rk-province.value"})
# The same filters as URL query parameters (page, parameter): the rankings page writes its province filter into the
# address (assets/url_state.js), so a provincial office's bookmark or language switch of the national ranking
# filtered to another province carries that province's code and must open as the filter itself does.
PUBLISHED_QUERY_PARAMS = frozenset({("/rankings", "province")})
# Rankings columns that are published for every city; the rest (stage, robustness, rank intervals) is internal
# evaluation detail that only the national office and the city's own province see.
PUBLISHED_RANKING_COLUMNS = (
    "unit_code",
    "unit_name",
    "unit_name_en",
    "province_code",
    "province_name",
    "province_name_en",
    "performance_group",
    "performance_group_all",
    "is_ranked",
    "on_roster",
    "composite",
    "composite_index",
    "score_mgt",
    "score_pro",
    "score_utl",
    "score_qlt",
    "score_env",
    "rank",
    # the rank's tie (并列) is part of the published rank: without it another province's 3rd (tied) read as a plain 3rd
    "rank_is_shared",
    "n_ranked",
    "rank_change",
    "index_change",
)
_CODE = re.compile(r"^\d{6}$")
_DOSSIER = re.compile(r"^(\d{6})_(\d{4})\.(html|md)$")


class AccessDenied(PermissionError):
    """Refused (403); the audit row is already written."""


@dataclass(frozen=True)
class Principal:
    username: str | None
    role: str | None
    province_code: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.username is not None and self.role in ALL_ROLES

    @property
    def is_national(self) -> bool:
        return self.role == "national"

    def province_scope(self) -> frozenset[str] | None:
        """Province codes whose cities this principal may see in detail; None = every province."""
        if self.role == "national":
            return None
        if self.role == "province" and self.province_code:
            return frozenset({self.province_code})
        return frozenset()


ANONYMOUS = Principal(None, None)


def current_principal() -> Principal:
    if not flask.has_request_context():
        return ANONYMOUS
    from flask_login import current_user

    if not current_user or not current_user.is_authenticated:
        return ANONYMOUS
    return Principal(current_user.username, current_user.role, current_user.province_code)


# ---- audit ------------------------------------------------------------------------------------------------------
def audit(principal: Principal, action: str, target: str, outcome: str, detail: str = "") -> None:
    store = flask.current_app.config.get("IPCITY_USER_STORE") if flask.has_app_context() else None
    remote = flask.request.remote_addr if flask.has_request_context() else None
    # %r, not %s: a user name typed at sign-in or a path is data, and a line break in it must not forge a line of
    # the server log (it shows as \n inside the quotes)
    log.warning(
        "access %s: user=%r role=%s action=%s target=%r %r",
        outcome,
        principal.username,
        principal.role,
        action,
        target,
        detail,
    )
    if store is not None:
        try:
            store.audit(principal.username, principal.role, action, target, outcome, remote, detail)
        except Exception:  # the refusal stands even if the log write fails; the server log has the line
            log.exception("audit write failed")


def deny(principal: Principal, action: str, target: str, detail: str = "") -> None:
    audit(principal, action, target, "denied", detail)
    raise AccessDenied(f"{action} {target}")


# ---- rules ------------------------------------------------------------------------------------------------------
def page_roles(path: str) -> frozenset[str]:
    return flask.current_app.config.get("IPCITY_PAGE_ROLES", PAGE_ROLES).get(path, NATIONAL)


def can_open_page(principal: Principal, path: str) -> bool:
    return principal.authenticated and principal.role in page_roles(path)


def may_take_all_provinces(principal: Principal) -> bool:
    """Whether ``principal`` may take what lists every province's cities (the national report): the rule
    ``authorize(..., all_provinces=True)`` enforces, asked without an audit row so a page can leave out a button
    its reader would only be refused at."""
    return principal.authenticated and principal.province_scope() is None


def unit_province(snap, unit_code: str) -> str | None:
    """The province of a unit (or the province itself for a province code); None if unknown."""
    from . import queries

    if not isinstance(unit_code, str) or not _CODE.fullmatch(unit_code):
        return None
    table = snap.cached(
        ("access_unit_province",),
        lambda: snap.query(f"select unit_code, province_code from {queries.DIM}"),
    )
    hit = table.filter(pl.col("unit_code") == unit_code)
    if hit.height:
        return hit["province_code"][0]
    provinces = set(table["province_code"].drop_nulls().to_list())
    return unit_code if unit_code in provinces else None


def in_scope(principal: Principal, snap, code: str) -> bool:
    """Whether ``code`` (a unit or province code) is in the principal's detailed scope."""
    scope = principal.province_scope()
    if scope is None:
        return True
    province = unit_province(snap, code)
    return province is not None and province in scope


def authorize(
    principal: Principal,
    action: str,
    *,
    page: str | None = None,
    unit: str | None = None,
    province: str | None = None,
    all_provinces: bool = False,
    snap=None,
    target: str = "",
) -> None:
    """The single permission check: raises AccessDenied (after an audit row) unless ``principal`` may do it."""
    what = str(target or page or unit or province or ("all provinces" if all_provinces else action))
    if not principal.authenticated:
        deny(principal, action, what, "not signed in")
    if page is not None and not can_open_page(principal, page):
        deny(principal, action, what, f"page {page} not open to role {principal.role}")
    scope = principal.province_scope()
    if all_provinces and not may_take_all_provinces(principal):
        deny(principal, action, what, "all provinces: national office only")
    if province is not None and scope is not None and province not in scope:
        deny(principal, action, what, f"province {province} outside the account's scope")
    if unit is not None and scope is not None and not in_scope(principal, snap, unit):
        deny(principal, action, what, f"unit {unit} outside the account's scope")
    if flask.has_request_context():
        # what was granted, for the audit row of the file this request then takes (web.audit_files)
        flask.g.ipcity_granted_scope = granted_scope(unit, province, all_provinces)


def granted() -> str:
    """What this request's last permission check granted (``granted_scope``), for the audit row of a file taken."""
    return str(flask.g.get("ipcity_granted_scope", "")) if flask.has_request_context() else ""


def granted_scope(unit: str | None, province: str | None, all_provinces: bool) -> str:
    """Whose figures a granted request covers, as the audit log's detail says it: 'province 440000', 'unit 440100
    (province 440000)' (a GB/T 2260 code's first two digits are its province), 'all provinces', or ''."""
    if unit is not None:
        return f"unit {unit} (province {str(unit)[:2]}0000)"
    if province is not None:
        return f"province {province}"
    return "all provinces" if all_provinces else ""


# ---- the Dash callback gate -------------------------------------------------------------------------------------
def _ids(items) -> list[str]:
    out = []
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, dict):
            cid = item.get("id")
            out.append(json.dumps(cid, sort_keys=True) if isinstance(cid, dict) else str(cid))
    return out


def _page_of_output(output_id: str, page_prefixes: dict[str, str]) -> str | None:
    for prefix, page in page_prefixes.items():
        if output_id.startswith(prefix):
            return page
    return None


def _codes_in(value) -> list[str]:
    """Every 6-digit code a callback value carries (strings, lists, comma lists, and numbers: a crafted body may
    send 320100 for '320100', which the callbacks turn back into the code)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        value = str(int(value)) if value == value and value % 1 == 0 and abs(value) < 1e7 else ""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if _CODE.fullmatch(v.strip())]
    if isinstance(value, list | tuple):
        return [c for v in value for c in _codes_in(v)]
    return []


def query_codes(search: str | None, page: str | None) -> list[tuple[str, str]]:
    """(parameter, code) for every unit or province code a page URL's query carries, but those of a published
    filter of that page (``PUBLISHED_QUERY_PARAMS``): the codes the account's scope must cover (pure)."""
    out = []
    for name, vs in parse_qs((search or "").lstrip("?")).items():
        if (page, name) in PUBLISHED_QUERY_PARAMS:
            continue
        out += [(name, c) for v in vs for c in _codes_in(v)]
    return out


def check_page_query(principal: Principal, page: str, search: str | None, snap) -> None:
    """Refuse a page URL whose query names a city or province outside the account's scope (403 with the
    "no access" page): the page would otherwise open with every callback refused, blank and unexplained."""
    from .snapshot import SnapshotUnavailable

    if principal.province_scope() is None:
        return
    for name, code in query_codes(search, page):
        try:
            allowed = in_scope(principal, snap, code)
        except SnapshotUnavailable:
            return  # no snapshot, no data: the page says so, and its callbacks check again
        if not allowed:
            deny(principal, "page", f"{page}?{name}={code}", "code outside the account's scope")


def page_of_pathname(pathname: str, pages) -> str | None:
    """The page a URL path opens, read as Dash reads it: its router strips the slashes around the path before
    it looks the page up, so '/quality/' and '//quality' open '/quality' and must be checked as '/quality'."""
    stripped = pathname.strip("/")
    return next((path for path in pages if path.strip("/") == stripped), None)


def output_ids(output_key: str) -> list[str]:
    """The component ids of a callback's ``output`` string as Dash writes it: 'a.b', '..a.b...c.d..', a
    pattern-matching id's JSON before its property, a duplicate output's '@hash' after it (pure)."""
    return [part.rsplit(".", 1)[0] for part in output_key.strip(".").split("...") if part]


def output_refusal(principal: Principal, output_id: str) -> str | None:
    """Why a callback that updates component ``output_id`` is not for ``principal`` (None: it is). The shell's
    components are every signed-in account's; a page's are the roles' that page is open to; a component no page
    claims is the national office's alone (deny by default). One rule, read by the callback gate
    (``check_callback``) and by the callback list each account is sent (``own_callbacks``)."""
    if not principal.authenticated:
        return "not signed in"
    if output_id.startswith(SHELL_PREFIXES):
        return None
    prefixes = flask.current_app.config.get("IPCITY_ID_PREFIX_PAGE", ID_PREFIX_PAGE)
    page = _page_of_output(output_id, prefixes)
    if page is None:
        return None if principal.is_national else "output not owned by a page open to this role"
    return None if can_open_page(principal, page) else f"page {page} not open to role {principal.role}"


def own_callbacks(principal: Principal, callback_list: list) -> list:
    """The entries of Dash's callback list (``/_dash-dependencies``: every callback's outputs, inputs and states,
    clientside ones too) whose outputs ``principal`` may have updated (``output_refusal``). The renderer needs no
    other: a page closed to the account never draws the components they update. Sent whole, the list named every
    national-only control (the alerts' acknowledge and silence, the simulator's saves, the quality page's run
    picker) and the inputs each takes to every signed-in account: a map of what to forge next."""
    out = []
    for entry in callback_list:
        key = entry.get("output") if isinstance(entry, dict) else None
        ids = output_ids(key) if isinstance(key, str) else []
        if ids and all(output_refusal(principal, i) is None for i in ids):
            out.append(entry)
    return out


def _same_input(declared: dict, sent) -> bool:
    """Whether a body's input or state item is the one the callback declares at that position (id and property;
    a pattern-matching id matches every concrete id whose non-wildcard keys are equal)."""
    wanted_id, prop = declared.get("id"), declared.get("property")
    if isinstance(wanted_id, str) and wanted_id.startswith("{"):
        pattern = json.loads(wanted_id)
        items = sent if isinstance(sent, list) else [sent]
        return all(
            isinstance(it, dict)
            and it.get("property") == prop
            and isinstance(it.get("id"), dict)
            and set(it["id"]) == set(pattern)
            and all(it["id"][k] == v for k, v in pattern.items() if not isinstance(v, list))
            for it in items
        )
    return isinstance(sent, dict) and sent.get("id") == wanted_id and sent.get("property") == prop


def _same_outputs(declared: dict, sent) -> bool:
    """Whether a body's ``outputs`` are the callback's own, by Dash's own check (run before the callback is): Dash
    picks the callback by the ``output`` string and builds the answer from ``outputs``, and refuses a mismatch
    only inside the callback, as an exception: a forged list was a 500 and a traceback in the log."""
    from dash import Output
    from dash._grouping import flatten_grouping
    from dash._validate import validate_output_spec

    output = declared.get("output")
    if declared.get("no_output") or not output:
        return True
    try:
        validate_output_spec(output if isinstance(output, Output) else flatten_grouping(output), sent, Output)
    except Exception:  # noqa: BLE001 - any shape Dash cannot read is not the callback's outputs
        return False
    return True


def _check_declared(principal: Principal, body: dict, declared: dict | None) -> None:
    """Dash passes a body's inputs and states to the callback by POSITION, whatever ids they carry; the checks
    below read the ids. So the ids must be the callback's own, or a foreign unit labelled as a published filter
    (or a closed page's path labelled as anything but the router's location) would reach the callback unchecked."""
    if declared is None or "callback" not in declared:
        # (a clientside callback is in the map too, with no server function: posting its output made Dash raise a
        # KeyError, a 500 and a traceback in the log for every forged request)
        deny(principal, "callback", str(body.get("output"))[:200], "no such callback")
    if not _same_outputs(declared, body.get("outputs")):
        deny(principal, "callback", str(body.get("output"))[:200], "outputs do not match the callback")
    for kind in ("inputs", "state"):
        sent = body.get(kind) or []
        wanted = declared.get(kind) or []
        if not isinstance(sent, list) or len(sent) != len(wanted) or not all(map(_same_input, wanted, sent)):
            deny(principal, "callback", str(body.get("output"))[:200], f"{kind} do not match the callback")


def check_callback(principal: Principal, body: dict, snap, pages: dict[str, str], callbacks: dict) -> None:
    """Refuse a Dash callback request the principal may not make, before Dash runs it.

    The body's inputs and states must be the ones the callback declares (``callbacks``: the app's callback
    map); the page owning the outputs must be open to the role; every unit or province code in the inputs and
    states (and in a page URL's query) must be in the principal's scope, except inputs that filter published views.
    """
    if not isinstance(body, dict):
        deny(principal, "callback", "malformed", "body is not a JSON object")
    # Dash picks the callback by the ``output`` string and fills ``outputs``/``inputs`` from the rest of the body;
    # both are checked, so a body naming a harmless output list cannot run another page's callback.
    output_key = body.get("output")
    outputs = _ids(body.get("outputs"))
    if isinstance(output_key, str):
        outputs += output_ids(output_key)
    if not outputs or not isinstance(output_key, str):
        deny(principal, "callback", "malformed", "no outputs")
    for out in outputs:
        reason = output_refusal(principal, out)
        if reason is not None:
            deny(principal, "callback", out, reason)
    _check_declared(principal, body, callbacks.get(output_key))
    values = []
    items = [
        it
        for item in list(body.get("inputs") or []) + list(body.get("state") or [])
        for it in (item if isinstance(item, list) else [item])  # pattern-matching inputs arrive as lists
        if isinstance(it, dict)
    ]
    # the page the URL opens, whichever order the inputs come in: its published filters may name any province
    url_page = None
    for it in items:
        if f"{it.get('id')}.{it.get('property')}" == "_pages_location.pathname" and isinstance(it.get("value"), str):
            url_page = page_of_pathname(it["value"], pages)
    for it in items:
        key = f"{it.get('id')}.{it.get('property')}"
        value = it.get("value")
        if key == "_pages_location.pathname" and isinstance(value, str):
            page = page_of_pathname(value, pages)
            if page is not None:
                authorize(principal, "page", page=page, target=value)
        if key == "_pages_location.search" and isinstance(value, str):
            values += [(key, c) for _name, c in query_codes(value, url_page)]
            continue
        if key in PUBLISHED_INPUTS:
            continue
        values += [(key, c) for c in _codes_in(value)]
    if principal.province_scope() is None:
        return
    from .snapshot import SnapshotUnavailable

    for key, code in values:
        try:
            allowed = in_scope(principal, snap, code)
        except SnapshotUnavailable:
            # no snapshot (none published yet, or one of another schema version), no data: the callback answers
            # with the pages' own notice, as the national office's does, and every data path checks again (the
            # check's own query raised here: a 500 and a traceback for every provincial callback naming a city)
            return
        if not allowed:
            deny(principal, "callback", f"{key}={code}", "code outside the account's scope")


# ---- data scoping (pure) ----------------------------------------------------------------------------------------
def visible_units(principal: Principal, units: pl.DataFrame) -> pl.DataFrame:
    """The units (rows with ``province_code``) whose detail the principal may see."""
    scope = principal.province_scope()
    if scope is None:
        return units
    return units.filter(pl.col("province_code").is_in(list(scope)))


def visible_codes(principal: Principal, snap) -> frozenset[str] | None:
    """Unit codes the principal may see in detail (None = all)."""
    from . import queries

    if principal.province_scope() is None:
        return None
    return frozenset(visible_units(principal, queries.units(snap))["unit_code"].to_list())


def only_visible(principal: Principal, snap, df: pl.DataFrame | None, column: str = "unit_code"):
    """``df`` restricted to rows of units the principal may see in detail."""
    codes = visible_codes(principal, snap)
    if df is None or codes is None:
        return df
    return df.filter(pl.col(column).is_in(list(codes)))


def published_units(scope: frozenset[str] | None, df: pl.DataFrame) -> pl.DataFrame:
    """The rows (units with ``province_code`` and ``is_ranked``) an account of province ``scope``
    (``Principal.province_scope()``; None = every province) may see figures of: its own province's units and the
    ranked programme units elsewhere. A city outside the programme is published to nobody outside its province;
    the rankings (``published_rankings``) and the overview's map both keep to this one rule, so one page cannot
    show what the other withholds (the map gave every account the index of every other province's city)."""
    if scope is None:
        return df
    return df.filter(pl.col("province_code").is_in(list(scope)) | pl.col("is_ranked").fill_null(False))


def published_rankings(principal: Principal, df: pl.DataFrame) -> pl.DataFrame:
    """The rankings as published for rows outside the principal's scope: programme units only
    (``published_units``), and their internal evaluation columns (stage, robustness, rank intervals) blanked."""
    scope = principal.province_scope()
    if scope is None:
        return df
    own = pl.col("province_code").is_in(list(scope))
    df = published_units(scope, df)
    internal = [c for c in df.columns if c not in PUBLISHED_RANKING_COLUMNS]
    return df.with_columns(
        [pl.when(own).then(pl.col(c)).otherwise(pl.lit(None, df.schema[c])).alias(c) for c in internal]
    )


def parse_dossier_name(filename: str) -> tuple[str, int, str] | None:
    m = _DOSSIER.fullmatch(filename or "")
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None
