"""The site never starves: past a limit derived from the MPM's own settings
(three quarters of what they allow WebSockets to take), a new upgrade gets
503 with Retry-After, the reason is logged at warn (at most once a
minute), and the site's pages keep answering -- under prefork (how mod_php
sites run), worker, stock mpm_event (AsyncRequestWorkerFactor 2) and
mpm_event with a thread per connection.  WebSocketMaxConnections sets the
limit by hand."""
import time

import pytest

import wsutil
from wsutil import OP_CLOSE, OP_TEXT, RawWebSocket, close_payload

from conftest import (LOAD_HANDLERS, start_variant, stop_server,
                      wait_workers_idle)

SITE = LOAD_HANDLERS + r"""
<Location "/echo">
    WebSocketHandler echo
</Location>
"""

# variant -> (threads, servers, the limit the settings give):
#   thread per connection: MaxRequestWorkers 8, less a quarter = 6;
#   stock mpm_event: 2 children x 4 threads x (1 + factor 2) = 24, less a
#   quarter = 18.
CASES = {
    "prefork": (1, 8, 6),
    "worker": (4, 2, 6),
    "event-thread": (4, 2, 6),
    "event": (4, 2, 18),
}

# All threads of a small server busy: the MPMs say so at error level.
BUSY = (r"AH00484", r"AH10159", r"AH00287", r"AH00161")


def status_of_upgrade(port):
    """Upgrade, and on success keep the socket open (returned)."""
    ws = RawWebSocket(port, "/echo", refusal_ok=True, timeout=20)
    return ws.response, ws


def page_answers(port):
    t0 = time.monotonic()
    r = wsutil.http_get(port, "/", timeout=10)
    return r.status == 200, time.monotonic() - t0


@pytest.mark.parametrize("variant", list(CASES))
def test_upgrades_past_the_derived_limit_get_503_and_pages_answer(
        httpd_factory, variant):
    threads, servers, limit = CASES[variant]
    srv = start_variant(httpd_factory, "capacity-" + variant, SITE, variant,
                        threads=threads, servers=servers, async_factor=None,
                        expected=BUSY)
    held = []
    try:
        assert srv.wait_log(r"WS00071: this configuration holds {} "
                            r"WebSockets".format(limit))
        for _ in range(limit):
            resp, ws = status_of_upgrade(srv.port)
            assert resp.status == 101, (len(held), resp)
            held.append(ws)
        resp, _ = status_of_upgrade(srv.port)
        assert resp.status == 503, resp
        assert resp.header("Retry-After") == "10"
        assert srv.wait_log(r"\[websocket:warn\].*WS00072: WebSocket "
                            r"capacity reached")
        # The pages still have the capacity kept for them.
        for _ in range(3):
            ok, took = page_answers(srv.port)
            assert ok and took < 2, took
        # Refused again, but warned only once a minute.
        assert status_of_upgrade(srv.port)[0].status == 503
        time.sleep(0.2)
        assert srv.read_log().count("WS00072") == 1
        # One closes: a new one fits.
        ws = held.pop()
        ws.send_frame(OP_CLOSE, close_payload(1000))
        ws.expect_close()
        ws.close()
        deadline = time.time() + 10
        while True:
            resp, ws = status_of_upgrade(srv.port)
            if resp.status == 101:
                held.append(ws)
                break
            assert time.time() < deadline, "no room after a close"
            time.sleep(0.1)
        held[-1].send_frame(OP_TEXT, "fits")
        assert held[-1].recv_message() == (OP_TEXT, b"fits")
    finally:
        for ws in held:
            ws.close()
        wait_workers_idle(srv)
        stop_server(srv)


def test_max_connections_set_by_hand_counts_every_child(httpd_factory):
    srv = httpd_factory("capacity-set", "WebSocketMaxConnections 5\n" + SITE,
                        servers=3)
    held = []
    try:
        assert srv.wait_log(r"WS00071: this configuration holds 5 "
                            r"WebSockets: WebSocketMaxConnections 5")
        for _ in range(5):
            resp, ws = status_of_upgrade(srv.port)
            assert resp.status == 101
            held.append(ws)
        assert status_of_upgrade(srv.port)[0].status == 503
    finally:
        for ws in held:
            ws.close()
        wait_workers_idle(srv)
        stop_server(srv)


def test_max_connections_0_means_no_limit(httpd_factory):
    srv = httpd_factory("capacity-none", "WebSocketMaxConnections 0\n" + SITE,
                        mpm="worker", threads=4, servers=2, expected=BUSY)
    held = []
    try:
        assert srv.wait_log(r"WS00071: this configuration holds any number "
                            r"of WebSockets")
        # Beyond the 6 the settings would allow.
        for _ in range(7):
            resp, ws = status_of_upgrade(srv.port)
            assert resp.status == 101
            held.append(ws)
    finally:
        for ws in held:
            ws.close()
        wait_workers_idle(srv)
        stop_server(srv)
