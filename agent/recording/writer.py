"""The recording writer: the `Recorder` protocol, `FolderRecorder` (real) and `MemoryRecorder` (fake).

Crash safety: a process killed at any moment leaves a folder whose finished steps all load.
session.json is written at `start`; each step is one line of steps.jsonl, written with a single
`write` and fsynced; and `append` writes a step's line only once every frame and crop it
references is on disk (each image is encoded to a temp name, then renamed), so a step line never
points at a missing or half-written image.

Disk full: `start` sets aside `RESERVE_BYTES` in `.reserve` (allocated blocks); `finish` deletes it
just before rewriting session.json, so the outcome (`disk full: ...`) is written on a full disk too.
A write that fails leaves no temp file behind (each is removed) and no half line in steps.jsonl.

Hot path: `add_frame` snapshots and hashes the pixels (~16 ms at 1920x1080) and returns the name;
encoding (PNG level 1 or WebP) runs on one background thread.

Secrets: every string written (session, steps, the folder name) goes through the `Redactor`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from typing import Literal, Protocol, Self, runtime_checkable

from PIL import Image

from actions.errors import DISK_FULL, DiskFull, UIAgentError, UsageError
from actions.secrets import Redactor
from agent.recording.format import (
    CROPS_DIR,
    FRAMES_DIR,
    SESSION_FILE,
    STEPS_FILE,
    Outcome,
    Session,
    Step,
    utc_now,
)

log = logging.getLogger(__name__)

ImageFormat = Literal["png", "webp"]
_MAX_PENDING_IMAGES = 8  # back-pressure: at most this many images wait for the encoder


def slugify(text: str, limit: int = 40) -> str:
    """A short, file-system-safe slug: lowercase ASCII words joined by '-', cut at a word."""
    words = re.findall(r"[a-z0-9]+", text.lower().encode("ascii", "ignore").decode())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            break
        slug = candidate
    return slug or (words[0][:limit] if words else "session")


def image_digest(image: Image.Image) -> tuple[str, bytes]:
    """Content hash of the exact pixels (mode and size included) and the pixel bytes."""
    data = image.tobytes()
    h = hashlib.sha1(f"{image.mode}{image.size}".encode())
    if image.mode == "P":  # same indices, other colours: another image
        h.update(bytes(image.getpalette() or ()))
    h.update(data)
    return h.hexdigest()[:20], data


@runtime_checkable
class Recorder(Protocol):
    """What the loop, replay and `record` write a session through."""

    @property
    def folder(self) -> Path | None: ...
    def start(self, session: Session) -> None: ...
    def add_frame(self, image: Image.Image) -> str: ...
    def add_crop(self, image: Image.Image) -> str: ...
    def append(self, step: Step) -> None: ...
    def finish(self, outcome: Outcome) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


RESERVE_FILE = ".reserve"   # space held for the outcome; removed when the outcome is written
RESERVE_BYTES = 64 * 1024   # session.json is a few KB; rewriting it needs that much again


def _os_error(path: Path, error: OSError) -> UsageError:
    why = error.strerror or type(error).__name__
    message = f"cannot write the recording {path}: {why} (free some space or choose another --record-dir)"
    return DiskFull(message) if error.errno in DISK_FULL else UsageError(message)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; a recording is meant to be shared
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FolderRecorder:
    """Writes a session folder under `record_dir`. Use as a context manager or call `close()`.

    `add_frame`/`add_crop` return at once (pixels snapshotted and hashed on the caller, encoded on a
    background thread); `append` waits only for the images its step references. An OS error
    (read-only folder, disk full) becomes one `UsageError`; what was already written stays readable.
    """

    def __init__(self, record_dir: Path | str, redactor: Redactor | None = None,
                 image_format: ImageFormat = "png") -> None:
        self.record_dir = Path(record_dir)
        self.redactor = redactor or Redactor()
        self.image_format = image_format
        self._folder: Path | None = None
        self._session: Session | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._images: dict[str, Future[None]] = {}   # "frames/<name>" -> write job
        self._pending: list[Future[None]] = []
        self._failure: OSError | None = None  # the first write error of the encoder thread
        self._lock = threading.Lock()
        self._steps_fd: int | None = None
        self._last_image: Image.Image | None = None  # the last frame added, and its name
        self._last_name = ""
        self._steps_size = 0  # bytes of whole lines in steps.jsonl
        self._previous_after: str | None = None  # the last appended step's frame after
        self._finished = False  # the outcome was recorded

    @property
    def folder(self) -> Path | None:
        return self._folder

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, session: Session) -> None:
        stamp = session.started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        base = f"{stamp}-{slugify(self.redactor.text(session.task))}"
        try:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            folder = self._reserve(base)
            (folder / FRAMES_DIR).mkdir()
            (folder / CROPS_DIR).mkdir()
            self._folder, self._session = folder, session
            self._write_session(session)
            self._steps_fd = os.open(folder / STEPS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            _reserve_space(folder / RESERVE_FILE, RESERVE_BYTES)
        except OSError as e:
            raise _os_error(self._folder or self.record_dir, e) from None
        log.info("recording to %s", folder)

    def _reserve(self, base: str) -> Path:
        """mkdir is atomic: two recorders starting in the same second get different folders."""
        for n in range(1, 1000):
            folder = self.record_dir / (base if n == 1 else f"{base}-{n}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
        raise UsageError(f"too many recordings named {base} in {self.record_dir}")

    def _write_session(self, session: Session) -> None:
        assert self._folder is not None
        data = (self.redactor.json(session) + "\n").encode()
        _write_atomic(self._folder / SESSION_FILE, data)

    def add_frame(self, image: Image.Image) -> str:
        """Queue a screenshot; returns its file name under frames/ (the same for identical pixels)."""
        return self._add(FRAMES_DIR, image, self.image_format)

    def add_crop(self, image: Image.Image) -> str:
        """Queue a small crop around a target; returns its hash (a `Target.crop_hash`), stored as PNG."""
        return self._add(CROPS_DIR, image, "png").removesuffix(".png")

    def _add(self, subdir: str, image: Image.Image, fmt: ImageFormat) -> str:
        folder = self._require_started()
        if image is self._last_image and subdir == FRAMES_DIR:
            return self._last_name  # the loop hands the settled frame back as the next "before"
        digest, data = image_digest(image)
        name = f"{digest}.{fmt}"
        key = f"{subdir}/{name}"
        with self._lock:
            if self._failure is not None:
                raise _os_error(folder, self._failure)
            if key not in self._images:
                self._pending = [j for j in self._pending if not j.done()]
                if len(self._pending) >= _MAX_PENDING_IMAGES:
                    self._pending.pop(0).exception()  # wait; an error lands in _failure
                job = self._pool.submit(_encode, folder / subdir / name, image.mode, image.size, data, fmt)
                job.add_done_callback(self._note_failure)
                self._images[key] = job
                self._pending.append(job)
        if subdir == FRAMES_DIR:
            self._last_image, self._last_name = image, name
        return name

    def _note_failure(self, job: Future[None]) -> None:
        error = job.exception()
        if isinstance(error, OSError) and self._failure is None:
            self._failure = error

    def append(self, step: Step) -> None:
        """Write one step line (flushed and fsynced) once its frame before and crops are on disk."""
        folder = self._require_started()
        t0 = time.perf_counter()
        # The frame before, the crops and the previous step's frame after (all queued long before)
        # must be on disk; this step's frame after may still be encoding (in the loop it is the
        # next step's frame before). So after a crash only the last step's frame after can be
        # missing (a load warning), whatever frames the caller hands in.
        earlier = [f for f in (self._previous_after, step.frame_before) if f]
        self._wait([f"{FRAMES_DIR}/{f}" for f in earlier] + [f"{CROPS_DIR}/{c}.png" for c in step.crops()])
        line = (self.redactor.json(step) + "\n").encode()
        try:
            self._write_line(line)
        except OSError as e:
            raise _os_error(folder, e) from None
        self._previous_after = step.frame_after
        log.debug("recorded step %d in %.1f ms", step.index, (time.perf_counter() - t0) * 1e3)

    def _write_line(self, line: bytes) -> None:
        """Append a whole line or nothing: a short write (disk full, file size limit) is rolled
        back, so the next step never lands glued to half a line."""
        assert self._steps_fd is not None
        fd, view = self._steps_fd, memoryview(line)
        try:
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, self._steps_size)
            except OSError:
                log.warning("could not roll back a partial line in %s", STEPS_FILE)
            raise
        self._steps_size += len(line)

    def _wait(self, keys: list[str]) -> None:
        for key in keys:
            job = self._images.get(key)
            if job is None:
                if not (self._folder and (self._folder / key).exists()):
                    log.warning("step references %s, which was never added to this recorder", key)
                continue
            try:
                job.result()
            except OSError as e:
                raise _os_error(self._folder or self.record_dir, e) from None

    def flush(self) -> None:
        """Wait until every queued image is on disk."""
        self._wait(list(self._images))

    def finish(self, outcome: Outcome) -> None:
        """Record the outcome: session.json is rewritten atomically with `ended` and `outcome`.
        It is written even when images could not be (the disk filled up: the outcome says so),
        into the space reserved at `start`, released just before."""
        folder = self._require_started()
        assert self._session is not None
        try:
            self.flush()
        except UIAgentError as e:  # an image that could not be written: its step was never recorded
            log.debug("finishing with unwritten images: %s", e)
        self._session = self._session.model_copy(update={"ended": utc_now(), "outcome": outcome})
        (folder / RESERVE_FILE).unlink(missing_ok=True)
        self._finished = True
        try:
            self._write_session(self._session)
        except OSError as e:
            raise _os_error(folder, e) from None

    def close(self) -> None:
        """Wait for pending images and release the file, the reserved space and the thread. Safe
        to call twice."""
        try:
            if self._folder is not None:
                self.flush()
        except UIAgentError:
            if not self._finished:
                raise  # nobody heard of it yet; after `finish` the outcome says so
        finally:
            self._pool.shutdown(wait=True)
            if self._steps_fd is not None:
                os.close(self._steps_fd)
                self._steps_fd = None
            if self._folder is not None:
                (self._folder / RESERVE_FILE).unlink(missing_ok=True)

    def _require_started(self) -> Path:
        if self._folder is None:
            raise UsageError("the recorder was not started (call start(session) first)")
        return self._folder


def _reserve_space(path: Path, size: int) -> None:
    """Allocate `size` bytes at `path` (blocks on disk, not a sparse file), so the outcome can be
    written when the disk fills up during the run. Over quota or full already: that is raised."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as e:
            if e.errno in DISK_FULL:
                raise
            os.write(fd, bytes(size))  # a file system without fallocate
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def _encode(path: Path, mode: str, size: tuple[int, int], data: bytes, fmt: ImageFormat) -> None:
    """Encode on the recorder thread; temp name + rename so no half-written image is ever visible."""
    image = Image.frombytes(mode, size, data)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if fmt == "webp":
            image.save(tmp, "WEBP", quality=90, method=0)
        else:
            image.save(tmp, "PNG", compress_level=1)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class MemoryRecorder:
    """The in-memory fake: keeps everything (redacted, as a folder would) for tests of the loop."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()
        self.session: Session | None = None
        self.frames: dict[str, Image.Image] = {}
        self.crops: dict[str, Image.Image] = {}
        self.steps: list[Step] = []
        self.outcome: Outcome | None = None
        self.closed = False

    @property
    def folder(self) -> Path | None:
        return None

    def start(self, session: Session) -> None:
        self.session = Session.model_validate(json.loads(self.redactor.json(session)))

    def add_frame(self, image: Image.Image) -> str:
        name = f"{image_digest(image)[0]}.png"
        self.frames.setdefault(name, image.copy())
        return name

    def add_crop(self, image: Image.Image) -> str:
        digest = image_digest(image)[0]
        self.crops.setdefault(digest, image.copy())
        return digest

    def append(self, step: Step) -> None:
        if self.session is None:
            raise UsageError("the recorder was not started (call start(session) first)")
        missing = [f for f in step.frames() if f not in self.frames] + [c for c in step.crops() if c not in self.crops]
        if missing:
            raise ValueError(f"step {step.index} references images never added: {missing}")
        self.steps.append(Step.model_validate(json.loads(self.redactor.json(step))))

    def finish(self, outcome: Outcome) -> None:
        assert self.session is not None
        self.outcome = outcome
        self.session = self.session.model_copy(update={"ended": utc_now(), "outcome": outcome})

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
