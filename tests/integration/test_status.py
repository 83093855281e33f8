"""What an admin sees: the `websocket-status` page (HTML and JSON) and
mod_status's section with the whole server's figures -- every child, the
old generation after a graceful restart, a killed child's counters kept
but its sockets no longer open -- and one access-log line per WebSocket
session at its end, the same under event, worker and prefork."""
import asyncio
import json
import os
import re
import signal
import time

import pytest
import websockets

import childmap
import wsutil
from conftest import BUILD, TOP, server_status, stop_server

BROADCAST_SO = os.path.join(BUILD, "handlers", "broadcast.so")

SITE = """
WebSocketLoadHandler echo "@ECHO_SO@"
WebSocketLoadHandler broadcast "{bc}"
<Location "/bc">
    WebSocketHandler broadcast
</Location>
<Location "/echo">
    WebSocketHandler echo
    WebSocketMaxMessageSize 1K
</Location>
<Location "/echo2">
    WebSocketHandler echo
</Location>
<Location "/websocket-status">
    SetHandler websocket-status
    Require local
</Location>
LogFormat "%>s %D \\"%r\\" s=%{WS_SESSION}e d=%{WS_DURATION}e code=%{WS_CLOSE_CODE}e by=%{WS_CLOSED_BY}e reason=\\"%{WS_CLOSE_REASON}e\\" in=%{WS_MSGS_IN}e/%{WS_BYTES_IN}e out=%{WS_MSGS_OUT}e/%{WS_BYTES_OUT}e b=%b I=%I O=%O proto=%{WS_PROTOCOL}e ext=\\"%{WS_COMPRESSION}e\\" ua=\\"%{User-Agent}i\\"" session
CustomLog "@ROOT@/logs/session_log" session env=WS_SESSION
CustomLog "@ROOT@/logs/upgrade_log" session env=!WS_SESSION
# Every field mod_log_config (and mod_logio, built in) has, on every line: the
# session's line is a request httpd never made, and must not trip any.
LogFormat "%a %{c}a %A %b %B %{Cookie}C %D %{WS_SESSION}e %f %h %{c}h %H %{User-Agent}i %k %l %L %m %{x}n %{Sec-WebSocket-Accept}o %p %{remote}p %P %{tid}P %q %r %R %s %>s %t %{%s}t %{end:msec}t %T %{ms}T %u %U %v %V %X %I %O %S %{x}^ti %{x}^to" sink
CustomLog "@ROOT@/logs/sink_log" sink
""".replace("{bc}", BROADCAST_SO)

# Killing a child on purpose: httpd says so at error level.
KILLED = (r"AH00052", r"exit signal Killed")


@pytest.fixture(scope="module")
def event2(httpd_factory):
    srv = httpd_factory("status-event", SITE, servers=2, start_servers=2)
    yield srv
    stop_server(srv)


def uri(srv, path):
    return "ws://127.0.0.1:{}{}".format(srv.port, path)


async def connect(srv, path, **kw):
    kw.setdefault("compression", None)
    return await websockets.connect(uri(srv, path), open_timeout=20,
                                    close_timeout=5, **kw)


def status_json(srv, query="json"):
    r = wsutil.http_get(srv.port, "/websocket-status?" + query)
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/json"
    return json.loads(r.body)


def location(model, path):
    return next(loc for loc in model["locations"] if loc["path"] == path)


def wait_for(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    return pred()


# --- the status page ---------------------------------------------------------

def test_totals_match_what_was_opened_across_children(event2):
    """Connections spread over two children: the page's totals, its rows
    per child (checked against the kernel's view of which child holds
    which socket) and per location, and mod_status's ?auto lines agree."""
    before = status_json(event2)

    async def main():
        conns, pids = await childmap.spread(event2, connect, "/echo2", 12)
        for ws in conns:
            for i in range(3):
                await ws.send("m%d" % i)
                assert await ws.recv() == "m%d" % i
        model = status_json(event2)
        html = wsutil.http_get(event2.port, "/websocket-status").body
        auto = server_status(event2.port)
        for ws in conns:
            await ws.close()
        return conns, pids, model, html.decode(), auto

    conns, pids, model, html, auto = wsutil.run(main(), 60)
    n = len(conns)
    tot = model["totals"]
    assert tot["open"] == before["totals"]["open"] + n
    assert tot["in_event_loops"] == tot["open"]
    assert tot["in_threads"] == 0
    assert tot["accepted"] - before["totals"]["accepted"] == n
    assert tot["messages_in"] - before["totals"]["messages_in"] == 3 * n
    assert tot["messages_out"] - before["totals"]["messages_out"] == 3 * n
    assert tot["bytes_in"] > before["totals"]["bytes_in"]
    loc = location(model, "/echo2")
    assert loc["handler"] == "echo"
    assert loc["open"] == n
    assert loc["limits"]["max_message_size"] > 0
    by_pid = {c["pid"]: c for c in model["children"]}
    assert len(by_pid) >= 2
    for pid in set(pids):
        assert by_pid[pid]["open"] == pids.count(pid), (pid, by_pid)
    assert sum(c["open"] for c in model["children"]) == tot["open"]
    assert model["config"]["mpm"] == "event"
    assert model["config"]["event_loops_per_child"] >= 1
    assert model["server"]["uptime_s"] >= 0
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                    model["server"]["started"])
    # The same totals for people, and on mod_status's page.
    assert "<h1>WebSocket status</h1>" in html
    assert "<td>/echo2</td><td>echo</td><td>{}</td>".format(n) in html
    assert int(auto["WebSocketsOpen"]) == tot["open"]
    assert int(auto["WebSocketMessagesIn"]) == tot["messages_in"]
    # Closed by the clients, with 1000.
    after = wait_for(lambda: (lambda m: m if m["totals"]["open"] == 0
                              else None)(status_json(event2)))
    assert after["totals"]["open"] == 0
    closes = after["totals"]["closes_by_code"]
    assert closes["1000"] - before["totals"]["closes_by_code"]["1000"] == n
    assert after["drops_and_closes"]["closed_by_client"] \
        - before["drops_and_closes"]["closed_by_client"] == n


def test_channels_and_subscriptions(event2):
    """Subscribers of two channels in two children: the page counts the
    subscriptions, and the hub's channels (its figures are written once a
    second)."""
    async def main():
        conns = []
        for name in ("stat-a", "stat-b"):
            more, _ = await childmap.spread(
                event2, connect, "/bc?channel=" + name, 3)
            conns += more
        await conns[0].send("to a")
        await asyncio.sleep(0.3)
        deadline = time.time() + 5
        while True:
            model = status_json(event2)
            if model["channels"]["channels"] >= 2 or time.time() > deadline:
                break
            await asyncio.sleep(0.2)
        for ws in conns:
            await ws.close()
        return len(conns), model

    n, model = wsutil.run(main(), 60)
    assert model["channels"]["subscriptions"] == n
    assert model["totals"]["subscriptions"] == n
    assert model["channels"]["channels"] >= 2
    assert model["channels"]["as_of"]
    assert model["totals"]["channel_published"] >= 1


def test_refusals_by_reason(event2):
    before = status_json(event2)["refused"]
    r = wsutil.handshake_status(
        event2.port, "/echo", headers={"Origin": "http://elsewhere.example"})
    assert r.status == 403
    r = wsutil.handshake_status(event2.port, "/echo",
                                headers={"Sec-WebSocket-Version": "8"})
    assert r.status == 426
    after = status_json(event2)["refused"]
    assert after["origin"] == before["origin"] + 1
    assert after["handshake"] == before["handshake"] + 1


def test_refresh_json_flag_and_methods(event2):
    r = wsutil.http_get(event2.port, "/websocket-status?refresh=5")
    assert r.status == 200
    assert r.header("Refresh") == "5"
    assert "text/html" in r.header("Content-Type")
    r = wsutil.http_get(event2.port, "/websocket-status?json&refresh=2")
    assert r.header("Refresh") == "2"
    json.loads(r.body)
    r = wsutil.http_raw(event2.port, "POST /websocket-status HTTP/1.1\r\n"
                        "Host: 127.0.0.1\r\nContent-Length: 1\r\n"
                        "Connection: close\r\n\r\nx")
    assert r.status == 405
    # What it does allow, as a 405 must say.
    assert "GET" in r.header("Allow").split(","), r
    # Nothing usable: every second, as mod_status; too much: an hour.
    for query, every in (("refresh=0", "1"), ("refresh=abc", "1"),
                         ("refresh=99999", "3600"),
                         ("refresh=2147483648", "3600"),
                         ("refresh=99999999999999999999", "3600")):
        r = wsutil.http_get(event2.port, "/websocket-status?" + query)
        assert r.header("Refresh") == every, (query, r.header("Refresh"))


def test_the_page_fits_a_phone(event2):
    """At a phone's width (390 CSS pixels) the page is no wider than the
    screen, and the wide tables (locations, children) scroll by themselves
    rather than squeeze a word a line into each cell."""
    from test_browser import SHOTS, run_browser

    os.makedirs(SHOTS, exist_ok=True)
    got = run_browser({"scenario": "layout", "width": 390,
                       "rows": ".wide tr",
                       "shot": os.path.join(SHOTS, "websocket-status.png"),
                       "url": "http://127.0.0.1:{}/websocket-status".format(
                           event2.port)})
    assert got["viewport"] == 390
    assert got["pageWidth"] <= got["viewport"], got
    assert got["tallestRow"] < 100, got


def test_a_too_big_message_is_counted_as_1009_closed_by_the_server(event2):
    before = status_json(event2)["totals"]["closes_by_code"]["1009"]

    async def main():
        ws = await connect(event2, "/echo")
        await ws.send("x" * 2000)
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        return ws.close_code

    assert wsutil.run(main(), 20) == 1009
    assert wait_for(lambda: status_json(event2)["totals"]["closes_by_code"]
                    ["1009"] == before + 1)


@pytest.mark.expect_log(*KILLED)
def test_old_generation_counts_and_a_killed_child(httpd_factory):
    """After a graceful restart the old generation's open sockets still
    count (its children listed as old); a killed child's sockets stop
    counting as open, but what it had accepted and received still counts."""
    srv = httpd_factory("status-graceful", SITE, servers=2,
                        start_servers=2)
    try:
        async def main():
            old = [await connect(srv, "/echo2") for _ in range(3)]
            for ws in old:
                await ws.send("before")
                await ws.recv()
            old_pids = {childmap.child_of(srv, ws.local_address[1])
                        for ws in old}
            os.kill(srv.proc.pid, signal.SIGUSR1)       # apachectl graceful
            deadline = time.time() + 15
            # Until a child of the new generation (as the page says: an old
            # child that held none of `old` is not new either) takes one.
            while True:
                new = await connect(srv, "/echo2")
                pid = childmap.child_of(srv, new.local_address[1])
                old_gen = {c["pid"]: c["old_generation"]
                           for c in status_json(srv)["children"]}
                if pid is not None and old_gen.get(pid) is False:
                    break
                await new.close()
                assert time.time() < deadline
                await asyncio.sleep(0.3)
            # A probe closed just above may still be ending on the server.
            deadline = time.time() + 5
            while True:
                after_restart = status_json(srv)
                if after_restart["totals"]["open"] == 4 \
                        or time.time() > deadline:
                    break
                await asyncio.sleep(0.1)
            # Kill the new child that holds `new`: its socket is gone.
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(new.recv(), 10)
            # Not open once httpd has reaped the child (its maintenance
            # runs each second).
            deadline = time.time() + 10
            while True:
                after_kill = status_json(srv)
                if after_kill["totals"]["open"] == 3 \
                        or time.time() > deadline:
                    break
                await asyncio.sleep(0.2)
            for ws in old:
                await ws.send("still here")
                assert await ws.recv() == "still here"
                await ws.close()
            return old_pids, after_restart, after_kill

        old_pids, after_restart, after_kill = wsutil.run(main(), 90)
        tot = after_restart["totals"]
        assert tot["open"] == 4
        olds = [c for c in after_restart["children"] if c["old_generation"]]
        assert {c["pid"] for c in olds} >= old_pids
        assert sum(c["open"] for c in olds) == 3
        assert after_kill["totals"]["open"] == 3
        # Counters kept: 3 + the new one (and any that raced the restart).
        assert after_kill["totals"]["accepted"] >= 4
        assert after_kill["totals"]["messages_in"] >= 3
    finally:
        stop_server(srv)


# --- one access-log line per session ------------------------------------------

def session_lines(srv, n, timeout=10.0):
    path = os.path.join(srv.dir, "logs", "session_log")

    def read():
        if not os.path.exists(path):
            return None
        with open(path) as f:
            lines = f.read().splitlines()
        return lines if len(lines) >= n else None

    return wait_for(read, timeout) or []


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_one_session_line_at_the_end_under_each_mpm(httpd_factory, mpm):
    """A client that talks 1.2 s, sends 3 messages and closes with 4001:
    one line at the end (none before it), with the close code, who closed,
    the duration, the counts each way, the subprotocol and compression;
    a second session closed by the server (1009) says so.  httpd's own
    line of the upgrade (101) is there too, without WS_SESSION."""
    srv = httpd_factory("status-log-" + mpm, SITE, mpm=mpm)
    try:
        async def main():
            ws = await websockets.connect(
                uri(srv, "/echo2"), subprotocols=["chat.v1"],
                user_agent_header="status-test/1", open_timeout=20)
            for i in range(3):
                await ws.send("hello %d" % i)
                await ws.recv()
            await asyncio.sleep(1.2)
            early = session_lines(srv, 1, timeout=0.1)
            await ws.close(4001, "done here")
            big = await connect(srv, "/echo")
            await big.send("x" * 2000)
            with pytest.raises(websockets.ConnectionClosed):
                await big.recv()
            return early

        early = wsutil.run(main(), 30)
        assert early == []
        lines = session_lines(srv, 2)
        assert len(lines) == 2, lines
        first = next(line for line in lines if "/echo2" in line)
        m = re.match(r'101 (\d+) "GET /echo2 HTTP/1.1" s=(\d+) '
                     r'd=(\d+)\.(\d{3}) code=4001 by=client '
                     r'reason="done here" in=3/(\d+) out=3/(\d+) b=(\d+) '
                     r'I=(\d+) O=(\d+) proto=chat.v1 ext="permessage-deflate[^"]*" '
                     r'ua="status-test/1"$', first)
        assert m, first
        micros, secs = int(m.group(1)), int(m.group(3))
        assert 1_200_000 <= micros < 20_000_000
        assert secs >= 1
        assert int(m.group(5)) > 0 and int(m.group(6)) > 0
        assert int(m.group(7)) == int(m.group(6))        # %b = bytes out
        # mod_logio's %I counts what the session read (plain connections
        # are read from the socket, past its filter)...
        assert int(m.group(8)) >= int(m.group(5))
        # And %O what it wrote (past the core output filter, as well).
        assert int(m.group(9)) >= int(m.group(6))
        second = next(line for line in lines if "GET /echo " in line)
        assert "code=1009 by=server" in second, second
        # The error log names the session by the same id.
        sid = re.search(r" s=(\d+) ", second).group(1)
        assert srv.wait_log(r"\[ws {} /echo ".format(sid)), sid
        # httpd's line for each upgrade, apart (env=!WS_SESSION).
        with open(os.path.join(srv.dir, "logs", "upgrade_log")) as f:
            upgrades = [line for line in f if '"GET /echo' in line]
        assert len(upgrades) == 2
        assert all(line.startswith("101 ") and "s=-" in line
                   for line in upgrades)
        # Every field of the sink format, on the session lines too.
        with open(os.path.join(srv.dir, "logs", "sink_log")) as f:
            sink = [line for line in f if "GET /echo" in line]
        assert len(sink) == 4, sink
    finally:
        stop_server(srv)


@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_session_line_counts_answers_sent_in_its_last_turn(httpd_factory,
                                                           mpm):
    """Messages and the close frame in one write: the session ends in the
    turn that reads them, and its line still counts the echoes and the
    close frame it wrote (WS_BYTES_OUT, %b, mod_logio's %O), as when they
    come one by one."""
    srv = httpd_factory("status-lastturn-" + mpm, SITE, mpm=mpm)
    try:
        msgs = [b"x" * 1000, b"y" * 70000, b"z"]
        with wsutil.RawWebSocket(srv.port, "/echo2") as ws:
            ws.send(b"".join(wsutil.frame(wsutil.OP_BINARY, m)
                             for m in msgs)
                    + wsutil.frame(wsutil.OP_CLOSE,
                                   wsutil.close_payload(1000)))
            for m in msgs:
                assert ws.recv_message() == (wsutil.OP_BINARY, m)
            ws.expect_close()
        lines = session_lines(srv, 1)
        assert len(lines) == 1, lines
        m = re.search(r" in=3/\d+ out=(\d+)/(\d+) b=(\d+) I=\d+ O=(\d+) ",
                      lines[0])
        assert m, lines[0]
        # Three frames (headers 4, 10 and 2 bytes) and the close (2 + 2).
        wire = sum(len(m) for m in msgs) + 4 + 10 + 2 + 4
        assert int(m.group(1)) == 3, lines[0]
        assert int(m.group(2)) == wire, lines[0]
        assert int(m.group(3)) == wire, lines[0]
        assert int(m.group(4)) >= wire, lines[0]
    finally:
        stop_server(srv)


def test_locations_past_the_table_share_a_row(httpd_factory):
    """Past 31 locations the rest are counted together, on a row
    "(other locations)" that names no handler or limits of its own: each
    of them has its own."""
    many = "".join('<Location "/many{:02d}">\n    WebSocketHandler echo\n'
                   "    WebSocketMaxMessageSize {}\n</Location>\n"
                   .format(i, 1000 + i) for i in range(32))
    srv = httpd_factory("status-many-locations", SITE + many)
    try:
        assert wsutil.run(wsutil.echo_once(srv.port, "/many31", "x")) == "x"
        model = status_json(srv)
        html = wsutil.http_get(srv.port, "/websocket-status").body.decode()
    finally:
        stop_server(srv)
    assert len(model["locations"]) == 32
    other = location(model, "(other locations)")
    assert other["accepted"] == 1
    assert other.get("shared") is True, other
    assert other["handler"] is None and "limits" not in other, other
    assert "(several sections, each with its own limits)" in html
    alone = location(model, "/many00")
    assert alone["handler"] == "echo" and "shared" not in alone
    assert alone["limits"]["max_message_size"] == 1000


def shipped_logformat():
    """The `websocket` LogFormat line of conf.d/websocket.conf."""
    with open(os.path.join(TOP, "conf.d", "websocket.conf")) as f:
        lines = [line.strip() for line in f
                 if line.strip().startswith("LogFormat ")]
    assert len(lines) == 1 and lines[0].endswith(" websocket"), lines
    return lines[0]


def test_the_shipped_logformat_says_how_each_session_ended(httpd_factory):
    """The README's CustomLog with websocket.conf's LogFormat: a line per
    session with the duration, the close code, who closed and why (the
    client's reason, the server's "message too big"), the counts each
    way."""
    srv = httpd_factory("status-shipped-format", SITE + shipped_logformat()
                        + '\nCustomLog "@ROOT@/logs/websocket.log" '
                        "websocket env=WS_SESSION\n")
    try:
        async def main():
            ws = await connect(srv, "/echo2", user_agent_header="fmt/1")
            await ws.send("hello")
            await ws.recv()
            await ws.close(4001, 'done "here"')
            big = await connect(srv, "/echo", user_agent_header="fmt/1")
            await big.send("x" * 2000)
            with pytest.raises(websockets.ConnectionClosed):
                await big.recv()

        wsutil.run(main(), 30)
        path = os.path.join(srv.dir, "logs", "websocket.log")
        lines = wait_for(lambda: (lambda ls: ls if len(ls) >= 2 else None)(
            open(path).read().splitlines() if os.path.exists(path) else []))
        assert lines and len(lines) == 2, lines
        first = next(line for line in lines if "/echo2" in line)
        assert re.search(r'"GET /echo2 HTTP/1.1" 101 \d+ \d+\.\d{3} 4001 '
                         r'client "done \\"here\\"" in=1/\d+ out=1/\d+ - '
                         r'"-" "fmt/1"$', first), first
        second = next(line for line in lines if "GET /echo " in line)
        assert ' 1009 server "message too big" in=0/' in second, second
    finally:
        stop_server(srv)


def test_prefork_counts_each_process_and_threads(httpd_factory):
    """Under prefork each socket holds a process: the page adds up the
    processes and counts the sockets as on a thread each."""
    srv = httpd_factory("status-prefork", SITE, mpm="prefork")
    try:
        async def main():
            conns = [await connect(srv, "/echo2") for _ in range(3)]
            for ws in conns:
                await ws.send("x")
                await ws.recv()
            pids = {childmap.child_of(srv, ws.local_address[1])
                    for ws in conns}
            model = status_json(srv)
            for ws in conns:
                await ws.close()
            return pids, model

        pids, model = wsutil.run(main(), 30)
        assert len(pids) == 3
        assert model["totals"]["open"] == 3
        assert model["totals"]["in_threads"] == 3
        assert model["totals"]["in_event_loops"] == 0
        assert model["config"]["mpm"] == "prefork"
        busy = {c["pid"]: c["open"] for c in model["children"]
                if c["open"]}
        assert busy == {pid: 1 for pid in pids}
    finally:
        stop_server(srv)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                    reason="needs two usable CPUs to restrict to one")
def test_event_loops_follow_the_cpus_httpd_may_use(httpd_factory):
    """httpd started with taskset-like affinity on one CPU runs one event
    loop per child (two loops on one CPU only take turns), as the status
    page's configuration says."""
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(mine)})
    try:
        srv = httpd_factory("status-affinity", SITE)
    finally:
        os.sched_setaffinity(0, mine)
    try:
        assert status_json(srv)["config"]["event_loops_per_child"] == 1
        assert wsutil.run(wsutil.echo_once(srv.port, "/echo2", "one")) \
            == "one"
    finally:
        stop_server(srv)


# (AH00287: a worker this small runs near its MaxRequestWorkers.)
@pytest.mark.expect_log(r"WS00072", r"AH00287")
def test_worker_graceful_restart_keeps_open_and_capacity_right(
        httpd_factory):
    """mpm_worker starts a new child in the slot of an old one that is
    still finishing its sockets after a graceful restart (both alive at
    once): the old child's sockets still count as open, listed under the
    old generation, the new child's count starts at 0, and once they have
    all closed nothing stays open or goes below 0 -- nor does
    WebSocketMaxConnections's own count, so the limit still refuses the
    one too many."""
    limit = 8
    srv = httpd_factory(
        "status-worker-graceful", SITE
        + "WebSocketGracefulTimeout 30\nWebSocketMaxConnections {}\n"
        .format(limit), mpm="worker", servers=2, start_servers=2, threads=5,
        expected=[r"AH00287"])

    def generations():
        """The page, and the children of a generation after the first."""
        model = status_json(srv)
        gen = model["server"]["generation"]
        return model, [c for c in model["children"]
                       if c["generation"] == gen and gen > 0]

    async def main():
        # 5 threads a child: the sockets sit in both children.
        conns = [await connect(srv, "/echo2") for _ in range(limit)]
        pids = {childmap.child_of(srv, ws.local_address[1])
                for ws in conns}
        os.kill(srv.proc.pid, signal.SIGUSR1)           # apachectl graceful
        # The children worker may run are MaxRequestWorkers /
        # ThreadsPerChild = 2, both slots held by old children: a new one
        # starts in the slot of the old one with threads to spare.
        deadline = time.time() + 15
        while not generations()[1] and time.time() < deadline:
            await asyncio.sleep(0.2)
        during = generations()[0]
        for ws in conns:
            await ws.send("still here")
            assert await ws.recv() == "still here"
            await ws.close()
        after = wait_for(lambda: (lambda m: m if m["totals"]["open"] == 0
                                  else None)(status_json(srv)))
        # The old children gone, two new ones: threads for `limit` more
        # sockets, which the capacity admits, and for the one refused.
        deadline = time.time() + 30
        while len(generations()[1]) < 2 and time.time() < deadline:
            await asyncio.sleep(0.2)
        more = [await connect(srv, "/echo2") for _ in range(limit)]
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            await connect(srv, "/echo2")
        for ws in more:
            await ws.close()
        return pids, during, after, refused.value.status_code

    try:
        old_pids, during, after, status = wsutil.run(main(), 120)
        gen = during["server"]["generation"]
        kids = [(c["pid"], c["generation"], c["open"])
                for c in during["children"]]
        assert [k for k in kids if k[1] == gen], kids
        assert during["totals"]["open"] == limit, kids
        olds = {c["pid"]: c["open"] for c in during["children"]
                if c["old_generation"]}
        assert set(olds) == old_pids, kids
        assert sum(olds.values()) == limit, kids
        assert all(k[2] == 0 for k in kids if k[1] == gen), kids
        assert after["totals"]["open"] == 0
        assert [c["open"] for c in after["children"]] \
            == [0] * len(after["children"]), after["children"]
        assert location(after, "/echo2")["open"] == 0
        assert status == 503
    finally:
        stop_server(srv)
