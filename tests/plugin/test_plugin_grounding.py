"""`ui.click` grounds like the offline planner: on xcalc the key, not the display's digit."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.display

XCALC_TEST = '''
from agent.perception.widgets import interactive

def test_one_plus_one(ui):
    ui.launch(["xcalc", "-geometry", "+300+100"])
    ui.click("1")
    ui.click("+")
    ui.click("1", widget=True)
    ui.click("=")
    shown = [e for e in ui.parts.perceiver.observe().elements if not interactive(e) and e.text[:1].isdigit()]
    assert [e.text for e in shown] == ["2"], [e.describe() for e in shown]

def test_no_such_key(ui):
    ui.launch(["xcalc", "-geometry", "+300+100"])
    ui.click("Q")
'''


def test_ui_click_presses_xcalc_keys_the_display_also_shows(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_calc=XCALC_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--uiagent-cache=off", timeout=240)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*step 2 ui.click('Q'): failed: \"click 'Q'\": no 'Q' on screen*"])
