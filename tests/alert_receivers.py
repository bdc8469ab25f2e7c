"""Real loopback receivers for the alert tests: an SMTP server (aiosmtpd) and an HTTP JSON receiver.

Both listen on 127.0.0.1 only, record what arrives, and are stopped by the test that started them.
"""

from __future__ import annotations

import email
import json
import socket
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """aiosmtpd on 127.0.0.1: every accepted message, parsed, in `messages`.

    `smtputf8=False` makes it a server that does not advertise SMTPUTF8 (as many office relays do);
    `drop_after_accept=True` closes the connection right after it has accepted a message (250 to DATA), as a
    relay that restarts or times the session out does: the message is delivered, the session is gone.
    `refuse={address: "550 5.1.1 ..."}` answers RCPT TO for those recipients as given (a 5xx for good, a 4xx
    for now). `dsn=True` advertises DSN and takes its parameters (recorded in each envelope's dsn_mail/dsn_rcpt)."""

    def __init__(
        self,
        port: int | None = None,
        *,
        smtputf8: bool = True,
        drop_after_accept: bool = False,
        refuse: dict[str, str] | None = None,
        data_size_limit: int | None = None,
        delay: float = 0,
        dsn: bool = False,
    ):
        import asyncio

        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[dict] = []
        self.port = port or free_port()
        sink = self

        refusals = dict(refuse or {})  # recipient -> the server's answer to RCPT TO ("550 5.1.1 ...", "450 ...")

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
                session.host_name = hostname
                if dsn:  # advertised before the closing "250 HELP" line
                    responses.insert(len(responses) - 1, "250-DSN")
                return responses

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                if address in refusals:
                    return refusals[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
                if delay:
                    await asyncio.sleep(delay)  # a slow relay: each message takes `delay` seconds to accept
                msg = email.message_from_bytes(envelope.content, policy=policy.default)
                msg["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
                sink.messages.append(msg)
                sink.envelopes.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "options": envelope.mail_options,
                        # the DSN parameters MAIL FROM (ENVID, RET) and each RCPT TO (NOTIFY, ORCPT) carried
                        "dsn_mail": dict(server.dsn_mail),
                        "dsn_rcpt": list(server.dsn_rcpt),
                        "raw": envelope.original_content,  # the bytes on the wire, as a mail client receives them
                    }
                )
                if drop_after_accept:
                    # after the 250 below is written: the transport flushes it, then closes
                    asyncio.get_running_loop().call_soon(server.transport.close)
                return "250 Message accepted for delivery"

        # `data_size_limit`: the relay's message size limit (advertised as SIZE, a bigger message refused with 552)
        limits = {"data_size_limit": data_size_limit} if data_size_limit else {}

        class DsnSMTP(SMTP):
            """aiosmtpd's server with the DSN extension's parameters (RFC 3461), which aiosmtpd itself refuses (555):
            taken off MAIL FROM and RCPT TO, recorded, and the rest handled as aiosmtpd does. Without `dsn` they
            are passed on, and refused, as by a relay that does not advertise DSN."""

            dsn_mail: dict = {}
            dsn_rcpt: list = []

            @staticmethod
            def _take(arg: str, names: tuple[str, ...]) -> tuple[str, dict]:
                kept, taken = [], {}
                for word in arg.split(" "):
                    name, _, value = word.partition("=")
                    if dsn and name.upper() in names:
                        taken[name.upper()] = value
                    else:
                        kept.append(word)
                return " ".join(kept), taken

            async def smtp_MAIL(self, arg):  # noqa: N802 - aiosmtpd's command hook
                arg, self.dsn_mail = self._take(arg or "", ("ENVID", "RET"))
                self.dsn_rcpt = []
                await super().smtp_MAIL(arg)

            async def smtp_RCPT(self, arg):  # noqa: N802
                arg, taken = self._take(arg or "", ("NOTIFY", "ORCPT"))
                if taken:
                    self.dsn_rcpt.append(taken)
                await super().smtp_RCPT(arg)

        class DsnController(Controller):
            def factory(self):
                return DsnSMTP(self.handler, **self.SMTP_kwargs)

        self.controller = DsnController(
            Handler(), hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=smtputf8, **limits
        )

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["X-Envelope-To"]]

    @staticmethod
    def text(msg) -> str:
        return msg.get_body(preferencelist=("plain",)).get_content()


class HttpSink:
    """A JSON webhook receiver on 127.0.0.1 (ThreadingHTTPServer): bodies and headers in `requests`."""

    def __init__(self, port: int | None = None, status: int = 200, reply=None):
        """`reply(request) -> dict`: the JSON answer to a request (a robot API answers HTTP 200 with an errcode);
        by default {"errcode": 0, "errmsg": "ok"}."""
        self.port = port or free_port()
        self.requests: list[dict] = []
        self.status = status
        self.reply = reply or (lambda request: {"errcode": 0, "errmsg": "ok"})
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode(errors="replace")}
                request = {"path": self.path, "headers": dict(self.headers), "json": body, "raw": raw}
                sink.requests.append(request)
                answer = json.dumps(sink.reply(request)).encode()
                self.send_response(sink.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
