"""Every way a WebSocket ends, on every MPM variant, seen by a handler that
records its callbacks (tests/handlers/testhandler.c, WS_TEST_RECORD): the
handler gets exactly one on_close per accepted connection, with the right
code, and on_close always comes before the child's fini -- on a peer's
close, a violation, a vanished peer, the idle and ping timeouts, a queue
overflow, the handler's own close or failure, a graceful restart, a
graceful stop and an immediate stop."""
import os
import signal
import socket
import struct
import time

import pytest

from wsutil import OP_CLOSE, OP_TEXT, RawWebSocket, close_payload, frame

from conftest import (LOAD_HANDLERS, TESTROOT, VARIANTS, start_variant,
                      stop_server)

SITE = LOAD_HANDLERS + r"""
<Location "/rec">
    WebSocketHandler test
    WebSocketGracefulTimeout 300ms
</Location>
<Location "/rec-idle">
    WebSocketHandler test
    WebSocketIdleTimeout 500ms
</Location>
<Location "/rec-ping">
    WebSocketHandler test
    WebSocketPingInterval 300ms
    WebSocketPingTimeout 500ms
</Location>
<Location "/rec-queue">
    WebSocketHandler test
    WebSocketMaxQueuedOutput 64K
</Location>
"""


class Record:
    """The lines the test handler wrote."""

    def __init__(self, path):
        self.path = path

    def lines(self):
        try:
            with open(self.path) as f:
                return [line.rstrip("\n") for line in f]
        except FileNotFoundError:
            return []

    def opens(self):
        return [line.split(" ", 3) for line in self.lines()
                if line.startswith("open ")]

    def closes(self):
        """(pid, id) -> list of (code, reason)."""
        out = {}
        for line in self.lines():
            if line.startswith("close "):
                _, pid, cid, code, reason = (line.split(" ", 4) + [""])[:5]
                out.setdefault((pid, cid), []).append((int(code), reason))
        return out

    def wait_close_of(self, pid, cid, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.closes().get((pid, cid))
            if got:
                return got
            time.sleep(0.02)
        raise AssertionError("no on_close for {} {} in {}s; record:\n{}"
                             .format(pid, cid, timeout,
                                     "\n".join(self.lines())))

    def check_one_close_each_before_fini(self):
        """Every open has exactly one close, and each child's fini comes
        after the closes of its connections."""
        lines = self.lines()
        closes = self.closes()
        for _, pid, cid, path in self.opens():
            assert len(closes.get((pid, cid), [])) == 1, \
                "open {} {} {}: closes {}\n{}".format(
                    pid, cid, path, closes.get((pid, cid)), "\n".join(lines))
        for i, line in enumerate(lines):
            if line.startswith("fini "):
                pid = line.split()[1]
                later = [x for x in lines[i + 1:]
                         if x.startswith("close {} ".format(pid))]
                assert not later, "on_close after fini in {}:\n{}".format(
                    pid, "\n".join(lines))


def start_recorded(httpd_factory, name, variant, **kw):
    path = os.path.join(TESTROOT, name + ".record")
    os.makedirs(TESTROOT, exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    srv = start_variant(httpd_factory, name, SITE, variant,
                        env={"WS_TEST_RECORD": path}, servers=4, **kw)
    # Children run unprivileged: let them append.
    open(path, "a").close()
    os.chmod(path, 0o666)
    return srv, Record(path)


@pytest.fixture(scope="module", params=VARIANTS)
def rec_server(request, httpd_factory):
    srv, rec = start_recorded(httpd_factory, "endings-" + request.param,
                              request.param)
    srv.record = rec
    yield srv
    stop_server(srv)
    rec.check_one_close_each_before_fini()


@pytest.fixture
def server(rec_server):
    rec_server.assert_healthy()
    return rec_server


def opened(server, path, **kw):
    """A raw WebSocket and its (pid, id) as the handler recorded it."""
    before = len(server.record.opens())
    ws = RawWebSocket(server.port, path, **kw)
    deadline = time.time() + 5
    while len(server.record.opens()) <= before:
        assert time.time() < deadline, "on_open not recorded"
        time.sleep(0.01)
    mine = [o for o in server.record.opens()[before:] if o[3] == path]
    assert len(mine) == 1, mine
    return ws, (mine[0][1], mine[0][2])


def test_peer_close_gives_its_code_and_reason(server):
    ws, key = opened(server, "/rec")
    with ws:
        ws.send_frame(OP_CLOSE, close_payload(4321, "see you"))
        assert ws.expect_close()[0] == 4321
    assert server.record.wait_close_of(*key) == [(4321, "see you")]


def test_protocol_violation_gives_1002(server):
    ws, key = opened(server, "/rec")
    with ws:
        ws.send(frame(OP_TEXT, "unmasked", mask=False))
        assert ws.expect_close()[0] == 1002
    assert server.record.wait_close_of(*key)[0][0] == 1002


def test_vanished_peer_gives_1006(server):
    ws, key = opened(server, "/rec")
    # A reset, no close frame.
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack("ii", 1, 0))
    ws.close()
    assert server.record.wait_close_of(*key)[0][0] == 1006


def test_idle_timeout_gives_1001(server):
    ws, key = opened(server, "/rec-idle")
    with ws:
        code, reason = ws.expect_close()
        assert (code, reason) == (1001, b"idle timeout")
        ws.send_frame(OP_CLOSE, close_payload(1001))
    assert server.record.wait_close_of(*key) == [(1001, "idle timeout")]


def test_unanswered_ping_gives_1006_ping_timeout(server):
    ws, key = opened(server, "/rec-ping")
    with ws:
        # Never answer the pings.
        assert server.record.wait_close_of(*key) == [(1006, "ping timeout")]


def test_queue_overflow_gives_1008(server):
    ws, key = opened(server, "/rec-queue")
    with ws:
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # 8 MB to a reader that reads nothing: over 64K queued -> 1008.
        ws.send_frame(OP_TEXT, "flood 128 65536")
        got = server.record.wait_close_of(*key, timeout=20)
    assert got[0][0] == 1008, got


def test_handler_close_gives_its_code(server):
    ws, key = opened(server, "/rec")
    with ws:
        ws.send_frame(OP_TEXT, "close 4001 bye")
        assert ws.expect_close() == (4001, b"bye")
        ws.send_frame(OP_CLOSE, close_payload(4001))
    assert server.record.wait_close_of(*key) == [(4001, "bye")]


def test_handler_failure_gives_1011(server):
    ws, key = opened(server, "/rec")
    with ws:
        ws.send_frame(OP_TEXT, "fail")
        assert ws.expect_close()[0] == 1011
        ws.send_frame(OP_CLOSE, close_payload(1011))
    assert server.record.wait_close_of(*key)[0][0] == 1011


# --- the server's own endings: one server per test ----------------------------

def stopping_server(httpd_factory, variant, what):
    return start_recorded(httpd_factory, "ending-{}-{}".format(what, variant),
                          variant)


def open_some(srv, rec, n=3):
    socks, keys = [], []
    for _ in range(n):
        before = len(rec.opens())
        ws = RawWebSocket(srv.port, "/rec")
        ws.send_frame(OP_TEXT, "hello")
        assert ws.recv_message() == (OP_TEXT, b"hello")
        socks.append(ws)
        keys.append(rec.opens()[before][1:3])
    return socks, keys


@pytest.mark.parametrize("variant", VARIANTS)
def test_graceful_restart_gives_1001_and_on_close_before_fini(
        httpd_factory, variant):
    srv, rec = stopping_server(httpd_factory, variant, "graceful")
    try:
        socks, keys = open_some(srv, rec)
        os.kill(srv.proc.pid, signal.SIGUSR1)
        for ws in socks:
            ws.sock.settimeout(15)
            assert ws.expect_close() == (1001, b"server restarting")
            ws.send_frame(OP_CLOSE, close_payload(1001))
            ws.close()
        for key in keys:
            assert rec.wait_close_of(*key) == [(1001, "server restarting")]
        # The old children exit and run fini after their on_close.
        pids = {k[0] for k in keys}
        deadline = time.time() + 15
        while time.time() < deadline and not pids <= {
                line.split()[1] for line in rec.lines()
                if line.startswith("fini ")}:
            time.sleep(0.1)
        assert pids <= {line.split()[1] for line in rec.lines()
                        if line.startswith("fini ")}, rec.lines()
        rec.check_one_close_each_before_fini()
    finally:
        stop_server(srv)
    rec.check_one_close_each_before_fini()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("how", ["graceful-stop", "stop"])
def test_server_stop_gives_1001_and_on_close_before_fini(
        httpd_factory, variant, how):
    srv, rec = stopping_server(httpd_factory, variant, how)
    try:
        socks, keys = open_some(srv, rec)
        t0 = time.monotonic()
        os.kill(srv.proc.pid, signal.SIGWINCH if how == "graceful-stop"
                else signal.SIGTERM)
        for ws in socks:
            ws.sock.settimeout(15)
            try:
                code, reason = ws.expect_close()
            except AssertionError:
                # An immediate stop under a thread-per-connection MPM: the
                # MPM closes its workers' sockets before modules hear of
                # the stop, so no close frame can be sent.
                assert how == "stop" and variant in (
                    "worker", "event-thread"), variant
            else:
                assert (code, reason) == (1001, b"server stopping")
            ws.close()
        srv.proc.wait(20)
        assert time.monotonic() - t0 < 15
        for key in keys:
            assert rec.wait_close_of(*key, timeout=2) == \
                [(1001, "server stopping")]
        pids = {k[0] for k in keys}
        finis = {line.split()[1] for line in rec.lines()
                 if line.startswith("fini ")}
        assert pids <= finis, rec.lines()
        rec.check_one_close_each_before_fini()
    finally:
        stop_server(srv)
