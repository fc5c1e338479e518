"""The page at ``GET /`` in a real headless chromium (selenium): query, hits, paths, graph."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.facade import HippoRAG
from tests.service_helpers import ROOT, Server

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "tests" / "artifacts"
QUESTION = "Who directed the film that won the Golden Heron Award in 1987?"


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip(
            "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    return browser, driver


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary, driver = _chromium()
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        opts.add_argument(arg)
    b = webdriver.Chrome(service=Service(driver), options=opts)
    yield b
    b.quit()


@pytest.fixture(scope="module")
def server(demo_index_path, tmp_path_factory):
    srv = Server(str(demo_index_path), log=tmp_path_factory.mktemp("page") / "server.log")
    yield srv
    srv.stop()


def test_page_queries_and_draws_the_neighbourhood(browser, server, demo_index_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(server.url + "/")
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#mode option")) > 0)
    assert "generation" in browser.find_element(By.ID, "meta").text
    Select(browser.find_element(By.ID, "mode")).select_by_value("hipporag2")
    k = browser.find_element(By.ID, "k")
    k.clear()
    k.send_keys("4")
    browser.find_element(By.ID, "query").send_keys(QUESTION)
    browser.find_element(By.ID, "search").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".hit")) == 4)

    want = HippoRAG.open(demo_index_path).retrieve(QUESTION, k=4, mode="hipporag2")
    hits = browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert [h.get_attribute("data-passage") for h in hits] == want.passage_ids
    assert hits[0].find_element(By.CSS_SELECTOR, ".title").text == want[0].title
    chips = hits[0].find_elements(By.CSS_SELECTOR, ".path .chip")
    assert [c.text for c in chips] == want[0].explanation.path

    # the first hit's neighbourhood is drawn: the passage, its entities, linked passages
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#svg .node.entity")) > 0)
    index = HippoRAG.open(demo_index_path).index
    pidx = index.passage_index()[want[0].passage_id]
    n_ents = len(index.entities_of_passages([pidx])[pidx])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#svg .node.entity")) == min(12, n_ents)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#svg .node.center")) == 1
    assert browser.find_elements(By.CSS_SELECTOR, "#svg .node.linked")
    assert browser.find_elements(By.CSS_SELECTOR, "#svg line")

    # another hit's graph on demand
    hits[1].find_element(By.CSS_SELECTOR, "button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "graph-title"), want[1].title))

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "service_page.png"
    hits[0].find_element(By.CSS_SELECTOR, "button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "graph-title"), want[0].title))
    assert browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert Path(shot).stat().st_size > 10_000

    # bad input shows the service's one-line error
    f = browser.find_element(By.ID, "filters")
    f.send_keys('{"year": {"bogus": 1}}')
    browser.find_element(By.ID, "search").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "unknown operator"))
