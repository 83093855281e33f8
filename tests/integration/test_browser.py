"""The demo pages in a real browser: Debian's Chromium driven by
playwright-core (npm), against the demo's configuration (`make start`'s)
on a free port.  Echo text and binary, and close codes a page may not
send; two pages chatting (also from two child processes), names in bytes,
repeated names, a message too big; the chat page reconnecting by itself
after the server is stopped and started again and showing what was said
meanwhile; long words on a phone; the React and Vue examples talking to
each other (and surviving messages of other shapes), the React hook given
a new url; a page of another site refused with the reason in the error log
at httpd's default level; screenshots of the landing and chat pages are
kept in build/test/artifacts."""
import json
import os
import re
import shutil
import subprocess
import time

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


def run_browser(spec):
    """Run a scenario that needs nothing from the test meanwhile; its
    result object."""
    return wsutil.node_result(browser(spec), timeout=90, exit_timeout=30)


@pytest.fixture
def demo(httpd_factory):
    srv = httpd_factory("browser-demo", "", demo=True)
    yield srv
    stop_server(srv)


def test_pages_echo_and_chat_in_chromium(demo):
    os.makedirs(SHOTS, exist_ok=True)
    result = run_browser({"scenario": "pages", "room": "browsers",
                          "shots": SHOTS,
                          "base": "http://127.0.0.1:{}".format(demo.port)})
    # No 404, favicon included (/favicon.ico, for httpd's status page).
    assert result["failed"] == []
    assert "mod_websocket" in result["title"]
    assert "permessage-deflate" in result["echoExt"]
    assert "ann: hi bob" in result["chatB"]
    assert "bob: hi ann" in result["chatA"]
    for shot in ("landing.png", "chat.png"):
        assert os.path.getsize(os.path.join(SHOTS, shot)) > 10000


def test_echo_console_refuses_bad_close_codes_in_the_page(demo):
    """Close codes a page may not send (1005, 5000, 1001) and a reason
    over 123 bytes, typed into the echo console: the page says why and
    stays open (they were uncaught exceptions in the console, with nothing
    on the page); a long text is shown cut, with its length; an empty code
    closes without one (the server answers 1005)."""
    result = run_browser({"scenario": "echoclose",
                          "base": "http://127.0.0.1:{}".format(demo.port)})
    assert result["errors"] == []
    assert result["stateAfterRefused"] == "OPEN"
    refused = [l for l in result["lines"] if l.startswith("not closed")]
    assert len(refused) == 4, result["lines"]
    for code, line in zip(("1005", "5000", "1001"), refused):
        assert "1000 or 3000 to 4999, not " + code in line
    assert "124 bytes of UTF-8, at most 123" in refused[3]
    assert "< still open" in result["lines"]
    assert result["longest"] < 1200
    assert any(l.startswith("close code=1005 ") for l in result["lines"]), \
        result["lines"]


def test_chat_page_names_in_bytes_repeated_names_and_a_message_too_big(demo):
    """Three chat pages, two named "guest".  A name of 20 characters but
    40 bytes is refused by the page itself, which stays in its room (it
    used to leave the room, then get the server's refusal and keep an
    enabled input in a room it was not in); when one guest leaves, the
    other is still listed (the list was a set of names); a message over
    the location's WebSocketMaxMessageSize (64K) closes the connection
    with 1009, and the page says so before reconnecting (it showed
    nothing: the message was just gone)."""
    result = run_browser({"scenario": "chatedge", "room": "edges",
                          "base": "http://127.0.0.1:{}".format(demo.port)})
    assert result["errors"] == []
    assert sorted(result["peopleBefore"]) == ["carol", "guest", "guest"]
    assert sorted(result["peopleAfter"]) == ["carol", "guest"]
    log = result["logA"]
    assert "⚠ name: at most 32 bytes of UTF-8 (this one is 40)" in log
    assert "guest: still here" in log
    assert re.search(r"⚠ disconnected \(1009 .*\), reconnecting…", log), log
    assert result["whereA"] == "edges"


def test_long_words_do_not_make_pages_wider_than_the_screen(demo):
    """A ticker message that is one long word (a URL) on a phone, and a
    chat name and room without spaces on a phone and a desktop: no page
    scrolls sideways (the ticker's row and the chat's people list grew
    past the screen)."""
    result = run_browser({"scenario": "overflow",
                          "base": "http://127.0.0.1:{}".format(demo.port)})
    for page in ("ticker390", "chat390", "chat1200"):
        assert result[page]["scroll"] <= result[page]["client"], result


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


def test_react_and_vue_examples_talk_to_each_other(demo):
    """The React example (useWebSocket in StrictMode) and the Vue example
    (the composable) on /broadcast?channel=frameworks: each shows what the
    other sent; StrictMode's double mount opens one socket, not two; no
    warning or error in either page's console, also after messages of
    other shapes were published to the channel."""
    result = run_browser({"scenario": "frameworks",
                          "base": "http://127.0.0.1:{}".format(demo.port)})
    for log in (result["reactLog"], result["vueLog"]):
        assert "React: hello from React" in log
        assert "Vue: hello from Vue" in log
        # What others published that is not {from, text} strings: shown
        # with its text if that is a string, else not at all.  (An object
        # made React unmount the app: a blank page.)
        assert "?: object from" in log
        assert "?: no from" in log
        assert "evil" not in log and '"a"' not in log
    assert result["reactSockets"] == 1
    assert result["vueSockets"] == 1
    assert result["console"] == {"react": [], "vue": []}


def test_react_hook_with_a_new_url_does_not_show_the_old_socket_closing(
        demo):
    """useWebSocket given a new url: the old client's close event, which
    comes after the new client has started, does not set readyState to 3
    (closed) for the new url -- it did, so a page showed "closed" while
    its new socket connected, or even once it was open."""
    result = run_browser({"scenario": "hookurl",
                          "base": "http://127.0.0.1:{}".format(demo.port)})
    assert result["errors"] == []
    second = [r for r in result["rendered"] if r.startswith("/echo?second")]
    assert second[-1] == "/echo?second 1", result
    assert "/echo?second 3" not in second, result


def test_a_page_of_another_site_is_refused_and_the_log_says_why(
        httpd_factory):
    """A page of http://evil.example opens a socket to the demo's /echo
    (cross-site WebSocket hijacking, RFC 6455 10.2): 403, so the page sees
    1006 and Chromium reports the 403; the error log says which origin was
    refused for which URL and why, at warn -- httpd's default LogLevel, the
    one this server runs with."""
    srv = httpd_factory("browser-xorigin", "", demo=True, log_level="warn")
    with open(srv.conf) as f:
        assert "LogLevel warn websocket:warn\n" in f.read()
    result = run_browser({"scenario": "xorigin",
                          "ws": "ws://127.0.0.1:{}/echo".format(srv.port)})
    assert result["opened"] is False
    assert result["code"] == 1006
    assert any("403" in line for line in result["console"]), result
    line = srv.wait_log(r"origin 'http://evil\.example'")
    assert line and "[websocket:warn]" in line, line
    assert "WebSocket upgrade for /echo" in line
    assert "refused with 403: not this site (http://127.0.0.1:{})".format(
        srv.port) in line
    assert "WebSocketAllowedOrigins" in line


def test_two_chat_pages_in_two_children_talk(httpd_factory):
    """Under prefork a child process serves one connection at a time, so
    two chat pages' sockets are forced into two different children; they
    still talk.  The access log's %P (the child that served the request,
    written when the session ends under prefork) proves where each was."""
    srv = httpd_factory("browser-children", """
LogFormat "%P %r %>s" childpid
CustomLog "@ROOT@/logs/child_log" childpid env=WS_SESSION
""", mpm="prefork", demo=True)
    result = run_browser({"scenario": "chat", "room": "children",
                          "base": "http://127.0.0.1:{}".format(srv.port)})
    assert "ann: hi bob" in result["chatB"]
    assert "bob: hi ann" in result["chatA"]
    # The browser is gone: both sessions have ended and been logged.
    path = os.path.join(srv.dir, "logs", "child_log")
    pids = []
    for _ in range(100):
        with open(path) as f:
            pids = [int(m.group(1)) for m in re.finditer(
                r"^(\d+) GET /chat HTTP/1\.1 101$", f.read(), re.M)]
        if len(pids) >= 2:
            break
        time.sleep(0.1)
    assert len(pids) == 2, pids
    assert pids[0] != pids[1]
    assert srv.proc.pid not in pids
