import time

from agent import status
from agent.status import ListStatus


def test_show_reaches_the_sink_in_use_and_nothing_after():
    sink = ListStatus()
    deadline = time.monotonic() + 3
    with status.use(sink):
        status.show("connecting")
        status.show("retrying after HTTP 429", until=deadline)
    status.show("after the block")
    assert sink.shown == [("connecting", None), ("retrying after HTTP 429", deadline)]
    assert sink.cleared == 1   # the block's end clears the line


def test_nested_sinks_restore_the_outer_one():
    outer, inner = ListStatus(), ListStatus()
    with status.use(outer):
        with status.use(inner):
            status.show("inner")
        status.show("outer")
    assert inner.texts == ["inner"] and outer.texts == ["outer"]
