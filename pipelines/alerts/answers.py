"""The delivery ledger's answers in the reader's language: the English text stays the record, Chinese is shown.

What the ledger keeps for each attempt (alerts.deliveries.response, alerts.messages.last_response) is written in
English by the channels and the dispatcher: one or more heads ("permanent refusal: recipient refused: ") and then a
sentence of ours ("… contains a line break (check the routing file)") or the receiver's own answer ("550 5.1.1 no
such mailbox"), which is data and shown as the receiver wrote it. The heads are labels (the labels seed's
delivery_answer list: name_en as written, colon included, name_zh as shown); our sentences are translated by the
ordered table below, a regex over the English and a Chinese template of its groups, as the loader's reasons are
(pipelines.ingest.reason_labels). A sentence no pattern knows is shown as written rather than guessed.

Pure functions: the CLI's delivery tables and the delivery_failed alert use them.
"""

from __future__ import annotations

import re
from functools import cache

from pipelines.labels import label_set

# (English sentence, Chinese template), anchored at both ends; the first that matches wins.
_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        r"(?P<who>.+) contains a line break \(check the routing file\)",
        "{who} 含换行符（请检查路由文件）",
    ),
    (
        r"(?P<who>\S+) needs SMTPUTF8, which (?P<where>\S+) does not offer \((?P<err>.*)\)",
        "{who} 需要 SMTPUTF8，而 {where} 不支持（{err}）",
    ),
    (
        r"(?P<host>\S+) is (?P<ip>\S+), a link-local or cloud-metadata address, where alerts are never sent \(check "
        r"the channel's url or endpoint in the routing file\)",
        "{host} 为 {ip}，属链路本地或云元数据地址，预警从不发往该处（请检查路由文件中该通道的 url 或 endpoint）",
    ),
    (
        r"(?P<host>\S+) is (?P<ip>\S+), a loopback or private address, which alerts reach only when the deployment's "
        r"(?P<env>\w+) names its network \(an on-premise gateway's, e.g. its address/32\)",
        "{host} 为 {ip}，属本机回环或内网地址；仅当部署设置 {env} 列出其网段（本地网关的网段，如其地址/32）时才发往该处",
    ),
    (r"(?P<name>\S+) was not checked", "{name} 未经地址检查"),
    (
        r"(?P<who>.+) is no longer in the routing file \(route (?P<route>.+)\)",
        "路由文件已不再列出 {who}（路由 {route}），故未发送",
    ),
    (
        r"(?P<where>\S+) did not finish within (?P<s>[\d.]+) s \((?P<err>\w+)\)",
        "{where} 未在 {s} 秒内完成会话（{err}）",
    ),
    (
        r"no complete answer within (?P<s>[\d.]+) s \((?P<rest>.*)\)",
        "{s} 秒内未收到完整答复（{rest}）",
    ),
    (
        r"retry after (?P<s>[\d.]+) s \(HTTP (?P<code>\d+); (?P<rest>.*)\)",
        "{s} 秒后再试（HTTP {code}；{rest}）",
    ),
    (
        r"retry after (?P<s>[\d.]+) s \(robot errcode (?P<errcode>\S+) ?(?P<msg>.*)\)",
        "{s} 秒后再试（群机器人错误码 {errcode} {msg}）",
    ),
    (r"errcode (?P<code>\S+) ?(?P<msg>.*)", "错误码 {code} {msg}"),
    # a robot's errcode refusing the channel's key, token or security settings (channels._robot_refusal)
    (
        r"the robot of channel (?P<ch>\S+) takes only messages with one of its keywords \(errcode (?P<errcode>\S+) ?"
        r"(?P<msg>.*?)\): give the robot the keyword 知识产权强市监测 \(a `lang: en` route's digests: IP strong-city "
        r"monitor\), which every digest's title carries; the channel's digests wait in order \(tried again on a slow "
        r"schedule, or at once with ipcity alerts retry --channel\)",
        "通道 {ch} 的群机器人只接收含其自定义关键词的消息（错误码 {errcode} {msg}）：请为机器人设置关键词“知识产权强市监测”"
        "（`lang: en` 路由的摘要为 IP strong-city monitor），每份摘要的标题均含此词；该通道的摘要按序等待（按较长间隔重试，"
        "或以 ipcity alerts retry --channel 立即重试）",
    ),
    (
        r"the robot refuses channel (?P<ch>\S+)'s key, token or security settings \(errcode (?P<errcode>\S+) ?"
        r"(?P<msg>.*?)\): mend the key or token \(and the secret, keywords or IP allow-list the robot asks for\) in "
        r"the routing file; the channel's digests wait in order \(tried again on a slow schedule, or at once with "
        r"ipcity alerts retry --channel\)",
        "群机器人拒绝通道 {ch} 的密钥、令牌或安全设置（错误码 {errcode} {msg}）：请在路由文件中修正密钥或令牌"
        "（以及机器人要求的加签密钥、关键词或 IP 白名单）；该通道的摘要按序等待（按较长间隔重试，或以 ipcity alerts "
        "retry --channel 立即重试）",
    ),
    (
        r"the certificate of (?P<where>\S+) is not trusted \((?P<why>.*?)\): name the relay's CA in `cafile`, and give "
        r"as `host` the name its certificate carries(?P<rest>.*)",
        "{where} 的证书不受信任（{why}）：请在 `cafile` 中指定中继服务器的 CA，并以证书上的名称作为 `host`{rest}",
    ),
    (
        r"`ssl: true` but (?P<where>\S+) does not start TLS when connected \(it answered in plain text\): a STARTTLS "
        r"port \(587, 25\) takes `starttls: true` instead of `ssl: true`(?P<rest>.*)",
        "设置了 `ssl: true`，但 {where} 连接后未启动 TLS（以明文应答）：STARTTLS 端口（587、25）应改用 "
        "`starttls: true`{rest}",
    ),
    (
        r"`starttls: true` but (?P<where>\S+) does not offer STARTTLS: an implicit-TLS port \(465\) takes `ssl: true` "
        r"instead; a relay without TLS takes neither(?P<rest>.*)",
        "设置了 `starttls: true`，但 {where} 不提供 STARTTLS：隐式 TLS 端口（465）应改用 `ssl: true`；"
        "不支持 TLS 的中继两者都不设{rest}",
    ),
    (
        r"no SMTP greeting from (?P<where>\S+): a port that starts TLS at once \(465\) takes `ssl: true`; otherwise the "
        r"relay is not answering(?P<rest>.*)",
        "{where} 未发出 SMTP 问候：一连接即启动 TLS 的端口（465）应设 `ssl: true`；否则是中继服务器没有应答{rest}",
    ),
    (
        r"accepted by (?P<where>\S+) \(session ended after accepting: (?P<err>\w+)(?P<cut>; cut to the relay's SIZE "
        r"limit of \d+ bytes)?\)",
        "已由 {where} 接收（接收后会话中断：{err}{cut}）",
    ),
    (
        r"accepted by (?P<where>\S+) \((?P<after>.*?)(?P<cut>; cut to the relay's SIZE limit of \d+ bytes)?\)",
        "已由 {where} 接收（{after}{cut}）",
    ),
    (
        r"superseded by (?P<key>\S+): not sent, its alerts' latest state is there",
        "已由摘要 {key} 取代：未发送，其预警的最新状态见该摘要",
    ),
    (r"written (?P<path>.+)", "已写入 {path}"),
    # a relay that takes mail only over STARTTLS or after a login the channel does not make (channels._login_hint)
    (
        r"(?P<where>\S+) requires STARTTLS before it takes mail \((?P<said>.*?)\): set `starttls: true` on channel "
        r"(?P<ch>\S+) in the routing file \(and `cafile` for the relay's CA\)(?P<rest>.*)",
        "{where} 须先以 STARTTLS 加密才接收邮件（{said}）：请在路由文件中为通道 {ch} 设置 `starttls: true`"
        "（并以 `cafile` 指定中继服务器的 CA）{rest}",
    ),
    (
        r"(?P<where>\S+) requires a login before it takes mail \((?P<said>.*?)\): set `username` and `password_env` "
        r"\(or `password_file`\) on channel (?P<ch>\S+) in the routing file(?P<rest>.*)",
        "{where} 须先登录才接收邮件（{said}）：请在路由文件中为通道 {ch} 设置 `username` 与 `password_env`"
        "（或 `password_file`）{rest}",
    ),
    # a relay refusing the default sender of a channel that names none (channels._sender_hint)
    (
        r"(?P<where>\S+) refused the sender (?P<sender>\S+) \((?P<said>.*?)\): channel (?P<ch>\S+) names no `sender`; "
        r"set `sender` to the mailbox the relay sends as in the routing file(?P<rest>.*)",
        "{where} 拒收发件人 {sender}（{said}）：通道 {ch} 未设置 `sender`；请在路由文件中将 `sender` 设为中继服务器允许的"
        "发件邮箱{rest}",
    ),
    # an HTTP receiver's 401/403 (channels.http_refusal): the channel waits, its digests in order
    (
        r"(?P<why>[^;]*\(HTTP (?P<code>\d{3})[^)]*\)[^;]*); the channel's digests wait in order \(tried again on a "
        r"slow schedule, or at once with ipcity alerts retry --channel\) \((?P<rest>.*)\)",
        "{why}；该通道的摘要按序等待（按较长间隔重试，或以 ipcity alerts retry --channel 立即重试）（{rest}）",
    ),
    # an HTTP receiver's 4xx (channels.http_refusal): the reason by its status, then how it is requeued
    (
        r"(?P<why>[^;]*\(HTTP (?P<code>\d{3})[^)]*\)[^;]*); not retried \(requeue with ipcity alerts deliver "
        r"--retry-failed once mended\) \((?P<rest>.*)\)",
        "{why}；不再重试（修正后以 ipcity alerts deliver --retry-failed 重新排队）（{rest}）",
    ),
    # a receiver that cannot be reached at all (the relay down for the whole run): the operating system's words,
    # named in Chinese, the original kept in brackets; each is retried (the status says until when)
    (
        r"ConnectionRefusedError: \[Errno \d+\] (?P<msg>.*)",
        "连接被拒绝：该地址端口无服务监听（中继服务器或接收方未运行？）（{msg}）",
    ),
    (r"(?:TimeoutError|timeout): (?P<msg>.*)", "连接超时（{msg}）"),
    (r"SMTPServerDisconnected: (?P<msg>.*)", "中继服务器断开了连接（{msg}）"),
    (
        r"(?:ConnectionResetError|BrokenPipeError): \[Errno \d+\] (?P<msg>.*)",
        "连接被对方中断（{msg}）",
    ),
    (r"gaierror: \[Errno -?\d+\] (?P<msg>.*)", "主机名无法解析（{msg}）"),
    # a webhook's or robot's request that reached no answer (channels.RequestFailed), apprise's words after it
    (
        r"(?P<host>\S+) does not resolve: \[Errno -?\d+\] (?P<msg>.*?) \((?P<rest>.*)\)",
        "主机名 {host} 无法解析（{msg}）（{rest}）",
    ),
    (
        r"connection to (?P<host>\S+) failed: \[Errno \d+\] (?P<msg>.*?) \((?P<rest>.*)\)",
        "连接 {host} 失败（{msg}）（{rest}）",
    ),
    (
        r"connection to (?P<host>\S+) failed: (?P<msg>.*?) \((?P<rest>.*)\)",
        "连接 {host} 失败：{msg}（{rest}）",
    ),
    # a relay's own answer after a head ("recipient refused: a@x 550 5.1.1 ...", "message refused: 552 ..."): data,
    # shown as the relay wrote it
    (r"(?P<reply>(?:\S+ )?[245]\d\d\b.*)", "{reply}"),
    # a bounce's recipient, enhanced status code and the remote server's diagnostic (pipelines.alerts.bounces): data
    (r"(?P<reply>\S+ [245]\.\d{1,3}\.\d{1,3}\b.*)", "{reply}"),
    (r"channel (?P<ch>\S+) is not configured in (?P<path>.+)", "路由文件 {path} 中没有通道 {ch}"),
    (
        r"ValueError: webhook url must be http\(s\), got the scheme (?P<scheme>.*)",
        "webhook 地址须为 http(s)，实为 {scheme}",
    ),
    (
        r"AlertConfigError: secret header (?P<name>.+): set the environment variable (?P<env>\S+)",
        "密钥请求头 {name}：请设置环境变量 {env}",
    ),
    (
        r"AlertConfigError: secret (?P<key>\S+): set the environment variable (?P<env>\S*) or the file (?P<file>.*)",
        "密钥 {key}：请设置环境变量 {env} 或密钥文件 {file}",
    ),
    (
        r"AlertConfigError: secret (?P<key>\S+): (?P<path>.+) is inside the repository; keep secret files outside it",
        "密钥 {key}：{path} 位于代码仓库内；密钥文件须放在仓库之外",
    ),
    (
        r"ValueError: (?P<env>IPCITY_ALERT_PRIVATE_NETWORKS): (?P<entry>'.*') is not a network \(write CIDR blocks "
        r"such as 10\.20\.0\.0/16 or 192\.168\.8\.5/32, comma-separated\): (?P<err>.*)",
        "{env}：{entry} 不是网段（请写 CIDR 网段，如 10.20.0.0/16 或 192.168.8.5/32，以逗号分隔）：{err}",
    ),
)
# The reasons of channels.http_refusal in Chinese, by HTTP status (one the table lacks is named by its number)
_HTTP_ZH = {
    "400": "接收方无法读取该请求（HTTP 400）",
    "409": "接收方认为该请求存在冲突（HTTP 409）",
    "411": "接收方要求请求给出长度（HTTP 411）",
    "413": "摘要超过接收方可接收的大小（HTTP 413）",
    "414": "请求地址超过接收方可接收的长度（HTTP 414）",
    "415": "接收方不接收 JSON（HTTP 415）",
    "422": "接收方拒收该摘要的内容（HTTP 422）",
    "431": "请求头超过接收方可接收的大小（HTTP 431）",
    "401": "接收方拒绝该通道的凭据（HTTP 401）：请在路由文件中修正",
    "403": "接收方禁止该请求（HTTP 403）：请检查该通道的凭据与地址",
    "404": "接收方无此地址（HTTP 404）：请检查该通道的 url",
    "405": "该地址不接收 POST（HTTP 405）：请检查该通道的 url",
    "410": "该地址已不存在（HTTP 410）：请检查该通道的 url",
}
_CUT_ZH = ("; cut to the relay's SIZE limit of ", "；已按中继服务器的 SIZE 上限截短为 ", " bytes", " 字节")


@cache
def _compiled() -> tuple[tuple[re.Pattern, str], ...]:
    return tuple((re.compile(en, re.DOTALL), zh) for en, zh in _PATTERNS)


@cache
def _heads() -> tuple[tuple[str, str], ...]:
    """(English head as the ledger writes it, its colon included, Chinese), longest first: a recipient's refusal
    before the bare refusal it ends with."""
    heads = label_set("delivery_answer")
    return tuple(sorted(((en, zh) for zh, en in heads.values()), key=lambda h: -len(h[0])))


def _sentence_zh(text: str) -> str | None:
    for pattern, zh in _compiled():
        m = pattern.fullmatch(text)
        if m:
            groups = {k: (v or "") for k, v in m.groupdict().items()}
            if groups.get("code") and "why" in groups:
                groups["why"] = _HTTP_ZH.get(groups["code"], f"接收方答复 HTTP {groups['code']}")
            if groups.get("cut"):
                n = re.search(r"\d+", groups["cut"]).group(0)
                groups["cut"] = f"{_CUT_ZH[1]}{n}{_CUT_ZH[3]}"
            return zh.format(**groups)
    return None


def _split(text: str) -> tuple[list[str], str]:
    """The Chinese of each head ``text`` starts with ("permanent refusal: recipient refused: "), and the rest."""
    heads, rest = [], text
    while head := next(((en, zh) for en, zh in _heads() if rest.startswith(en + " ")), None):
        heads.append(head[1])
        rest = rest[len(head[0]) + 1 :]
    return heads, rest


def answer_zh(text: str | None) -> str:
    """The ledger's answer in Chinese: each head by its label, our sentence by the table; a receiver's own answer
    (and anything no pattern knows) as written."""
    heads, rest = _split(text or "")
    sentence = _sentence_zh(rest) if rest else ""
    body = sentence if sentence is not None else rest
    return "：".join([*heads, body] if body else heads)


def answer_both(text: str | None) -> str:
    """The answer in 简体中文, then the English record on the next line (once, when they are the same text)."""
    zh, en = answer_zh(text), text or ""
    return en if zh == en else f"{zh}\n{en}"


def known(text: str) -> bool:
    """Whether every word of ours in ``text`` has its Chinese (the tests' coverage check): the heads are labels and
    the rest is a sentence the table knows."""
    return _sentence_zh(_split(text)[1]) is not None
