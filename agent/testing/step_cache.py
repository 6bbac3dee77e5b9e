"""The step cache of regression UI tests: what each `ui.do` step did last time it worked.

One YAML file per test, meant to be committed and reviewed like code:

```
.uiagent-cache/<test module>/<test name>.yaml
.uiagent-cache/crops/<hash>.png            target crops (shared, content-addressed)
```

An entry is keyed by (normalised instruction, occurrence index of that instruction within the
test, application identity = the active window's class, a coarse screen fingerprint). The model
that planned it is recorded, not keyed: a cache written with one model replays under another.
The fingerprint is the active window's size plus a 64-bit difference hash of its pixels; it
matches within `LAYOUT_TOLERANCE` bits, so a blinking cursor or typed text does not miss, while a
moved button row (another window size or layout) does.

`CacheFile.load` turns a corrupt file or one of another format version into one `CacheError`
naming the file (and the line, where YAML knows it).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from actions.errors import UnsafeRecording, UsageError
from actions.models import Action, Box, parse_action, validation_message
from agent.recording.files import open_inside, safe_crop_hash

FORMAT = "uiagent-step-cache"
VERSION = 1
CACHE_DIR = ".uiagent-cache"
CROPS = "crops"
LAYOUT_TOLERANCE = 10   # differing bits (of 64) still counted as the same screen
SIZE_TOLERANCE = 4      # pixels a window may differ in width/height and still match
HEADER = ("# uiagent step cache: the actions each ui.do step performed when it last worked.\n"
          "# Review changes like code. Written by --uiagent-cache=write|heal, read by --uiagent-cache=read.\n")


class CacheError(UsageError):
    """A cache file that cannot be used (corrupt, another version, invalid entries)."""


def normalise(instruction: str) -> str:
    """The instruction as keyed: surrounding and repeated whitespace removed, case kept (typed
    text is case-sensitive)."""
    return " ".join(instruction.split())


class ScreenPrint(BaseModel):
    """A coarse fingerprint of the screen a step starts on."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    window: str = Field(description="Active window size WxH ('' when unknown: the whole screen)")
    layout: str = Field(description="64-bit difference hash of the window's pixels, hex")

    def matches(self, other: ScreenPrint) -> bool:
        return _sizes_close(self.window, other.window) and distance(self.layout, other.layout) <= LAYOUT_TOLERANCE


def _sizes_close(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        (aw, ah), (bw, bh) = (tuple(int(v) for v in s.split("x")) for s in (a, b))
    except ValueError:
        return False
    return abs(aw - bw) <= SIZE_TOLERANCE and abs(ah - bh) <= SIZE_TOLERANCE


def distance(a: str, b: str) -> int:
    try:
        return (int(a, 16) ^ int(b, 16)).bit_count()
    except ValueError:
        return 64


def screen_print(image: Image.Image, region: Box | None) -> ScreenPrint:
    """Fingerprint `region` (screen space, the active window) of a screenshot (origin 0,0), or
    the whole image when the region is unknown or off screen."""
    window = ""
    if region is not None and region.width > 8 and region.height > 8:
        box = (max(region.left, 0), max(region.top, 0), min(region.right, image.width), min(region.bottom, image.height))
        if box[2] - box[0] > 8 and box[3] - box[1] > 8:
            image = image.crop(box)
            window = f"{region.width}x{region.height}"
    small = image.convert("L").resize((9, 8), Image.Resampling.BOX)
    px = small.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (px[row * 9 + col + 1] > px[row * 9 + col])
    return ScreenPrint(window=window, layout=f"{bits:016x}")


class CacheEntry(BaseModel):
    """One cached `ui.do` step."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    instruction: str
    occurrence: int = Field(default=0, ge=0, description="Which occurrence of this instruction in the test")
    app: str = Field(default="", description="Window class of the active window when the step started")
    screen: ScreenPrint
    model: str = Field(default="", description="The planner/model that planned it (recorded, not keyed)")
    actions: tuple[Action, ...] = Field(default=(), description="Screen-space actions with their targets; "
                                        "empty when the step needed none")

    def key_matches(self, instruction: str, occurrence: int, app: str) -> bool:
        return (self.instruction, self.occurrence, self.app) == (normalise(instruction), occurrence, app)

    def crops(self) -> tuple[str, ...]:
        return tuple(t.crop_hash for a in self.actions if (t := getattr(a, "target", None)) and t.crop_hash)

    def to_yaml_data(self) -> dict[str, Any]:
        return {"instruction": self.instruction, "occurrence": self.occurrence, "app": self.app,
                "screen": self.screen.model_dump(), "model": self.model,
                "actions": [compact_action(a) for a in self.actions]}


def compact_action(action: Action) -> dict[str, Any]:
    """An action as a short mapping: kind first, defaults left out."""
    data = action.model_dump(mode="json", exclude_defaults=True)
    return {"kind": action.kind, **{k: v for k, v in data.items() if k != "kind"}}


@dataclass
class CacheFile:
    """The cache of one test: its entries, the crops they reference, and what changed this run."""

    path: Path
    test: str
    entries: list[CacheEntry] = field(default_factory=list)
    original_text: str = ""          # the file as read ('' if it did not exist)
    changed: bool = False

    @property
    def crops_dir(self) -> Path:
        return self.path_root / CROPS

    @property
    def path_root(self) -> Path:
        """The cache folder (`.uiagent-cache`), parent of the per-module folders."""
        for parent in self.path.parents:
            if parent.name == CACHE_DIR:
                return parent
        return self.path.parent

    # -- lookup and update

    def lookup(self, instruction: str, occurrence: int, app: str, screen: ScreenPrint) -> CacheEntry | None:
        """The entry for this key whose fingerprint matches best, or None."""
        hits = [e for e in self.entries if e.key_matches(instruction, occurrence, app) and e.screen.matches(screen)]
        return min(hits, key=lambda e: distance(e.screen.layout, screen.layout)) if hits else None

    def put(self, entry: CacheEntry, replacing: CacheEntry | None = None) -> None:
        if replacing is not None and replacing in self.entries:
            self.entries[self.entries.index(replacing)] = entry
        else:
            self.entries.append(entry)
        self.changed = True

    def crop(self, crop_hash: str) -> Image.Image | None:
        """The cached crop, or None if missing; a hash that is not one (`../x`, an absolute path) or
        a file that leads out of the crops folder is refused: nothing outside is opened."""
        if not safe_crop_hash(crop_hash):
            return None
        try:
            with open_inside(self.crops_dir, f"{crop_hash}.png") as f, Image.open(f) as img:
                return img.convert("RGB")
        except (FileNotFoundError, UnsafeRecording):
            return None

    def save_crops(self, crops: dict[str, Image.Image]) -> None:
        self.crops_dir.mkdir(parents=True, exist_ok=True)
        for crop_hash, image in crops.items():
            path = self.crops_dir / f"{crop_hash}.png"
            if not path.exists():  # content-addressed: temp + rename, so parallel workers never clash
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                image.save(tmp, "PNG")
                tmp.replace(path)

    # -- text

    def render(self) -> str:
        data = {"format": FORMAT, "version": VERSION, "test": self.test,
                "steps": [e.to_yaml_data() for e in self.entries]}
        return HEADER + str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))

    def diff(self, new_text: str | None = None, name: str | None = None) -> str:
        """A unified diff from the file as read to the file as it would be written."""
        new_text = self.render() if new_text is None else new_text
        label = name or str(self.path)
        return "".join(difflib.unified_diff(self.original_text.splitlines(keepends=True),
                                            new_text.splitlines(keepends=True),
                                            fromfile=f"a/{label}" if self.original_text else "/dev/null",
                                            tofile=f"b/{label}"))

    def write(self, path: Path | None = None) -> Path:
        target = path or self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        tmp.replace(target)
        return target

    # -- reading

    @classmethod
    def load(cls, path: Path, test: str) -> CacheFile:
        """Read `path` (a missing file is an empty cache); bad content is a CacheError naming it."""
        if not path.exists():
            return cls(path=path, test=test)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CacheError(f"step cache {path} is unreadable: {e}") from None
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            line = e.problem_mark.line + 1 if e.problem_mark else "?"
            raise CacheError(f"step cache {path}:{line} is not valid YAML: {e.problem}; delete it and "
                             "rerun with --uiagent-cache=write") from None
        data = yaml.safe_load(text) if root is not None else None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CacheError(f"step cache {path} is not a uiagent step cache (no `format: {FORMAT}`): "
                             "delete it and rerun with --uiagent-cache=write")
        if data.get("version") != VERSION:
            raise CacheError(f"step cache {path} has format version {data.get('version')!r}; this uiagent "
                             f"reads version {VERSION}: rerun with --uiagent-cache=write to rebuild it")
        steps = data.get("steps") or []
        if not isinstance(steps, list):
            raise CacheError(f"step cache {path}: `steps` must be a list")
        lines = _step_lines(root)
        entries = []
        for i, item in enumerate(steps):
            try:
                entries.append(_entry(item))
            except (ValidationError, TypeError, ValueError) as e:
                where = f"{path}:{lines[i]}" if i < len(lines) else str(path)
                raise CacheError(f"step cache {where}: step {i + 1} is invalid: {validation_message(e)}") from None
        return cls(path=path, test=test, entries=entries, original_text=text)


def _entry(item: Any) -> CacheEntry:
    if not isinstance(item, dict):
        raise TypeError("each step must be a mapping")
    actions = [parse_action(a) for a in item.get("actions") or []]
    return CacheEntry.model_validate({**item, "actions": actions})


def _step_lines(root: Any) -> list[int]:
    """1-based line of each item of the top-level `steps` list."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "steps" and isinstance(value, yaml.SequenceNode):
            return [n.start_mark.line + 1 for n in value.value]
    return []


def cache_path(cache_dir: Path, nodeid: str) -> Path:
    """`tests/test_form.py::test_submit[x]` -> `<cache_dir>/tests/test_form/test_submit[x].yaml`."""
    module, _, name = nodeid.partition("::")
    module = re.sub(r"\.uiagent\.ya?ml$|\.py$", "", module)
    parts = [_safe(p) for p in module.split("/") if p not in ("", ".", "..")]
    return cache_dir.joinpath(*parts, _safe(name.replace("::", ".") or "test") + ".yaml")


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._\[\]-]+", "_", text)[:120] or "_"


def actions_worth_caching(actions: Sequence[Action]) -> tuple[Action, ...]:
    """What a replay must perform: no waits (polls) and no done/fail markers."""
    return tuple(a for a in actions if a.kind not in ("wait", "done", "fail"))
