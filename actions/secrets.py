"""Secrets: values given with `--secret NAME` never leave the process in plain text.

`Redactor` masks every value as `{{NAME}}` in strings and JSON-like data (recordings, cassettes,
verdict reasons, errors); `RedactingFilter` does the same to every log record, including the
SDKs' debug loggers, once it sits on the handlers (`redact_logs`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel


class Redactor:
    """Masks every secret value as `{{NAME}}` in every string of a JSON-like value.

    A secret is also found in its JSON-escaped spellings, because raw model output often holds it
    inside a JSON string (tool-call arguments), where `"` and `\\` arrive escaped."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        names: dict[str, str] = {}
        for name, value in (secrets or {}).items():
            if value:
                for form in (value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
                    names.setdefault(form, f"{{{{{name}}}}}")
        forms = sorted(names, key=len, reverse=True)  # longest first: a secret containing another
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None
        self._names = names
        # the plain values (longest first), for masking them where they show on screen
        plain = {v for v in (secrets or {}).values() if v}
        self.values: tuple[str, ...] = tuple(sorted(plain, key=len, reverse=True))

    @classmethod
    def from_env(cls, names: Iterable[str], environ: Mapping[str, str] = os.environ) -> Redactor:
        """Secrets named by Settings.secrets, valued from the environment."""
        return cls({n: environ[n] for n in names if environ.get(n)})

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._names[m.group(0)], value)

    def data(self, value: Any) -> Any:
        """Redact every string (keys included) in a JSON-like structure."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        return value

    def json(self, model: BaseModel) -> str:
        """One redacted JSON line for a model (no newline)."""
        return json.dumps(self.data(model.model_dump(mode="json")), ensure_ascii=False, separators=(",", ":"))

    def names_in(self, value: str) -> tuple[str, ...]:
        """The names of the secrets whose values occur in `value`."""
        if self._pattern is None:
            return ()
        return tuple(dict.fromkeys(self._names[m.group(0)][2:-2] for m in self._pattern.finditer(value)))

    @property
    def active(self) -> bool:
        return self._pattern is not None


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with the secrets masked (arguments folded in first)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.redactor.text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = self.redactor.text(logging.Formatter().formatException(record.exc_info))
        return True


@contextmanager
def redact_logs(redactor: Redactor, logger: logging.Logger | None = None) -> Iterator[None]:
    """Mask secrets in everything the handlers of `logger` (the root by default) write, meanwhile."""
    if not redactor.active:
        yield
        return
    root = logger or logging.getLogger()
    handlers = [*root.handlers, logging.lastResort] if logging.lastResort else list(root.handlers)
    flt = RedactingFilter(redactor)
    for handler in handlers:
        handler.addFilter(flt)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(flt)
