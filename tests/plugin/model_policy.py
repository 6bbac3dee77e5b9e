"""A scripted model behind the fake OpenAI server, for plugin tests and the benchmark.

As a planner (requests with tools): the task `click X` clicks the mark whose legend text is X,
`type 'X'` types X, `press X` presses X; once a tool result comes back it answers `done`.
As a judge (requests without tools): `claims` maps a claim to its JSON answer, `queries` maps
a pydantic model name to the JSON object to return.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.model_servers import RecordedRequest, chat_body, chat_tool_call


def _texts(body: dict[str, Any]) -> str:
    out = []
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p.get("text", "") for p in content if isinstance(p, dict)]
    return "\n".join(out)


@dataclass
class UIPolicy:
    claims: dict[str, dict[str, str]] = field(default_factory=dict)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __call__(self, request: RecordedRequest) -> dict[str, Any]:
        body = request.json
        text = _texts(body)
        if "tools" not in body:
            return self._judge(text)
        if any(m.get("role") == "tool" for m in body["messages"]):
            return chat_body(tool_calls=[chat_tool_call("done", {"summary": "done"})])
        task = re.search(r"^Task: (.+)$", text, re.MULTILINE)
        return chat_body(tool_calls=[self._act(task.group(1).strip() if task else "", text)])

    def _act(self, task: str, text: str) -> dict[str, Any]:
        if m := re.fullmatch(r"click (.+)", task):
            label = m.group(1).strip("'\"")
            mark = re.search(rf'^\[(\d+)\] \S+ "{re.escape(label)}"', text, re.MULTILINE)
            if mark is None:
                return chat_tool_call("fail", {"reason": f"no {label!r} on the screen"})
            return chat_tool_call("click", {"mark": int(mark.group(1))})
        if m := re.fullmatch(r"type '(.+)'", task):
            return chat_tool_call("type", {"text": m.group(1)})
        if m := re.fullmatch(r"press (.+)", task):
            return chat_tool_call("key", {"chord": m.group(1)})
        return chat_tool_call("fail", {"reason": f"cannot do {task!r}"})

    def _judge(self, text: str) -> dict[str, Any]:
        if m := re.search(r"^Claim: (.+)$", text, re.MULTILINE):
            answer = self.claims.get(m.group(1).strip(), {"answer": "no", "evidence": "not scripted"})
            return chat_body(json.dumps(answer))
        if m := re.search(r"extract (\w+) as one JSON object", text):
            return chat_body(json.dumps(self.queries.get(m.group(1), {})))
        return chat_body("I do not know")
