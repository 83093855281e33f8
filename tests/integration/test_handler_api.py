"""The handler API seen from the wire (tests/handlers/testhandler.c), and
how per-location configuration reaches a handler through nested
<Location> sections."""
import asyncio
import json
import time

import pytest

import wsutil
from wsutil import (OP_BINARY, OP_CLOSE, OP_TEXT, RawWebSocket,
                    close_payload, closed_with, frame, run,
                    violation_close_code, ws_connect)


async def info(port, path, **kw):
    async with ws_connect(port, path, **kw) as ws:
        await ws.send("info")
        return json.loads(await asyncio.wait_for(ws.recv(), 10))


# --- close / fail ----------------------------------------------------------------

def test_handler_close_4001_bye_reaches_the_client(server):
    assert run(closed_with(server.port, "/test", "close 4001 bye")) == \
        (4001, "bye")


def test_handler_close_with_multibyte_reason(server):
    assert run(closed_with(server.port, "/test",
                           "close 4002 \u00e0 bient\u00f4t")) == \
        (4002, "\u00e0 bient\u00f4t")


def test_handler_close_without_reason(server):
    assert run(closed_with(server.port, "/test", "close 1000")) == \
        (1000, "")


@pytest.mark.parametrize("command", ["close 1005 reserved",
                                     "close 999 too small",
                                     "close 5000 too big",
                                     "close 4000 " + "r" * 124])
def test_handler_close_with_invalid_arguments_is_refused_then_1011(server,
                                                                    command):
    # api->close returns WS_EINVAL; the test handler returns it, which
    # makes the server close with 1011.
    code, _ = run(closed_with(server.port, "/test", command))
    assert code == 1011


def test_handler_fail_closes_the_connection_with_1011(server):
    code, _ = run(closed_with(server.port, "/test", "fail"))
    assert code == 1011


def test_raw_client_sees_1011_close_frame_on_handler_failure(server):
    with RawWebSocket(server.port, "/test") as ws:
        ws.send_frame(OP_TEXT, "fail")
        assert ws.expect_close()[0] == 1011
        ws.send_frame(OP_CLOSE, close_payload(1011))
        ws.expect_eof()


def test_handler_echoes_binary_even_if_it_looks_like_a_command(server):
    with RawWebSocket(server.port, "/test") as ws:
        ws.send_frame(OP_BINARY, b"fail")
        assert ws.recv_message() == (OP_BINARY, b"fail")
        ws.send_frame(OP_TEXT, "not a command")
        assert ws.recv_message() == (OP_TEXT, b"not a command")


# --- threads -------------------------------------------------------------------------

def test_thread_100_delivers_t0_to_t99_in_order(server):
    async def go():
        async with ws_connect(server.port, "/test") as ws:
            await ws.send("thread 100")
            return [await asyncio.wait_for(ws.recv(), 10)
                    for _ in range(100)]
    assert run(go()) == ["t{}".format(i) for i in range(100)]


def test_thread_messages_interleave_with_echoes_each_in_order(server):
    async def go():
        async with ws_connect(server.port, "/test") as ws:
            await ws.send("thread 2000")
            for i in range(200):
                await ws.send("e{}".format(i))
            got = [await asyncio.wait_for(ws.recv(), 10)
                   for _ in range(2200)]
            return got
    got = run(go())
    assert [m for m in got if m.startswith("t")] == \
        ["t{}".format(i) for i in range(2000)]
    assert [m for m in got if m.startswith("e")] == \
        ["e{}".format(i) for i in range(200)]


def test_several_threads_on_several_connections(server):
    async def one(n):
        async with ws_connect(server.port, "/test") as ws:
            await ws.send("thread {}".format(n))
            return [await asyncio.wait_for(ws.recv(), 20) for _ in range(n)]

    async def go():
        return await asyncio.gather(*(one(300 + i) for i in range(10)))
    for i, got in enumerate(run(go())):
        assert got == ["t{}".format(k) for k in range(300 + i)]


def test_thread_outliving_its_connection_is_harmless(server):
    # The thread keeps sending after the client is gone; with its ref the
    # connection stays valid and sends return WS_ECLOSED.
    for _ in range(5):
        with RawWebSocket(server.port, "/test") as ws:
            ws.send_frame(OP_TEXT, "thread 200000")
            ws.recv_message()
            ws.send_frame(OP_CLOSE, close_payload(1000))
            assert ws.expect_close()[0] == 1000
    for _ in range(3):
        ws = RawWebSocket(server.port, "/test")
        ws.send_frame(OP_TEXT, "thread 200000")
        ws.recv_message()
        ws.close()                   # vanish without a close frame
    time.sleep(0.5)
    assert wsutil.raw_echo_ok(server.port, "/test")


# --- nested <Location> sections -----------------------------------------------------

def test_inner_location_inherits_handler_and_size_limit(server):
    # /nest sets echo and 1K; /nest/inner sets only an option.
    assert violation_close_code(
        server.port, "/nest/inner",
        frame(OP_BINARY, b"x" * 2048)) == 1009
    assert wsutil.raw_echo_ok(server.port, "/nest/inner")


def test_inner_location_inherits_refusal_of_plain_requests(server):
    r = wsutil.http_get(server.port, "/nest/inner")
    assert r.status == 426


def test_inner_location_overriding_size_to_4k_accepts_2k(server):
    with RawWebSocket(server.port, "/nest/bigger") as ws:
        ws.send_frame(OP_BINARY, b"x" * 2048)
        assert ws.recv_message() == (OP_BINARY, b"x" * 2048)
    assert violation_close_code(
        server.port, "/nest/bigger", frame(OP_BINARY, b"x" * 5000)) == 1009


def test_outer_location_keeps_its_own_limit(server):
    assert violation_close_code(
        server.port, "/nest", frame(OP_BINARY, b"x" * 2048)) == 1009


def test_inner_location_options_add_to_outer_options(server):
    i = run(info(server.port, "/tnest/keep"))
    assert i["greeting"] == "outer"
    assert i["path"] == "/tnest/keep"


def test_inner_location_option_overrides_outer_option(server):
    assert run(info(server.port, "/tnest/override"))["greeting"] == "inner"
    assert run(info(server.port, "/tnest"))["greeting"] == "outer"


def test_inner_test_location_inherits_size_limit(server):
    assert violation_close_code(
        server.port, "/tnest/override",
        frame(OP_TEXT, "x" * 2048)) == 1009


# --- ABI growth ------------------------------------------------------------------

def test_handler_built_against_the_first_abi_1_header_loads_and_works(
        httpd_factory):
    # abi_v1.so was built against tests/abi/v1/ws_plugin_api.h, whose
    # ws_handler_t lacks the members appended since (flags): it loads,
    # echoes, and its missing members count as 0 (no subprotocol agreed).
    from conftest import ABI_V1_SO, stop_server
    srv = httpd_factory("abi-v1", """
WebSocketLoadHandler old "{}"
<Location "/old">
    WebSocketHandler old
</Location>
""".format(ABI_V1_SO))
    try:
        with RawWebSocket(srv.port, "/old", headers={
                "Sec-WebSocket-Protocol": "x-any"}) as ws:
            assert ws.response.header("Sec-WebSocket-Protocol") is None
            ws.send_frame(OP_TEXT, "still works")
            assert ws.recv_message() == (OP_TEXT, b"still works")
            ws.send_frame(OP_CLOSE, close_payload(1000))
            assert ws.expect_close()[0] == 1000
    finally:
        stop_server(srv)
