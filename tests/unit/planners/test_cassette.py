"""Model cassettes at the HTTP layer, through the real SDKs against the fake model servers."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import threading
from pathlib import Path

import anthropic
import openai
import pytest
from PIL import Image, ImageDraw

from agent.planners.cassette import (
    CASSETTE_FILE,
    CassettePlayer,
    CassetteRecorder,
    first_difference,
    normalise,
)
from agent.planners.transport import Connection, anthropic_client, openai_client
from tests.fakes.model_servers import (
    FakeModelServer,
    anthropic_message,
    chat_body,
    error_reply,
    text_block,
    tool_use,
)


def png(shade: int = 255, dot: tuple[int, int] | None = None) -> str:
    image = Image.new("RGB", (200, 100), (shade, shade, shade))
    if dot:
        ImageDraw.Draw(image).rectangle((*dot, dot[0] + 30, dot[1] + 30), fill="black")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def ask(client: anthropic.Anthropic, text: str, image: str) -> anthropic.types.Message:
    return client.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": [
        {"type": "text", "text": text},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}}]}])


def recorded(tmp_path: Path) -> Path:
    """Two exchanges (one retried after a 529) recorded from a fake Anthropic server, now stopped."""
    with FakeModelServer() as server:
        server.script(anthropic_message(tool_use("left_click", coordinate=[10, 20])),
                      error_reply(529, "overloaded"), anthropic_message(text_block("all done")))
        tape = CassetteRecorder()
        tape.attach(tmp_path)
        client = anthropic_client(Connection("anthropic", base_url=server.url, api_key="k", max_retries=2,
                                             transport=tape))
        assert ask(client, "step 1 on 2025-01-31 at 10:42", png(dot=(20, 20))).content[0].type == "tool_use"
        assert ask(client, "step 2", png(dot=(80, 40))).content[0].text == "all done"
        assert server.calls("/v1/messages") == 3
    return tmp_path


def test_record_then_replay_without_a_server(tmp_path: Path) -> None:
    folder = recorded(tmp_path)
    lines = [json.loads(line) for line in (folder / CASSETTE_FILE).read_text().splitlines()]
    assert [e["response"]["status"] for e in lines] == [200, 529, 200]
    assert len(list((folder / "cassette").glob("*.png"))) == 2  # images stored once, by hash
    assert "base64" not in (folder / CASSETTE_FILE).read_text().replace('"type":"base64"', "")
    player = CassettePlayer(folder)
    client = anthropic_client(Connection("anthropic", base_url="http://127.0.0.1:9", api_key="x", max_retries=2,
                                         transport=player))
    # the date differs (volatile), the screenshot differs by a few pixels: still the same request
    first = ask(client, "step 1 on 2026-11-26 at 18:01", png(dot=(21, 20)))
    assert first.content[0].type == "tool_use" and first.content[0].input == {"action": "left_click",
                                                                                "coordinate": [10, 20]}
    assert ask(client, "step 2", png(dot=(80, 40))).content[0].text == "all done"  # through the stored 529
    assert player.used == 3 and player.error is None


@pytest.mark.parametrize("change, where", [
    (("step one", png(dot=(20, 20))), "body.messages[0].content[0].text: \"step 1 on <date> at <time>\" != \"step one\""),
    (("step 1 on 2025-01-31 at 10:42", png(dot=(150, 50))), "another screenshot"),
])
def test_a_request_that_differs_fails_loudly_naming_the_first_difference(tmp_path: Path, change: tuple[str, str],
                                                                          where: str) -> None:
    player = CassettePlayer(recorded(tmp_path))
    client = anthropic_client(Connection("anthropic", base_url="http://127.0.0.1:9", api_key="x", max_retries=4,
                                         transport=player))
    with pytest.raises(anthropic.BadRequestError) as info:
        ask(client, *change)
    assert "cassette: request 1 differs from the recording at" in str(info.value) and where in str(info.value)
    assert player.used == 1  # no retries of a mismatch


def test_more_requests_than_recorded(tmp_path: Path) -> None:
    player = CassettePlayer(recorded(tmp_path))
    player.used = len(player.entries)
    client = anthropic_client(Connection("anthropic", base_url="http://127.0.0.1:9", api_key="x", transport=player))
    with pytest.raises(anthropic.BadRequestError, match="request 4 .* was not recorded"):
        ask(client, "step 3", png())


def test_openai_chat_round_trip(tmp_path: Path) -> None:
    with FakeModelServer() as server:
        server.script(chat_body("hello"))
        tape = CassetteRecorder()
        tape.attach(tmp_path)
        url_base = server.openai_url
        client = openai_client(Connection("openai", base_url=url_base, api_key="k", transport=tape))
        url = f"data:image/png;base64,{png()}"
        messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
        assert client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content == "hello"
    client = openai_client(Connection("openai", base_url=url_base, api_key="k", transport=CassettePlayer(tmp_path)))
    assert client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content == "hello"
    with pytest.raises(openai.BadRequestError, match="body.model"):
        client2 = openai_client(Connection("openai", base_url=url_base, api_key="k",
                                           transport=CassettePlayer(tmp_path)))
        client2.chat.completions.create(model="gpt-4o-mini", messages=messages)


def test_normalise_and_first_difference() -> None:
    body = {"a": [{"image_url": {"url": f"data:image/png;base64,{png()}"}}], "t": "now 2025-02-03T04:05:06Z"}
    norm = normalise(body)
    assert norm["a"][0]["image_url"]["url"].startswith("image:") and norm["t"] == "now <date>"
    assert first_difference(norm, norm) is None
    assert first_difference({"x": [1, 2]}, {"x": [1, 2, 3]}) == "body.x: 2 item(s) in the recording, 3 now"
    assert first_difference({"x": 1}, {"y": 1}) == "body.x: missing in the new request"


def test_a_folder_without_a_cassette_is_a_usage_error(tmp_path: Path) -> None:
    from actions.errors import UsageError

    with pytest.raises(UsageError, match="has no cassette.jsonl"):
        CassettePlayer(tmp_path)


def test_a_crafted_image_name_in_a_cassette_opens_nothing_outside(tmp_path: Path) -> None:
    """A cassette is untrusted input: an image reference that is not a content hash names no file."""
    folder = recorded(tmp_path / "recording")
    tape = folder / CASSETTE_FILE
    tape.write_text(re.sub(r"image:[0-9a-f]{20}", "image:../../outside", tape.read_text()))
    os.mkfifo(tmp_path / "outside.png")   # opening it would block until a writer comes
    player = CassettePlayer(folder)
    client = anthropic_client(Connection("anthropic", base_url="http://127.0.0.1:9", api_key="x", transport=player))
    errors: list[BaseException] = []

    def replay() -> None:
        try:
            ask(client, "step 1 on 2025-01-31 at 10:42", png(dot=(21, 20)))
        except Exception as e:
            errors.append(e)

    worker = threading.Thread(target=replay, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():   # blocked in open(): release it, then fail
        os.close(os.open(tmp_path / "outside.png", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the cassette player opened a file outside the recording")
    assert len(errors) == 1 and "request 1 differs from the recording" in str(errors[0])
