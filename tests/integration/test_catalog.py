"""Our own Python 3 rendering of the Autobahn|Testsuite "fuzzingclient" case
catalog (sections 1-7, 9, 10 and the handshake side of 12/13), run against
/echo with the module's default limits.

Each case is a row of a table: the frames the fuzzing client writes (whole,
in chops, or as separate TCP writes), the pauses between them, when the
client gives up (its "kill after" and "close after" timers), the events it
must observe for an OK verdict, and the close rules (who must close first,
the allowed close codes, whether the close must be clean).  CatalogClient
plays the fuzzing client: it answers pings, replies 1000 to the server's
close, closes with the first allowed code as soon as everything expected has
arrived, and applies the client's 1 s timeouts (the server must answer our
close within 1 s, and must drop TCP within 1 s of the closing handshake).
verdict() then applies the suite's rules; a case passes only when both the
behaviour and the close behaviour are OK.

Pauses that only give the server time (5.19/5.20, the first pause of 6.4.x)
are shortened to PAUSE; every deadline the server must meet keeps the suite's
value (e.g. the 1 s after the invalid part of 6.4.x, 0.5 s in 6.5-6.23).
"""
import os
import socket
import struct
import time
import zlib

import pytest

from wsutil import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                    RawWebSocket, close_payload, frame, split_frame)

KiB, MiB = 1024, 1024 * 1024

# The fuzzing client's fixed timeouts (Autobahn 0.10.9 defaults).
HANDSHAKE_TIMEOUT = 1.0     # our close frame must be answered within this
DROP_TIMEOUT = 1.0          # after the closing handshake the server drops TCP
# A pause that only lets the server act (shortened from the suite's 1 s).
PAUSE = 0.25
# No case may run longer than this, whatever the server does.
CASE_LIMIT = 150.0
WRITE_TIMEOUT = 30.0

# How the fuzzing client introduces itself.
CLIENT_HEADERS = {"Upgrade": "WebSocket",
                  "User-Agent": "AutobahnTestSuite/0.8.2-0.10.9",
                  "Pragma": "no-cache", "Cache-Control": "no-cache"}

# Close codes a server may send in the fuzzing client's eyes.
SERVER_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011}

OK, NON_STRICT, FAILED = "OK", "NON-STRICT", "FAILED"
WRONG_CODE, UNCLEAN = "WRONG CODE", "UNCLEAN"
FAILED_BY_CLIENT = "FAILED BY CLIENT"


# --- the case table's vocabulary ---------------------------------------------

def rep(pattern, n):
    """n bytes of pattern repeated (the client's payload_len)."""
    if isinstance(pattern, str):
        pattern = pattern.encode("utf-8")
    return (pattern * (n // len(pattern) + 1))[:n] if n else b""


def B(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def send(data, chop=None, sync=False):
    """Write bytes: at once, in chops of `chop` bytes, or (sync) as a TCP
    write of their own."""
    return ("send", data, chop, sync)


def F(opcode, payload=b"", fin=True, rsv=0, chop=None, sync=False):
    """One masked client frame."""
    return send(frame(opcode, B(payload), fin=fin, rsv=rsv), chop, sync)


def fragments(opcode, payload, size):
    """A message in frames of `size` payload bytes (the first carries the
    opcode, the rest are continuations)."""
    payload = B(payload)
    parts = [payload[i:i + size] for i in range(0, len(payload), size)] or \
        [b""]
    return send(b"".join(
        frame(opcode if i == 0 else OP_CONT, p, fin=(i == len(parts) - 1))
        for i, p in enumerate(parts)))


def later(delay, tag=None):
    """Pause, reading.  With a tag: go on only if the connection is still
    open, and note ("timeout", tag) in the received events."""
    return ("later", delay, tag)


def close(code=None, reason=b"", raw=None):
    """The client starts the closing handshake (raw: any payload)."""
    return ("close", raw if raw is not None else close_payload(code, reason))


def kill_after(t):
    """After t s, the client fails the connection (close 1001 if open,
    TCP drop if closing)."""
    return ("kill", t)


def close_after(t):
    """After t s, the client closes (empty close) if still open."""
    return ("closeafter", t)


def msg(payload, binary=False):
    return ("message", B(payload), binary)


def pong(payload=b""):
    return ("pong", B(payload))


def timeout(tag):
    return ("timeout", tag)


class Close:
    """The close rules: by_me (the client must close first), the allowed
    codes from the server (or none), clean (a completed closing handshake
    required), fatal (the wrong endpoint closing fails the whole case)."""

    def __init__(self, by_me, codes, clean, fatal=False):
        self.by_me, self.codes, self.clean = by_me, tuple(codes), clean
        self.fatal = fatal


CLIENT_1000 = Close(True, [1000], True)
SERVER_1002 = Close(False, [1002], False)
SERVER_1007 = Close(False, [1007], False, fatal=True)


class Case:
    def __init__(self, cid, steps, ok, non_strict=None, close=CLIENT_1000,
                 suppress=False, wrong_code_fails=False, informational=None,
                 on_message=None, close_on_message=False, doc=""):
        self.id = cid
        self.steps = steps
        self.expected = {OK: ok}
        if non_strict is not None:
            self.expected[NON_STRICT] = non_strict
        self.close = close
        self.suppress = suppress              # no automatic close on match
        self.wrong_code_fails = wrong_code_fails  # 7.x: WRONG CODE fails
        # For the suite's INFORMATIONAL cases: (our events, our close codes)
        self.informational = informational
        self.on_message = on_message          # hook (client, event)
        self.close_on_message = close_on_message  # 9.x: close on a message
        self.doc = doc

    def __repr__(self):
        return "Case {}".format(self.id)


# --- the fuzzing client ------------------------------------------------------

OPEN, CLOSING, CLOSED = "OPEN", "CLOSING", "CLOSED"


def brief(value, limit=60):
    if isinstance(value, (bytes, bytearray)):
        if len(value) > limit:
            return "<{} bytes {!r}...>".format(len(value),
                                                bytes(value[:limit // 2]))
        return repr(bytes(value))
    if isinstance(value, tuple):
        return "(" + ", ".join(brief(v, limit) for v in value) + ")"
    if isinstance(value, list):
        if len(value) > 6:
            return "[{} events: {}, ..., {}]".format(
                len(value), brief(value[0], limit), brief(value[-1], limit))
        return "[" + ", ".join(brief(v, limit) for v in value) + "]"
    return repr(value)


class CatalogClient:
    """Plays one case the way the fuzzing client does, then judges it."""

    def __init__(self, port, case):
        self.case = case
        self.ws = RawWebSocket(port, "/echo", headers=CLIENT_HEADERS)
        self.sock = self.ws.sock
        self.inbuf = bytearray(self.ws.buf)
        self.t0 = time.monotonic()
        self.state = OPEN
        self.received = []
        self.trace = []
        self.violations = []
        self.closed_by_me = False
        self.was_clean = False
        self.dropped_by_me = False
        self.remote_code = None
        self.remote_reason = None
        self.got_close = False
        self.timers = {}
        self.msg_op = None
        self.msg_parts = []

    # --- bookkeeping ---
    def now(self):
        return time.monotonic() - self.t0

    def note(self, what):
        self.trace.append("{:7.3f}s {}".format(self.now(), what))

    def violation(self, what):
        self.note("VIOLATION " + what)
        self.violations.append(what)

    # --- writing ---
    def write(self, data, chop=None, sync=False):
        if self.state == CLOSED:
            return
        self.sock.settimeout(WRITE_TIMEOUT)
        try:
            if chop:
                for i in range(0, len(data), chop):
                    self.sock.sendall(data[i:i + chop])
            else:
                self.sock.sendall(data)
                if sync:
                    time.sleep(0.002)
        except socket.timeout:
            self.note("write of {} bytes timed out (server not reading)"
                      .format(len(data)))
        except OSError as e:
            self.note("write failed: {}".format(e))

    def send_close(self, payload, reply=False):
        """sendCloseFrame: only from OPEN; the first close decides
        closedByMe."""
        if self.state != OPEN:
            return
        self.note("client sends close {}".format(brief(payload)))
        self.write(frame(OP_CLOSE, payload))
        self.state = CLOSING
        self.closed_by_me = not reply
        if self.closed_by_me:
            self.timers["handshake"] = time.monotonic() + HANDSHAKE_TIMEOUT

    def drop(self, why):
        self.note("client drops TCP: " + why)
        self.dropped_by_me = True
        self.lost()

    def lost(self):
        if self.state != CLOSED:
            self.state = CLOSED
            self.timers.clear()
            self.ws.close()

    # --- timers ---
    def fire(self, name):
        self.note("timer " + name)
        if name == "handshake":
            self.was_clean = False
            self.drop("no close reply within {}s".format(HANDSHAKE_TIMEOUT))
        elif name == "drop":
            self.was_clean = False
            self.drop("server kept TCP open {}s after the closing handshake"
                      .format(DROP_TIMEOUT))
        elif name == "kill":
            if self.state == OPEN:
                self.send_close(close_payload(1001, "Going Away"))
            elif self.state == CLOSING:
                self.drop("kill timer while closing")
        elif name == "closeafter":
            if self.state == OPEN:
                self.send_close(b"")

    # --- reading ---
    def pump(self, seconds=None):
        """Read and react until `seconds` pass (None: until closed)."""
        limit = time.monotonic() + (CASE_LIMIT if seconds is None
                                    else seconds)
        while self.state != CLOSED:
            t = time.monotonic()
            for name, when in sorted(self.timers.items(), key=lambda x: x[1]):
                if when <= t and self.timers.get(name) == when:
                    del self.timers[name]
                    self.fire(name)
            if self.state == CLOSED or t >= limit:
                break
            nxt = min([limit] + list(self.timers.values()))
            self.sock.settimeout(max(nxt - t, 0.0005))
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError as e:
                self.note("server reset the connection ({})".format(e))
                self.lost()
                break
            if not data:
                self.note("server closed TCP")
                self.lost()
                break
            self.inbuf += data
            self.parse()
        if seconds is None and self.state != CLOSED:
            self.drop("case limit")

    def parse(self):
        while self.state != CLOSED:
            got = split_frame(self.inbuf)
            if not got:
                return
            fin, rsv, op, masked, payload, used = got
            del self.inbuf[:used]
            if masked:
                self.violation("masked server frame")
            self.on_frame(fin, rsv, op, payload)

    def on_frame(self, fin, rsv, op, payload):
        if self.got_close:
            self.violation("frame (opcode {}) after the server's close"
                           .format(op))
            return
        if rsv:
            self.violation("RSV bits {} on a server frame".format(rsv))
        if op in (OP_TEXT, OP_BINARY, OP_CONT):
            if (op == OP_CONT) != (self.msg_op is not None):
                self.violation("bad fragment sequence (opcode {})".format(op))
                return
            if op != OP_CONT:
                self.msg_op = op
            self.msg_parts.append(payload)
            if fin:
                data = b"".join(self.msg_parts)
                binary = self.msg_op == OP_BINARY
                self.msg_op, self.msg_parts = None, []
                if not binary:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError:
                        self.violation("invalid UTF-8 in a text message")
                self.event(("message", data, binary))
        elif op == OP_PING:
            self.event(("ping", payload))
            if self.state != CLOSED:
                self.write(frame(OP_PONG, payload))
        elif op == OP_PONG:
            self.event(("pong", payload))
        elif op == OP_CLOSE:
            self.on_close(payload)
        else:
            self.violation("server sent opcode {}".format(op))

    def on_close(self, payload):
        self.got_close = True
        code, reason = None, b""
        if len(payload) == 1:
            self.violation("1-byte close payload from the server")
        elif payload:
            code, reason = struct.unpack("!H", payload[:2])[0], payload[2:]
            if not (code in SERVER_CODES or 3000 <= code <= 4999):
                self.violation("server close code {} is not allowed"
                               .format(code))
            try:
                reason.decode("utf-8")
            except UnicodeDecodeError:
                self.violation("invalid UTF-8 in the server's close reason")
        self.remote_code, self.remote_reason = code, reason
        self.note("server close {} {!r}".format(code, reason[:40]))
        self.was_clean = True
        if self.state == OPEN:
            self.send_close(close_payload(1000), reply=True)
        self.timers.pop("handshake", None)
        self.timers["drop"] = time.monotonic() + DROP_TIMEOUT

    def event(self, ev):
        self.note("received " + brief(ev))
        self.received.append(ev)
        if self.case.on_message and ev[0] == "message":
            self.case.on_message(self, ev)
        if self.case.close_on_message and ev[0] == "message":
            self.send_close(close_payload(1000))
            return
        # The client closes once every expected outcome equals what came.
        if all(self.matches(v) for v in self.case.expected.values()) and \
                self.case.close.by_me and not self.case.suppress:
            self.send_close(close_payload(self.case.close.codes[0]))

    def matches(self, expected):
        return len(self.received) == len(expected) and \
            self.received == expected

    # --- the case ---
    def play(self):
        for step in self.case.steps:
            if self.state == CLOSED:
                break
            kind = step[0]
            if kind == "send":
                _, data, chop, sync = step
                self.note("client writes {} bytes{}{}".format(
                    len(data), " in chops of {}".format(chop) if chop else "",
                    " (own write)" if sync else ""))
                self.write(data, chop, sync)
            elif kind == "later":
                _, delay, tag = step
                self.pump(delay)
                if tag is not None:
                    if self.state != OPEN:
                        break
                    self.received.append(timeout(tag))
                    self.note("pause {} over, still open".format(tag))
            elif kind == "close":
                self.send_close(step[1])
            elif kind == "kill":
                self.timers["kill"] = time.monotonic() + step[1]
            elif kind == "closeafter":
                self.timers["closeafter"] = time.monotonic() + step[1]
            else:
                raise ValueError(kind)
        self.pump()
        return self

    def verdict(self):
        """(behavior, close behavior) by the suite's rules."""
        c = self.case.close
        behavior = FAILED
        for name in (OK, NON_STRICT):
            if name in self.case.expected and \
                    self.matches(self.case.expected[name]):
                behavior = name
                break
        if self.closed_by_me != c.by_me:
            closing = FAILED
        elif c.clean and not self.was_clean:
            closing = UNCLEAN
        elif self.remote_code is not None and self.remote_code not in c.codes:
            closing = WRONG_CODE
        elif self.dropped_by_me:
            closing = FAILED_BY_CLIENT
        else:
            closing = OK
        if c.fatal and self.closed_by_me != c.by_me:
            behavior = FAILED
        if self.case.wrong_code_fails and closing == WRONG_CODE:
            behavior = FAILED
        return behavior, closing

    def report(self):
        exp = {k: brief(v) for k, v in self.case.expected.items()}
        return "\n".join([
            "case {}: {}".format(self.case.id, self.case.doc),
            "expected {}; close by {} with {} (clean {})".format(
                exp, "client" if self.case.close.by_me else "server",
                list(self.case.close.codes), self.case.close.clean),
            "received {}".format(brief(self.received)),
            "closed by {}, server code {} {!r}, clean {}, dropped by client "
            "{}".format("client" if self.closed_by_me else "server",
                        self.remote_code, (self.remote_reason or b"")[:40],
                        self.was_clean, self.dropped_by_me),
            "violations {}".format(self.violations),
            "trace:"] + ["  " + t for t in self.trace[-40:]])


def play(server, case):
    return CatalogClient(server.port, case).play()


def assert_ok(client):
    verdict = client.verdict()
    assert not client.violations and verdict == (OK, OK), \
        "verdict {}\n{}".format(verdict, client.report())
    # Stricter than the suite, which also accepts a bare TCP drop where the
    # close need not be clean: our server always sends its close frame.
    assert client.got_close, \
        "suite verdict OK, but no close frame from the server\n" + \
        client.report()


# --- sections 1-5 ------------------------------------------------------------

def section_1():
    cases = []
    sizes = [0, 125, 126, 127, 128, 65535, 65536, 65536]
    for sub, op, pattern in ((1, OP_TEXT, b"*"), (2, OP_BINARY, b"\xfe")):
        for i, n in enumerate(sizes, 1):
            payload = pattern * n
            chop = 997 if i == 8 else None
            cases.append(Case(
                "1.{}.{}".format(sub, i),
                [F(op, payload, chop=chop),
                 kill_after(1 if n < 65535 else 10)],
                [msg(payload, op == OP_BINARY)],
                doc="{} message of {} bytes{}".format(
                    "text" if op == OP_TEXT else "binary", n,
                    ", written in chops of 997" if chop else "")))
    return cases


def section_2():
    tenp = [b"payload-%d" % i for i in range(10)]
    rows = [
        ("2.1", [F(OP_PING), close_after(1)], [pong()], "empty ping"),
        ("2.2", [F(OP_PING, "Hello, world!"), close_after(1)],
         [pong("Hello, world!")], "ping with text payload"),
        ("2.3", [F(OP_PING, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"),
                 close_after(1)],
         [pong(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")], "binary ping payload"),
        ("2.4", [F(OP_PING, b"\xfe" * 125), close_after(1)],
         [pong(b"\xfe" * 125)], "ping of 125 bytes"),
        ("2.6", [F(OP_PING, b"\xfe" * 125, chop=1), close_after(2)],
         [pong(b"\xfe" * 125)], "ping of 125 bytes written byte by byte"),
        ("2.7", [F(OP_PONG), close(1000), close_after(1)], [],
         "unsolicited empty pong, then close"),
        ("2.8", [F(OP_PONG, "unsolicited pong payload"), close(1000),
                 close_after(1)], [], "unsolicited pong, then close"),
        ("2.9", [F(OP_PONG, "unsolicited pong payload"),
                 F(OP_PING, "ping payload"), close_after(1)],
         [pong("ping payload")], "unsolicited pong, then a ping"),
        ("2.10", [F(OP_PING, p) for p in tenp] + [close_after(3)],
         [pong(p) for p in tenp], "10 pings: 10 pongs"),
        ("2.11", [F(OP_PING, p, chop=1) for p in tenp] + [close_after(3)],
         [pong(p) for p in tenp], "10 pings written byte by byte"),
    ]
    cases = [Case(cid, steps, ok, doc=doc) for cid, steps, ok, doc in rows]
    cases.insert(4, Case("2.5", [F(OP_PING, b"\xfe" * 126), kill_after(1)],
                         [], close=SERVER_1002, doc="ping of 126 bytes: 1002"))
    return cases


HELLO = "Hello, world!"


def bad_between(bad, chop=None, sync=False):
    """Text echoed, then a bad frame, then a ping that must go unanswered
    (3.2-3.4, 4.1.3-4.1.5, 4.2.3-4.2.5)."""
    return [F(OP_TEXT, HELLO, chop=chop, sync=sync)] + bad + \
        [F(OP_PING, chop=chop, sync=sync), kill_after(1)]


def section_3():
    H = HELLO
    return [
        Case("3.1", [F(OP_TEXT, H, rsv=1), kill_after(1)], [],
             close=SERVER_1002, doc="RSV3 set: 1002"),
        Case("3.2", bad_between([F(OP_TEXT, H, rsv=2)]), [msg(H)], [],
             close=SERVER_1002, doc="echo, then RSV2 frame: 1002, no pong"),
        Case("3.3", bad_between([F(OP_TEXT, H, rsv=3, sync=True)],
                                sync=True), [msg(H)], [],
             close=SERVER_1002, doc="as 3.2, RSV2+3, separate writes"),
        Case("3.4", bad_between([F(OP_TEXT, H, rsv=4, chop=1)], chop=1),
             [msg(H)], [], close=SERVER_1002,
             doc="as 3.2, RSV1, byte by byte"),
        Case("3.5", [F(OP_BINARY, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", rsv=5),
                     kill_after(1)], [], close=SERVER_1002,
             doc="binary with RSV1+3: 1002"),
        # (The suite describes 3.6 as a ping; it writes a binary frame.)
        Case("3.6", [F(OP_BINARY, H, rsv=6), kill_after(1)], [],
             close=SERVER_1002, doc="binary with RSV1+2: 1002"),
        Case("3.7", [F(OP_CLOSE, rsv=7), kill_after(1)], [],
             close=SERVER_1002, doc="close with all RSV bits: 1002"),
    ]


def section_4():
    H = HELLO
    cases = []
    for sub, ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
        a, b, c, d, e = ops
        cases += [
            Case("4.{}.1".format(sub), [F(a), kill_after(1)], [],
                 close=SERVER_1002, doc="opcode {}: 1002".format(a)),
            Case("4.{}.2".format(sub),
                 [F(b, "reserved opcode payload"), kill_after(1)], [],
                 close=SERVER_1002,
                 doc="opcode {} with payload: 1002".format(b)),
            Case("4.{}.3".format(sub), bad_between([F(c)]), [msg(H)], [],
                 close=SERVER_1002,
                 doc="echo, then opcode {}: 1002, no pong".format(c)),
            Case("4.{}.4".format(sub), bad_between([F(d, H)]), [msg(H)], [],
                 close=SERVER_1002,
                 doc="echo, then opcode {} with payload".format(d)),
            Case("4.{}.5".format(sub), bad_between([F(e, H, chop=1)], chop=1),
                 [msg(H)], [], close=SERVER_1002,
                 doc="as .4 with opcode {}, byte by byte".format(e)),
        ]
    return cases


def section_5():
    f1, f2 = "fragment1", "fragment2"
    nc = "non-continuation payload"
    cases = [
        Case("5.1", [F(OP_PING, f1, fin=False), F(OP_CONT, f2),
                     kill_after(1)], [], close=SERVER_1002,
             doc="fragmented ping: 1002"),
        Case("5.2", [F(OP_PONG, f1, fin=False), F(OP_CONT, f2),
                     kill_after(1)], [], close=SERVER_1002,
             doc="fragmented pong: 1002"),
    ]
    for cid, kw in (("5.3", {}), ("5.4", {"sync": True}),
                    ("5.5", {"chop": 1})):
        cases.append(Case(cid, [F(OP_TEXT, f1, fin=False, **kw),
                                F(OP_CONT, f2, **kw), close_after(1)],
                          [msg(f1 + f2)],
                          doc="text in 2 fragments {}".format(kw or "")))
    for cid, kw in (("5.6", {}), ("5.7", {"sync": True}),
                    ("5.8", {"chop": 1})):
        cases.append(Case(cid, [F(OP_TEXT, f1, fin=False, **kw),
                                F(OP_PING, "ping payload", **kw),
                                F(OP_CONT, f2, **kw), close_after(1)],
                          [pong("ping payload"), msg(f1 + f2)],
                          doc="ping between 2 fragments {}".format(kw or "")))
    for cid, fin, kw in (("5.9", True, {}), ("5.10", True, {"sync": True}),
                         ("5.11", True, {"chop": 1}),
                         ("5.12", False, {}), ("5.13", False, {"sync": True}),
                         ("5.14", False, {"chop": 1})):
        cases.append(Case(cid, [F(OP_CONT, nc, fin=fin, **kw),
                                F(OP_TEXT, HELLO, **kw), kill_after(1)], [],
                          close=SERVER_1002,
                          doc="continuation (fin={}) first: 1002 {}".format(
                              fin, kw or "")))
    cases.append(Case("5.15", [F(OP_TEXT, f1, fin=False), F(OP_CONT, f2),
                               F(OP_CONT, "fragment3", fin=False),
                               F(OP_TEXT, "fragment4"), kill_after(1)],
                      [msg(f1 + f2)], [], close=SERVER_1002,
                      doc="a message, then a continuation: echo, 1002"))
    trio = [(OP_CONT, f1), (OP_TEXT, f2), (OP_CONT, "fragment3")]
    cases.append(Case("5.16", [F(op, p, fin=(op == OP_CONT and i == 2))
                               for _ in range(2)
                               for i, (op, p) in enumerate(trio)] +
                      [kill_after(1)], [], close=SERVER_1002,
                      doc="continuation (fin=0) first, twice: 1002"))
    cases.append(Case("5.17", [F(op, p, fin=(op == OP_CONT))
                               for _ in range(2) for op, p in trio] +
                      [kill_after(1)], [], close=SERVER_1002,
                      doc="continuation (fin=1) first, twice: 1002"))
    cases.append(Case("5.18", [F(OP_TEXT, f1, fin=False), F(OP_TEXT, f2),
                               kill_after(1)], [], close=SERVER_1002,
                      doc="text frame inside a text message: 1002"))
    for cid, sync in (("5.19", False), ("5.20", True)):
        fr = ["fragment%d" % i for i in range(1, 6)]
        cases.append(Case(cid, [
            F(OP_TEXT, fr[0], fin=False, sync=sync),
            F(OP_CONT, fr[1], fin=False, sync=sync),
            F(OP_PING, "pongme 1!", sync=sync),
            later(PAUSE),
            F(OP_CONT, fr[2], fin=False, sync=sync),
            F(OP_CONT, fr[3], fin=False, sync=sync),
            F(OP_PING, "pongme 2!", sync=sync),
            F(OP_CONT, fr[4], sync=sync),
            close_after(1)],
            [pong("pongme 1!"), pong("pongme 2!"), msg("".join(fr))],
            doc="5 fragments with 2 pings and a pause{}".format(
                ", separate writes" if sync else "")))
    return cases


# --- section 6: UTF-8 --------------------------------------------------------

HELLO_UTF8 = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"
KAPPA = "\u03ba\u1f79\u03c3\u03bc\u03b5".encode("utf-8")   # ce ba e1 bd b9 ...
# KAPPA, a UTF-16 surrogate (invalid at its second byte), more text.
BAD_KAPPA = KAPPA + b"\xed\xa0\x80" + b"edited"
# KAPPA, then U+110000 in the UTF-8 scheme (invalid at its second byte).
BEYOND = KAPPA + b"\xf4\x90\x80\x80" + b"edited"


def cp(*points):
    """UTF-8-style encoding of code points, surrogates included."""
    return "".join(map(chr, points)).encode("utf-8", "surrogatepass")


def h(text):
    return bytes.fromhex(text)


INCOMPLETE = [h("c0"), h("e080"), h("f08080"), h("f8808080"),
              h("fc80808080"), h("df"), h("efbf"), h("f7bfbf"),
              h("fbbfbfbf"), h("fdbfbfbfbf")]

# Subsection 6.5 onwards, after Markus Kuhn's UTF-8 decoder stress test:
# (subsection, title, validity, sequences).  validity True/False for the
# whole group, None: valid exactly when the bytes are complete UTF-8.
UTF8_GROUPS = [
    (5, "valid sequences", True,
     [b"hello$world", b"hello" + cp(0xA2) + b"world",
      b"hello" + cp(0x20AC) + b"world", b"hello" + cp(0x24B62) + b"world",
      KAPPA]),
    (6, "every prefix of a valid multi-byte string", None,
     [KAPPA[:n] for n in range(1, len(KAPPA) + 1)]),
    (7, "first sequence of each length", True,
     [cp(0), cp(0x80), cp(0x800), cp(0x10000)]),
    (8, "first 5- and 6-byte sequences", False,
     [h("f888808080"), h("fc8480808080")]),
    (9, "last sequence of each length", True,
     [cp(0x7F), cp(0x7FF), cp(0xFFFF), cp(0x10FFFF)]),
    (10, "last 4-, 5-, 6-byte sequences", False,
     [h("f7bfbfbf"), h("fbbfbfbfbf"), h("fdbfbfbfbfbf")]),
    (11, "other boundaries", None,
     [cp(0xD7FF), cp(0xE000), cp(0xFFFD), cp(0x10FFFF), h("f4908080")]),
    (12, "unexpected continuation bytes", False,
     [h("80"), h("bf"), h("80bf"), h("80bf80"), h("80bf80bf"),
      h("80bf80bf80"), h("80bf80bf80bf"), bytes(range(0x80, 0xBF))]),
    (13, "lonely start bytes, each followed by a space", False,
     [b"".join(bytes([b, 0x20]) for b in range(lo, hi))
      for lo, hi in ((0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7),
                     (0xF8, 0xFB), (0xFC, 0xFD))]),
    (14, "sequences missing their last byte", False, INCOMPLETE),
    (15, "those concatenated", False, [b"".join(INCOMPLETE)]),
    (16, "impossible bytes", False, [h("fe"), h("ff"), h("fefeffff")]),
    (17, "overlong '/'", False,
     [h("c0af"), h("e080af"), h("f08080af"), h("f8808080af"),
      h("fc80808080af")]),
    (18, "maximum overlong sequences", False,
     [h("c1bf"), h("e09fbf"), h("f08fbfbf"), h("f887bfbfbf"),
      h("fc83bfbfbfbf")]),
    (19, "overlong NUL", False,
     [h("c080"), h("e08080"), h("f0808080"), h("f880808080"),
      h("fc8080808080")]),
    (20, "single UTF-16 surrogates", False,
     [cp(s) for s in (0xD800, 0xDB7F, 0xDB80, 0xDBFF, 0xDC00, 0xDF80,
                      0xDFFF)]),
    (21, "paired UTF-16 surrogates", False,
     [cp(hi, lo) for hi in (0xD800, 0xDB7F, 0xDB80, 0xDBFF)
      for lo in (0xDC00, 0xDFFF)]),
    (22, "non-characters (valid UTF-8)", True,
     [cp(0xFFFE), cp(0xFFFF)] +
     [cp(plane << 16 | low) for plane in range(1, 17)
      for low in (0xFFFE, 0xFFFF)]),
    (23, "specials U+FFF9..U+FFFF", True,
     [cp(c) for c in range(0xFFF9, 0x10000)]),
]


def strict_utf8(data):
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def utf8_rows():
    """(case id, payload, valid) for 6.5.1 ... 6.23.7."""
    rows = []
    for sub, _title, validity, seqs in UTF8_GROUPS:
        for j, seq in enumerate(seqs, 1):
            valid = strict_utf8(seq) if validity is None else validity
            rows.append(("6.{}.{}".format(sub, j), seq, valid))
    return rows


def section_6():
    cases = [
        Case("6.1.1", [F(OP_TEXT, ""), close_after(1)], [msg("")],
             doc="empty text"),
        Case("6.1.2", [F(OP_TEXT, "", fin=False), F(OP_CONT, "", fin=False),
                       F(OP_CONT, ""), close_after(1)], [msg("")],
             doc="3 empty fragments"),
        Case("6.1.3", [F(OP_TEXT, "", fin=False),
                       F(OP_CONT, "middle frame payload", fin=False),
                       F(OP_CONT, ""), close_after(1)],
             [msg("middle frame payload")], doc="empty, text, empty"),
        Case("6.2.1", [F(OP_TEXT, HELLO_UTF8), close_after(1)],
             [msg(HELLO_UTF8)], doc="valid UTF-8 in one frame"),
        Case("6.2.2", [F(OP_TEXT, HELLO_UTF8[:11], fin=False),
                       F(OP_CONT, HELLO_UTF8[11:]), close_after(1)],
             [msg(HELLO_UTF8)], doc="split on a code point boundary"),
        Case("6.2.3", [fragments(OP_TEXT, HELLO_UTF8, 1), close_after(1)],
             [msg(HELLO_UTF8)], doc="1-byte fragments, split inside "
             "code points"),
        Case("6.2.4", [fragments(OP_TEXT, KAPPA, 1), close_after(1)],
             [msg(KAPPA)], doc="KAPPA in 1-byte fragments"),
        Case("6.3.1", [F(OP_TEXT, BAD_KAPPA), kill_after(1)], [],
             close=SERVER_1007, doc="invalid UTF-8 in one frame: 1007"),
        Case("6.3.2", [fragments(OP_TEXT, BAD_KAPPA, 1), kill_after(1)], [],
             close=SERVER_1007, doc="invalid UTF-8 in 1-byte fragments"),
    ]
    # 6.4.x: a valid part, a pause (the server must stay open), the part
    # that makes the text invalid, then up to 1 s for the close 1007 before
    # the rest would be sent.
    whole = frame(OP_TEXT, BEYOND)
    hdr = len(whole) - len(BEYOND)
    for cid, cut1, cut2, in_frames in (("6.4.1", 11, 15, True),
                                       ("6.4.2", 12, 13, True),
                                       ("6.4.3", 11, 15, False),
                                       ("6.4.4", 12, 13, False)):
        if in_frames:
            parts = [F(OP_TEXT, BEYOND[:cut1], fin=False),
                     F(OP_CONT, BEYOND[cut1:cut2], fin=False),
                     F(OP_CONT, BEYOND[cut2:])]
            how = "3 frames"
        else:
            parts = [send(whole[:hdr + cut1]),
                     send(whole[hdr + cut1:hdr + cut2]),
                     send(whole[hdr + cut2:])]
            how = "3 writes of one frame"
        cases.append(Case(cid, [parts[0], later(PAUSE, "A"), parts[1],
                                later(1.0, "B"), parts[2], kill_after(1)],
                          [timeout("A")], [timeout("A"), timeout("B")],
                          close=SERVER_1007,
                          doc="fail fast, {}: bytes [{}:{}] make it "
                          "invalid".format(how, cut1, cut2)))
    for cid, payload, valid in utf8_rows():
        if valid:
            cases.append(Case(cid, [F(OP_TEXT, payload), kill_after(0.5)],
                              [msg(payload)], doc="valid " + payload.hex()))
        else:
            cases.append(Case(cid, [F(OP_TEXT, payload), kill_after(0.5)],
                              [], close=SERVER_1007,
                              doc="invalid " + payload.hex()))
    return cases


# --- section 7: closing ----------------------------------------------------

def section_7():
    H = "Hello World!"

    def c7(cid, steps, ok=(), close_rule=CLIENT_1000, doc="", **kw):
        return Case(cid, steps, list(ok), close=close_rule, suppress=True,
                    wrong_code_fails=True, doc=doc, **kw)

    cases = [
        Case("7.1.1", [F(OP_TEXT, H), kill_after(1)], [msg(H)],
             wrong_code_fails=True, doc="a message, then the client closes"),
        c7("7.1.2", [close(1000), F(OP_CLOSE), kill_after(1)],
           doc="two close frames"),
        c7("7.1.3", [close(1000), F(OP_PING), kill_after(1)],
           doc="a ping after close: no pong"),
        c7("7.1.4", [close(1000), F(OP_TEXT, H), kill_after(1)],
           doc="text after close: ignored"),
        c7("7.1.5", [F(OP_TEXT, "fragment1", fin=False), close(1000),
                     F(OP_CONT, "fragment2"), kill_after(1)],
           doc="fragment, close, fragment"),
    ]
    big = rep("BAsd7&jh23", 256 * KiB)
    cases.append(Case(
        "7.1.6", [F(OP_TEXT, big), F(OP_TEXT, H), close(1000), F(OP_PING),
                  kill_after(1)], [msg(H)], [], suppress=True,
        informational=([msg(big), msg(H)], [1000]),
        doc="256 KiB text, text, close, ping back to back"))
    cases += [
        c7("7.3.1", [close(raw=b""), kill_after(1)],
           doc="empty close payload"),
        c7("7.3.2", [close(raw=b"a"), kill_after(1)],
           close_rule=Close(True, [1002], False),
           doc="1-byte close payload: 1002"),
        c7("7.3.3", [close(1000), kill_after(1)], doc="close 1000"),
        c7("7.3.4", [close(1000, H), kill_after(1)], doc="close with reason"),
        c7("7.3.5", [close(1000, "*" * 123), kill_after(1)],
           doc="reason of 123 bytes"),
        c7("7.3.6", [close(1000, "*" * 124), kill_after(1)],
           close_rule=Close(True, [1002], False),
           doc="reason of 124 bytes (payload 126): 1002"),
        c7("7.5.1", [close(1000, BAD_KAPPA), kill_after(1)],
           close_rule=Close(True, [1002, 1007], False),
           doc="invalid UTF-8 close reason"),
    ]
    valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000,
             3999, 4000, 4999]
    for i, code in enumerate(valid, 1):
        cases.append(c7("7.7.{}".format(i), [close(code), kill_after(1)],
                        close_rule=Close(True, [1000, code], True),
                        doc="valid close code {}".format(code)))
    invalid = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]
    for i, code in enumerate(invalid, 1):
        cases.append(c7("7.9.{}".format(i), [close(code), kill_after(1)],
                        close_rule=Close(True, [1002], False),
                        doc="invalid close code {}".format(code)))
    for i, code in enumerate((5000, 65535), 1):
        cases.append(c7("7.13.{}".format(i), [close(code), kill_after(1)],
                        close_rule=Close(True, [1000, code, 1002], False),
                        informational=([], [1002]),
                        doc="close code {} (undefined by the spec)"
                        .format(code)))
    return cases


# --- sections 9 and 10: limits, performance ----------------------------------

def echo_next(op, payload, count):
    """9.7/9.8: each echo sends the next message, up to count."""
    def hook(client, ev):
        if len(client.received) < count:
            client.write(frame(op, payload))
    return hook


def section_9():
    cases = []
    sizes = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB]
    for sub, op, pattern in ((1, OP_TEXT, "BAsd7&jh23"),
                             (2, OP_BINARY, b"\x00\xfe\x23\xfa\xf0")):
        for i, n in enumerate(sizes, 1):
            cases.append(Case(
                "9.{}.{}".format(sub, i),
                lambda op=op, pattern=pattern, n=n:
                    [F(op, rep(pattern, n)),
                     close_after(10 if n == 64 * KiB else 100)],
                lambda op=op, pattern=pattern, n=n:
                    [msg(rep(pattern, n), op == OP_BINARY)],
                close_on_message=True,
                doc="{} message of {} bytes".format(
                    "text" if op == OP_TEXT else "binary", n)))
    frags = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB,
             4 * MiB]
    for sub, op in ((3, OP_TEXT), (4, OP_BINARY)):
        for i, size in enumerate(frags, 1):
            # (9.4.1 sends 0xfe bytes, the others '*'.)
            pattern = b"\xfe" if (sub, i) == (4, 1) else b"*"
            cases.append(Case(
                "9.{}.{}".format(sub, i),
                lambda op=op, pattern=pattern, size=size:
                    [fragments(op, pattern * (4 * MiB), size),
                     close_after(100)],
                lambda op=op, pattern=pattern:
                    [msg(pattern * (4 * MiB), op == OP_BINARY)],
                close_on_message=True,
                doc="4 MiB {} message in {} fragments of {} bytes".format(
                    "text" if op == OP_TEXT else "binary", 4 * MiB // size,
                    size)))
    chops = [64, 128, 256, 512, 1024, 2048]
    for sub, op, pattern in ((5, OP_TEXT, "BAsd7&jh23"),
                             (6, OP_BINARY, b"\x00\xfe\x23\xfa\xf0")):
        for i, chop in enumerate(chops, 1):
            cases.append(Case(
                "9.{}.{}".format(sub, i),
                lambda op=op, pattern=pattern, chop=chop:
                    [F(op, rep(pattern, MiB), chop=chop), close_after(1000)],
                lambda op=op, pattern=pattern:
                    [msg(rep(pattern, MiB), op == OP_BINARY)],
                close_on_message=True,
                doc="1 MiB {} message written in chops of {} bytes".format(
                    "text" if op == OP_TEXT else "binary", chop)))
    rtt = [(0, 60), (16, 60), (64, 60), (256, 120), (1024, 240),
           (4096, 480)]
    for sub, op in ((7, OP_TEXT), (8, OP_BINARY)):
        for i, (n, wait) in enumerate(rtt, 1):
            payload = rep("*" if op == OP_TEXT else b"\xfe", n)
            cases.append(Case(
                "9.{}.{}".format(sub, i),
                lambda op=op, payload=payload, wait=wait:
                    [F(op, payload), close_after(wait)],
                lambda op=op, payload=payload:
                    [msg(payload, op == OP_BINARY)] * 1000,
                on_message=echo_next(op, payload, 1000),
                doc="1000 round trips of {} {} bytes, one at a time".format(
                    n, "text" if op == OP_TEXT else "binary")))
    return cases


def build(case):
    """Section 9 builds its (large) frames only when a case runs."""
    if not callable(case.steps):
        return case
    return Case(case.id, case.steps(), case.expected[OK](),
                on_message=case.on_message,
                close_on_message=case.close_on_message, doc=case.doc)


def section_10():
    payload = "*" * 65536
    return [Case("10.1.1", [fragments(OP_TEXT, payload, 1300), kill_after(10)],
                 [msg(payload)],
                 doc="64 KiB text in 1300-byte fragments")]


# --- the tests ---------------------------------------------------------------

def params(cases):
    return [pytest.param(c, id=c.id) for c in cases]


@pytest.mark.parametrize("case", params(
    section_1() + section_2() + section_3() + section_4() + section_5()))
def test_framing_pings_reserved_bits_opcodes_and_fragments_are_ok(server,
                                                                   case):
    """Cases 1.x-5.x reach OK (behaviour and close)."""
    assert_ok(play(server, case))


@pytest.mark.parametrize("case", params(section_6()))
def test_utf8_case_is_ok(server, case):
    """Cases 6.x: valid text echoed, invalid text fails fast with 1007."""
    assert_ok(play(server, case))


@pytest.mark.parametrize("case", params(
    [c for c in section_7() if c.informational is None]))
def test_close_handling_case_is_ok(server, case):
    """Cases 7.1-7.9 reach OK."""
    assert_ok(play(server, case))


@pytest.mark.parametrize("case", params(
    [c for c in section_7() if c.informational is not None]))
def test_informational_close_case_gets_our_documented_answer(server, case):
    """7.1.6 and 7.13.x are INFORMATIONAL in the suite (any outcome); we
    hold our server to its own behaviour: everything before the close is
    echoed, an invalid code gets 1002, the close is clean and the server
    drops TCP in time."""
    client = play(server, case)
    events, codes = case.informational
    assert not client.violations, client.report()
    assert client.received == events, client.report()
    assert client.closed_by_me and client.remote_code in codes, \
        client.report()
    assert client.was_clean and not client.dropped_by_me, client.report()


@pytest.mark.parametrize("case", params(section_9() + section_10()))
def test_limits_and_performance_case_is_ok(server, case):
    """Cases 9.x (full sizes) and 10.1.1 reach OK."""
    client = play(server, build(case))
    client.note("case took {:.2f}s".format(client.now()))
    assert_ok(client)


def test_utf8_table_agrees_with_a_strict_decoder():
    """Our reconstruction of 6.5-6.23: each sequence's expected validity is
    what a strict RFC 3629 decoder says, and the subsections have the
    suite's sizes."""
    for sub, _title, validity, seqs in UTF8_GROUPS:
        if validity is not None:
            assert [strict_utf8(s) for s in seqs] == [validity] * len(seqs), \
                sub
    sizes = [len(g[3]) for g in UTF8_GROUPS]
    assert sizes == [5, 11, 4, 2, 4, 3, 5, 8, 5, 10, 1, 3, 5, 5, 5, 7, 8,
                     34, 7]
    valid = [v for _, _, v in utf8_rows()]
    assert valid[5:16] == [n in (2, 5, 7, 9, 11) for n in range(1, 12)]


# 12.x / 13.x: the permessage-deflate offers of the fuzzing client, with
# what this server answers (the defaults: server_no_context_takeover, a
# client window of at most 12 when the client lets us choose), and then the
# cases' traffic in our rendering: messages of 16 B to 128 KB, text and
# binary, compressed by the client as its offer says (a fresh compressor
# per message with client_no_context_takeover), some in three fragments
# (RSV1 on the first only), each echoed compressed and inflating to what
# was sent.
DEFLATE_OFFERS = [
    ("12.x+13.1", "permessage-deflate; client_no_context_takeover; "
     "client_max_window_bits",
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; client_max_window_bits=12"),
    ("13.2", "permessage-deflate; client_no_context_takeover; "
     "client_max_window_bits; server_no_context_takeover",
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; client_max_window_bits=12"),
    ("13.3", "permessage-deflate; client_no_context_takeover; "
     "client_max_window_bits; server_max_window_bits=9",
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; server_max_window_bits=9; "
     "client_max_window_bits=12"),
    ("13.7", "permessage-deflate; client_no_context_takeover; "
     "client_max_window_bits; server_no_context_takeover; "
     "server_max_window_bits=9, permessage-deflate; "
     "client_no_context_takeover; client_max_window_bits; "
     "server_no_context_takeover, permessage-deflate; "
     "client_no_context_takeover; client_max_window_bits",
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; server_max_window_bits=9; "
     "client_max_window_bits=12"),
    ("client-takeover", "permessage-deflate; client_max_window_bits",
     "permessage-deflate; server_no_context_takeover; "
     "client_max_window_bits=12"),
]

DEFLATE_SIZES = [16, 64, 256, 1024, 4096, 16384, 65536, 131072]
TAIL = b"\x00\x00\xff\xff"


def deflate_text(n, i):
    """Compressible, varied text of n bytes (JSON-like, as 12.x's)."""
    words = ["alpha", "beta", "gamma", "delta", "{\"k\":", str(i), "}"]
    out, j, size = [], 0, 0
    while size < n:
        w = words[(j * 7 + i) % len(words)]
        out.append(w)
        size += len(w) + 1
        j += 1
    return (" ".join(out))[:n].encode()


@pytest.mark.parametrize("offer,answer", [(o, a) for _, o, a in
                                          DEFLATE_OFFERS],
                         ids=[i for i, _, _ in DEFLATE_OFFERS])
def test_deflate_offers_are_agreed_and_every_message_round_trips(server,
                                                                 offer,
                                                                 answer):
    headers = dict(CLIENT_HEADERS, **{"Sec-WebSocket-Extensions": offer})
    client_no_takeover = "client_no_context_takeover" in answer
    with RawWebSocket(server.port, "/echo", headers=headers) as ws:
        assert ws.response.status == 101
        assert ws.response.header_all("Sec-WebSocket-Extensions") == \
            [answer]
        comp = zlib.compressobj(6, zlib.DEFLATED, -12)
        k = 0
        for n in DEFLATE_SIZES:
            for opcode in (OP_TEXT, OP_BINARY):
                for rep in range(3):
                    k += 1
                    msg = deflate_text(n, k) if opcode == OP_TEXT \
                        else os.urandom(n // 2) + deflate_text(n - n // 2, k)
                    if client_no_takeover:
                        comp = zlib.compressobj(6, zlib.DEFLATED, -12)
                    z = comp.compress(msg) + comp.flush(zlib.Z_SYNC_FLUSH)
                    assert z.endswith(TAIL)
                    z = z[:-4]
                    if rep == 2 and len(z) >= 3:
                        third = len(z) // 3
                        ws.send_frame(opcode, z[:third], fin=False, rsv=4)
                        ws.send_frame(OP_CONT, z[third:2 * third],
                                      fin=False)
                        ws.send_frame(OP_CONT, z[2 * third:])
                    else:
                        ws.send_frame(opcode, z, rsv=4)
                    got_op, data, compressed = b"", b"", None
                    while True:
                        fin, rsv, op, payload = ws.recv_frame()
                        if compressed is None:
                            compressed = bool(rsv & 4)
                            got_op = op
                        else:
                            assert op == OP_CONT and rsv == 0
                        data += payload
                        if fin:
                            break
                    assert got_op == opcode
                    # Messages under WebSocketCompressionMinSize (64) go
                    # as they are; the rest compressed, each on its own
                    # (server_no_context_takeover).
                    assert compressed == (n >= 64), (n, compressed)
                    if compressed:
                        d = zlib.decompressobj(-15)
                        data = d.decompress(data + TAIL)
                    assert data == msg, (n, opcode, rep)
        ws.send_frame(OP_CLOSE, close_payload(1000))
        assert ws.expect_close() == (1000, b"")
        ws.expect_eof(timeout=DROP_TIMEOUT)
