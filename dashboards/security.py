"""Hardening helpers shared by every route and export: request parameters, file-name headers, spreadsheet text,
redirect targets and the security headers (Content-Security-Policy through flask-talisman).

Each helper is pure and small so the attack tests can pin it down; the routes in ``dashboards.app`` only call them.
"""

from __future__ import annotations

import inspect
import json
import re
from urllib.parse import parse_qsl, quote, urlsplit

import polars as pl

# ---- request size ---------------------------------------------------------------------------------------------
# Dash callback bodies are a few kB (ids, values, states); 1 MiB leaves room and stops memory-filling posts.
MAX_CONTENT_LENGTH = 1024 * 1024
MAX_FORM_MEMORY_SIZE = 64 * 1024
# A page or download URL never needs more; longer ones are refused before any parsing (gunicorn's own
# request-line limit, 4094 bytes, is set in ``dashboards.serving`` as the outer fence).
MAX_QUERY_STRING = 2048
MAX_PATH = 1024
MAX_PARAM = 64


class BadParameter(ValueError):
    """A malformed request parameter (400, with the reason shown to the caller)."""


class NotFound(LookupError):
    """A well-formed parameter naming something that does not exist (404)."""


_PRINTABLE = re.compile(r"^[\x21-\x7e]*$")
_YEAR = re.compile(r"^\d{4}$")
_PROVINCE = re.compile(r"^(\d{2})(0000)?$")
_UNIT = re.compile(r"^\d{6}$")


def _plain(name: str, value: str | None) -> str | None:
    """The parameter if present and plain ASCII of sane length; BadParameter otherwise."""
    if value is None:
        return None
    if len(value) > MAX_PARAM:
        raise BadParameter(f"{name}: too long")
    if not _PRINTABLE.fullmatch(value):
        raise BadParameter(f"{name}: only ASCII letters and digits are accepted")
    return value


def parse_year(value: str | None, known: list[int] | None = None) -> int:
    """A four-digit year; NotFound when ``known`` is given and does not hold it."""
    value = _plain("year", value)
    if not value:
        raise BadParameter("year: required")
    if not _YEAR.fullmatch(value):
        raise BadParameter("year: expected four digits, e.g. 2025")
    year = int(value)
    if known is not None and year not in known:
        raise NotFound(f"year {year}: no data for this year")
    return year


def normalise_province(value: str | None) -> str | None:
    """'44' or '440000' → '440000'; None/'' → None; anything else BadParameter."""
    value = _plain("province", value)
    if not value:
        return None
    m = _PROVINCE.fullmatch(value)
    if not m:
        raise BadParameter("province: expected a two-digit or six-digit province code, e.g. 44 or 440000")
    return m.group(1) + "0000"


def parse_province(value: str | None, known: list[str] | None = None) -> str | None:
    code = normalise_province(value)
    if code is not None and known is not None and code not in known:
        raise NotFound(f"province {code}: unknown province")
    return code


def parse_choice(name: str, value: str | None, choices, default: str | None = None) -> str:
    value = _plain(name, value)
    if not value:
        if default is None:
            raise BadParameter(f"{name}: required")
        return default
    if value not in choices:
        raise BadParameter(f"{name}: one of {', '.join(choices)}")
    return value


def is_unit_code(value) -> bool:
    return isinstance(value, str) and bool(_UNIT.fullmatch(value))


# ---- Dash callback values ---------------------------------------------------------------------------------------
# Dash hands a callback whatever JSON the request carries: a list where the page sends a string, a dict for a year,
# a 5,000-character "unit". The callbacks index, hash and int() what their components send, so every such forged
# value used to end in a 500 and a traceback in the log. Each value a callback reads is checked here against the
# shape its component can produce, before Dash runs the callback (the gate, after the permission check); a value
# of another shape is a 400 naming the input. Unknown inputs are refused too: a new callback declares its values.
MAX_TEXT = 256  # a dropdown value, a code, a scenario name (the input's own maxLength is 100)
MAX_ITEMS = 100_000  # rows of a grid the page holds (virtualRowData of the full rankings: ~3,000)


def _int(v) -> bool:
    # JavaScript's safe integers: what a browser can send, and what the JSON encoder can send back (2**70 + 1 from
    # a counter was a 500)
    return isinstance(v, int) and not isinstance(v, bool) and abs(v) <= 2**53


def _short_text(v) -> bool:
    return isinstance(v, str) and len(v) <= MAX_TEXT


def year_value(v) -> bool:
    """A year dropdown's value: four digits, as a number or as text."""
    return (_int(v) and 1000 <= v <= 9999) or (isinstance(v, str) and bool(_YEAR.fullmatch(v)))


def clicks_value(v) -> bool:
    """A button's n_clicks (None before the first click)."""
    return v is None or (_int(v) and v >= 0)


def count_value(v) -> bool:
    return v is None or (_int(v) and v >= 0)


def text_value(v) -> bool:
    """A dropdown, radio or text input's value, a language, a code: text or nothing."""
    return v is None or _short_text(v)


def search_value(v) -> bool:
    """The page URL's query (dcc.Location's search): no longer than the gate allows, each name once (the pages'
    links write each once, assets/url_state.js; a page opened with one twice is refused by the gate, see
    ``check_query``)."""
    if v is None:
        return True
    if not isinstance(v, str) or len(v) > MAX_QUERY_STRING + 1:
        return False
    names = [name for name, _ in parse_qsl(v.lstrip("?"), keep_blank_values=True)]
    return len(names) == len(set(names))


def path_value(v) -> bool:
    """The page's URL path (dcc.Location's pathname): Dash's router fails on anything not starting with '/'."""
    return v is None or (isinstance(v, str) and v.startswith("/") and len(v) <= MAX_PATH)


def lang_value(v) -> bool:
    """A page's language store: the two languages the pages are written in."""
    return v in (None, "zh", "en")


def code_value(v) -> bool:
    """A unit picker's value: a six-digit code, or nothing chosen."""
    return v in (None, "") or is_unit_code(v)


def codes_value(v) -> bool:
    """A multi-unit picker's value: six-digit codes."""
    return v is None or (isinstance(v, list) and len(v) <= MAX_TEXT and all(map(is_unit_code, v)))


_TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def token_value(v) -> bool:
    """An identifier from the data chosen in a dropdown (indicator code, run id, plan id, scenario id)."""
    return v in (None, "") or (isinstance(v, str) and bool(_TOKEN.fullmatch(v)))


def choice_value(*choices: str):
    """A radio or dropdown with a fixed list of options."""

    def check(v) -> bool:
        return v is None or v in choices

    check.__name__ = f"one of {', '.join(choices)}"
    return check


def scalar_value(v) -> bool:
    """A value that may be a number or text (a period, a rule parameter)."""
    return v is None or _short_text(v) or _int(v) or (isinstance(v, float) and abs(v) <= 1e300)


def texts_value(v) -> bool:
    """A multi-select's value (or its comma-joined form in a URL): texts."""
    return v is None or _short_text(v) or (isinstance(v, list) and len(v) <= MAX_TEXT and all(map(_short_text, v)))


def scalars_value(v) -> bool:
    return scalar_value(v) or (isinstance(v, list) and len(v) <= MAX_TEXT and all(map(scalar_value, v)))


def record_value(v) -> bool:
    """A grid event (cellClicked) or a store's object."""
    return v is None or isinstance(v, dict)


def records_value(v) -> bool:
    """A grid's rows (rowData, virtualRowData, selectedRows)."""
    return v is None or (isinstance(v, list) and len(v) <= MAX_ITEMS and all(isinstance(r, dict) for r in v))


def number_value(v) -> bool:
    """A number input's value (dcc.Input type="number"): a finite number, or nothing typed. The browser sends a
    number; text ("abc", which the simulator's weights took to float()) is forged."""
    return v is None or _int(v) or (isinstance(v, float) and abs(v) <= 1e300)


def _id_part(v) -> bool:
    return _short_text(v) or _int(v) or isinstance(v, bool) or (isinstance(v, float) and abs(v) <= 1e300)


def pattern_id_value(v) -> bool:
    """The ``id`` of a pattern-matching component: its id object, as Dash lays one out (named parts, each a text,
    a number or a boolean). A list or an object in a part (``{"type": "sim-rule", "key": ["x"]}``) is no id a page
    lays out; the simulator used the part as a dict key and answered such a forged id with a 500."""
    return isinstance(v, dict) and bool(v) and all(isinstance(k, str) and _id_part(x) for k, x in v.items())


# "component.property" -> the shape its value must have. Pattern-matching components by their id's "type". The
# values of the callbacks whose answers are stored (dashboards.payloads) are held to their real domain: any other
# language or map mode string was answered in full and stored as one more payload, a disk-filling lever for any
# signed-in account.
CALLBACK_VALUES = {
    "_pages_location.pathname": path_value,
    "_pages_location.search": search_value,
    "_pages_store.data": record_value,
    # overview
    "ov-year.value": year_value,
    "ov-map-mode.value": choice_value("group", "index"),
    "ov-lang.data": lang_value,
    # rankings
    "rk-year.value": year_value,
    "rk-province.value": text_value,
    "rk-group.value": text_value,
    "rk-stage.value": text_value,
    "rk-programme.value": texts_value,
    "rk-grid.virtualRowData": records_value,
    "rk-total.data": count_value,
    "rk-lang.data": lang_value,
    # compare
    "cmp-year.value": year_value,
    "cmp-units.value": codes_value,
    "cmp-indicator.value": token_value,
    "cmp-lang.data": lang_value,
    # profile
    "pf-unit.value": code_value,
    "pf-lang.data": lang_value,
    "pf-value-grid.cellClicked": record_value,
    "pf-value-grid.rowData": records_value,
    # watchlist, targets, quality
    "wl-year.value": year_value,
    "wl-lang.data": lang_value,
    "tg-plan.value": token_value,
    "tg-lang.data": lang_value,
    "dq-run.value": token_value,
    "dq-lang.data": lang_value,
    # alerts
    "al-state.value": text_value,
    "al-city.value": text_value,
    "al-refresh.data": count_value,
    "al-lang.data": lang_value,
    "al-ack.n_clicks": clicks_value,
    "al-silence.n_clicks": clicks_value,
    "al-grid.selectedRows": records_value,
    "al-period.value": text_value,
    # downloads
    "dl-year.value": year_value,
    "dl-province.value": text_value,
    "dl-format.value": text_value,
    "dl-lang.data": lang_value,
    "dl-button.n_clicks": clicks_value,
    # programmes, provinces
    "pg-ambition-csv.n_clicks": clicks_value,
    "pg-ambition-xlsx.n_clicks": clicks_value,
    "pg-lang.data": lang_value,
    "pv-level.value": text_value,
    "pv-period.value": scalar_value,
    "pv-lang.data": lang_value,
    # simulator
    "sim-run.n_clicks": clicks_value,
    "sim-save.n_clicks": clicks_value,
    "sim-open.n_clicks": clicks_value,
    "sim-compare.n_clicks": clicks_value,
    "sim-export-csv.n_clicks": clicks_value,
    "sim-export-xlsx.n_clicks": clicks_value,
    "sim-name.value": text_value,
    "sim-saved.value": text_value,
    "sim-compare-with.value": text_value,
    "sim-result.data": record_value,
    "sim-rule.value": scalars_value,
    "sim-rule.id": pattern_id_value,
    "sim-weight.value": number_value,
    "sim-weight.id": pattern_id_value,
    "sim-lang.data": lang_value,
}


# A callback body is a few levels deep (body → inputs → a grid's rows → a row → a value); a body nested deeper is
# forged, and walking it (the JSON decoder, the code scan, Dash itself) ran out of Python's recursion: a 500.
MAX_JSON_DEPTH = 32
_KEEP_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')


def json_body_utf8(raw: bytes) -> bytes:
    """``raw`` as the UTF-8 text the JSON decoder reads: Python's ``json.loads`` (and Flask's ``get_json`` through
    it) takes bytes in UTF-8, UTF-16 or UTF-32, told apart by a byte-order mark or the zero bytes of the first
    characters (``json.detect_encoding``). Measured as bytes, a UTF-16 body hid its nesting (a zero byte sits
    between a backslash and the quote it escapes, so an escaped quote read as the end of a string): 5,000 levels
    measured 4 and reached the decoder, a RecursionError and a 500 with a traceback."""
    encoding = json.detect_encoding(raw)
    if encoding in ("utf-8", "utf-8-sig"):
        return raw
    return raw.decode(encoding, "replace").encode("utf-8")


def json_depth(raw: bytes) -> int:
    """How deep a JSON text nests, read from its bytes (so a forged body is measured before anything walks it),
    in the encoding the decoder will read them in (``json_body_utf8``): escaped backslashes and quotes dropped,
    then everything but brackets and quotes, then the strings (every other piece between quotes). All at C speed
    but the last step, one per bracket outside strings."""
    raw = json_body_utf8(raw)
    structure = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _KEEP_STRUCTURE)
    depth = deepest = 0
    for c in b"".join(structure.split(b'"')[::2]):
        depth += 1 if c in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def callback_value_key(item: dict) -> str:
    cid = item.get("id")
    if isinstance(cid, dict):
        cid = cid.get("type")
    return f"{cid}.{item.get('property')}"


def check_callback_values(body: dict, shapes: dict | None = None) -> None:
    """BadParameter unless every input and state value of a Dash callback request has its declared shape."""
    shapes = CALLBACK_VALUES if shapes is None else shapes
    for kind in ("inputs", "state"):
        for item in body.get(kind) or []:
            # a pattern-matching input arrives as the list of its matching components
            for it in item if isinstance(item, list) else [item]:
                if not isinstance(it, dict):
                    raise BadParameter(f"{kind}: malformed item")
                key = callback_value_key(it)
                shape = shapes.get(key)
                if shape is None:
                    raise BadParameter(f"{key[:100]}: not an input of this dashboard")
                cid = it.get("id")
                if isinstance(cid, dict) and not pattern_id_value(cid):
                    raise BadParameter(f"{key[:100]}: not an id this dashboard lays out")
                if it.get("property") == "id" and it.get("value") != cid:
                    # the renderer sends a component's own id as its ``id``: a pattern-matching callback reads these
                    # as the parts of what it computes (the simulator's rule and pillar keys)
                    raise BadParameter(f"{key[:100]}: not the id of the component it is sent for")
                if not shape(it.get("value")):
                    raise BadParameter(f"{key}: not a value this control sends")


# ---- file names (RFC 6266 / RFC 5987) ---------------------------------------------------------------------------
def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''percent-encoded``: any name, no header injection.

    The ASCII fallback keeps only letters, digits, dot, dash and underscore, so quotes, semicolons and line
    breaks can never end the parameter or the header; ``filename*`` carries the exact (UTF-8) name.
    """
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "download"
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# ---- spreadsheet text -------------------------------------------------------------------------------------------
# A cell whose text starts with one of these is read by Excel/LibreOffice/WPS as a formula (or as DDE).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# ... and so is one where blanks come first (" =HYPERLINK(...)", "\u3000=1+1"): LibreOffice's and some of Excel's
# import paths trim leading blanks before they look. Blanks are every character Python calls whitespace (the
# ideographic space included) and the invisible zero-width ones, listed once so the cell check and the column
# check (a Polars regex, whose own \s is not quite Python's) agree.
LEADING_BLANKS = "".join(chr(c) for c in range(0x3001) if chr(c).isspace()) + "\u200b\u2060\ufeff"
_FORMULA_START = "^[" + re.escape(LEADING_BLANKS) + "]*[" + re.escape("".join(FORMULA_TRIGGERS)) + "]"
_FORMULA_START_RE = re.compile(_FORMULA_START)


def neutralise_cell(value):
    """Text that would start a formula gets a leading apostrophe (OWASP's advice); other values pass through."""
    if isinstance(value, str) and _FORMULA_START_RE.match(value):
        return "'" + value
    return value


def neutralise_text(df: pl.DataFrame) -> pl.DataFrame:
    """Every text column of ``df`` with formula-starting cells neutralised (numbers stay numbers). Categorical and
    enum columns are written as their text too, so they become neutralised text."""
    exprs = []
    for c, dtype in df.schema.items():
        if dtype not in (pl.String, pl.Categorical) and not isinstance(dtype, pl.Enum):
            continue
        x = pl.col(c).cast(pl.String)
        exprs.append(pl.when(x.str.contains(_FORMULA_START)).then(pl.lit("'") + x).otherwise(x).alias(c))
    return df.with_columns(exprs) if exprs else df


# ---- text from data inside Markdown (AG Grid's markdown cells) and Plotly's pseudo-HTML --------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-!|~])")


def markdown_text(value) -> str:
    """Data text for a Markdown cell: every Markdown/HTML character backslash-escaped, so a name such as
    ``x](javascript:...)`` or ``<img ...>`` is shown as written and can never become a link or a tag."""
    return _MD_SPECIAL.sub(r"\\\1", "" if value is None else str(value))


def plot_text(value) -> str:
    """Data text for Plotly labels and hover text, which render a subset of HTML (<a href>, <b>, <br>...)."""
    import html

    return html.escape("" if value is None else str(value), quote=False)


# ---- query parameters -------------------------------------------------------------------------------------------
# Each route the app defines that reads its query declares the names it reads (``query_params`` on its view); the
# request gate refuses any other name and any name given twice (``check_query``), for every such route in one place.
# A repeated name was read as its first value by one route and its last by another (``?province=64&province=44``):
# which of two values a check saw and which the view used must never differ, so neither is guessed.
QUERY_PARAMS_ATTR = "ipcity_query_params"


def query_params(*names: str):
    """Decorator: the query parameters the view reads (none: ``query_params()``, any query is refused)."""

    def declare(view):
        setattr(view, QUERY_PARAMS_ATTR, frozenset(names))
        return view

    return declare


QUERY_IGNORED_ATTR = "_ipcity_query_ignored"


def query_ignored(view) -> bool:
    """Whether ``view`` answers the same to any query and never reads it (``ignores_query``)."""
    while view is not None:
        if getattr(view, QUERY_IGNORED_ATTR, False):
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def ignores_query(view):
    """Decorator: the view reads no query and answers the same to any (a load balancer's health probe adds its own
    names, ``?probe=lb-3``, which the deployment does not choose). Used for ``/healthz`` alone."""
    setattr(view, QUERY_IGNORED_ATTR, True)
    setattr(view, QUERY_PARAMS_ATTR, frozenset())
    return view


def declared_query_params(view) -> frozenset | None:
    """The names ``view`` declared, or None for a route that declared none (Dash's own routes, static files).
    functools.wraps (flask-limiter, dashboards.busy) copies the attribute; ``__wrapped__`` is followed as well."""
    while view is not None:
        found = getattr(view, QUERY_PARAMS_ATTR, None)
        if found is not None:
            return found
        view = getattr(view, "__wrapped__", None)
    return None


def check_query(args, allowed: frozenset | None) -> None:
    """BadParameter unless every name of ``args`` (a Werkzeug MultiDict) is in ``allowed`` (any name: None) and
    given once."""
    for name in args:  # each name once, in the order first given
        if allowed is not None and name not in allowed:
            raise BadParameter(f"{name[:50]!r}: not a parameter of this address")
        if len(args.getlist(name)) > 1:
            raise BadParameter(f"{name[:50]!r}: given more than once")


def layout_query_params(layout) -> frozenset:
    """The query names a Dash page reads: its layout's named parameters (``lang`` and the page's own, e.g. ``year``,
    ``unit``). Dash's router hands a page every name of its URL; the layouts took the rest as ``**_``, so
    ``/rankings?provinc=64`` (a typo) or any invented name opened the page as if it were not there. The signature
    is followed through ``components.guarded`` (functools.wraps), so the names are declared once, where they are
    read."""
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(n for n, p in inspect.signature(layout).parameters.items() if p.kind in named)


def search_args(search: str):
    """A URL's query (``?a=1&b=2``, as dcc.Location reports it) as the MultiDict ``check_query`` reads."""
    from werkzeug.datastructures import MultiDict

    return MultiDict(parse_qsl((search or "").lstrip("?"), keep_blank_values=True))


# ---- redirects --------------------------------------------------------------------------------------------------
def safe_local_path(target: str | None, default: str = "/") -> str:
    """A same-site path ('/x?y') or ``default``: no scheme, no host, no '//' or '/\\' (protocol-relative) prefix."""
    if not target or not isinstance(target, str) or len(target) > MAX_PATH:
        return default
    if any(ch in target for ch in "\\\r\n\t\x00") or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


# ---- headers ----------------------------------------------------------------------------------------------------
def content_security_policy(script_hashes: list[str]) -> dict:
    """The CSP for the Dash app: scripts only from this origin plus Dash's own inline scripts (by hash).

    Styles allow inline because Dash components and Plotly set element styles at run time; nothing else is
    inline. No framing (clickjacking), no plugins, forms post only here.
    """
    return {
        "default-src": "'self'",
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": "'self'",
        "worker-src": ["'self'", "blob:"],
        "frame-ancestors": "'none'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
    }


# Dossiers are standalone documents with inline SVG and CSS: nothing may run in them at all.
DOSSIER_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; sandbox"
