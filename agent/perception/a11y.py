"""Accessibility elements from AT-SPI over D-Bus (dbus-next, no GObject needed), and their
merge with OCR elements.

    reader = A11yReader(bus_address=vd.env.get("DBUS_SESSION_BUS_ADDRESS"))
    result = reader.read()              # A11yResult(elements, nodes, elapsed_s, error, ...)
    result = reader.read(changed=boxes) # later: re-walk only what lies under changed pixels
    merged = merge_elements(result.elements, ocr_elements)

No session bus, no a11y bus, no accessible app or any bus trouble (an error reply, a call that
hangs, a socket error, a bus that goes away) gives an empty or partial result with `error` saying
why, never an exception: the caller then works from OCR (alone or for the rest).

The walk is bounded for huge trees (LibreOffice): only showing nodes are descended into; a node
that manages its descendants (a Calc sheet says it has 2**31 - 1 cells) or has more than
`max_children` children is not enumerated (OCR reads cells), nor the items of a closed menu;
a long list is read in chunks up to the end of its showing run;
`max_depth`, `max_nodes`, a per-call timeout and a total `timeout_s` (after which the walk stops
descending and returns what it has) bound the rest; at most `max_in_flight` calls are in flight.
Each showing node costs 3-4 calls (state, role, properties, extents; children when it has some),
a hidden one 1 (state). `changed` (screen boxes, e.g. the pixels that changed since the last
read) lets a read reuse every subtree of the last walk whose extents lie outside them: pixels
that did not change show the same elements. GTK/Qt apps show up; Xt/Xaw apps (xcalc, xterm) do not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from actions.models import Box
from agent.perception.atspi import (
    ACCESSIBLE,
    COMPONENT,
    PROPERTIES,
    ROOT,
    AtspiBus,
    BusError,
    DbusNextBus,
    Ref,
    quiet_dbus_next,
    variant_values,
)
from agent.perception.elements import Element
from agent.perception.find import similarity
from agent.perception.regions import intersection, overlap_small, union_box

log = logging.getLogger(__name__)

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
LONG_LIST, LIST_CHUNK = 48, 16  # children of a longer list are visited in chunks (see `_children`)
OPEN = frozenset({"selected", "expanded"})  # a menu with neither is closed: its items are not on screen

Connect = Callable[[str], Awaitable[AtspiBus]]


@dataclass(frozen=True)
class A11yResult:
    """`nodes` visited (calls made), `reused` nodes taken from the last walk, `skipped` nodes
    whose children were not enumerated (a sheet's cells, closed menus, limits). `failed`: the
    read itself failed (no bus, a bus error, a timeout): no elements, OCR alone must do;
    `partial`: some elements, but the walk was cut short (limits, objects that went away)."""

    elements: tuple[Element, ...]
    nodes: int = 0
    elapsed_s: float = 0.0
    error: str | None = None
    reused: int = 0
    skipped: int = 0
    partial: bool = False
    failed: bool = False


def decode_states(words: Sequence[int]) -> tuple[str, ...]:
    """AT-SPI's state bitset (array of uint32) -> state names."""
    names = []
    for i, name in enumerate(STATE_NAMES):
        word = i // 32
        if word < len(words) and words[word] >> (i % 32) & 1:
            names.append(name)
    return tuple(names)


def encode_states(names: Sequence[str]) -> list[int]:
    """State names -> AT-SPI's bitset (the inverse of `decode_states`)."""
    words = [0, 0]
    for name in names:
        i = STATE_NAMES.index(name)
        words[i // 32] |= 1 << (i % 32)
    return words


@dataclass(frozen=True)
class _Node:
    """A walked node: `span` covers its own extents and its subtree's; `complete` when the whole
    subtree was walked within the limits (only complete subtrees are reused)."""

    ref: Ref
    element: Element | None = None
    children: tuple[_Node, ...] = ()
    span: Box | None = None
    complete: bool = True
    role: str = ""

    def walk(self) -> Iterator[_Node]:
        yield self
        for child in self.children:
            yield from child.walk()


class A11yReader:
    """Walks the AT-SPI tree of every application on a session bus (see the module docstring)."""

    def __init__(self, bus_address: str | None = None, timeout_s: float = 2.0, max_nodes: int = 3000,
                 app_names: Sequence[str] = (), *, max_depth: int = 40, max_children: int = 500,
                 call_timeout_s: float = 1.0, max_in_flight: int = 16, connect: Connect | None = None) -> None:
        self.bus_address = bus_address
        self.timeout_s = timeout_s
        self.max_nodes, self.max_depth, self.max_children = max_nodes, max_depth, max_children
        self.app_names = tuple(n.lower() for n in app_names)
        self.call_timeout_s = call_timeout_s
        self.connect: Connect = connect or (lambda address: DbusNextBus.connect(
            address, max_in_flight=max_in_flight, call_timeout_s=call_timeout_s))
        self._last: dict[Ref, _Node] = {}
        self._lock = threading.Lock()  # one read at a time: reads share the last walk

    def read(self, changed: Sequence[Box] | None = None,
             found: Callable[[Element], None] | None = None) -> A11yResult:
        """Visible elements of all (or the named) accessible apps; empty or partial with `error`
        on trouble. `changed`: reuse the last walk outside these screen boxes (None: walk all).
        `found` is called (on the walk's thread) with each element as soon as it is known, so a
        caller can use the first ones before the walk ends (they may still be dropped if the
        read then fails)."""
        start = time.perf_counter()
        address = self.bus_address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not address:
            return A11yResult((), error="no session bus (DBUS_SESSION_BUS_ADDRESS unset)", failed=True)
        with self._lock:
            walker = _Walker(self, self._last if changed is not None else {}, changed, start + self.timeout_s,
                             found)
            # the walk stops descending at its deadline; calls in flight end within their timeout
            error = _run(self._walk(address, walker), self.timeout_s + self.call_timeout_s + 0.5)
            # a failed connection or a hard timeout: nothing from this walk is trusted (OCR only)
            failed = error is not None
            roots = [] if failed else walker.roots
            self._last = {n.ref: n for root in roots for n in root.walk()}
        elapsed = time.perf_counter() - start
        elements = () if failed else tuple(walker.elements)
        if error is None:
            error = self._note(walker, elements)
        if error:
            log.debug("a11y: %s", error)
        log.debug("a11y: %d nodes walked, %d reused, %d not enumerated, %d elements, %.0f ms", walker.nodes,
                  walker.reused, walker.skipped, len(elements), elapsed * 1000)
        return A11yResult(elements, walker.nodes, elapsed, error, walker.reused, walker.skipped,
                          partial=bool(elements) and (walker.truncated or walker.gone > 0),
                          failed=failed)

    def _note(self, walker: _Walker, elements: tuple[Element, ...]) -> str | None:
        if walker.gone:
            return f"{walker.gone} accessible objects did not answer (gone?): partial"
        if walker.truncated:
            return f"accessibility tree cut at its limits ({walker.nodes} nodes, {self.timeout_s:g}s): partial"
        return None if elements else "no accessible application on the bus"

    async def _walk(self, address: str, walker: _Walker) -> None:
        bus = await self.connect(address)
        walker.bus = bus
        try:
            apps = [tuple(a) for a in (await bus.call(ROOT, ACCESSIBLE, "GetChildren"))[0]]
            if self.app_names:
                names = await asyncio.gather(*(_properties(bus, a) for a in apps))
                apps = [a for a, p in zip(apps, names)
                        if any(want in str(p.get("Name", "")).lower() for want in self.app_names)]
            found = await asyncio.gather(*(walker.visit((str(a[0]), str(a[1])), 0) for a in apps))
            walker.roots = [n for n in found if n is not None]
        finally:
            bus.close()


class _Walker:
    def __init__(self, reader: A11yReader, last: dict[Ref, _Node], changed: Sequence[Box] | None,
                 deadline: float, found: Callable[[Element], None] | None = None) -> None:
        self.reader, self.last, self.changed, self.deadline = reader, last, changed, deadline
        self.found = found
        self.bus: AtspiBus | None = None
        self.elements: list[Element] = []
        self.roots: list[_Node] = []
        self.nodes = self.reused = self.skipped = self.gone = 0
        self.truncated = False

    def _unchanged(self, node: _Node | None) -> bool:
        if node is None or not node.complete or node.span is None or self.changed is None:
            return False
        return not any(intersection(node.span, c) for c in self.changed)

    def _add(self, element: Element) -> None:
        self.elements.append(element)
        if self.found is not None:
            self.found(element)

    async def visit(self, ref: Ref, depth: int) -> _Node | None:
        old = self.last.get(ref)
        if old is not None and self._unchanged(old):
            for n in old.walk():
                self.reused += 1
                if n.element is not None:
                    self._add(n.element)
            return old
        r = self.reader
        if self.nodes >= r.max_nodes or time.perf_counter() > self.deadline:
            self.truncated = True
            return None
        self.nodes += 1
        try:
            return await self._fetch(ref, depth)
        except BusError as e:
            if not e.reply:
                raise  # the connection failed: the whole read falls back to OCR
            self.gone += 1  # that object went away (a closing dialog): drop its subtree
            log.debug("a11y: %s", e)
            return _Node(ref, complete=False)

    async def _fetch(self, ref: Ref, depth: int) -> _Node:
        assert self.bus is not None
        states = decode_states((await self.bus.call(ref, ACCESSIBLE, "GetState"))[0])
        if depth > 0 and "showing" not in states:
            return _Node(ref)  # hidden subtree (closed menus, other tabs)
        old = self.last.get(ref)
        if old is not None and old.role:  # a role does not change: one call fewer on a re-walk
            role, props = old.role, await _properties(self.bus, ref)
        else:
            role_reply, props = await asyncio.gather(self.bus.call(ref, ACCESSIBLE, "GetRoleName"),
                                                     _properties(self.bus, ref))
            role = str(role_reply[0])
        name, count = str(props.get("Name") or "").strip(), int(props.get("ChildCount") or 0)
        wanted = role not in SKIPPED_ROLES and (name or role in ACTIONABLE)
        extents = await _extents(self.bus, ref) if wanted or count else None  # containers: for `span`
        element = self._element(role, name, states, extents)
        children: list[_Node | None] = []
        if count and self._enumerate(role, states, count, depth):
            kids = (await self.bus.call(ref, ACCESSIBLE, "GetChildren"))[0][:self.reader.max_children]
            children = await self._children([(str(k[0]), str(k[1])) for k in kids], depth + 1)
        if element is not None:
            self._add(element)
        kept = tuple(c for c in children if c is not None)
        boxes = [b for b in [extents, *(c.span for c in kept)] if b is not None]
        return _Node(ref, element, kept, union_box(boxes) if boxes else None,
                     complete=len(kept) == len(children) and all(c.complete for c in kept), role=role)

    async def _children(self, refs: list[Ref], depth: int) -> list[_Node | None]:
        """All at once; a long list (or table) in chunks, stopping after the showing run: its
        items off screen are hidden, and a list shows one contiguous run of them."""
        if len(refs) <= LONG_LIST:
            return list(await asyncio.gather(*(self.visit(r, depth) for r in refs)))
        out: list[_Node | None] = []
        seen = False
        for i in range(0, len(refs), LIST_CHUNK):
            chunk = await asyncio.gather(*(self.visit(r, depth) for r in refs[i:i + LIST_CHUNK]))
            out += chunk
            showing = any(c is not None and (c.span is not None or c.children) for c in chunk)
            if not showing and (seen or i + LIST_CHUNK >= 4 * LIST_CHUNK):
                self.skipped += 1
                break
            seen = seen or showing
        return out

    def _enumerate(self, role: str, states: tuple[str, ...], count: int, depth: int) -> bool:
        """False for children never walked: a sheet's cells, a closed menu's items, past the limits."""
        r = self.reader
        if "manages_descendants" in states or count > r.max_children or depth >= r.max_depth \
                or (role == "menu" and not OPEN & set(states)):
            self.skipped += 1
            return False
        return True

    @staticmethod
    def _element(role: str, name: str, states: tuple[str, ...], box: Box | None) -> Element | None:
        if role in SKIPPED_ROLES or box is None or (not name and role not in ACTIONABLE):
            return None
        return Element(id=0, text=name, role=ROLE_NAMES.get(role, role), source="a11y", box=box,
                       states=tuple(s for s in states if s in REPORTED_STATES))


async def _properties(bus: AtspiBus, ref: Ref) -> dict[str, Any]:
    reply = await bus.call(ref, PROPERTIES, "GetAll", "s", [ACCESSIBLE])
    return variant_values(reply[0])


async def _extents(bus: AtspiBus, ref: Ref) -> Box | None:
    """Screen extents, None without a Component interface or when off screen / empty."""
    try:
        x, y, w, h = (await bus.call(ref, COMPONENT, "GetExtents", "u", [0]))[0]
    except BusError:
        return None
    if w <= 0 or h <= 0 or x < -w or y < -h:
        return None
    return Box(left=x, top=y, right=x + w, bottom=y + h)


def _run(coro: Awaitable[None], timeout: float) -> str | None:
    """Run the walk on a private event loop (also when called from inside one: on a thread), with
    dbus-next kept quiet; None when it finished, else why not (never raises)."""
    def run() -> str | None:
        loop = asyncio.new_event_loop()
        quiet_dbus_next(loop)
        try:
            loop.run_until_complete(asyncio.wait_for(coro, timeout))
            return None
        except (asyncio.TimeoutError, TimeoutError):
            return f"accessibility tree not read within {timeout:g}s: partial"
        except BusError as e:
            log.debug("a11y read failed: %s", e)
            return f"accessibility unavailable: {e}"
        except Exception as e:  # a broken app answering nonsense; never escapes
            log.debug("a11y read failed", exc_info=True)
            return f"accessibility unavailable: {type(e).__name__}: {e}".splitlines()[0]
        finally:
            _close(loop)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    result: list[str | None] = []
    thread = threading.Thread(target=lambda: result.append(run()), name="a11y", daemon=True)
    thread.start()
    thread.join()
    return result[0] if result else "accessibility walk crashed"


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left (a timed-out walk's calls) and close the loop, quietly."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


# --------------------------------------------------------------------------- merge


def merge_elements(a11y: Sequence[Element], ocr: Sequence[Element], overlap: float = 0.6) -> list[Element]:
    """One list: accessibility elements first-class, OCR elements kept only where they add
    something. An OCR line lying in an a11y element that reads the same (or has no name, which it
    then takes, source "merged") is dropped. Ids are renumbered in reading order from 1."""
    merged = list(a11y)
    boxes = [_ltrb(e.box) for e in merged]  # plain ints: hundreds x hundreds of overlap tests
    extra: list[Element] = []
    for o in ocr:
        host = _host(merged, boxes, o, overlap)
        if host is None:
            extra.append(o)
        elif not merged[host].text:
            merged[host] = merged[host].model_copy(update={"text": o.text, "source": "merged"})
    return number(_dedupe(merged) + extra)


def _ltrb(box: Box) -> tuple[int, int, int, int, int]:
    return box.left, box.top, box.right, box.bottom, max(box.width, 0) * max(box.height, 0)


def _host(elements: Sequence[Element], boxes: Sequence[tuple[int, int, int, int, int]], o: Element,
          overlap: float) -> int | None:
    """The smallest element that holds most of `o` and reads the same (or has no name)."""
    ol, ot, orr, ob, oa = _ltrb(o.box)
    best: int | None = None
    for i, (el, et, er, eb, ea) in enumerate(boxes):
        w, h = min(er, orr) - max(el, ol), min(eb, ob) - max(et, ot)
        smaller = min(ea, oa)
        if w <= 0 or h <= 0 or not smaller or w * h / smaller < overlap:
            continue
        text = elements[i].text
        if (not text or similarity(o.text, text) >= 0.6) and (best is None or ea < boxes[best][4]):
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
