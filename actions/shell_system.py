"""Rules of `actions.shell` for the machine itself: disks, permissions, processes and power.

Each is a `Rule` (see `actions.shell_rules`), named in `actions.shell.RULES`.
"""

from __future__ import annotations

import re

from actions.models import ALLOW, Verdict
from actions.shell_paths import is_device
from actions.shell_rules import ABSOLUTE, Command, Context, aimed, deny, has_long, options, short

# --------------------------------------------------------------------------- disks


def mkfs(cmd: Command, ctx: Context) -> Verdict:
    operands = options(cmd.args, takes_value=frozenset({"-t", "-L", "-b", "-n", "-O", "-E"})).operands
    return deny(f"{cmd.name} formats {short(operands[-1])}, erasing it") if operands else ALLOW


def mkswap(cmd: Command, ctx: Context) -> Verdict:
    devices = [a for a in cmd.args if is_device(a, ctx.home, ctx.variables)]
    return deny(f"mkswap overwrites the disk device {short(devices[0])}") if devices else ALLOW


def wipefs(cmd: Command, ctx: Context) -> Verdict:
    opts = options(cmd.args)
    if opts.shorts & {"a", "o"} or has_long(opts, "--all") or has_long(opts, "--offset"):
        return deny("wipefs erases the file-system signatures of a disk")
    return ALLOW


def blkdiscard(cmd: Command, ctx: Context) -> Verdict:
    return deny("blkdiscard discards every block of a disk") if options(cmd.args).operands else ALLOW


def partition(cmd: Command, ctx: Context) -> Verdict:
    """sgdisk --zap*, and fdisk/parted/... on a device unless only listing or printing it."""
    opts = options(cmd.args)
    if cmd.name == "sgdisk":
        zap = opts.shorts & {"Z", "z", "o"} or any(w.startswith(("--zap", "--clear")) for w in opts.longs)
        return deny("sgdisk --zap destroys the partition table") if zap else ALLOW
    listing = "l" in opts.shorts or has_long(opts, "--list") or "print" in opts.operands
    devices = [a for a in opts.operands if is_device(a, ctx.home, ctx.variables)]
    if devices and not listing:
        return deny(f"{cmd.name} repartitions the disk device {short(devices[0])}")
    return ALLOW


# --------------------------------------------------------------------------- permissions


_MODE = re.compile(r"[0-7]{1,4}|(?:[ugoa]*[-+=][rwxXstugo]*,?)+")
_RUINOUS_MODE = re.compile(r"(?:a|ugo)?(?:[-+]rwx|=)")  # a-rwx, +rwx, a= (not go-rwx: hardening)


def _ruinous_number(mode: str) -> bool:
    """0, 000, 0777, 666: nobody may use it, or everybody may change it."""
    return mode.isdigit() and int(mode, 8) & 0o777 in (0, 0o666, 0o777)


def permissions(cmd: Command, ctx: Context) -> Verdict:
    """chmod/chown/chgrp -R on home, / or a system folder; chmod 000|777 (or chown) on / or home."""
    mode, operands, recursive, reference = None, [], False, False
    for a in cmd.args:
        if cmd.name == "chmod" and mode is None and _MODE.fullmatch(a):
            mode = a  # chmod's mode may look like a flag: -x, -rwx
        elif a == "--recursive" or (a.startswith("-") and not a.startswith("--") and "R" in a):
            recursive = True
        elif a.startswith("--reference"):
            reference = True
        elif not a.startswith("-"):
            operands.append(a)
    if cmd.name != "chmod" and not reference:
        operands = operands[1:]  # the owner or group
    if recursive:
        return aimed(f"{cmd.name} -R", operands, ctx, ABSOLUTE, unknown_is_risky=False)
    if cmd.name != "chmod":
        return aimed(cmd.name, operands, ctx, frozenset({"root"}), unknown_is_risky=False)
    if mode and (_RUINOUS_MODE.fullmatch(mode) or _ruinous_number(mode)):
        return aimed(f"chmod {short(mode, 8)}", operands, ctx, frozenset({"root", "home"}),
                      unknown_is_risky=False)
    return ALLOW


# --------------------------------------------------------------------------- processes and power


def kill(cmd: Command, ctx: Context) -> Verdict:
    args = list(cmd.args)
    if args[:1] in (["-s"], ["-n"]):
        args = args[2:]
    elif args[:1] and args[0].startswith("-") and args[0] != "--":
        args = args[1:]  # the signal: `kill -1 1234` sends SIGHUP to 1234
    if args[:1] == ["--"]:
        args = args[1:]
    if "-1" in args:
        return deny("kill -1 signals every process the user may signal")
    return ALLOW


_KILL_SIGNAL = re.compile(r"-(?:9|KILL|SIGKILL)|--signal=(?:9|KILL|SIGKILL)", re.IGNORECASE)


def pkill(cmd: Command, ctx: Context) -> Verdict:
    """pkill/killall by user with SIGKILL, or with no name (every process of that user)."""
    opts = options(cmd.args, takes_value=frozenset({"-u", "-U", "-s", "--signal", "-g", "-G", "-P", "-t"}))
    by_user = opts.shorts & {"u", "U"} or has_long(opts, "--euid") or has_long(opts, "--uid") \
        or has_long(opts, "--user")
    hard = any(_KILL_SIGNAL.fullmatch(a) for a in cmd.args) or "9" in opts.shorts
    if by_user and (hard or not opts.operands):
        return deny(f"{cmd.name} kills every process of a user")
    return ALLOW


def always_deny(cmd: Command, ctx: Context) -> Verdict:
    return deny(f"{cmd.name} kills every process on the machine")


def crontab(cmd: Command, ctx: Context) -> Verdict:
    opts = options(cmd.args, takes_value=frozenset({"-u"}))
    if "r" in opts.shorts or "/dev/null" in opts.operands:
        return deny("crontab -r (or crontab /dev/null) deletes every cron job")
    return ALLOW


def power(cmd: Command, ctx: Context) -> Verdict:
    if "-c" in cmd.args or "--help" in cmd.args:
        return ALLOW
    return deny(f"{cmd.name} ends the session (shutdown, reboot or halt)")


_POWER_VERB = re.compile(r"poweroff|reboot|halt|kexec|soft-reboot|"
                         r"(?:poweroff|reboot|halt|rescue|emergency)\.target")


def service_power(cmd: Command, ctx: Context) -> Verdict:
    if cmd.name in ("init", "telinit"):
        halting = cmd.args[:1] in (("0",), ("6",))
        return deny(f"{cmd.name} {cmd.args[0]} halts or reboots the machine") if halting else ALLOW
    if any(_POWER_VERB.fullmatch(a) for a in cmd.args):
        return deny(f"{cmd.name} powers off or reboots the machine")
    return ALLOW
