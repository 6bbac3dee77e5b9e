"""Accessibility elements from AT-SPI over D-Bus (dbus-next, no GObject needed), and their
merge with OCR elements.

    reader = A11yReader(bus_address=vd.env.get("DBUS_SESSION_BUS_ADDRESS"))
    result = reader.read()              # A11yResult(elements, nodes, elapsed_s, error)
    merged = merge_elements(result.elements, ocr_elements)

No session bus, no a11y bus or no accessible app gives an empty result with `error` saying why,
never an exception: the caller then works from OCR alone. Every read is bounded by `timeout_s`
(whole walk) and `max_nodes`. GTK/Qt apps show up; Xt/Xaw apps (xcalc, xterm) do not.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from actions.models import Box
from agent.perception.elements import Element
from agent.perception.find import similarity
from agent.perception.regions import overlap_small

log = logging.getLogger(__name__)

ROOT = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
ACCESSIBLE = "org.a11y.atspi.Accessible"
STATE_NAMES = ("invalid active armed busy checked collapsed defunct editable enabled expandable expanded "
               "focusable focused has_tooltip horizontal iconified modal multi_line multiselectable opaque "
               "pressed resizable selectable selected sensitive showing single_line stale transient vertical "
               "visible manages_descendants indeterminate required truncated animated invalid_entry "
               "supports_autocompletion selectable_text is_default visited checkable has_popup read_only").split()
REPORTED_STATES = frozenset({"checked", "editable", "focused", "pressed", "selected", "expanded", "sensitive",
                             "focusable", "read_only"})
ROLE_NAMES = {"push button": "button", "text": "textbox", "entry": "textbox", "password text": "password"}
ACTIONABLE = frozenset({"push button", "toggle button", "check box", "radio button", "text", "entry",
                        "password text", "combo box", "menu item", "check menu item", "radio menu item",
                        "menu", "link", "page tab", "slider", "spin button", "list item", "table cell",
                        "tree item", "scroll bar"})
SKIPPED_ROLES = frozenset({"application", "filler", "panel", "unknown", "redundant object", "invalid"})


@dataclass(frozen=True)
class A11yResult:
    elements: tuple[Element, ...]
    nodes: int = 0
    elapsed_s: float = 0.0
    error: str | None = None


def decode_states(words: Sequence[int]) -> tuple[str, ...]:
    """AT-SPI's state bitset (array of uint32) -> state names."""
    names = []
    for i, name in enumerate(STATE_NAMES):
        word = i // 32
        if word < len(words) and words[word] >> (i % 32) & 1:
            names.append(name)
    return tuple(names)


class A11yReader:
    """Walks the AT-SPI tree of every application on a session bus (see the module docstring)."""

    def __init__(self, bus_address: str | None = None, timeout_s: float = 2.0, max_nodes: int = 3000,
                 app_names: Sequence[str] = ()) -> None:
        self.bus_address = bus_address
        self.timeout_s = timeout_s
        self.max_nodes = max_nodes
        self.app_names = tuple(n.lower() for n in app_names)

    def read(self) -> A11yResult:
        """Visible elements of all (or the named) accessible apps; empty with `error` on trouble."""
        start = time.perf_counter()
        address = self.bus_address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            return A11yResult((), error="no session bus (DBUS_SESSION_BUS_ADDRESS unset): OCR only")
        try:
            elements, nodes = _run(self._walk(address), self.timeout_s)
        except TimeoutError:
            return A11yResult((), elapsed_s=time.perf_counter() - start,
                              error=f"accessibility tree not read within {self.timeout_s:g}s")
        except Exception as e:  # dbus errors, a bus that went away, a broken app
            log.debug("a11y read failed", exc_info=True)
            return A11yResult((), elapsed_s=time.perf_counter() - start,
                              error=f"accessibility unavailable: {type(e).__name__}: {e}".splitlines()[0])
        elapsed = time.perf_counter() - start
        log.debug("a11y: %d nodes, %d elements, %.0f ms", nodes, len(elements), elapsed * 1000)
        error = None if elements else "no accessible application on the bus"
        return A11yResult(tuple(elements), nodes, elapsed, error)

    async def _walk(self, address: str) -> tuple[list[Element], int]:
        from dbus_next.aio.message_bus import MessageBus

        session = await MessageBus(bus_address=address).connect()
        try:
            reply = await _call(session, ("org.a11y.Bus", "/org/a11y/bus"), "org.a11y.Bus", "GetAddress")
        finally:
            session.disconnect()  # type: ignore[no-untyped-call]
        bus = await MessageBus(bus_address=reply[0]).connect()
        try:
            walker = _Walker(bus, self.max_nodes)
            apps = (await _call(bus, ROOT, ACCESSIBLE, "GetChildren"))[0]
            picked = [tuple(a) for a in apps]
            if self.app_names:
                names = await asyncio.gather(*(_name(bus, a) for a in picked))
                picked = [a for a, n in zip(picked, names) if any(want in n.lower() for want in self.app_names)]
            await asyncio.gather(*(walker.visit(a, is_app=True) for a in picked))
            return walker.elements, walker.nodes
        finally:
            bus.disconnect()  # type: ignore[no-untyped-call]


class _Walker:
    def __init__(self, bus: Any, max_nodes: int) -> None:
        self.bus, self.max_nodes = bus, max_nodes
        self.elements: list[Element] = []
        self.nodes = 0

    async def visit(self, ref: tuple[str, str], is_app: bool = False) -> None:
        if self.nodes >= self.max_nodes:
            return
        self.nodes += 1
        role, states_raw, children = await asyncio.gather(
            _call(self.bus, ref, ACCESSIBLE, "GetRoleName"), _call(self.bus, ref, ACCESSIBLE, "GetState"),
            _call(self.bus, ref, ACCESSIBLE, "GetChildren"))
        states = decode_states(states_raw[0])
        if not is_app and "showing" not in states:
            return  # hidden subtree (closed menus, other tabs)
        if role[0] not in SKIPPED_ROLES:
            element = await self._element(ref, role[0], states)
            if element is not None:
                self.elements.append(element)
        await asyncio.gather(*(self.visit(tuple(c)) for c in children[0]))

    async def _element(self, ref: tuple[str, str], role: str, states: tuple[str, ...]) -> Element | None:
        name = await _name(self.bus, ref)
        if not name and role not in ACTIONABLE:
            return None
        try:
            x, y, w, h = (await _call(self.bus, ref, "org.a11y.atspi.Component", "GetExtents", "u", [0]))[0]
        except Exception:  # no Component interface
            return None
        if w <= 0 or h <= 0 or x < -w or y < -h:
            return None
        return Element(id=0, text=name, role=ROLE_NAMES.get(role, role), source="a11y",
                       box=Box(left=x, top=y, right=x + w, bottom=y + h),
                       states=tuple(s for s in states if s in REPORTED_STATES))


async def _name(bus: Any, ref: tuple[str, str]) -> str:
    reply = await _call(bus, ref, "org.freedesktop.DBus.Properties", "Get", "ss", [ACCESSIBLE, "Name"])
    return str(reply[0].value or "").strip()


async def _call(bus: Any, ref: tuple[str, str], interface: str, member: str, signature: str = "",
                body: list[Any] | None = None) -> list[Any]:
    from dbus_next.constants import MessageType
    from dbus_next.message import Message

    reply = await bus.call(Message(destination=ref[0], path=ref[1], interface=interface, member=member,
                                   signature=signature, body=body or []))
    if reply.message_type == MessageType.ERROR:
        raise RuntimeError(f"{interface}.{member}: {reply.error_name} {reply.body[:1]}")
    return list(reply.body)


def _run(coro: Any, timeout: float) -> Any:
    """Run a coroutine to completion with a timeout, also when called from inside an event loop."""
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(bounded())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, bounded()).result()


# --------------------------------------------------------------------------- merge


def merge_elements(a11y: Sequence[Element], ocr: Sequence[Element], overlap: float = 0.6) -> list[Element]:
    """One list: accessibility elements first-class, OCR elements kept only where they add
    something. An OCR line lying in an a11y element that reads the same (or has no name, which it
    then takes, source "merged") is dropped. Ids are renumbered in reading order from 1."""
    merged = list(a11y)
    extra: list[Element] = []
    for o in ocr:
        host = _host(merged, o, overlap)
        if host is None:
            extra.append(o)
        elif not merged[host].text:
            merged[host] = merged[host].model_copy(update={"text": o.text, "source": "merged"})
    return number(_dedupe(merged) + extra)


def _host(elements: Sequence[Element], o: Element, overlap: float) -> int | None:
    best: int | None = None
    for i, e in enumerate(elements):
        if overlap_small(e.box, o.box) < overlap:
            continue
        if not e.text or similarity(o.text, e.text) >= 0.6:
            if best is None or e.box.width * e.box.height < elements[best].box.width * elements[best].box.height:
                best = i
    return best


def _dedupe(elements: Sequence[Element]) -> list[Element]:
    """Drop a11y nodes that repeat a smaller one (a button and its own label, same name)."""
    out: list[Element] = []
    for e in sorted(elements, key=lambda e: e.box.width * e.box.height, reverse=True):
        if any(e.text and e.text == k.text and overlap_small(e.box, k.box) > 0.9 and e.role == "label"
               for k in out):
            continue
        out.append(e)
    return out


def number(elements: Sequence[Element], start: int = 1) -> list[Element]:
    """Renumber in reading order (rows of ~8 px, then left to right)."""
    ordered = sorted(elements, key=lambda e: (e.box.top // 8, e.box.left, -e.box.width))
    return [e.model_copy(update={"id": start + i}) for i, e in enumerate(ordered)]
