"""`uiagent doctor`: is this machine usable, and if not, the one-line fix for each problem."""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import Any

from pydantic import BaseModel, ConfigDict


class Check(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def run_checks(display: str | None) -> list[Check]:
    groups: list[Check | list[Check]] = [_display_checks(display), *_tool_checks(), *_key_checks()]
    return [c for group in groups for c in (group if isinstance(group, list) else [group])]


def usable(checks: list[Check]) -> bool:
    return all(c.ok for c in checks if c.required)


def _display_checks(display: str | None) -> list[Check]:
    if not display:
        return [Check(name="display", ok=False, detail="DISPLAY is not set",
                      fix="run inside an X session, or use --virtual (needs Xvfb)")]
    try:
        from Xlib.display import Display
        x = Display(display)
    except Exception as e:
        return [Check(name="display", ok=False, detail=f"cannot open {display}: {str(e).splitlines()[0]}",
                      fix="start the X server, or use --virtual")]
    try:
        screen = x.screen()
        out = [Check(name="display", ok=True, detail=f"{display}, {screen.width_in_pixels}x{screen.height_in_pixels}")]
        for ext, why in (("XTEST", "input"), ("RECORD", "kill switch and `uiagent record`")):
            present = x.query_extension(ext) is not None
            out.append(Check(name=ext, ok=present, detail="present" if present else "missing",
                             fix=f"start the X server with +extension {ext} ({why})", required=ext == "XTEST"))
        out.append(_wm_check(x))
        return out
    finally:
        x.close()


def _wm_check(x: Any) -> Check:
    root = x.screen().root
    prop = root.get_full_property(x.intern_atom("_NET_SUPPORTING_WM_CHECK"), 0)
    if not prop or not len(prop.value):
        return Check(name="window manager", ok=False, detail="none", required=False,
                     fix="start one (e.g. openbox) for focus and window activation; --virtual starts openbox")
    win = x.create_resource_object("window", int(prop.value[0]))
    name = win.get_full_property(x.intern_atom("_NET_WM_NAME"), x.intern_atom("UTF8_STRING"))
    return Check(name="window manager", ok=True, detail=name.value.decode() if name else "running")


def _tool_checks() -> list[Check]:
    out = []
    rapid = importlib.util.find_spec("rapidocr") is not None and importlib.util.find_spec("onnxruntime") is not None
    out.append(Check(name="OCR: rapidocr", ok=rapid, detail="importable" if rapid else "missing",
                     fix="pip install rapidocr onnxruntime"))
    tk = importlib.util.find_spec("tkinter") is not None
    out.append(Check(name="tkinter", ok=tk, detail="importable" if tk else "missing",
                     fix="use a Python built with tkinter (apt-get install python3-tk); pyautogui needs it"))
    for binary, pkg, required in (("Xvfb", "xvfb", False), ("openbox", "openbox", False), ("xdotool", "xdotool", False)):
        path = shutil.which(binary)
        out.append(Check(name=binary, ok=bool(path), detail=path or "missing", required=required,
                         fix=f"apt-get install {pkg}"))
    out.append(_sandbox_check())
    return out


def _sandbox_check() -> Check:
    """bubblewrap found, and it really sets up a sandbox with the flags `--sandbox` uses."""
    from agent.sandbox import INSTALL_FIX, SETUP_FIX, bwrap_version, probe

    bwrap = shutil.which("bwrap")
    if not bwrap:
        return Check(name="sandbox", ok=False, required=False, fix=INSTALL_FIX,
                     detail="bubblewrap (bwrap) not found: --launch apps cannot be sandboxed "
                            "(on by default with --virtual)")
    version = bwrap_version(bwrap)
    problem = probe(bwrap)
    if problem:
        return Check(name="sandbox", ok=False, required=False, fix=SETUP_FIX,
                     detail=f"{version} at {bwrap} cannot start a sandbox: {problem}")
    return Check(name="sandbox", ok=True, required=False, detail=f"{version} at {bwrap}, works")


def _key_checks() -> list[Check]:
    out = []
    for var, provider in (("ANTHROPIC_API_KEY", "anthropic"), ("OPENAI_API_KEY", "openai, openai-cua, ui-tars")):
        present = bool(os.environ.get(var))
        out.append(Check(name=f"key {var}", ok=present, required=False,
                         detail="set" if present else "not set (the offline planner works without keys)",
                         fix=f"export {var}=... to use {provider}"))
    return out
