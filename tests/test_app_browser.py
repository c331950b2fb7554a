"""A real browser on the demo: headless Chromium (Debian's ``chromium``, driven by Python ``playwright`` with
``executable_path``; never ``playwright install``): upload a photo into the ImageEditor, paint a stroke on the
canvas, upload an exemplar, press Generate and check the gallery; click an example; edit a result further; mask a
face part on a large photo; see an error stay in the status. The gallery's files are fetched and compared pixel by
pixel. A screenshot is kept in
``test-artifacts/app_browser.png`` (or ``$EXEGAN_TEST_ARTIFACTS``)."""

import io
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

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


# ------------------------------------------------------------------------------------------------ helpers
def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)


def _open(browser, url, sync_api):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    sync_api.expect(page.locator("#model-info")).to_contain_text("tiny-test", timeout=60000)
    return page


def _upload_photo(page, path):
    upload = page.locator("#photo button[aria-label='Upload']")
    upload.wait_for(timeout=30000)
    with page.expect_file_chooser() as chooser:
        upload.click()
    chooser.value.set_files(str(path))
    page.locator("#photo button[aria-label='Brush']").wait_for(timeout=30000)
    time.sleep(1)  # let the canvas take the picture


def _results(page, n: int, sync_api) -> list[np.ndarray]:
    """Wait for ``n`` gallery images and a finished status; the served files, decoded (what a download gives)."""
    unique = "[...new Set([...document.querySelectorAll('#results img')].map(e => e.src))]"  # a preview repeats one
    page.wait_for_function(f"{unique}.length == {n}", timeout=90000)
    sync_api.expect(page.locator("#status")).to_contain_text(" s", timeout=30000)
    srcs = page.evaluate(unique)
    return [np.asarray(Image.open(io.BytesIO(page.request.get(s).body())).convert("RGB")) for s in srcs]


def _rgb(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# ------------------------------------------------------------------------------------------------ tests
def test_first_example_then_edit_a_result_further(url):
    """A newcomer's path: click the first example, Generate (A and B: 8 results, every known pixel kept, the
    status timed by stage), pick the third result, make it the photo, and run again with the mask picture removed:
    the photo returned unchanged is exactly that result."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements-dev.txt)")
    example = json.loads((EX / "synthetic_examples.json").read_text())["examples"][0]
    photo, hole = _rgb(EX / example["photo"]), _rgb(EX / example["mask"])[..., 0] > 127
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = _open(browser, url, sync_api)
            page.locator("[data-testid='dataset-cell-0-0']").click()
            page.locator("#exemplar-b img").first.wait_for(timeout=30000)
            page.locator("#generate").click()
            results = _results(page, 8, sync_api)
            status = page.locator("#status").inner_text()
            page.locator("#results img").nth(2).click()
            page.locator("#use-as-photo").click()
            time.sleep(1)
            page.get_by_text("…or upload a mask picture").click()  # open its accordion
            page.locator("#mask-image button[aria-label='Remove Image']").click()
            page.locator("#generate").click()
            sync_api.expect(page.locator("#status")).to_contain_text("Nothing to fill", timeout=60000)
            again = _results(page, 1, sync_api)
        finally:
            browser.close()
    assert "8 results in" in status and "generation" in status
    for r in results:
        assert r.shape == photo.shape and np.array_equal(r[~hole], photo[~hole])
    assert not np.array_equal(results[0][hole], results[4][hole])  # exemplar A vs B
    assert np.array_equal(again[0], results[2])  # the third result became the photo


def test_errors_stay_in_the_status(url):
    """A failed request leaves its message in the status (the toast can be closed or missed)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements-dev.txt)")
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = _open(browser, url, sync_api)
            _upload_photo(page, EX / "photo.png")
            page.locator("#generate").click()
            sync_api.expect(page.locator("#status")).to_contain_text("❌ Add at least one exemplar", timeout=60000)
        finally:
            browser.close()


def test_face_part_on_a_large_photo_keeps_its_size_and_pixels(url, detector, tmp_path):
    """One click masks the eyes of a 1440x1080 photo; the results come back at 1440x1080 with every pixel
    outside the painted part unchanged (the masked-input preview shows which ones were painted)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (requirements-dev.txt)")
    big = Image.open(EX / "photo_tilted.png").convert("RGB").resize((1440, 1080), Image.Resampling.LANCZOS)
    big.save(tmp_path / "big.png")
    photo = np.asarray(big)
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = _open(browser, url, sync_api)
            _upload_photo(page, tmp_path / "big.png")
            page.locator("#face-parts label", has_text="Eyes").click()
            sync_api.expect(page.locator("#status")).to_contain_text("Eyes added to the mask", timeout=60000)
            page.locator("#exemplar-a input[type=file]").set_input_files(str(EX / "exemplar_glasses.png"))
            page.locator("#exemplar-a img").first.wait_for(timeout=30000)
            page.locator("#generate").click()
            results = _results(page, 4, sync_api)
            status = page.locator("#status").inner_text()
        finally:
            browser.close()
    assert "detection" in status and "paste-back" in status
    for r in results:
        assert r.shape == photo.shape
        changed = np.any(r != photo, axis=-1)
        assert 0 < changed.mean() < 0.05  # a part of the face, not the picture
        ys, xs = np.nonzero(changed)
        assert ys.mean() < 0.6 * photo.shape[0]  # the eyes: upper half of the face
