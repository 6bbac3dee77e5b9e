"""Real applications through `uiagent do` with the offline planner: a GTK file chooser (mousepad)
and LibreOffice Calc. They need input at a pace the toolkit accepts and a wait for the dialog's
default button before Return (issue 13)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.display import VirtualDisplay
from agent.recording.format import load_recording
from tests.conftest import has_window, json_summary, run_cli, wait_until
from tests.fakes.model_servers import FakeModelServer, anthropic_message, chat_body, text_block, tool_use
from tests.realapps import CALC, libreoffice_profile

pytestmark = pytest.mark.real_app



@pytest.fixture
def busdisplay(display_binaries: None) -> Iterator[VirtualDisplay]:
    """A display with a session bus: GTK apps are accessible, so typed text can be read back."""
    with VirtualDisplay(size=(1280, 800), window_manager=True, dbus=True) as vd:
        yield vd


def test_mousepad_saves_through_the_gtk_file_chooser_and_reads_it_back(busdisplay: VirtualDisplay,
                                                                         tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    task = ("type 'hello from uiagent', press ctrl+s, wait for 'Save As' up to 15 s, type 'note.txt', "
            "press Return, wait for 'note.txt - Mousepad' up to 10 s")
    r = run_cli("do", task, "--launch", "mousepad", "--record-dir", str(tmp_path / "rec"), "--json",
                env=busdisplay.env, timeout=240, cwd=work)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (work / "note.txt").read_text().rstrip("\n") == "hello from uiagent"
    rec = load_recording(json_summary(r.stdout)["recording"])
    typed = [res for s in rec.steps for res in s.results if res.action and res.action.kind == "type"]
    # Both texts were read back from the focused field (the editor, then the chooser's name entry).
    assert [(res.verified, res.verify_note) for res in typed] == [(True, "read back from the focused text")] * 2

    again = run_cli("do", "wait for 'hello from uiagent' up to 20 s", "--launch", "mousepad note.txt",
                    "--record-dir", str(tmp_path / "rec2"), "--json", env=busdisplay.env, timeout=240, cwd=work)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]  # read back by OCR

    # record -> replay: the same save from a fresh mousepad, no planner at all (the file chooser
    # opens in the folder it saved to last, so the file is removed first).
    (work / "note.txt").unlink()
    replayed = run_cli("replay", str(rec.folder), "--launch", "mousepad", "--record-dir", str(tmp_path / "rec3"),
                       "--json", env=busdisplay.env, timeout=240, cwd=work)
    assert replayed.returncode == 0, replayed.stdout[-2000:] + replayed.stderr[-2000:]
    assert (work / "note.txt").read_text().rstrip("\n") == "hello from uiagent"


def test_return_into_a_dialog_whose_default_button_stays_disabled_fails(busdisplay: VirtualDisplay,
                                                                        tmp_path: Path) -> None:
    """With no name typed, Save never becomes sensitive: Return is not sent, the run says why."""
    task = "press ctrl+s, wait for 'Save As' up to 15 s, press Return"
    r = run_cli("do", task, "--launch", "mousepad", "--record-dir", str(tmp_path / "rec"), "--json",
                env=busdisplay.env, timeout=240, cwd=tmp_path)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    rec = load_recording(json_summary(r.stdout)["recording"])
    last = [res for s in rec.steps for res in s.results][-1]
    assert last.action is not None and last.action.kind == "key" and last.status == "failed"
    assert last.error == "the default button 'Save' is not enabled (Return would do nothing) after 2s"
    assert last.wait_ms >= 2000


def test_a_scripted_anthropic_model_saves_through_the_file_chooser(busdisplay: VirtualDisplay,
                                                                  tmp_path: Path) -> None:
    """The same save through the real anthropic SDK against a local server playing a scripted model;
    the model's typing is read back from the focused field as the offline planner's is."""
    work = tmp_path / "work"
    work.mkdir()
    script = [tool_use("type", text="written by a model"), tool_use("key", text="ctrl+s"),
              tool_use("wait", duration=2), tool_use("type", text="model.txt"), tool_use("key", text="Return"),
              tool_use("wait", duration=1)]
    with FakeModelServer() as server:
        calls = [0]

        def policy(request: object) -> dict:
            calls[0] += 1
            if calls[0] > len(script):
                return anthropic_message(text_block("Saved."))
            return anthropic_message(text_block("Next."), script[calls[0] - 1])
        server.policy = policy
        r = run_cli("do", "write a line and save it as model.txt", "--model", "anthropic:claude-sonnet-4-5",
                    "--base-url", server.url, "--launch", "mousepad", "--record-dir", str(tmp_path / "rec"),
                    "--json", env={**busdisplay.env, "ANTHROPIC_API_KEY": "test-key"}, timeout=240, cwd=work)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        results = json.dumps([req.json for req in server.requests])
    assert (work / "model.txt").read_text().rstrip("\n") == "written by a model"
    assert '"is_error": true' not in results
    rec = load_recording(json_summary(r.stdout)["recording"])
    typed = [res for s in rec.steps for res in s.results if res.action and res.action.kind == "type"]
    assert [res.verified for res in typed] == [True, True]


def uitars(action: str) -> dict:
    return chat_body(f"Thought: next.\nAction: {action}", model="ui-tars-1.5-7b")


def test_a_scripted_uitars_model_saves_through_the_file_chooser(busdisplay: VirtualDisplay, tmp_path: Path) -> None:
    """UI-TARS through the real openai SDK: it types, saves and answers Return at once after typing
    the name (no waits of its own): uiagent waits for the dialog and for Save to become sensitive."""
    work = tmp_path / "work"
    work.mkdir()
    script = ["type(content='typed by ui-tars')", "hotkey(key='ctrl s')", "type(content='tars.txt')",
              "hotkey(key='enter')", "finished(content='saved')"]
    with FakeModelServer() as server:
        answers = iter(script)
        server.policy = lambda request: uitars(next(answers, script[-1]))
        r = run_cli("do", "write a line and save it as tars.txt", "--model", "ui-tars:ui-tars-1.5-7b",
                    "--base-url", server.openai_url, "--launch", "mousepad", "--record-dir", str(tmp_path / "rec"),
                    "--json", env={**busdisplay.env, "OPENAI_API_KEY": "test-key"}, timeout=240, cwd=work)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert server.calls() == len(script)
    assert (work / "tars.txt").read_text().rstrip("\n") == "typed by ui-tars"
    rec = load_recording(json_summary(r.stdout)["recording"])
    typed = [res for s in rec.steps for res in s.results if res.action and res.action.kind == "type"]
    assert [res.verified for res in typed] == [True, True]


@pytest.mark.slow
def test_libreoffice_calc_sorts_through_the_data_menu(vdisplay: VirtualDisplay, tmp_path: Path) -> None:
    """A menu path: Data > Sort Ascending on a column typed in; the order is read back by OCR."""
    from actions.desktop.x11 import PyAutoGUIDesktop
    from agent.perception.ocr import RapidOcrEngine

    libreoffice_profile(Path(vdisplay.env["HOME"]))
    vdisplay.launch(CALC)
    wait_until(lambda: has_window(vdisplay, "Calc"), timeout=120, what="the Calc window")
    task = ("wait for 'Sheet1' up to 30 s, type 'pear', press Return, type 'apple', press Return, type 'fig', "
            "press Return, press ctrl+Home, click Data, wait for 'Sort Ascending' up to 10 s, "
            "click 'Sort Ascending', wait 1 second")
    r = run_cli("do", task, "--record-dir", str(tmp_path / "rec"), "--json", env=vdisplay.env, timeout=300,
                cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    desktop = PyAutoGUIDesktop(vdisplay.display)
    ocr = RapidOcrEngine()

    def column_a() -> list[str]:
        lines = ocr.read(desktop.capture().image.crop((0, 150, 300, 300)))
        words = [line for line in lines if line.text in ("apple", "fig", "pear")]
        return [line.text for line in sorted(words, key=lambda line: line.box.top)]
    try:
        wait_until(lambda: column_a() == ["apple", "fig", "pear"], timeout=10, what="the sorted column A")
    finally:
        desktop.close()


def _row_1(vd: VirtualDisplay, ocr: object) -> list[str]:
    """The texts in Calc's first row right of the row numbers (OCR; Calc has no session bus here)."""
    from actions.desktop.x11 import PyAutoGUIDesktop

    desktop = PyAutoGUIDesktop(vd.display)
    try:
        row = desktop.capture().image.crop(ROW_1)
        lines = ocr.read(row.resize((row.width * 2, row.height * 2)))  # type: ignore[attr-defined]
    finally:
        desktop.close()
    return [line.text for line in sorted(lines, key=lambda line: line.box.left)]


ROW_1 = (42, 180, 700, 200)  # screen pixels of cells A1:H1 in a 1280x800 Calc window


def _cleared(vd: VirtualDisplay, ocr: object) -> None:
    """Empty the sheet and go back to A1, the way a user would, and wait until row 1 reads empty."""
    import subprocess

    subprocess.run(["xdotool", "key", "--delay", "150", "ctrl+a", "Delete", "ctrl+Home"], env=vd.env, check=True)
    wait_until(lambda: not _row_1(vd, ocr), timeout=10, what="an empty first row")


@pytest.mark.slow
def test_libreoffice_calc_takes_values_and_a_formula_offline_replayed_and_from_models(vdisplay: VirtualDisplay,
                                                                                     tmp_path: Path) -> None:
    """One Calc: the offline planner types values and a formula (42); its recording replayed on an
    emptied sheet gives 42 again; a scripted Claude and a scripted UI-TARS type values and formulas
    whose results are read back by OCR."""
    from agent.perception.ocr import RapidOcrEngine

    libreoffice_profile(Path(vdisplay.env["HOME"]))
    vdisplay.launch(CALC)
    wait_until(lambda: has_window(vdisplay, "Calc"), timeout=120, what="the Calc window")
    ocr = RapidOcrEngine()
    task = "wait for 'Sheet1' up to 30 s, type '12', press Tab, type '30', press Tab, type '=A1+B1', press Return"
    r = run_cli("do", task, "--record-dir", str(tmp_path / "rec"), "--json", env=vdisplay.env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    wait_until(lambda: _row_1(vdisplay, ocr) == ["12", "30", "42"], timeout=10, what="12 30 42 in row 1")
    typed = [res for s in load_recording(json_summary(r.stdout)["recording"]).steps for res in s.results
             if res.action and res.action.kind == "type"]
    # No session bus here: each typed text was read back by OCR of what it changed (cell, input line).
    assert [(res.verified, res.verify_note) for res in typed] == [(True, "read back by OCR of what changed on screen")] * 3

    _cleared(vdisplay, ocr)
    replayed = run_cli("replay", json_summary(r.stdout)["recording"], "--record-dir", str(tmp_path / "rec2"), "--json",
                       env=vdisplay.env, timeout=300)
    assert replayed.returncode == 0, replayed.stdout[-2000:] + replayed.stderr[-2000:]
    wait_until(lambda: _row_1(vdisplay, ocr) == ["12", "30", "42"], timeout=10, what="the replayed row 1")

    claude = [tool_use("type", text="25"), tool_use("key", text="Tab"), tool_use("type", text="4"),
              tool_use("key", text="Tab"), tool_use("type", text="=A1*B1"), tool_use("key", text="Return")]
    tars = ["type(content='11\\t12\\t=A1*B1\\n')", "finished(content='typed')"]
    for provider, script, expected in (("anthropic", claude, ["25", "4", "100"]), ("ui-tars", tars, ["11", "12", "132"])):
        _cleared(vdisplay, ocr)
        with FakeModelServer() as server:
            answers = iter(script)
            if provider == "anthropic":
                server.policy = lambda request: anthropic_message(text_block("Next."), *(
                    [a] if (a := next(answers, None)) is not None else []))
                model, url, key = "anthropic:claude-sonnet-4-5", server.url, "ANTHROPIC_API_KEY"
            else:
                server.policy = lambda request: uitars(next(answers, script[-1]))
                model, url, key = "ui-tars:ui-tars-1.5-7b", server.openai_url, "OPENAI_API_KEY"
            run = run_cli("do", "multiply two numbers in row 1", "--model", model, "--base-url", url,
                          "--record-dir", str(tmp_path / provider), "--json", env={**vdisplay.env, key: "test-key"},
                          timeout=300)
        assert run.returncode == 0, provider + run.stdout[-2000:] + run.stderr[-2000:]
        wait_until(lambda: _row_1(vdisplay, ocr) == expected, timeout=10, what=f"{expected} in row 1")
