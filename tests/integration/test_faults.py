"""Faults: clients that vanish at the worst moments.  Each must leave the
server serving everybody else, with nothing at error level in the log
(the conftest checks the log after every test), on every MPM variant.
"""
import socket
import struct
import time

import wsutil
from wsutil import OP_CLOSE, OP_TEXT, frame, close_payload


def vanish(sock, reset):
    """Close abruptly: with a TCP reset, or a plain close."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    sock.close()


def serving(srv):
    assert wsutil.raw_echo_ok(srv.port, "/echo")
    return True


def test_client_vanishing_mid_handshake(mpm_server):
    for reset in (False, True):
        s = wsutil.connect(mpm_server.port)
        request = wsutil.upgrade_request("/echo", mpm_server.port)
        s.sendall(request[:len(request) // 2])
        vanish(s, reset)
    assert serving(mpm_server)


def test_client_vanishing_mid_frame(mpm_server):
    for reset in (False, True):
        ws = wsutil.RawWebSocket(mpm_server.port, "/echo")
        whole = frame(OP_TEXT, "x" * 1000)
        ws.send(whole[:20])                  # header and a bit of payload
        time.sleep(0.05)
        vanish(ws.sock, reset)
    assert serving(mpm_server)


def test_client_vanishing_mid_fragmented_message(mpm_server):
    ws = wsutil.RawWebSocket(mpm_server.port, "/echo")
    ws.send(frame(OP_TEXT, "first part", fin=False))
    time.sleep(0.05)
    vanish(ws.sock, True)
    assert serving(mpm_server)


def test_client_vanishing_mid_close(mpm_server):
    for reset in (False, True):
        ws = wsutil.RawWebSocket(mpm_server.port, "/echo")
        ws.send(frame(OP_CLOSE, close_payload(1000)))
        vanish(ws.sock, reset)               # before reading the answer
    assert serving(mpm_server)


def test_client_resetting_while_the_server_writes(mpm_server):
    """A handler thread and the echo both write while the peer resets."""
    for _ in range(20):
        ws = wsutil.RawWebSocket(mpm_server.port, "/test")
        ws.send(frame(OP_TEXT, "thread 5000"))
        ws.send(b"".join(frame(OP_TEXT, "echo me %d" % i)
                         for i in range(200)))
        vanish(ws.sock, True)
    time.sleep(0.3)
    assert serving(mpm_server)


def test_client_that_never_reads_does_not_block_others(mpm_server):
    """A peer with a full receive window: the server keeps serving the
    others while it is stuck (no thread or loop is blocked on it)."""
    stuck = wsutil.RawWebSocket(mpm_server.port, "/test")
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.send(frame(OP_TEXT, "thread 200000"))
    time.sleep(0.5)
    t = time.time()
    assert serving(mpm_server)
    assert time.time() - t < 2.0
    vanish(stuck.sock, True)
    time.sleep(0.3)
    assert serving(mpm_server)
