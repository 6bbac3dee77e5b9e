"""The offline planner: parsing explicit instructions, grounding by text, never guessing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from PIL import Image

from actions.desktop.base import Monitor, ScreenGeometry, Screenshot
from actions.errors import UsageError
from actions.models import ActionResult, Box, Click, Done, Fail, Key, Scroll, Type, Wait
from agent.perception.elements import Element
from agent.perception.find import Selector
from agent.perception.observation import Observation
from agent.perception.reaction import Reaction
from agent.planners.base import HistoryItem, Turn
from agent.planners.offline.instructions import parse_step, parse_task, split_steps
from agent.planners.offline.planner import OfflinePlanner


@dataclass
class Found:
    best: Element | None
    candidates: list[Element] = field(default_factory=list)
    ambiguous: bool = False
    reason: str = ""


def exact_find(elements, text, min_score=0.75):
    hits = [e for e in elements if e.text == text]
    return Found(best=hits[0] if hits else None, candidates=hits, ambiguous=len(hits) > 1,
                 reason=f"{text!r} is ambiguous" if len(hits) > 1 else "")


def el(i: int, text: str, x: int, y: int) -> Element:
    return Element(id=i, text=text, box=Box(left=x, top=y, right=x + 40, bottom=y + 20))


def obs(*elements: Element) -> Observation:
    shot = Screenshot(image=Image.new("RGB", (800, 600)))
    return Observation(screenshot=shot, screen=ScreenGeometry(width=800, height=600,
                       monitors=(Monitor(index=1, left=0, top=0, width=800, height=600),)), elements=elements)


def done(history: list[HistoryItem], turn) -> None:
    history.append(HistoryItem(step=len(history) + 1, actions=turn.actions,
                               results=tuple(ActionResult(action=a, status="performed") for a in turn.actions)))


@pytest.mark.parametrize("task, verbs", [
    ("click File, then double-click 'report.txt'", ["click", "click"]),
    ("1. right-click the icon 2. type \"hello, world\" 3. press ctrl+s", ["click", "type", "key"]),
    ("scroll down 3; wait 2 seconds; click the 7 button\nverify '42'", ["scroll", "wait", "click", "verify"]),
    ("press the 7 button then press Return", ["click", "key"]),
    ("click at (100, 200), wait for 'Saved' up to 5 s, drag a.txt to Trash", ["click", "wait_for", "drag"]),
    ("Please move to Help and then check that Error is not visible", ["move", "verify_not"]),
])
def test_tasks_split_into_steps(task: str, verbs: list[str]) -> None:
    assert [i.verb for i in parse_task(task)] == verbs


def test_step_details() -> None:
    steps = parse_task("double-click 'report.txt', right-click the icon, type \"a, b\", press Page_Down, "
                       "scroll up 2 on Files, wait 500 ms, click at (10, 20), click the = button")
    assert (steps[0].target, steps[0].count) == ("report.txt", 2)
    assert (steps[1].target, steps[1].button) == ("icon", "right")
    assert steps[2].text == "a, b"
    assert steps[3].chord == "pagedown"
    assert (steps[4].dy, steps[4].target) == (-2, "Files")
    assert steps[5].seconds == 0.5
    assert steps[6].point == (10, 20)
    assert steps[7].target == "="


@pytest.mark.parametrize("task, message", [
    ("", "empty task"),
    ("click File, then fly to the moon", "cannot parse step 'fly to the moon'"),
    ("press ctrl+hyper", "cannot parse step 'press ctrl+hyper'"),
    ("wait 0 seconds", "cannot parse step 'wait 0 seconds': a wait is more than 0 and at most 60 seconds"),
    ("wait 120 s", "cannot parse step 'wait 120 s': a wait is more than 0"),
])
def test_unparseable_steps_are_named(task: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_task(task)


def test_quotes_protect_separators() -> None:
    assert split_steps("type 'one, then two'; click OK") == ["type 'one, then two'", "click OK"]


def test_clicks_the_found_element_and_batches_groundless_steps() -> None:
    p = OfflinePlanner(find=exact_find)
    screen = obs(el(1, "File", 10, 10), el(2, "Save", 100, 10))
    history: list[HistoryItem] = []
    task = "click File, type hello, press ctrl+s, click Save"
    t1 = p.next_turn(task, screen, history)
    assert t1.actions == (Click(x=30, y=20, target=t1.actions[0].target),)
    assert t1.actions[0].target.label == "File" and t1.actions[0].target.mark == 1
    done(history, t1)
    t2 = p.next_turn(task, screen, history)
    assert [a.kind for a in t2.actions] == ["type", "key"]
    done(history, t2)
    t3 = p.next_turn(task, screen, history)
    assert isinstance(t3.actions[0], Click) and t3.actions[0].target.label == "Save"
    done(history, t3)
    assert isinstance(p.next_turn(task, screen, history).actions[0], Done)
    assert t1.usage.model_calls == 0


def test_missing_and_ambiguous_targets_fail_with_what_was_seen() -> None:
    p = OfflinePlanner(find=exact_find)
    missing = p.next_turn("click Open", obs(el(1, "File", 0, 0), el(2, "Edit", 50, 0)), [])
    assert isinstance(missing.actions[0], Fail)
    assert "no 'Open' on screen" in missing.actions[0].reason and "'File'" in missing.actions[0].reason
    p = OfflinePlanner(find=exact_find)
    twice = p.next_turn("click OK", obs(el(1, "OK", 0, 0), el(2, "OK", 50, 0)), [])
    assert isinstance(twice.actions[0], Fail) and "ambiguous" in twice.actions[0].reason


def test_verify_passes_at_once_or_looks_again_until_its_deadline() -> None:
    p = OfflinePlanner(find=exact_find)
    assert isinstance(p.next_turn("verify 42", obs(el(1, "42", 0, 0)), []).actions[0], Done)
    now = [0.0]
    p = OfflinePlanner(find=exact_find, clock=lambda: now[0])
    assert p.next_turn("verify 42", obs(el(1, "41", 0, 0)), []).actions == (Wait(seconds=0.3),)
    now[0] = 1.0  # the app got there late: the second look passes
    assert isinstance(p.next_turn("verify 42", obs(el(1, "42", 0, 0)), []).actions[0], Done)
    p = OfflinePlanner(find=exact_find, clock=lambda: now[0])
    assert isinstance(p.next_turn("verify 42", obs(el(1, "41", 0, 0)), []).actions[0], Wait)
    now[0] = 3.1
    failed = p.next_turn("verify 42", obs(el(1, "41", 0, 0)), []).actions[0]
    assert isinstance(failed, Fail) and "'42' is not on screen after 2s" in failed.reason
    p = OfflinePlanner(find=exact_find, clock=lambda: now[0])
    assert isinstance(p.next_turn("verify Error is not visible", obs(el(1, "Error", 0, 0)), []).actions[0], Wait)
    now[0] = 3.5
    assert isinstance(p.next_turn("verify Error is not visible", obs(), []).actions[0], Done)


def test_verify_deadline_and_no_change_suffix_parse() -> None:
    assert parse_step("verify 'submitted 1' within 5 s").seconds == 5.0
    assert parse_step("verify 'submitted 1' within 5 s").target == "submitted 1"
    assert parse_step("verify 42").seconds == 2.0
    quiet = parse_step("press F5 (no change)")
    assert (quiet.verb, quiet.chord, quiet.expect_change) == ("key", "f5", False)
    assert parse_step("click Dead (no reaction)").target == "Dead" and parse_step("click Dead").expect_change


def _reacted(t: Turn, *signals: str) -> HistoryItem:
    return HistoryItem(step=1, actions=t.actions,
                       results=tuple(ActionResult(action=a, status="performed") for a in t.actions),
                       reactions=tuple(Reaction(deadline_s=1.0, signal=s) for s in signals))


def test_a_step_that_changed_nothing_fails_the_run_unless_it_said_so() -> None:
    screen = obs(el(1, "Dead", 10, 10))
    p = OfflinePlanner(find=exact_find)
    t = p.next_turn("click Dead", screen, [])
    failed = p.next_turn("click Dead", screen, [_reacted(t, "none")]).actions[0]
    assert isinstance(failed, Fail)
    assert failed.reason.startswith("'click Dead': nothing changed on screen within 1 s after click")
    p = OfflinePlanner(find=exact_find)
    t = p.next_turn("click Dead (no change)", screen, [])
    assert isinstance(p.next_turn("click Dead (no change)", screen, [_reacted(t, "none")]).actions[0], Done)
    p = OfflinePlanner(find=exact_find)  # only the widget itself changed (a caret, a check mark): seen
    t = p.next_turn("type a, press F5", screen, [])
    assert isinstance(p.next_turn("type a, press F5", screen, [_reacted(t, "widget", "screen")]).actions[0], Done)
    p = OfflinePlanner(find=exact_find)  # the second of two batched steps did nothing
    t = p.next_turn("type a, press F5", screen, [])
    failed = p.next_turn("type a, press F5", screen, [_reacted(t, "screen", "none")]).actions[0]
    assert isinstance(failed, Fail) and failed.reason.startswith("'press F5': nothing changed")


def test_wait_for_polls_then_times_out() -> None:
    now = [0.0]
    p = OfflinePlanner(find=exact_find, clock=lambda: now[0])
    empty = obs()
    assert isinstance(p.next_turn("wait for Saved up to 2 s", empty, []).actions[0], Wait)
    now[0] = 1.0
    assert isinstance(p.next_turn("wait for Saved up to 2 s", empty, []).actions[0], Wait)
    now[0] = 2.5
    assert isinstance(p.next_turn("wait for Saved up to 2 s", empty, []).actions[0], Fail)


def test_a_failed_action_stops_the_plan() -> None:
    p = OfflinePlanner(find=exact_find)
    t = p.next_turn("type rm, type x", obs(), [])
    history = [HistoryItem(step=1, actions=t.actions, results=(ActionResult(action=t.actions[0], status="denied"),))]
    assert isinstance(p.next_turn("type rm, type x", obs(), history).actions[0], Fail)


def test_scroll_without_target_uses_the_screen_center() -> None:
    t = OfflinePlanner(find=exact_find).next_turn("scroll down 3", obs(), [])
    assert t.actions[0] == Scroll(x=400, y=300, dy=3)
    assert [type(a) for a in OfflinePlanner(find=exact_find).next_turn("type a, press Return", obs(), []).actions] == [Type, Key]


def test_short_targets_must_match_exactly_with_the_real_finder() -> None:
    """'click +' never lands on '+/-' when OCR missed the '+' button."""
    p = OfflinePlanner()
    turn = p.next_turn("click +", obs(el(1, "+/-", 10, 10), el(2, "=", 60, 10)), [])
    assert isinstance(turn.actions[0], Fail) and "no '+' on screen" in turn.actions[0].reason
    p = OfflinePlanner()
    turn = p.next_turn("click Save", obs(el(1, "Save as", 10, 10), el(2, "Sane", 60, 60)), [])
    assert isinstance(turn.actions[0], Click) and turn.actions[0].target.label == "Save as"


def test_verify_accepts_whole_words_inside_a_line() -> None:
    p = OfflinePlanner(find=exact_find)
    assert isinstance(p.next_turn("verify Saved", obs(el(1, "File Saved successfully", 0, 0)), []).actions[0], Done)
    p = OfflinePlanner(find=exact_find)
    failed = p.next_turn("verify Save within 0 s", obs(el(1, "File Saved successfully", 0, 0)), []).actions[0]
    assert isinstance(failed, Fail)


@pytest.mark.parametrize("step, target, select", [
    ("click the button 7", "7", Selector(interactive=True)),
    ("click the key '+'", "+", Selector(interactive=True)),
    ("click button '7'", "7", Selector(interactive=True)),
    ("click 7 in the keypad", "7", Selector(relation="in", anchor="keypad")),
    ("click 7 on the keypad", "7", Selector(relation="in", anchor="keypad")),
    ("click 7 near Total", "7", Selector(relation="near", anchor="Total")),
    ("click the field below 'First name'", "field", Selector(relation="below", anchor="First name")),
    ("click OK to the right of Cancel", "OK", Selector(relation="right of", anchor="Cancel")),
    ("click 3 left of the 4 button", "3", Selector(relation="left of", anchor="4")),
    ("click 1 above =", "1", Selector(relation="above", anchor="=")),
    ("click the 2nd '7'", "7", Selector(nth=2)),
    ("double-click the second report.txt", "report.txt", Selector(nth=2)),
    ("click the last 7", "7", Selector(nth=-1)),
    ("click the 3rd button 7 below Total", "7", Selector(nth=3, interactive=True, relation="below", anchor="Total")),
    ("click 'the 2nd 7 below x'", "the 2nd 7 below x", Selector()),          # quoted: taken whole
    ("click Key Settings", "Key Settings", Selector()),                     # a label, not "the key ..."
    ("click Log in with Google", "Log in with Google", Selector()),         # "in" without "the"
    ("click the 7 button", "7", Selector()),
    ("move to the 2nd Help", "Help", Selector(nth=2)),
    ("scroll down 2 on the list below Files", "list", Selector(relation="below", anchor="Files")),
])
def test_pointer_targets_say_which_one(step: str, target: str, select: Selector) -> None:
    parsed = parse_step(step)
    assert (parsed.target, parsed.select) == (target, select)


def test_a_drag_chooses_both_ends() -> None:
    drag = parse_step("drag the 2nd a.txt to the folder below Trash")
    assert (drag.target, drag.select, drag.to, drag.to_select) == (
        "a.txt", Selector(nth=2), "folder", Selector(relation="below", anchor="Trash"))


def test_a_0th_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="count from the 1st"):
        parse_step("click the 0th 7")


def calc_screen() -> Observation:
    key = ("framed",)
    return obs(Element(id=1, text="7", box=Box(left=300, top=20, right=310, bottom=34)),
               Element(id=2, text="7", role="push button", states=key, box=Box(left=60, top=200, right=70, bottom=214)),
               Element(id=3, text="Total", box=Box(left=40, top=120, right=90, bottom=134)))


@pytest.mark.parametrize("task, clicked", [
    ("click 7", (65, 207)), ("click the button 7", (65, 207)), ("click the 1st 7", (305, 27)),
    ("click 7 above Total", (305, 27)), ("click 7 in the keypad", (65, 207)),
])
def test_the_planner_grounds_with_the_real_ranking(task: str, clicked: tuple[int, int]) -> None:
    turn = OfflinePlanner().next_turn(task, calc_screen(), [])
    assert isinstance(turn.actions[0], Click), turn.actions
    assert (turn.actions[0].x, turn.actions[0].y) == clicked


@pytest.mark.parametrize("task, reason", [
    ("click the button Total", "'click the button Total': no button 'Total' on screen; only text 'Total' at (65,127)"),
    ("click the 3rd 7", "'click the 3rd 7': no 3rd '7': 2 on screen"),
    ("click 7 below Subtotals", "'click 7 below Subtotals': no 'Subtotals' on screen to find '7' below 'Subtotals'"),
])
def test_a_qualifier_that_matches_nothing_fails_the_step_naming_it(task: str, reason: str) -> None:
    turn = OfflinePlanner().next_turn(task, calc_screen(), [])
    assert isinstance(turn.actions[0], Fail) and turn.actions[0].reason.startswith(reason), turn.actions
