"""A local web form served by the test itself, and Debian's Chromium showing it (issue 13).

    with WebForm(delay_s=0.6) as app:              # http://127.0.0.1:PORT/, in a thread
        start_chromium(vd, app, tmp_path / "profile")
        ... app.submissions ...                    # [{"name": ..., "email": ...}], what the app received

GET / serves a form: "Name", "Email" (autofocus on Name) and a "Submit" button, in large type;
once the form has been drawn, the page fetches /drawn (the browser is ready for input).
POST /submit records the submission at once, then answers `delay_s` later with a confirmation
page, "Thank you, <name>" and "submission N". Until then Chromium still shows the form: a tool
that does not wait for the reaction, or a model shown a stale frame, submits a second time,
and the second one is recorded too. No request leaves 127.0.0.1.
"""

from __future__ import annotations

import html
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs

from agent.display import VirtualDisplay, WindowGeometry

TITLE = "uiagent webform"
CHROMIUM = "/usr/bin/chromium"
WINDOW = (40, 40, 900, 640)  # left, top, width, height of the browser window

_STYLE = """
body { font-family: 'DejaVu Sans', sans-serif; font-size: 28px; margin: 40px; background: #fff; color: #000; }
label { display: block; margin: 18px 0 6px; }
input { font-size: 28px; padding: 6px 10px; width: 460px; border: 2px solid #444; }
button { font-size: 28px; margin-top: 30px; padding: 8px 36px; }
"""

FORM = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{TITLE}</title><style>{_STYLE}</style></head>
<body><form method="post" action="/submit" autocomplete="off">
<label for="name">Name</label><input id="name" name="name" autofocus autocomplete="off">
<label for="email">Email</label><input id="email" name="email" autocomplete="off">
<br><button type="submit">Submit</button>
</form>
<script>/* two animation frames after load: the form has been drawn once; tell the server */
addEventListener("load", () => requestAnimationFrame(() => requestAnimationFrame(() => fetch("/drawn"))));
</script></body></html>
"""


def confirmation(name: str, count: int) -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{TITLE}: thanks</title>'
            f"<style>{_STYLE}</style></head><body><h1>Thank you, {html.escape(name)}</h1>"
            f"<p>submission {count}</p></body></html>")


class WebForm:
    """The form's HTTP server on 127.0.0.1 (a free port), as a context manager."""

    def __init__(self, delay_s: float = 0.6) -> None:
        self.delay_s = delay_s
        self.submissions: list[dict[str, str]] = []
        self.form_loads = 0  # GET / answered: the page reached the browser
        self._lock = threading.Lock()
        self._drawn = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="webform").start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def wait_drawn(self, timeout: float) -> None:
        """Block until the browser has drawn the form (its script fetched /drawn)."""
        if not self._drawn.wait(timeout):
            raise AssertionError(f"the browser did not draw {self.url} within {timeout:g}s")

    def _submit(self, body: bytes) -> str:
        fields = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        with self._lock:
            self.submissions.append(fields)
            count = len(self.submissions)
        time.sleep(self.delay_s)  # the app's late reaction: the browser keeps showing the form meanwhile
        return confirmation(fields.get("name", ""), count)

    def _form(self) -> str:
        with self._lock:
            self.form_loads += 1
        return FORM


def _handler_for(app: WebForm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _send(self, status: int, text: str) -> None:
            payload = text.encode()
            self.send_response(status)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(payload)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/":
                self._send(200, app._form())
            elif path == "/drawn":
                app._drawn.set()
                self._send(200, "")
            else:
                self._send(404, "not found")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path.split("?")[0] == "/submit":
                self._send(200, app._submit(body))
            else:
                self._send(404, "not found")

    return Handler


def chromium_command(url: str, profile: Path) -> list[str]:
    """Chromium as an app window on `url`: a fresh profile, no first-run, sync, keyring, GPU or
    translate prompts, a fixed window; `--no-sandbox` (root) with `--test-type`, which hides the
    "unsupported command-line flag" infobar that would otherwise push the page down a moment later."""
    left, top, width, height = WINDOW
    return [CHROMIUM, f"--user-data-dir={profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-gpu", "--password-store=basic", "--no-sandbox", "--test-type",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-features=Translate,AutofillServerCommunication,MediaRouter",
            f"--window-position={left},{top}", f"--window-size={width},{height}", f"--app={url}"]


def start_chromium(vd: VirtualDisplay, app: WebForm, profile: Path, timeout: float = 60.0) -> WindowGeometry:
    """Start Chromium on `app`'s form; return once the page says it has been drawn and the window
    (titled TITLE, the page's title) is in place. A first start with a fresh profile takes seconds."""
    assert shutil.which(CHROMIUM), "chromium is missing: run scripts/setup.sh (apt-get install chromium)"
    vd.launch(chromium_command(app.url, profile))
    app.wait_drawn(timeout)
    return vd.wait_for_window(name=TITLE, timeout=timeout)
