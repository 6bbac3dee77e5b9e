"""The sandbox's pure parts: the bwrap command line, its environment, the on/off rule, the errors.
(The real bwrap runs in tests/display/test_sandbox.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.errors import UsageError
from agent.cli.doctor import _sandbox_check
from agent.sandbox import (
    RUNTIME_DIR,
    SandboxSpec,
    dbus_socket_path,
    find_bwrap,
    sandbox_command,
    sandbox_enabled,
    sandbox_env,
    x_socket_path,
)
from agent.settings import load_settings
from tests.conftest import run_cli

HOME = Path("/tmp/uiagent-home-abc")
X0 = Path("/tmp/.X11-unix/X7")


def spec(**kw: object) -> SandboxSpec:
    return SandboxSpec(**{"home": HOME, "private_home": Path("/tmp/uiagent-sandbox-1/home"), "x_socket": X0,
                          **kw})  # type: ignore[arg-type]


def pairs(argv: list[str], flag: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == flag]


def test_the_whole_file_system_is_read_only_and_home_is_ours() -> None:
    argv = sandbox_command(["xterm", "-e", "sh"], spec())
    assert argv[:4] == ["bwrap", "--ro-bind", "/", "/"]
    assert ("/tmp/uiagent-sandbox-1/home", str(HOME)) in pairs(argv, "--bind")
    assert argv[argv.index("--chdir") + 1] == str(HOME)
    assert argv[argv.index("--") + 1:] == ["xterm", "-e", "sh"]
    for flag in ("--unshare-pid", "--unshare-net", "--die-with-parent", "--new-session"):
        assert argv.index(flag) < argv.index("--"), flag
    assert ["--dev", "/dev"] == argv[argv.index("--dev"):argv.index("--dev") + 2]
    assert ["--proc", "/proc"] == argv[argv.index("--proc"):argv.index("--proc") + 2]


def test_tmp_is_private_but_the_x_socket_is_bound_after_it() -> None:
    argv = sandbox_command(["xcalc"], spec(xauthority=HOME / ".Xauthority"))
    tmpfs = argv.index("--tmpfs")
    assert argv[tmpfs + 1] == "/tmp"
    assert (str(X0), str(X0)) in pairs(argv, "--ro-bind")
    x_bind = next(i for i, a in enumerate(argv) if a == str(X0))
    home_bind = argv.index(str(HOME))
    xauth_bind = argv.index(str(HOME / ".Xauthority"))
    assert tmpfs < home_bind < xauth_bind and tmpfs < x_bind  # bwrap mounts left to right
    runtime = argv.index(str(RUNTIME_DIR))
    assert argv[runtime - 3:runtime] == ["--perms", "0700", "--dir"] and tmpfs < runtime


def test_network_is_unshared_unless_asked() -> None:
    assert "--unshare-net" in sandbox_command(["x"], spec())
    assert "--unshare-net" not in sandbox_command(["x"], spec(net=True))
    assert "--unshare-pid" in sandbox_command(["x"], spec(net=True))


def test_dbus_and_the_accessibility_bus_are_bound_when_there_is_one() -> None:
    bus, a11y = Path("/tmp/dbus-XYZ"), HOME / "runtime" / "at-spi"
    argv = sandbox_command(["galculator"], spec(dbus_socket=bus, a11y_dir=a11y))
    assert (str(bus), str(bus)) in pairs(argv, "--bind") and (str(a11y), str(a11y)) in pairs(argv, "--bind")
    assert argv.index(str(a11y)) > argv.index(str(HOME))  # inside HOME: after the HOME bind
    no_bus = sandbox_command(["xcalc"], spec(x_socket=None))
    assert pairs(no_bus, "--bind") == [("/tmp/uiagent-sandbox-1/home", str(HOME))]
    assert pairs(no_bus, "--ro-bind") == [("/", "/")]


def test_root_loses_its_capabilities_inside() -> None:
    root = sandbox_command(["x"], spec(root=True))
    assert root[root.index("--cap-drop") + 1] == "ALL"
    assert root[root.index("--cap-add") + 1] == "CAP_SETGID" and root.count("--cap-add") == 1
    assert "--cap-drop" not in sandbox_command(["x"], spec(root=False))


def test_environment_points_home_xdg_and_xauthority_inside() -> None:
    env = sandbox_env({"HOME": "/root", "DISPLAY": ":7", "WAYLAND_DISPLAY": "wayland-0", "XAUTHORITY": "/x",
                       "DBUS_SESSION_BUS_ADDRESS": "unix:path=/tmp/dbus-1", "PATH": "/usr/bin"}, spec())
    assert env["HOME"] == str(HOME) and env["DISPLAY"] == ":7" and env["PATH"] == "/usr/bin"
    assert env["XDG_RUNTIME_DIR"] == str(RUNTIME_DIR) and env["XDG_CONFIG_HOME"] == str(HOME / ".config")
    assert env["DBUS_SESSION_BUS_ADDRESS"] == "unix:path=/tmp/dbus-1"
    assert "WAYLAND_DISPLAY" not in env and "XAUTHORITY" not in env
    assert sandbox_env({}, spec(xauthority=Path("/run/xauth")))["XAUTHORITY"] == "/run/xauth"


@pytest.mark.parametrize(("flag", "setting", "virtual", "on"), [
    (None, None, True, True), (None, None, False, False),      # the default: on with --virtual only
    (True, None, False, True), (False, None, True, False),     # the flag wins
    (None, False, True, False), (None, True, False, True),     # then [tool.uiagent] sandbox
    (True, False, False, True), (False, True, True, False),
])
def test_on_by_default_with_virtual_only(flag: bool | None, setting: bool | None, virtual: bool,
                                        on: bool) -> None:
    assert sandbox_enabled(flag, setting, virtual) is on


def test_settings_carry_sandbox_from_pyproject_and_env(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.uiagent]\nsandbox = false\nsandbox_net = true\n")
    s = load_settings(pyproject=path)
    assert s.sandbox is False and s.sandbox_net is True
    assert load_settings({"sandbox": True}, pyproject=path).sandbox is True
    monkeypatch.setenv("UIAGENT_SANDBOX", "1")
    assert load_settings(pyproject=path).sandbox is True
    monkeypatch.delenv("UIAGENT_SANDBOX")
    (tmp_path / "empty.toml").write_text("[tool.uiagent]\n")
    assert load_settings(pyproject=tmp_path / "empty.toml").sandbox is None


def test_display_and_bus_addresses_to_socket_paths() -> None:
    assert x_socket_path(":3") == Path("/tmp/.X11-unix/X3")
    assert x_socket_path(":12.0") == x_socket_path("unix:12") == Path("/tmp/.X11-unix/X12")
    assert x_socket_path("remote:3") is None and x_socket_path("") is None
    assert dbus_socket_path("unix:path=/run/user/1000/bus") == Path("/run/user/1000/bus")
    both = "unix:abstract=/tmp/dbus-x,guid=1;unix:path=/tmp/dbus-y,guid=2"
    assert dbus_socket_path(both) == Path("/tmp/dbus-y")
    assert dbus_socket_path("unix:abstract=/tmp/dbus-x") is None and dbus_socket_path(None) is None


def test_missing_bwrap_says_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError) as info:
        find_bwrap(path=str(tmp_path))
    message = str(info.value)
    assert "\n" not in message and "bubblewrap" in message
    assert "apt install bubblewrap" in message and "--no-sandbox" in message
    monkeypatch.setenv("PATH", str(tmp_path))
    row = _sandbox_check()
    assert (row.name, row.ok, row.required) == ("sandbox", False, False)
    assert "not found" in row.detail and "apt install bubblewrap" in row.fix


def test_cli_without_bwrap_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """The check runs before any display starts: no Xvfb is needed to see it."""
    for args in (["do", "wait 1 second", "--virtual", "--launch", "xterm"],
                 ["do", "wait 1 second", "--sandbox", "--launch", "xterm"]):
        r = run_cli(*args, "--record-dir", str(tmp_path / "rec"), env={"PATH": str(tmp_path), "DISPLAY": ""})
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip().splitlines() == [
            "uiagent: error: --sandbox needs bubblewrap (bwrap), which is not installed: "
            "install bubblewrap (apt install bubblewrap), or run with --no-sandbox"]
    assert not (tmp_path / "rec").exists()


def test_help_names_the_sandbox_options() -> None:
    for command in ("do", "replay", "demo"):
        r = run_cli(command, "--help", env={"COLUMNS": "200"})
        assert r.returncode == 0 and "--sandbox / --no-sandbox" in r.stdout, command
    for command in ("do", "replay"):
        assert "--sandbox-net" in run_cli(command, "--help", env={"COLUMNS": "200"}).stdout
