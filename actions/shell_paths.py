"""What a path on a command line points at, for the rules in `actions.shell_rules`.

Words reach the rules as typed: `~/x`, `$HOME/`, `${HOME}`, `/home/alice//`, `../*`. `expand` turns
one into a path with the known parts filled in (home, line-local variables) and says whether some
part stayed unknown; `classify` names the protected place it is (home, /, a system folder, the
current folder), if any, seeing through trailing globs (`~/*`, `/.*`) and `..`.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Mapping
from typing import Literal, NamedTuple

from actions.shell_lex import PROC, SUB

Kind = Literal["root", "home", "system", "cwd"]

SYSTEM_FOLDERS = frozenset({"/etc", "/usr", "/var", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                            "/root", "/opt", "/home", "/srv", "/sys", "/proc", "/dev", "/mnt", "/media"})
SCRATCH_FOLDERS = ("/tmp/", "/var/tmp/", "/dev/shm/")
HARMLESS_WRITES = re.compile(r"/dev/(?:null|zero|stdout|stderr|stdin|tty|full|fd/\d+|pts/\d+)|"
                             r"/proc/self/fd/\d+")
DISK_DEVICE = re.compile(r"/dev/(?:sd[a-z]|nvme\d|hd[a-z]|vd[a-z]|xvd[a-z]|mmcblk\d|md\d|dm-\d|loop\d|"
                         r"mapper/|disk/|sr\d)")
SYSRQ = "/proc/sysrq-trigger"

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*)|\{[^}]*\}|[0-9@*#?$!-])")
_TILDE = re.compile(r"~([A-Za-z0-9._-]*)(?=/|$)")
_GLOB_ONLY = re.compile(r"[*?.\[\]!^{},]*[*?\[][*?.\[\]!^{},]*")  # `*`, `.*`, `.[!.]*`, `.[^.]*`
_HOME_DIR = re.compile(r"/home/[^/]+")


class Expanded(NamedTuple):
    path: str      # with known parts filled in and unknown ones dropped (as bash does when unset)
    unknown: bool  # some part was a variable or substitution we cannot know
    leading_unknown: bool  # ... and it was at the very start, so the path could be anything


class Place(NamedTuple):
    kind: Kind
    label: str  # "the home folder", "everything in /etc", ...


def expand(word: str, home: str, variables: Mapping[str, str], *, _depth: int = 0) -> Expanded:
    """Fill in `~`, `~user`, `$HOME`, `${HOME}`, `$USER`, `$PWD` and variables set earlier on the line."""
    user = posixpath.basename(home.rstrip("/")) or "root"
    known = {"HOME": home, "USER": user, "LOGNAME": user, "PWD": ".", "TMPDIR": "/tmp"}
    unknown = SUB in word or PROC in word
    leading = word.startswith((SUB, PROC))

    def var(m: re.Match[str]) -> str:
        nonlocal unknown, leading
        name = m.group(1) or m.group(2)
        if name in variables and _depth < 2:
            inner = expand(variables[name], home, variables, _depth=_depth + 1)
            unknown, leading = unknown or inner.unknown, leading or (m.start() == 0 and inner.leading_unknown)
            return inner.path
        if name in known:
            return known[name]
        unknown, leading = True, leading or m.start() == 0
        return ""

    path = _TILDE.sub(lambda m: _tilde(m.group(1), home), word, count=1) if word.startswith("~") else word
    path = _VAR.sub(var, path) if "$" in path else path
    return Expanded(path.replace(SUB, "").replace(PROC, ""), unknown, leading)


def _tilde(user: str, home: str) -> str:
    if not user:
        return home
    if user in ("+", "-"):
        return "."  # $PWD or $OLDPWD: a folder that may be home
    return "/root" if user == "root" else f"/home/{user}"


def normalise(path: str) -> str:
    """`//home//alice/./` -> `/home/alice`; `build/..` -> `.`; keeps a leading `/`."""
    if not path:
        return ""
    path = re.sub(r"/{2,}", "/", path)
    return posixpath.normpath(path)


def classify(word: str, home: str, variables: Mapping[str, str]) -> Place | None:
    """The protected place `word` names (or a glob of it matches), else None."""
    return classify_path(expand(word, home, variables).path, home)


def classify_path(path: str, home: str) -> Place | None:
    path = normalise(path)
    if not path:
        return None
    everything = False
    while "/" in path and _GLOB_ONLY.fullmatch(path.rsplit("/", 1)[1]):  # ~/* -> everything in ~
        path, everything = path.rsplit("/", 1)[0] or "/", True
    if _GLOB_ONLY.fullmatch(path):  # `*`, `.*`
        path, everything = ".", True
    place = _place(path, normalise(home))
    if place is None and any(c in path for c in "*?["):
        place = _glob_place(path, normalise(home))
    if place and everything:
        return Place(place.kind, "everything in " + place.label)
    return place


def _place(path: str, home: str) -> Place | None:
    if path == "/":
        return Place("root", "the root folder /")
    if path == home or _HOME_DIR.fullmatch(path):
        return Place("home", "the home folder")
    if path in SYSTEM_FOLDERS:
        return Place("system", f"the system folder {path}")
    if path in (".", "..") or set(path.split("/")) == {".."}:
        return Place("cwd", "the current or a parent folder, which may be home")
    return None


def _glob_place(pattern: str, home: str) -> Place | None:
    """A glob such as `/h*` or `/home/?lice` that matches a protected folder."""
    if _HOME_DIR.fullmatch(pattern):
        return Place("home", "a glob matching a home folder")
    for candidate in ("/", home, "/home/user", *sorted(SYSTEM_FOLDERS)):
        if fnmatch.fnmatchcase(candidate, pattern):
            place = _place(candidate, home)
            if place:
                return Place(place.kind, f"a glob matching {place.label}")
    return None


def write_target(word: str, home: str, variables: Mapping[str, str]) -> str | None:
    """Why overwriting `word` (`> word`) is destructive, or None for an ordinary file."""
    path = normalise(expand(word, home, variables).path)
    home = normalise(home)
    if not path or HARMLESS_WRITES.fullmatch(path):
        return None
    if path == SYSRQ:
        return "writes to /proc/sysrq-trigger (it can reboot or crash the machine)"
    if DISK_DEVICE.match(path):
        return f"writes into the disk device {path[:40]}"
    if path.startswith(SCRATCH_FOLDERS) or not path.startswith("/"):
        return None
    top = "/" + path.split("/")[1]
    other = _HOME_DIR.match(path)
    owner = home if path.startswith(home + "/") else other.group(0) if other else None
    if owner:
        rest = path[len(owner) + 1:]
        if "/" not in rest or rest.startswith("."):
            return f"overwrites {'~/' + rest if owner == home else path[:50]} in the home folder"
        return None
    if top in SYSTEM_FOLDERS:
        return f"overwrites {path[:50]} in the system folder {top}"
    return None


def is_device(word: str, home: str, variables: Mapping[str, str]) -> bool:
    path = normalise(expand(word, home, variables).path)
    return bool(DISK_DEVICE.match(path)) or path == SYSRQ
