"""Every table the CLI prints speaks both project languages (简体中文 and English): the operators and the office
staff who read `ipcity run`, `status`, `quality`, `users`, `audit` and `alerts` output are Chinese officials, and
the engineers beside them read English. Read from the code, like the file refusals' completeness test, so a new
table cannot slip in with English-only headers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

CLI = Path(__file__).resolve().parents[1] / "pipelines" / "cli.py"
HAN = re.compile(r"[\u4e00-\u9fff]")


def _text_of(node: ast.AST) -> str | None:
    """The literal text of a header or title argument (an f-string's literal parts); None for a computed one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.BinOp):  # "a" + ("" if x else " b")
        parts = [_text_of(node.left), _text_of(node.right)]
        return "".join(p for p in parts if p)
    if isinstance(node, ast.IfExp):
        return " ".join(p for p in (_text_of(node.body), _text_of(node.orelse)) if p)
    return None


def _tables() -> list[tuple[int, list[str]]]:
    tree = ast.parse(CLI.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Table":
            texts = [_text_of(a) for a in node.args]
            texts += [_text_of(k.value) for k in node.keywords if k.arg == "title"]
            found.append((node.lineno, [t for t in texts if t]))
    return found


def test_the_cli_has_tables_to_check():
    assert len(_tables()) >= 15


def test_every_cli_table_header_and_title_is_bilingual():
    english_only = [
        f"cli.py:{line}: {text!r}"
        for line, texts in _tables()
        for text in texts
        if text.strip() and text != "id" and not HAN.search(text)
    ]
    assert not english_only, "CLI table headers or titles without Chinese:\n" + "\n".join(english_only)
