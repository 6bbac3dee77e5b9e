"""Legibility of the image a model is sent (issue 14), shared by bench/legibility.py and
tests/display/test_legibility.py.

    labels = full_labels(ocr, screenshot.image)                  # what OCR reads at full resolution
    for pipe in pipelines((1920, 1080)):                          # one per distinct size/format/quality
        image, space = sent_image(screenshot, pipe.profile)       # scaled, encoded, decoded again
        score = legibility(ocr, labels, image, space)             # score.ratio >= 0.97

A label is a word of a line OCR reads at full resolution (a button's label, a word of a text line;
its box is its share of the line's). It counts when its line is at least MIN_HEIGHT px tall on
screen and OCR reads it the same on the
frame shifted by one pixel (`full_labels`: a reading that changes with a 1 px shift is OCR noise, not
a label it reads; e.g. xcalc's `trunc` key read as "Itrund" with its border). It is read in the sent
image when the text of the lines OCR finds there (mapped back to screen space) over the label's box,
spaces removed and case folded, contains the label's text; a label of 5+ letters without digits may
differ by one letter ("Calcufator"). A label split in two or merged with its neighbour still counts;
a misread digit or symbol (`0` read as `D`) does not.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from PIL import Image

from actions.desktop.base import Monitor, ScreenGeometry, Screenshot
from actions.models import Box
from agent.perception.observation import Observation
from agent.perception.ocr import OcrEngine, TextLine
from agent.perception.scaling import ImageSpace, image_to_screen
from agent.planners.imaging import encode_observation
from agent.planners.profiles import ModelProfile, load_profiles

MIN_HEIGHT = 10
TARGET = 0.97


@dataclass(frozen=True)
class Pipeline:
    """What a group of profiles sends for one screen size: a size, a format and a quality."""

    profile: ModelProfile
    size: tuple[int, int]
    names: tuple[str, ...]

    @property
    def label(self) -> str:
        p = self.profile
        fmt = "png" if p.image_format == "png" else f"jpeg q{p.image_quality}"
        return f"{self.size[0]}x{self.size[1]} {fmt}"


def profile_name(entry: dict[str, object]) -> str:
    return f"{entry.get('provider', '*')}:{entry.get('pattern', '*')}"


def pipelines(screen: tuple[int, int], **override: object) -> list[Pipeline]:
    """Every packaged profile grouped by the image it sends for `screen` (first profile kept);
    `override` replaces profile fields (e.g. image_format="png") for a comparison."""
    from agent.planners.imaging import target_size

    table = load_profiles()
    groups: dict[tuple[object, ...], Pipeline] = {}
    for entry in [{"pattern": "*"}, *table.profiles]:
        profile = ModelProfile(**{**table.defaults, **entry, **override})
        size = target_size(profile, *screen)
        key = (size, profile.resize == "smart", profile.image_format, profile.image_quality)
        name = "defaults" if entry == {"pattern": "*"} else profile_name(entry)
        if key in groups:
            groups[key] = replace(groups[key], names=(*groups[key].names, name))
        else:
            groups[key] = Pipeline(profile=profile, size=size, names=(name,))
    return list(groups.values())


def observation_of(shot: Screenshot) -> Observation:
    w, h = shot.image.size
    return Observation(screenshot=shot, screen=ScreenGeometry(
        width=w, height=h, monitors=(Monitor(index=1, left=0, top=0, width=w, height=h),)))


def sent_image(shot: Screenshot, profile: ModelProfile) -> tuple[Image.Image, ImageSpace]:
    """The image the planners send for `shot` under `profile`, decoded as the model would."""
    encoded = encode_observation(observation_of(shot), profile)
    image = Image.open(io.BytesIO(base64.b64decode(encoded.b64))).convert("RGB")
    return image, encoded.space


def full_labels(ocr: OcrEngine, image: Image.Image, min_height: int = MIN_HEIGHT) -> list[TextLine]:
    """The lines OCR reads at full resolution, at least `min_height` px tall, that it also reads
    on the frame shifted one pixel right and down (see the module docstring)."""
    image = image.convert("RGB")
    lines = [word for line in ocr.read(image) if line.box.height >= min_height for word in words(line)]
    shifted = Image.new("RGB", image.size, image.getpixel((0, 0)))  # type: ignore[arg-type]
    shifted.paste(image, (1, 1))
    space = ImageSpace(region=Box(left=-1, top=-1, right=image.width - 1, bottom=image.height - 1),
                       width=image.width, height=image.height)
    again = legibility(ocr, lines, shifted, space, fuzzy=False)
    unstable = set(again.missed_lines)
    return [line for line in lines if id(line) not in unstable]


def words(line: TextLine) -> list[TextLine]:
    """A line's words as labels of their own, each with its share of the line's box (by
    character position): a long line of text counts per word, not all or nothing."""
    text, out, start = line.text, [], 0
    width = max(1, len(text))
    for word in text.split():
        i = text.index(word, start)
        start = i + len(word)
        left = line.box.left + line.box.width * i // width
        right = line.box.left + max(1, line.box.width * start // width)
        out.append(TextLine(text=word, box=Box(left=left, top=line.box.top, right=max(right, left + 1),
                                                 bottom=line.box.bottom), confidence=line.confidence))
    return out


@dataclass
class Score:
    read: int = 0
    total: int = 0
    missed: list[str] = field(default_factory=list)
    missed_lines: list[int] = field(default_factory=list)  # id() of the labels missed

    @property
    def ratio(self) -> float:
        return self.read / self.total if self.total else 1.0

    def __str__(self) -> str:
        return f"{self.read}/{self.total} ({100 * self.ratio:.1f}%)"


def legibility(ocr: OcrEngine, labels: Iterable[TextLine], image: Image.Image, space: ImageSpace,
               fuzzy: bool = True) -> Score:
    """How many `labels` (screen space) OCR still reads in `image`, which shows `space`."""
    seen = [(to_screen(space, line.box), _squash(line.text)) for line in ocr.read(image)]
    score = Score()
    for label in labels:
        score.total += 1
        over = [(box, text) for box, text in seen if _overlap(box, label.box) > 0.3 * _area(label.box)
                or _overlap(box, label.box) > 0.3 * _area(box)]
        text = "".join(t for _, t in sorted(over, key=lambda bt: (bt[0].top // 8, bt[0].left)))
        if reads_as(_squash(label.text), text, fuzzy):
            score.read += 1
        else:
            score.missed.append(f"{label.text!r} as {text!r}" if text else repr(label.text))
            score.missed_lines.append(id(label))
    return score


def reads_as(label: str, text: str, fuzzy: bool = True) -> bool:
    """Whether `text` (what OCR read over the label) contains `label`, case folded; with `fuzzy`, a
    label of 5+ characters without digits may differ in one character."""
    label, text = label.casefold(), text.casefold()
    if label in text:
        return True
    if not fuzzy or len(label) < 5 or any(c.isdigit() for c in label):
        return False
    return any(_within_one(label, text[i:i + n]) for n in (len(label) - 1, len(label), len(label) + 1)
               for i in range(0, max(1, len(text) - n + 1)))


def _within_one(a: str, b: str) -> bool:
    """Levenshtein distance <= 1."""
    if abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return a[i + 1:] == b[i + 1:] or a[i + 1:] == b[i:] or a[i:] == b[i + 1:]


def to_screen(space: ImageSpace, box: Box) -> Box:
    a = image_to_screen(space, box.left, box.top)
    b = image_to_screen(space, box.right, box.bottom)
    return Box(left=a.x, top=a.y, right=max(b.x, a.x + 1), bottom=max(b.y, a.y + 1))


def _squash(text: str) -> str:
    return "".join(text.split())


def _area(box: Box) -> int:
    return max(0, box.width) * max(0, box.height)


def _overlap(a: Box, b: Box) -> int:
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    return w * h if w > 0 and h > 0 else 0


# --------------------------------------------------------------------------- the real screens

APPS = ("xcalc", "galculator", "xterm", "mousepad", "calc", "chromium")
SCREEN = (1920, 1080)

TEXT = """Legibility check: 0123456789 and 20+22=42
The quick brown fox jumps over the lazy dog.
Invoice 1047, total 318.25 EUR, due 2026-12-01.
il1| O0o (thin glyphs) ; , . : ' " - _ = + * / %
"""

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>uiagent legibility</title></head>
<body style="font-family: 'DejaVu Sans', sans-serif; margin: 16px">
<h2>Order summary</h2>
<p>Your order 1047 ships on 2026-12-01. Questions? Contact support.</p>
<table border="1" cellpadding="4"><tr><th>Item</th><th>Qty</th><th>Price</th></tr>
<tr><td>Keyboard</td><td>2</td><td>49.90</td></tr><tr><td>Mouse</td><td>1</td><td>19.00</td></tr>
<tr><td>Cable</td><td>3</td><td>4.50</td></tr></table>
<p style="font-size: 13px">Prices include VAT. Returns within 30 days.</p>
<form><label>Name <input value="Ada Lovelace"></label> <button type="button">Submit</button>
<select><option>Express shipping</option></select></form>
</body></html>
"""

SHEET = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"
 office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
<office:body><office:spreadsheet><table:table table:name="Sheet1">
{rows}
</table:table></office:spreadsheet></office:body></office:document>
"""


def sheet_rows() -> str:
    data = [("Item", "Qty", "Price", "Total"), ("Keyboard", "2", "49.90", "99.80"), ("Mouse", "1", "19.00", "19.00"),
            ("Cable", "3", "4.50", "13.50"), ("Monitor", "1", "189.00", "189.00"), ("Sum", "", "", "321.30")]
    cells = lambda row: "".join(f"<table:table-cell><text:p>{v}</text:p></table:table-cell>" for v in row)  # noqa: E731
    return "\n".join(f"<table:table-row>{cells(row)}</table:table-row>" for row in data)


def launch_screen(vd: object, app: str, work: object) -> None:
    """Start `app` on the VirtualDisplay `vd` with its content (files under the Path `work`) and
    wait for its window; the caller then waits for a still, drawn screen (`still_screen`)."""
    from pathlib import Path

    from agent.display import VirtualDisplay
    from tests.apps.webform import chromium_command
    from tests.realapps import CALC, libreoffice_profile

    assert isinstance(vd, VirtualDisplay) and isinstance(work, Path)
    match app:
        case "xcalc":
            vd.launch_app(["xcalc", "-geometry", "+900+40"])
        case "galculator":
            vd.launch_app(["galculator"])
        case "xterm":
            (work / "text.txt").write_text(TEXT)
            vd.launch_app(["xterm", "-geometry", "100x30+40+40", "-e", "sh", "-c", f"cat {work / 'text.txt'}; ls -l /usr; exec sh"])
        case "mousepad":
            (work / "notes.txt").write_text(TEXT)
            vd.launch_app(["mousepad", str(work / "notes.txt")])
        case "calc":
            libreoffice_profile(Path(vd.env["HOME"]))
            (work / "sheet.fods").write_text(SHEET.format(rows=sheet_rows()))
            vd.launch([*CALC, str(work / "sheet.fods")])
            vd.wait_for_window(name="sheet", timeout=120)
        case "chromium":
            (work / "page.html").write_text(PAGE)
            vd.launch(chromium_command((work / "page.html").as_uri(), work / "chromium-profile"))
            vd.wait_for_window(name="uiagent legibility", timeout=60)
        case _:
            raise ValueError(f"unknown app {app!r}: one of {', '.join(APPS)}")


def still_screen(desktop: object, ocr: OcrEngine, must_read: str, timeout: float = 60.0) -> Screenshot:
    """A screenshot once the screen is still and OCR reads `must_read` on it (the app has drawn)."""
    import time

    from actions.desktop.base import Desktop
    from agent.perception.capture import fingerprint

    assert isinstance(desktop, Desktop)
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        shot = desktop.capture()
        mark = fingerprint(shot.image)
        if mark == last and any(must_read in line.text for line in ocr.read(shot.image)):
            return shot
        if time.monotonic() > deadline:
            raise TimeoutError(f"no still screen showing {must_read!r} within {timeout:g}s")
        last = mark
        time.sleep(0.2)  # between two grabs compared for stillness, not a wait for the app


MUST_READ = {"xcalc": "DEG", "galculator": "galculator", "xterm": "Legibility", "mousepad": "Legibility",
             "calc": "Keyboard", "chromium": "Order summary"}
