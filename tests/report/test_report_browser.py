"""The HTML report in a real browser: headless Chromium (Debian's, via Playwright), fully offline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from actions.models import Click, Drag, Move, Scroll
from agent.recording.format import Recording, load_recording
from tests.conftest import run_cli
from tests.recording_samples import write_long_sample, write_sample

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
TOLERANCE_PX = 2.0


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is missing: apt-get install chromium"
    home = tmp_path_factory.mktemp("chromium-home")
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        yield b
        b.close()


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """8 steps at 1920x1080: click, drag, scroll, type, key, click, a failed drag (step 6), done."""
    return load_recording(write_sample(tmp_path_factory.mktemp("rec"), steps=8, distinct=4))


@pytest.fixture(scope="module")
def report(recording: Recording) -> Path:
    before = {p: p.stat().st_mtime_ns for p in recording.folder.rglob("*")}
    result = run_cli("show", str(recording.folder))
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path == recording.folder / "report.html" and path.is_file()
    after = {p: p.stat().st_mtime_ns for p in recording.folder.rglob("*")}
    assert {p: t for p, t in after.items() if p != path} == before  # nothing else written
    return path


class Network:
    """Every request the page makes; anything but file: and data: is aborted (and fails the test)."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    def offline(self) -> bool:
        return bool(self.urls) and all(u.startswith(("file:", "data:")) for u in self.urls)


@pytest.fixture
def page(browser: Browser, report: Path) -> Iterator[tuple[Page, Network]]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    network = Network(page)
    page.goto(report.as_uri())
    yield page, network
    page.close()


def _expected_points(recording: Recording, index: int) -> list[tuple[str, int, int]]:
    points: list[tuple[str, int, int]] = []
    for action in recording.steps[index].actions:
        match action:
            case Click(x=x, y=y) | Move(x=x, y=y) | Scroll(x=x, y=y):
                points.append((action.kind, x, y))
            case Drag(path=path):
                points += [("drag-start", path[0].x, path[0].y), ("drag-end", path[-1].x, path[-1].y)]
    return points


MEASURE = """(section) => {
  const shot = section.querySelector('.shot');
  const r = shot.getBoundingClientRect();
  const box = {left: r.left + shot.clientLeft, top: r.top + shot.clientTop, width: shot.clientWidth,
               height: shot.clientHeight, bg: getComputedStyle(shot).backgroundImage};
  const marks = [...shot.querySelectorAll('.mk')].map(m => {
    const b = m.getBoundingClientRect();
    return {kind: m.classList[1], cx: b.left + b.width / 2, cy: b.top + b.height / 2};
  });
  return {box, marks};
}"""


def test_every_step_renders_with_markers_on_the_recorded_points(page: tuple[Page, Network],
                                                                recording: Recording) -> None:
    pg, network = page
    sections = pg.locator("section.step")
    assert sections.count() == len(recording.steps) == 8
    checked = 0
    for i, step in enumerate(recording.steps):
        section = sections.nth(i)
        section.scroll_into_view_if_needed()
        assert section.get_attribute("id") == f"step-{step.index}"
        m = section.evaluate(MEASURE)
        box = m["box"]
        assert box["width"] > 600 and abs(box["width"] / box["height"] - 1920 / 1080) < 0.01
        assert box["bg"].startswith('url("data:image/jpeg;base64,')
        expected = _expected_points(recording, i)
        assert [k for k, _, _ in expected] == [mk["kind"] for mk in m["marks"]]
        for (kind, x, y), mark in zip(expected, m["marks"]):
            ex = box["left"] + (x - step.frame_origin.x) * box["width"] / 1920
            ey = box["top"] + (y - step.frame_origin.y) * box["height"] / 1080
            assert abs(mark["cx"] - ex) <= TOLERANCE_PX and abs(mark["cy"] - ey) <= TOLERANCE_PX, (i, kind, mark)
            checked += 1
    assert checked >= 6  # clicks, drags (start and end) and a scroll were all measured
    # every embedded frame decodes to a real, downscaled image
    sizes = pg.evaluate("""async () => {
      const urls = [...document.styleSheets[0].cssRules].map(r => r.style && r.style.backgroundImage)
        .filter(u => u && u.startsWith('url("data:image/jpeg')).map(u => u.slice(5, -2));
      return Promise.all(urls.map(async u => { const im = new Image(); im.src = u; await im.decode();
                                                return [im.naturalWidth, im.naturalHeight]; }));
    }""")
    assert sizes == [[1280, 720]] * 4
    assert network.offline(), network.urls


def test_keyboard_moves_between_steps(page: tuple[Page, Network]) -> None:
    pg, network = page

    def current() -> str:
        return str(pg.evaluate("document.body.dataset.current"))

    assert current() == "step-0"
    pg.keyboard.press("ArrowRight")
    assert current() == "step-1"
    pg.keyboard.press("ArrowRight")
    pg.keyboard.press("ArrowRight")
    assert current() == "step-3" and pg.evaluate("location.hash") == "#step-3"
    top = pg.locator("#step-3").evaluate("e => e.getBoundingClientRect().top")
    assert 0 <= top < 120  # scrolled to the top, under the sticky timeline
    pg.keyboard.press("ArrowLeft")
    assert current() == "step-2"
    assert pg.locator("section.step.current").count() == 1
    assert pg.locator("section.step.current").get_attribute("id") == "step-2"
    assert network.offline()


def test_first_error_link_and_deep_links(page: tuple[Page, Network], browser: Browser, report: Path,
                                         recording: Recording) -> None:
    pg, _ = page
    first = next(s.index for s in recording.steps if s.failed)
    assert first == 6
    pg.click("#first-error")
    assert pg.evaluate("document.body.dataset.current") == f"step-{first}"
    assert pg.locator(f"#step-{first}").evaluate("e => e.getBoundingClientRect().top") < 120
    assert pg.locator(f"#step-{first} .error").inner_text() == "the action was denied"
    other = browser.new_page(viewport={"width": 1400, "height": 900})
    other.goto(report.as_uri() + "#step-4")
    assert other.evaluate("document.body.dataset.current") == "step-4"
    other.close()


def test_diff_marks_the_divergence(browser: Browser, recording: Recording, tmp_path: Path) -> None:
    b = write_sample(tmp_path, steps=8, distinct=4, diverge_at=5, size=(960, 540))
    out = tmp_path / "diff.html"
    result = run_cli("show", str(recording.folder), "--diff", str(b), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == out
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    network = Network(pg)
    pg.goto(out.as_uri())
    rows = pg.locator("table.diff tr.equal")
    assert rows.count() == 6  # steps 0-4 and the final done agree
    divergence = pg.locator("#divergence")
    assert "diverges" in divergence.inner_text() and divergence.locator("a").inner_text() == "5"
    assert "Other 0" in divergence.inner_text() and "Button 0" in divergence.inner_text()
    pg.click("#first-divergence")
    assert divergence.evaluate("e => e.getBoundingClientRect().top") < 200
    assert pg.locator("section.step.diverged").evaluate_all("es => es.map(e => e.id)") == ["step-5", "step-6"]
    assert network.offline(), network.urls
    pg.close()


def test_a_long_recording_renders_summarised_and_offline(browser: Browser, tmp_path: Path) -> None:
    """2,000 steps: the first and last 150 and 50 failed steps in full, the rest as rows that deep
    links reach, each row linking its frame file; the arrow keys walk the full steps."""
    folder = write_long_sample(tmp_path, steps=2000, distinct=20, size=(480, 270))
    result = run_cli("show", str(folder), timeout=120)
    assert result.returncode == 0, result.stderr
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    network = Network(pg)
    pg.goto((folder / "report.html").as_uri() + "#step-1000")
    assert pg.locator("section.step").count() == 350 and pg.locator("table.rows tr[id]").count() == 1650
    row = pg.locator("#step-1000")
    assert row.locator("td").first.inner_text() == "1000"
    assert 0 <= row.evaluate("e => e.getBoundingClientRect().top") < 200
    href = row.locator("a").get_attribute("href") or ""
    assert (folder / href).is_file() and href.startswith("frames/")
    assert network.offline(), network.urls
    pg.close()
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    network = Network(pg)
    pg.goto((folder / "report.html").as_uri() + "#step-149")
    assert pg.evaluate("document.body.dataset.current") == "step-149"
    pg.keyboard.press("ArrowRight")
    assert pg.evaluate("document.body.dataset.current") == "step-150"  # the next step in full: a failed one
    assert pg.locator("#step-150 .error").inner_text() == "the action was denied"
    assert network.offline(), network.urls
    pg.close()
