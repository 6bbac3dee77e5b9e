"""YAML scenarios: regression UI tests without Python (`test_*.uiagent.yaml`, collected by pytest).

```yaml
name: submit the form            # optional; one scenario per YAML document (--- separates more)
steps:
  - launch: python3 tests/apps/form.py            # or {cmd: ..., timeout: 15}
  - click: Name:
  - type: Alice
  - do: click Submit                              # planner step: cached like ui.do
  - press: ctrl+a
  - wait_for: Alice                               # or {text: Alice, timeout: 5}
  - assert_visible: Alice
  - assert_not_visible: Error
  - check: the Name field holds Alice             # model yes/no, OCR cross-checked
```

Every step is a mapping with exactly one key, its kind. Parsing keeps YAML's line numbers, so an
unknown step, a typo in a key or a wrong value is one `ScenarioError` naming the file and line
(with a suggestion when the word is close to a known one), never an internal error.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from actions.errors import UsageError

# kind -> (main argument, other allowed keys of the long form, their types)
STEP_KINDS: dict[str, tuple[str, dict[str, type | tuple[type, ...]]]] = {
    "launch": ("cmd", {"timeout": (int, float)}),
    "do": ("instruction", {}),
    "click": ("label", {}),
    "type": ("text", {}),
    "press": ("chord", {}),
    "wait_for": ("text", {"timeout": (int, float)}),
    "assert_visible": ("text", {}),
    "assert_not_visible": ("text", {}),
    "check": ("claim", {}),
}
TOP_KEYS = ("name", "description", "steps")


class ScenarioError(UsageError):
    """A scenario file that cannot be run as written; the message starts with `file:line:`."""


@dataclass(frozen=True)
class ScenarioStep:
    kind: str
    args: dict[str, Any]
    line: int

    def describe(self) -> str:
        main = STEP_KINDS[self.kind][0]
        extra = ", ".join(f"{k}={v!r}" for k, v in self.args.items() if k != main)
        return f"{self.kind}: {self.args[main]!r}" + (f" ({extra})" if extra else "")


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    line: int
    steps: tuple[ScenarioStep, ...] = field(default=())


def load_scenarios(path: Path) -> list[Scenario]:
    """Every scenario of a file (one per YAML document); a ScenarioError names file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(f"{path}: cannot read: {e}") from None
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else 1
        raise ScenarioError(f"{path}:{line}: not valid YAML: {e.problem}") from None
    scenarios = []
    for index, node in enumerate(d for d in documents if d is not None):
        scenarios.append(_scenario(path, node, index))
    if not scenarios:
        raise ScenarioError(f"{path}:1: no scenario: write `steps:` with a list of steps")
    seen: set[str] = set()
    for s in scenarios:
        if s.name in seen:
            raise ScenarioError(f"{path}:{s.line}: two scenarios are named {s.name!r}: give each its own `name:`")
        seen.add(s.name)
    return scenarios


def _scenario(path: Path, node: yaml.Node, index: int) -> Scenario:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise ScenarioError(f"{path}:{line}: a scenario is a mapping with `steps:` (and optionally `name:`)")
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = _scalar(path, key, "a key")
        if name not in TOP_KEYS:
            raise ScenarioError(f"{path}:{key.start_mark.line + 1}: unknown key {name!r}{_hint(name, TOP_KEYS)}; "
                                f"a scenario has {', '.join(TOP_KEYS)}")
        fields[name] = value
    if "steps" not in fields:
        raise ScenarioError(f"{path}:{line}: the scenario has no `steps:`")
    steps_node = fields["steps"]
    if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
        raise ScenarioError(f"{path}:{steps_node.start_mark.line + 1}: `steps:` must be a non-empty list")
    name = _scalar(path, fields["name"], "`name`") if "name" in fields else (
        path.name.removesuffix(".yaml").removesuffix(".yml").removesuffix(".uiagent") + (f"-{index + 1}" if index else ""))
    return Scenario(name=name, path=path, line=line, steps=tuple(_step(path, n) for n in steps_node.value))


def _step(path: Path, node: yaml.Node) -> ScenarioStep:
    line = node.start_mark.line + 1
    kinds = ", ".join(STEP_KINDS)
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        raise ScenarioError(f"{path}:{line}: a step is one `kind: value` pair, e.g. `- click: Submit`; kinds: {kinds}")
    key, value = node.value[0]
    kind = _scalar(path, key, "a step kind")
    if kind not in STEP_KINDS:
        raise ScenarioError(f"{path}:{line}: unknown step {kind!r}{_hint(kind, STEP_KINDS)}; steps are: {kinds}")
    main, extra = STEP_KINDS[kind]
    if isinstance(value, yaml.MappingNode):
        args: dict[str, Any] = {}
        for k, v in value.value:
            arg = _scalar(path, k, "a key")
            allowed = (main, *extra)
            if arg not in allowed:
                raise ScenarioError(f"{path}:{k.start_mark.line + 1}: unknown key {arg!r} in `{kind}`"
                                    f"{_hint(arg, allowed)}; `{kind}` takes {', '.join(allowed)}")
            args[arg] = _value(path, v, arg, extra.get(arg, str))
        if main not in args:
            raise ScenarioError(f"{path}:{line}: `{kind}` needs `{main}`")
    else:
        args = {main: _value(path, value, main, str)}
    if isinstance(args[main], str) and not args[main].strip():
        raise ScenarioError(f"{path}:{line}: `{kind}` has an empty {main}")
    return ScenarioStep(kind=kind, args=args, line=line)


def _scalar(path: Path, node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise ScenarioError(f"{path}:{node.start_mark.line + 1}: expected {what}, found a {getattr(node, 'id', 'node')}")
    return str(node.value)


def _value(path: Path, node: yaml.Node, name: str, kind: type | tuple[type, ...]) -> Any:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.ScalarNode):
        raise ScenarioError(f"{path}:{line}: `{name}` must be a single value, found a {getattr(node, 'id', 'node')}")
    value = yaml.safe_load(yaml.serialize(node))  # the scalar with YAML's own typing (numbers, bools)
    if kind is str:
        if value is None or isinstance(value, (dict, list)):
            raise ScenarioError(f"{path}:{line}: `{name}` must be text")
        return node.value if isinstance(value, bool) else str(value)   # `yes` stays "yes"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not isinstance(value, kind):
        raise ScenarioError(f"{path}:{line}: `{name}` must be a number, got {node.value!r}")
    if value <= 0:
        raise ScenarioError(f"{path}:{line}: `{name}` must be positive")
    return value


def _hint(word: str, known: Any) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def run_step(ui: Any, step: ScenarioStep) -> None:
    """Run one step on a `agent.testing.ui.UI` (an explicit table: a file never names a method)."""
    a = step.args
    match step.kind:
        case "launch":
            ui.launch(a["cmd"], timeout=a.get("timeout", 10.0))
        case "do":
            ui.do(a["instruction"])
        case "click":
            ui.click(a["label"])
        case "type":
            ui.type(a["text"])
        case "press":
            ui.press(a["chord"])
        case "wait_for":
            ui.wait_for(a["text"], timeout=a.get("timeout", 10.0))
        case "assert_visible":
            ui.assert_visible(a["text"])
        case "assert_not_visible":
            ui.assert_not_visible(a["text"])
        case "check":
            ui.check(a["claim"])
