"""A newcomer's first ten minutes in the studio, in a real browser (Debian's Chromium driven by Playwright).

Set STYLO_SCREENSHOT_DIR to keep the screenshots of each state (docs/images/studio/ holds the README's).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..conftest import require
from .test_server import Server

LAPTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
FAST = {"size": 64, "steps": 2, "coarse_steps": 1, "scales": 1, "seed": 0}
LONG = {"size": 128, "steps": 2000, "scales": 1, "seed": 0}


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("STYLO_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def uploads(server: Server) -> tuple[str, str]:
    content = server.post("/api/uploads/sample", {"name": "tubingen.jpg"})["id"]
    style = server.post("/api/uploads/sample", {"name": "starry_night.jpg"})["id"]
    return content, style


def cancel_all(server: Server) -> None:
    for run in server.get("/api/runs"):  # type: ignore[union-attr]
        if run["status"] in ("queued", "running"):
            server.post(f"/api/runs/{run['id']}/cancel", {})


def wait_run(page: Any, status: str = "done", timeout: int = 120_000) -> None:
    page.wait_for_function(f"() => /^{status}/.test(document.querySelector('#status').textContent)", timeout=timeout)


def start_and_finish(page: Any, server: Server, timeout: float = 120) -> dict[str, Any]:
    """Press Start, then wait until that new run has ended and the page says so."""
    import time

    before = page.evaluate("location.hash")
    page.click("#start")
    page.wait_for_function(f"() => location.hash && location.hash !== {before!r}", timeout=30_000)
    run_id = page.evaluate("location.hash").split("=")[1]
    deadline = time.monotonic() + timeout
    while (run := server.get(f"/api/runs/{run_id}"))["status"] in ("queued", "running"):  # type: ignore[index]
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.2)
    page.wait_for_function("() => !/^(queued|running)/.test(document.querySelector('#status').textContent)"
                           " && document.querySelector('#cancel').disabled", timeout=30_000)
    return run  # type: ignore[return-value]


def pick_samples(page: Any) -> None:
    page.check("input[name=target][value=content]")
    page.click("#samples button[title='Use tubingen']")
    page.check("input[name=target][value=style]")
    page.click("#samples button[title='Use starry night']")
    page.wait_for_function("() => !document.querySelector('#start').disabled")


def ready_page(server: Server, browser: Any) -> Any:
    """A laptop page with no other run going, both samples chosen and fast settings filled in."""
    cancel_all(server)
    page = browser.new_page(viewport=LAPTOP)
    page.goto(server.url)
    pick_samples(page)
    fill_fast(page)
    return page


def fill_fast(page: Any) -> None:
    page.select_option("select[name=size]", "256")
    page.fill("input[name=steps]", "2")
    page.fill("input[name=scales]", "1")
    page.fill("input[name=seed]", "0")


def test_first_visit_offers_no_download_and_fits_a_phone(server: Server, browser: Any) -> None:
    for viewport in (LAPTOP, PHONE):
        page = browser.new_page(viewport=viewport)
        page.goto(server.url)
        page.wait_for_function("() => document.querySelector('select[name=size]').options.length > 0")
        assert not page.is_visible("#download") and not page.is_visible("#reuse")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        # the samples say what they are and go to the box the user picks
        captions = page.locator("#samples button span").all_inner_texts()
        assert "tubingen" in captions and "starry night" in captions
        page.check("input[name=target][value=style]")
        page.click("#samples button[title='Use tubingen']")
        page.wait_for_selector("#drop-style img:not([hidden])")
        assert "tubingen" in page.get_attribute("#drop-style", "aria-label")
        # Space on a drop zone opens the file chooser instead of scrolling the page
        scrolled = page.evaluate("window.scrollY")
        page.evaluate("""() => { window.__chooser = 0; const input = document.querySelector('#drop-content input');
            input.addEventListener('click', (e) => { window.__chooser += 1; e.preventDefault(); }); }""")
        page.focus("#drop-content")
        page.keyboard.press("Space")
        assert page.evaluate("window.__chooser") == 1 and page.evaluate("window.scrollY") == scrolled
        # a file dropped beside the zones does not make the browser leave the studio
        prevented = page.evaluate("""() => {
            const dt = new DataTransfer(); dt.items.add(new File(["x"], "x.png", {type: "image/png"}));
            const ev = new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true});
            document.querySelector("header").dispatchEvent(ev); return ev.defaultPrevented; }""")
        assert prevented
        page.close()


def test_the_slider_puts_more_style_to_the_right(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    page.fill("input[name=steps]", "10")  # two steps barely leave the start, whose look the slider does not set
    slider = page.locator("input[name=strength]")
    exponents, runs = [], []
    for value in ("0", "3"):  # left: more content; right: more style
        slider.fill(value)
        text = page.inner_text("#ratio-out")
        exponents.append(re.search(r"α/β = [^)\s]+", text).group(0))  # type: ignore[union-attr]
        runs.append(start_and_finish(page, server))
    assert exponents == ["α/β = 10⁰", "α/β = 10⁻³"]  # toward "style": α/β falls
    plain, styled = runs
    assert styled["settings"]["style_weight"] > plain["settings"]["style_weight"]
    assert styled["metrics"]["style_distance_sum"] < plain["metrics"]["style_distance_sum"]
    assert styled["metrics"]["content_distance"] > plain["metrics"]["content_distance"]
    page.close()


def test_a_reload_reattaches_to_the_running_job_and_cancel_works(server: Server, browser: Any) -> None:
    content, style = uploads(server)
    run = server.post("/api/runs", {"content": content, "style": style, "content_label": "tubingen.jpg",
                                    "style_label": "starry_night.jpg", "settings": LONG})
    page = browser.new_page(viewport=LAPTOP)
    page.goto(server.url)
    page.wait_for_selector("#preview:not([hidden])", timeout=60_000)
    page.reload()
    page.wait_for_function("() => !document.querySelector('#cancel').disabled", timeout=30_000)
    # the snapshot says "running… step N of M" at once; the next step's event adds the time left
    page.wait_for_function("() => /step \\d+ of \\d+ .*(estimating time left|about \\d+ (s|min) left)/"
                           ".test(document.querySelector('#status').textContent)", timeout=30_000)
    assert page.is_visible("#preview") and page.locator("#start").is_disabled()
    assert re.search(r"(estimating time left|about \d+ (s|min) left)", page.inner_text("#status"))
    assert page.locator("#curve").get_attribute("aria-label") == "loss curve"
    shot(page, "laptop-running")
    assert page.input_value("select[name=size]") == "128"  # the running job's settings, size included
    phone = browser.new_page(viewport=PHONE)
    phone.goto(server.url)  # a phone opened while the job runs: it attaches and shows the progress
    phone.wait_for_function("() => !document.querySelector('#cancel').disabled", timeout=30_000)
    phone.wait_for_function("() => /step \\d+/.test(document.querySelector('#status').textContent)", timeout=30_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    status = phone.locator("#status").bounding_box()
    assert status is not None and 0 <= status["y"] <= PHONE["height"] and phone.is_visible("#cancel")
    shot(phone, "phone-running")
    phone.close()
    page.set_viewport_size(LAPTOP)
    box = page.locator("#status").bounding_box()
    assert box is not None and box["y"] + box["height"] <= LAPTOP["height"]  # progress is on screen
    curve = page.locator("#curve").bounding_box()
    assert curve is not None and curve["y"] + curve["height"] <= LAPTOP["height"]
    page.click("#cancel")
    wait_run(page, "cancelled", 60_000)
    assert server.get(f"/api/runs/{run['id']}")["status"] == "cancelled"  # type: ignore[index]
    page.wait_for_selector(f".card[data-run='{run['id']}'] .badge.cancelled", timeout=15_000)  # the card updates
    page.close()


def test_the_first_sketch_shows_before_the_first_step(server: Server, browser: Any) -> None:
    """With the default settings the feed-forward sketch is on screen about half a second after Start."""
    cancel_all(server)
    page = browser.new_page(viewport=LAPTOP)
    page.goto(server.url)
    pick_samples(page)
    page.evaluate("""() => { window.__seen = [];
        const note = () => window.__seen.push([document.querySelector('#status').textContent,
                                               document.querySelector('#preview').alt]);
        new MutationObserver(note).observe(document.querySelector('#stage'),
            { subtree: true, childList: true, characterData: true, attributes: true }); }""")
    page.click("#start")
    page.wait_for_function("() => /step \\d+ of \\d+/.test(document.querySelector('#status').textContent)",
                           timeout=60_000)
    seen = page.evaluate("window.__seen")
    sketch = [i for i, (text, alt) in enumerate(seen) if text.startswith("a first sketch")
              and alt == "the starting picture, being refined"]
    first_step = next(i for i, (text, _) in enumerate(seen) if re.match(r"step \d+ of \d+", text))
    assert sketch and sketch[0] < first_step
    shot(page, "laptop-first-sketch")
    page.click("#cancel")
    wait_run(page, "cancelled")
    page.close()


def test_a_second_job_shows_its_place_in_the_queue(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    content, style = uploads(server)  # meanwhile, someone else starts a long run
    first = server.post("/api/runs", {"content": content, "style": style, "settings": LONG})
    page.click("#start")
    page.wait_for_function("() => /queued: 1 run ahead/.test(document.querySelector('#status').textContent)",
                           timeout=30_000)
    assert page.locator("#start").is_disabled()  # no double submission
    server.post(f"/api/runs/{first['id']}/cancel", {})
    page.wait_for_function("() => /^done/.test(document.querySelector('#status').textContent)", timeout=120_000)
    page.close()


def test_errors_sit_by_the_drop_zone(server: Server, browser: Any, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    page = browser.new_page(viewport=LAPTOP)
    page.goto(server.url)
    page.set_input_files("[data-testid=content-file]", str(bad))
    page.wait_for_function("() => document.querySelector('#upload-error').textContent.length > 0")
    assert "Content photo: upload is not a readable image" in page.inner_text("#upload-error")
    assert "invalid" in page.get_attribute("#drop-content", "class")
    err = page.locator("#upload-error").bounding_box()
    zone = page.locator("#drop-content").bounding_box()
    assert err is not None and zone is not None and 0 <= err["y"] - (zone["y"] + zone["height"]) < 40
    shot(page, "error")
    page.close()


def test_gallery_link_compare_reuse_and_accessible_names(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    page.select_option("select[name=preset]", "fine")
    page.select_option("select[name=preserve_color]", "luminance")
    run_id = start_and_finish(page, server)["id"]
    card = page.locator(f".card[data-run='{run_id}']")
    assert "fine textures" in card.inner_text() and "keeps colours (luminance)" in card.inner_text()
    total = server.get(f"/api/runs/{run_id}")["total_steps"]  # type: ignore[index]
    assert f"{total} steps" in card.inner_text()
    exact = re.search(r"α/β = [^)\s]+", page.inner_text("#ratio-out")).group(0)  # type: ignore[union-attr]
    assert exact in card.inner_text()  # one α/β notation
    assert page.is_visible("#download")
    # the shareable link opens the run with its settings, preset included
    other = browser.new_page(viewport=LAPTOP)
    other.goto(f"{server.url}/#run={run_id}")
    other.wait_for_selector("#preview:not([hidden])")
    assert other.input_value("select[name=preset]") == "fine"
    assert other.input_value("input[name=seed]") == "" and "(0)" in other.inner_text("#reuse-seed")  # new unless asked
    assert "opened" in other.inner_text("#status") and other.is_visible("#download")
    other.close()
    # the settings are remembered across a reload
    page.goto(server.url)
    page.wait_for_function("() => document.querySelector('select[name=preset]').value === 'fine'")
    assert page.input_value("select[name=preserve_color]") == "luminance"
    # compare two runs, then close the comparison
    pick_samples(page)
    page.fill("input[name=seed]", "1")
    start_and_finish(page, server)
    for box in page.locator(".card .pick").all()[:2]:
        box.check()
    page.click("#compare-btn")
    assert page.locator("#compare figure").count() == 2
    shot(page, "compare")
    page.click("#compare-close")
    assert not page.is_visible("#compare-box")
    page.locator("#gallery").scroll_into_view_if_needed()
    shot(page, "gallery")
    # use the result as the next content
    page.click("#reuse")
    page.wait_for_function("() => /result-/.test(document.querySelector('#drop-content').getAttribute('aria-label'))")
    # accessible names: every image has a text alternative (or is decorative inside a labelled button)
    for img in page.locator("img:visible").all():
        alt = img.get_attribute("alt")
        named = img.evaluate("e => !!e.closest('button[title]')")
        assert alt or named, img.evaluate("e => e.outerHTML")
    for button in page.locator("button:visible").all():
        assert (button.inner_text().strip() or button.get_attribute("aria-label") or button.get_attribute("title"))
    assert page.locator("[aria-live=polite]").count() >= 1
    # delete from the card
    before = page.locator(".card").count()
    page.locator(f".card[data-run='{run_id}'] .delete").click()
    page.locator(f".card[data-run='{run_id}'] .yes").click()
    page.wait_for_function(f"() => document.querySelectorAll('.card').length === {before - 1}")
    page.close()


def test_a_clip_upload_shows_its_frames_and_offers_the_mp4(server: Server, browser: Any, tmp_path: Path) -> None:
    require("av")
    from ..test_video import make_clip, pan

    clip = tmp_path / "walk.mp4"
    make_clip(clip, [f.resize((96, 72)) for f in pan(4)], 8, audio=False)
    page = ready_page(server, browser)
    page.set_input_files("[data-testid=content-file]", str(clip))
    page.wait_for_function("() => /walk\\.mp4 \\(4 frames\\)/.test(document.querySelector('#drop-content')"
                           ".getAttribute('aria-label'))", timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#start').disabled")
    page.click("#start")
    page.wait_for_function("() => /^frame \\d of 4/.test(document.querySelector('#status').textContent)",
                           timeout=120_000)  # the frames appear as they are made
    shot(page, "clip-running")
    wait_run(page)
    link = page.locator("#download")
    assert link.text_content() == "Download MP4" and link.get_attribute("href").endswith("/video")
    assert re.search(r"4 frames · flicker between frames [\d.]+ %", page.text_content("#status"))
    run_id = page.evaluate("location.hash").split("=")[1]
    page.wait_for_selector(f".card[data-run='{run_id}'] .badge.clip")
    assert page.locator(f".card[data-run='{run_id}'] img").count() == 1  # the poster frame
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "got.mp4"
    download.value.save_as(saved)
    from stylo.video.io import read_clip

    assert len(read_clip(saved).frames) == 4
    page.close()
