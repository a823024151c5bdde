"""Issue 21, section 3: the studio tried as a newcomer, each stumble checked in Debian's Chromium (Playwright)
at 1366×768 (and 390×844 where the layout matters)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..conftest import require
from .test_server import Server
from .test_studio_browser import (
    LAPTOP,
    PHONE,
    ready_page,
    shot,
    start_and_finish,
)

LONG = {"size": 128, "steps": 2000, "scales": 1, "seed": 0}


def inside(page: Any, selector: str, viewport: dict[str, int]) -> bool:
    box = page.locator(selector).bounding_box()
    return (box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= viewport["width"]
            and box["y"] + box["height"] <= viewport["height"])


def fresh_page(server: Server, browser: Any, viewport: dict[str, int] = LAPTOP) -> Any:
    page = browser.new_page(viewport=viewport)
    page.goto(server.url)
    page.evaluate("localStorage.clear()")
    page.reload()
    page.wait_for_function("() => document.querySelector('select[name=size]').options.length > 0")
    return page


def test_two_samples_in_a_row_fill_content_then_style(server: Server, browser: Any) -> None:
    page = fresh_page(server, browser)
    page.click("#samples button[title='Use tubingen']")
    page.wait_for_selector("#drop-content img:not([hidden])")
    assert "Now choose a style artwork" in page.inner_text("#status")  # the status says what happened
    assert page.is_checked("input[name=target][value=style]")  # and where the next sample goes
    page.click("#samples button[title='Use starry night']")
    page.wait_for_selector("#drop-style img:not([hidden])")
    assert "tubingen" in page.get_attribute("#drop-content", "aria-label")
    assert "starry night" in page.get_attribute("#drop-style", "aria-label")
    page.wait_for_function("() => !document.querySelector('#start').disabled")
    assert page.inner_text("#status") == "Ready: press Start."
    page.close()


def test_plain_labels_and_counts_that_agree(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    assert re.match(r"(mostly the photo|light style|balanced|strong style|very strong style) \(style weight",
                    page.inner_text("#ratio-out"))  # words first, the exact α/β second
    assert "1/N" not in page.inner_text("select[name=preset]")
    # Levels 2 at 256 px: the 128 px level is skipped, and the page says so, with the steps that will run
    page.fill("input[name=scales]", "2")
    page.fill("input[name=steps]", "2")
    page.fill("input[name=coarse_steps]", "1")
    page.wait_for_function("() => /3 steps at 256×192 px/.test(document.querySelector('#plan').textContent)")
    assert "1 of 2 levels run" in page.inner_text("#plan")
    seen = []
    page.expose_function("note", lambda text: seen.append(text))
    page.evaluate("""() => new MutationObserver(() => window.note(document.querySelector('#status').textContent))
        .observe(document.querySelector('#status'), { childList: true, characterData: true, subtree: true })""")
    run = start_and_finish(page, server)
    steps = [t for t in seen if re.match(r"step \d+ of \d+", t)]
    assert steps and all(re.match(r"step \d+ of 3 \(at 256 px\)", t) for t in steps), steps  # as the plan said
    assert run["total_steps"] == 3 and "level 1 of 1" not in " ".join(seen)
    # an error names the field as the page labels it
    page.fill("input[name=scales]", "9")
    page.click("#start")
    page.wait_for_function("() => document.querySelector('#error').textContent.length > 0")
    assert page.inner_text("#error").startswith("Levels must be between 1 and 8")
    page.wait_for_function("() => /^Levels must be/.test(document.querySelector('#plan').textContent)")  # before too
    page.close()


def test_the_gallery_updates_in_place_and_keeps_the_focus(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    start_and_finish(page, server)  # a finished card to hold the focus
    page.fill("input[name=steps]", "2000")
    page.click("#start")
    page.wait_for_function("() => /step \\d+ of/.test(document.querySelector('#status').textContent)", timeout=60_000)
    running = page.evaluate("location.hash").split("=")[1]
    page.wait_for_selector(f".card[data-run='{running}']", timeout=15_000)
    page.locator(".card").nth(1).locator(".open").focus()
    page.evaluate("() => { window.__card = document.querySelectorAll('.card')[1]; }")
    # two refreshes of the gallery (every 4 s during a run): the running card's picture moves on in place
    page.wait_for_selector(f".card[data-run='{running}'] img", timeout=60_000)
    src = page.get_attribute(f".card[data-run='{running}'] img", "src")
    page.wait_for_function(f"() => document.querySelector(\".card[data-run='{running}'] img\").getAttribute('src') "
                           f"!== {src!r}", timeout=30_000)
    page.wait_for_timeout(4_500)
    assert page.evaluate("() => document.activeElement === window.__card.querySelector('.open')")
    assert page.evaluate("() => window.__card.isConnected")
    server.post(f"/api/runs/{running}/cancel", {})
    page.wait_for_selector(f".card[data-run='{running}'] .badge.cancelled", timeout=60_000)
    assert page.evaluate("() => document.activeElement === window.__card.querySelector('.open')")
    page.close()


def test_delete_asks_first_and_clears_the_stage(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    run = start_and_finish(page, server)
    card = page.locator(f".card[data-run='{run['id']}']")
    card.locator(".delete").click()
    assert card.locator(".confirm").is_visible() and server.get(f"/api/runs/{run['id']}")  # nothing deleted yet
    card.locator(".no").click()  # kept
    assert card.locator(".delete").is_visible() and not card.locator(".confirm").is_visible()
    assert page.is_visible("#download")
    card.locator(".delete").click()
    card.locator(".yes").click()
    page.wait_for_selector(f".card[data-run='{run['id']}']", state="detached")
    for selector in ("#download", "#share", "#reuse", "#preview"):  # no link to what is gone
        assert not page.is_visible(selector), selector
    assert "Deleted" in page.inner_text("#status") and "#run=" not in page.url
    page.close()


def test_the_bar_reaches_100_only_when_done_after_a_saving_phase(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    page.evaluate("""() => { window.__log = [];
        const note = () => window.__log.push([document.querySelector('#progress').getAttribute('aria-valuenow'),
                                              document.querySelector('#status').textContent]);
        new MutationObserver(note).observe(document.querySelector('#stage'),
            { subtree: true, childList: true, characterData: true, attributes: true }); }""")
    start_and_finish(page, server)
    log = page.evaluate("window.__log")
    done = next(i for i, (_, text) in enumerate(log) if text.startswith("done"))
    assert all(value != "100" for value, _ in log[:done] if value is not None)
    assert any(text == "saving the picture…" for _, text in log[:done])
    page.wait_for_function("() => document.querySelector('#progress').getAttribute('aria-valuenow') === '100'")
    page.close()


def test_a_new_run_draws_a_new_seed_after_a_reload_or_open(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    page.fill("input[name=seed]", "")  # not fixed
    first = start_and_finish(page, server)
    page.reload()
    page.wait_for_function("() => document.querySelector('select[name=size]').options.length > 0")
    assert page.input_value("input[name=seed]") == ""
    page.locator(f".card[data-run='{first['id']}'] .open").click()
    assert page.input_value("input[name=seed]") == ""
    assert f"({first['settings']['seed']})" in page.inner_text("#reuse-seed")  # repeating it is a choice
    second = start_and_finish(page, server)
    assert second["settings"]["seed"] != first["settings"]["seed"]
    page.fill("input[name=seed]", "7")  # a seed the user fixed stays fixed
    page.dispatch_event("input[name=seed]", "change")
    page.reload()  # the link still names the second run: opening it keeps the seed the user typed
    offered = f"({second['settings']['seed']})"
    page.wait_for_function(f"() => document.querySelector('#reuse-seed').textContent.includes('{offered}')")
    assert page.input_value("input[name=seed]") == "7"
    page.close()


def test_one_cancel_button_and_the_actions_fit_a_laptop_screen(server: Server, browser: Any) -> None:
    page = ready_page(server, browser)
    page.fill("input[name=steps]", "2000")
    page.click("#start")
    page.wait_for_function("() => /step \\d+ of/.test(document.querySelector('#status').textContent)", timeout=60_000)
    cancels = [b for b in page.locator("button:visible").all() if re.search("cancel", b.inner_text(), re.I)]
    assert len(cancels) == 1
    assert inside(page, "#cancel", LAPTOP) and inside(page, "#status", LAPTOP)
    shot(page, "laptop-running")
    page.click("#cancel")
    page.wait_for_function("() => /^cancelled/.test(document.querySelector('#status').textContent)", timeout=60_000)
    page.fill("input[name=steps]", "2")
    start_and_finish(page, server)
    assert inside(page, "#download", LAPTOP) and inside(page, "#share", LAPTOP)
    assert page.inner_text("#download") == "Download PNG"
    page.close()


def test_the_time_and_memory_are_said_before_start(server: Server, browser: Any) -> None:
    page = fresh_page(server, browser)
    sizes = page.eval_on_selector_all("select[name=size] option", "os => os.map(o => o.value)")
    texts = []
    for size in (sizes[0], sizes[-1]):
        page.select_option("select[name=size]", size)
        page.wait_for_function(f"() => new RegExp('at {size}').test(document.querySelector('#plan').textContent)")
        text = page.inner_text("#plan")
        assert re.search(r"about \d+ (s|min|h)", text) and re.search(r"[\d.]+ (MB|GB) memory", text), text
        texts.append((float(page.get_attribute("#plan", "data-seconds")),
                      float(page.get_attribute("#plan", "data-bytes"))))
    assert texts[1][0] > texts[0][0] and texts[1][1] > texts[0][1]
    if int(sizes[-1]) >= 2048:  # a long run is marked as such
        assert "warn" in page.get_attribute("#plan", "class")
    page.close()


def test_no_request_of_the_page_fails_the_favicon_included(server: Server, browser: Any) -> None:
    for viewport in (LAPTOP, PHONE):
        page = browser.new_page(viewport=viewport)
        failed: list[str] = []
        page.on("response", lambda r, failed=failed: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        page.goto(server.url)
        page.wait_for_function("() => document.querySelector('#plan').textContent.length > 0")
        page.wait_for_load_state("networkidle")
        assert failed == []
        icon = page.evaluate("fetch('/favicon.ico').then(r => r.status)")
        assert icon == 200 and page.get_attribute("link[rel=icon]", "href") == "/static/favicon.svg"
        page.close()


def test_a_clip_keeps_its_size_shows_its_first_frame_forming_and_plays(server: Server, browser: Any,
                                                                       tmp_path: Path) -> None:
    require("av")
    from ..test_video import make_clip, pan

    clip = tmp_path / "walk.mp4"
    make_clip(clip, [f.resize((96, 64)) for f in pan(3)], 8, audio=False)
    page = ready_page(server, browser)
    page.set_input_files("[data-testid=content-file]", str(clip))
    page.wait_for_function("() => /walk\\.mp4 \\(3 frames\\)/.test(document.querySelector('#drop-content')"
                           ".getAttribute('aria-label'))", timeout=30_000)
    assert page.input_value("select[name=size]") == "96"  # the clip's own size, not 512
    page.fill("input[name=steps]", "2")
    seen = []
    page.expose_function("note", lambda text, alt: seen.append((text, alt)))
    page.evaluate("""() => new MutationObserver(() => window.note(document.querySelector('#status').textContent,
        document.querySelector('#preview').alt)).observe(document.querySelector('#stage'),
        { childList: true, characterData: true, subtree: true, attributes: true })""")
    run = start_and_finish(page, server)
    assert run["settings"]["size"] == 96
    first = [i for i, (text, alt) in enumerate(seen) if text.startswith("frame 1 of 3: step")]
    done1 = next(i for i, (text, _) in enumerate(seen) if text.startswith("frame 1 of 3 done"))
    assert first and first[0] < done1  # the first frame is seen as it forms, with its steps
    assert any(alt == "the first frame so far" for _, alt in seen[:done1])
    words = " ".join(text for text, _ in seen) + page.inner_text("#status")
    assert "frames/s" not in words and "warping" not in words and "e-" not in words
    assert re.search(r"flicker between frames [\d.]+ % \(lower is steadier\)", page.inner_text("#status"))
    page.wait_for_selector("#player:not([hidden])")
    assert page.get_attribute("#player", "src").endswith(f"/api/runs/{run['id']}/video")
    page.wait_for_function("() => document.querySelector('#player').readyState >= 1", timeout=30_000)
    assert page.evaluate("document.querySelector('#player').duration") > 0  # the browser reads the MP4
    shot(page, "clip-done")
    page.close()
