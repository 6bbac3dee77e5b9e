"""Setup for the real-application tests and bench (tests/display/test_real_apps.py,
bench/input_pacing.py): a LibreOffice profile without first-run dialogs, and text read off a region."""

from __future__ import annotations

from pathlib import Path

# The profile LibreOffice would write after its first run: no Tip of the Day, no first-run infobar,
# no "what's new" for this version.
_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="ShowTipOfTheDay" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Setup/Office"><prop oor:name="ooSetupInstCompleted" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Setup/Product"><prop oor:name="ooSetupLastVersion" oor:op="fuse"><value>7.4</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Input"><prop oor:name="AutoInput" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""


def libreoffice_profile(home: Path) -> Path:
    """Write a first-run-free LibreOffice user profile under `home` ($XDG_CONFIG_HOME = home/config,
    as agent.display.VirtualDisplay sets it); returns the profile folder."""
    user = home / "config" / "libreoffice" / "4" / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(_XCU)
    return user


CALC = ["localc", "--norestore", "--nologo"]
