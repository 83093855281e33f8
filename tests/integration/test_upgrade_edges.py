"""Upgrade requests at the edges of HTTP, on every MPM variant: requests
that carry a body (never taken as WebSocket frames: 400), and header lists
parsed as RFC 9110 says (tokens of any length, empty elements ignored).
The kinds of fault of ../shared/cases/upgrade_with_body.py and
long_subprotocol.py."""
import time

import pytest

import wsutil
from wsutil import (OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawWebSocket,
                    close_payload, frame, read_body, read_head,
                    upgrade_request)


def send_upgrade(port, path, headers, body=b"", after=b""):
    """Send an upgrade request with extra headers, a body and bytes after
    it; return (response head, the socket, the bytes after the head)."""
    s = wsutil.connect(port, timeout=5)
    s.sendall(upgrade_request(path, port, headers=headers) + body + after)
    resp, rest = read_head(s)
    return resp, s, rest


BODIES = [
    ("content-length", {"Content-Length": "5"}, b"hello"),
    ("content-length-masked-ping", {"Content-Length": "6"},
     frame(OP_PING, b"")),
    ("chunked", {"Transfer-Encoding": "chunked"},
     b"5\r\nhello\r\n0\r\n\r\n"),
    ("expect-100-continue", {"Content-Length": "5",
                             "Expect": "100-continue"}, b"hello"),
]


@pytest.mark.parametrize("name,headers,body", BODIES,
                         ids=[b[0] for b in BODIES])
def test_upgrade_carrying_a_body_gets_400(mpm_server, name, headers, body):
    resp, s, rest = send_upgrade(mpm_server.port, "/echo", headers, body,
                                 frame(OP_TEXT, "after-body"))
    with s:
        assert resp.status == 400, resp
        read_body(s, resp, rest)
    assert mpm_server.wait_log(r"\[websocket:info\].*WS00041.*carries a "
                               r"body.*answering 400")


def test_upgrade_declaring_a_body_it_never_sends_gets_400_at_once(
        mpm_server):
    t0 = time.monotonic()
    resp, s, _ = send_upgrade(mpm_server.port, "/echo",
                              {"Content-Length": "10"})
    s.close()
    assert resp.status == 400
    assert time.monotonic() - t0 < 3


def test_upgrade_with_content_length_0_works(mpm_server):
    resp, s, rest = send_upgrade(mpm_server.port, "/echo",
                                 {"Content-Length": "0"})
    with s:
        assert resp.status == 101, resp
        s.sendall(frame(OP_PING, b"are-you-there"))
        buf = bytearray(rest)
        while True:
            got = wsutil.split_frame(buf)
            if got:
                break
            buf += s.recv(65536)
        assert got[2] == OP_PONG and got[4] == b"are-you-there"


@pytest.mark.parametrize("offer", [
    "a" * 64,
    "a" * 1000,
    "base64url.bearer.authorization.k8s.io." + "ZXlKaGJHY2lPaUpTVXpJMU5p" * 30
    + ", base64.binary.k8s.io",
], ids=["64", "1000", "kubernetes-bearer"])
def test_long_subprotocol_tokens_are_accepted(mpm_server, offer):
    r = wsutil.handshake_status(mpm_server.port, "/test",
                                headers={"Sec-WebSocket-Protocol": offer})
    assert r.status == 101, r


@pytest.mark.parametrize("header,value", [
    ("Sec-WebSocket-Protocol", "chat, , v2"),
    ("Sec-WebSocket-Protocol", ", chat"),
    ("Connection", "keep-alive, , Upgrade"),
    ("Upgrade", ", websocket,"),
], ids=["protocol", "protocol-leading", "connection", "upgrade"])
def test_empty_list_elements_are_ignored(mpm_server, header, value):
    r = wsutil.handshake_status(mpm_server.port, "/test",
                                headers={header: value})
    assert r.status == 101, r


def test_empty_repeated_protocol_header_line_is_ignored(mpm_server):
    # httpd merges repeated lines into "chat, , v2"-like values.
    req = upgrade_request("/echo", mpm_server.port).replace(
        b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chat\r\n"
        b"Sec-WebSocket-Protocol: \r\nSec-WebSocket-Protocol: v2\r\n\r\n")
    with wsutil.connect(mpm_server.port) as s:
        s.sendall(req)
        resp, _ = read_head(s)
    assert resp.status == 101, resp
    assert resp.header("Sec-WebSocket-Protocol") == "chat"


def test_echo_agrees_to_the_first_offered_subprotocol(mpm_server):
    # Browsers fail a connection whose offered subprotocols were all
    # declined; echo speaks none in particular and takes the first.
    with RawWebSocket(mpm_server.port, "/echo", headers={
            "Sec-WebSocket-Protocol": "x-first, x-second"}) as ws:
        assert ws.response.header("Sec-WebSocket-Protocol") == "x-first"
        ws.send_frame(OP_TEXT, "hi")
        assert ws.recv_message() == (OP_TEXT, b"hi")
        ws.send_frame(OP_CLOSE, close_payload(1000))
        assert ws.expect_close()[0] == 1000
