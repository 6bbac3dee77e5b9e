"""The command line. Thin: parse, build Settings, call the library, render. Only this module prints.

Heavy imports (SDKs, pyautogui, OCR, rich) happen inside the commands, so `uiagent --help` is fast.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from actions.errors import UIAgentError, UsageError
from agent import status
from agent.cli.mcp import mcp
from agent.cli.record import record
from agent.cli.terminal import Interrupts, confirm_safety_checks, interrupt_handler, terminal_confirm
from agent.deadline import Deadline

if TYPE_CHECKING:
    from agent.cli.output import StepPrinter
    from agent.planners.base import Planner
    from agent.planners.cassette import Cassette
    from agent.replay.playback import ReplayResult
    from agent.run.wiring import RunResult
    from agent.settings import Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,  # plain help: rich costs ~120 ms of cold start
                  help="uiagent: a desktop UI-automation agent. Perceive, plan, act; every step recorded.")


def _err(message: str) -> None:
    status.clear()
    sys.stderr.write(f"uiagent: {message}\n")


def _live_status(as_json: bool) -> status.StatusSink:
    """The live status line (agent.cli.status) on a terminal; none with --json or when stderr is
    not a terminal (a pipe, a CI log)."""
    if as_json or not sys.stderr.isatty():
        return status.NoStatus()
    from agent.cli.status import RichStatus
    return RichStatus()


def _with_status(command: Callable[..., None]) -> Callable[..., None]:
    """The command runs with the live status line (`_live_status` by its --json)."""
    @functools.wraps(command)
    def run(**options: Any) -> None:
        with status.use(_live_status(bool(options.get("as_json")))):
            command(**options)
    return run


def _fail(error: UIAgentError) -> NoReturn:
    _err(f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
    raise SystemExit(error.exit_code)


def _virtual_size(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    from agent.display import parse_size
    return parse_size(value) if value not in ("", "default") else (1280, 800)


def _display_env(stack: ExitStack, virtual: tuple[int, int] | None, dbus: bool = False) -> str:
    """DISPLAY to drive: a fresh virtual display when asked, else $DISPLAY."""
    if virtual:
        from agent.display import VirtualDisplay
        vd = stack.enter_context(VirtualDisplay(size=virtual, window_manager=True, dbus=dbus))
        os.environ.update(vd.env)
        return vd.display
    display = os.environ.get("DISPLAY", "")
    if not display:
        from actions.errors import DisplayError
        raise DisplayError("DISPLAY is not set: run inside an X session or add --virtual")
    return display


VirtualOpt = Annotated[str | None, typer.Option("--virtual", help="Run on a private Xvfb display of WxH "
                                                 "(e.g. 1280x800)", show_default=False)]
SandboxOpt = Annotated[bool | None, typer.Option(
    "--sandbox/--no-sandbox", show_default=False,
    help="Run --launch apps under bubblewrap: read-only files, a private HOME and /tmp, no network. "
         "Default: on with --virtual, off on your own display (the app there is yours)")]
SandboxNetOpt = Annotated[bool, typer.Option("--sandbox-net", help="Let sandboxed apps use the network")]


def _launch_apps(stack: ExitStack, commands: list[str], display: str, settings: Settings,
                 virtual: bool) -> None:
    """Start each --launch app and wait for its window: inside a sandbox when it is on."""
    from agent.sandbox import Sandbox, sandbox_enabled

    if not commands:
        return
    from agent.display import launch, launch_app, let_finish, terminate

    # The apps are stopped with the run (they would die with uiagent anyway), each once it has
    # finished what the run asked of it (`let_finish`, registered after it, so it runs first).
    if sandbox_enabled(None, settings.sandbox, virtual):
        box = stack.enter_context(Sandbox(display, dict(os.environ), net=settings.sandbox_net))
        for cmd in commands:
            stack.callback(let_finish, display, box.launch_app(cmd).window.window_id)
        return

    def launcher(argv: list[str]) -> Any:
        proc = launch(argv, dict(os.environ))
        stack.callback(terminate, proc)
        return proc
    for cmd in commands:
        found = launch_app(cmd, display, dict(os.environ), launcher=launcher)
        stack.callback(let_finish, display, found.window.window_id)


def _check_sandbox(commands: list[str] | None, settings: Settings, virtual: bool) -> None:
    """A missing bwrap is a usage error before any display starts."""
    from agent.sandbox import find_bwrap, sandbox_enabled

    if commands and sandbox_enabled(None, settings.sandbox, virtual):
        find_bwrap()


@app.command()
def doctor(virtual: VirtualOpt = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON")] = False) -> None:
    """Check the display, X extensions, OCR engines, window manager and provider keys."""
    from agent.cli.doctor import run_checks, usable

    with ExitStack() as stack:
        try:
            display: str | None = _display_env(stack, _virtual_size(virtual))
        except UsageError as e:
            if virtual:
                raise
            display = None
            _err(str(e))
        checks = run_checks(display)
    ok = usable(checks)
    if as_json:
        print(json.dumps({"usable": ok, "checks": [c.model_dump() for c in checks]}))
    else:
        from rich.console import Console
        console = Console(highlight=False, soft_wrap=True)
        for c in checks:
            mark = "[green]ok[/]" if c.ok else ("[red]FAIL[/]" if c.required else "[yellow]warn[/]")
            line = f"{mark:>16}  {c.name}: {c.detail}"
            console.print(line + (f"  [dim]-> {c.fix}[/]" if not c.ok and c.fix else ""))
        console.print("[green]usable[/]" if ok else "[red]not usable: fix the FAIL lines above[/]")
    raise typer.Exit(0 if ok else 1)


@app.command()
def act(source: Annotated[str, typer.Argument(help="A JSON file of actions (a list, or one per line); - for stdin")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Log what would happen; perform nothing")] = False,
        confirm: Annotated[str, typer.Option(help="never|risky|always")] = "risky",
        virtual: VirtualOpt = None) -> None:
    """Run a list of actions through the guarded executor (no model). Exit 3 if a guard stops it."""
    from actions.desktop.fake import DryRunDesktop
    from actions.desktop.x11 import PyAutoGUIDesktop
    from actions.errors import GuardStopped
    from actions.executor import Executor
    from actions.killswitch import KillSwitch
    from agent.cli.action_files import load_actions
    from agent.run.wiring import readiness
    from agent.settings import load_settings

    settings = load_settings({"guards.confirm": confirm, "dry_run": dry_run or None})
    actions = load_actions(source)
    with ExitStack() as stack:
        display = _display_env(stack, _virtual_size(virtual))
        desktop: Any = PyAutoGUIDesktop(display, failsafe=settings.failsafe, pacing=settings.input)
        ready = readiness(settings, desktop)  # nothing to wait for under --dry-run
        if dry_run:
            desktop = DryRunDesktop(desktop)
        kill = stack.enter_context(KillSwitch(settings.kill_hotkey, display=display))
        executor = Executor(desktop, settings.guards, confirm=terminal_confirm, kill=kill.event, readiness=ready)
        for i, action in enumerate(actions, 1):
            result = executor.execute(action)
            prefix = "would " if dry_run and result.ok else ""
            print(f"{i:>3} {prefix}{result.describe()}", flush=True)
            if result.status in ("denied", "declined"):
                raise GuardStopped(f"action {i} {result.status}: {result.verdict.reason}")
            if not result.ok:
                raise UIAgentError(f"action {i} failed: {result.error}")


Repeatable = Annotated[list[str] | None, typer.Option(show_default=False)]


# Over 50 lines: most of it is the typer signature, one Annotated option per flag of the CLI contract.
@app.command("do")
@_with_status
def do_task(
    task: Annotated[str, typer.Argument(help="What to do, e.g. \"click File, then click Save\"")],
    model: Annotated[str | None, typer.Option(help="PROVIDER:MODEL (anthropic, openai-cua, openai, "
                                              "ui-tars, offline); default: by configured key, else offline")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible or Anthropic endpoint")] = None,
    launch: Annotated[list[str] | None, typer.Option(help="Start this app first and wait for its window (repeatable)")] = None,
    virtual: VirtualOpt = None,
    monitor: Annotated[int | None, typer.Option(help="Only this monitor (1-based)")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps (exit 3)")] = None,
    max_cost: Annotated[float | None, typer.Option(help="Stop before spending more than this many USD (exit 3)")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds, model requests and "
                                                  "retries included (exit 3)")] = None,
    confirm: Annotated[str | None, typer.Option(help="never|risky|always: which actions need a yes")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and log, perform nothing")] = False,
    record_dir: Annotated[Path | None, typer.Option(help="Where recordings go (default recordings/)")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="Env var NAME whose value may be typed as {{NAME}}; "
                                                     "never sent to a model, masked in files")] = None,
    secret_visible: Annotated[list[str] | None, typer.Option(help="A --secret NAME that may be typed where it "
                                                             "shows (a terminal), not only into password fields")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary line last")] = False,
    cassette: Annotated[bool, typer.Option("--cassette", help="Store every model request/response in "
                                           "RECORDING/cassette.jsonl")] = False,
    cassette_replay: Annotated[Path | None, typer.Option("--cassette-replay", help="Answer model requests "
                                                         "from this recording's cassette (offline)")] = None,
    sandbox: SandboxOpt = None,
    sandbox_net: SandboxNetOpt = False,
) -> None:
    """Perceive, plan and act until the task is done; every step is recorded."""
    from agent.planners.registry import parse_spec, start_planner

    tape: Any = None
    api_key: str | None = None
    if cassette and cassette_replay:
        raise UsageError("--cassette and --cassette-replay do not go together")
    if cassette_replay is not None:
        from agent.planners.cassette import CassettePlayer
        from agent.recording.format import load_recording

        recorded = load_recording(cassette_replay).session.settings
        tape, api_key = CassettePlayer(cassette_replay), "cassette-replay"
        model, base_url = model or recorded.get("model"), base_url or recorded.get("base_url")
    elif cassette:
        from agent.planners.cassette import CassetteRecorder
        tape = CassetteRecorder()
    settings = _settings({"model": model, "base_url": base_url, "monitor": monitor, "max_steps": max_steps,
                          "max_cost": max_cost, "timeout": timeout, "dry_run": dry_run or None,
                          "record_dir": record_dir, "guards.confirm": confirm, "sandbox": sandbox,
                          "sandbox_net": sandbox_net or None,
                          "guards.secret_visible": tuple(secret_visible) if secret_visible else None})
    if cassette:
        tape.max_bytes = settings.max_answer_bytes  # what it stores is bounded like what the SDK reads
    secrets = _secrets(secret or [])
    if stray := [n for n in secret_visible or [] if n not in secrets]:
        raise UsageError(f"--secret-visible {stray[0]}: not given as --secret {stray[0]}")
    deadline = Deadline(settings.timeout).start()  # --timeout counts from here: start-up, display, launch
    status.show(f"starting: planner {':'.join(parse_spec(settings.model))}...")
    # A model planner (its SDK's import: seconds) builds on a thread while the display and the wiring start.
    planner = start_planner(settings, transport=tape, api_key=api_key, confirm_safety=confirm_safety_checks,
                            deadline=deadline)
    planner.prepare(task)  # an unparseable offline instruction fails here, before anything starts
    if not task.strip():
        raise UsageError("empty task: say what to do")
    _check_sandbox(launch, settings, virtual is not None)
    # Outermost: a signal during the clean-up after the run is counted, not fatal (Interrupts).
    with interrupt_handler() as stop:
        result: RunResult | None = None
        with _released_after(lambda: result is not None), ExitStack() as stack:
            display = _display_env(stack, _virtual_size(virtual))
            _launch_apps(stack, launch or [], display, settings, virtual is not None)
            result = _run_live(task, settings, display, planner, secrets, as_json, tape, stop, deadline)
        assert result is not None
        _finish(result, as_json, late_signals=stop.late)


@app.command()
@_with_status
def demo(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary line last")] = False,
         record_dir: Annotated[Path | None, typer.Option(help="Where the recording goes")] = None,
         sandbox: Annotated[bool | None, typer.Option(
             "--sandbox/--no-sandbox", show_default=False,
             help="Run xcalc under bubblewrap (read-only files, private HOME and /tmp, no network); "
                  "default on")] = None) -> None:
    """Run the offline planner on xcalc in a virtual display: 12 + 30 = 42, found and checked by OCR."""
    from agent.cli.demo import DEMO_TASK, run_demo
    from agent.cli.output import StepPrinter

    settings = _settings({"record_dir": record_dir, "guards.confirm": "never", "sandbox": sandbox})
    _check_sandbox(["xcalc"], settings, virtual=True)
    printer = StepPrinter(json_mode=as_json)
    printer.intro(f"demo: xcalc on a virtual display, task: {DEMO_TASK}")
    with interrupt_handler() as stop:
        result = run_demo(settings, on_step=printer.step, stop=stop, on_end=stop.ended)
        if result.folder is not None:
            from agent.recording.report import write_report
            printer.note(f"report: {write_report(result.folder).path}")
        _finish(result, as_json, printer, late_signals=stop.late)


# Over 50 lines: most of it is the typer signature, one Annotated option per flag of the CLI contract.
@app.command()
@_with_status
def replay(
    recording: Annotated[Path, typer.Argument(help="A recording folder (recordings/<timestamp>-<task>)")],
    speed: Annotated[float, typer.Option(help="Scale recorded waits: 2 plays them twice as fast")] = 1.0,
    first: Annotated[int | None, typer.Option("--from", help="First recorded step to replay")] = None,
    last: Annotated[int | None, typer.Option("--to", help="Last recorded step to replay")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Verify targets, perform nothing")] = False,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Act at the recorded points without "
                                            "checking the targets")] = False,
    patience: Annotated[float, typer.Option(help="Seconds a target may take to appear before the "
                                            "replay stops")] = 2.0,
    launch: Annotated[list[str] | None, typer.Option(help="Start this app first and wait for its window "
                                                     "(repeatable)")] = None,
    virtual: VirtualOpt = None,
    record_dir: Annotated[Path | None, typer.Option(help="Where the replay's recording goes "
                                                    "(default recordings/)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary line last")] = False,
    sandbox: SandboxOpt = None,
    sandbox_net: SandboxNetOpt = False,
) -> None:
    """Replay a recording: verify each target on screen, act through the guards, check the screen
    reacted. Exit 1 at the first step that cannot be verified (nothing is done for it)."""
    from agent.cli.output import StepPrinter
    from agent.recording.format import load_recording
    from agent.replay.playback import replay_recording
    from agent.replay.recorded import ReplayOptions

    if speed <= 0:
        raise UsageError(f"--speed must be more than 0, got {speed:g}")
    if first is not None and last is not None and first > last:
        raise UsageError(f"--from {first} is after --to {last}")
    loaded = load_recording(recording)
    for warning in loaded.warnings:
        _err(f"warning: {warning}")
    chosen = [s for s in loaded.steps if (first is None or s.index >= first) and (last is None or s.index <= last)]
    if not chosen:
        raise UsageError(f"nothing to replay: {recording} has no recorded steps"
                         + (" in the chosen range" if first is not None or last is not None else ""))
    settings = _settings({"record_dir": record_dir, "dry_run": dry_run or None, "guards.confirm": "risky",
                          "sandbox": sandbox, "sandbox_net": sandbox_net or None})
    options = ReplayOptions(verify=not no_verify, speed=speed, patience_s=max(patience, 0.0))
    printer = StepPrinter(json_mode=as_json)
    printer.intro(f"replay of {loaded.folder} ({len(chosen)} steps, task: {loaded.session.task})")
    _check_sandbox(launch, settings, virtual is not None)
    with interrupt_handler() as stop:
        with ExitStack() as stack:
            display = _display_env(stack, _virtual_size(virtual))
            _launch_apps(stack, launch or [], display, settings, virtual is not None)
            result = replay_recording(loaded, display=display, settings=settings, options=options, first=first,
                                      last=last, confirm=terminal_confirm, on_step=printer.step, stop=stop)
            stop.ended()  # the replay's outcome is recorded: the rest is clean-up
        for warning in result.warnings:
            if warning not in loaded.warnings:
                _err(f"warning: {warning}")
        for line in result.skipped:
            _err(f"skipped: {line}")
        _finish(result, as_json, printer, late_signals=stop.late)


def _settings(overrides: dict[str, Any]) -> Settings:
    from agent.settings import load_settings
    return load_settings(overrides)


def _secrets(names: list[str]) -> dict[str, str]:
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise UsageError(f"--secret {missing[0]}: the environment variable {missing[0]} is not set")
    return {n: os.environ[n] for n in names}


def _run_live(task: str, settings: Settings, display: str, planner: Planner, secrets: dict[str, str],
              as_json: bool, cassette: Cassette | None, stop: Interrupts,
              deadline: Deadline | None = None) -> RunResult:
    from agent.cli.output import StepPrinter
    from agent.run.wiring import run_agent

    printer = StepPrinter(json_mode=as_json)
    printer.intro(f"task: {task}  ({planner.name}:{planner.model}, display {display})")
    return run_agent(task, settings, display, planner, confirm=terminal_confirm, on_step=printer.step,
                     secrets=secrets, stop=stop, cassette=cassette, deadline=deadline, on_end=stop.ended)


@contextmanager
def _released_after(ended: Callable[[], bool]) -> Iterator[None]:
    """Once the run's outcome is recorded (`ended()`), a failure while stopping the apps and the
    display (one already gone) is logged, not reported: the outcome is what the run says."""
    try:
        yield
    except Exception:
        if not ended():
            raise
        logging.getLogger("agent.cli.app").debug("clean-up after the run failed", exc_info=True)


def _finish(result: RunResult | ReplayResult, as_json: bool, printer: StepPrinter | None = None,
            late_signals: int = 0) -> None:
    from agent.cli.output import StepPrinter, summary_json

    if late_signals:
        _err("interrupted during the clean-up: finished it first")
    (printer or StepPrinter(json_mode=as_json)).outcome(result)
    if as_json:
        print(summary_json(result), flush=True)
    raise typer.Exit(result.exit_code)


@app.command()
def show(recording: Annotated[Path, typer.Argument(help="A recording folder (recordings/<timestamp>-<task>)")],
         out: Annotated[Path | None, typer.Option("--out", help="Write the report here instead of "
                                                  "RECORDING/report.html")] = None,
         diff: Annotated[Path | None, typer.Option("--diff", help="Another recording of the same task: "
                                                   "align the two runs and mark where they diverge")] = None
         ) -> None:
    """Write a self-contained HTML report of a recording and print its path."""
    from agent.recording.report import write_report

    written = write_report(recording, out=out, diff=diff)
    for warning in written.warnings:
        _err(f"warning: {warning}")
    print(written.path)


app.command()(record)
app.command()(mcp)


def _version(value: bool) -> None:
    if value:
        from agent import __version__
        print(f"uiagent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit")] = False,
          verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logging (-vv: debug)")] = 0
          ) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one clear line and the contract's exit code for every expected error."""
    try:
        code = app(args=_optional_virtual(sys.argv[1:] if argv is None else argv), prog_name="uiagent",
                   standalone_mode=False)
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except typer.TyperException as e:  # typer's own usage errors (it vendors click)
        _err(f"error: {e.format_message()}")
        raise SystemExit(2) from None
    except typer.Abort:
        _err("stopped by the user")
        raise SystemExit(3) from None
    except KeyboardInterrupt:
        _err("stopped by the user")
        raise SystemExit(3) from None
    except UIAgentError as e:
        _fail(e)
    except BrokenPipeError as e:  # stdout closed (`uiagent ... | head`), unless it was the X socket
        _exit_if_display_gone(e)
        raise SystemExit(0) from None
    except Exception as e:  # a bug: still one line, the traceback only with -vv
        logging.getLogger("agent.cli.app").debug("internal error", exc_info=True)
        _exit_if_display_gone(e)  # outside a run (starting, launching)
        _err(f"internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
             "(run with -vv for the traceback, and please report it)")
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _exit_if_display_gone(error: BaseException) -> None:
    """Exit 1 with one line if `error` came from the X display going away (not a bug, not stdout)."""
    from agent.run.endings import display_gone

    if display_gone(error, display := os.environ.get("DISPLAY")):
        _err(f"error: display {display} closed")
        raise SystemExit(1) from None


def _optional_virtual(argv: list[str]) -> list[str]:
    """`--virtual` takes an optional WxH (the CLI contract); typer options cannot, so a bare
    `--virtual` gets the default size here."""
    import re

    out = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg == "--virtual":
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt is None or not re.fullmatch(r"\d+x\d+", nxt):
                out.append("default")
    return out
