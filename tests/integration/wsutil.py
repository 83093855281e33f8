"""Client-side helpers for the integration tests: raw HTTP and raw
WebSocket frames over plain sockets (for handshakes and protocol violations
no real client would produce), and small wrappers around the Python
`websockets` library (10.4, legacy asyncio API) and the Node `ws` scripts.

Every socket read here has a timeout: a hung server fails a test, it never
hangs the suite.
"""
import asyncio
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
NODE_DIR = os.path.join(TOP, "tests", "node")

# Seconds any single read may block.
READ_TIMEOUT = 10.0
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


def accept_for(key):
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def new_key():
    return base64.b64encode(os.urandom(16)).decode("ascii")


# --- raw HTTP ---------------------------------------------------------------

class HttpResponse:
    def __init__(self, status, reason, headers, body, raw):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value)
        self.body = body
        self.raw = raw

    def header(self, name):
        """The first value of a header (case-insensitive name), or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return "<HTTP {} {} {}>".format(self.status, self.reason,
                                        self.headers)


def connect(port, host="127.0.0.1", timeout=READ_TIMEOUT, source=None):
    s = socket.create_connection((host, port), timeout=timeout,
                                 source_address=(source, 0) if source
                                 else None)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n, buf=b""):
    """Read until buf holds n bytes; returns (data, rest)."""
    while len(buf) < n:
        chunk = sock.recv(max(65536, n - len(buf)))
        if not chunk:
            raise EOFError("connection closed after {} of {} bytes"
                           .format(len(buf), n))
        buf += chunk
    return buf[:n], buf[n:]


def read_head(sock, buf=b""):
    """Read an HTTP response head; returns (HttpResponse without body,
    the bytes after the head)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside the response head: {!r}"
                           .format(buf))
        buf += chunk
        if len(buf) > 1 << 20:
            raise ValueError("response head too large")
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return HttpResponse(status, reason, headers, b"", head), rest


def read_body(sock, resp, rest):
    """Read a body framed by Content-Length or chunked, or until EOF."""
    te = (resp.header("Transfer-Encoding") or "").lower()
    cl = resp.header("Content-Length")
    if resp.status in (101, 204, 304) or 100 <= resp.status < 200:
        return rest
    if "chunked" in te:
        body = b""
        buf = rest
        while True:
            while b"\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise EOFError("EOF in chunked body")
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            data, buf = recv_exact(sock, size + 2, buf)
            if size == 0:
                return body
            body += data[:-2]
    if cl is not None:
        data, _ = recv_exact(sock, int(cl), rest)
        return data
    body = rest
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return body
        body += chunk


def http_raw(port, request, read_body_too=True, timeout=READ_TIMEOUT):
    """Send the exact bytes of a request; return the HttpResponse."""
    if isinstance(request, str):
        request = request.encode("iso-8859-1")
    with connect(port, timeout=timeout) as s:
        s.sendall(request)
        resp, rest = read_head(s)
        if read_body_too:
            resp.body = read_body(s, resp, rest)
        return resp


def upgrade_request(path, port, key=None, method="GET", version="HTTP/1.1",
                    headers=None, omit=(), host=None):
    """The bytes of a WebSocket upgrade request.  headers: extra or
    replacement headers (a dict; None as a value drops the header); omit:
    names of the standard headers to leave out."""
    std = [
        ("Host", host or "127.0.0.1:{}".format(port)),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key if key is not None else new_key()),
        ("Sec-WebSocket-Version", "13"),
    ]
    extra = dict(headers or {})
    lines = ["{} {} {}".format(method, path, version)]
    for k, v in std:
        if k in omit:
            continue
        if k in extra:
            v = extra.pop(k)
            if v is None:
                continue
        lines.append("{}: {}".format(k, v))
    for k, v in extra.items():
        if v is not None:
            lines.append("{}: {}".format(k, v))
    req = "\r\n".join(lines) + "\r\n"
    if method in ("POST", "PUT"):
        req += "Content-Length: 0\r\n"
    return (req + "\r\n").encode("iso-8859-1")


def handshake_status(port, path, **kw):
    """Send an upgrade request built by upgrade_request; return the
    response (head only for a 101, head and body otherwise)."""
    req = upgrade_request(path, port, **kw)
    with connect(port) as s:
        s.sendall(req)
        resp, rest = read_head(s)
        if resp.status != 101:
            resp.body = read_body(s, resp, rest)
        return resp


def http_get(port, path, headers=None, timeout=READ_TIMEOUT):
    lines = ["GET {} HTTP/1.1".format(path),
             "Host: 127.0.0.1:{}".format(port), "Connection: close"]
    for k, v in (headers or {}).items():
        lines.append("{}: {}".format(k, v))
    return http_raw(port, "\r\n".join(lines) + "\r\n\r\n", timeout=timeout)


# --- raw WebSocket frames ---------------------------------------------------

def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, key=None,
          length=None):
    """Encode one frame.  rsv: the 3 RSV bits as a number (4=RSV1, 2=RSV2,
    1=RSV3).  length overrides the encoded payload length (for lies)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload) if length is None else length
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = key if key is not None else os.urandom(4)
    return hdr + key + mask_bytes(payload, key)


def mask_bytes(data, key):
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")) \
        .to_bytes(n, "big")


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


def split_frame(buf):
    """The first whole frame in buf: (fin, rsv, opcode, masked, payload,
    bytes used), or None while buf holds less.  The payload is returned as
    sent (a masked frame's payload is not unmasked)."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n, off = b1 & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, off = struct.unpack_from("!H", buf, 2)[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, off = struct.unpack_from("!Q", buf, 2)[0], 10
    masked = bool(b1 & 0x80)
    if masked:
        off += 4
    if len(buf) < off + n:
        return None
    return (bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked,
            bytes(buf[off:off + n]), off + n)


class RawWebSocket:
    """A WebSocket client over a plain socket that writes exactly the frames
    a test gives it and reads the server's frames one by one."""

    def __init__(self, port, path="/echo", headers=None, timeout=READ_TIMEOUT,
                 source=None, refusal_ok=False, early=b""):
        """source: the local address to connect from; refusal_ok: a
        refused upgrade is not an error (see .response; the socket is
        closed then); early: bytes (frames) sent in the same write as the
        upgrade request, before its answer."""
        self.port = port
        self.sock = connect(port, timeout=timeout, source=source)
        self.key = new_key()
        self.sock.sendall(upgrade_request(path, port, key=self.key,
                                          headers=headers) + early)
        self.response, rest = read_head(self.sock)
        self.buf = bytearray(rest)      # bytes after the 101, not yet read
        if self.response.status != 101:
            self.sock.close()
            if refusal_ok:
                return
            raise AssertionError("upgrade of {} refused: {}".format(
                path, self.response))
        assert self.response.header("Sec-WebSocket-Accept") == \
            accept_for(self.key)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def recv_frame(self):
        """One server frame: (fin, rsv, opcode, payload).  Server frames
        must not be masked."""
        while True:
            got = split_frame(self.buf)
            if got:
                break
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed inside a frame after {} "
                               "bytes".format(len(self.buf)))
            self.buf += chunk
        fin, rsv, opcode, masked, payload, used = got
        del self.buf[:used]
        assert not masked, "the server masked a frame"
        return fin, rsv, opcode, payload

    def recv_message(self):
        """One whole data message (control frames are collected in
        self.controls): (opcode, payload)."""
        self.controls = getattr(self, "controls", [])
        opcode, data = None, b""
        while True:
            fin, rsv, op, payload = self.recv_frame()
            assert rsv == 0
            if op >= 0x8:
                self.controls.append((op, payload))
                if op == OP_CLOSE:
                    raise AssertionError("close frame {!r} while waiting for "
                                         "a message".format(payload))
                continue
            if opcode is None:
                assert op in (OP_TEXT, OP_BINARY), op
                opcode = op
            else:
                assert op == OP_CONT, op
            data += payload
            if fin:
                return opcode, data

    def expect_close(self):
        """Read frames until the server's close frame; return (code, reason)
        with code None for an empty close payload.  Data frames before it
        are ignored (but kept in self.skipped)."""
        self.skipped = []
        while True:
            try:
                fin, rsv, op, payload = self.recv_frame()
            except EOFError as e:
                raise AssertionError("the server closed TCP without a close "
                                     "frame ({})".format(e))
            if op == OP_CLOSE:
                assert fin, "fragmented close frame from the server"
                if not payload:
                    return None, b""
                assert len(payload) >= 2, payload
                return struct.unpack("!H", payload[:2])[0], payload[2:]
            self.skipped.append((op, payload))

    def expect_eof(self, timeout=READ_TIMEOUT):
        """After the closing handshake the server closes TCP."""
        self.sock.settimeout(timeout)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return
            if not chunk:
                return
        raise AssertionError("the server did not close TCP")


def violation_close_code(port, path, data, reply_close=True):
    """Open a raw WebSocket, write data, return the code of the server's
    close frame (None if it had no code) and check it then closes TCP."""
    with RawWebSocket(port, path) as ws:
        ws.send(data)
        code, reason = ws.expect_close()
        if reply_close:
            try:
                ws.send_frame(OP_CLOSE, close_payload(code or 1000))
            except OSError:
                pass
        ws.expect_eof()
        return code


def raw_echo_ok(port, path="/echo", text="still alive"):
    """A quick raw echo round trip: the server still serves."""
    with RawWebSocket(port, path) as ws:
        ws.send_frame(OP_TEXT, text)
        op, data = ws.recv_message()
        assert (op, data) == (OP_TEXT, text.encode("utf-8"))
        ws.send_frame(OP_CLOSE, close_payload(1000))
        code, _ = ws.expect_close()
        assert code == 1000
        ws.expect_eof()
    return True


def https_ready(port, timeout=2):
    """True once a TLS handshake and GET / succeed on port."""
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        with ctx.wrap_socket(s) as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                      b"Connection: close\r\n\r\n")
            return t.recv(16).startswith(b"HTTP/1.1 200")


# --- the websockets library -------------------------------------------------

def run(coro, timeout=60.0):
    """Run a coroutine with an overall deadline."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def ws_uri(port, path):
    return "ws://127.0.0.1:{}{}".format(port, path)


def ws_connect(port, path, **kw):
    kw.setdefault("compression", None)
    kw.setdefault("open_timeout", 15)
    kw.setdefault("close_timeout", 10)
    return websockets.connect(ws_uri(port, path), **kw)


async def closed_with(port, path, command):
    """Send command; the server must close without answering first.
    Returns (close code, close reason) as the client saw them."""
    async with ws_connect(port, path) as ws:
        await ws.send(command)
        try:
            reply = await asyncio.wait_for(ws.recv(), READ_TIMEOUT)
        except websockets.exceptions.ConnectionClosed:
            return ws.close_code, ws.close_reason
        raise AssertionError("{!r} was answered with {!r} instead of a "
                             "close".format(command, reply))


async def echo_once(port, path, message, **kw):
    async with ws_connect(port, path, **kw) as ws:
        await ws.send(message)
        return await asyncio.wait_for(ws.recv(), READ_TIMEOUT)


# --- Node `ws` --------------------------------------------------------------

def node_available():
    return os.path.isdir(os.path.join(NODE_DIR, "node_modules", "ws"))


def node_client(port, path, scenario, timeout=120, **args):
    """Run tests/node/client.js; it prints one JSON object."""
    spec = dict(args, url=ws_uri(port, path), scenario=scenario)
    proc = subprocess.run(["node", os.path.join(NODE_DIR, "client.js"),
                           json.dumps(spec)], capture_output=True, text=True,
                          timeout=timeout, cwd=NODE_DIR)
    if proc.returncode != 0:
        raise AssertionError("node client failed ({}): {}{}".format(
            proc.returncode, proc.stdout, proc.stderr))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read_json_line(proc, timeout=60):
    """The next JSON line a child process (a Node test script) prints,
    within timeout seconds."""
    import select
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the script said nothing in {} s".format(timeout)
    line = proc.stdout.readline()
    assert line, "the script ended: {}".format(proc.stderr.read())
    return json.loads(line)


def node_result(proc, timeout=60, exit_timeout=10):
    """The one result line of a Node test script that needs nothing from
    the test meanwhile; the script must then exit 0 (killed if it does
    not)."""
    try:
        result = read_json_line(proc, timeout)
        assert proc.wait(exit_timeout) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    return result
