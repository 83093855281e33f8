"""WebSocketMaxConnectionsPerAddress: one client address holds at most N
WebSocket connections at a time, counted over all child processes; more
get 503 before any upgrade, and the rest of the world is not affected."""
import contextlib
import itertools
import os
import signal
import time

import wsutil
from conftest import LOAD_HANDLERS, stop_server
from wsutil import OP_CLOSE, OP_TEXT, close_payload

# Each test connects from addresses of its own (all of 127.0.0.0/8 is
# loopback), so connections other tests leave closing do not count.
_next = itertools.count(10)


def fresh_address():
    n = next(_next)
    return "127.0.{}.{}".format(n // 250, 2 + n % 250)


def upgrade_from(port, source, path="/fewconns"):
    """A RawWebSocket from source; .response.status says if it was let in."""
    return wsutil.RawWebSocket(port, path, source=source, refusal_ok=True)


def upgrade_when_admitted(port, source, timeout=5.0):
    """Retry until source is let in again (a place was given back)."""
    deadline = time.time() + timeout
    while True:
        ws = upgrade_from(port, source)
        if ws.response.status == 101 or time.time() > deadline:
            assert ws.response.status == 101
            return ws
        time.sleep(0.05)


def close_cleanly(ws):
    ws.send_frame(OP_CLOSE, close_payload(1000))
    assert ws.expect_close()[0] == 1000
    ws.expect_eof()
    ws.close()


@contextlib.contextmanager
def at_the_limit(port, source):
    """Hold the 3 connections /fewconns allows source and check that a
    fourth is refused; they are dropped at the end."""
    held = [upgrade_from(port, source) for _ in range(3)]
    try:
        assert [ws.response.status for ws in held] == [101, 101, 101]
        assert upgrade_from(port, source).response.status == 503
        yield held
    finally:
        for ws in held:
            ws.close()


def test_connection_over_the_per_address_limit_gets_503(mpm_server):
    # Under prefork each connection has a process of its own: the count
    # is the sum over the children.
    addr = fresh_address()
    with at_the_limit(mpm_server.port, addr) as held:
        # The three still work.
        for ws in held:
            ws.send_frame(OP_TEXT, "held")
            assert ws.recv_message() == (OP_TEXT, b"held")
        assert mpm_server.wait_log(
            r"WS00067: .*refused: {} already holds 3 WebSocket connections"
            .format(addr.replace(".", r"\.")))


def test_other_addresses_are_not_limited_by_one_at_its_limit(mpm_server):
    with at_the_limit(mpm_server.port, fresh_address()):
        ws = upgrade_from(mpm_server.port, fresh_address())
        assert ws.response.status == 101
        close_cleanly(ws)


def test_a_closed_connection_frees_its_place(mpm_server):
    port, addr = mpm_server.port, fresh_address()
    with at_the_limit(port, addr) as held:
        close_cleanly(held.pop())
        # The place is given back when the server has finished the
        # connection, right after the closing handshake.
        held.append(upgrade_when_admitted(port, addr))


def test_a_vanished_client_frees_its_place(mpm_server):
    port, addr = mpm_server.port, fresh_address()
    held = [upgrade_from(port, addr) for _ in range(3)]
    for ws in held:
        ws.close()                          # TCP gone, no closing handshake
    ws = upgrade_when_admitted(port, addr)
    close_cleanly(ws)


def test_locations_without_a_limit_are_not_limited(mpm_server):
    port, addr = mpm_server.port, fresh_address()
    held = [upgrade_from(port, addr, "/echo") for _ in range(5)]
    try:
        assert [ws.response.status for ws in held] == [101] * 5
    finally:
        for ws in held:
            ws.close()


GRACE_SITE = LOAD_HANDLERS + """
<Location "/fewconns">
    WebSocketHandler echo
    WebSocketMaxConnectionsPerAddress 3
    WebSocketGracefulTimeout 3
</Location>
"""


def test_connections_of_old_children_count_after_a_graceful_restart(
        httpd_factory):
    srv = httpd_factory("addrlimit-graceful", GRACE_SITE, servers=4)
    addr = fresh_address()
    try:
        with at_the_limit(srv.port, addr) as held:
            os.kill(srv.proc.pid, signal.SIGUSR1)   # our httpd, by PID
            time.sleep(1)
            # The new generation answers, and still sees the three held
            # by the old one.
            assert upgrade_from(srv.port, addr).response.status == 503
            # The old children say goodbye (1001) after the grace period;
            # then the places are free.
            for ws in held:
                assert ws.expect_close()[0] == 1001
            upgrade_when_admitted(srv.port, addr, timeout=10).close()
    finally:
        stop_server(srv)
