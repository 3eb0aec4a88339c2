"""Every report rendered in a real browser (headless Chromium through Selenium): every image loads, no
console message at error level, and a screenshot of the whole page is kept under test-artifacts/reports/.

Chromium and its driver come from Debian's ``chromium`` and ``chromium-driver`` packages, which
``make test`` installs when they are missing; ``CHROMIUM`` and ``CHROMEDRIVER`` name others.
"""

from __future__ import annotations

import base64
import math
import os
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from deepmarkets.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "test-artifacts" / "reports"
#: Flags for a headless browser on a machine without a display or network (and, in containers, as root).
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
         "--disable-extensions", "--window-size=1280,900"]

REPORTS = {
    "check": ["check", EXAMPLES / "prices.csv", "--theory", EXAMPLES / "theory.txt"],
    "replay": ["replay", EXAMPLES / "weather_book.csv", "--market", EXAMPLES / "weather.toml", "--world",
               EXAMPLES / "weather_world.txt"],
    "infer": ["infer", EXAMPLES / "answers.csv"],
    "induct": ["induct", EXAMPLES / "induction.toml", "--days", "12"],
    "economy": ["economy", EXAMPLES / "economy.toml", "--episodes", "40"],
    "bria": ["bria", EXAMPLES / "bria.toml", "--rounds", "150"],
    "layered": ["layered", "wine", "--rounds", "2", "--restarts", "1"],
    "sweep": ["sweep", EXAMPLES / "sweep.toml", "--scheduler", "serial"],
    "demo": ["demo"],
}


def _browser_paths() -> tuple[str, str]:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium chromium-driver, which "
                    "make test does when it can; or set CHROMIUM and CHROMEDRIVER)")
    return chromium, driver


@pytest.fixture(scope="module")
def browser():
    chromium, driver = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(driver), options=options)
    yield session
    session.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    import matplotlib

    matplotlib.use("Agg")
    folder = tmp_path_factory.mktemp("browser")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REPORTS))
def test_report_renders_in_chromium(browser, pages, capsys, name):
    page = pages / f"{name}.html"
    code = main([*map(str, REPORTS[name]), "--report", str(page)])
    capsys.readouterr()
    assert code in (0, 1) and page.is_file()
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
    assert images, "the report shows no plot"
    broken = [alt for alt, complete, width, height in images if not (complete and width > 0 and height > 0)]
    assert not broken, f"images that did not load: {broken}"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    assert browser.execute_script("return document.querySelectorAll('script:not([type=\"application/json\"])')"
                                  ".length") == 0
    # a screenshot of the whole page (beyond the window), kept as an artifact, and not blank
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    width, height = math.ceil(size["width"]), min(math.ceil(size["height"]), 16000)
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    pixels = mpimg.imread(path)
    assert abs(pixels.shape[0] - height) <= 2 and pixels.std() > 0.05
