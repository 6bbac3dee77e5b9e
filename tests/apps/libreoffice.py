"""LibreOffice Calc on a VirtualDisplay, for the real-app tests and bench/perception_dense.py.

    window = start_calc(vd)        # a private profile without the first-run "Tip of the Day"

The profile (`registrymodifications.xcu` in the display's private HOME) turns off the tip dialog
that otherwise pops up seconds after the window, and the first-run flag; `--norestore` skips
document recovery. The GTK3 toolkit is chosen so that Calc shows up in the accessibility tree.
"""

from __future__ import annotations

from pathlib import Path

from agent.display import VirtualDisplay, WindowGeometry

PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="ShowTipOfTheDay" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


def calc_profile(config_home: Path) -> Path:
    """Write the profile under `config_home` (XDG_CONFIG_HOME); returns the file."""
    user = config_home / "libreoffice" / "4" / "user"
    user.mkdir(parents=True, exist_ok=True)
    path = user / "registrymodifications.xcu"
    path.write_text(PROFILE)
    return path


def start_calc(vd: VirtualDisplay, timeout: float = 60.0) -> WindowGeometry:
    """Start `localc --norestore` with that profile and wait for its window."""
    calc_profile(Path(vd.env["XDG_CONFIG_HOME"]))
    vd.launch(["localc", "--norestore"], env={"SAL_USE_VCLPLUGIN": "gtk3"})
    return vd.wait_for_window(name="LibreOffice Calc", timeout=timeout)
