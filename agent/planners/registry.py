"""Build a planner from a model spec `provider:model` and the Settings.

    planner = build_planner(settings, cost_guard=CostGuard(settings.max_cost), confirm_safety=ask)

With no `--model`, a configured key picks its provider (ANTHROPIC_API_KEY, then OPENAI_API_KEY),
otherwise the offline planner. Planner classes are imported lazily by path, so a provider's
module (and SDK) is only loaded when used, and `offline` may land later without breaking this.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from actions.errors import UsageError
from agent.deadline import Deadline
from agent.planners.base import Capabilities, Planner
from agent.planners.cost import CostGuard
from agent.settings import Settings

if TYPE_CHECKING:
    from agent.planners.model_planner import SafetyConfirm

PLANNERS: dict[str, str] = {
    "anthropic": "agent.planners.anthropic:AnthropicPlanner",
    "openai-cua": "agent.planners.openai_cua:OpenAICUAPlanner",
    "openai": "agent.planners.openai_chat:ChatPlanner",
    "ui-tars": "agent.planners.uitars:UITarsPlanner",
    "offline": "agent.planners.offline.planner:OfflinePlanner",
}
DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-4-6",
    "openai-cua": "gpt-5.4",
    "openai": "gpt-4o",
    "ui-tars": "ui-tars-1.5-7b",
    "offline": "steps",
}


def parse_spec(spec: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """`provider:model` -> (provider, model). None picks by configured keys, else offline."""
    env = os.environ if env is None else env
    if not spec:
        if env.get("ANTHROPIC_API_KEY"):
            return ("anthropic", DEFAULT_MODELS["anthropic"])
        if env.get("OPENAI_API_KEY"):
            return ("openai-cua", DEFAULT_MODELS["openai-cua"])
        return ("offline", DEFAULT_MODELS["offline"])
    provider, _, model = spec.strip().partition(":")
    provider = provider.strip().lower()
    if provider not in PLANNERS:
        raise UsageError(f"unknown provider {provider!r} in --model {spec!r}: use one of "
                         f"{', '.join(PLANNERS)} as PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5")
    model = model.strip() or DEFAULT_MODELS[provider]
    return (provider, model)


def is_offline(settings: Settings) -> bool:
    """Whether `settings.model` (or the configured keys) picks the offline planner; an unknown provider counts as a model (its error comes on use)."""
    try:
        return parse_spec(settings.model)[0] == "offline"
    except UsageError:
        return False


def _load_class(provider: str) -> Callable[..., Planner]:
    module_name, _, attr = PLANNERS[provider].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            raise UsageError(f"the {provider} planner is not available in this build ({module_name})") from None
        raise
    cls: Callable[..., Planner] = getattr(module, attr)
    return cls


def build_planner(settings: Settings, *, cost_guard: CostGuard | None = None,
                  confirm_safety: SafetyConfirm | None = None, api_key: str | None = None,
                  max_retries: int | None = None, request_timeout: float | None = None,
                  env: Mapping[str, str] | None = None, transport: Any = None,
                  deadline: Deadline | None = None) -> Planner:
    """The planner for `settings.model` (+ `settings.base_url`). Raises UsageError for a bad spec,
    a missing key or a bad profiles file; nothing is sent to a provider here. `deadline` (the run's
    --timeout, started by the caller) bounds every request and retry; None: requests are bounded
    by `request_timeout` alone."""
    provider, model = parse_spec(settings.model, env)
    cls = _load_class(provider)
    if provider == "offline":
        return cls()
    # The SDKs (seconds of imports) load only for model providers, never for the offline planner.
    from agent.planners.model_planner import PlannerConfig, decline_safety_checks
    from agent.planners.profiles import load_profiles
    from agent.planners.transport import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_S, Connection

    max_retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
    request_timeout = DEFAULT_TIMEOUT_S if request_timeout is None else request_timeout
    confirm_safety = confirm_safety or decline_safety_checks
    profile = load_profiles(getattr(settings, "profiles", None)).lookup(provider, model)
    config = PlannerConfig(
        provider=provider, model=model, profile=profile,
        connection=Connection(provider=provider, base_url=settings.base_url, api_key=api_key,
                              max_retries=max_retries, timeout=request_timeout, transport=transport,
                              max_answer_bytes=settings.max_answer_bytes, deadline=deadline),
        keep_screenshots=min(settings.keep_screenshots, profile.max_images),
        cost_guard=cost_guard or CostGuard(settings.max_cost), confirm_safety=confirm_safety,
        max_actions=settings.max_actions_per_turn, deadline=deadline or Deadline(None))
    return cls(config)


def start_planner(settings: Settings, *, api_key: str | None = None, env: Mapping[str, str] | None = None,
                  **options: Any) -> Planner:
    """`build_planner`, with a model planner built on a worker thread (`agent.planners.pending`):
    its SDK's import overlaps the display's start and the wiring. The UsageErrors of a bad spec,
    profiles file or missing API key are raised here, before anything starts."""
    provider, model = parse_spec(settings.model, env)
    if provider == "offline":
        return build_planner(settings, api_key=api_key, env=env, **options)
    from agent.planners.pending import PendingPlanner
    from agent.planners.profiles import load_profiles
    from agent.planners.transport import Connection, check_key

    profile = load_profiles(getattr(settings, "profiles", None)).lookup(provider, model)
    check_key(Connection(provider=provider, base_url=settings.base_url, api_key=api_key))
    build = functools.partial(build_planner, settings, api_key=api_key, env=env, **options)
    return PendingPlanner(build, provider, model, Capabilities(elements=profile.needs_elements, model_calls=True))
