"""The demo pages in a real browser: Debian's Chromium driven by
playwright-core (npm), against the demo's configuration (`make start`'s)
on a free port.  Echo text and binary, two pages chatting, the chat page
reconnecting by itself after the server is stopped and started again and
showing what was said meanwhile; screenshots of the landing and chat pages
are kept in build/test/artifacts."""
import json
import os
import shutil
import subprocess

import pytest
import websockets

import wsutil

from conftest import TESTROOT, stop_server

NODE_DIR = os.path.join(os.path.dirname(__file__), "..", "node")
SCRIPT = os.path.join(NODE_DIR, "browser-test.mjs")
SHOTS = os.path.join(TESTROOT, "artifacts")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def browser(spec):
    if not os.path.exists(CHROMIUM) or not os.path.isdir(
            os.path.join(NODE_DIR, "node_modules", "playwright-core")):
        pytest.fail("Chromium (Debian's chromium) and playwright-core "
                    "(tests/node) are needed: ./build.sh installs them")
    spec = dict(spec, chromium=CHROMIUM)
    return subprocess.Popen(["node", SCRIPT, json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=NODE_DIR)


def read_json(proc, timeout=90):
    return wsutil.read_json_line(proc, timeout)


@pytest.fixture
def demo(httpd_factory):
    srv = httpd_factory("browser-demo", "", demo=True)
    yield srv
    stop_server(srv)


def test_pages_echo_and_chat_in_chromium(demo):
    os.makedirs(SHOTS, exist_ok=True)
    proc = browser({"scenario": "pages", "room": "browsers", "shots": SHOTS,
                    "base": "http://127.0.0.1:{}".format(demo.port)})
    try:
        result = read_json(proc)
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert result["failed"] == []               # no 404, favicon included
    assert "mod_websocket" in result["title"]
    assert "permessage-deflate" in result["echoExt"]
    assert "ann: hi bob" in result["chatB"]
    assert "bob: hi ann" in result["chatA"]
    for shot in ("landing.png", "chat.png"):
        assert os.path.getsize(os.path.join(SHOTS, shot)) > 10000


def test_a_page_reconnects_after_a_restart_and_shows_what_was_said(demo):
    """The chat page loses its server (stopped and started again, as `make
    stop; make start`); a message said in its room meanwhile reaches it
    once it is back by itself (it rejoins and resumes)."""
    proc = browser({"scenario": "reconnect", "expect": "after restart",
                    "room": "restart",
                    "base": "http://127.0.0.1:{}".format(demo.port)})
    try:
        assert read_json(proc) == {"ready": True}
        demo.restart_same_port()

        async def say():
            async with websockets.connect(
                    wsutil.ws_uri(demo.port, "/chat"),
                    compression=None) as ws:
                await ws.send(json.dumps({"type": "join", "room": "restart",
                                          "name": "server"}))
                while json.loads(await ws.recv())["type"] != "history":
                    pass
                await ws.send(json.dumps({"type": "message",
                                          "room": "restart",
                                          "text": "after restart"}))
                while json.loads(await ws.recv())["type"] != "message":
                    pass

        wsutil.run(say(), 30)
        result = read_json(proc)
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "server: after restart" in result["log"]
    assert result["log"].count("after restart") == 1
    assert result["state"] == "connected"
