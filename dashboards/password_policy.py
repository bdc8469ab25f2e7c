"""The password policy of dashboard accounts, for `ipcity users add|reset-password` and the web's change-password
page alike: at least MIN_PASSWORD characters, not the user name, not repetitive, not one of the most common
passwords (data/passwords, with its provenance) with digits or symbols around it, not a keyboard walk or a
sequence. No password library (zxcvbn and the like) is installed in the project's environment; this is the
small, stated check NIST SP 800-63B asks for (a list of common passwords and repetitive or sequential ones)."""

from __future__ import annotations

import functools
import os
import re

from pipelines import settings

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes any length, but nobody types more; the sign-in form refuses longer ones too
MIN_DISTINCT = 5
# A walk: each next key is the same key, a neighbour on the keyboard, or the next letter or digit. A password
# whose characters break the walk at most this often is a pattern (qwertyuiop1, 1qaz2wsx3edc, abcdefghij12).
MAX_WALK_BREAKS = 2
PASSWORD_LISTS = settings.PROJECT_ROOT / "data" / "passwords"
# A new password may not be one of the account's last HISTORY passwords (the current one included): a change made
# because a password leaked must not go back to it, nor cycle through two. IPCITY_PASSWORD_HISTORY sets another
# depth (1 refuses only the current password; at most MAX_HISTORY, each a ~0.1 s argon2 check per change).
HISTORY_ENV = "IPCITY_PASSWORD_HISTORY"
DEFAULT_HISTORY = 5
MAX_HISTORY = 24


def history_depth() -> int:
    """How many of the account's latest passwords a new one may not repeat (ValueError naming the variable)."""
    raw = os.environ.get(HISTORY_ENV, "").strip()
    if not raw:
        return DEFAULT_HISTORY
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_HISTORY:
        raise ValueError(
            f"{HISTORY_ENV} 须为 1 到 {MAX_HISTORY} 的整数（新密码不得与最近几个密码相同），而不是 {raw[:40]!r} · "
            f"{HISTORY_ENV} must be a whole number 1..{MAX_HISTORY} (how many recent passwords a new one may not "
            f"repeat), not {raw[:40]!r}"
        )
    return int(raw)


# why a password was refused: (简体中文, English), shown on the web page in its language and by the command line in
# both (reason_text: "{n}" is the history depth)
REASONS = {
    "short": (f"密码至少需要{MIN_PASSWORD}个字符。", f"at least {MIN_PASSWORD} characters"),
    "long": (f"密码不能超过{MAX_PASSWORD}个字符。", f"at most {MAX_PASSWORD} characters"),
    "username": ("密码不能包含用户名。", "must not contain the user name"),
    "repetitive": (
        f"密码过于重复（至少需要{MIN_DISTINCT}个不同字符）。",
        f"too repetitive (at least {MIN_DISTINCT} different characters)",
    ),
    "same": ("新密码不能与当前密码相同。", "must differ from the current password"),
    "reused": (
        "新密码不能与此账户最近使用过的{n}个密码（含当前密码）中的任何一个相同。",
        "must not be any of the account's last {n} passwords (the current one included)",
    ),
    "common": (
        "这是常见密码（或常见密码加数字、符号），容易被猜中。",
        "a common password (or one with digits or symbols added); easily guessed",
    ),
    "context": (
        "密码是本平台、机构或地名（如 ipcity、cnipa、guangdong、shenzhen）加数字或符号，容易被猜中。",
        "the name of this service, its office or a place (like ipcity, cnipa, guangdong, shenzhen) with digits or "
        "symbols added; easily guessed",
    ),
    "pattern": (
        "这是键盘连续按键或字母、数字序列（如 qwerty、1qaz2wsx、abcdef、123456），容易被猜中。",
        "a keyboard walk or a letter or digit sequence (like qwerty, 1qaz2wsx, abcdef, 123456); easily guessed",
    ),
}

_ROWS = ("1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./")
_ROW_X = (1.5, 2.0, 2.25, 2.75)  # key centres of a US/Chinese QWERTY keyboard, in key widths from the left edge
_KEYS = {ch: (r, _ROW_X[r] + i) for r, row in enumerate(_ROWS) for i, ch in enumerate(row)}
_SHIFTED = dict(zip('!@#$%^&*()_+{}|:"<>?', "1234567890-=[]\\;',./", strict=True))
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_EDGES = re.compile(r"^[^a-z]+|[^a-z]+$")


@functools.cache
def common_passwords() -> frozenset[str]:
    words: set[str] = set()
    for path in sorted(PASSWORD_LISTS.glob("*.txt")):
        words.update(w.strip().lower() for w in path.read_text(encoding="utf-8").splitlines() if w.strip())
    return frozenset(words)


# Words of this service's context (NIST SP 800-63B 5.1.1.2: "context-specific words, such as the name of the
# service"): what a guesser tries first against an IP office's account, slowly and from many addresses to stay
# under the lockout (about 9,600 guesses a day per account: auth.MAX_ACCOUNT_FAILURES per LOCK_WINDOW). With the
# place names below (every province's and prefecture city's pinyin, from the project's own files), 'Guangdong@2024',
# 'Cnipa@2024' and 'Admin@12345' passed the policy although each is among a targeted guess's first hundred.
SERVICE_WORDS = frozenset(
    {"ipcity", "cnipa", "sipo", "zhishichanquan", "zscq", "qiangshi", "admin", "administrator", "dashboard"}
)


@functools.cache
def context_words() -> frozenset[str]:
    """The service's words and the places' names, lower case without spaces (guangdong, shenzhen, neimenggu...)."""
    import csv

    words = set(SERVICE_WORDS)
    with open(settings.DBT_PROJECT_DIR / "seeds" / "province_names.csv", encoding="utf-8") as f:
        words.update(r["name_en"] for r in csv.DictReader(f))
    with open(settings.REFERENCE_DIR / "cities_prefecture_level_2023.csv", encoding="utf-8") as f:
        words.update(r["pinyin"] for r in csv.DictReader(f) if r["pinyin"])
    return frozenset(w for w in (re.sub(r"[^a-z]", "", w.lower()) for w in words) if len(w) >= 4)


def _step(a: str, b: str) -> bool:
    """Whether typing b after a continues a walk: the same key, a neighbouring key, or the next or previous
    letter or digit."""
    if a == b:
        return True
    if (a.isdigit() and b.isdigit()) or (a.isalpha() and b.isalpha() and a.isascii() and b.isascii()):
        if abs(ord(a) - ord(b)) == 1:
            return True
    ka, kb = _KEYS.get(_SHIFTED.get(a, a)), _KEYS.get(_SHIFTED.get(b, b))
    return ka is not None and kb is not None and abs(ka[0] - kb[0]) <= 1 and abs(ka[1] - kb[1]) <= 1.0


def walk_breaks(s: str) -> int:
    return sum(not _step(a, b) for a, b in zip(s, s[1:], strict=False))


def is_pattern(password: str) -> bool:
    """A keyboard walk or a sequence, straight (qwertyuiop1, 1qaz2wsx3edc, 9876543210ab) or two interleaved
    (1q2w3e4r5t6y, a1b2c3d4e5f6)."""
    s = password.lower()
    if walk_breaks(s) <= MAX_WALK_BREAKS:
        return True
    return len(s) >= 8 and walk_breaks(s[0::2]) <= 1 and walk_breaks(s[1::2]) <= 1


def is_common(password: str) -> bool:
    """One of the common passwords, alone or with digits or symbols before or after it, or with the usual
    letter-for-digit swaps (P@ssw0rd)."""
    words = common_passwords()
    s = password.lower()
    core = _EDGES.sub("", s)
    candidates = {s, core, core.translate(_LEET), _EDGES.sub("", s.translate(_LEET))}
    return any(c in words for c in candidates if len(c) >= 4)


def is_context(password: str) -> bool:
    """A context word (``context_words``) alone or with digits or symbols before, after or inside it, or with the
    usual letter-for-digit swaps: Guangdong@2024, Guang-Dong2024, Cn1pa#2025."""
    s = password.lower()
    core = _EDGES.sub("", s)
    candidates = {core, core.translate(_LEET), _EDGES.sub("", s.translate(_LEET))}
    candidates |= {re.sub(r"[^a-z]", "", c) for c in candidates}
    return any(c in context_words() for c in candidates)


def refusal(password: str, username: str = "") -> str | None:
    """Why the policy refuses the password (a key of REASONS), or None when it is acceptable."""
    if len(password) < MIN_PASSWORD:
        return "short"
    if len(password) > MAX_PASSWORD:
        return "long"
    if username and username.lower() in password.lower():
        return "username"
    if len(set(password)) < MIN_DISTINCT:
        return "repetitive"
    if is_common(password):
        return "common"
    if is_context(password):
        return "context"
    if is_pattern(password):
        return "pattern"
    return None


def reason_text(reason: str, lang: str) -> str:
    """A refusal's words in ``lang`` ("zh" or "en"), with the history depth filled in."""
    text = REASONS[reason][0 if lang == "zh" else 1]
    return text.format(n=history_depth()) if "{n}" in text else text
