"""What a rule of `actions.shell` gets and uses, and the rules for files: delete, move, overwrite.

A rule gets one unwrapped simple command (`Command`: `sudo -E /bin/rm -rf ~` arrives as name `rm`,
args `-rf ~`) and the line's `Context`, and returns a `Verdict`. To cover a new command, write a
function `(Command, Context) -> Verdict` here (files), in `shell_system` (disks, permissions,
processes, power) or in `shell_code` (code we cannot see), and add a row to `actions.shell.RULES`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from actions.models import ALLOW, Verdict
from actions.shell_lex import PROC, SUB
from actions.shell_paths import Kind, classify, classify_path, expand, is_device, write_target


@dataclass(frozen=True, slots=True)
class Command:
    """One simple command after wrappers (sudo, env, nohup, xargs, ...) are taken off."""

    name: str                                 # the program's base name: `rm` for `/bin/rm`
    args: tuple[str, ...] = ()                # its arguments, unquoted, not expanded
    redirects: tuple[tuple[str, str], ...] = ()  # (operator, target): ("2>", "/dev/null")
    piped: bool = False                       # stdin comes from the previous command
    piped_out: bool = False                   # stdout goes to the next command
    stdin_words: tuple[str, ...] | None = None  # what an upstream `echo`/`printf` prints, if that
    via_xargs: bool = False                   # xargs appends stdin's words to the arguments


@dataclass(slots=True)
class Context:
    """What one line knows as it is judged left to right, and how to judge nested code."""

    home: str
    judge_source: Callable[[str], Verdict]            # a nested command line (sh -c, watch, eval)
    judge_words: Callable[[Sequence[str]], Verdict]   # a nested argv (find -exec)
    variables: dict[str, str] = field(default_factory=dict)  # a=rm; ... set earlier on the line
    written: set[str] = field(default_factory=set)  # base names curl/wget or a `>` wrote: unseen content


Rule = Callable[[Command, Context], Verdict]
EVERYWHERE: frozenset[Kind] = frozenset({"root", "home", "system", "cwd"})
ABSOLUTE: frozenset[Kind] = frozenset({"root", "home", "system"})


def deny(reason: str) -> Verdict:
    return Verdict(decision="deny", reason=reason, guard="shell")


def confirm(reason: str) -> Verdict:
    return Verdict(decision="confirm", reason=reason, guard="shell")


def strictest(verdicts: Iterable[Verdict]) -> Verdict:
    """The first deny, else the first confirm, else ALLOW."""
    worst = ALLOW
    for v in verdicts:
        if v.decision == "deny":
            return v
        if v.decision == "confirm" and worst.decision == "allow":
            worst = v
    return worst


def short(text: str, limit: int = 40) -> str:
    text = text.replace(SUB, "$(...)").replace(PROC, "<(...)")
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Options:
    shorts: frozenset[str]   # letters of every -abc cluster
    longs: tuple[str, ...]   # --long and --long=value words
    operands: tuple[str, ...]  # everything else (after `--`, all of it)


def options(args: Sequence[str], *, takes_value: frozenset[str] = frozenset()) -> Options:
    """GNU-style split; `takes_value` names options whose value is the next word (`-t DIR`)."""
    shorts: set[str] = set()
    longs: list[str] = []
    operands: list[str] = []
    skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
        elif a == "--":
            operands.extend(args[i + 1:])
            break
        elif a.startswith("--"):
            longs.append(a)
            skip = a in takes_value
        elif a.startswith("-") and len(a) > 1:
            shorts.update(a[1:])
            skip = a in takes_value
        else:
            operands.append(a)
    return Options(frozenset(shorts), tuple(longs), tuple(operands))


def has_long(opts: Options, name: str) -> bool:
    """`--rec` and `--recursive` both count: GNU getopt takes any unique prefix."""
    return any(len(w.split("=")[0]) >= 3 and name.startswith(w.split("=")[0]) for w in opts.longs)


def option_values(args: Sequence[str], letter: str, long: str) -> list[str]:
    """Every value of one option, however spelled: `-o F`, `-oF`, `-sSLo F`, `--output F`, `--output=F`."""
    values = []
    for i, a in enumerate(args):
        following = args[i + 1] if i + 1 < len(args) else None
        if a == long and following is not None:
            values.append(following)
        elif a.startswith(long + "="):
            values.append(a.split("=", 1)[1])
        elif a.startswith("-") and not a.startswith("--") and letter in a[1:]:
            attached = a[a.index(letter, 1) + 1:]
            if attached or following is not None:
                values.append(attached or str(following))
    return values


def aimed(op: str, words: Iterable[str], ctx: Context, kinds: frozenset[Kind], *,
          unknown_is_risky: bool, prep: str = "on") -> Verdict:
    """Deny `op` on a protected place; confirm when it is one only if a variable is empty."""
    for word in words:
        exp = expand(word, ctx.home, ctx.variables)
        place = classify_path(exp.path, ctx.home)
        if place and place.kind in kinds:
            if exp.unknown:
                return confirm(f"{op} {prep} {place.label} if {short(word, 24)!r} expands to nothing")
            return deny(f"{op} {prep} {place.label}")
        if exp.leading_unknown and unknown_is_risky:
            return confirm(f"{op} on a computed path ({short(word, 24)}) cannot be judged")
    return ALLOW


# --------------------------------------------------------------------------- deleting


def rm(cmd: Command, ctx: Context) -> Verdict:
    opts = options(cmd.args)
    if has_long(opts, "--no-preserve-root"):
        return deny("rm --no-preserve-root removes the whole file system")
    recursive = bool(opts.shorts & {"r", "R"}) or has_long(opts, "--recursive")
    force = "f" in opts.shorts or has_long(opts, "--force")
    if not (recursive or force):
        return ALLOW
    op = "rm -rf" if recursive and force else "rm -r" if recursive else "rm -f"
    if cmd.via_xargs and cmd.stdin_words is None:
        return confirm(f"{op} on names read by xargs cannot be judged") if recursive else ALLOW
    extra = cmd.stdin_words if cmd.via_xargs and cmd.stdin_words else ()
    return aimed(op, (*opts.operands, *extra), ctx, EVERYWHERE, unknown_is_risky=recursive)


_FIND_NOT_A_TEST = frozenset({"-delete", "-print", "-print0", "-depth", "-maxdepth", "-mindepth", "-xdev",
                              "-mount", "-ls", "-follow", "-noleaf", "-daystart", "-true", "-exec",
                              "-execdir", "-ok", "-okdir", "-ignore_readdir_race", "-nowarn", "-warn"})
_DELETERS = frozenset({"rm", "shred", "unlink", "rmdir", "srm", "wipe"})


def find(cmd: Command, ctx: Context) -> Verdict:
    args, i = cmd.args, 0
    while i < len(args) and (args[i] in ("-H", "-L", "-P") or args[i].startswith("-O")):
        i += 1
    starts = []
    while i < len(args) and not args[i].startswith(("-", "(", "!")):
        starts.append(args[i])
        i += 1
    expr = args[i:]
    verdicts, deleting = _find_exec(expr, ctx)
    deleting = deleting or "-delete" in expr
    filtered = any(e.startswith("-") and e not in _FIND_NOT_A_TEST for e in expr)
    if deleting:
        kinds = ABSOLUTE if filtered else EVERYWHERE
        verdicts.append(aimed("find ... -delete", starts or ["."], ctx, kinds, unknown_is_risky=False))
    return strictest(verdicts)


def _find_exec(expr: Sequence[str], ctx: Context) -> tuple[list[Verdict], bool]:
    """Judge each -exec/-execdir/-ok command; say whether one of them deletes."""
    verdicts, deleting = [], False
    for i, word in enumerate(expr):
        if word in ("-exec", "-execdir", "-ok", "-okdir"):
            inner = []
            for w in expr[i + 1:]:
                if w in (";", "+"):
                    break
                inner.append(w)
            if inner:
                deleting = deleting or posixpath.basename(inner[0]) in _DELETERS
                verdicts.append(ctx.judge_words(inner))
    return verdicts, deleting


def shred(cmd: Command, ctx: Context) -> Verdict:
    targets = options(cmd.args, takes_value=frozenset({"-n", "-s", "--iterations", "--size"})).operands
    return deny(f"shred destroys {short(targets[0])}") if targets else ALLOW


_ZERO_SIZE = re.compile(r"0+(?:[KMGTPEZY](?:i?B)?|B)?", re.IGNORECASE)


def truncate(cmd: Command, ctx: Context) -> Verdict:
    """Deny shrinking any file (`-s 0`, `-s -1K`, `-s <5`) and any size on a home/system file."""
    size, targets, args, i = None, [], cmd.args, 0
    while i < len(args):
        a = args[i]
        if a in ("-s", "--size", "-r", "--reference") and i + 1 < len(args):
            size, i = (args[i + 1] if a in ("-s", "--size") else "="), i + 2
            continue
        if a.startswith("--size=") or (a.startswith("-s") and not a.startswith("--")):
            size = a.split("=", 1)[1] if a.startswith("--") else a[2:]
        elif not a.startswith("-"):
            targets.append(a)
        i += 1
    if size is None:
        return ALLOW
    for t in targets:
        why = write_target(t, ctx.home, ctx.variables)
        if why or classify(t, ctx.home, ctx.variables):
            return deny(f"truncate {why or 'on ' + short(t)}")
        if _ZERO_SIZE.fullmatch(size) or size[:1] in ("-", "<", "/", "%"):
            return deny(f"truncate -s {short(size, 10)} empties or shortens {short(t)}")
    return ALLOW


def mv(cmd: Command, ctx: Context) -> Verdict:
    opts = options(cmd.args, takes_value=frozenset({"-t", "-S", "--target-directory", "--suffix"}))
    into_dir = "t" in opts.shorts or has_long(opts, "--target-directory")
    sources = opts.operands if into_dir else opts.operands[:-1]
    onto = expand(opts.operands[-1], ctx.home, {}).path if opts.operands else ""
    if not into_dir and len(opts.operands) >= 2 and onto == "/dev/null":
        return deny(f"mv onto /dev/null destroys {short(opts.operands[0])}")
    return aimed("mv", sources, ctx, ABSOLUTE, unknown_is_risky=False, prep="of")


def git(cmd: Command, ctx: Context) -> Verdict:
    args, i = cmd.args, 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env") else 1
    if i >= len(args) or args[i] != "clean":
        return ALLOW
    opts = options(args[i + 1:], takes_value=frozenset({"-e", "--exclude"}))
    if opts.shorts & {"n", "i"} or has_long(opts, "--dry-run") or has_long(opts, "--interactive"):
        return ALLOW
    force = "f" in opts.shorts or has_long(opts, "--force")
    if force and opts.shorts & {"x", "X", "d"}:
        return deny("git clean -f with -d/-x deletes untracked files and folders (the folder may be home)")
    return ALLOW


def rsync(cmd: Command, ctx: Context) -> Verdict:
    """rsync --delete into home or a system folder makes it a copy of the source: the rest goes."""
    opts = options(cmd.args, takes_value=frozenset({"-e", "--rsh", "-f", "--filter"}))
    if not any(w.startswith(("--del", "--remove-source")) for w in opts.longs) or len(opts.operands) < 2:
        return ALLOW
    return aimed("rsync --delete", opts.operands[-1:], ctx, ABSOLUTE, unknown_is_risky=False, prep="into")


# --------------------------------------------------------------------------- writing


def dd(cmd: Command, ctx: Context) -> Verdict:
    for a in cmd.args:
        if a.startswith("of="):
            why = write_target(a[3:], ctx.home, ctx.variables)
            if why:
                return deny(f"dd {why}")
    return ALLOW


_EMPTY_SOURCES = frozenset({"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"})


def copy_onto(cmd: Command, ctx: Context) -> Verdict:
    """cp/tee onto a disk device; tee (not -a), or cp of /dev/null, over a file `>` may not overwrite."""
    opts = options(cmd.args, takes_value=frozenset({"-t", "-S"}))
    operands = opts.operands
    if cmd.name == "tee":
        targets, overwrites = operands, not ("a" in opts.shorts or has_long(opts, "--append"))
    else:
        targets = operands[-1:] if len(operands) >= 2 else ()
        overwrites = bool(_EMPTY_SOURCES & set(operands))
    for t in targets:
        why = write_target(t, ctx.home, ctx.variables)
        if why and (overwrites or is_device(t, ctx.home, ctx.variables)):
            return deny(f"{cmd.name} {why}")
    return ALLOW


def redirects(cmd: Command, ctx: Context) -> Verdict:
    """`> ~/.bashrc`, `>| /etc/passwd`, `> /dev/sda`; appending (`>>`) only matters for devices."""
    for op, target in cmd.redirects:
        if ">" not in op or op.endswith("&") and (target.isdigit() or target == "-"):
            continue  # input, or a copy of a file descriptor (2>&1, >&-)
        why = write_target(target, ctx.home, ctx.variables)
        keeps_content = ">>" in op or op.endswith("<>")
        if why and (not keeps_content or is_device(target, ctx.home, ctx.variables)):
            return deny(f"{op} {why}")
    return ALLOW
