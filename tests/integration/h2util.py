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
    """One WebSocket stream (self.sid) on a new HTTP/2 connection; more
    streams on the same connection with open_stream() and get()."""

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
            self._pump_until(deadline)
        assert self.connect_protocol, \
            "server does not offer extended CONNECT (H2WebSockets on?)"
        self.port, self.tls = port, tls
        self.streams = {}           # sid -> {"status", "data", "ended"}
        self.sid = self.open_stream(path, headers)
        st = self.wait_response(self.sid)
        self.status = st["status"]
        self.response_headers = st["headers"]

    def _request(self, method, path, extra):
        sid = self.conn.get_next_available_stream_id()
        req = [(":method", method)]
        if method == "CONNECT":
            req.append((":protocol", "websocket"))
        req += [(":scheme", "https" if self.tls else "http"),
                (":path", path),
                (":authority", "127.0.0.1:{}".format(self.port))]
        if method == "CONNECT":
            req.append(("sec-websocket-version", "13"))
        req += list((extra or {}).items())
        self.streams[sid] = {"status": None, "headers": {}, "data": b"",
                             "ended": False, "reset": None}
        self.conn.send_headers(sid, req, end_stream=(method == "GET"))
        self.flush()
        return sid

    def open_stream(self, path, headers=None):
        """Another WebSocket stream on this connection: its stream id."""
        return self._request("CONNECT", path, headers)

    def wait_response(self, sid, timeout=None):
        """The stream's response: {"status", "headers", ...} (status None
        if none came in time)."""
        deadline = time.time() + (timeout or self.timeout)
        st = self.streams[sid]
        while st["status"] is None and not st["ended"] \
                and st["reset"] is None and time.time() < deadline:
            try:
                self.pump()
            except socket.timeout:
                break
        return st

    def get(self, path, timeout=None):
        """A plain GET on this connection: its status (None if no answer
        came in time)."""
        return self.wait_response(self._request("GET", path, None),
                                  timeout)["status"]

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Read once from the socket and handle the events."""
        self.sock.settimeout(min(self.timeout, 1.0))
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("HTTP/2 connection closed")
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RemoteSettingsChanged):
                cp = ev.changed_settings.get(
                    h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                self.connect_protocol = bool(cp and cp.new_value)
            elif isinstance(ev, h2.events.ResponseReceived):
                st = self.streams.get(ev.stream_id)
                if st is not None:
                    st["headers"] = dict(ev.headers)
                    st["status"] = int(st["headers"][":status"])
            elif isinstance(ev, h2.events.DataReceived):
                self.conn.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
                if ev.stream_id == getattr(self, "sid", None):
                    self.buf += ev.data
                elif ev.stream_id in self.streams:
                    self.streams[ev.stream_id]["data"] += ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                if ev.stream_id in self.streams:
                    self.streams[ev.stream_id]["ended"] = True
                if ev.stream_id == getattr(self, "sid", None):
                    self.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                if ev.stream_id in self.streams:
                    self.streams[ev.stream_id]["reset"] = ev.error_code
                if ev.stream_id == getattr(self, "sid", None):
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
                self._pump_until(deadline)      # wait for WINDOW_UPDATE
                continue
            self.conn.send_data(self.sid, data[:n].tobytes())
            self.flush()
            data = data[n:]

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(wsutil.frame(opcode, payload, **kw))

    def _pump_until(self, deadline):
        try:
            self.pump()
        except socket.timeout:
            if time.time() > deadline:
                raise

    def recv_frame(self):
        """(fin, rsv, opcode, payload) of the next server frame."""
        deadline = time.time() + self.timeout
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
            self._pump_until(deadline)

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
            self._pump_until(deadline)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
