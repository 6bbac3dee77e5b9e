"""Shared scene for the perception benchmarks: a 1920x1080 Xvfb (+ openbox + session bus) with
xcalc, galculator, the Tk form and an xterm side by side, and ground truth for their labels.

Ground truth: galculator from its accessibility extents; the form from its own widget geometry
(it reports it); xcalc from its Xaw widget windows (each button is an X window) paired, in
reading order, with the button labels of xcalc's app-defaults file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from actions.desktop.x11 import PyAutoGUIDesktop
from actions.models import Box
from agent.display import VirtualDisplay, WindowGeometry
from agent.perception.a11y import A11yReader
from agent.perception.settle import settle

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
XCALC_DEFAULTS = Path("/etc/X11/app-defaults/XCalc")
SYMBOL_FONT_LABELS = {3: "√", 21: "π", 35: "÷"}  # these buttons use the Adobe Symbol font


@dataclass
class Scene:
    vd: VirtualDisplay
    desktop: PyAutoGUIDesktop
    windows: dict[str, WindowGeometry]
    truth: dict[str, list[tuple[str, Box]]] = field(default_factory=dict)


def _move(vd: VirtualDisplay, win: WindowGeometry, x: int, y: int) -> None:
    subprocess.run(["xdotool", "windowmove", str(win.window.window_id), str(x), str(y)], env=vd.env, check=True)


def _wait(predicate, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("scene did not come up")
        time.sleep(0.05)
    return value


@contextmanager
def scene(size: tuple[int, int] = (1920, 1080), form_layout: str = "default") -> Iterator[Scene]:
    with VirtualDisplay(size=size, window_manager=True, dbus=True) as vd:
        form_out = Path(vd.env["HOME"]) / "form.txt"
        vd.launch(["xcalc", "-geometry", "+40+60"])
        vd.launch(["galculator"])
        vd.launch([sys.executable, str(APPS / "form.py"), "--out", str(form_out), "--layout", form_layout,
                   "--geometry", "+1300+60"])
        vd.launch(["xterm", "-fa", "DejaVu Sans Mono", "-fs", "11", "-geometry", "70x12+700+600"])
        windows = {name: vd.wait_for_window(name=name, timeout=20)
                   for name in ("xcalc", "galculator", "uiagent form", "xterm")}
        _move(vd, windows["galculator"], 700, 60)
        windows["galculator"] = vd.wait_for_window(name="galculator")
        _wait(lambda: vd.wait_for_window(name="galculator").left >= 690)
        windows["galculator"] = vd.wait_for_window(name="galculator")
        desktop = PyAutoGUIDesktop(vd.display)
        try:
            settle(desktop, timeout_s=5, quiet_s=0.3)
            s = Scene(vd, desktop, windows)
            s.truth["xcalc"] = xcalc_truth(vd.display, windows["xcalc"])
            s.truth["galculator"] = galculator_truth(vd)
            s.truth["form"] = _wait(lambda: form_truth(form_out))
            yield s
        finally:
            desktop.close()


def xcalc_labels() -> list[str]:
    labels: dict[int, str] = {}
    for m in re.finditer(r"^XCalc\*ti\.button(\d+)\.label:\s*(.*)$", XCALC_DEFAULTS.read_text("latin-1"), re.M):
        n, raw = int(m.group(1)), m.group(2).strip()
        text = re.sub(r"\\(\d{3})", lambda o: chr(int(o.group(1), 8)), raw)
        labels[n] = SYMBOL_FONT_LABELS.get(n, text)
    return [labels[n] for n in sorted(labels)]


def xcalc_truth(display: str, win: WindowGeometry) -> list[tuple[str, Box]]:
    from Xlib.display import Display

    x = Display(display)
    try:
        top = x.create_resource_object("window", win.window.window_id)
        form = top.query_tree().children[0]
        root = x.screen().root
        boxes = []
        for child in form.query_tree().children:
            g = child.get_geometry()
            if 30 <= g.width <= 60 and 20 <= g.height <= 40:  # the key windows (40x26)
                p = root.translate_coords(child, 0, 0)
                boxes.append(Box(left=p.x, top=p.y, right=p.x + g.width, bottom=p.y + g.height))
    finally:
        x.close()
    boxes.sort(key=lambda b: (b.top, b.left))
    labels = xcalc_labels()
    if len(boxes) != len(labels):
        raise RuntimeError(f"xcalc: {len(boxes)} key windows but {len(labels)} labels")
    return list(zip(labels, boxes))


def galculator_truth(vd: VirtualDisplay) -> list[tuple[str, Box]]:
    reader = A11yReader(vd.env["DBUS_SESSION_BUS_ADDRESS"], app_names=("galculator",))
    result = _wait(lambda: (r := reader.read()) and any(e.role.endswith("button") for e in r.elements) and r)
    return [(e.text, e.box) for e in result.elements if e.role.endswith("button") and e.text]


def form_truth(out: Path) -> list[tuple[str, Box]] | None:
    if not out.exists():
        return None
    lines = [ln for ln in out.read_text().splitlines() if ln.startswith("widgets ")]
    if not lines:
        return None
    return [(w["text"], Box(left=w["box"][0], top=w["box"][1], right=w["box"][2], bottom=w["box"][3]))
            for w in json.loads(lines[-1].split(" ", 1)[1])]
