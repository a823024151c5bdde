"""Learning a style from the page, in a real browser (Debian's Chromium driven by Playwright): the training's
progress, the learned style listed beside the samples, the live preview following the strength slider within a
second (one request in flight, the latest value next), a run painted in one pass, and Stop then Resume. The
studio runs in this process on uvicorn with the tiny backbone (``tiny_everywhere``)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import uvicorn_studio
from .test_studio_browser import shot

LAPTOP = {"width": 1366, "height": 768}
LATENCY_MS = 1000.0  # the preview follows the slider within this


@pytest.fixture()
def studio(tmp_path: Path, tiny_everywhere: None) -> Iterator[str]:
    """The studio on a real uvicorn server in this process, training and painting on the tiny backbone."""
    with uvicorn_studio(tmp_path / "data") as url:
        yield url


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport=LAPTOP)
    page.goto(url)
    page.wait_for_function("() => document.querySelectorAll('#samples button').length > 0")
    page.check("input[name=target][value=content]")
    page.click("#samples button[title='Use tubingen']")
    page.check("input[name=target][value=style]")
    page.click("#samples button[title='Use starry night']")
    page.wait_for_function("() => !document.querySelector('#learn').disabled")
    page.evaluate("""() => { window.__said = [];
        new MutationObserver(() => window.__said.push(document.querySelector('#status').textContent))
            .observe(document.querySelector('#status'), { childList: true, characterData: true, subtree: true }); }""")
    return page


def learn_from_page(page: Any, steps: int) -> None:
    page.fill("input[name=learn_size]", "64")
    page.fill("input[name=learn_steps]", str(steps))
    page.fill("input[name=learn_crop]", "32")
    page.click("#learn")


def keep_pixels(page: Any, name: str) -> None:
    """Keep the preview image's RGBA pixels, as the page shows them, in the page as ``name``."""
    page.evaluate("""(name) => { const img = document.querySelector('#preview');
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        (window.__shots ||= {})[name] = ctx.getImageData(0, 0, c.width, c.height).data; }""", name)


def pixel_change(page: Any, a: str, b: str) -> float:
    """The mean absolute difference of two kept pictures, in 0..255."""
    return page.evaluate("""([a, b]) => { const x = window.__shots[a], y = window.__shots[b];
        if (x.length !== y.length) return -1;
        let sum = 0; for (let i = 0; i < x.length; i++) sum += Math.abs(x[i] - y[i]);
        return sum / x.length; }""", [a, b])


def preview_at(page: Any, strength: str) -> None:
    page.wait_for_function(f"""() => {{ const img = document.querySelector('#preview');
        return img.dataset.strength === '{strength}' && img.complete && img.naturalWidth > 0 && !img.hidden; }}""",
                           timeout=30_000)


def test_learn_a_style_then_its_live_preview_follows_the_slider(studio: str, browser: Any) -> None:
    page = open_page(browser, studio)
    learn_from_page(page, steps=3)
    page.wait_for_function("() => /^learned starry night/.test(document.querySelector('#status').textContent)",
                           timeout=120_000)
    said = page.evaluate("window.__said")
    steps = [text for text in said if text.startswith("learning starry night: step")]
    assert any("step 3 of 3" in text for text in steps), said  # the progress, step by step, with the time left
    assert any("left" in text for text in steps), said
    assert page.get_attribute("#progress", "aria-valuenow") == "100"
    tile = page.locator("#learned button[title='Use learned starry night']")
    tile.wait_for(timeout=30_000)
    assert "3 steps" in tile.inner_text() and page.is_visible("#learned-head")
    tile.click()
    assert page.is_visible("#net-strength") and "chosen" in (tile.get_attribute("class") or "")
    preview_at(page, "1")  # choosing it shows the photo painted by the network at once
    keep_pixels(page, "full")
    size = page.evaluate("(img => [img.naturalWidth, img.naturalHeight])(document.querySelector('#preview'))")
    assert size == [384, 288]  # the 512×384 sample at the preview's size, its aspect kept

    in_flight, most, sent = [0], [0], []

    def started(request: Any) -> None:
        if request.url.endswith("/api/preview"):
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            sent.append(request.post_data_json["strength"])

    def ended(request: Any) -> None:
        if request.url.endswith("/api/preview"):
            in_flight[0] -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    page.evaluate("""() => { const slider = document.querySelector('#net-strength');
        const img = document.querySelector('#preview');
        window.__latency = null;
        slider.addEventListener('input', () => { window.__moved = performance.now(); window.__wanted = slider.value; });
        img.addEventListener('load', () => { if (img.dataset.strength === window.__wanted && window.__latency === null)
            window.__latency = performance.now() - window.__moved; }); }""")
    page.fill("#net-strength", "0")
    page.wait_for_function("() => window.__latency !== null", timeout=30_000)
    latency = page.evaluate("window.__latency")
    print(f"live preview latency: {latency:.0f} ms")
    assert latency < LATENCY_MS, latency
    preview_at(page, "0")
    keep_pixels(page, "none")
    change = pixel_change(page, "full", "none")
    assert change > 1.0, change  # the picture changed with the strength
    assert "0 %" in page.inner_text("#net-strength-out")
    shot(page, "learned-style-preview")

    # a burst of slider moves: one request at a time, and the last value is the one shown
    sent.clear()
    page.evaluate("""() => { const slider = document.querySelector('#net-strength');
        for (const v of ['0.1', '0.2', '0.3', '0.4', '0.5', '0.6', '0.7']) {
            slider.value = v; slider.dispatchEvent(new Event('input', { bubbles: true })); } }""")
    preview_at(page, "0.7")
    time.sleep(0.3)  # nothing else is sent once the latest value is shown
    assert most[0] == 1 and sent == [0.1, 0.7], (most, sent)

    # Start paints the photo with the learned network: a run in the gallery
    page.click("#start")
    page.wait_for_function("() => /^done in .* one pass of starry night \\(learned\\)/"
                           ".test(document.querySelector('#status').textContent)", timeout=60_000)
    run_id = page.evaluate("location.hash").split("=")[1]
    card = page.locator(f".card[data-run='{run_id}']")
    card.wait_for(timeout=15_000)
    assert "a learned style, one pass" in card.inner_text() and "starry night (learned)" in card.inner_text()
    page.close()


def test_stop_learning_then_resume_from_the_page(studio: str, browser: Any) -> None:
    page = open_page(browser, studio)
    learn_from_page(page, steps=60)
    page.wait_for_function("() => /^learning starry night: step [1-9]\\d* of 60 ·/"
                           ".test(document.querySelector('#status').textContent)", timeout=120_000)
    assert page.inner_text("#cancel") == "Stop learning"
    page.click("#cancel")
    page.wait_for_function("() => /^learning stopped at step \\d+ of 60: Resume/"
                           ".test(document.querySelector('#status').textContent)", timeout=60_000)
    stopped = int(page.inner_text("#status").split("step ")[1].split(" ")[0])
    assert 0 < stopped < 60 and page.is_visible("#resume-learn")
    shot(page, "learning-stopped")
    page.wait_for_selector("#learned button[title='Resume learning starry night']", timeout=15_000)
    page.evaluate("window.__said = []")
    page.click("#resume-learn")
    page.wait_for_function("() => /^learned starry night .*\\(60 steps\\)/"
                           ".test(document.querySelector('#status').textContent)", timeout=120_000)
    said = page.evaluate("window.__said")
    steps = [int(m.group(1)) for text in said if (m := re.match(r"learning starry night: step (\d+) of 60 ·", text))]
    assert steps[0] == stopped + 1 and steps == sorted(steps), said  # continued from the checkpoint's step
    assert not page.is_visible("#resume-learn")
    page.close()
