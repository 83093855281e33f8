"""wss:// on every MPM variant: a WebSocket over TLS ends the way TLS
connections must, with the server's close_notify, through httpd's own
close path (the End-Of-Connection bucket that makes mod_ssl shut TLS
down, logged by mod_ssl as AH02001) -- whether the client or the server
starts the closing handshake."""
import socket
import ssl
import time

import pytest

import wsutil
from wsutil import OP_CLOSE, OP_TEXT, close_payload, frame, split_frame

from conftest import (LOAD_HANDLERS, VARIANTS, start_variant, stop_server,
                      tree_cpu_seconds)

SITE = "LogLevel ssl:debug\n" + LOAD_HANDLERS + r"""
<Location "/echo">
    WebSocketHandler echo
</Location>
<Location "/test">
    WebSocketHandler test
</Location>
"""


@pytest.fixture(scope="module", params=VARIANTS)
def tls_server(request, httpd_factory):
    srv = start_variant(httpd_factory, "tls-" + request.param, SITE,
                        request.param, tls=True)
    yield srv
    stop_server(srv)


class TlsWebSocket:
    """A raw WebSocket over TLS whose reads tell a clean TLS close
    (close_notify: b"") from a truncated one (ssl.SSLEOFError)."""

    def __init__(self, port, path):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = ctx.wrap_socket(raw, suppress_ragged_eofs=False)
        self.sock.sendall(wsutil.upgrade_request(path, port))
        resp, rest = wsutil.read_head(self.sock)
        assert resp.status == 101, resp
        self.buf = bytearray(rest)

    def send_frame(self, opcode, payload=b""):
        self.sock.sendall(frame(opcode, payload))

    def recv_frame(self):
        while True:
            got = split_frame(self.buf)
            if got:
                del self.buf[:got[5]]
                return got[2], got[4]
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("TLS closed inside a frame")
            self.buf += chunk

    def read_to_end(self):
        """Read until the server ends TLS: b"" after its close_notify."""
        data = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("who", ["client", "server"])
def test_wss_connection_ends_with_close_notify(tls_server, who):
    before = tls_server.read_log().count("AH02001")
    ws = TlsWebSocket(tls_server.port, "/test")
    try:
        ws.send_frame(OP_TEXT, "hello")
        assert ws.recv_frame() == (OP_TEXT, b"hello")
        if who == "client":
            ws.send_frame(OP_CLOSE, close_payload(1000, "bye"))
            assert ws.recv_frame() == (OP_CLOSE, close_payload(1000, "bye"))
        else:
            ws.send_frame(OP_TEXT, "close 4000 server says bye")
            assert ws.recv_frame() == (OP_CLOSE, close_payload(
                4000, "server says bye"))
            ws.send_frame(OP_CLOSE, close_payload(4000))
        # SSLEOFError here: TCP closed without the TLS close_notify.
        assert ws.read_to_end() == b""
    finally:
        ws.close()
    # mod_ssl's record of the orderly TLS shutdown it did for the EOC.
    deadline = time.time() + 5
    while tls_server.read_log().count("AH02001") <= before:
        assert time.time() < deadline, "mod_ssl logged no AH02001"
        time.sleep(0.05)


def test_abruptly_closed_wss_connections_cost_no_cpu(tls_server):
    # Peers that drop TCP without a close frame (or TLS close_notify):
    # once drained, their sockets stay readable at EOF for ever, which
    # must not keep a loop busy until they are released.
    for _ in range(10):
        ws = TlsWebSocket(tls_server.port, "/echo")
        ws.send_frame(OP_TEXT, "bye")
        assert ws.recv_frame() == (OP_TEXT, b"bye")
        ws.close()
    before = tree_cpu_seconds(tls_server)
    time.sleep(2)
    used = tree_cpu_seconds(tls_server) - before
    assert used < 0.3, "{:.2f} s of CPU in 2 s after 10 dropped " \
        "connections".format(used)
