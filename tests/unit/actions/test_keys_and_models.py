"""The action language: key chords, validation, schema round trips."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from actions.errors import UsageError
from actions.keys import CANONICAL, MODIFIERS, canonical_key, format_chord, parse_chord
from actions.models import (
    ACTION_ADAPTER,
    Click,
    Drag,
    Key,
    Point,
    Scroll,
    Target,
    Type,
    Wait,
    action_json_schema,
    parse_action,
    validation_message,
)


@pytest.mark.parametrize("spelling, canonical", [
    ("Return", "enter"), ("Enter", "enter"), ("KP_Enter", "enter"), ("Esc", "esc"), ("Escape", "esc"),
    ("PageDown", "pagedown"), ("Page_Down", "pagedown"), ("Next", "pagedown"), ("arrowleft", "left"),
    ("Left", "left"), ("ARROWUP", "up"), ("super", "super"), ("cmd", "super"), ("win", "super"),
    ("meta", "super"), ("Super_L", "super"), ("Control_L", "ctrl"), ("CTRL", "ctrl"), ("option", "alt"),
    ("BackSpace", "backspace"), ("Delete", "delete"), ("del", "delete"), ("F12", "f12"), ("plus", "+"),
    ("minus", "-"), ("A", "a"), ("space", "space"), ("KP_7", "num7"), ("Prior", "pageup"),
])
def test_provider_spellings_map_to_one_name(spelling: str, canonical: str) -> None:
    assert canonical_key(spelling) == canonical


@pytest.mark.parametrize("chord, keys", [
    ("ctrl+shift+t", ("ctrl", "shift", "t")),
    ("shift+ctrl+T", ("ctrl", "shift", "t")),  # modifiers in one order, case folded
    ("ctrl++", ("ctrl", "+")),
    ("ctrl c", ("ctrl", "c")),              # UI-TARS hotkey style
    ("ctrl-alt-Delete", ("ctrl", "alt", "delete")),
    ("Page-Down", ("pagedown",)),
    (["CTRL", "A"], ("ctrl", "a")),         # OpenAI CUA keypress list
    ("+", ("+",)),
])
def test_chords_parse(chord: str | list[str], keys: tuple[str, ...]) -> None:
    assert parse_chord(chord) == keys


@pytest.mark.parametrize("bad", ["", "   ", "ctrl+", "ctrl+foo", "hyperkey", "ctrl++shift+"])
def test_bad_chords_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_chord(bad)


keys = st.sampled_from(sorted(CANONICAL - {"+"}))


@given(st.lists(st.sampled_from(sorted(MODIFIERS)), unique=True), keys)
def test_format_then_parse_is_identity(mods: list[str], key: str) -> None:
    chord = parse_chord([*mods, key])
    assert parse_chord(format_chord(chord)) == chord
    assert Key(chord=format_chord(chord)).keys == chord


@given(st.text(max_size=30))
def test_arbitrary_chord_text_never_crashes(text: str) -> None:
    try:
        parse_chord(text)
    except UsageError:
        pass


def test_invalid_actions_name_the_field() -> None:
    cases = [
        ({"kind": "key", "chord": "ctrl+nope"}, "key.chord"),
        ({"kind": "click", "x": 1, "y": 2, "count": 4}, "click.count"),
        ({"kind": "wait", "seconds": 3600}, "wait.seconds"),
        ({"kind": "drag", "path": [{"x": 1, "y": 1}]}, "drag.path"),
        ({"kind": "type", "text": ""}, "type.text"),
        ({"kind": "click", "x": 1, "y": 2, "modifiers": "ctrl+a"}, "click.modifiers"),
        ({"kind": "teleport"}, "kind"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationError) as info:
            parse_action(data)
        message = validation_message(info.value)
        assert field.split(".")[-1] in message, message
        assert "\n" not in message


actions = st.one_of(
    st.builds(Click, x=st.integers(0, 4000), y=st.integers(0, 4000), button=st.sampled_from(["left", "right", "middle"]),
              count=st.integers(1, 3), modifiers=st.sampled_from([(), ("ctrl",), ("ctrl", "shift")]),
              target=st.none() | st.builds(Target, label=st.text(max_size=10))),
    st.builds(Drag, path=st.lists(st.builds(Point, x=st.integers(0, 100), y=st.integers(0, 100)), min_size=2, max_size=5).map(tuple)),
    st.builds(Scroll, x=st.integers(0, 100), y=st.integers(0, 100), dx=st.integers(-5, 5), dy=st.integers(-5, 5)),
    st.builds(Type, text=st.text(min_size=1, max_size=50)),
    st.builds(Key, chord=st.sampled_from(["ctrl+s", "Return", "alt+F4", "ctrl+shift+t"])),
    st.builds(Wait, seconds=st.floats(0.01, 60)),
)


@given(actions)
def test_actions_round_trip_through_json(action) -> None:
    dumped = ACTION_ADAPTER.dump_json(action)
    assert parse_action(dumped) == action
    assert parse_action(json.loads(dumped)) == action


def test_schema_is_usable_for_function_calling() -> None:
    schema = action_json_schema()
    kinds = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["oneOf"]}
    assert {"Click", "Type", "Key", "Done", "Fail", "Drag", "Scroll", "Wait", "Move"} <= kinds
    assert schema["discriminator"]["propertyName"] == "kind"
    assert "description" in schema["$defs"]["Key"]["properties"]["chord"]
    json.dumps(schema)


def test_actions_are_frozen() -> None:
    click = Click(x=1, y=2)
    with pytest.raises(ValidationError):
        click.x = 5  # type: ignore[misc]


@given(st.one_of(st.booleans(), st.integers(), st.floats(), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.text(max_size=12)))
def test_odd_json_values_in_chords_and_modifiers_are_validation_errors(value) -> None:
    for data in ({"kind": "key", "chord": value}, {"kind": "click", "x": 1, "y": 1, "modifiers": value}):
        try:
            parse_action(data)
        except ValidationError:
            pass
