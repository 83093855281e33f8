"""A WebSocket client over HTTP/2 (RFC 8441: an extended CONNECT stream with
:protocol websocket), built on Debian's python3-h2, for the tests of
WebSockets over HTTP/2 (h2 over TLS, or h2c with prior knowledge).  Every
read has a timeout."""
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events
import h2.settings

import wsutil
from wsutil import OP_CLOSE, OP_CONT, split_frame


class H2WebSocket:
    def __init__(self, port, path, tls=True, headers=None, timeout=10.0):
        self.timeout = timeout
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
            assert self.sock.selected_alpn_protocol() == "h2"
        else:
            self.sock = raw
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.buf = bytearray()
        self.status = None
        self.response_headers = {}
        self.ended = False
        self.reset = None
        self.connect_protocol = None
        deadline = time.time() + timeout
        while self.connect_protocol is None:
            assert time.time() < deadline, "no SETTINGS from the server"
            self.pump()
        assert self.connect_protocol, \
            "server does not offer extended CONNECT (H2WebSockets on?)"
        self.sid = self.conn.get_next_available_stream_id()
        req = [(":method", "CONNECT"), (":protocol", "websocket"),
               (":scheme", "https" if tls else "http"), (":path", path),
               (":authority", "127.0.0.1:{}".format(port)),
               ("sec-websocket-version", "13")]
        req += list((headers or {}).items())
        self.conn.send_headers(self.sid, req)
        self.flush()
        while self.status is None and not self.ended and self.reset is None:
            assert time.time() < deadline, "no response to CONNECT"
            self.pump()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Read once from the socket and handle the events."""
        self.sock.settimeout(self.timeout)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("HTTP/2 connection closed")
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                cp = ev.changed_settings.get(
                    h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                self.connect_protocol = bool(cp and cp.new_value)
            elif isinstance(ev, h2.events.ResponseReceived):
                self.response_headers = dict(ev.headers)
                self.status = int(self.response_headers[":status"])
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
                if ev.stream_id == getattr(self, "sid", None):
                    self.buf += ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                self.reset = ev.error_code
        self.flush()

    def send(self, data):
        """Send bytes on the stream, as HTTP/2 flow control allows."""
        data = memoryview(data)
        deadline = time.time() + self.timeout
        while data:
            n = min(len(data), self.conn.max_outbound_frame_size,
                    self.conn.local_flow_control_window(self.sid))
            if n <= 0:
                assert time.time() < deadline, "flow control window shut"
                self.pump()         # wait for WINDOW_UPDATE
                continue
            self.conn.send_data(self.sid, data[:n].tobytes())
            self.flush()
            data = data[n:]

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(wsutil.frame(opcode, payload, **kw))

    def recv_frame(self):
        """(fin, rsv, opcode, payload) of the next server frame."""
        while True:
            got = split_frame(self.buf)
            if got:
                fin, rsv, opcode, masked, payload, used = got
                del self.buf[:used]
                assert not masked
                return fin, rsv, opcode, payload
            if self.ended or self.reset is not None:
                raise EOFError("the stream ended (reset {})".format(
                    self.reset))
            self.pump()

    def recv_message(self):
        opcode, data = None, b""
        while True:
            fin, rsv, op, payload = self.recv_frame()
            if op >= 0x8:
                if op == OP_CLOSE:
                    raise AssertionError("close {!r}".format(payload))
                continue
            if opcode is None:
                opcode = op
            else:
                assert op == OP_CONT
            data += payload
            if fin:
                return opcode, data

    def expect_close(self):
        while True:
            fin, rsv, op, payload = self.recv_frame()
            if op == OP_CLOSE:
                if not payload:
                    return None, b""
                return int.from_bytes(payload[:2], "big"), payload[2:]

    def wait_stream_end(self, timeout=10.0):
        deadline = time.time() + timeout
        while not self.ended and self.reset is None:
            assert time.time() < deadline, "the stream did not end"
            self.pump()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
