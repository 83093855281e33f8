"""WebSockets over HTTP/2 (RFC 8441), as browsers open them on their own
when the server offers extended CONNECT (mod_http2, `H2WebSockets on`): the
stream answers 200 and carries the WebSocket; echo, broadcast and close
codes work; an idle one costs no CPU.  Over TLS (h2) and in the clear
(h2c, prior knowledge), on every MPM mod_http2 serves (it declines
prefork)."""
import os
import time

import pytest

import wsutil
from wsutil import OP_BINARY, OP_CLOSE, OP_TEXT, RawWebSocket, close_payload
from h2util import H2WebSocket

from conftest import (BUILD, LOAD_HANDLERS, start_variant, stop_server,
                      tree_cpu_seconds)

BROADCAST_SO = os.path.join(BUILD, "handlers", "broadcast.so")

SITE = LOAD_HANDLERS + r"""
WebSocketLoadHandler broadcast "{bc}"
<Location "/echo">
    WebSocketHandler echo
</Location>
<Location "/test">
    WebSocketHandler test
</Location>
<Location "/broadcast">
    WebSocketHandler broadcast
</Location>
""".format(bc=BROADCAST_SO)

H2_VARIANTS = ["event", "event-thread", "worker"]


@pytest.fixture(scope="module", params=[(v, tls) for v in H2_VARIANTS
                                        for tls in (True, False)],
                ids=["{}-{}".format(v, "h2" if tls else "h2c")
                     for v in H2_VARIANTS for tls in (True, False)])
def h2_server(request, httpd_factory):
    variant, tls = request.param
    # One child: broadcast members meet in it (and mpm_event notes, at
    # error level, that its spare threads are all of its threads).
    srv = start_variant(httpd_factory, "h2-{}-{}".format(
        variant, "tls" if tls else "clear"), SITE, variant, tls=tls, h2=True,
        servers=1, expected=(r"AH10159", r"AH00484", r"AH00287"))
    srv.h2_tls = tls
    yield srv
    stop_server(srv)


@pytest.fixture
def server(h2_server):
    h2_server.assert_healthy()
    return h2_server


def h2ws(server, path="/echo", **kw):
    return H2WebSocket(server.port, path, tls=server.h2_tls, **kw)


@pytest.mark.parametrize("opcode,payload", [
    (OP_TEXT, "hello over h2"),
    (OP_BINARY, bytes(range(256)) * 4),
    (OP_TEXT, "x" * 200000),
], ids=["text", "binary", "200k"])
def test_extended_connect_answers_200_and_echoes(server, opcode, payload):
    with h2ws(server) as ws:
        assert ws.status == 200
        ws.send_frame(opcode, payload)
        want = payload.encode() if isinstance(payload, str) else payload
        assert ws.recv_message() == (opcode, want)


def test_many_messages_in_order_over_one_stream(server):
    with h2ws(server) as ws:
        for i in range(200):
            ws.send_frame(OP_TEXT, "m%d" % i)
        for i in range(200):
            assert ws.recv_message() == (OP_TEXT, b"m%d" % i)


def test_close_code_and_reason_round_trip_over_h2(server):
    with h2ws(server) as ws:
        ws.send_frame(OP_CLOSE, close_payload(4000, "done here"))
        assert ws.expect_close() == (4000, b"done here")
        ws.wait_stream_end()


def test_an_h2_session_has_its_access_log_line(server):
    """A WebSocket over HTTP/2 ends with its session line in the access
    log, as over HTTP/1.1: its close code, status 101."""
    marker = "h2log{}".format(int(time.time() * 1000))
    with h2ws(server, "/echo?" + marker) as ws:
        ws.send_frame(OP_TEXT, "logged")
        assert ws.recv_message() == (OP_TEXT, b"logged")
        ws.send_frame(OP_CLOSE, close_payload(4002, "bye"))
        assert ws.expect_close() == (4002, b"bye")
        ws.wait_stream_end()
    line = server.wait_access_log(
        r"/echo\?{} HTTP/2(\.0)?\" 101 .* ws=4002$".format(marker))
    assert line is not None


def test_handler_close_reaches_the_h2_client(server):
    with h2ws(server, "/test") as ws:
        ws.send_frame(OP_TEXT, "close 4001 bye")
        assert ws.expect_close() == (4001, b"bye")
        ws.send_frame(OP_CLOSE, close_payload(4001))
        ws.wait_stream_end()


def test_violation_over_h2_gets_1002(server):
    with h2ws(server) as ws:
        ws.send(wsutil.frame(OP_TEXT, "unmasked", mask=False))
        assert ws.expect_close()[0] == 1002


def test_broadcast_reaches_h2_and_http1_members(server):
    member = _tls_raw(server.port, "/broadcast") if server.h2_tls \
        else RawWebSocket(server.port, "/broadcast")
    with h2ws(server, "/broadcast") as a, member as b:
        a.send_frame(OP_TEXT, "to everyone")
        assert a.recv_message() == (OP_TEXT, b"to everyone")
        assert b.recv_message() == (OP_TEXT, b"to everyone")


def _tls_raw(port, path):
    from test_tls import TlsWebSocket

    class Member(TlsWebSocket):
        def recv_message(self):
            while True:
                op, payload = self.recv_frame()
                if op < 0x8:
                    return op, payload

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()
    return Member(port, path)


def test_idle_h2_websocket_uses_no_cpu(server):
    with h2ws(server) as ws:
        ws.send_frame(OP_TEXT, "warm")
        assert ws.recv_message() == (OP_TEXT, b"warm")
        before = tree_cpu_seconds(server)
        time.sleep(3)
        used = tree_cpu_seconds(server) - before
        ws.send_frame(OP_TEXT, "still there")
        assert ws.recv_message() == (OP_TEXT, b"still there")
    assert used < 0.3, "an idle HTTP/2 WebSocket cost {:.2f} s of CPU in " \
        "3 s".format(used)




def test_one_h2_connection_carries_4_websockets_and_its_pages_still_answer(
        server):
    # mod_http2 runs a connection's streams a few at a time (6 to begin
    # with) and a WebSocket keeps its stream running: past 4 on one
    # connection, its other requests would hang.
    with h2ws(server) as ws:
        sids = [ws.open_stream("/echo") for _ in range(3)]
        for sid in sids:
            assert ws.wait_response(sid)["status"] == 200
        fifth = ws.wait_response(ws.open_stream("/echo"))
        assert fifth["status"] == 503, fifth
        assert fifth["headers"].get("retry-after") == "10"
        t0 = time.monotonic()
        assert ws.get("/") == 200
        assert time.monotonic() - t0 < 2
        ws.send_frame(OP_TEXT, "still echoing")
        assert ws.recv_message() == (OP_TEXT, b"still echoing")
