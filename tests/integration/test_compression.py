"""permessage-deflate (RFC 7692) end to end: what Python `websockets` and
Node `ws` negotiate by default, every size round-tripping compressed, the
switch and the settings, the message limit applied to the inflated size, a
broadcast to many compressed subscribers (one compression shared), and
what a broken compressed message gets."""
import asyncio
import os
import zlib

import pytest
import websockets

import wsutil
from conftest import BUILD, LOAD_HANDLERS, stop_server
from wsutil import OP_BINARY, OP_CLOSE, OP_TEXT, RawWebSocket, close_payload

SITE = LOAD_HANDLERS + """
WebSocketLoadHandler broadcast "{bc}"
<Location "/echo">
    WebSocketHandler echo
</Location>
<Location "/echo-plain">
    WebSocketHandler echo
    WebSocketCompression Off
</Location>
<Location "/echo-small">
    WebSocketHandler echo
    WebSocketMaxMessageSize 64K
</Location>
<Location "/echo-tuned">
    WebSocketHandler echo
    WebSocketCompressionLevel 9
    WebSocketCompressionWindowBits 10 9
    WebSocketCompressionMinSize 1
    WebSocketCompressionContextTakeover both
</Location>
<Location "/broadcast">
    WebSocketHandler broadcast
</Location>
""".format(bc=os.path.join(BUILD, "handlers", "broadcast.so"))

TAIL = b"\x00\x00\xff\xff"


@pytest.fixture(scope="module")
def srv(httpd_factory):
    s = httpd_factory("compression", SITE, servers=2, start_servers=2)
    yield s
    stop_server(s)


def test_python_websockets_gets_compression_and_every_size_round_trips(srv):
    async def main():
        async with websockets.connect(wsutil.ws_uri(srv.port, "/echo"),
                                      max_size=None) as ws:
            ext = ws.response_headers.get("Sec-WebSocket-Extensions")
            for n in (0, 1, 63, 64, 1000, 70000, 1 << 20):
                text = ("{\"n\": %d, \"w\": \"hello\"} " % n) * (n // 24 + 1)
                text = text[:n]
                await ws.send(text)
                assert await ws.recv() == text
                data = os.urandom(n // 2) + bytes(n - n // 2)
                await ws.send(data)
                assert await ws.recv() == data
            return ext

    ext = wsutil.run(main(), 60)
    assert ext == ("permessage-deflate; server_no_context_takeover; "
                   "client_max_window_bits=12")


def test_node_ws_gets_compression_and_messages_round_trip(srv):
    if not wsutil.node_available():
        pytest.fail("node and tests/node/node_modules/ws are needed "
                    "(./build.sh installs them)")
    out = wsutil.node_client(srv.port, "/echo", "echo", deflate=True,
                             messages=[{"type": "text", "size": 5000},
                                       {"type": "binary", "size": 100000},
                                       {"type": "text", "text": "hi"}])
    assert "permessage-deflate" in out["extensions"]
    assert [r["same"] for r in out["results"]] == [True] * 3
    assert out["code"] == 1000


def test_off_declines_and_settings_shape_the_answer(srv):
    offer = {"Sec-WebSocket-Extensions":
             "permessage-deflate; client_max_window_bits"}
    with RawWebSocket(srv.port, "/echo-plain", headers=offer) as ws:
        assert ws.response.header_all("Sec-WebSocket-Extensions") == []
    with RawWebSocket(srv.port, "/echo-tuned", headers=offer) as ws:
        assert ws.response.header_all("Sec-WebSocket-Extensions") == [
            "permessage-deflate; server_max_window_bits=10; "
            "client_max_window_bits=9"]
        # Context takeover both ways, a 1-byte minimum: two equal
        # messages, the second much shorter on the wire.
        comp = zlib.compressobj(6, zlib.DEFLATED, -9)
        decomp = zlib.decompressobj(-10)
        sizes = []
        for _ in range(2):
            msg = b"the same message, again and again " * 8
            z = comp.compress(msg) + comp.flush(zlib.Z_SYNC_FLUSH)
            ws.send_frame(OP_BINARY, z[:-4], rsv=4)
            fin, rsv, op, payload = ws.recv_frame()
            assert fin and rsv == 4 and op == OP_BINARY
            sizes.append(len(payload))
            assert decomp.decompress(payload + TAIL) == msg
        assert sizes[1] < sizes[0] / 2, sizes
    # Unknown parameters decline that offer; a later one is taken.
    bad = {"Sec-WebSocket-Extensions": "permessage-deflate; x=1, "
           "permessage-deflate; client_no_context_takeover"}
    with RawWebSocket(srv.port, "/echo", headers=bad) as ws:
        assert ws.response.header_all("Sec-WebSocket-Extensions") == [
            "permessage-deflate; server_no_context_takeover; "
            "client_no_context_takeover"]


def test_the_limit_applies_to_the_inflated_size(srv):
    offer = {"Sec-WebSocket-Extensions": "permessage-deflate"}
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = z.compress(bytes(10 << 20)) + z.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 20000        # 10 MB of zeros on a few KB
    with RawWebSocket(srv.port, "/echo-small", headers=offer) as ws:
        ws.send_frame(OP_BINARY, bomb[:-4], rsv=4)
        assert ws.expect_close() == (1009, b"message too big (inflated)")
    assert srv.wait_log(r"closing with 1009: message too big \(inflated\)")
    # Broken compressed data: 1007; and the server serves others.
    with RawWebSocket(srv.port, "/echo", headers=offer) as ws:
        ws.send_frame(OP_BINARY, b"\xff\xff\xff\x00\x13", rsv=4)
        assert ws.expect_close()[0] == 1007
    assert wsutil.raw_echo_ok(srv.port)


def test_a_broadcast_reaches_1000_compressed_subscribers(srv):
    """1,000 subscribers, every one with compression, get every message of
    a burst (the server compresses each message once for all of them)."""
    async def main():
        uri = wsutil.ws_uri(srv.port, "/broadcast?channel=z")
        subs = []
        for _ in range(1000):
            subs.append(await websockets.connect(uri, open_timeout=30,
                                                 max_size=None))
        assert all("permessage-deflate" in
                   ws.response_headers["Sec-WebSocket-Extensions"]
                   for ws in subs)
        await asyncio.sleep(0.5)
        sent = ["{\"seq\": %d, \"text\": \"%s\"}" % (i, "tick " * 40)
                for i in range(20)]
        for m in sent:
            await subs[0].send(m)

        async def take(ws):
            return [await asyncio.wait_for(ws.recv(), 30) for _ in sent]

        got = await asyncio.gather(*[take(ws) for ws in subs])
        await asyncio.gather(*[ws.close() for ws in subs],
                             return_exceptions=True)
        return sent, got

    sent, got = wsutil.run(main(), 180)
    assert all(g == sent for g in got)
