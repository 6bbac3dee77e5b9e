"""Questions to a model about the screen, for `ui.check` and `ui.query`, cross-checked by OCR.

    judge = ModelJudge(provider="openai", model="gpt-4o", connection=Connection("openai", base_url))
    verdict = check_claim(judge, "the total is 42", observation)     # .passed, .reason
    form = query_model(judge, Invoice, observation)                  # an Invoice, or JudgeFailed

A model can be wrong with confidence, so its word is not enough: every number and every quoted
text in a `check` answer, and every text or number value of a `query` answer, must also be read by
OCR (or accessibility) on the same screen, or the check fails and says which value was not seen.
With a `NumberChecker` (the pytest plugin passes one), every number must moreover be what OCR of
an enlarged crop of its region reads (`agent.perception.numbers`): a misread digit fails too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ValidationError

from actions.errors import PlannerOutputError, TaskFailed
from actions.models import validation_message
from agent.perception.elements import Element
from agent.perception.find import similarity
from agent.perception.numbers import NumberChecker
from agent.perception.observation import Observation
from agent.planners.base import Usage
from agent.planners.parsing import extract_json
from agent.planners.transport import Connection, translate_errors

M = TypeVar("M", bound=BaseModel)
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"\"([^\"]{1,200})\"|“([^”]{1,200})”|'([^']{2,200})'")


class JudgeFailed(TaskFailed):
    """A check or query that did not pass (the model said no, or OCR does not confirm it)."""


@runtime_checkable
class Judge(Protocol):
    """Asks a model one question about one screenshot; returns its text answer and usage."""

    spec: str

    def ask(self, prompt: str, observation: Observation) -> tuple[str, Usage]: ...


class FakeJudge:
    """A Judge that gives the same `answer` to every question (counted as one model call each) and
    keeps the prompts it was asked, for tests of ui.check/ui.query without a model."""

    spec = "fake:judge"

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.prompts: list[str] = []

    def ask(self, prompt: str, observation: Observation) -> tuple[str, Usage]:
        self.prompts.append(prompt)
        return self.answer, Usage(model_calls=1)


class ModelJudge:
    """A Judge over the providers' SDKs: Anthropic Messages, else OpenAI-compatible chat."""

    def __init__(self, provider: str, model: str, connection: Connection, profile: Any = None) -> None:
        from agent.planners.profiles import load_profiles

        self.provider, self.model = provider, model
        self.spec = f"{provider}:{model}"
        self.connection = connection
        self.profile = profile or load_profiles().lookup(provider, model)

    def ask(self, prompt: str, observation: Observation) -> tuple[str, Usage]:
        from agent.planners.imaging import encode_observation

        image = encode_observation(observation, self.profile)
        if self.provider == "anthropic":
            return self._anthropic(prompt, image)
        return self._openai(prompt, image)

    def _openai(self, prompt: str, image: Any) -> tuple[str, Usage]:
        from agent.planners.transport import client_url, openai_client

        client = openai_client(self.connection)
        content = [{"type": "text", "text": prompt}, {"type": "image_url", "image_url": {"url": image.data_url}}]
        messages: Any = [{"role": "user", "content": content}]
        with translate_errors(self.provider, client_url(client), self.connection.timeout):
            answer = client.chat.completions.create(model=self.model, max_tokens=512, messages=messages)
        text = answer.choices[0].message.content or "" if answer.choices else ""
        u = answer.usage
        return text, Usage(model_calls=1, input_tokens=u.prompt_tokens if u else 0,
                           output_tokens=u.completion_tokens if u else 0)

    def _anthropic(self, prompt: str, image: Any) -> tuple[str, Usage]:
        from agent.planners.transport import anthropic_client, client_url

        client = anthropic_client(self.connection)
        content = [{"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.b64}},
                   {"type": "text", "text": prompt}]
        messages: Any = [{"role": "user", "content": content}]
        with translate_errors(self.provider, client_url(client), self.connection.timeout):
            answer = client.messages.create(model=self.model, max_tokens=512, messages=messages)
        text = "".join(getattr(b, "text", "") for b in answer.content)
        return text, Usage(model_calls=1, input_tokens=answer.usage.input_tokens,
                           output_tokens=answer.usage.output_tokens)


# --------------------------------------------------------------------------- OCR cross-checks


def _screen_text(elements: Sequence[Element]) -> str:
    return " ".join(" ".join(e.text.split()) for e in elements).casefold()


def _numbers(text: str) -> set[str]:
    return {_plain_number(n) for n in _NUMBER.findall(text)}


def _plain_number(text: str) -> str:
    text = text.lstrip("+").replace(",", "")
    return text.rstrip("0").rstrip(".") if "." in text else text


def seen_on_screen(value: str, elements: Sequence[Element]) -> bool:
    """OCR (or accessibility) read `value`: a number as a number, text as words or a near match."""
    value = " ".join(str(value).split())
    if not value:
        return True
    screen = _screen_text(elements)
    if _NUMBER.fullmatch(value):
        return _plain_number(value) in _numbers(screen)
    if re.search(r"(?<!\w)" + re.escape(value.casefold()) + r"(?!\w)", screen):
        return True
    return any(similarity(value, e.text) >= 0.85 for e in elements)


def cited_values(text: str) -> list[str]:
    """The numbers and quoted strings in a model's answer: what OCR must confirm."""
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]
    rest = _QUOTED.sub(" ", text)
    return [*quoted, *_NUMBER.findall(rest)]


@dataclass(frozen=True)
class CheckVerdict:
    passed: bool
    answer: str
    evidence: str
    reason: str
    usage: Usage


def check_claim(judge: Judge, claim: str, observation: Observation,
                numbers: NumberChecker | None = None) -> CheckVerdict:
    """Ask the model whether `claim` holds; a yes passes only if OCR sees what it cites, and (with
    `numbers`) each number it cites is what OCR of a zoom of its region reads."""
    from agent.planners.prompts import render

    raw, usage = judge.ask(render("check.j2", claim=claim), observation)
    try:
        data = extract_json(raw)
    except PlannerOutputError as e:
        return CheckVerdict(False, "", "", f"{judge.spec} gave no JSON answer ({e}): {raw[:200]!r}", usage)
    if not isinstance(data, dict):
        return CheckVerdict(False, "", "", f"{judge.spec} answered {raw[:200]!r}, not an object", usage)
    answer = str(data.get("answer", "")).strip().lower()
    evidence = str(data.get("evidence", "") or "")
    if answer not in ("yes", "no", "true", "false"):
        return CheckVerdict(False, answer, evidence, f"{judge.spec} answered {answer!r}, not yes or no", usage)
    if answer in ("no", "false"):
        return CheckVerdict(False, answer, evidence, f"the model says no: {evidence or 'no evidence given'}", usage)
    unseen = [v for v in cited_values(evidence) if not seen_on_screen(v, observation.elements)]
    if unseen:
        return CheckVerdict(False, answer, evidence,
                            f"the model says yes, citing {', '.join(map(repr, unseen))}, but OCR does not see "
                            f"{'it' if len(unseen) == 1 else 'them'} on the screen (evidence: {evidence!r})", usage)
    wrong = [c for c in numbers.check(evidence, observation) if not c.confirmed] if numbers else []
    if wrong:
        return CheckVerdict(False, answer, evidence, f"the model says yes, but {'; '.join(c.note for c in wrong)} "
                                                     f"(evidence: {evidence!r})", usage)
    return CheckVerdict(True, answer, evidence, f"yes: {evidence}", usage)


def query_model(judge: Judge, model: type[M], observation: Observation,
                numbers: NumberChecker | None = None) -> tuple[M, Usage]:
    """Extract `model` from the screen; every text/number value must be seen by OCR, and (with
    `numbers`) every number field must be what OCR of a zoom of its region reads."""
    from agent.planners.prompts import render

    schema = json.dumps(model.model_json_schema(), indent=1)
    raw, usage = judge.ask(render("query.j2", model_name=model.__name__, schema=schema), observation)
    try:
        data = extract_json(raw)
        value = model.model_validate(data)
    except PlannerOutputError as e:
        raise JudgeFailed(f"{judge.spec} gave no JSON for {model.__name__} ({e}): {raw[:200]!r}") from None
    except ValidationError as e:
        raise JudgeFailed(f"{judge.spec}'s answer does not fit {model.__name__}: {validation_message(e)}") from None
    unseen = [f"{path}={v!r}" for path, v in _leaves(value.model_dump(mode="json"))
              if not seen_on_screen(str(v), observation.elements)]
    if unseen:
        raise JudgeFailed(f"{model.__name__} from {judge.spec}: OCR does not see {', '.join(unseen)} on the screen")
    wrong = [f"{path}: {check.note}" for path, v in _leaves(value.model_dump(mode="json"))
             if numbers is not None and _NUMBER.fullmatch(str(v).strip())
             and not (check := numbers.confirm(str(v).strip(), observation)).confirmed]
    if wrong:
        raise JudgeFailed(f"{model.__name__} from {judge.spec}: {'; '.join(wrong)}")
    return value, usage


def _leaves(data: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, value) of every string and number in a JSON-like value (booleans and nulls skipped)."""
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, f"{path}.{k}" if path else str(k))]
    if isinstance(data, list):
        return [leaf for i, v in enumerate(data) for leaf in _leaves(v, f"{path}[{i}]")]
    if isinstance(data, bool) or data is None:
        return []
    if isinstance(data, (int, float, str)):
        return [(path, data)]
    return []
