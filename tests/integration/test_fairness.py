"""One client cannot freeze an event loop: while a client streams 16 MB
messages as fast as it can, to a handler that answers none or to echo
while it reads the answers as fast as it can, another client's echo on the
same (only) loop keeps answering within 100 ms."""
import threading
import time

import pytest

import wsutil
from wsutil import OP_BINARY, OP_TEXT, RawWebSocket, frame

from conftest import LOAD_HANDLERS, stop_server

SITE = "WebSocketEventLoops 1\n" + LOAD_HANDLERS + r"""
<Location "/echo">
    WebSocketHandler echo
    WebSocketMaxMessageSize 32M
    WebSocketMaxQueuedOutput 64M
</Location>
<Location "/test">
    WebSocketHandler test
    WebSocketMaxMessageSize 32M
</Location>
"""

BIG = 16 * 1024 * 1024
STREAM_SECONDS = 4.0
MAX_RTT = 0.100


@pytest.fixture(scope="module")
def one_loop_server(httpd_factory):
    # One child, one loop: every connection shares it.
    srv = httpd_factory("fairness", SITE, threads=25, servers=1)
    yield srv
    stop_server(srv)


def stream(port, path, stop, sent, read_answers):
    """Send 16 MB binary messages back to back until stop is set; with
    read_answers, read (and drop) whatever comes back meanwhile."""
    big = frame(OP_BINARY, bytes(BIG), key=b"\x01\x02\x03\x04")
    with RawWebSocket(port, path) as ws:
        ws.sock.settimeout(30)
        if read_answers:
            def drain():
                try:
                    while ws.sock.recv(1 << 20):
                        pass
                except OSError:
                    pass
            threading.Thread(target=drain, daemon=True).start()
        while not stop.is_set():
            ws.sock.sendall(big)
            sent[0] += 1


def max_echo_rtt(port, seconds):
    rtts = []
    with RawWebSocket(port, "/echo") as ws:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.monotonic()
            ws.send_frame(OP_TEXT, "ping")
            assert ws.recv_message() == (OP_TEXT, b"ping")
            rtts.append(time.monotonic() - t0)
            time.sleep(0.02)
    return max(rtts), len(rtts)


@pytest.mark.parametrize("path,read_answers", [
    ("/test?sink=1", False),
    ("/echo", True),
], ids=["handler-answers-nothing", "echo-read-fast"])
def test_a_streaming_client_does_not_freeze_its_loop(one_loop_server, path,
                                                      read_answers):
    stop, sent = threading.Event(), [0]
    t = threading.Thread(target=stream, args=(one_loop_server.port, path,
                                              stop, sent, read_answers),
                         daemon=True)
    t.start()
    try:
        time.sleep(0.5)             # the stream is under way
        worst, n = max_echo_rtt(one_loop_server.port, STREAM_SECONDS)
    finally:
        stop.set()
        t.join(60)
    assert sent[0] >= 2, "the streaming client sent only {} messages" \
        .format(sent[0])
    assert worst < MAX_RTT, "echo took {:.0f} ms at worst ({} round trips " \
        "while {} x 16 MB streamed)".format(worst * 1000, n, sent[0])
    assert wsutil.raw_echo_ok(one_loop_server.port)
