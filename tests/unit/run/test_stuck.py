from actions.models import Click, Key, Type
from agent.run.stuck import StuckDetector, signature


def test_nearby_points_share_a_signature_but_other_actions_do_not() -> None:
    assert signature(Click(x=100, y=100)) == signature(Click(x=102, y=101))
    assert signature(Click(x=100, y=100)) != signature(Click(x=300, y=100))
    assert signature(Click(x=100, y=100)) != signature(Click(x=100, y=100, button="right"))
    assert signature(Type(text="a")) != signature(Type(text="b"))


def test_three_identical_actions_without_change_are_stuck_then_give_up() -> None:
    d = StuckDetector()
    assert d.record(Click(x=5, y=5), False, "f1") is None
    assert d.record(Click(x=5, y=5), False, "f1") is None
    reason = d.record(Click(x=5, y=5), False, "f1")
    assert reason and "repeated 3 times" in reason
    assert d.verdict(reason) == "warn"
    for _ in range(2):
        assert d.record(Click(x=5, y=5), False, "f1") is None
    assert d.verdict(d.record(Click(x=5, y=5), False, "f1")) == "give_up"


def test_repeats_that_change_the_screen_are_progress() -> None:
    d = StuckDetector()
    for frame in ("a", "b", "c", "d"):
        assert d.record(Key(chord="pagedown"), True, frame) is None


def test_oscillation_between_two_screens_is_stuck() -> None:
    d = StuckDetector()
    a, b = Click(x=10, y=10), Click(x=500, y=10)
    assert d.record(a, True, "one") is None
    assert d.record(b, True, "two") is None
    assert d.record(a, True, "one") is None
    assert "A-B-A-B" in (d.record(b, True, "two") or "")
