"""The CI skip policy (tests/skip_policy.py) on a throwaway test folder run by a real pytest process: a skip fails
the session when CI=true unless allow-listed with a reason; outside CI it is only reported; a reused snapshot
(IPCITY_TEST_SNAPSHOT) is refused in CI and announced elsewhere; and .ci/run turns "no tests" into a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent

SAMPLE = """
import pytest

def test_runs():
    assert True

def test_skipped_here():
    pytest.skip("no such device")

@pytest.mark.skipif(True, reason="never on this platform")
def test_skipped_by_mark():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_failure():
    assert False
"""


def run_pytest(
    folder: Path, env_extra: dict[str, str], conftest: str | None = None, quiet: bool = True
) -> subprocess.CompletedProcess:
    (folder / "conftest.py").write_text(
        conftest if conftest is not None else "from skip_policy import *  # noqa\n", encoding="utf-8"
    )
    (folder / "test_sample.py").write_text(SAMPLE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "IPCITY_SKIP_ALLOWLIST", "IPCITY_TEST_SNAPSHOT")}
    env |= {"PYTHONPATH": os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")]), **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *(["-q"] if quiet else []), "-p", "no:cacheprovider", "-rs", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=120,
    )


def test_outside_ci_skips_are_reported_not_failed(tmp_path):
    res = run_pytest(tmp_path, {})
    assert res.returncode == 0, res.stdout
    assert "2 skipped" in res.stdout and "not allowed in CI" not in res.stdout


def test_in_ci_a_skip_not_on_the_allow_list_fails_the_session(tmp_path):
    allow = tmp_path / "allow.txt"
    allow.write_text("*::test_skipped_by_mark | the platform does not exist\n", encoding="utf-8")
    res = run_pytest(tmp_path, {"CI": "true", "IPCITY_SKIP_ALLOWLIST": str(allow)})
    assert res.returncode == pytest.ExitCode.TESTS_FAILED, res.stdout
    assert "skips not allowed in CI" in res.stdout
    assert "test_sample.py::test_skipped_here: " in res.stdout and "no such device" in res.stdout
    refused = res.stdout.split("skips not allowed in CI", 1)[1]
    assert "test_skipped_by_mark" not in refused  # allow-listed; the xfail is not a skip


def test_in_ci_allow_listed_skips_pass(tmp_path):
    allow = tmp_path / "allow.txt"
    allow.write_text(
        "# comment\n*::test_skipped_here | the device is not in CI\n*::test_skipped_by_mark | no such platform\n",
        encoding="utf-8",
    )
    res = run_pytest(tmp_path, {"CI": "true", "IPCITY_SKIP_ALLOWLIST": str(allow)})
    assert res.returncode == 0, res.stdout


def test_an_allow_list_entry_needs_a_reason(tmp_path):
    from skip_policy import load_allowlist

    allow = tmp_path / "allow.txt"
    allow.write_text("*::test_skipped_here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs '<node id> | <reason>'"):
        load_allowlist(allow)
    res = run_pytest(tmp_path, {"CI": "true", "IPCITY_SKIP_ALLOWLIST": str(allow)})
    assert res.returncode != 0


def test_the_projects_allow_list_is_well_formed():
    from skip_policy import ALLOWLIST, load_allowlist

    assert ALLOWLIST.exists()
    for pattern, reason in load_allowlist(ALLOWLIST):
        assert pattern.startswith("tests/") or pattern.startswith("*"), pattern
        assert len(reason) >= 10, (pattern, reason)


def test_reused_snapshot_is_refused_in_ci_and_announced_elsewhere(tmp_path):
    conftest = (TESTS_DIR / "conftest.py").read_text(encoding="utf-8")
    res = run_pytest(tmp_path, {"CI": "true", "IPCITY_TEST_SNAPSHOT": "/nowhere/x.snapshot.duckdb"}, conftest)
    assert res.returncode == pytest.ExitCode.USAGE_ERROR, res.stdout + res.stderr
    assert "IPCITY_TEST_SNAPSHOT is set while CI=true" in res.stderr
    res = run_pytest(tmp_path, {"IPCITY_TEST_SNAPSHOT": "/nowhere/x.snapshot.duckdb"}, conftest, quiet=False)
    assert "!!! IPCITY_TEST_SNAPSHOT=/nowhere/x.snapshot.duckdb" in res.stdout


def test_ci_script_fails_when_pytest_collects_nothing():
    script = (TESTS_DIR.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in script
    assert 'if [ "$rc" -eq 5 ]' in script and "exit 1" in script.split('if [ "$rc" -eq 5 ]', 1)[1].split("fi", 1)[0]
    assert "export CI=" in script
