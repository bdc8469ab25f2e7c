"""Bounces: a digest a relay accepted (250) and a mail server further on refused, as the sender is told by a
delivery status notification (DSN, RFC 3464: multipart/report; report-type=delivery-status) — hours later, in the
sender's mailbox. The ledger said "delivered" for ever and nobody read that mailbox: an office whose address had
gone heard nothing while the operator saw a green row.

An smtp channel names the sender mailbox's Maildir folder in `bounce_maildir` (where the office's mail server
delivers the sender's mail; read with the standard library's `mailbox`). Each new message there that is a DSN with
`Action: failed` for a digest of ours (matched by the returned headers' Message-ID / X-Idempotency-Key, or the
DSN's Original-Envelope-Id) parks that digest: status failed, a ledger row "permanent refusal: bounced: <recipient>
<status> <diagnostic>". The delivery_failed alert then tells the engineers (as for a relay's own 5xx), and the
recipient's next digest re-tells what it did not hear. A message read is marked seen (flag S, moved to cur/), so
each is read once; anything else in the folder is left as it is.
"""

from __future__ import annotations

import email
import email.header
import logging
import mailbox
import re
from email import policy
from email.parser import HeaderParser
from pathlib import Path

from pipelines.alerts.channels import PERMANENT
from pipelines.alerts.config import Routing
from pipelines.alerts.store import connect, iso, now_utc

log = logging.getLogger(__name__)
BOUNCED = "bounced: "
_KEY = re.compile(r"<?([0-9a-f]{32})@ipcity\.monitor>?")


def _digest_key(headers) -> str | None:
    """The idempotency key of a digest of ours from its headers (X-Idempotency-Key, else its Message-ID)."""
    key = (headers.get("X-Idempotency-Key") or "").strip()
    if re.fullmatch(r"[0-9a-f]{32}", key):
        return key
    m = _KEY.search(str(headers.get("Message-ID") or ""))
    return m.group(1) if m else None


# The ENVID a digest's mail was sent with (channels.dsn_options): the ledger's delivery id "<key>.<attempt>", or an
# earlier sender's bare key
_ENVID = re.compile(r"([0-9a-f]{32})(?:\.(\d+))?")


def envelope_key(envid: str) -> str | None:
    """The digest's key from a DSN's Original-Envelope-Id (xtext-decoded), or None when it is not ours."""
    text = re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), envid.strip())
    m = _ENVID.fullmatch(text.split(";", 1)[-1].strip())
    return m.group(1) if m else None


def parse_dsn(raw: bytes) -> tuple[str | None, list[dict]] | None:
    """(digest key, failed recipients [{"recipient", "status", "diagnostic"}]) of a DSN; None for anything else.
    The key is the DSN's Original-Envelope-Id first (the ENVID the digest was sent with: it survives a server that
    rewrote or dropped the returned headers), else the returned headers' X-Idempotency-Key / Message-ID."""
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    if msg.get_content_type() != "multipart/report" or (msg.get_param("report-type") or "").lower() != (
        "delivery-status"
    ):
        return None
    key, envelope, failed = None, None, []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                envid = (block.get("Original-Envelope-Id") or "").strip()
                if envid and not envelope:
                    envelope = envelope_key(envid)
                if (block.get("Action") or "").strip().lower() == "failed":
                    recipient = (block.get("Final-Recipient") or block.get("Original-Recipient") or "").strip()
                    failed.append(
                        {
                            "recipient": recipient.split(";", 1)[-1].strip(),
                            "status": (block.get("Status") or "").strip(),
                            "diagnostic": re.sub(r"\s+", " ", block.get("Diagnostic-Code") or "").strip(),
                        }
                    )
        elif kind in ("text/rfc822-headers", "message/rfc822") and not key:
            if kind == "message/rfc822":
                inner = part.get_payload()
                headers = inner[0] if isinstance(inner, list) and inner else None
            else:
                headers = HeaderParser().parsestr(part.get_payload(decode=True).decode("utf-8", "replace"))
            key = _digest_key(headers) if headers is not None else None
    return envelope or key, failed


# A bounce written as plain text, not RFC 3464 (qmail's "failure notice", Exchange's "Undeliverable:", the Coremail
# and Tencent servers many offices run: "系统退信", "退信", "邮件未能送达"): from the mail system (MAILER-DAEMON,
# postmaster, or the null sender <>), its subject saying the mail failed, and the digest's headers quoted in it. An
# out-of-office answer (also from <>) or an office's own reply quoting the digest is no bounce and is left alone.
_MAIL_SYSTEM = re.compile(r"mailer-daemon|postmaster|mail delivery (?:subsystem|system)|系统退信|邮件系统", re.I)
_FAILED_SUBJECT = re.compile(
    r"undeliver|delivery (?:status notification|failure|failed|has failed|problem)|failure notice|returned mail|"
    r"mail delivery failed|could not be delivered|not delivered|退信|退回|无法投递|投递失败|未能(?:送达|投递|发送)|"
    r"发送失败|递送失败",
    re.I,
)
_AUTO_REPLY = re.compile(r"auto(?:matic)?[- ]?(?:reply|response)|out of (?:the )?office|自动回复|自动答复|休假", re.I)
_DELAYED = re.compile(
    r"\bdelay|will (?:continue|keep) trying|still trying|not yet been delivered|延迟|延时|仍在(?:尝试|重试)|暂时无法",
    re.I,
)
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY_CODE = re.compile(r"(?<!\d)([45]\d\d)(?:[ -]|$)", re.M)
_PERMANENT_WORDS = re.compile(
    r"permanent (?:error|failure)|given up|永久|地址不存在|用户不存在|不存在的(?:用户|地址)", re.I
)


def _texts(msg) -> str:
    """A message's text as a reader sees it: every text part decoded in its own charset (a Chinese server's GBK
    among them), and the headers of a returned message."""
    out = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind.startswith("text/"):
            raw = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            for codec in (charset, "gb18030", "utf-8"):
                try:
                    out.append(raw.decode(codec))
                    break
                except (LookupError, UnicodeDecodeError):
                    continue
            else:
                out.append(raw.decode("utf-8", "replace"))
        elif kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                out.append("\n".join(f"{k}: {v}" for k, v in inner[0].items()))
    return "\n".join(out)


def _header_text(value) -> str:
    """A header as text, its encoded words decoded; one in a charset Python lacks or with bytes its charset cannot
    read (a server's mangled GBK) is read with what can be decoded (it never stops the mailbox being read)."""
    parts = []
    for chunk, charset in email.header.decode_header(str(value or "")):
        if isinstance(chunk, str):
            parts.append(chunk)
            continue
        for codec in (charset or "ascii", "gb18030", "utf-8"):
            try:
                parts.append(chunk.decode(codec))
                break
            except (LookupError, UnicodeDecodeError):
                continue
        else:
            parts.append(chunk.decode("utf-8", "replace"))
    return "".join(parts)


def parse_plain_bounce(raw: bytes) -> tuple[str | None, list[dict]] | None:
    """(digest key, failed [{"recipient", "status", "diagnostic"}]) of a bounce written as plain text (not RFC
    3464), None for any other mail. A delay notice ("will keep trying", a 4.x.x alone) fails nothing: (key, [])."""
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    subject, sender = _header_text(msg.get("Subject")), _header_text(msg.get("From"))
    null_sender = (msg.get("Return-Path") or "").strip() == "<>"
    if not (_MAIL_SYSTEM.search(sender) or null_sender):
        return None
    if not _FAILED_SUBJECT.search(subject) or _AUTO_REPLY.search(subject):
        return None
    text = _texts(msg)
    key = None
    for found in re.finditer(r"X-Idempotency-Key:\s*([0-9a-f]{32})\b|<([0-9a-f]{32})@ipcity\.monitor>", text, re.I):
        key = (found.group(1) or found.group(2)).lower()
        break
    if key is None:
        return None
    codes = [m for m in _ENHANCED.finditer(text) if m.group(1) in "45"]
    replies = list(_REPLY_CODE.finditer(text))
    permanent = [m for m in codes if m.group(1) == "5"] or [m for m in replies if m.group(1).startswith("5")]
    if not permanent and (_DELAYED.search(subject) or _DELAYED.search(text) or codes or replies):
        if not _PERMANENT_WORDS.search(text):
            return key, []  # held up, not refused: nothing changes (as a DSN's `delayed`)
    first = permanent[0] if permanent else None
    line = ""
    if first is not None:
        start = text.rfind("\n", 0, first.start()) + 1
        end = text.find("\n", first.end())
        line = re.sub(r"\s+", " ", text[start : end if end >= 0 else len(text)]).strip()
    else:  # no code given (a Chinese server's sentence alone): the line that says why
        said = _PERMANENT_WORDS.search(text)
        start = text.rfind("\n", 0, said.start()) + 1 if said else 0
        end = text.find("\n", said.end()) if said else -1
        line = re.sub(r"\s+", " ", text[start : end if end >= 0 else len(text)]).strip() if said else subject
    status = (
        ".".join(first.groups()) if first is not None and first.re is _ENHANCED else (first.group(1) if first else "")
    )
    return key, [{"recipient": "", "status": status, "diagnostic": line[:300]}]


def read_bounces(routing: Routing, *, path=None) -> list[dict]:
    """Read each smtp channel's `bounce_maildir`; park the digests a DSN says failed. Returns what was parked:
    one row each, as deliver_due's results are (route, channel, recipient, status failed, attempts, response)."""
    parked = []
    for name, ch in routing.channels.items():
        folder = ch.get("bounce_maildir") if ch.get("type") == "smtp" else None
        if not folder:
            continue
        if not (Path(folder) / "new").is_dir():
            log.warning(
                "channel %s: bounce_maildir %s is not a Maildir folder (no new/): bounces not read", name, folder
            )
            continue
        box = mailbox.Maildir(folder, factory=None, create=False)
        for msg_id in list(box.iterkeys()):
            try:
                message = box[msg_id]
            except (KeyError, OSError):
                continue  # taken away meanwhile
            if "S" in message.get_flags():
                continue
            try:
                found = parse_dsn(message.as_bytes())
                if found is None:  # a bounce written as plain text (qmail, Exchange, Coremail's 系统退信)
                    found = parse_plain_bounce(message.as_bytes())
            except Exception as e:  # noqa: BLE001 - one unreadable mail never stops the run's alert step
                log.warning("channel %s: mail %s in bounce_maildir not read (%s); left as it is", name, msg_id, e)
                continue
            if found is not None and found[0] and found[1]:
                parked += _park(path, found[0], found[1])
            if found is not None:
                message.set_subdir("cur")
                message.add_flag("S")
                box[msg_id] = message
    return parked


def _park(path, key: str, failed: list[dict]) -> list[dict]:
    out = []
    with connect(path) as con:
        row = con.execute(
            "SELECT attempts, status, recipient, route, channel FROM alerts.messages WHERE idempotency_key = ?", (key,)
        ).fetchone()
        if row is None or row[1] != "delivered":
            return out  # not ours, or parked already
        first = failed[0]
        response = f"{PERMANENT}{BOUNCED}{first['recipient'] or row[2]} {first['status']} {first['diagnostic']}"
        response = response.strip()[:500]
        con.execute(
            "INSERT INTO alerts.deliveries VALUES (?, ?, ?, 'failed', ?, NULL)",
            (key, row[0] + 1, iso(now_utc()), response),
        )
        con.execute(
            "UPDATE alerts.messages SET status = 'failed', next_retry_at = NULL, last_response = ? "
            "WHERE idempotency_key = ?",
            (response, key),
        )
        out.append(
            {
                "idempotency_key": key,
                "route": row[3],
                "channel": row[4],
                "recipient": row[2],
                "status": "failed",
                "attempts": row[0] + 1,
                "response": response,
            }
        )
    return out
