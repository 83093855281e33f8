"""demo/htdocs/ws-client.js, the browser module, run under Node with the
`ws` package as its WebSocket: a chat page that loses its server
(stopped and started again, as `make stop; make start`) reconnects by
itself and gets the messages published while it was away, once each; sends
made before the socket is open are queued and sent; a dead connection is
given up by the heartbeat, and a handshake nobody answers by
connectTimeout, at once; close() with a code the browser refuses throws
and changes nothing; ChatClient joins once when asked before it is open,
and ignores rooms it is not in.  (The same module in Chromium is the
front-end issue's browser tests.)"""
import json
import os
import subprocess
import urllib.request

import pytest

import wsutil
from conftest import BUILD, LOAD_HANDLERS, stop_server

NODE_DIR = os.path.join(os.path.dirname(__file__), "..", "node")
SCRIPT = os.path.join(NODE_DIR, "ws-client-test.mjs")

SITE = LOAD_HANDLERS + """
WebSocketLoadHandler chat "{chat}"
<Location "/echo">
    WebSocketHandler echo
</Location>
<Location "/chat">
    WebSocketHandler chat
</Location>
<Location "/chat-publish">
    SetHandler websocket-publish
    WebSocketNamespace /chat
    Require local
</Location>
""".format(chat=os.path.join(BUILD, "handlers", "chat.so"))


def node_scenario(spec):
    if not wsutil.node_available():
        pytest.fail("node and tests/node/node_modules/ws are needed "
                    "(./build.sh installs them)")
    return subprocess.Popen(["node", SCRIPT, json.dumps(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=NODE_DIR)


def read_json(proc, timeout=60):
    return wsutil.read_json_line(proc, timeout)


def run_scenario(spec):
    """Run a scenario that needs nothing from the test meanwhile: its
    result object (the script must exit 0)."""
    return wsutil.node_result(node_scenario(spec))


def publish(srv, room, text):
    req = urllib.request.Request(
        "http://127.0.0.1:{}/chat-publish/{}".format(srv.port, room),
        data=text.encode(), method="POST",
        headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200


def test_a_chat_page_reconnects_after_a_restart_and_gets_what_it_missed(
        httpd_factory):
    srv = httpd_factory("ws-client", SITE)
    proc = None
    try:
        expect = ["away 1", "away 2", "away 3"]
        proc = node_scenario({"scenario": "chat", "room": "lobby",
                              "name": "page", "expect": expect,
                              "url": wsutil.ws_uri(srv.port, "/chat")})
        assert read_json(proc) == {"ready": True}
        problems = srv.restart_same_port()
        assert not [p for p in problems if "exited with" in p], problems
        for t in expect:
            publish(srv, "lobby", t)
        result = read_json(proc)
        assert proc.wait(10) == 0
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        stop_server(srv)
    assert sorted(result["texts"]) == sorted(expect)     # once each
    assert result["reconnects"] >= 1


def test_sends_before_open_are_queued_and_sent(httpd_factory):
    srv = httpd_factory("ws-client-q", SITE)
    try:
        result = run_scenario({"scenario": "queue", "count": 5,
                               "url": wsutil.ws_uri(srv.port, "/echo")})
    finally:
        stop_server(srv)
    assert result["got"] == ["q%d" % i for i in range(5)]


def test_a_dead_connection_is_given_up_and_reopened_by_the_heartbeat(
        httpd_factory):
    """The connection stops answering (a proxy drops its bytes both ways,
    as a dead peer or network would): the heartbeat gives it up once
    nothing came for `timeout` ms, at once -- not after a closing
    handshake that nobody answers (the `ws` package waits 30 s for it,
    Chromium about a minute) -- and a new connection opens."""
    srv = httpd_factory("ws-client-hb", SITE)
    try:
        result = run_scenario({"scenario": "heartbeat", "wait_ms": 8000,
                               "heartbeat": {"message": "hb", "interval": 100,
                                             "timeout": 500},
                               "url": wsutil.ws_uri(srv.port, "/echo")})
    finally:
        stop_server(srv)
    assert result["code"] == 4000, result
    assert result["reason"] == "no answer in time"
    assert result["wasClean"] is False
    assert result["willReconnect"] is True
    assert 500 <= result["closeAfterMs"] < 2000, result
    assert result["reopenAfterMs"] is not None and \
        result["reopenAfterMs"] < 3000, result


def test_a_handshake_nobody_answers_is_given_up_and_retried():
    """A server that accepts the TCP connection and never answers the
    handshake (a stalled server, a silent network): the attempt is given
    up after connectTimeout (1006, "not open in time") and retried --
    neither the browser nor `ws` has a handshake timeout of its own, and
    the client sat in CONNECTING until the server hung up."""
    result = run_scenario({"scenario": "connecttimeout",
                           "connect_timeout": 300, "wait_ms": 5000})
    closed = result["closed"]
    assert closed is not None, result
    assert (closed["code"], closed["reason"], closed["wasClean"]) == \
        (1006, "not open in time", False)
    assert 300 <= closed["afterMs"] < 1500, closed


def test_what_websocket_would_refuse_is_refused_by_the_constructor(
        httpd_factory):
    """A bad subprotocol or a URL of another scheme throws from the
    constructor, as `new WebSocket` does (the socket is made in a
    microtask, where the throw reached no one: the client waited in
    CONNECTING forever, with no event); a fragment, which browsers refuse,
    is dropped."""
    srv = httpd_factory("ws-client-args", SITE)
    try:
        url = wsutil.ws_uri(srv.port, "/echo")
        result = run_scenario({"scenario": "badargs", "url": url})
    finally:
        stop_server(srv)
    assert result == {"badProtocol": "SyntaxError", "twice": "SyntaxError",
                      "ftp": "SyntaxError", "url": url, "opened": True}


def test_close_with_a_code_the_browser_refuses_throws_and_changes_nothing(
        httpd_factory):
    """close(1001) and a reason over 123 bytes throw (as the browser's
    close() does) before the client is marked closed for good: it stays
    open and usable, and a valid close() then works."""
    srv = httpd_factory("ws-client-close", SITE)
    try:
        result = run_scenario({"scenario": "badclose",
                               "url": wsutil.ws_uri(srv.port, "/echo")})
    finally:
        stop_server(srv)
    assert result == {"code1001": "InvalidAccessError",
                      "longReason": "SyntaxError", "readyState": 1,
                      "echoed": "still here", "closeCode": 4001,
                      "willReconnect": False, "readyStateAfter": 3}


def test_a_join_made_before_the_socket_is_open_is_sent_once(httpd_factory):
    """ChatClient.join() right after the constructor: joined once, and no
    "already joined" error (the join used to be queued and also sent by
    the rejoin-on-open)."""
    srv = httpd_factory("ws-client-early", SITE)
    try:
        result = run_scenario({"scenario": "joinearly", "room": "early",
                               "url": wsutil.ws_uri(srv.port, "/chat")})
    finally:
        stop_server(srv)
    assert [e["type"] for e in result["events"]] == ["joined"], result


def test_chat_client_ignores_what_comes_for_rooms_it_is_not_in():
    """handlers/chat.md: a message of a room already on its way when the
    leave is done may arrive after "left" -- ignore it.  A server of the
    scenario's own sends one, and a presence, of another room."""
    result = run_scenario({"scenario": "stray"})
    assert result["events"] == [
        {"type": "message", "room": "here", "text": "mine"}]
