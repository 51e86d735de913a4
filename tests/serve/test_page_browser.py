"""The search page in a real browser: Debian's chromium and chromium-driver driven by selenium against a live server.

Screenshots of each state are saved under $TMPDIR (photoseek-page-*.png) and checked not blank.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import Request, urlopen

import pytest
from PIL import Image, ImageStat
from serve_data import LOCAL, png, serve_settings

from live import live_server
from photoseek.retrieval.encoder import ClipEncoder
from photoseek.serve import create_app

INSTALL_HINT = "needs chromium and its driver: apt-get install -y chromium chromium-driver (and pip install selenium)"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # pragma: no cover - the skip below says what to install
    webdriver = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(webdriver is None or not CHROMIUM or not DRIVER, reason=INSTALL_HINT),
]
SHOTS = Path(tempfile.gettempdir())
WAIT = 20


@pytest.fixture(scope="module")
def base_url(
    collection: dict[str, Any], tiny_clip_dir: Path, encoder: ClipEncoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser-data")
    shutil.copytree(collection["data"], folder / "qdrant")
    settings = serve_settings(folder / "qdrant", tiny_clip_dir, collection["photos"])
    with live_server(create_app(settings, encoder=encoder)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # type: ignore[assignment]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, name: str) -> Path:
    """Save a screenshot under $TMPDIR and check that it shows something (not one flat colour)."""
    path = SHOTS / f"photoseek-page-{name}.png"
    assert driver.save_screenshot(str(path))
    with Image.open(path) as picture:
        grey = picture.convert("L")
        assert grey.size[0] >= 600
        assert ImageStat.Stat(grey).stddev[0] > 8, f"{path} looks blank"
        assert len(grey.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 16, f"{path} has almost no colours"
    return path


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any]) -> Any:
    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(condition)


def tiles(driver: WebDriver) -> list[str]:
    return [t.get_attribute("data-photo-id") or "" for t in driver.find_elements(By.CSS_SELECTOR, "#grid .tile")]


def settled(driver: WebDriver) -> bool:
    status = driver.find_element(By.ID, "status")
    return status.get_attribute("data-state") != "loading"


def results(driver: WebDriver) -> list[str]:
    """The tiles once the search has finished (and at least one is there)."""
    wait(driver, lambda d: settled(d) and tiles(d))
    return tiles(driver)


def images_loaded(driver: WebDriver) -> int:
    script = "return [...document.querySelectorAll('#grid img')].filter(i => i.complete && i.naturalWidth > 0).length"
    return int(driver.execute_script(script))


def test_text_search_filter_reload_and_more_like_this(browser: WebDriver, base_url: str) -> None:
    browser.get(base_url + "/")
    search_box = browser.find_element(By.ID, "q")
    browser.find_element(By.TAG_NAME, "body").click()
    browser.find_element(By.TAG_NAME, "body").send_keys("/")
    assert browser.switch_to.active_element == search_box  # "/" focuses the box
    search_box.send_keys("a red picture", Keys.ENTER)
    first = results(browser)
    assert len(first) == 11  # every photo of the collection, best first
    assert parse_qs(urlsplit(browser.current_url).query)["q"] == ["a red picture"]
    local = [t for t in first if t in LOCAL]
    wait(browser, lambda d: images_loaded(d) >= len(local))  # local thumbnails come from the service
    tile = browser.find_element(By.CSS_SELECTOR, "#grid .tile")
    assert float(tile.find_element(By.CSS_SELECTOR, ".score").text) <= 1.0
    shot(browser, "text")

    # A filter from the collection's own values (with counts) narrows the grid and goes into the URL.
    country = Select(browser.find_element(By.ID, "f-country"))
    wait(browser, lambda d: len(country.options) > 1)
    assert "Japan (2)" in [o.text for o in country.options]
    country.select_by_value("Japan")
    wait(browser, lambda d: settled(d) and sorted(tiles(d)) == ["trips/grey.jpg", "trips/orange.jpg"])
    filtered = tiles(browser)
    assert parse_qs(urlsplit(browser.current_url).query)["country"] == ["Japan"]
    shot(browser, "filtered")

    # The URL is the search: loading it again gives the same results, filter selected.
    browser.get(browser.current_url)
    assert results(browser) == filtered
    selected = Select(browser.find_element(By.ID, "f-country"))
    wait(browser, lambda d: selected.first_selected_option.get_attribute("value") == "Japan")
    assert browser.find_element(By.ID, "q").get_attribute("value") == "a red picture"

    # "More like this" on a tile: photos like it, itself left out, still in Japan.
    Select(browser.find_element(By.ID, "f-country")).select_by_value("")
    wait(browser, lambda d: settled(d) and len(tiles(d)) == 11)
    target = tiles(browser)[0]
    browser.find_elements(By.CSS_SELECTOR, "#grid .tile button.similar")[0].click()
    wait(browser, lambda d: "similar=" in d.current_url)
    similar = results(browser)
    assert target not in similar and len(similar) == 10
    assert parse_qs(urlsplit(browser.current_url).query)["similar"] == [target]
    assert browser.find_element(By.ID, "query-note").text.endswith(target)
    shot(browser, "similar")


def test_more_button_pages_through(browser: WebDriver, base_url: str) -> None:
    browser.get(base_url + "/?q=a+picture&n=4")
    assert len(results(browser)) == 4
    more = browser.find_element(By.ID, "more")
    assert more.is_displayed()
    more.click()
    wait(browser, lambda d: settled(d) and len(tiles(d)) == 8)
    browser.find_element(By.ID, "more").click()
    wait(browser, lambda d: settled(d) and len(tiles(d)) == 11)
    assert not browser.find_element(By.ID, "more").is_displayed()
    assert len(set(tiles(browser))) == 11  # no photo twice


def test_keyword_mode_from_the_selector(browser: WebDriver, base_url: str) -> None:
    browser.get(base_url + "/")
    browser.find_element(By.ID, "q").send_keys("volcano", Keys.ENTER)
    assert len(results(browser)) == 11  # the vector side ranks every photo
    # Keyword mode: only the photo whose keywords hold the word; the choice goes into the URL.
    Select(browser.find_element(By.ID, "f-mode")).select_by_value("keyword")
    wait(browser, lambda d: settled(d) and tiles(d) == ["red.png"])
    assert parse_qs(urlsplit(browser.current_url).query)["mode"] == ["keyword"]
    score = browser.find_element(By.CSS_SELECTOR, "#grid .tile .score")
    assert "BM25" in (score.get_attribute("title") or "")
    shot(browser, "keyword")
    browser.get(browser.current_url)  # the URL is the search, mode included
    assert results(browser) == ["red.png"]
    assert Select(browser.find_element(By.ID, "f-mode")).first_selected_option.get_attribute("value") == "keyword"
    browser.find_element(By.ID, "clear").click()  # Clear empties the filters, not the mode
    wait(browser, lambda d: settled(d) and tiles(d) == ["red.png"])


def api_ids(base_url: str, body: dict[str, Any]) -> list[str]:
    """The photo ids the service answers for a search body."""
    request = Request(base_url + "/v1/search", data=json.dumps(body).encode(), method="POST",
                      headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=WAIT) as response:
        return [hit["photo_id"] for hit in json.load(response)["hits"]]


def test_varied_results_box_sends_diversity_and_stays_in_the_url(browser: WebDriver, base_url: str) -> None:
    plain = api_ids(base_url, {"text": "a red picture", "limit": 24})
    varied = api_ids(base_url, {"text": "a red picture", "limit": 24, "diversity": 0.5})
    assert varied != plain  # MMR reorders this collection: the grid below can tell the two apart
    browser.get(base_url + "/?q=a+red+picture")
    assert results(browser) == plain
    box = browser.find_element(By.ID, "f-varied")
    assert not box.is_selected()
    box.click()
    wait(browser, lambda d: settled(d) and tiles(d) == varied)
    assert parse_qs(urlsplit(browser.current_url).query)["varied"] == ["1"]
    shot(browser, "varied")
    browser.get(browser.current_url)  # the URL is the search, the box included
    assert results(browser) == varied
    assert browser.find_element(By.ID, "f-varied").is_selected()
    browser.find_element(By.ID, "clear").click()  # Clear empties the filters, not the search options
    wait(browser, lambda d: settled(d) and tiles(d) == varied)
    assert browser.find_element(By.ID, "f-varied").is_selected()
    browser.find_element(By.ID, "f-dedupe").click()
    wait(browser, lambda d: "dedupe=1" in d.current_url and settled(d))
    assert tiles(browser) == varied  # no near-duplicates in this collection: nothing left out
    browser.find_element(By.ID, "f-varied").click()
    wait(browser, lambda d: settled(d) and "varied" not in d.current_url and tiles(d) == plain)


def test_min_score_above_one_in_keyword_mode(browser: WebDriver, base_url: str) -> None:
    browser.get(base_url + "/?q=volcano&mode=keyword&threshold=1.5")
    assert results(browser) == ["red.png"]
    assert float(browser.find_element(By.CSS_SELECTOR, "#grid .tile .score").text) > 1.5
    threshold = browser.find_element(By.ID, "f-threshold")
    assert threshold.get_attribute("value") == "1.5" and threshold.get_dom_attribute("max") is None
    assert browser.execute_script("return arguments[0].checkValidity()", threshold)
    Select(browser.find_element(By.ID, "f-mode")).select_by_value("vector")  # a cosine: capped at 1
    wait(browser, lambda d: d.find_element(By.ID, "f-threshold").get_dom_attribute("max") == "1")


def test_search_by_uploaded_image(browser: WebDriver, base_url: str, tmp_path: Path) -> None:
    picture = tmp_path / "query.png"
    picture.write_bytes(png(LOCAL["green.png"][0], (48, 64)))
    browser.get(base_url + "/")
    browser.find_element(By.ID, "pick").send_keys(str(picture))
    found = results(browser)
    assert found[0] == "green.png"
    assert "query.png" in browser.find_element(By.ID, "query-note").text
    shot(browser, "image")

    # With "Varied results" ticked, the upload goes with the diversity option: the service's varied order.
    encoded = base64.b64encode(picture.read_bytes()).decode()
    varied = api_ids(base_url, {"image": encoded, "limit": 24, "diversity": 0.5})
    assert varied != found
    browser.get(base_url + "/?varied=1")
    browser.find_element(By.ID, "pick").send_keys(str(picture))
    wait(browser, lambda d: settled(d) and tiles(d) == varied)


def test_no_good_match_and_error_states(browser: WebDriver, base_url: str) -> None:
    browser.get(base_url + "/?q=a+picture&threshold=0.9999")
    wait(browser, lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "no-match")
    status = browser.find_element(By.ID, "status")
    assert status.is_displayed() and "No good match" in status.text and "0.9999" in status.text
    assert tiles(browser) == []
    shot(browser, "no-match")

    browser.get(base_url + "/?q=a+picture&min_width=-5")
    wait(browser, lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "error")
    text = browser.find_element(By.ID, "status").text
    assert "min_width" in text  # the service's own message
    shot(browser, "error")


def test_screenshots_are_in_tmpdir() -> None:
    assert os.access(SHOTS, os.W_OK)
