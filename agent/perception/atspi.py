"""The AT-SPI bus the accessibility walker talks to: a tiny Protocol, the real one over dbus-next,
and an in-memory fake for tests.

    bus = await DbusNextBus.connect(session_address, max_in_flight=16, call_timeout_s=0.5)
    state_words = (await bus.call(ref, ACCESSIBLE, "GetState"))[0]
    bus.close()

Every failure of the real bus (an error reply, a call that does not answer within its timeout, a
socket error such as dbus-next's `BlockingIOError` from its writer, a bus that went away) is raised
as `BusError`; the walker turns it into a note, never lets it escape. Calls in flight are bounded:
dbus-next writes without handling a full socket (EAGAIN), which a flood of concurrent calls on a
huge tree (LibreOffice) used to trigger. `quiet_dbus_next` sends dbus-next's own log records
(logged on the root logger, tracebacks included) and asyncio's "exception never retrieved"
reports of its futures to DEBUG.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

Ref = tuple[str, str]  # (bus name, object path)
ROOT: Ref = ("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root")
ACCESSIBLE = "org.a11y.atspi.Accessible"
COMPONENT = "org.a11y.atspi.Component"
PROPERTIES = "org.freedesktop.DBus.Properties"


class BusError(Exception):
    """Anything that went wrong talking to the accessibility bus (internal to perception).
    `reply`: the application answered with an error about that one object (it may have gone
    away: a closed dialog); otherwise the connection itself failed (timeout, socket, bus gone)."""

    def __init__(self, message: str, reply: bool = False) -> None:
        super().__init__(message)
        self.reply = reply


class AtspiBus(Protocol):
    """One connection to the accessibility bus."""

    async def call(self, ref: Ref, interface: str, member: str, signature: str = "",
                   body: Sequence[Any] = ()) -> list[Any]: ...

    def close(self) -> None: ...


class DbusNextBus:
    """The accessibility bus over dbus-next (see the module docstring)."""

    def __init__(self, bus: Any, max_in_flight: int, call_timeout_s: float) -> None:
        self._bus = bus
        self._slots = asyncio.Semaphore(max_in_flight)
        self.call_timeout_s = call_timeout_s

    @classmethod
    async def connect(cls, session_address: str, max_in_flight: int = 16,
                      call_timeout_s: float = 0.5) -> DbusNextBus:
        """The session bus tells where the accessibility bus is; connect to that one."""
        from dbus_next.aio.message_bus import MessageBus

        try:
            session = await asyncio.wait_for(MessageBus(bus_address=session_address).connect(), 2 * call_timeout_s)
            try:
                address = (await cls(session, 1, call_timeout_s).call(
                    ("org.a11y.Bus", "/org/a11y/bus"), "org.a11y.Bus", "GetAddress"))[0]
            finally:
                session.disconnect()  # type: ignore[no-untyped-call]
            bus = await asyncio.wait_for(MessageBus(bus_address=address).connect(), 2 * call_timeout_s)
        except BusError:
            raise
        except (Exception, asyncio.TimeoutError) as e:  # dbus-next raises many kinds; all mean "no bus"
            raise BusError(f"{type(e).__name__}: {e}".splitlines()[0]) from e
        return cls(bus, max_in_flight, call_timeout_s)

    async def call(self, ref: Ref, interface: str, member: str, signature: str = "",
                   body: Sequence[Any] = ()) -> list[Any]:
        from dbus_next.constants import MessageType
        from dbus_next.message import Message

        message = Message(destination=ref[0], path=ref[1], interface=interface, member=member,
                          signature=signature, body=list(body))
        async with self._slots:
            try:
                reply = await asyncio.wait_for(self._bus.call(message), self.call_timeout_s)
            except asyncio.TimeoutError:
                raise BusError(f"{interface}.{member} did not answer within {self.call_timeout_s:g}s") from None
            except Exception as e:  # BlockingIOError from dbus-next's writer, EOFError, a closed bus
                raise BusError(f"{interface}.{member}: {type(e).__name__}: {e}".splitlines()[0]) from e
        if reply.message_type == MessageType.ERROR:
            raise BusError(f"{interface}.{member}: {reply.error_name} {reply.body[:1]}", reply=True)
        return list(reply.body)

    def close(self) -> None:
        try:
            self._bus.disconnect()
        except Exception:  # already gone
            log.debug("a11y bus disconnect failed", exc_info=True)


# --------------------------------------------------------------------------- quiet dbus-next


class _DbusNextRecords(logging.Filter):
    """On the root logger: dbus-next logs there (`logging.error(...)` with tracebacks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if f"{os.sep}dbus_next{os.sep}" not in record.pathname:
            return True
        log.debug("dbus-next: %s", record.getMessage().splitlines()[0])
        return False


_FILTER = _DbusNextRecords()


def quiet_dbus_next(loop: asyncio.AbstractEventLoop) -> None:
    """Route dbus-next's log records and `loop`'s unhandled-exception reports to DEBUG."""
    root = logging.getLogger()
    if _FILTER not in root.filters:
        root.addFilter(_FILTER)

    def report(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        log.debug("a11y loop: %s %s", context.get("message"), f"({type(error).__name__}: {error})" if error else "")
    loop.set_exception_handler(report)


# --------------------------------------------------------------------------- the fake


@dataclass
class FakeNode:
    """One accessible object of a `FakeBus` tree."""

    role: str
    name: str = ""
    states: tuple[str, ...] = ("showing", "visible")
    extents: tuple[int, int, int, int] | None = None  # x, y, w, h; None: no Component interface
    children: list[FakeNode] = field(default_factory=list)
    child_count: int | None = None  # what ChildCount says (a Calc sheet says 2**31 - 1)


class FakeBus:
    """An in-memory AT-SPI tree: `apps` are the registry's children. `fail` is raised (a
    `BusError` wrapping it, as the real bus does) once `fail_after` calls were answered; `hang`
    makes calls to that member never answer (the reader's timeout must end the read). `calls`
    counts calls by member; `gone` makes every call fail, as a bus that went away."""

    def __init__(self, apps: Sequence[FakeNode], fail: Exception | None = None, fail_after: int = 0,
                 hang: str | None = None) -> None:
        self.root = FakeNode("desktop frame", children=list(apps))
        self.fail, self.fail_after, self.hang = fail, fail_after, hang
        self.calls: dict[str, int] = {}
        self.gone = False
        self._nodes: dict[str, FakeNode] = {}
        self._paths: dict[int, str] = {}

    def ref(self, node: FakeNode) -> Ref:
        path = self._paths.setdefault(id(node), f"/fake/{len(self._paths)}")
        self._nodes[path] = node
        return (":1.1", path)

    async def call(self, ref: Ref, interface: str, member: str, signature: str = "",
                   body: Sequence[Any] = ()) -> list[Any]:
        self.calls[member] = self.calls.get(member, 0) + 1
        if self.gone:
            raise BusError(f"{member}: EOFError: the bus went away")
        if self.fail is not None and sum(self.calls.values()) > self.fail_after:
            raise BusError(f"{member}: {type(self.fail).__name__}: {self.fail}") from self.fail
        if member == self.hang:
            await asyncio.Event().wait()  # never set
        await asyncio.sleep(0)
        node = self.root if ref == ROOT else self._nodes[ref[1]]
        return self._answer(node, member, list(body))

    def _answer(self, node: FakeNode, member: str, body: list[Any]) -> list[Any]:
        from agent.perception.a11y import encode_states

        match member:
            case "GetState":
                return [encode_states(node.states)]
            case "GetRoleName":
                return [node.role]
            case "GetAll":
                count = len(node.children) if node.child_count is None else node.child_count
                return [{"Name": _Variant(node.name), "ChildCount": _Variant(count)}]
            case "GetChildren":
                if node.child_count is not None and node.child_count > 100_000:
                    raise BusError("GetChildren: the application hung enumerating millions of children")
                return [[self.ref(c) for c in node.children]]
            case "GetExtents":
                if node.extents is None:
                    raise BusError("GetExtents: org.freedesktop.DBus.Error.UnknownInterface", reply=True)
                return [node.extents]
        raise BusError(f"{member}: org.freedesktop.DBus.Error.UnknownMethod", reply=True)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Variant:
    value: Any


def variant_values(props: Mapping[str, Any]) -> dict[str, Any]:
    """dbus-next Variants (or the fake's) -> plain values."""
    return {k: getattr(v, "value", v) for k, v in props.items()}
