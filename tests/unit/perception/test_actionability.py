"""Actionability on a FakeDesktop and a fake accessibility probe: waits, failures, read-back."""

from __future__ import annotations

from PIL import Image, ImageDraw

from actions.desktop.base import Screenshot, WindowInfo
from actions.desktop.fake import FakeDesktop
from actions.models import Box, Click, Key, Target, Type
from agent.perception.actionability import Actionability
from agent.perception.atspi_focus import ActiveWindow, FakeProbe, Node

SENSITIVE = ("enabled", "sensitive", "showing", "is_default")
INSENSITIVE = ("showing", "is_default")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def save_dialog(states: tuple[str, ...]) -> ActiveWindow:
    return ActiveWindow(title="Save As", default_button=Node(role="push button", name="Save", states=states))


def field_reading(text: str, role: str = "text") -> ActiveWindow:
    return ActiveWindow(title="Save As", focused=Node(role=role, name="", states=("editable", "focused"), text=text))


def ready(probe: FakeProbe | None, frames: list[Image.Image] | None = None) -> tuple[Actionability, Clock]:
    clock = Clock()
    return Actionability(FakeDesktop(frames), probe, clock=clock, sleep=clock.sleep), clock


def test_return_waits_for_the_default_button_to_become_sensitive() -> None:
    probe = FakeProbe([save_dialog(INSENSITIVE)] * 3 + [save_dialog(SENSITIVE)])
    check, clock = ready(probe)
    assert check.before(Key(chord="Return")) is None
    assert probe.reads == 4 and 0.1 < clock.now < 0.5


def test_return_fails_when_the_default_button_stays_insensitive() -> None:
    check, clock = ready(FakeProbe([save_dialog(INSENSITIVE)]))
    reason = check.before(Key(chord="Return"))
    assert reason == "the default button 'Save' is not enabled (Return would do nothing) after 2s"
    assert clock.now >= 2.0


def test_return_into_a_text_view_or_a_focused_control_does_not_wait_for_the_default_button() -> None:
    for focused in (Node(role="text", name="", states=("editable", "focused", "multi_line"), text=""),
                    Node(role="push button", name="Cancel", states=("focused", "sensitive"))):
        window = ActiveWindow(title="Save As", focused=focused, default_button=save_dialog(INSENSITIVE).default_button)
        check, clock = ready(FakeProbe([window]))
        assert check.before(Key(chord="Return")) is None and clock.now == 0


def test_return_waits_for_accessibility_to_answer_about_the_window_x_made_active() -> None:
    """A read that timed out, or an "active" frame lagging behind the window manager, is no answer:
    the check waits for one (here: the dialog's Save stays insensitive, so Return fails)."""
    lagging = ActiveWindow(title="Untitled 1 - Mousepad", windows=("Untitled 1 - Mousepad", "Save As"))
    not_yet_known = ActiveWindow(title="Untitled 1 - Mousepad", windows=("Untitled 1 - Mousepad",),
                                 apps=("mousepad",))
    no_answer = ActiveWindow(error="accessibility not read within 1s", timed_out=True)
    for first in (lagging, not_yet_known, no_answer):
        probe = FakeProbe([first, first, save_dialog(INSENSITIVE)])
        check, clock = ready(probe)
        check.desktop.window = WindowInfo(title="Save As", app="mousepad")  # type: ignore[attr-defined]
        assert check.before(Key(chord="Return")) == \
            "the default button 'Save' is not enabled (Return would do nothing) after 2s"
        assert probe.reads > 3


def test_return_goes_ahead_at_the_deadline_when_accessibility_never_answers_or_the_window_is_not_accessible() -> None:
    check, clock = ready(FakeProbe([ActiveWindow(error="accessibility not read within 1s", timed_out=True)]))
    assert check.before(Key(chord="Return")) is None and clock.now >= 2.0
    xterm = ActiveWindow(error="no active accessible window", windows=("Untitled 1 - Mousepad",))
    check, clock = ready(FakeProbe([xterm]))
    check.desktop.window = WindowInfo(title="bash", app="xterm")  # type: ignore[attr-defined]
    assert check.before(Key(chord="Return")) is None and clock.now == 0


def test_other_keys_and_windows_without_a_default_button_do_not_wait() -> None:
    probe = FakeProbe([ActiveWindow(title="Untitled")])
    check, clock = ready(probe)
    assert check.before(Key(chord="Return")) is None and check.before(Key(chord="ctrl+s")) is None
    assert probe.reads == 1 and clock.now == 0


def test_a_click_waits_for_the_target_to_stop_moving() -> None:
    frames = []
    for x in (100, 110, 120, 130, 130, 130):
        im = Image.new("RGB", (320, 200), "white")
        ImageDraw.Draw(im).rectangle((x, 90, x + 20, 110), fill="black")
        frames.append(im)
    check, clock = ready(None, frames)
    assert check.before(Click(x=130, y=100)) is None
    assert clock.now > 0.1  # the first pairs differed


def test_a_click_fails_on_a_disabled_button_and_waits_for_it() -> None:
    off = Node(role="push button", name="Apply", states=("showing", "visible"))
    on = Node(role="push button", name="Apply", states=("showing", "sensitive", "enabled"))
    check, _ = ready(FakeProbe([], points=[off]))
    assert check.before(Click(x=10, y=10)) == "the push button 'Apply' at (10, 10) is not enabled after 2s"
    check, clock = ready(FakeProbe([], points=[off, off, on]))
    assert check.before(Click(x=10, y=10)) is None and clock.now > 0
    label = Node(role="label", name="Name", states=("showing",))
    assert ready(FakeProbe([], points=[label]))[0].before(Click(x=10, y=10)) is None


def test_typed_text_is_read_back_from_the_focused_field() -> None:
    check, _ = ready(FakeProbe([field_reading("note.tx"), field_reading("note.txt")]))
    result = check.after(Type(text="note.txt"))
    assert result.ok is True and result.note == "read back from the focused text"


def test_text_that_never_arrives_is_a_failure_naming_what_the_field_reads() -> None:
    check, clock = ready(FakeProbe([field_reading("")]))
    result = check.after(Type(text="note.txt"))
    assert result.ok is False and result.note == "typed 'note.txt' but the focused text in 'Save As' reads ''"
    assert clock.now >= 1.0


def test_unverifiable_text_says_why_and_does_not_fail() -> None:
    assert ready(None)[0].after(Type(text="x")).note == "not read back: no accessibility"
    assert ready(FakeProbe([field_reading("")]))[0].after(Type(text="a\tb")).ok is None
    button = ActiveWindow(focused=Node(role="push button", name="OK", states=("focused",)))
    assert ready(FakeProbe([button]))[0].after(Type(text="x")).note == \
        "not read back: the focus is on a push button, not a text field"
    assert ready(FakeProbe([ActiveWindow(error="no accessibility bus")]))[0].after(Type(text="x")).ok is None
    secret = ready(FakeProbe([field_reading("", role="password text")]))[0].after(Type(text="x"))
    assert secret.ok is None and "password" in (secret.note or "")


def test_a_probe_that_timed_out_answers_at_once_for_a_while() -> None:
    from agent.perception.atspi_focus import FocusProbe

    class Slow(FocusProbe):
        calls = 0

        async def _read(self, address: str) -> ActiveWindow:
            import asyncio
            Slow.calls += 1
            await asyncio.sleep(1)
            return ActiveWindow()

    clock = Clock()
    probe = Slow("unix:path=/nonexistent", timeout_s=0.05, backoff_s=20, clock=clock)
    assert probe.read().error == "accessibility not read within 0.05s"
    assert probe.read().error == "accessibility too slow (timed out within the last 20s)" and Slow.calls == 1
    assert probe.read(patient=True).timed_out and Slow.calls == 2  # a check that would rather wait tries
    clock.now = 21
    probe.read()
    assert Slow.calls == 3


def _screen(fill: str = "white", button: str | None = "#3366cc") -> Image.Image:
    im = Image.new("RGB", (320, 200), fill)
    if button:
        ImageDraw.Draw(im).rectangle((100, 80, 160, 110), fill=button)
    return im


SAVE = Target(label="Save", bbox=Box(left=100, top=80, right=161, bottom=111))


def test_a_click_fails_when_its_target_got_covered_since_it_was_planned() -> None:
    covered = _screen(button="#f0f0f0")  # a dialog lies over the button now
    check, clock = ready(None, [covered])
    check.expect(Screenshot(image=_screen()))
    reason = check.before(Click(x=130, y=95, target=SAVE))
    assert reason is not None and reason.startswith("the target at 100,80 61x31 looks different from when it was "
                                                    "planned (") and reason.endswith("covered or gone after 2s")


def test_a_hover_tint_or_no_planned_frame_does_not_count_as_covered() -> None:
    check, _ = ready(None, [_screen(button="#4070d8")])  # a slightly lighter blue: hover
    check.expect(Screenshot(image=_screen()))
    assert check.before(Click(x=130, y=95, target=SAVE)) is None
    check, _ = ready(None, [_screen(button=None)])
    assert check.before(Click(x=130, y=95, target=SAVE)) is None  # nothing planned: nothing to compare


def test_only_the_first_action_after_an_observation_is_compared() -> None:
    check, _ = ready(None, [_screen(button=None)])
    check.expect(Screenshot(image=_screen()))
    check.after(Click(x=1, y=1))  # an earlier action of the turn changed the screen on purpose
    assert check.before(Click(x=130, y=95, target=SAVE)) is None


def _typing(frames: list[Image.Image], lines: list[str], probe: FakeProbe | None = None):
    from agent.perception.ocr import FakeOcrEngine, TextLine

    ocr = FakeOcrEngine([TextLine(text=t, box=Box(left=20, top=20 + 30 * i, right=200, bottom=40 + 30 * i),
                                  confidence=0.9) for i, t in enumerate(lines)])
    clock = Clock()
    return Actionability(FakeDesktop(frames), probe, clock=clock, sleep=clock.sleep, ocr=ocr), ocr, clock


def _typed_into(text_drawn: bool) -> list[Image.Image]:
    blank = Image.new("RGB", (320, 200), "white")
    typed = blank.copy()
    if text_drawn:
        ImageDraw.Draw(typed).rectangle((24, 24, 120, 36), fill="black")  # the typed text's ink
    return [blank, blank, typed]  # before the typing; the app draws it a moment later


def test_without_accessibility_typed_text_is_read_back_by_ocr_of_what_changed() -> None:
    check, ocr, _ = _typing(_typed_into(True), ["=A1+B1"])
    assert check.before(Type(text="=A1+B1")) is None
    result = check.after(Type(text="=A1+B1"))
    assert (result.ok, result.note) == (True, "read back by OCR of what changed on screen")
    assert ocr.reads and all(r.width < 320 for r in ocr.reads)  # only what changed was read


def test_typed_text_that_changed_nothing_did_not_arrive_and_a_misread_is_no_failure() -> None:
    check, _, clock = _typing(_typed_into(False), [])
    check.before(Type(text="12"))
    result = check.after(Type(text="12"))
    assert result.ok is False and result.note == "typed '12' but nothing changed on screen within 1s: the keys did not arrive"
    assert clock.now >= 1.0
    check, _, _ = _typing(_typed_into(True), ["I2"])  # OCR's look-alikes are forgiven
    check.before(Type(text="12"))
    assert check.after(Type(text="12")).ok is True
    check, _, clock = _typing(_typed_into(True), ["Sheet"])
    check.before(Type(text="12"))
    result = check.after(Type(text="12"))
    assert result.ok is None and result.note == \
        "not read back: what changed on screen reads 'Sheet' (no accessibility)"
    assert clock.now < 0.2  # the screen was still once read: no waiting out the deadline


def test_secrets_and_password_fields_are_never_read_off_the_screen() -> None:
    check, ocr, _ = _typing(_typed_into(True), ["hunter2"])
    check.before(Type(text="hunter2"))
    assert check.after(Type(text="hunter2"), secret=True).ok is None and ocr.reads == []
    check, ocr, _ = _typing(_typed_into(True), ["hunter2"], FakeProbe([field_reading("", role="password text")]))
    check.before(Type(text="hunter2"))
    assert check.after(Type(text="hunter2")).note == "not read back: a password field" and ocr.reads == []


def test_a_click_on_a_target_that_looks_as_planned_costs_one_grab() -> None:
    screen = _screen()
    desktop = FakeDesktop([screen])
    clock = Clock()
    check = Actionability(desktop, None, clock=clock, sleep=clock.sleep)
    check.expect(Screenshot(image=screen))
    assert check.before(Click(x=130, y=95, target=SAVE)) is None
    assert desktop._frame == 1 and clock.now == 0  # no second grab, no pause
