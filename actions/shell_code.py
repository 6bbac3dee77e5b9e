"""Rules for commands that run code the line does not show, for `actions.shell`.

Code piped into an interpreter, passed with `-c`/`-e`, decoded from base64, read from a process
substitution or from a file fetched or written earlier on the line cannot be judged statically: these
rules ask for confirmation. Where the code is shell text we can see (`sh -c '...'`, `eval ...`,
`watch '...'`), it is judged too, so a visible `rm -rf ~` inside is still denied.
"""

from __future__ import annotations

import posixpath
import re

from actions.models import ALLOW, Verdict
from actions.shell_lex import PROC
from actions.shell_rules import Command, Context, confirm, option_values, options, short, strictest

_INTERPRETER = re.compile(r"(?P<shell>(?:ba|z|da|k|mk|c|tc|a)?sh|fish)|(?P<python>python[0-9.]*|pypy[0-9.]*)|"
                          r"(?P<perl>perl[0-9.]*)|(?P<ruby>ruby[0-9.]*)|(?P<node>node(?:js)?|deno|bun)|"
                          r"(?P<php>php[0-9.]*)|(?P<lua>lua(?:jit)?[0-9.]*)|(?P<other>pwsh|osascript|tclsh[0-9.]*)")
# The short options that take the program text as their value, per family.
_CODE_FLAGS = {"shell": "c", "python": "c", "perl": "eE", "ruby": "e", "node": "ep", "php": "rR", "lua": "e",
               "other": "ce"}
_CODE_LONGS = ("--eval", "--print", "--command", "--run")
_VALUE_FLAGS = frozenset({"-W", "-X", "-I", "-M", "-r", "--require", "-O", "-o"})
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def interpreter_family(name: str) -> str | None:
    m = _INTERPRETER.fullmatch(name)
    return m.lastgroup if m else None


def interpreter(cmd: Command, ctx: Context) -> Verdict:
    """sh/python/perl/... fed code by -c/-e, a pipe, a here-document, <(...) or a file just written."""
    family = interpreter_family(cmd.name) or "other"
    flags, operands = _split_interpreter_args(cmd.args)
    code_flag = next((f for f in flags if f in _CODE_LONGS or (not f.startswith("--") and
                                                                set(f[1:]) & set(_CODE_FLAGS[family]))), None)
    if code_flag:
        asked = confirm(f"code passed to {cmd.name} {short(code_flag, 8)} cannot be judged")
        nested = ctx.judge_source(operands[0]) if family == "shell" and operands else ALLOW
        return strictest((nested, asked)) if nested.decision == "deny" else asked
    if any(PROC in a for a in cmd.args) or any(PROC in t for _, t in cmd.redirects):
        return confirm(f"code from a process substitution ({cmd.name} <(...)) cannot be judged")
    if cmd.piped and (not operands or operands[0] == "-" or "-s" in flags):
        asked = confirm(f"code piped into an interpreter (| {cmd.name}) cannot be judged")
        echoed = " ".join(cmd.stdin_words or ())
        shown = ctx.judge_source(echoed) if family == "shell" and echoed else ALLOW
        return shown if shown.decision == "deny" else asked
    here = [t for op, t in cmd.redirects if op.endswith(("<<", "<<-", "<<<"))]
    if here:
        asked = confirm(f"code fed to {cmd.name} from a here-document (<<, <<<) cannot be judged")
        strings = [t for op, t in cmd.redirects if op.endswith("<<<")]
        shown = strictest(ctx.judge_source(s) for s in strings) if family == "shell" else ALLOW
        return shown if shown.decision == "deny" else asked
    return _runs_written(cmd.name, operands[:1] + tuple(t for op, t in cmd.redirects if op == "<"), ctx)


def _split_interpreter_args(args: tuple[str, ...]) -> tuple[list[str], tuple[str, ...]]:
    """Options up to the script (or code) operand, and the operands from there on."""
    flags: list[str] = []
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        if args[i] == "--":
            i += 1
            break
        flags.append(args[i])
        value_next = args[i] in _VALUE_FLAGS and i + 1 < len(args) and not args[i + 1].startswith("-")
        i += 2 if value_next else 1  # `python -O -c code`: -c is no value of -O
    return flags, args[i:]


def source(cmd: Command, ctx: Context) -> Verdict:
    if any(PROC in a for a in cmd.args):
        return confirm(f"code from a process substitution ({cmd.name} <(...)) cannot be judged")
    return _runs_written(cmd.name, cmd.args[:1], ctx)


def runs_written(cmd: Command, ctx: Context, head: str) -> Verdict:
    """The command word itself is a file fetched or written earlier on the line (`./f`)."""
    return _runs_written(cmd.name, (head,), ctx)


def _runs_written(name: str, files: tuple[str, ...], ctx: Context) -> Verdict:
    for f in files:
        if posixpath.basename(f) in ctx.written:
            return confirm(f"{name} runs {short(f, 30)}, written earlier on the line: it cannot be judged")
    return ALLOW


def download(cmd: Command, ctx: Context) -> Verdict:
    """Remember what curl/wget write (-o F, -O F or the URL's name) for later commands."""
    letter, long = ("o", "--output") if cmd.name == "curl" else ("O", "--output-document")
    written = option_values(cmd.args, letter, long)
    written += [a.split("?")[0].rstrip("/") or "index.html" for a in cmd.args if _URL.fullmatch(a)]
    ctx.written.update(posixpath.basename(f) for f in written)
    return ALLOW


def decode(cmd: Command, ctx: Context) -> Verdict:
    """base64 -d (or xxd -r) whose output goes on down a pipe: hidden code, usually."""
    opts = options(cmd.args)
    decoding = opts.shorts & ({"r"} if cmd.name == "xxd" else {"d", "D"}) or any(
        w.startswith(("--dec", "--revert")) for w in opts.longs)
    if decoding and cmd.piped_out:
        return confirm(f"decoded data piped onward ({cmd.name} -d |) cannot be judged")
    return ALLOW


def evaluate(cmd: Command, ctx: Context) -> Verdict:
    nested = ctx.judge_source(" ".join(cmd.args))
    asked = confirm(f"{cmd.name} runs a string as code, which cannot be judged")
    return nested if nested.decision == "deny" else asked


def watch(cmd: Command, ctx: Context) -> Verdict:
    """watch runs its arguments through `sh -c` (or directly with -x) again and again."""
    args, i = cmd.args, 0
    direct = False
    while i < len(args) and args[i].startswith("-"):
        direct = direct or args[i] in ("-x", "--exec")
        i += 2 if args[i] in ("-n", "--interval", "-q", "--equexit") else 1
    rest = args[i:]
    if not rest:
        return ALLOW
    return ctx.judge_words(rest) if direct else ctx.judge_source(" ".join(rest))


def alias(cmd: Command, ctx: Context) -> Verdict:
    """`alias ll='rm -rf ~'`: the value is code the next line may run."""
    return strictest(ctx.judge_source(a.split("=", 1)[1]) for a in cmd.args if "=" in a)


_SSH_VALUES = frozenset({"-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o",
                         "-p", "-Q", "-R", "-S", "-W", "-w", "-B"})


def ssh(cmd: Command, ctx: Context) -> Verdict:
    """ssh HOST CMD...: the remote shell runs CMD (the host may be this machine)."""
    args, i = cmd.args, 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _SSH_VALUES else 1
    remote = " ".join(args[i + 1:])
    return ctx.judge_source(remote) if remote else ALLOW


_AWK_RUNS = re.compile(r"\bsystem\s*\(|\|\s*(?:getline|&|\")")


def awk(cmd: Command, ctx: Context) -> Verdict:
    """awk programs are everyday text; only one that calls system() or pipes to a command is code."""
    if any(_AWK_RUNS.search(a) for a in cmd.args if not a.startswith("-")):
        return confirm(f"{cmd.name} runs a command from its program (system() or a pipe), cannot be judged")
    return ALLOW


def su(cmd: Command, ctx: Context) -> Verdict:
    codes = option_values(cmd.args, "c", "--command")
    if not codes:
        return ALLOW
    nested = strictest(ctx.judge_source(code) for code in codes)
    return nested if nested.decision == "deny" else confirm("code passed to su -c cannot be judged")
