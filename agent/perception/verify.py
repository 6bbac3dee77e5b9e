"""Is a recorded pointer target still there, and where? `verify_target` answers for replay.

    v = verify_target(click, crop, screenshot, elements=obs.elements)
    if v.ok: execute(v.action)          # relocated by v.moved_by, in screen space

The recorded crop is compared with the screen at the place it was cut from; if it is not there,
it is searched nearby, then on the whole screen (`agent.perception.match`). The recorded label
(OCR / accessibility) decides when the crop match is weak, ambiguous (duplicates) or meaningless
(a uniform crop: a blank area matches anywhere). Without elements, such a case comes back with
`needs_labels=True`, so the caller can perceive text and ask again. It never says ok on a guess.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image
from pydantic import BaseModel, ConfigDict

from actions.desktop.base import Screenshot
from actions.models import Action, Box, Drag, Point, Target, action_point
from agent.perception.elements import Element
from agent.perception.match import Peak, gray, is_uniform, locate

ACCEPT = 0.9     # a crop match at least this good identifies the target by itself
WEAK = 0.6       # between WEAK and ACCEPT, the label must confirm
RIVAL = 0.05     # a second match within this of the best makes the best ambiguous ...
TWIN_OFF = 0.003  # ... unless more of its pixels are clearly off (share): "B01" vs "B11" on equal boxes
LABEL_NEAR = 48  # px: a label confirms a place if its element lies this close to it
_BBOX_MARGIN, _POINT_RADIUS, _RECORD_CROP = 6, 32, 96  # how crops are cut (step_builder, demo_targets)


class Verification(BaseModel):
    """The verdict on one recorded action against the current screen.

    `action` is the action to perform (screen space, relocated by `moved_by`); `score` the crop
    match (1.0 = pixel exact; 0 when none); `found_box` where the best candidate is (screen space),
    `found_crop` its crop hash once a replay recording stored it."""

    model_config = ConfigDict(frozen=True)
    ok: bool
    action: Action
    score: float = 0.0
    moved_by: tuple[int, int] = (0, 0)
    reason: str
    found_crop: str | None = None
    found_box: Box | None = None
    needs_labels: bool = False


def crop_box(action: Action, crop_size: tuple[int, int], screen: Box) -> Box:
    """The screen box the recorded crop was cut from, inferred from how crops are cut: the target's
    bbox plus a margin (the loop), 64 px around the point (the loop, no bbox) or a 96 px square
    moved inside the screen (`uiagent record`); else centred on the point."""
    point = action_point(action)
    assert point is not None
    target: Target | None = getattr(action, "target", None)
    w, h = crop_size
    candidates: list[Box] = []
    if target is not None and target.bbox is not None:
        b, m = target.bbox, _BBOX_MARGIN
        candidates.append(_clip(Box(left=b.left - m, top=b.top - m, right=b.right + m, bottom=b.bottom + m), screen))
    r = _POINT_RADIUS
    candidates.append(_clip(Box(left=point.x - r, top=point.y - r, right=point.x + r, bottom=point.y + r), screen))
    side_w, side_h = min(_RECORD_CROP, screen.width), min(_RECORD_CROP, screen.height)
    left = min(max(point.x - side_w // 2, screen.left), screen.right - side_w)
    top = min(max(point.y - side_h // 2, screen.top), screen.bottom - side_h)
    candidates.append(Box(left=left, top=top, right=left + side_w, bottom=top + side_h))
    for box in candidates:
        if (box.width, box.height) == (w, h):
            return box
    return Box(left=point.x - w // 2, top=point.y - h // 2, right=point.x - w // 2 + w, bottom=point.y - h // 2 + h)


def _clip(box: Box, screen: Box) -> Box:
    return Box(left=max(box.left, screen.left), top=max(box.top, screen.top),
               right=min(box.right, screen.right), bottom=min(box.bottom, screen.bottom))


def moved(action: Action, dx: int, dy: int) -> Action:
    """`action` shifted by (dx, dy): its point(s) and its target's bbox."""
    if dx == 0 and dy == 0:
        return action
    update: dict[str, object] = {}
    if isinstance(action, Drag):
        update["path"] = tuple(Point(x=p.x + dx, y=p.y + dy) for p in action.path)
    elif action_point(action) is not None:
        update.update(x=action.x + dx, y=action.y + dy)  # type: ignore[union-attr]
    target: Target | None = getattr(action, "target", None)
    if target is not None and target.bbox is not None:
        b = target.bbox
        update["target"] = target.model_copy(update={"bbox": Box(left=b.left + dx, top=b.top + dy,
                                                                  right=b.right + dx, bottom=b.bottom + dy)})
    return action.model_copy(update=update)


def verify_target(action: Action, crop: Image.Image | None, screenshot: Screenshot, *,
                  elements: Sequence[Element] = (), threshold: float = ACCEPT) -> Verification:
    """See the module docstring. Actions without a point (type, key, wait) pass as they are."""
    point = action_point(action)
    if point is None:
        return Verification(ok=True, action=action, score=1.0, reason="no pointer target to verify")
    target: Target | None = getattr(action, "target", None)
    label = (target.label or "").strip() if target else ""
    what = f"{action.describe()}"
    if crop is None:
        return _by_label(action, label, elements, [], 0.0, f"{what}: no recorded crop")
    shot_box = Box(left=screenshot.left, top=screenshot.top, right=screenshot.left + screenshot.size[0],
                   bottom=screenshot.top + screenshot.size[1])
    box = crop_box(action, crop.size, shot_box)
    crop_gray = gray(crop)
    if is_uniform(crop_gray):
        return _by_label(action, label, elements, [], 0.0,
                         f"{what}: the recorded crop is uniform (a blank area matches anywhere)")
    screen_gray = gray(screenshot.image)
    peaks = locate(screen_gray, crop_gray, (box.left - screenshot.left, box.top - screenshot.top), accept=threshold)
    found = [_to_screen(p, box, screenshot) for p in peaks]
    if not found or found[0][0].score < WEAK:
        score = found[0][0].score if found else 0.0
        return _fail(action, score, found[0][1] if found else None,
                     f"{what}: the recorded target is not on screen (best crop match {score:.2f} < {WEAK})")
    close = [f for f in found if f[0].score >= max(found[0][0].score - RIVAL, WEAK)]
    best = min(close, key=lambda f: (f[0].off, f[0].mad))  # among equal correlations, the closest pixels win
    rivals = [f for f in close if f is not best and f[0].off <= best[0].off + TWIN_OFF]
    if best[0].score >= threshold and not rivals:
        return _ok(action, best, box, f"crop matched {best[0].where} (score {best[0].score:.2f})")
    why = (f"{len(rivals) + 1} places match the recorded crop about equally" if rivals
           else f"the crop matches weakly ({best[0].score:.2f} < {threshold})")
    return _by_label(action, label, elements, [best, *rivals], best[0].score, f"{what}: {why}", box)


def _to_screen(p: Peak, box: Box, shot: Screenshot) -> tuple[Peak, Box]:
    left, top = p.left + shot.left, p.top + shot.top
    return p, Box(left=left, top=top, right=left + box.width, bottom=top + box.height)


def _ok(action: Action, found: tuple[Peak, Box], box: Box, reason: str) -> Verification:
    dx, dy = found[1].left - box.left, found[1].top - box.top
    return Verification(ok=True, action=moved(action, dx, dy), score=round(found[0].score, 4), moved_by=(dx, dy),
                        reason=reason + (f", moved by ({dx}, {dy})" if dx or dy else ""), found_box=found[1])


def _fail(action: Action, score: float, found: Box | None, reason: str, needs_labels: bool = False) -> Verification:
    return Verification(ok=False, action=action, score=round(score, 4), reason=reason, found_box=found,
                        needs_labels=needs_labels)


def _labelled(elements: Sequence[Element], label: str) -> list[Element]:
    from agent.perception.find import similarity

    need = 0.9 if len(label) <= 2 else 0.75  # "+" is not "+/-"
    return [e for e in elements if similarity(label, e.text) >= need]


def _near(a: Box, b: Box, pad: int = 0) -> bool:
    return a.left - pad < b.right and b.left - pad < a.right and a.top - pad < b.bottom and b.top - pad < a.bottom


def _by_label(action: Action, label: str, elements: Sequence[Element], found: list[tuple[Peak, Box]],
              score: float, why: str, box: Box | None = None) -> Verification:
    """Let the recorded label decide between crop candidates (or, with none, find the target alone)."""
    best_box = found[0][1] if found else None
    if not label:
        return _fail(action, score, best_box, f"{why}, and the recording has no label to confirm it")
    if not elements:
        return _fail(action, score, best_box, f"{why}; the label {label!r} must confirm it", needs_labels=True)
    labelled = _labelled(elements, label)
    if found and box is not None:
        confirmed = [f for f in found if any(_near(e.box, f[1]) for e in labelled)]
        if len(confirmed) == 1:
            return _ok(action, confirmed[0], box, f"{why}; the label {label!r} confirms one (crop score "
                                                  f"{confirmed[0][0].score:.2f})")
        count = "none" if not confirmed else f"{len(confirmed)} of them"
        return _fail(action, score, best_box, f"{why}; the label {label!r} confirms {count}")
    return _by_label_alone(action, label, labelled, why)


def _by_label_alone(action: Action, label: str, labelled: list[Element], why: str) -> Verification:
    """No usable crop: the label must be there, once, at (or, with a recorded bbox, near) the old place."""
    point = action_point(action)
    target: Target | None = getattr(action, "target", None)
    assert point is not None
    bbox = target.bbox if target is not None else None
    ref = bbox or Box(left=point.x, top=point.y, right=point.x + 1, bottom=point.y + 1)
    near = [e for e in labelled if _near(e.box, ref, LABEL_NEAR if bbox is None else 10_000)]
    if len(near) != 1:
        count = "nowhere" if not near else f"{len(near)} times"
        return _fail(action, 0.0, None, f"{why}; the label {label!r} is on screen {count}")
    e = near[0]
    if bbox is None:
        return Verification(ok=True, action=action, score=0.0, reason=f"{why}; the label {label!r} is there",
                            found_box=e.box)
    dx, dy = e.box.center.x - bbox.center.x, e.box.center.y - bbox.center.y
    return Verification(ok=True, action=moved(action, dx, dy), score=0.0, moved_by=(dx, dy), found_box=e.box,
                        reason=f"{why}; the label {label!r} is there" + (f", moved by ({dx}, {dy})" if dx or dy else ""))
