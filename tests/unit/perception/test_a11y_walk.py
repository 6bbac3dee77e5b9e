"""The accessibility walk over fake buses: its limits on huge trees, reuse of unchanged subtrees,
and every kind of bus trouble ending as OCR-only elements and a note, never an exception."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from actions.desktop.fake import FakeDesktop
from actions.models import Box
from agent.perception import regions as rg
from agent.perception.a11y import A11yReader
from agent.perception.atspi import BusError, DbusNextBus, FakeBus, FakeNode, quiet_dbus_next
from agent.perception.ocr import FakeOcrEngine, TextLine
from agent.perception.perceiver import ScreenPerceiver

SHOWING = ("showing", "visible")


def button(name: str, x: int, y: int) -> FakeNode:
    return FakeNode("push button", name, extents=(x, y, 80, 30))


def calc_like() -> FakeNode:
    """A frame with a menu bar (one closed menu with items, one open), a toolbar and a sheet
    that claims 2**31 - 1 cells."""
    closed = FakeNode("menu", "Edit", states=(*SHOWING, "selectable"), extents=(60, 20, 40, 20),
                      children=[FakeNode("menu item", f"Edit item {i}", states=("selectable",)) for i in range(30)])
    opened = FakeNode("menu", "File", states=(*SHOWING, "selectable", "selected"), extents=(10, 20, 40, 20),
                      children=[FakeNode("menu item", "Open...", extents=(10, 40, 120, 20))])
    sheet = FakeNode("table", "Sheet Sheet1", states=(*SHOWING, "manages_descendants"), extents=(0, 200, 1000, 600),
                     child_count=2**31 - 1)
    frame = FakeNode("frame", "Untitled 1 - LibreOffice Calc", extents=(0, 0, 1280, 800), children=[
        FakeNode("menu bar", extents=(0, 20, 1280, 20), children=[opened, closed]),
        FakeNode("tool bar", "Standard", extents=(0, 50, 1280, 40),
                 children=[button("Save", 10, 55), button("Print", 100, 55)]),
        FakeNode("panel", states=(), children=[button("Hidden", 0, 0)]),
        sheet])
    return FakeNode("application", "soffice", states=(), children=[frame])


def reader_on(bus: Any, **kw: Any) -> A11yReader:
    async def connect(address: str) -> Any:
        return bus
    return A11yReader("fake", connect=connect, **kw)


def test_the_walk_skips_a_sheets_cells_closed_menus_and_hidden_subtrees() -> None:
    bus = FakeBus([calc_like()])  # GetChildren on the sheet would fail the read (see FakeBus)
    result = reader_on(bus).read()
    names = {e.text for e in result.elements}
    assert {"File", "Open...", "Edit", "Save", "Print", "Sheet Sheet1"} <= names
    assert not any(n.startswith("Edit item") or n == "Hidden" for n in names)
    assert result.error is None and not result.failed and not result.partial
    assert result.skipped == 2  # the sheet and the closed menu
    assert result.nodes < 20


def test_a_walk_over_a_huge_tree_stops_at_its_limits() -> None:
    wide = FakeNode("list", "Rows", extents=(0, 0, 1000, 1000), child_count=None,
                    children=[FakeNode("list item", f"row {i}", extents=(0, i, 100, 1)) for i in range(400)])
    deep = FakeNode("panel", extents=(0, 0, 10, 10))
    node = deep
    for i in range(200):
        child = FakeNode("panel", f"level {i}", extents=(0, 0, 10, 10))
        node.children.append(child)
        node = child
    app = FakeNode("application", "big", states=(), children=[wide, deep])
    bus = FakeBus([app])
    result = reader_on(bus, max_nodes=150, max_depth=30).read()
    assert not result.failed and result.partial and "limits" in (result.error or "")
    assert result.nodes <= 150
    assert sum(bus.calls.values()) < 150 * 6
    assert not any(e.text == "level 40" for e in result.elements)  # past max_depth


def test_a_long_list_is_read_to_the_end_of_its_showing_run() -> None:
    items = [FakeNode("list item", f"lang {i}", states=SHOWING if 20 <= i < 30 else (),
                      extents=(0, i * 10, 100, 10)) for i in range(300)]
    bus = FakeBus([FakeNode("application", "app", states=(), children=[
        FakeNode("list", "Languages", extents=(0, 0, 100, 3000), children=items)])])
    result = reader_on(bus).read()
    assert {e.text for e in result.elements} >= {f"lang {i}" for i in range(20, 30)}
    assert bus.calls["GetState"] < 80  # not 300


@pytest.mark.parametrize("trouble", [
    pytest.param(dict(fail=BlockingIOError(11, "Resource temporarily unavailable"), fail_after=12), id="writer EAGAIN"),
    pytest.param(dict(fail=EOFError("the bus went away"), fail_after=5), id="bus gone mid-walk"),
    pytest.param(dict(hang="GetRoleName"), id="a call that never answers"),
])
def test_bus_trouble_gives_no_elements_and_a_reason(trouble: dict[str, Any]) -> None:
    reader = reader_on(FakeBus([calc_like()], **trouble), timeout_s=0.3, call_timeout_s=0.1)
    result = reader.read()
    assert result.failed and result.elements == () and result.error


def test_an_object_that_went_away_drops_only_its_subtree() -> None:
    class Flaky(FakeBus):
        async def call(self, ref: Any, interface: str, member: str, signature: str = "",
                       body: Any = ()) -> list[Any]:
            if member == "GetAll" and self._nodes.get(ref[1]) is printer:
                raise BusError("GetAll: org.freedesktop.DBus.Error.UnknownObject", reply=True)
            return await super().call(ref, interface, member, signature, body)
    app = calc_like()
    printer = app.children[0].children[1].children[1]
    result = reader_on(Flaky([app])).read()
    names = {e.text for e in result.elements}
    assert "Save" in names and "Print" not in names
    assert result.partial and not result.failed


def test_a_real_bus_translates_a_writer_error_and_a_timeout() -> None:
    class Writer:  # stands in for dbus-next's MessageBus
        def __init__(self, error: BaseException | None) -> None:
            self.error = error

        async def call(self, message: Any) -> Any:
            if self.error is not None:
                raise self.error
            await asyncio.Event().wait()

    async def ask(bus: DbusNextBus) -> None:
        await bus.call((":1.1", "/x"), "org.a11y.atspi.Accessible", "GetState")

    with pytest.raises(BusError, match="BlockingIOError"):
        asyncio.run(ask(DbusNextBus(Writer(BlockingIOError(11, "Resource temporarily unavailable")), 4, 1.0)))
    with pytest.raises(BusError, match="did not answer"):
        asyncio.run(ask(DbusNextBus(Writer(None), 4, 0.05)))


def test_dbus_next_records_and_unretrieved_future_errors_go_to_debug(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    quiet_dbus_next(loop)
    caplog.set_level(logging.DEBUG)
    future = loop.create_future()
    future.set_exception(BlockingIOError(11, "Resource temporarily unavailable"))
    del future
    gc.collect()
    loop.close()
    record = logging.LogRecord("root", logging.ERROR, str(Path("site-packages/dbus_next/message_bus.py").resolve()),
                               1, "got unexpected error processing a message: %s", ("boom",), None)
    logging.getLogger().handle(record)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("dbus-next: got unexpected error" in r.getMessage() for r in caplog.records)


def test_an_unchanged_screen_reuses_the_walk_and_a_change_rewalks_only_its_subtree() -> None:
    app = calc_like()
    bus = FakeBus([app])
    reader = reader_on(bus)
    first = reader.read()
    calls = sum(bus.calls.values())
    same = reader.read(changed=[])
    assert {e.text for e in same.elements} == {e.text for e in first.elements}
    assert same.nodes == 0 and sum(bus.calls.values()) - calls <= 2  # the registry's children only
    toolbar = app.children[0].children[1]
    toolbar.children.append(button("Export", 200, 55))
    calls = sum(bus.calls.values())
    step = reader.read(changed=[Box(left=200, top=55, right=280, bottom=85)])
    assert "Export" in {e.text for e in step.elements} and "File" in {e.text for e in step.elements}
    assert 0 < step.nodes < first.nodes and step.reused > 0
    assert sum(bus.calls.values()) - calls < 30


def test_the_perceiver_falls_back_to_ocr_with_a_note_when_the_bus_fails() -> None:
    image = Image.new("RGB", (1280, 800), "white")
    image.paste((0, 0, 0), (100, 100, 140, 112))
    desktop = FakeDesktop(frames=[image])
    ocr = FakeOcrEngine([TextLine("Total", Box(left=100, top=100, right=140, bottom=112), 0.99)])
    bus = FakeBus([calc_like()], fail=BlockingIOError(11, "Resource temporarily unavailable"), fail_after=3)
    obs = ScreenPerceiver(desktop, ocr=ocr, a11y=reader_on(bus)).observe()
    assert [(e.text, e.source) for e in obs.elements] == [("Total", "ocr")]
    assert any("OCR only" in n and "BlockingIOError" in n for n in obs.notes), obs.notes


def test_ocr_does_not_recognise_lines_inside_named_accessible_buttons() -> None:
    image = Image.new("RGB", (1280, 800), "white")
    for x in (12, 102, 400):
        image.paste((0, 0, 0), (x, 60, x + 30, 72))
    lines = [TextLine(t, Box(left=x, top=60, right=x + 30, bottom=72), 0.99)
             for t, x in (("口口", 12), ("Pr", 102), ("Total", 400))]
    obs = ScreenPerceiver(FakeDesktop(frames=[image]), ocr=FakeOcrEngine(lines), a11y=reader_on(FakeBus([calc_like()]))
                          ).observe()
    texts = {(e.text, e.source) for e in obs.elements}
    assert ("Total", "ocr") in texts and ("Save", "a11y") in texts and ("Print", "a11y") in texts
    assert not any(e.source == "ocr" and e.text in ("口口", "Pr") for e in obs.elements)


def test_split_wide_skips_an_empty_grid_and_keeps_its_text() -> None:
    gray = np.full((120, 1200), 255, np.uint8)
    gray[:, ::60] = 190  # vertical grid lines
    gray[::20, :] = 190  # horizontal grid lines
    gray[42:52, 305:335] = 0  # text in one cell
    band = Box(left=0, top=0, right=1200, bottom=120)
    assert rg.split_wide(gray, band) == [Box(left=299, top=0, right=341, bottom=120)]
    gray[42:52, 305:335] = 255
    assert rg.split_wide(gray, band) == []


def test_split_wide_keeps_a_filled_highlight_with_text() -> None:
    gray = np.full((40, 600), 255, np.uint8)
    gray[10:30, 0:580] = 60  # a selected row, white text on it
    gray[15:25, 50:90] = 255
    assert rg.split_wide(gray, Box(left=0, top=0, right=600, bottom=40)) == [Box(left=0, top=0, right=586, bottom=40)]

