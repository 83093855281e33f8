"""httpd around the WebSockets: normal pages stay fast while connections
are open, the access log records upgrades, and httpd stops cleanly with
connections open."""
import asyncio
import re
import time

import pytest

import wsutil
from wsutil import OP_TEXT, RawWebSocket, run, ws_connect

from conftest import CORE_SITE, MPMS, stop_server


def test_get_root_is_prompt_while_50_websockets_are_open(server):
    async def go():
        conns = []
        try:
            for i in range(50):
                conns.append(await ws_connect(server.port, "/echo"))
            # All 50 are open and served (one message each).
            for i, ws in enumerate(conns):
                await ws.send("before {}".format(i))
            for i, ws in enumerate(conns):
                assert await asyncio.wait_for(ws.recv(), 10) == \
                    "before {}".format(i)
            loop = asyncio.get_running_loop()
            t0 = time.monotonic()
            r = await loop.run_in_executor(
                None, lambda: wsutil.http_get(server.port, "/", timeout=10))
            elapsed = time.monotonic() - t0
            assert r.status == 200
            for i, ws in enumerate(conns):
                await ws.send("after {}".format(i))
            for i, ws in enumerate(conns):
                assert await asyncio.wait_for(ws.recv(), 10) == \
                    "after {}".format(i)
            return elapsed
        finally:
            await asyncio.gather(*(ws.close() for ws in conns),
                                 return_exceptions=True)
    elapsed = run(go(), timeout=90)
    assert elapsed < 3.0, "GET / took {:.2f}s".format(elapsed)


def test_access_log_records_the_upgrade_with_status_101(server):
    marker = "accesslog{}".format(int(time.time() * 1000))
    with RawWebSocket(server.port, "/echo?" + marker) as ws:
        ws.send_frame(OP_TEXT, "x" * 10)
        assert ws.recv_message() == (OP_TEXT, b"x" * 10)
        ws.send_frame(wsutil.OP_CLOSE, wsutil.close_payload(1000))
        assert ws.expect_close()[0] == 1000
        ws.expect_eof()
    # httpd's line of the upgrade, and the session's at its end with its
    # close code (%{WS_CLOSE_CODE}e) and the bytes it sent (%b).
    line = server.wait_access_log(r"GET /echo\?{} HTTP/1\.1".format(marker))
    assert line is not None
    assert re.search(r'" 101 ', line), line
    session = server.wait_access_log(
        r"GET /echo\?{} HTTP/1\.1\" 101 \d+ \d+ ws=1000$".format(marker))
    assert session is not None


def test_access_log_records_refused_handshakes_with_their_status(server):
    marker = "refused{}".format(int(time.time() * 1000))
    r = wsutil.handshake_status(server.port, "/echo?" + marker, headers={
        "Sec-WebSocket-Version": "8"})
    assert r.status == 426
    line = server.wait_access_log(r"GET /echo\?{} ".format(marker))
    assert line is not None and '" 426 ' in line, line


@pytest.mark.parametrize("mpm", MPMS)
def test_httpd_stops_promptly_with_websockets_open(httpd_factory, mpm):
    srv = httpd_factory("stop-open-{}".format(mpm), CORE_SITE, mpm=mpm)
    socks = []
    try:
        for i in range(4):
            ws = RawWebSocket(srv.port, "/echo")
            ws.send_frame(OP_TEXT, "hi")
            assert ws.recv_message() == (OP_TEXT, b"hi")
            socks.append(ws)
        # One with a handler thread still sending.
        ws = RawWebSocket(srv.port, "/test")
        ws.send_frame(OP_TEXT, "thread 1000000")
        ws.recv_message()
        socks.append(ws)
        t0 = time.monotonic()
        stop_server(srv)
        elapsed = time.monotonic() - t0
    finally:
        for ws in socks:
            ws.close()
    assert elapsed < 10, "httpd took {:.1f}s to stop".format(elapsed)


def test_prefork_children_exit_without_crashing(httpd_factory):
    srv = httpd_factory("prefork-exit", CORE_SITE, mpm="prefork")
    assert wsutil.raw_echo_ok(srv.port)
    assert wsutil.http_get(srv.port, "/").status == 200
    time.sleep(0.3)
    stop_server(srv, strict=True)
