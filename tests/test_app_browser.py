"""A real browser on the demo: headless Chromium (Debian's ``chromium``, driven by Python ``playwright`` with
``executable_path``; never ``playwright install``) uploads a photo into the ImageEditor, paints a stroke on the
canvas, uploads an exemplar, presses Generate and checks the gallery. A screenshot is kept in
``test-artifacts/app_browser.png`` (or ``$EXEGAN_TEST_ARTIFACTS``)."""

import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import ROOT, running_app
from test_app_client import EX

CHROMIUM = os.environ.get("EXEGAN_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("EXEGAN_TEST_ARTIFACTS", ROOT / "test-artifacts"))

pytestmark = pytest.mark.skipif(not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)),
                                reason=f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("browser"), load_first=False) as (demo, _):
        yield demo.local_url


def test_paint_upload_generate_in_a_real_browser(url):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements-dev.txt)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "app_browser.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            upload = page.locator("#photo button[aria-label='Upload']")
            upload.wait_for(timeout=30000)
            sync_api.expect(page.locator("#model-info")).to_contain_text("tiny-test", timeout=60000)
            with page.expect_file_chooser() as chooser:
                upload.click()
            chooser.value.set_files(str(EX / "photo.png"))
            brush = page.locator("#photo button[aria-label='Brush']")
            brush.wait_for(timeout=30000)
            time.sleep(1)  # let the canvas take the picture
            brush.click()
            box = page.locator("#photo canvas").first.bounding_box()
            x0, y0 = box["x"] + 0.3 * box["width"], box["y"] + 0.47 * box["height"]
            page.mouse.move(x0, y0)
            page.mouse.down()
            for k in range(1, 5):  # a short stroke across the eyes
                page.mouse.move(x0 + 0.4 * box["width"] * k / 4, y0 + 5 * (k % 2), steps=2)
            page.mouse.up()
            page.locator("#exemplar-a input[type=file]").set_input_files(str(EX / "exemplar_glasses.png"))
            page.locator("#exemplar-a img").first.wait_for(timeout=30000)
            page.locator("#generate").click()
            page.wait_for_function("document.querySelectorAll('#results img').length >= 4", timeout=90000)
            page.locator("#masked-input img").first.wait_for(timeout=30000)
            sync_api.expect(page.locator("#status")).to_contain_text("results in", timeout=30000)
            status = page.locator("#status").inner_text()
            page.evaluate("window.scrollTo(0, 0)")
            time.sleep(0.5)
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert "4 results" in status and "mask is empty" not in status  # the server got the painted mask
    assert shot.stat().st_size > 10_000
