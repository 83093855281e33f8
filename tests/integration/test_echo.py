"""The core of the protocol on every MPM (event, worker, prefork): echo of
every kind of message, fragmentation, ping/pong, the closing handshake, and
the handler API's close/fail/threads."""
import asyncio
import os
import re
import time

import pytest
import websockets
import websockets.exceptions

import wsutil
from wsutil import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                    RawWebSocket, close_payload, run, ws_connect)

MiB = 1024 * 1024


def big_text(nbytes):
    """A str of exactly nbytes UTF-8 bytes with 1-, 2- and 3-byte chars."""
    unit = "abc\u00e9\u20ac"            # 3 + 2 + 3 = 8 bytes
    s = unit * (nbytes // 8) + "z" * (nbytes % 8)
    assert len(s.encode("utf-8")) == nbytes
    return s


async def echo_all(port, path, messages, **kw):
    kw.setdefault("max_size", None)
    async with ws_connect(port, path, **kw) as ws:
        out = []
        for m in messages:
            await ws.send(m)
            out.append(await asyncio.wait_for(ws.recv(), 60))
        return out


@pytest.mark.parametrize("message", [
    "hello",
    "\u00e9t\u00e9 \u20ac \U0001f600 \u65e5\u672c",
    "",
    b"\x00\x01\x02\xff\xfe",
    b"",
    "x" * 125, "x" * 126, "x" * 65535, "x" * 65536,
    os.urandom(70000),
], ids=["text", "utf8-text", "empty-text", "binary", "empty-binary",
        "text-125", "text-126", "text-65535", "text-65536", "binary-70000"])
def test_echo_returns_message_with_same_type(mpm_server, message):
    got = run(echo_all(mpm_server.port, "/echo", [message]))
    assert got == [message]
    assert type(got[0]) is type(message)


def test_echo_16_mib_binary(mpm_server):
    data = os.urandom(16 * MiB)
    got = run(echo_all(mpm_server.port, "/big", [data]), timeout=120)
    assert got[0] == data


def test_echo_16_mib_text(mpm_server):
    text = big_text(16 * MiB)
    got = run(echo_all(mpm_server.port, "/big", [text]), timeout=120)
    assert got[0] == text


def test_echo_1000_pipelined_messages_come_back_in_order(mpm_server):
    async def go():
        async with ws_connect(mpm_server.port, "/echo") as ws:
            sent = []
            for i in range(1000):
                m = "m{}".format(i) if i % 2 else "m{}".format(i).encode()
                sent.append(m)
                await ws.send(m)
            got = [await asyncio.wait_for(ws.recv(), 30) for _ in sent]
            return sent, got
    sent, got = run(go())
    assert got == sent


def test_raw_pipelined_frames_in_one_write_all_echo(mpm_server):
    frames = b"".join(wsutil.frame(OP_TEXT, "p{}".format(i))
                      for i in range(200))
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        ws.send(frames)
        for i in range(200):
            assert ws.recv_message() == (OP_TEXT, "p{}".format(i).encode())


def test_frames_sent_with_the_upgrade_then_later_all_echo(mpm_server):
    """Frames in the upgrade's own write (httpd's input filters hold them
    at the 101), then more, small and over the 64 KB a read takes (a plain
    connection is then read from the socket itself): every message comes
    back, in order."""
    big = "b" * (100 * 1024)
    early = [("e{}".format(i)) for i in range(5)] + [big, "after big"]
    later = ["l0", "x" * (300 * 1024), "l2"]
    with RawWebSocket(mpm_server.port, "/echo", early=b"".join(
            wsutil.frame(OP_TEXT, m) for m in early)) as ws:
        for m in early:
            assert ws.recv_message() == (OP_TEXT, m.encode())
        for m in later:
            ws.send_frame(OP_TEXT, m.encode())
            assert ws.recv_message() == (OP_TEXT, m.encode())
        ws.send(b"".join(wsutil.frame(OP_TEXT, m) for m in later))
        for m in later:
            assert ws.recv_message() == (OP_TEXT, m.encode())


def test_a_client_that_does_not_read_its_echoes_is_paused_not_buffered(
        mpm_server):
    """A client sends 48 MB of 1 MB messages and reads nothing: once a few
    MB of answers wait, the server stops reading it (TCP then stops the
    client) instead of queueing every echo towards WebSocketMaxQueuedOutput
    (64 MB: it would be closed with 1008); when the client reads again,
    every echo comes, in order, and the connection stays open."""
    import socket
    import threading

    n, size = 48, 1 << 20
    ws = RawWebSocket(mpm_server.port, "/echo", timeout=30)
    try:
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        msgs = [bytes([i]) * size for i in range(n)]
        sent = []

        def sender():
            for m in msgs:
                ws.sock.sendall(wsutil.frame(OP_BINARY, m))
                sent.append(1)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        time.sleep(3)
        # Paused: the sender is held by TCP, far from done.
        assert t.is_alive() and len(sent) < n // 2, len(sent)
        for i, m in enumerate(msgs):
            assert ws.recv_message() == (OP_BINARY, m), i
        t.join(10)
        assert not t.is_alive()
        ws.send_frame(OP_TEXT, b"still open")
        assert ws.recv_message() == (OP_TEXT, b"still open")
    finally:
        ws.close()


@pytest.mark.parametrize("opcode,parts", [
    (OP_TEXT, [b"Hel", b"lo, ", b"fragmented ", b"world"]),
    (OP_BINARY, [b"\x00\x01", b"", b"\x02\x03\xff", b"\x04"]),
], ids=["text", "binary"])
def test_fragmented_message_with_interleaved_ping_echoes_whole(
        mpm_server, opcode, parts):
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        ws.send_frame(opcode, parts[0], fin=False)
        ws.send_frame(OP_PING, b"between fragments")
        fin, rsv, op, payload = ws.recv_frame()
        assert (op, payload) == (OP_PONG, b"between fragments")
        for i, p in enumerate(parts[1:]):
            ws.send_frame(OP_CONT, p, fin=(i == len(parts) - 2))
        assert ws.recv_message() == (opcode, b"".join(parts))


def test_utf8_character_split_across_fragments_is_echoed_intact(mpm_server):
    euro = "\u20ac".encode("utf-8")            # e2 82 ac
    smile = "\U0001f600".encode("utf-8")       # f0 9f 98 80
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        ws.send_frame(OP_TEXT, b"a" + euro[:1], fin=False)
        ws.send_frame(OP_CONT, euro[1:] + smile[:2], fin=False)
        ws.send_frame(OP_CONT, smile[2:3], fin=False)
        ws.send_frame(OP_CONT, smile[3:] + b"z", fin=True)
        assert ws.recv_message() == (OP_TEXT, b"a" + euro + smile + b"z")


def test_fragmented_message_in_one_byte_writes_is_echoed(mpm_server):
    data = wsutil.frame(OP_TEXT, "slow", fin=False) + \
        wsutil.frame(OP_CONT, " drip", fin=True)
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        for i in range(len(data)):
            ws.send(data[i:i + 1])
        assert ws.recv_message() == (OP_TEXT, b"slow drip")


@pytest.mark.parametrize("payload", [b"", b"ping payload", b"\xff" * 125],
                         ids=["empty", "text", "125-bytes"])
def test_ping_gets_pong_with_same_payload(mpm_server, payload):
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        ws.send_frame(OP_PING, payload)
        fin, rsv, op, got = ws.recv_frame()
        assert (fin, op, got) == (True, OP_PONG, payload)


def test_unsolicited_pong_is_ignored(mpm_server):
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        ws.send_frame(OP_PONG, b"unsolicited")
        ws.send_frame(OP_TEXT, "after pong")
        assert ws.recv_message() == (OP_TEXT, b"after pong")


def test_python_client_ping_is_answered(mpm_server):
    async def go():
        async with ws_connect(mpm_server.port, "/echo") as ws:
            waiter = await ws.ping(b"abc")
            await asyncio.wait_for(waiter, 10)
            return True
    assert run(go())


@pytest.mark.parametrize("code,reason", [(1000, ""), (1001, "going away"),
                                         (3000, "app"), (4999, "\u00e9\u20ac"),
                                         (4000, "r" * 123)])
def test_close_code_and_reason_round_trip(mpm_server, code, reason):
    async def go():
        ws = await ws_connect(mpm_server.port, "/echo")
        await ws.close(code, reason)
        return ws.close_code, ws.close_reason
    assert run(go()) == (code, reason)


def test_raw_close_echoes_code_and_reason_then_closes_tcp(mpm_server):
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        ws.send_frame(OP_CLOSE, close_payload(4321, "see you"))
        assert ws.expect_close() == (4321, b"see you")
        ws.expect_eof()


def test_close_without_code_gets_close_without_status(mpm_server):
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        ws.send_frame(OP_CLOSE, b"")
        code, reason = ws.expect_close()
        assert code is None and reason == b""
        ws.expect_eof()


def test_close_without_code_python_client_sees_1005(mpm_server):
    # websockets cannot send an empty close; write one below it.
    async def go():
        ws = await ws_connect(mpm_server.port, "/echo")
        await ws.write_frame(True, OP_CLOSE, b"")
        with pytest.raises(websockets.exceptions.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        await asyncio.wait_for(ws.wait_closed(), 10)
        return ws.close_code
    assert run(go()) == 1005


def test_messages_after_close_frame_are_not_answered(mpm_server):
    with RawWebSocket(mpm_server.port, "/echo") as ws:
        ws.send(wsutil.frame(OP_CLOSE, close_payload(1000)) +
                wsutil.frame(OP_TEXT, "too late"))
        assert ws.expect_close() == (1000, b"")
        assert ws.skipped == []
        ws.expect_eof()


def test_client_vanishing_without_close_does_not_hurt_server(mpm_server):
    for _ in range(5):
        ws = RawWebSocket(mpm_server.port, "/echo")
        ws.send_frame(OP_TEXT, "x" * 1000, fin=False)
        ws.close()
    assert wsutil.raw_echo_ok(mpm_server.port)


# --- the handler API on every MPM --------------------------------------------

def test_handler_close_4001_bye_reaches_client(mpm_server):
    assert run(wsutil.closed_with(mpm_server.port, "/test",
                                  "close 4001 bye")) == (4001, "bye")


def test_handler_close_after_messages_sends_them_first(mpm_server):
    with RawWebSocket(mpm_server.port, "/test") as ws:
        ws.send(wsutil.frame(OP_TEXT, "one") + wsutil.frame(OP_TEXT, "two") +
                wsutil.frame(OP_TEXT, "close 1000 done"))
        assert ws.recv_message() == (OP_TEXT, b"one")
        assert ws.recv_message() == (OP_TEXT, b"two")
        assert ws.expect_close() == (1000, b"done")
        ws.send_frame(OP_CLOSE, close_payload(1000))
        ws.expect_eof()


def test_ping_after_the_server_closed_still_gets_its_pong(mpm_server):
    # RFC 6455 section 5.5.2: a Pong answers every Ping "unless it already
    # received a Close frame"; the server having sent one is no excuse.
    with RawWebSocket(mpm_server.port, "/test") as ws:
        ws.send_frame(OP_TEXT, "close 4000 closing")
        assert ws.expect_close() == (4000, b"closing")
        ws.send_frame(OP_PING, b"still there?")
        fin, rsv, op, payload = ws.recv_frame()
        assert (op, payload) == (OP_PONG, b"still there?")
        ws.send_frame(OP_CLOSE, close_payload(4000))
        ws.expect_eof()


def test_handler_fail_closes_with_1011(mpm_server):
    code, _ = run(wsutil.closed_with(mpm_server.port, "/test", "fail"))
    assert code == 1011


def test_handler_thread_delivers_100_messages_in_order(mpm_server):
    async def go():
        async with ws_connect(mpm_server.port, "/test") as ws:
            await ws.send("thread 100")
            return [await asyncio.wait_for(ws.recv(), 10)
                    for _ in range(100)]
    assert run(go()) == ["t{}".format(i) for i in range(100)]


def test_server_still_echoes_after_the_core_tests(mpm_server):
    assert wsutil.raw_echo_ok(mpm_server.port)


def test_access_log_records_the_upgrade_and_the_session(mpm_server):
    """Under every MPM the same two lines: httpd's own for the upgrade
    (101, no close code) and the session's at its end (101, its close
    code in %{WS_CLOSE_CODE}e)."""
    marker = "log{}".format(int(time.time() * 1000))
    with RawWebSocket(mpm_server.port, "/echo?" + marker) as ws:
        ws.send_frame(OP_TEXT, "logged")
        assert ws.recv_message() == (OP_TEXT, b"logged")
        ws.send_frame(OP_CLOSE, close_payload(1000))
        assert ws.expect_close()[0] == 1000
        ws.expect_eof()
    session = mpm_server.wait_access_log(
        r"GET /echo\?{} HTTP/1\.1.* ws=1000$".format(marker))
    upgrade = mpm_server.wait_access_log(
        r"GET /echo\?{} HTTP/1\.1.* ws=-$".format(marker))
    assert session is not None and upgrade is not None
    assert '" 101 ' in session and '" 101 ' in upgrade, (session, upgrade)
