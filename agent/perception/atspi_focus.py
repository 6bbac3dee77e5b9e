"""The active window through AT-SPI, read cheaply: its focused field's text, its default button, the
accessible under a point. Used by `agent.perception.actionability` before and after actions.

    probe = FocusProbe(bus_address)
    state = probe.read()                # ActiveWindow(title, focused, default_button, error)
    probe.at_point(x, y)                # the deepest accessible there, with its states

Only the active top-level window of each app is walked (showing nodes only, the children of
`manages_descendants` containers such as spreadsheet grids skipped), at most `max_nodes`, with a
bounded number of calls in flight (a flood of calls made dbus-next's writer raise BlockingIOError on
LibreOffice). Every failure becomes `error` text, never an exception.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agent.perception.a11y import decode_states
from agent.perception.atspi import ACCESSIBLE

log = logging.getLogger(__name__)

ROOT = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")

TEXT = "org.a11y.atspi.Text"
COMPONENT = "org.a11y.atspi.Component"
TEXT_ROLES = frozenset({"text", "entry", "password text", "paragraph", "terminal", "document text"})


@dataclass(frozen=True)
class Node:
    role: str
    name: str
    states: tuple[str, ...]
    text: str | None = None  # the Text interface's content, for text roles

    @property
    def sensitive(self) -> bool:
        return "sensitive" in self.states or "enabled" in self.states


@dataclass(frozen=True)
class ActiveWindow:
    title: str = ""
    focused: Node | None = None
    default_button: Node | None = None
    nodes: int = 0
    error: str | None = None
    timed_out: bool = False  # no answer in time: the error says nothing about the window
    windows: tuple[str, ...] = ()  # the titles of every app's top-level windows
    apps: tuple[str, ...] = ()  # the accessible applications' names, lower case


@runtime_checkable
class Probe(Protocol):
    """What actionability asks accessibility: `FocusProbe` (real) or `FakeProbe`."""

    def read(self, patient: bool = False) -> ActiveWindow: ...
    def at_point(self, x: int, y: int) -> Node | None: ...


@dataclass
class FakeProbe:
    """Serves `windows` in turn (the last one repeats) and `points` likewise; counts reads."""

    windows: list[ActiveWindow] = field(default_factory=lambda: [ActiveWindow()])
    points: list[Node | None] = field(default_factory=list)
    reads: int = 0

    def read(self, patient: bool = False) -> ActiveWindow:
        self.reads += 1
        return self.windows[min(self.reads - 1, len(self.windows) - 1)]

    def at_point(self, x: int, y: int) -> Node | None:
        return self.points.pop(0) if len(self.points) > 1 else (self.points[0] if self.points else None)


class FocusProbe:
    """The real probe. After a read that timed out (LibreOffice's bridge may not answer for seconds)
    it answers "unavailable" at once for `backoff_s`, so every action does not pay the timeout."""

    def __init__(self, bus_address: str | None = None, timeout_s: float = 1.0, max_nodes: int = 1500,
                 backoff_s: float = 20.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.bus_address = bus_address
        self.timeout_s = timeout_s
        self.max_nodes = max_nodes
        self.backoff_s, self.clock = backoff_s, clock
        self._slow_until = 0.0

    def _address(self, patient: bool = False) -> str | None:
        if self.clock() < self._slow_until and not patient:
            return None
        return self.bus_address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")

    def read(self, patient: bool = False) -> ActiveWindow:
        """The active window's focused node (with its text) and default push button. A `patient`
        read (a check that would rather wait than guess) is tried even while backing off."""
        address = self._address(patient)
        if not address:
            return ActiveWindow(error="no accessibility bus" if self.clock() >= self._slow_until else
                                f"accessibility too slow (timed out within the last {self.backoff_s:g}s)")
        try:
            result: ActiveWindow = _run(_quiet(self._read(address)), self.timeout_s)
            return result
        except TimeoutError:
            self._slow_until = self.clock() + self.backoff_s
            return ActiveWindow(error=f"accessibility not read within {self.timeout_s:g}s", timed_out=True)
        except Exception as e:  # dbus errors, an app that went away
            log.debug("focus probe failed", exc_info=True)
            return ActiveWindow(error=f"accessibility unavailable: {type(e).__name__}: {e}".splitlines()[0])

    def at_point(self, x: int, y: int) -> Node | None:
        """The deepest accessible of the active window at screen point (x, y); None if unknown."""
        address = self._address()
        if not address:
            return None
        try:
            node: Node | None = _run(_quiet(self._at_point(address, x, y)), self.timeout_s)
            return node
        except TimeoutError:
            self._slow_until = self.clock() + self.backoff_s
            return None
        except Exception:  # dbus errors: no answer, not a failure
            log.debug("at_point failed", exc_info=True)
            return None

    async def _connect(self, address: str) -> Any:
        from dbus_next.aio.message_bus import MessageBus

        session = await MessageBus(bus_address=address).connect()
        try:
            reply = await _call(session, ("org.a11y.Bus", "/org/a11y/bus"), "org.a11y.Bus", "GetAddress")
        finally:
            session.disconnect()  # type: ignore[no-untyped-call]
        return await MessageBus(bus_address=reply[0]).connect()

    async def _active(self, bus: Any, titles: list[str] | None = None,
                      apps: list[str] | None = None) -> tuple[str, str] | None:
        """The active top-level window; with `titles` and `apps`, every top-level window's title and
        every application's name are collected."""
        active = None
        for app in (await _call(bus, ROOT, ACCESSIBLE, "GetChildren"))[0]:
            if apps is not None:
                apps.append((await _name(bus, tuple(app))).lower())
            for top in (await _call(bus, tuple(app), ACCESSIBLE, "GetChildren"))[0]:
                ref = (str(top[0]), str(top[1]))
                if titles is not None:
                    titles.append(await _name(bus, ref))
                if active is None and "active" in decode_states((await _call(bus, ref, ACCESSIBLE, "GetState"))[0]):
                    active = ref
                    if titles is None:
                        return active
        return active

    async def _read(self, address: str) -> ActiveWindow:
        bus = await self._connect(address)
        try:
            titles: list[str] = []
            apps: list[str] = []
            top = await self._active(bus, titles, apps)
            if top is None:
                return ActiveWindow(error="no active accessible window", windows=tuple(titles), apps=tuple(apps))
            walk = _Walk(bus, self.max_nodes)
            await walk.visit(top)
            return ActiveWindow(title=await _name(bus, top), focused=walk.focused, default_button=walk.default,
                                nodes=walk.nodes, windows=tuple(titles), apps=tuple(apps))
        finally:
            bus.disconnect()

    async def _at_point(self, address: str, x: int, y: int) -> Node | None:
        bus = await self._connect(address)
        try:
            ref = await self._active(bus)
            node = None
            for _ in range(40):
                if ref is None:
                    break
                node = await _node(bus, ref)
                reply = await _call(bus, ref, COMPONENT, "GetAccessibleAtPoint", "iiu", [x, y, 0])
                child = (str(reply[0][0]), str(reply[0][1]))
                ref = None if child[1].endswith("/null") or child == ref else child
            return node
        finally:
            bus.disconnect()


async def _quiet(coro: Any) -> Any:
    """`coro` with errors raised inside dbus-next's callbacks logged at DEBUG, not printed as tracebacks."""
    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        log.debug("accessibility: %s", context.get("exception") or context.get("message"))
    asyncio.get_running_loop().set_exception_handler(handler)
    return await coro


async def _node(bus: Any, ref: tuple[str, str], with_text: bool = False) -> Node:
    role, states_raw = await asyncio.gather(_call(bus, ref, ACCESSIBLE, "GetRoleName"),
                                            _call(bus, ref, ACCESSIBLE, "GetState"))
    text = None
    if with_text and role[0] in TEXT_ROLES:
        try:
            text = str((await _call(bus, ref, TEXT, "GetText", "ii", [0, -1]))[0])
        except RuntimeError:  # no Text interface
            text = None
    return Node(role=str(role[0]), name=await _name(bus, ref), states=decode_states(states_raw[0]), text=text)


class _Walk:
    def __init__(self, bus: Any, max_nodes: int) -> None:
        self.bus, self.max_nodes = bus, max_nodes
        self.nodes = 0
        self.focused: Node | None = None
        self.default: Node | None = None
        self.gate = asyncio.Semaphore(16)

    async def visit(self, ref: tuple[str, str]) -> None:
        if self.nodes >= self.max_nodes:
            return
        self.nodes += 1
        async with self.gate:
            role, states_raw, children = await asyncio.gather(
                _call(self.bus, ref, ACCESSIBLE, "GetRoleName"), _call(self.bus, ref, ACCESSIBLE, "GetState"),
                _call(self.bus, ref, ACCESSIBLE, "GetChildren"))
        states = decode_states(states_raw[0])
        if self.nodes > 1 and "showing" not in states:
            return
        if "focused" in states and self.focused is None:
            async with self.gate:
                self.focused = await _node(self.bus, ref, with_text=True)
        if role[0] == "push button" and "is_default" in states and self.default is None:
            async with self.gate:
                self.default = await _node(self.bus, ref)
        if "manages_descendants" in states:
            return  # a grid of thousands of cells: never walked
        await asyncio.gather(*(self.visit((str(c[0]), str(c[1]))) for c in children[0]))


# The probe's own small dbus-next helpers: a few calls on the active window, where the walker in
# `a11y.py` goes through the `AtspiBus` seam with bounded concurrency for whole trees.

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
