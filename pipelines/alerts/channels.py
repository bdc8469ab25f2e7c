"""Delivery channels: local outbox folder, e-mail over SMTP, HTTP webhook (JSON), DingTalk and WeCom robots.

Each `send_*` delivers one digest message and returns (ok, response text) for the delivery ledger; an
exception means "not delivered" and is recorded the same way. Every message carries its idempotency key
(Message-ID and X-Idempotency-Key for mail, a header and a body field for webhooks, a line in robot texts),
so a receiver can drop a repeat when an acknowledgement was lost after it had accepted the message.

SMTP uses the standard library's smtplib (the exact server replies go into the ledger); the webhook and the
group robots (DingTalk signed requests with 加签, WeCom) use apprise's maintained plugins. `endpoint` on a
robot channel points it at an on-premise gateway (or a loopback receiver in tests) instead of the public API.
"""

from __future__ import annotations

import email.policy
import ipaddress
import json
import logging
import os
import re
import smtplib
import socket
import ssl
import sys
import threading
from contextlib import contextmanager
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from pipelines import settings
from pipelines.alerts.config import MENTION_SEPARATOR, SECRET_KEYS, SENDER_DEFAULT, AlertConfigError, secret
from pipelines.counts import count_en, count_zh

SESSION_TIMEOUT = 60  # seconds for a whole SMTP session or HTTP request, whatever each read's `timeout`
# What a group robot takes in one text message, in bytes of UTF-8 (the APIs count bytes, and a Chinese character is
# three): DingTalk 20,000, WeCom 2,048 (more is refused with errcode 40058 — under an HTTP 200).
ROBOT_TEXT_BYTES = {"dingtalk": 20000, "wecom": 2048}


def email_message(msg: dict, sender: str, reply_to: str | None = None) -> EmailMessage:
    """The digest as a mail; ``reply_to``: the channel's `reply_to` (whom a recipient's answer reaches)."""
    # headers written with set_raw (the subject's encoded words, List-Unsubscribe's URI) go out as written: the default
    # policy refolds a long one, and a URI with no space to fold at came out as RFC 2047 encoded words, which a mail
    # client reads as no List-Unsubscribe at all
    m = EmailMessage(policy=email.policy.default.clone(refold_source="none"))
    m["From"] = sender
    m["To"] = msg["recipient"]
    # A machine's message (RFC 3834): an office's out-of-office responder (and Exchange's, which reads its own header)
    # does not answer it. Without them every digest to thirty offices on leave brought thirty auto-replies back into
    # the sender's mailbox — the bounce_maildir the delivery sensor reads — and a responder that answers each reply
    # could loop with another robot. Exchange is asked to hold back its out-of-office and auto-replies only: "All"
    # would suppress its non-delivery reports too (NDR, DR), the bounces that tell us a mailbox refused the digest.
    m["Auto-Submitted"] = "auto-generated"
    m["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    if reply_to:
        # A recipient's answer ("our report was sent on the 3rd") reached the sending mailbox, which nobody reads: the
        # channel's reply_to names the operators' mailbox. The mail client's "unsubscribe" (RFC 2369) writes to the
        # same people, naming the route and address to take out of the routing file (the digest's closing line says
        # the same in words): there is no self-service list to leave.
        m["Reply-To"] = reply_to
        ask = urlencode({"subject": f"unsubscribe {_one_line(msg['route'])} {parseaddr(msg['recipient'])[1]}"})
        m.set_raw("List-Unsubscribe", f"<mailto:{parseaddr(reply_to)[1]}?{ask.replace('+', '%20')}>")
    # A long Chinese subject is folded into RFC 2047 encoded words. The email package's own folding (policy.default)
    # drops the space between an ASCII word and the Chinese one that starts the next encoded word ("新预警 12 条"
    # reached the reader as "新预警 12条"); the compat32 Header keeps each space inside the encoded text, and set_raw
    # writes its lines as they are. Line breaks never reach the header (ours or not, a subject is one line).
    subject = _one_line(msg["subject"])
    if subject.isascii():
        m["Subject"] = subject
    else:
        m.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode())
    # In Beijing time (+0800), as everything else a recipient reads: "-0000" (UTC, "zone unknown" in RFC 5322) showed
    # a reader of the headers (or a client that shows them as written) 18:56 for 02:56 the next morning in Beijing.
    from datetime import datetime

    from pipelines.china_time import CHINA_STANDARD_TIME

    m["Date"] = format_datetime(datetime.now(CHINA_STANDARD_TIME))
    m["Message-ID"] = f"<{msg['idempotency_key']}@ipcity.monitor>"
    m["X-Idempotency-Key"] = msg["idempotency_key"]
    # every header value one line: a route's name from an older routing file or a provenance note from data with a
    # line break in it made the email package refuse the digest on every attempt (and held the channel back)
    m["X-Ipcity-Route"] = _one_line(msg["route"])
    if msg.get("provenance"):
        m["X-Ipcity-Data-Provenance"] = _one_line(msg["provenance"])
    # 7-bit on the wire: a relay may take 8-bit data only after advertising 8BITMIME and being asked with
    # BODY=8BITMIME, which smtplib does not ask. The standard library would send a text of short lines as raw 8-bit
    # UTF-8; base64 (declared charset utf-8) is what every mail client reads, whatever the relay.
    m.set_content(msg["body"], cte=None if msg["body"].isascii() else "base64")
    if msg.get("html"):
        # multipart/alternative: the plain text first and unchanged, the HTML (the alerts as a table) last, the part a
        # mail client prefers when it shows HTML; base64 for the same 7-bit reason
        m.add_alternative(msg["html"], subtype="html", cte=None if msg["html"].isascii() else "base64")
    return m


def one_line(text: str) -> str:
    """A header value, or a value from the data in a digest's text, as one line: each run of line breaks and other
    control characters (NEL and the Unicode line and paragraph separators among them) becomes one space."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", str(text))


_one_line = one_line


def send_file(msg: dict, ch: dict) -> tuple[bool, str]:
    """The outbox folder a mail relay (or a person) picks up. The file name is the idempotency key: writing
    the same message twice leaves one file."""
    out = Path(ch.get("dir") or settings.alerts_dir() / "outbox")
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{msg['idempotency_key']}.eml"
    if target.exists():
        return True, f"already in outbox: {target.name}"
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(bytes(email_message(_with_provenance(msg), ch.get("sender") or SENDER_DEFAULT, ch.get("reply_to"))))
    os.replace(tmp, target)
    return True, f"written {target}"


def _with_provenance(msg: dict) -> dict:
    """The digest as the outbox file carries it: a file a person or a relay takes away says what its figures are
    drawn from, as every download does (pipelines.data_nature, the labels seed's data_provenance list): a header
    always, and, when the loaded sources are synthetic, the note as the body's first line (and the HTML's)."""
    from html import escape

    from pipelines.data_nature import DataNature, nature_now

    listed = (msg.get("payload") or {}).get("synthetic_sources")
    nature = DataNature(tuple(listed)) if isinstance(listed, list) else nature_now()  # as when it was written
    out = {**msg, "provenance": nature.row_value()}
    if nature.is_synthetic:
        note = nature.note_both()
        out["body"] = f"{note}\n\n{msg['body']}"
        if msg.get("html"):
            body_at = msg["html"].find(">", msg["html"].find("<body")) + 1  # after the opening <body ...> tag
            out["html"] = msg["html"][:body_at] + f"\n<p><b>{escape(note)}</b></p>" + msg["html"][body_at:]
    return out


# How a response starts when the receiver refused the message for good: an SMTP 5xx to the recipient or to the
# message itself (550 no such mailbox, 554 content refused). Retrying gets the same answer, thirty times over; the
# message fails at once instead, and the delivery log says why. A 4xx (mailbox full, greylisting) is retried, and
# so are refusals an operator can mend (login, sender address, connection), which a later attempt may pass.
PERMANENT = "permanent refusal: "
# How a response starts when the server answered and refused this one message or recipient: the channel itself
# is up, so the other messages due on it are still tried now.
_REFUSALS = ("recipient refused: ", "message refused: ")


def refused_by_receiver(response: str) -> bool:
    """Whether a failed delivery was the receiver's answer about this message (not a channel that is down)."""
    return response.removeprefix(PERMANENT).startswith(_REFUSALS)


def fit_mail(
    msg: dict, sender: str, limit: int, link: str | dict | None = None, reply_to: str | None = None
) -> EmailMessage:
    """The digest's mail cut to a relay's message size limit (its SIZE, in bytes on the wire): plain text alone (the
    HTML table is the bulk of a long digest) cut at a whole line with the note saying how much is left out and where
    the whole list is, as a robot's is. The body is base64 on the wire (4 bytes for 3, and a line break each 76)."""
    head = len(email_message({**msg, "body": "", "html": None}, sender, reply_to).as_bytes())
    room = max(1024, int((limit - head - 1024) * 3 / 4 * 76 / 78))
    cut = {**msg, "body": fit_text(msg["body"], room, link, _lang(msg)), "html": None}
    return email_message(cut, sender, reply_to)


def send_smtp(msg: dict, ch: dict, link: str | dict | None = None) -> tuple[bool, str]:
    host, port = ch.get("host", "127.0.0.1"), int(ch.get("port", 25))
    timeout = float(ch.get("timeout", 20))
    sender = ch.get("sender") or SENDER_DEFAULT
    if any(c in msg["recipient"] for c in "\r\n"):
        # a line break in an address (a province name or a routing entry carrying one) would be a header of its own:
        # the email package refuses it, every attempt alike, so it is refused for good, by name, at once
        return (
            False,
            f"{PERMANENT}recipient refused: {msg['recipient']!r} contains a line break (check the routing file)",
        )
    msg = {**msg, "recipient": _ascii_domain(msg["recipient"])}
    reply_to = ch.get("reply_to")
    mail = email_message(msg, sender, reply_to)
    progress: dict = {
        "fit": lambda limit: fit_mail(msg, sender, limit, link, reply_to),
        "envid": msg.get("delivery_id"),
    }
    # The envelope carries the bare mailboxes: an office's name ("国家知识产权局 <x@cnipa.gov.cn>") belongs in
    # the (encoded) headers, and left in the envelope it would demand SMTPUTF8, which many relays lack.
    envelope_from, envelope_to = parseaddr(sender)[1] or sender, parseaddr(msg["recipient"])[1] or msg["recipient"]
    ctx = ssl.create_default_context(cafile=ch.get("cafile") or None)
    smtp = smtplib.SMTP_SSL(timeout=timeout, context=ctx) if ch.get("ssl") else smtplib.SMTP(timeout=timeout)
    # `timeout` bounds each read; a relay that answers a line at a time, slowly and forever (a tarpit, a greeting
    # that never ends), passes every read in time. `session_timeout` bounds the whole session: then the socket is
    # shut, the blocked read fails, and the attempt is a retry like any other (the run's alert step never hangs).
    session_timeout = float(ch.get("session_timeout", SESSION_TIMEOUT))
    expired = threading.Event()

    def cut():
        expired.set()
        _shut([smtp])  # the relay's socket, as a webhook's are shut at their deadline

    watchdog = threading.Timer(session_timeout, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        return _smtp_session(smtp, ch, ctx, mail, envelope_from, envelope_to, host, port, progress)
    except (smtplib.SMTPException, OSError) as e:
        if expired.is_set():
            smtp.close()
            return (
                False,
                f"session_timeout: {host}:{port} did not finish within {session_timeout:g} s ({type(e).__name__})",
            )
        hint = (
            _tls_hint(e, ch, host, port, greeted=progress.get("greeted", False))
            or _login_hint(
                e, ch, host, port, msg.get("channel") or "?", offers_starttls=progress.get("starttls", False)
            )
            or _sender_hint(e, ch, host, port, msg.get("channel") or "?")
        )
        if hint:
            return False, f"{hint} ({type(e).__name__}: {e})"
        raise
    finally:
        watchdog.cancel()


def _ascii_domain(recipient: str) -> str:
    """The recipient with its domain in IDNA form (office@例子.中国 -> office@xn--fsqu00a.xn--fiqs8s): an address whose
    mailbox name is ASCII then needs no SMTPUTF8, which many relays lack (the name is unchanged; a non-ASCII mailbox
    name still needs SMTPUTF8, which smtplib asks for when the relay offers it)."""
    name, addr = parseaddr(recipient)
    local, at, domain = (addr or recipient).rpartition("@")
    if not at or domain.isascii() or not local.isascii():
        return recipient
    try:
        ascii_addr = f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return recipient  # not a domain IDNA can write: the relay's answer will say so
    return formataddr((name, ascii_addr)) if name else ascii_addr


def _tls_hint(e: Exception, ch: dict, host: str, port: int, *, greeted: bool) -> str | None:
    """What the operator mends when a relay and the channel's TLS settings disagree, in words, before the library's
    own error ("[SSL: WRONG_VERSION_NUMBER] wrong version number" says nothing of `ssl` or `starttls`)."""
    where = f"{host}:{port}"
    text = str(e)
    if isinstance(e, ssl.SSLCertVerificationError):
        return (
            f"TLS: the certificate of {where} is not trusted ({e.verify_message}): name the relay's CA in `cafile`, "
            "and give as `host` the name its certificate carries"
        )
    if ch.get("ssl") and isinstance(e, ssl.SSLError) and not greeted:
        return (
            f"TLS: `ssl: true` but {where} does not start TLS when connected (it answered in plain text): a STARTTLS "
            "port (587, 25) takes `starttls: true` instead of `ssl: true`"
        )
    if isinstance(e, smtplib.SMTPNotSupportedError) and "STARTTLS" in text.upper():
        return (
            f"TLS: `starttls: true` but {where} does not offer STARTTLS: an implicit-TLS port (465) takes `ssl: true` "
            "instead; a relay without TLS takes neither"
        )
    if not ch.get("ssl") and not greeted and isinstance(e, (smtplib.SMTPServerDisconnected, TimeoutError)):
        return (
            f"TLS: no SMTP greeting from {where}: a port that starts TLS at once (465) takes `ssl: true`; otherwise "
            "the relay is not answering"
        )
    return None


def _login_hint(e: Exception, ch: dict, host: str, port: int, channel: str, *, offers_starttls: bool) -> str | None:
    """A relay that takes mail only over STARTTLS or only after a login, and a channel that does neither: every digest
    on the channel gets the same 530, so the channel is marked refusing (its digests wait in order, the engineers are
    told) with what to set on which channel, not retried digest by digest under smtplib's words
    ("SMTPSenderRefused: (530, b'Must issue a STARTTLS command first', …)")."""
    where = f"{host}:{port}"
    code = getattr(e, "smtp_code", None)
    said = _text(getattr(e, "smtp_error", b"")) if code else str(e)
    tls = ch.get("starttls") or ch.get("ssl")
    needs_tls = (code == 530 and "TLS" in said.upper()) or (
        # smtplib's own refusal to log in: the relay offers AUTH only after STARTTLS, which the channel does not ask
        isinstance(e, smtplib.SMTPNotSupportedError) and "AUTH" in said.upper() and offers_starttls
    )
    if needs_tls and not tls:
        return (
            f"{CHANNEL_REFUSING}{where} requires STARTTLS before it takes mail ({code or 'AUTH'} {said}): set "
            f"`starttls: true` on channel {channel} in the routing file (and `cafile` for the relay's CA)"
        )
    if code == 530 and not ch.get("username"):
        return (
            f"{CHANNEL_REFUSING}{where} requires a login before it takes mail ({code} {said}): set `username` and "
            f"`password_env` (or `password_file`) on channel {channel} in the routing file"
        )
    return None


def _sender_hint(e: Exception, ch: dict, host: str, port: int, channel: str) -> str | None:
    """A relay refusing the default sender (the channel names no `sender`): every digest on the channel gets the same
    answer, so the channel is marked refusing, with the setting to add, not retried digest by digest in smtplib's
    words ("SMTPSenderRefused: (553, b'5.7.1 Sender address rejected', 'ipcity-monitor@localhost')")."""
    if not isinstance(e, smtplib.SMTPSenderRefused) or ch.get("sender"):
        return None
    return (
        f"{CHANNEL_REFUSING}{host}:{port} refused the sender {SENDER_DEFAULT} ({e.smtp_code} {_text(e.smtp_error)}): "
        f"channel {channel} names no `sender`; set `sender` to the mailbox the relay sends as in the routing file"
    )


def _smtp_session(
    smtp, ch: dict, ctx, mail, envelope_from: str, envelope_to: str, host: str, port: int, progress: dict
):
    """One SMTP session: connect, (STARTTLS,) login, send; (ok, the server's answer). ``progress["fit"](limit)``: the
    mail cut to a size limit; ``progress["greeted"]`` (set here): the
    relay's greeting was read (what tells a TLS mismatch at connect from a failure later)."""
    # smtplib takes the name it checks the relay's certificate against (implicit TLS and STARTTLS) from the
    # constructor's host; the session connects here, after the watchdog is set, so it is given here.
    smtp._host = host
    smtp.connect(host, port)
    progress["greeted"] = True
    try:
        smtp.ehlo()
        progress["starttls"] = smtp.has_extn("starttls")  # what a refusal to log in is read against (_login_hint)
        if ch.get("starttls"):
            smtp.starttls(context=ctx)
            smtp.ehlo()
        if ch.get("username"):
            smtp.login(ch["username"], secret(ch, "password") or "")
        # A relay that states its size limit (SIZE) refuses a bigger message with 552, every attempt: a digest of
        # hundreds of alerts is cut to the limit instead (plain text, the note saying where the whole list is).
        limit = int(smtp.esmtp_features.get("size", "").strip() or 0) if smtp.has_extn("size") else 0
        cut = ""
        if limit and len(mail.as_bytes()) > limit:
            mail = progress["fit"](limit)
            cut = f"; cut to the relay's SIZE limit of {limit} bytes"
        mail_options, rcpt_options = dsn_options(smtp, progress.get("envid"))
        try:
            refused = smtp.send_message(
                mail,
                from_addr=envelope_from,
                to_addrs=[envelope_to],
                mail_options=mail_options,
                rcpt_options=rcpt_options,
            )
        except smtplib.SMTPSenderRefused as e:
            if e.smtp_code != 552:
                raise  # a sender address the relay refuses: mended by an operator, retried
            # 552 to MAIL FROM: the message exceeds what the relay takes (SIZE), which a retry does not change
            return False, f"{PERMANENT}message refused: {e.smtp_code} {_text(e.smtp_error)}"
        except smtplib.SMTPNotSupportedError as e:
            # a mailbox name in Chinese (中文@例子.中国) on a relay without SMTPUTF8: every attempt gets the same answer
            return (
                False,
                f"{PERMANENT}recipient refused: {envelope_to} needs SMTPUTF8, which {host}:{port} does not offer ({e})",
            )
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            prefix = PERMANENT if codes and all(code >= 500 for code in codes) else ""
            return False, f"{prefix}recipient refused: {_refusals(e.recipients)}"
        except smtplib.SMTPDataError as e:
            prefix = PERMANENT if e.smtp_code >= 500 else ""
            return False, f"{prefix}message refused: {e.smtp_code} {_text(e.smtp_error)}"
        if refused:
            return False, f"refused: {_refusals(refused)}"
        # The server has answered 250 to the data: the message is theirs. Whatever happens to the session now
        # (a relay that drops it, a failed QUIT) must not make it a failure, or the retry would send it twice.
        try:
            code, reply = smtp.noop()
            after = f"noop {code} {reply.decode(errors='replace')[:80]}"
        except (smtplib.SMTPException, OSError) as e:
            after = f"session ended after accepting: {type(e).__name__}"
        return True, f"accepted by {host}:{port} ({after}{cut})"
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def dsn_options(smtp, envid: str | None) -> tuple[list[str], list[str]]:
    """MAIL FROM and RCPT TO parameters asking for delivery status notifications (RFC 3461) when the relay
    advertises DSN: a report when a server further on refuses the digest or holds it back (NOTIFY=FAILURE,DELAY,
    never on success), with the headers only (RET=HDRS: not the digest again), and ENVID = the ledger's delivery id,
    which the report carries back as Original-Envelope-Id (bounces.parse_dsn matches it first, whatever a server
    did to the returned headers). A relay without DSN is asked nothing (it would refuse the parameters: 555)."""
    if not envid or not smtp.has_extn("dsn"):
        return [], []
    # xtext (RFC 3461 4): "+", "=" and what is not printable ASCII as "+XX"; a delivery id is hex and "." anyway
    xtext = "".join(c if 33 <= ord(c) <= 126 and c not in "+=" else f"+{ord(c):02X}" for c in envid)
    return [f"ENVID={xtext}", "RET=HDRS"], ["NOTIFY=FAILURE,DELAY"]


def _text(reply) -> str:
    return (reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply))[:200]


def _refusals(refused: dict) -> str:
    return "; ".join(f"{who} {code} {_text(reply)}" for who, (code, reply) in refused.items())


def fit_text(body: str, limit: int, link: str | dict | None = None, lang: str = "both") -> str:
    """A digest cut to ``limit`` bytes of UTF-8 for a receiver that takes no more: whole lines from the top, then a
    line saying how many lines are left out and where the whole list is, then the idempotency-key line (the
    digest's last line). A digest that fits is returned as it is. ``link``: where the recipient finds the whole
    list, {"zh": ..., "en": ...} (lifecycle.full_list_where: what the recipient's role may open), or the Alerts
    page's address (a national reader's). ``lang``: the route's language (zh, en or both), which the note follows as
    the rest of the digest does: a `lang: en` group is not handed a Chinese line, nor a `lang: zh` one an English."""
    if len(body.encode("utf-8")) <= limit:
        return body
    lines = body.split("\n")
    head, last = lines[:-1], lines[-1]
    if isinstance(link, dict):
        where, where_en = link["zh"], link["en"]
    else:
        where = link or "监测平台“预警”页面"
        where_en = link or "the dashboard's Alerts page"

    def note(n: int) -> str:
        zh = f"……另有{count_zh(n, '行')}未列出，完整清单见 {where}"
        en = f"… {count_en(n, 'more line')} not shown; full list: {where_en}"
        return {"zh": zh, "en": en}.get(lang, f"{zh} · {en}")

    size = lambda text: len(text.encode("utf-8")) + 1  # noqa: E731 - with its line break
    room = limit - size(last) - size(note(len(head)))
    kept: list[str] = []
    for line in head:
        if size(line) > room:
            break
        kept.append(line)
        room -= size(line)
    while kept and not kept[-1].strip():
        kept.pop()  # no blank line before the note
    return "\n".join([*kept, note(len(head) - len(kept)), last])


# A robot API answers HTTP 200 also when it refuses a message (a wrong key or signature, the rate limit, a text too
# long); only the body's errcode says so, and apprise looks at the status code alone. The response apprise's plugin
# received is read back here, so such a message is recorded as not delivered (and retried), with the robot's answer.
# One apprise send at a time in a process: its plugin module and its logger are switched for the call.
_APPRISE = threading.Lock()


@contextmanager
def _responses(plugin, deadline: float, pins: dict[str, str]):
    """The HTTP responses apprise's plugin receives while the block runs (its module's `requests.post` / `.request`), each
    request bounded by ``deadline`` seconds in all: requests' timeouts bound each read, and a receiver that sends
    its answer a byte at a time would hold the call (and the run's alert step) for ever. Past the deadline the call
    is abandoned (its thread, a daemon, ends when the receiver does) and the plugin sees requests' Timeout. Each
    request connects to the address ``pins`` holds for its host (checked by destination_address, which checks and
    pins a host not in it), follows no redirect, and a refused destination is in the list as DestinationRefused."""
    module = sys.modules[type(plugin).__module__]
    real = module.requests
    seen: list = []

    class Recorder:
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def post(url, data=None, json=None, **kwargs):
            return Recorder._bounded("POST", url, data=data, json=json, **kwargs)

        @staticmethod
        def request(method, url, **kwargs):  # the JSON webhook plugin calls requests.request
            return Recorder._bounded(method, url, **kwargs)

        @staticmethod
        def _bounded(method, url, **kwargs):
            out: dict = {}
            host = urlsplit(url).hostname or ""
            try:
                if _bare_host(host) not in pins:
                    pins[_bare_host(host)] = destination_address(host)
            except DestinationRefused as e:
                seen.append(e)  # _apprise_send answers with its text: no connection was made
                raise real.exceptions.ConnectionError(str(e)) from None
            except (OSError, UnicodeError) as e:
                # behind the deployment's proxy (HTTPS_PROXY) the proxy resolves names this machine may not: the
                # request goes to the proxy, unpinned; otherwise a name that does not resolve is a retry
                if not real.utils.get_environ_proxies(url).get(urlsplit(url).scheme):
                    seen.append(RequestFailed(f"{host} does not resolve: {_os_error(e)}"))
                    raise real.exceptions.ConnectionError(f"{host} does not resolve: {e}") from None
            # A redirect would lead the request to a host nobody checked (a gateway answering 307 to an internal
            # address): none is followed, and the 3xx is the answer in the ledger.
            kwargs["allow_redirects"] = False
            # The request runs in a session of its own whose connections are known here: past the deadline their
            # sockets are shut, so the abandoned request ends at once (its thread too) instead of living on for as
            # long as the receiver keeps dripping — one more thread and socket per retry, for ever, in the long-lived
            # process of the delivery sensor. (requests.post does the same in a session it makes and closes.)
            session, connections = _tracking_session(real, pins)

            def call():
                try:
                    with session:
                        out["response"] = session.request(method, url, **kwargs)
                except BaseException as e:  # noqa: BLE001 - handed to the plugin below, as requests raised it
                    out["error"] = e

            worker = threading.Thread(target=call, daemon=True, name="ipcity-alert-post")
            worker.start()
            worker.join(deadline)
            if worker.is_alive():
                seen.append(SESSION_EXPIRED)
                _shut(connections)
                worker.join(5)  # the shut socket fails its read at once; a bound, should a platform differ
                raise real.exceptions.Timeout(f"no complete answer within {deadline:g} s")
            if "error" in out:
                # what failed, in the operating system's words (apprise records only "A Connection error occurred"
                # for a refused connection, a reset, a TLS failure alike); never requests' text, which quotes the
                # request's path and query (a gateway's token)
                if isinstance(out["error"], real.exceptions.ConnectionError):
                    seen.append(RequestFailed(f"connection to {host} failed: {_os_error(out['error'])}"))
                raise out["error"]
            seen.append(out["response"])
            return out["response"]

    module.requests = Recorder()
    try:
        yield seen
    finally:
        module.requests = real


# How a response starts when the receiver asked to be left alone for a while (HTTP 429 / 503 with Retry-After):
# the next attempt waits at least that long (lifecycle.deliver_due), not the backoff's two seconds.
RATE_LIMITED = "rate limited: retry after "


def _retry_after_seconds(value: str) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110); None when neither."""
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, round((when - datetime.now(UTC)).total_seconds()))


def retry_after(response: str) -> float | None:
    """The seconds a rate-limited receiver asked to wait, from a ledger response; None for any other response."""
    if not response.startswith(RATE_LIMITED):
        return None
    try:
        return float(response.removeprefix(RATE_LIMITED).split(" ", 1)[0])
    except ValueError:
        return None


SESSION_EXPIRED = object()  # what _responses records for a request abandoned at its deadline


class RequestFailed(Exception):
    """What _responses records for a request that reached no answer (a name that does not resolve, a refused or reset
    connection, a TLS failure): its text leads the ledger's response, before apprise's own words."""


def _os_error(e: BaseException) -> str:
    """The operating system's or TLS library's words for a failed connection ("[Errno 111] Connection refused",
    "[Errno -2] Name or service not known", "[SSL: CERTIFICATE_VERIFY_FAILED] …"), or the error's type: never the
    request's address, which may carry a token in its query."""
    found = re.search(r"\[(?:Errno -?\d+|SSL(?:: [A-Z_]+)?)\][^'\"()]*", str(e))
    return found.group(0).strip().rstrip(".:,") if found else type(e).__name__


# An HTTP receiver's 4xx is its answer about this request: sent again unchanged, it gets the same answer (RFC 9110
# 15.5), as an SMTP 5xx does. Such a digest is parked at once with why (the delivery_failed alert names it), not
# retried for days. What is transient is retried: 408 (request timeout), 425 (too early), 429 (rate limited, after
# its Retry-After), every 5xx, a timeout or a refused connection. A refusal of this message (its size or content)
# leaves the channel up for the other digests due; one of the endpoint (gone, wrong address, credentials) does not.
HTTP_TRANSIENT_4XX = frozenset({408, 425, 429})
HTTP_MESSAGE_REFUSALS = {
    400: "the receiver cannot read the request (HTTP 400 Bad Request)",
    409: "the receiver refuses the request as in conflict (HTTP 409 Conflict)",
    411: "the receiver wants a length it was given (HTTP 411 Length Required)",
    413: "the digest is larger than the receiver takes (HTTP 413 Content Too Large)",
    414: "the request address is longer than the receiver takes (HTTP 414 URI Too Long)",
    415: "the receiver does not take JSON (HTTP 415 Unsupported Media Type)",
    422: "the receiver refuses the digest's content (HTTP 422 Unprocessable Content)",
    431: "the request's headers are larger than the receiver takes (HTTP 431)",
}
HTTP_ENDPOINT_REFUSALS = {
    401: "the receiver refuses the channel's credentials (HTTP 401 Unauthorized): mend them in the routing file",
    403: "the receiver forbids this request (HTTP 403 Forbidden): check the channel's credentials and address",
    404: "no such address at the receiver (HTTP 404 Not Found): check the channel's url",
    405: "the address does not take POST (HTTP 405 Method Not Allowed): check the channel's url",
    410: "the address is gone (HTTP 410 Gone): check the channel's url",
}


# 401/403 answer the channel's credentials (a token expired or rotated), not this digest: parking each digest left
# every one on the channel parked until someone ran --retry-failed, and nobody was told the channel was broken. The
# channel is marked refusing instead (lifecycle.deliver_due), its digests wait in order and go once it answers.
HTTP_CREDENTIAL_REFUSALS = frozenset({401, 403})
CHANNEL_REFUSING = "channel refusing: "


def refuses_channel(response: str | None) -> bool:
    """Whether an answer refuses the channel's credentials (the channel waits, its digests are not parked)."""
    return (response or "").startswith(CHANNEL_REFUSING)


def http_refusal(status: int) -> str | None:
    """The ledger's answer for an HTTP status that refuses the digest for good (a 4xx a retry cannot pass), or None
    for success and what is retried. Ends with how it is requeued once mended. A credentials refusal (401/403) is
    the channel's: its answer says the digests wait."""
    if not 400 <= status < 500 or status in HTTP_TRANSIENT_4XX:
        return None
    if status in HTTP_CREDENTIAL_REFUSALS:
        return (
            f"{CHANNEL_REFUSING}{HTTP_ENDPOINT_REFUSALS[status]}; the channel's digests wait in order (tried again "
            "on a slow schedule, or at once with ipcity alerts retry --channel)"
        )
    if status in HTTP_MESSAGE_REFUSALS:
        why = f"message refused: {HTTP_MESSAGE_REFUSALS[status]}"
    else:
        why = f"endpoint refused: {HTTP_ENDPOINT_REFUSALS.get(status, f'the receiver refuses the request (HTTP {status})')}"
    return f"{PERMANENT}{why}; not retried (requeue with ipcity alerts deliver --retry-failed once mended)"


def _tracking_session(requests_module, pins: dict[str, str]):
    """A requests session whose HTTP(S) connections are appended to the returned list as they connect, each to the
    address ``pins`` holds for its host (destination_address's: the one checked), never to a fresh lookup's."""
    connections: list = []

    class Adapter(requests_module.adapters.HTTPAdapter):
        def get_connection_with_tls_context(self, *args, **kwargs):
            pool = super().get_connection_with_tls_context(*args, **kwargs)
            if not getattr(pool.ConnectionCls, "_ipcity_tracked", False):

                class Tracked(pool.ConnectionCls):
                    _ipcity_tracked = True

                    def connect(self):
                        connections.append(self)
                        super().connect()

                    def _new_conn(self):
                        # urllib3 connects to `_dns_host` and names `host` (the same attribute) in the Host header
                        # and TLS (SNI, the certificate's name) after the socket is made: the socket goes to the
                        # checked address, the name is put back for the rest.
                        if getattr(self, "proxy", None) is not None:
                            return super()._new_conn()  # the deployment's proxy (HTTPS_PROXY); it resolves the name
                        name = self._dns_host
                        address = pins.get(_bare_host(name))
                        if address is None:
                            raise DestinationRefused(f"{PERMANENT}not sent: {name} was not checked")
                        self._dns_host = address
                        try:
                            return super()._new_conn()
                        finally:
                            self._dns_host = name

                pool.ConnectionCls = Tracked
            return pool

    session = requests_module.Session()
    adapter = Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, connections


def _shut(connections: list) -> None:
    """Shut the sockets of a request's connections: a read blocked on one fails at once."""
    for conn in connections:
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# A robot's errcodes (under HTTP 200) that answer the channel, not the digest: the key or token is wrong or revoked,
# the robot was removed or stopped, or its security settings refuse every message alike (加签 signature, keywords, IP
# allow-list). As for an HTTP 401/403, the channel is marked refusing: its digests wait in order and the data
# engineers are told once, instead of each digest being retried thirty times over a day and parked. (WeCom: 93000
# invalid webhook url; DingTalk: 300001 / 400101 no such token, 310000 sign, keywords or IP, 400102 robot stopped; a
# gateway passing on the WeCom / DingTalk / WeChat API's answer: 40001 invalid credential, 40014 invalid access_token,
# 42001 access_token expired; a Feishu robot behind a JSON webhook, which answers {"code", "msg"}: 19001 token invalid,
# 19021 sign, 19022 IP not allowed, 19024 keywords not found.)
ROBOT_CREDENTIAL_ERRCODES = frozenset(
    {93000, 300001, 310000, 400101, 400102, 40001, 40014, 42001, 19001, 19021, 19022, 19024}
)
# A robot's rate limit (WeCom 45009: 20 messages a minute; DingTalk 130101 "send too fast", 410100 throttled; Feishu
# 11232): the limit counts a minute, so the next attempt waits that long, not the backoff's two seconds (which met the
# same limit).
ROBOT_RATE_ERRCODES = frozenset({45009, 130101, 410100, 11232})


_SAID_OK = frozenset({"ok", "success", "succeeded", "successful", "sent", "accepted", "成功", "发送成功"})


def _answer_code(answer) -> tuple[object, str] | None:
    """(code, message) of a JSON answer that states a refusal, or None. WeCom's and DingTalk's `errcode` / `errmsg`
    (0: taken); else a numeric `code` with `msg` or `message` beside it, as Feishu's robot and many gateways write
    their answer (0 or 2xx: taken). A bare `code` field, or one that is not a number ("accepted"), says too little to
    be read as a refusal: the HTTP status has spoken."""
    if not isinstance(answer, dict):
        return None
    if "errcode" in answer:
        code = answer["errcode"]
        return None if code in (0, "0", None) else (code, str(answer.get("errmsg") or ""))
    if "code" in answer and ("msg" in answer or "message" in answer):
        code = answer["code"]
        if isinstance(code, bool) or not re.fullmatch(r"-?\d+", str(code)):
            return None
        said = str(answer.get("msg") or answer.get("message") or "")
        # a success however it is numbered (0, 2xx, a gateway's own "10000 Success"): read as a refusal, a message
        # taken would be sent again at every retry
        if int(code) == 0 or 200 <= int(code) < 300 or said.strip().lower().rstrip(".!") in _SAID_OK:
            return None
        return code, said
    return None


ROBOT_RATE_WAIT = 60
# What a group robot takes in a minute (WeCom and DingTalk alike: 20; DingTalk then throttles the robot for ten
# minutes): a dispatch paces its messages to one robot below it (lifecycle.deliver_due), one short of the limit so a
# route test or another dispatcher's message still fits.
ROBOT_PER_MINUTE = 19


def _robot_refusal(responses: list, channel: str = "?") -> str | None:
    """The robot's refusal in its JSON answer ({"errcode": 93000, "errmsg": ...}), or None: a credentials refusal
    refuses the channel (``channel``: its name, for what to mend), a rate limit waits a minute, the rest is retried."""
    if not responses or responses[-1] is SESSION_EXPIRED:
        return None
    try:
        answer = json.loads(responses[-1].content or b"{}")
    except ValueError:
        return None  # an on-premise gateway that answers something else: its HTTP status has spoken
    stated = _answer_code(answer)
    if stated is None:
        return None
    code, message = stated
    said = f"errcode {code} {message[:200]}".rstrip()
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = None
    if number in ROBOT_CREDENTIAL_ERRCODES and re.search(r"key ?words?", said, re.IGNORECASE):
        # a DingTalk robot with 自定义关键词 security: every message must carry one of its words. The first line of every
        # digest (the title a robot shows) starts with the subject's prefix, so that is the word to give the robot.
        return (
            f"{CHANNEL_REFUSING}the robot of channel {channel} takes only messages with one of its keywords ({said}): "
            "give the robot the keyword 知识产权强市监测 (a `lang: en` route's digests: IP strong-city monitor), which "
            "every digest's title carries; the channel's digests wait in order (tried again on a slow schedule, or at "
            "once with ipcity alerts retry --channel)"
        )
    if number in ROBOT_CREDENTIAL_ERRCODES:
        return (
            f"{CHANNEL_REFUSING}the robot refuses channel {channel}'s key, token or security settings ({said}): mend "
            "the key or token (and the secret, keywords or IP allow-list the robot asks for) in the routing file; "
            "the channel's digests wait in order (tried again on a slow schedule, or at once with ipcity alerts "
            "retry --channel)"
        )
    if number in ROBOT_RATE_ERRCODES:
        return f"{RATE_LIMITED}{ROBOT_RATE_WAIT} s (robot {said})"
    return f"robot refused: {said}"


def _apprise_send(
    url: str, msg: dict, tune, *, robot: bool = False, ch: dict | None = None, pins: dict[str, str] | None = None
) -> tuple[bool, str]:
    """Send by apprise's plugin for ``url``; ``pins``: the addresses refused_destination checked, by host, which the
    request connects to (a host not in it, such as a robot's public API, is checked and pinned when requested)."""
    import apprise

    # apprise logs a token it finds malformed (WARNING) and the URL with the token or key in its query (DEBUG), and
    # so does urllib3 (DEBUG, "POST /robot/send?access_token=..."): apprise's records are captured here, at INFO, and
    # not passed on to the process's handlers (a deployment's debug log, the run's stderr), urllib3's debug lines are
    # not written during the call; what is kept is the ledger's response, where send() masks the channel's secrets.
    logger, urllib3_logger = logging.getLogger("apprise"), logging.getLogger("urllib3")
    with _APPRISE:
        propagate, level, urllib3_level = logger.propagate, logger.level, urllib3_logger.level
        logger.propagate = False
        logger.setLevel(logging.INFO)
        urllib3_logger.setLevel(max(logging.INFO, urllib3_logger.getEffectiveLevel()))
        try:
            with apprise.LogCapture(level=logging.INFO) as log:
                plugin = apprise.Apprise.instantiate(url, suppress_exceptions=False)
                tune(plugin)
                deadline = float((ch or {}).get("session_timeout", SESSION_TIMEOUT))
                with _responses(plugin, deadline, dict(pins or {})) as responses:
                    ok = plugin.send(body=msg["text"], title=msg["subject"])
        finally:
            logger.propagate = propagate
            logger.setLevel(level)
            urllib3_logger.setLevel(urllib3_level)
    refused = next((r for r in responses if isinstance(r, DestinationRefused)), None)
    if refused is not None:
        return False, str(refused)
    text = " ".join(line.strip() for line in log.getvalue().splitlines() if line.strip())
    answered = responses and responses[-1] is not SESSION_EXPIRED and not isinstance(responses[-1], RequestFailed)
    last = responses[-1] if answered else None
    if not ok and last is not None and last.status_code in (429, 503) and last.headers.get("Retry-After"):
        wait = _retry_after_seconds(last.headers["Retry-After"])
        if wait is not None:
            return False, f"{RATE_LIMITED}{wait:g} s (HTTP {last.status_code}; {text[-200:]})"
    if responses and responses[-1] is SESSION_EXPIRED:
        return False, f"session_timeout: no complete answer within {deadline:g} s ({text[-200:]})"
    if not ok and responses and isinstance(responses[-1], RequestFailed):
        return False, f"{responses[-1]} ({text[-200:]})"
    if not ok and last is not None and (refused_for_good := http_refusal(last.status_code)):
        return False, f"{refused_for_good} ({text[-200:]})"
    refusal = _robot_refusal(responses, msg.get("channel") or "?") if ok and robot else None
    if refusal:
        return False, refusal
    return bool(ok), (text or ("sent" if ok else "failed"))[-500:]


# Where no alert is ever sent: the cloud instance-metadata services (credentials of the host) and link-local
# addresses. The routing file is edited by operators, not only engineers; a webhook or robot endpoint pointed there
# (by mistake or not) would hand the digest, and any secret header, to the metadata service, and its answer to the
# ledger. No setting opens these.
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.0.0/16",  # link-local: AWS/Tencent/GCP/Azure metadata (169.254.169.254, 169.254.0.23)
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "0.0.0.0/8",
        "fe80::/10",
        "fd00:ec2::254/128",  # AWS metadata over IPv6
    )
)


class DestinationRefused(Exception):
    """A webhook or robot destination alerts are never sent to; its text is the ledger's permanent refusal."""


def _bare_host(host: str) -> str:
    """A URL's host as urllib3 and urlsplit both name it: no IPv6 brackets, no FQDN dot, lower case."""
    return host.strip("[]").rstrip(".").lower()


def destination_address(host: str) -> str:
    """The one address a webhook or robot request to ``host`` connects to. The name is resolved once, here, and
    every address it has is checked: a cloud-metadata or link-local address never, a loopback, private or other
    non-public address only inside a network that ``IPCITY_ALERT_PRIVATE_NETWORKS`` names (the deployment's
    setting, so an on-premise gateway stays possible while a routing file alone cannot reach the machine's own
    services or the intranet's). The request then connects to this address (the URL's name kept for the Host header
    and TLS), so a name that answers a public address to the check and an internal one to the connection (DNS
    rebinding) reaches nothing it was not checked for. Raises DestinationRefused, or socket.gaierror for a name
    that does not resolve (a retry, as any DNS failure)."""
    infos = socket.getaddrinfo(_bare_host(host), None, type=socket.SOCK_STREAM)
    allowed = settings.alert_private_networks()
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        mapped = getattr(ip, "ipv4_mapped", None) or ip
        if any(mapped in net for net in BLOCKED_NETWORKS if net.version == mapped.version):
            raise DestinationRefused(
                f"{PERMANENT}not sent: {host} is {mapped}, a link-local or cloud-metadata address, where alerts are "
                "never sent (check the channel's url or endpoint in the routing file)"
            )
        if not mapped.is_global and not any(mapped in net for net in allowed if net.version == mapped.version):
            raise DestinationRefused(
                f"{PERMANENT}not sent: {host} is {mapped}, a loopback or private address, which alerts reach only "
                f"when the deployment's {settings.ALERT_PRIVATE_NETWORKS_ENV} names its network (an on-premise "
                "gateway's, e.g. its address/32)"
            )
    return infos[0][4][0]


def refused_destination(url: str, pins: dict[str, str]) -> str | None:
    """Why ``url`` is not sent to (destination_address refuses its host), or None, the address checked then kept in
    ``pins`` for the request to connect to (_responses): one lookup per attempt. Asked before the plugin is built,
    so a refused address is answered as such whatever the plugin makes of the url (apprise takes no IPv6 literal)."""
    host = urlsplit(url).hostname or ""
    try:
        pins[_bare_host(host)] = destination_address(host)
    except DestinationRefused as e:
        return str(e)
    except (OSError, UnicodeError):
        return None  # a name that does not resolve is left to the request: a retry, as any DNS failure
    return None


def send_webhook(msg: dict, ch: dict) -> tuple[bool, str]:
    """POST a JSON body: apprise's JSON fields (version, title, message, type) plus the structured digest. The url
    from `url` or, when it carries a token, `url_env` / `url_file`; credential headers from `headers_env`."""
    url = urlsplit(ch.get("url") or secret(ch, "url") or "")
    if url.scheme not in ("http", "https"):
        raise ValueError(f"webhook url must be http(s), got the scheme {url.scheme!r}")
    scheme = "jsons" if url.scheme == "https" else "json"
    auth = ""
    if ch.get("username"):
        auth = quote(ch["username"], safe="") + ":" + quote(secret(ch, "password", required=False) or "", safe="") + "@"
    pins: dict[str, str] = {}
    if refusal := refused_destination(url.geturl(), pins):
        return False, refusal
    timeout = float(ch.get("timeout", 10))
    # the url's own query (a gateway's token) is kept: apprise passes on parameters prefixed with "-"
    extra = "".join(f"&-{quote(k, safe='')}={quote(v, safe='')}" for k, v in parse_qsl(url.query))
    apprise_url = f"{scheme}://{auth}{url.netloc}{url.path or '/'}?cto={timeout}&rto={timeout}{extra}"
    secret_headers = {}
    for name, env in (ch.get("headers_env") or {}).items():
        if not os.environ.get(env):
            raise AlertConfigError(f"secret header {name}: set the environment variable {env}")
        secret_headers[name] = os.environ[env]

    def tune(plugin):
        plugin.headers.update(ch.get("headers") or {})
        plugin.headers.update(secret_headers)
        plugin.headers["X-Idempotency-Key"] = msg["idempotency_key"]
        plugin.payload_extras.update(msg["payload"])

    # A gateway in front of a robot API (or one written after them) answers HTTP 200 with {"errcode": 45009, ...}
    # when it did not pass the message on: that is no delivery either, the same reading as a robot's answer.
    return _apprise_send(apprise_url, {**msg, "text": msg["body"]}, tune, robot=True, ch=ch, pins=pins)


def _lang(msg: dict) -> str:
    """The language the digest was written in (its route's `lang`, kept in its payload): zh, en or both."""
    return (msg.get("payload") or {}).get("lang") or "both"


def _mobile(recipient: str) -> str:
    """A DingTalk recipient written as a mobile number ("138 0013 8000", "+86…"), as DingTalk knows a member; "" for
    a name."""
    mobile = re.sub(r"[\s()-]", "", recipient)
    mobile = mobile.lstrip("+") if re.fullmatch(r"\+?\d{6,15}", mobile) else ""
    if re.fullmatch(r"861\d{10}", mobile):
        mobile = mobile[2:]  # DingTalk knows a mainland member by the 11 digits, without the country code
    return mobile


def send_dingtalk(msg: dict, ch: dict, link: str | dict | None = None) -> tuple[bool, str]:
    pins: dict[str, str] = {}
    if ch.get("endpoint") and (refusal := refused_destination(ch["endpoint"], pins)):
        return False, refusal
    token = secret(ch, "access_token")
    sign = secret(ch, "secret", required=False)
    # A recipient that is a mobile number is @-mentioned (the group member is notified): in the request's atMobiles
    # (apprise's targets) and, as DingTalk shows a mention, as "@number" in the text. A name is only addressed.
    # The route's members on this robot are one recipient (config.MENTION_SEPARATOR): one message, every mobile
    # among them mentioned.
    mobiles = list(dict.fromkeys(m for m in map(_mobile, msg["recipient"].split(MENTION_SEPARATOR)) if m))
    target = "/".join(quote(m, safe="") for m in mobiles)
    url = f"dingtalk://{quote(sign, safe='')}@{token}/{target}" if sign else f"dingtalk://{token}/{target}"

    def tune(plugin):
        if ch.get("endpoint"):
            plugin.notify_url = ch["endpoint"].rstrip("?") + "?access_token={token}"
        if sign:
            # apprise percent-encodes the signature and then hands it to requests as a query parameter, which encodes
            # it again ("=" → "%253D"): DingTalk decodes once, finds no match and answers 310000 "sign not match" to
            # every signed request. requests is left to encode the bare base64 once. The timestamp is taken at each
            # attempt (a retry an hour later is signed afresh: DingTalk refuses a timestamp older than an hour).
            signed = plugin.get_signature
            plugin.get_signature = lambda: (lambda ts, sig: (ts, unquote(sig)))(*signed())

    mention = "".join(f"@{m} " for m in mobiles)
    # apprise puts the subject and "\r\n" ahead of the text: the text gets what is left of the limit
    room = ROBOT_TEXT_BYTES["dingtalk"] - len(msg["subject"].encode("utf-8")) - 2 - len(mention.encode("utf-8"))
    text = mention + fit_text(msg["body"], room, link, _lang(msg))
    return _apprise_send(url, {**msg, "text": text}, tune, robot=True, ch=ch, pins=pins)


def send_wecom(msg: dict, ch: dict, link: str | dict | None = None) -> tuple[bool, str]:
    pins: dict[str, str] = {}
    if ch.get("endpoint") and (refusal := refused_destination(ch["endpoint"], pins)):
        return False, refusal
    key = secret(ch, "key")

    def tune(plugin):
        if ch.get("endpoint"):
            plugin.api_url = ch["endpoint"].rstrip("?") + f"?key={key}"

    # the robot's text has no title: the body alone
    text = fit_text(msg["body"], ROBOT_TEXT_BYTES["wecom"], link, _lang(msg))
    return _apprise_send(f"wecombot://{key}", {**msg, "text": text}, tune, robot=True, ch=ch, pins=pins)


SENDERS = {
    "file": send_file,
    "smtp": send_smtp,
    "webhook": send_webhook,
    "dingtalk": send_dingtalk,
    "wecom": send_wecom,
}


def _secrets(ch: dict) -> list[str]:
    """The channel's secret values (password, token, key...), as read from the environment or their files."""
    out = []
    for key in (*SECRET_KEYS, "url"):
        if key == "url" and not (ch.get("url_env") or ch.get("url_file")):
            continue  # a url in the routing file is no secret; one given by url_env / url_file carries a token
        try:
            value = secret(ch, key, required=False)
        except AlertConfigError:
            continue
        if value:
            out += [value, quote(value, safe=""), quote(value)]
    for env in (ch.get("headers_env") or {}).values():
        value = os.environ.get(str(env))
        if value:
            out += [value, quote(value, safe=""), quote(value)]
    return sorted(set(out), key=len, reverse=True)


def redact(text: str, ch: dict) -> str:
    """A receiver's answer or an error with the channel's secrets masked: what goes into the delivery ledger, the
    CLI and the logs. (apprise, for one, quotes a token it finds malformed in its error.)"""
    for value in _secrets(ch):
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


def send(msg: dict, ch: dict, link: str | dict | None = None) -> tuple[bool, str]:
    """Deliver one digest; ``link``: where the whole list is for this recipient (lifecycle.full_list_where), named
    when a robot's size limit cuts a digest."""
    try:
        sender = SENDERS[ch["type"]]
        takes_link = ch["type"] in ROBOT_TEXT_BYTES or ch["type"] == "smtp"  # both may cut a digest to a size limit
        ok, response = sender(msg, ch, link) if takes_link else sender(msg, ch)
    except Exception as e:  # noqa: BLE001 - every failure is a ledger entry, never a crash of the run
        ok, response = False, f"{type(e).__name__}: {e}"
    return ok, redact(response, ch)[:500]
