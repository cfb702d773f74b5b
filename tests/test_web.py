"""End-to-end behaviour of the web UI: the real API (uvicorn in a thread) over a real index of
the sample media, driven in headless Chromium. No mocks anywhere."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from sceneseek import Config, Library
from sceneseek.api import ApiSettings, create_app
from sceneseek.eval.assets import AssetCache
from sceneseek.eval.samples import SampleSet
from sceneseek.index.keys import KeyStore
from sceneseek.library import IndexReport

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"  # given explicitly, so Selenium Manager never runs
ARTIFACTS = Path(__file__).parent / "artifacts"
# Quiet flags matter: without the background-networking ones Chromium keeps dialling out.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
    "--window-size=1440,1000",
]
WAIT = 60.0  # seconds; the first query loads the models


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    db: Path, settings: ApiSettings | None = None, config: Config | None = None
) -> Iterator[str]:
    """The API and UI over the index at ``db``, served by uvicorn on a free localhost port
    in a background thread; yields the base URL."""
    library = Library(db, config)
    config = uvicorn.Config(
        create_app(library, settings), host="127.0.0.1", port=free_port(), log_level="warning"
    )
    uvi = uvicorn.Server(config)
    thread = threading.Thread(target=uvi.run, name="sceneseek-web-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvi.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        uvi.should_exit = True
        thread.join(timeout=15)
        library.close()


@pytest.fixture(scope="module")
def server(
    indexed: tuple[Path, IndexReport], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The app on a copy of the session index, so feedback written here cannot leak into
    other tests."""
    source, _ = indexed
    db = tmp_path_factory.mktemp("web") / "lib"
    shutil.copytree(source, db)
    with serve(db) as url:
        yield url


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """Headless Chromium driven by Selenium, with a throw-away profile."""
    profile = tempfile.mkdtemp(prefix="sceneseek-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


@pytest.fixture
def page(server: str, browser: WebDriver) -> WebDriver:
    """A freshly loaded search page with the health check answered."""
    browser.get(f"{server}/")
    wait_for(browser, lambda d: "segments" in d.find_element(By.ID, "health").text)
    return browser


def wait_for(driver: WebDriver, condition: Any, timeout: float = WAIT) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def search(driver: WebDriver, query: str) -> None:
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys(query)
    submit_and_wait(driver, lambda: driver.find_element(By.ID, "search").click())


def submit_and_wait(driver: WebDriver, submit: Any) -> None:
    """Run ``submit`` and wait until the page has shown its answer (results or a message)."""
    updates = "return Number(document.body.dataset.updates || 0)"
    before = driver.execute_script(updates)
    submit()
    wait_for(driver, lambda d: d.execute_script(updates) > before)


def first_result(driver: WebDriver) -> WebElement:
    results = driver.find_elements(By.CSS_SELECTOR, ".result")
    message = driver.find_element(By.ID, "message")
    assert results, f"no results; message: {message.text!r}"
    return results[0]


def assert_is_cat_moment(card: WebElement, samples: SampleSet) -> None:
    cat = samples.find("photos.mp4", "cat")
    assert card.get_attribute("data-video") == "photos.mp4"
    start = float(card.get_attribute("data-start") or "nan")
    end = float(card.get_attribute("data-end") or "nan")
    shown = min(end, cat.end) - max(start, cat.start)
    assert shown >= 0.5 * min(cat.end - cat.start, end - start), (start, end, cat)


def test_text_search_shows_the_cat_and_plays_it_from_its_start(
    page: WebDriver, samples: SampleSet
) -> None:
    search(page, "a cat")
    card = first_result(page)
    assert_is_cat_moment(card, samples)
    # The card explains itself: file, time range, score and the visual labels.
    assert card.find_element(By.CSS_SELECTOR, ".file").text == "photos.mp4"
    assert card.find_element(By.CSS_SELECTOR, ".time").text.startswith("00:00:")
    assert "cat" in card.find_element(By.CSS_SELECTOR, ".ev-visual").text
    thumb = card.find_element(By.CSS_SELECTOR, "img.thumb")
    wait_for(page, lambda d: d.execute_script("return arguments[0].naturalWidth > 0", thumb))

    start = float(card.get_attribute("data-start") or "nan")
    card.find_element(By.CSS_SELECTOR, ".thumb").click()
    player_at = (
        "const p = document.getElementById('player');"
        "return p.readyState >= 1 && !p.seeking && p.currentTime > 0 ? p.currentTime : null;"
    )
    at = wait_for(page, lambda d: d.execute_script(player_at))
    assert abs(at - start) <= 1.0, (at, start)
    src = page.execute_script("return document.getElementById('player').currentSrc")
    video_id = card.get_attribute("data-video-id")
    assert src.endswith(f"/api/videos/{video_id}/media")
    # It plays on from there (and the frame is painted before the screenshot).
    playing = "return document.getElementById('player').currentTime > arguments[0] + 0.3"
    wait_for(page, lambda d: d.execute_script(playing, at))
    ARTIFACTS.mkdir(exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "results.png"))  # the results page, player open


@pytest.mark.parametrize(
    ("query", "file", "modality", "shown"),
    [
        ("the man says the shipment is late", "speech.mp4", "speech", "shipment will arrive late"),
        ("the sign that says gate closed", "photos.mp4", "ocr", "“GATE 7 CLOSED”"),
    ],
)
def test_cards_explain_what_was_said_and_read(
    page: WebDriver, query: str, file: str, modality: str, shown: str
) -> None:
    search(page, query)
    card = first_result(page)
    assert card.get_attribute("data-video") == file
    assert shown in card.find_element(By.CSS_SELECTOR, f".ev-{modality}").text


def test_a_filter_that_matches_nothing_says_so(page: WebDriver) -> None:
    page.find_element(By.ID, "camera").send_keys("cam-nowhere")
    search(page, "a cat")
    assert not page.find_elements(By.CSS_SELECTOR, ".result")
    message = page.find_element(By.ID, "message").text
    assert "No moments match" in message and "filter" in message


def test_a_date_range_filters_the_results(page: WebDriver) -> None:
    # The sample videos were indexed without a wall-clock start, so no window holds them.
    page.execute_script("document.getElementById('after').value = '2026-11-01T00:00'")
    search(page, "a cat")
    assert not page.find_elements(By.CSS_SELECTOR, ".result")
    assert "No moments match" in page.find_element(By.ID, "message").text
    page.find_element(By.ID, "clear-filters").click()
    assert page.find_element(By.ID, "after").get_attribute("value") == ""


def test_weekdays_filter_the_results_and_a_bad_one_is_explained(page: WebDriver) -> None:
    # No wall-clock times in the sample index: no segment falls on any weekday.
    page.find_element(By.ID, "weekdays").send_keys("mon-fri")
    search(page, "a cat")
    assert not page.find_elements(By.CSS_SELECTOR, ".result")
    assert "No moments match" in page.find_element(By.ID, "message").text
    page.find_element(By.ID, "weekdays").clear()
    page.find_element(By.ID, "weekdays").send_keys("someday")
    search(page, "a cat")
    assert "someday" in page.find_element(By.ID, "message").text
    page.find_element(By.ID, "clear-filters").click()
    assert page.find_element(By.ID, "weekdays").get_attribute("value") == ""


def test_filters_read_from_the_words_are_chips_the_user_can_remove(page: WebDriver) -> None:
    # The sample index has cam-01 but no wall-clock times, so "at night" matches nothing.
    search(page, "a cat on camera 1 at night")
    chips = [c.text for c in page.find_elements(By.CSS_SELECTOR, "#chips .chip")]
    assert any("cam-01" in c for c in chips) and any("night" in c for c in chips)
    assert not page.find_elements(By.CSS_SELECTOR, ".result")
    night = next(
        c for c in page.find_elements(By.CSS_SELECTOR, "#chips .chip") if "night" in c.text
    )
    submit_and_wait(page, night.click)
    assert first_result(page).get_attribute("data-video").endswith("photos.mp4")
    assert page.find_element(By.ID, "camera").get_attribute("value") == "cam-01"
    assert page.find_element(By.ID, "query").get_attribute("value") == "a cat"
    assert not page.find_elements(By.CSS_SELECTOR, "#chips .chip")


def test_a_translated_query_shows_its_translation_as_a_chip_the_user_can_remove(
    page: WebDriver,
) -> None:
    search(page, "el envío llegará tarde el viernes")
    (chip,) = page.find_elements(By.CSS_SELECTOR, "#chips .chip.translation")
    assert chip.text.startswith("es → en:") and "Friday" in chip.text
    assert first_result(page).get_attribute("data-video") == "speech.mp4"
    submit_and_wait(page, chip.click)
    assert not page.find_elements(By.CSS_SELECTOR, "#chips .chip")
    assert page.find_element(By.ID, "query").get_attribute("value") == (
        "el envío llegará tarde el viernes"
    )


def test_a_bad_time_of_day_is_explained(page: WebDriver) -> None:
    page.find_element(By.ID, "time-of-day").send_keys("late evening")
    search(page, "a cat")
    assert "HH:MM-HH:MM" in page.find_element(By.ID, "message").text


def test_weaker_matches_are_collapsed_behind_a_toggle(
    indexed: tuple[Path, IndexReport], browser: WebDriver, tmp_path: Path, samples: SampleSet
) -> None:
    db = tmp_path / "lib"
    shutil.copytree(indexed[0], db)
    library = Library(db)
    scores = [m.score for m in library.search("a cat", top_k=10).results]
    library.close()
    fraction = (1 + scores[-1] / scores[0]) / 2  # of the top score: keeps the cat, drops the last
    cutoff = Config(search={"cutoff": 0.0, "cutoff_fraction": fraction})  # type: ignore[arg-type]
    with serve(db, config=cutoff) as url:
        browser.get(f"{url}/")
        wait_for(browser, lambda d: "segments" in d.find_element(By.ID, "health").text)
        search(browser, "a cat")
        strong = browser.find_elements(By.CSS_SELECTOR, "#results .result")
        weak = browser.find_elements(By.CSS_SELECTOR, "#weak-results .result")
        assert len(strong) == sum(s >= fraction * scores[0] for s in scores) and len(weak) >= 1
        assert_is_cat_moment(strong[0], samples)
        assert not any(card.is_displayed() for card in weak)
        toggle = browser.find_element(By.ID, "show-weaker")
        noun = "match" if len(weak) == 1 else "matches"
        assert toggle.is_displayed() and toggle.text == f"Show {len(weak)} weaker {noun}"
        assert (
            f"{len(weak)} weaker below the cut-off" in browser.find_element(By.ID, "summary").text
        )
        toggle.click()
        assert all(card.is_displayed() for card in weak)
        assert toggle.get_attribute("aria-expanded") == "true" and toggle.text.startswith("Hide")
        toggle.click()
        assert not any(card.is_displayed() for card in weak)
    # A model that finds no evidence anywhere: no good match at all.
    nothing = {"cutoff_model": {"bias": -10.0, "weights": {}}}
    with serve(db, config=Config(search=nothing)) as url:  # type: ignore[arg-type]
        browser.get(f"{url}/")
        wait_for(browser, lambda d: "segments" in d.find_element(By.ID, "health").text)
        search(browser, "a cat")
        assert not browser.find_elements(By.CSS_SELECTOR, "#results .result")
        assert browser.find_elements(By.CSS_SELECTOR, "#weak-results .result")
        assert browser.find_element(By.ID, "summary").text.startswith("No good match")
        assert browser.find_element(By.ID, "show-weaker").is_displayed()


def test_image_upload_finds_the_cat(page: WebDriver, samples: SampleSet) -> None:
    photo = AssetCache().skimage_images()["chelsea"].path
    upload = page.find_element(By.ID, "image-input")
    submit_and_wait(page, lambda: upload.send_keys(str(Path(photo).resolve())))
    assert_is_cat_moment(first_result(page), samples)


def test_dropping_a_picture_on_the_page_searches_by_it(page: WebDriver, samples: SampleSet) -> None:
    search(page, "a cat")
    segment = first_result(page).get_attribute("data-segment-id")
    # A real drop event carrying a real JPEG: the cat moment's own thumbnail.
    drop = """
        const [segment, done] = arguments;
        fetch(`/api/segments/${segment}/thumbnail.jpg`).then(r => r.blob()).then(blob => {
          const data = new DataTransfer();
          data.items.add(new File([blob], "cat.jpg", {type: "image/jpeg"}));
          document.body.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
          done();
        });
    """
    submit_and_wait(page, lambda: page.execute_async_script(drop, segment))
    assert "look like cat.jpg" in page.find_element(By.ID, "summary").text
    assert_is_cat_moment(first_result(page), samples)


def test_uploads_that_are_not_images_are_refused_politely(
    page: WebDriver, samples: SampleSet, tmp_path: Path
) -> None:
    upload = page.find_element(By.ID, "image-input")
    # The browser calls an .mp4 a video, so the page refuses it before any upload ...
    submit_and_wait(page, lambda: upload.send_keys(str(samples.photos.resolve())))
    assert "not an image" in page.find_element(By.ID, "message").text
    # ... while a file that only claims to be a PNG reaches the server, which refuses it.
    fake = tmp_path / "holiday.png"
    fake.write_text("not really a picture")
    submit_and_wait(page, lambda: upload.send_keys(str(fake)))
    assert "not an image" in page.find_element(By.ID, "message").text
    assert not page.find_elements(By.CSS_SELECTOR, ".result")


def test_more_like_this_refines_the_query_with_the_marks(page: WebDriver) -> None:
    marked_before = len(feedback(page))  # other tests may have marked the shared index
    search(page, "a cat")
    cat = first_result(page)
    cat_segment = int(cat.get_attribute("data-segment-id") or "0")
    submit_and_wait(page, lambda: cat.find_element(By.CSS_SELECTOR, ".more-like-this").click())
    # The same query again, moved toward the marked moment (not a similar-segment search).
    assert "for “a cat”, refined by 1 mark" in page.find_element(By.ID, "summary").text
    assert segment_ids(page)[0] == cat_segment
    weaker = page.find_elements(By.ID, "show-weaker")
    if weaker and weaker[0].is_displayed():  # the wrong ones may sit below the cut-off
        weaker[0].click()
    wrong = page.find_elements(By.CSS_SELECTOR, ".result")[-1]
    wrong_segment = int(wrong.get_attribute("data-segment-id") or "0")
    wrong.find_element(By.CSS_SELECTOR, ".not-this").click()
    wait_for(page, lambda d: "dismissed" in (wrong.get_attribute("class") or ""))
    best = first_result(page)
    submit_and_wait(page, lambda: best.find_element(By.CSS_SELECTOR, ".more-like-this").click())
    assert "refined by 2 marks" in page.find_element(By.ID, "summary").text
    assert wrong_segment not in segment_ids(page)  # "not this" leaves the refined list
    wait_for(page, lambda d: len(feedback(d)) == marked_before + 3)
    marks = {(m["query"], m["segment_id"], m["relevant"]) for m in feedback(page)}
    assert ("a cat", cat_segment, True) in marks and ("a cat", wrong_segment, False) in marks
    # "Similar" is still there: moments like this one, whatever the query.
    similar = first_result(page)
    submit_and_wait(page, lambda: similar.find_element(By.CSS_SELECTOR, ".similar").click())
    assert "moments like photos.mp4" in page.find_element(By.ID, "summary").text


def segment_ids(driver: WebDriver) -> list[int]:
    cards = driver.find_elements(By.CSS_SELECTOR, ".result")
    return [int(c.get_attribute("data-segment-id") or "0") for c in cards]


def feedback(driver: WebDriver) -> list[dict[str, Any]]:
    script = "return fetch('/api/feedback').then(r => r.json())"
    return list(driver.execute_script(script))


def test_library_lists_videos_and_runs_an_ingest_job(page: WebDriver, samples: SampleSet) -> None:
    # The page re-renders these lists as it polls, so read their text in one go.
    def texts(selector: str) -> list[str]:
        script = "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)"
        return list(page.execute_script(script, selector))

    page.find_element(By.ID, "tab-library").click()
    files = wait_for(page, lambda d: texts("#videos tr.video td.file"))
    assert sorted(files) == ["photos.mp4", "silent.mp4", "speech.mp4"]
    page.find_element(By.ID, "ingest-paths").send_keys(str(samples.silent.resolve()))
    page.find_element(By.ID, "ingest").click()
    done = wait_for(page, lambda d: texts("#jobs .job.status-done"), timeout=120)
    assert "1 / 1 files" in done[0] and "1 unchanged" in done[0]


def test_a_running_job_can_be_cancelled_from_the_library(
    page: WebDriver, samples: SampleSet, tmp_path: Path
) -> None:
    for n in range(3):
        shutil.copy(samples.silent, tmp_path / f"copy{n}.mp4")
    page.find_element(By.ID, "tab-library").click()
    page.find_element(By.ID, "ingest-paths").send_keys(str(tmp_path))
    page.find_element(By.ID, "ingest").click()
    cancel = "#jobs .job.status-running .job-cancel, #jobs .job.status-queued .job-cancel"
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, cancel), timeout=60)
    page.execute_script("document.querySelector(arguments[0]).click()", cancel)
    # The list re-renders as it polls: read it in one script, not through stale elements.
    stopped = "const j = document.querySelector('#jobs .job.status-cancelled');"
    stopped += " return j ? j.textContent + (j.querySelector('.job-cancel') ? '+button' : '') : ''"
    shown = wait_for(page, lambda d: d.execute_script(stopped), timeout=120)
    assert "cancelled" in shown and "+button" not in shown


def test_an_empty_index_says_how_to_fill_it(browser: WebDriver, tmp_path: Path) -> None:
    with serve(tmp_path / "empty-lib") as url:
        browser.get(f"{url}/")
        wait_for(browser, lambda d: "0 videos" in d.find_element(By.ID, "health").text)
        assert "index is empty" in browser.find_element(By.ID, "message").text
        search(browser, "a cat")
        assert not browser.find_elements(By.CSS_SELECTOR, ".result")
        assert "index is empty" in browser.find_element(By.ID, "message").text


def test_library_lists_fired_alerts(page: WebDriver, samples: SampleSet, tmp_path: Path) -> None:
    created = page.execute_script(
        "return fetch('/api/alerts', {method: 'POST', headers: {'Content-Type': "
        "'application/json'}, body: JSON.stringify({query: 'weasels ate the phone system'})})"
        ".then(r => r.status)"
    )
    assert created == 201
    copy = tmp_path / "weasels.mp4"
    shutil.copy(samples.speech, copy)
    page.find_element(By.ID, "tab-library").click()
    page.find_element(By.ID, "ingest-paths").send_keys(str(copy))
    page.find_element(By.ID, "ingest").click()

    def fired(driver: WebDriver) -> bool:
        return "weasels ate the phone system" in driver.find_element(By.ID, "alert-events").text

    wait_for(page, fired, timeout=120)


def test_a_server_with_keys_asks_for_one_and_media_loads_with_it(
    browser: WebDriver, indexed: tuple[Path, IndexReport], tmp_path: Path
) -> None:
    db = tmp_path / "lib"
    shutil.copytree(indexed[0], db)
    keys = KeyStore(db)
    key = keys.add("read", "browser")
    try:
        with serve(db, ApiSettings(keys=keys)) as url:
            browser.get(f"{url}/")
            prompt = wait_for(browser, expected_conditions.alert_is_present())
            assert "API key" in prompt.text
            prompt.send_keys(key)
            prompt.accept()
            wait_for(browser, lambda d: "segments" in d.find_element(By.ID, "health").text)
            search(browser, "a cat")
            # <img> cannot send headers: the thumbnail loads through the key's cookie.
            thumb = first_result(browser).find_element(By.CSS_SELECTOR, "img.thumb")
            loaded = "return arguments[0].complete && arguments[0].naturalWidth > 0"
            wait_for(browser, lambda d: d.execute_script(loaded, thumb))
            # The server set that cookie HttpOnly: no script on the page can read the key.
            assert key not in browser.execute_script("return document.cookie")
            cookie = next(c for c in browser.get_cookies() if c["name"] == "sceneseek_key")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    finally:
        browser.delete_all_cookies()
        keys.close()


def click_at(driver: WebDriver, element: WebElement, x: float, y: float) -> None:
    """A real mouse click at (x, y) in fractions of the element's box."""
    box = element.rect
    dx, dy = round((x - 0.5) * box["width"]), round((y - 0.5) * box["height"])
    ActionChains(driver).move_to_element_with_offset(element, dx, dy).click().perform()


def test_a_zone_is_drawn_by_clicking_over_the_camera_frame_saved_listed_and_removed(
    page: WebDriver,
) -> None:
    zones = "return fetch('/api/cameras/cam-01/zones').then(r => r.json())"
    page.find_element(By.ID, "tab-zones").click()
    frame = page.find_element(By.ID, "zone-frame")
    loaded = "return arguments[0].complete && arguments[0].naturalWidth > 0"
    wait_for(page, lambda d: d.execute_script(loaded, frame))  # a frame of the sample camera
    assert page.find_element(By.ID, "zone-camera").get_attribute("value") == "cam-01"
    canvas = page.find_element(By.ID, "zone-canvas")
    name, typed = page.find_element(By.ID, "zone-name"), page.find_element(By.ID, "zone-points")
    save = page.find_element(By.ID, "zone-save")
    # The server's refusal is shown: a corner typed outside the frame.
    typed.send_keys("0.1,0.1 1.5,0.1 0.5,0.5")
    name.send_keys("gate")
    submit_and_wait(page, save.click)
    assert "not in frame fractions" in page.find_element(By.ID, "message").text
    page.find_element(By.ID, "zone-clear").click()
    assert typed.get_attribute("value") == ""

    corners = [(0.55, 0.2), (0.95, 0.25), (0.9, 0.9), (0.5, 0.8)]
    for x, y in corners:
        click_at(page, canvas, x, y)
    clicked = pytest.approx([c for corner in corners for c in corner], abs=0.01)
    shown = (typed.get_attribute("value") or "").replace(",", " ").split()
    assert [float(c) for c in shown] == clicked
    assert len(page.find_elements(By.CSS_SELECTOR, "#zone-canvas .zone-corner")) == 4
    submit_and_wait(page, save.click)
    assert "saved for cam-01" in page.find_element(By.ID, "message").text
    (item,) = page.find_elements(By.CSS_SELECTOR, "#zone-list .zone-item")
    assert item.get_attribute("data-zone") == "gate" and "4 corners" in item.text.lower()
    (saved,) = page.execute_script(zones)["zones"]
    assert saved["name"] == "gate" and [c for p in saved["points"] for c in p] == clicked
    assert page.find_elements(By.CSS_SELECTOR, "#zone-canvas .zone-shape[data-zone='gate']")
    assert page.find_element(By.CSS_SELECTOR, "#zone-labels .zone-label").text == "gate"
    for x, y in [(0.1, 0.6), (0.3, 0.55), (0.35, 0.95)]:  # a second one, being drawn
        click_at(page, canvas, x, y)
    ARTIFACTS.mkdir(exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "zones.png"))
    page.find_element(By.ID, "zone-clear").click()

    remove = item.find_element(By.CSS_SELECTOR, ".zone-remove")
    submit_and_wait(page, remove.click)
    assert "No zones drawn" in page.find_element(By.ID, "zone-list").text
    assert page.execute_script(zones)["zones"] == []
    assert not page.find_elements(By.CSS_SELECTOR, "#zone-canvas .zone-shape")
