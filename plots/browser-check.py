#!/usr/bin/env python3
"""Opens kvlab's HTML pages (report.html, compare.html) in headless Chromium and checks them.

    python plots/browser-check.py PAGE.html [PAGE.html ...]

For each page, through the DevTools protocol: every figure is drawn (its SVG or image has a
size above zero; an image also has a natural size), no script error or console error is
logged, and no request leaves the file (the page is self-contained: the only request is the
page itself). A screenshot of the whole page is written next to it (report.html ->
report.png). A page named report.html must have at least one figure.

Chromium is $CHROMIUM, else `chromium` on PATH (Debian's package; `make deps` installs it).
It runs with a fresh profile, no network (every host name resolves to nothing) and no
background services, and is killed when the check ends, however it ends. Every wait has a
timeout. Exits 1 with one line per problem; 2 on bad usage or a browser that cannot start.
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1280,1024",
]
START_TIMEOUT = 30.0
LOAD_TIMEOUT = 30.0

FIGURES_JS = """
Array.from(document.querySelectorAll('figure')).map((f, i) => {
  const el = f.querySelector('svg, img');
  const r = el ? el.getBoundingClientRect() : {width: 0, height: 0};
  return {
    id: f.id || String(i + 1),
    kind: el ? el.tagName.toLowerCase() : 'nothing',
    width: r.width,
    height: r.height,
    natural: el && el.tagName === 'IMG' ? el.naturalWidth * el.naturalHeight : null,
  };
})
"""


class Browser:
    """A headless Chromium with its DevTools endpoint, in a process group of its own."""

    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="kvlab-chromium-")
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.port = self._devtools_port()

    def _devtools_port(self):
        # Chromium writes DevToolsActivePort into the profile once it listens.
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace").strip()
                raise RuntimeError(f"chromium exited at start (status {self.proc.returncode}): {err[-500:]}")
            if port_file.is_file():
                first = port_file.read_text().split("\n", 1)[0].strip()
                if first.isdigit():
                    return int(first)
            time.sleep(0.05)
        raise RuntimeError(f"chromium did not open its DevTools port within {START_TIMEOUT:.0f} s")

    def new_page(self):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as resp:
            target = json.load(resp)
        return Page(target["webSocketDebuggerUrl"])

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        # Chromium's helper processes are in its group: wait (bounded) until none is left.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.05)
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """One tab, spoken to over its DevTools websocket."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=LOAD_TIMEOUT, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        deadline = time.monotonic() + LOAD_TIMEOUT
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            self.events.append(msg)
        raise RuntimeError(f"{method}: no answer within {LOAD_TIMEOUT:.0f} s")

    def wait_for(self, event):
        if any(e.get("method") == event for e in self.events):
            return
        deadline = time.monotonic() + LOAD_TIMEOUT
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == event:
                return
        raise RuntimeError(f"no {event} within {LOAD_TIMEOUT:.0f} s")

    def close(self):
        self.ws.close()


def check(browser, path):
    """The problems of one page (empty: none); writes its screenshot."""
    url = path.resolve().as_uri()
    page = browser.new_page()
    problems = []
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        page.call("Page.navigate", url=url)
        page.wait_for("Page.loadEventFired")
        figures = page.call("Runtime.evaluate", expression=FIGURES_JS, returnByValue=True)
        figures = figures.get("result", {}).get("value", [])
        # Events that arrived while the page settled.
        page.call("Runtime.evaluate", expression="1")
        for e in page.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                problems.append(f"script error: {d.get('text')} {d.get('exception', {}).get('description', '')}".strip())
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                problems.append(f"console {params.get('type')}: {args}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                problems.append(f"browser error ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
            elif method == "Network.requestWillBeSent":
                asked = params.get("request", {}).get("url", "")
                if asked != url and not asked.startswith(("data:", "about:")):
                    problems.append(f"request leaves the file: {asked}")
        if path.name == "report.html" and not figures:
            problems.append("no figure in the report")
        for f in figures:
            if f["width"] <= 0 or f["height"] <= 0:
                problems.append(f"figure {f['id']} ({f['kind']}) is not drawn: {f['width']} x {f['height']}")
            elif f["natural"] is not None and f["natural"] <= 0:
                problems.append(f"figure {f['id']}: its image did not load")
        shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        png = path.with_suffix(".png")
        png.write_bytes(base64.b64decode(shot["data"]))
        print(f"{path}: {len(figures)} figures, {len(problems)} problems, screenshot {png}")
    finally:
        page.close()
    return problems


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    pages = [Path(p) for p in argv[1:]]
    missing = [p for p in pages if not p.is_file()]
    if missing:
        print(f"error: no such page: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not binary or not os.access(binary, os.X_OK):
        print("error: no chromium (set CHROMIUM, or Debian: apt-get install chromium; make deps does)", file=sys.stderr)
        return 2
    try:
        browser = Browser(binary)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    failed = False
    try:
        for p in pages:
            try:
                problems = check(browser, p)
            except (RuntimeError, OSError, websocket.WebSocketException) as e:
                problems = [f"could not check it: {e}"]
            for problem in problems:
                print(f"{p}: {problem}", file=sys.stderr)
            failed |= bool(problems)
    finally:
        browser.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
