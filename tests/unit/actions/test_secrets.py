"""Secret values never reach a log handler: ours, the SDKs' debug loggers, tracebacks."""

from __future__ import annotations

import io
import logging

from actions.secrets import Redactor, redact_logs


def test_redact_logs_masks_every_logger_while_active_and_only_then() -> None:
    root = logging.getLogger("test-secrets-root")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    child = logging.getLogger("test-secrets-root.httpx")  # an SDK logger propagating to the root
    with redact_logs(Redactor({"PW": "hunter2"}), logger=root):
        child.debug("request body: %s", {"text": "echo hunter2"})
        try:
            raise ValueError("bad hunter2")
        except ValueError:
            child.exception("failed")
    child.debug("after: hunter2")
    root.removeHandler(handler)
    lines = stream.getvalue()
    assert "request body: {'text': 'echo {{PW}}'}" in lines and "ValueError: bad {{PW}}" in lines
    assert lines.count("hunter2") == 1 and "after: hunter2" in lines


def test_an_empty_redactor_installs_nothing() -> None:
    root = logging.getLogger("test-secrets-empty")
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    with redact_logs(Redactor({}), logger=root):
        assert handler.filters == []
    root.removeHandler(handler)
