"""Model specs, provider choice by configured keys, profiles and prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.errors import UsageError
from agent.planners import prompts
from agent.planners.anthropic import AnthropicPlanner
from agent.planners.base import Planner
from agent.planners.openai_chat import ChatPlanner
from agent.planners.openai_cua import OpenAICUAPlanner
from agent.planners.profiles import load_profiles
from agent.planners.registry import build_planner, parse_spec
from agent.planners.uitars import UITarsPlanner
from agent.settings import Settings


def test_parse_spec() -> None:
    assert parse_spec("anthropic:claude-sonnet-4-6", {}) == ("anthropic", "claude-sonnet-4-6")
    assert parse_spec("openai:llava:13b", {}) == ("openai", "llava:13b")
    assert parse_spec("ui-tars", {}) == ("ui-tars", "ui-tars-1.5-7b")
    with pytest.raises(UsageError, match="unknown provider 'gemini'.*anthropic, openai-cua, openai, ui-tars"):
        parse_spec("gemini:gemini-2.5-flash", {})


def test_no_model_picks_by_configured_key() -> None:
    assert parse_spec(None, {"ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"})[0] == "anthropic"
    assert parse_spec(None, {"OPENAI_API_KEY": "k"})[0] == "openai-cua"
    assert parse_spec(None, {})[0] == "offline"


@pytest.mark.parametrize("spec, cls", [("anthropic:claude-sonnet-4-6", AnthropicPlanner),
                                       ("openai-cua:gpt-5.4", OpenAICUAPlanner), ("openai:gpt-4o", ChatPlanner),
                                       ("ui-tars:ui-tars-1.5-7b", UITarsPlanner)])
def test_builds_each_provider(spec: str, cls: type) -> None:
    planner = build_planner(Settings(model=spec, base_url="http://127.0.0.1:9/v1"), api_key="k")
    assert isinstance(planner, cls) and isinstance(planner, Planner) and f"{planner.name}:{planner.model}" == spec  # type: ignore[attr-defined]


def test_missing_key_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UsageError, match="set ANTHROPIC_API_KEY"):
        build_planner(Settings(model="anthropic:claude-sonnet-4-6"))
    with pytest.raises(UsageError, match="set OPENAI_API_KEY"):
        build_planner(Settings(model="openai-cua:gpt-5.4"))
    # a local server needs no key
    assert build_planner(Settings(model="openai:llava", base_url="http://127.0.0.1:11434/v1"))


def test_sdk_env_vars_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1234/v1")
    planner = build_planner(Settings(model="openai:qwen2.5vl:7b"))
    assert planner.url == "http://127.0.0.1:1234/v1"  # type: ignore[attr-defined]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:4321")
    assert build_planner(Settings(model="anthropic:claude-sonnet-4-6")).url == "http://127.0.0.1:4321"  # type: ignore[attr-defined]


def test_offline_is_lazy() -> None:
    try:
        planner = build_planner(Settings(model="offline"))
    except UsageError as e:
        assert "offline planner is not available" in str(e)
    else:
        assert hasattr(planner, "next_turn")


def test_profiles_pick_tool_grounding_and_prices(caplog: pytest.LogCaptureFixture) -> None:
    table = load_profiles()
    assert table.lookup("anthropic", "claude-opus-4-7").tool_version == "computer_20251124"
    assert table.lookup("anthropic", "claude-haiku-4-5-20251001").tool_version == "computer_20250124"
    assert table.lookup("anthropic", "claude-3-5-sonnet-20241022").tool_version == "computer_20241022"
    assert table.lookup("openai-cua", "computer-use-preview").cua_tool == "computer_use_preview"
    qwen = table.lookup("openai", "Qwen/Qwen2.5-VL-72B-Instruct")
    assert (qwen.grounding, qwen.convention, qwen.resize) == ("coordinates", "pixels", "smart")
    assert table.lookup("openai", "OpenGVLab/InternVL2_5-8B").convention == "grid1000"
    assert table.lookup("ui-tars", "bytedance/ui-tars-7b-sft").convention == "grid1000"
    assert table.lookup("ui-tars", "ui-tars-1.5-7b").convention == "pixels"
    assert table.lookup("openai", "gpt-4o-2024-08-06").price_input == 2.5
    unknown = table.lookup("openai", "my-finetune")
    assert not unknown.known and unknown.grounding == "marks"
    assert "no profile for model 'my-finetune'" in caplog.text


def test_user_profiles_come_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "profiles.toml"
    own.write_text('[[profile]]\npattern = "gpt-4o*"\nprovider = "openai"\ngrounding = "coordinates"\n'
                   'price_input = 9.0\n')
    assert load_profiles(own).lookup("openai", "gpt-4o").price_input == 9.0
    monkeypatch.setenv("UIAGENT_PROFILES", str(own))
    assert load_profiles().lookup("openai", "gpt-4o").grounding == "coordinates"
    own.write_text('[[profile]]\npattern = "x"\ngrounding = "telepathy"\n')
    with pytest.raises(UsageError, match="bad model profile 'x'"):
        load_profiles(own).lookup("openai", "x")
    with pytest.raises(UsageError, match="cannot read model profiles"):
        load_profiles(tmp_path / "missing.toml")


def test_prompts_render_at_call_time() -> None:
    text = prompts.render("anthropic_system.j2", screen_w=1920, screen_h=1080, image_w=1366, image_h=768)
    assert "1366x768" in text and "data, not instructions" in text and "Today is" in text
    assert prompts.prompt_dir().joinpath("chat_system.j2").is_file()
    with pytest.raises(UsageError, match="not found"):
        prompts.render("nope.j2")


@pytest.mark.parametrize("fmt", ["bmp", "tiff", "gif"])
def test_an_image_format_no_provider_takes_is_a_usage_error_naming_it(tmp_path: Path, fmt: str) -> None:
    """Both providers take JPEG and PNG (vlm-api.md); anything else in a profile is refused at
    lookup with the field and the value, before a request could be rejected."""
    own = tmp_path / "profiles.toml"
    own.write_text(f'[[profile]]\npattern = "gpt-4o*"\nprovider = "openai"\nimage_format = "{fmt}"\n')
    with pytest.raises(UsageError, match=r"bad model profile 'gpt-4o\*': .*image_format.*") as info:
        load_profiles(own).lookup("openai", "gpt-4o")
    assert "jpeg" in str(info.value) and "\n" not in str(info.value)
