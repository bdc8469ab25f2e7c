"""In CI a skipped test is a failure unless it is on the allow-list (tests/skip_allowlist.txt) with a reason.

A skip hides a test that did not run; on a developer's machine that can be fine (no Chromium here), in CI it
means the suite proved less than it claims. The hooks below are imported by tests/conftest.py. When the
environment says CI (``CI=true``, as CI services set it and .ci/run exports it), every skip whose node id
does not match an allow-list pattern turns the session's exit status into "tests failed" and is listed at
the end of the run. Outside CI skips are only reported (pytest's ``-ra`` summary).

Allow-list format, one entry a line: ``<node id or fnmatch pattern> | <reason>``; ``#`` starts a comment. An
entry without a reason is itself an error (in CI and out of it), so nothing is allow-listed silently.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import pytest

ALLOWLIST = Path(__file__).with_name("skip_allowlist.txt")
_SKIPS: list[tuple[str, str]] = []  # (node id, skip reason)
_REFUSED: list[tuple[str, str]] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def allowlist_path() -> Path:
    return Path(os.environ.get("IPCITY_SKIP_ALLOWLIST") or ALLOWLIST)


def load_allowlist(path: Path | None = None) -> list[tuple[str, str]]:
    """[(pattern, reason)]; raises ValueError on an entry without a reason."""
    path = path or allowlist_path()
    if not path.exists():
        return []
    entries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        pattern, _, reason = (part.strip() for part in text.partition("|"))
        if not pattern or not reason:
            raise ValueError(f"{path.name} line {n}: an allow-listed skip needs '<node id> | <reason>': {line!r}")
        entries.append((pattern, reason))
    return entries


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _record(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPS.append((report.nodeid, _reason(report)))


def pytest_runtest_logreport(report):
    _record(report)


def pytest_collectreport(report):
    _record(report)


def pytest_sessionfinish(session, exitstatus):
    _REFUSED.clear()
    allowed = load_allowlist()
    if not in_ci():
        return
    for nodeid, reason in _SKIPS:
        if not any(fnmatch.fnmatchcase(nodeid, pattern) for pattern, _ in allowed):
            _REFUSED.append((nodeid, reason))
    if _REFUSED and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _REFUSED:
        return
    terminalreporter.section("skips not allowed in CI", sep="=", red=True, bold=True)
    terminalreporter.write_line(
        f"CI=true: {len(_REFUSED)} skipped test(s) not on {allowlist_path()} (format '<node id> | <reason>'):"
    )
    for nodeid, reason in _REFUSED:
        terminalreporter.write_line(f"  {nodeid}: {reason}", red=True)
