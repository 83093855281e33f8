"""Channels: publish/subscribe across threads and httpd child processes
(the hub), with the broadcast handler, the test handler's channel
commands, and HTTP publishing (websocket-publish).

Which child holds a connection is proven by the kernel (childmap.py), not
assumed: the cross-process tests first make sure their subscribers sit in
at least two different children.
"""
import asyncio
import json
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest
import websockets

import childmap
import wsutil
from conftest import BUILD, LOAD_HANDLERS, stop_server

BROADCAST_SO = os.path.join(BUILD, "handlers", "broadcast.so")
RAW_SO = os.path.join(BUILD, "test-handlers", "testhandler_raw.so")

SITE = LOAD_HANDLERS + """
WebSocketLoadHandler broadcast "{bc}"
WebSocketLoadHandler test_raw "{raw}"
WebSocketGracefulTimeout 30
<Location "/b1">
    WebSocketHandler broadcast
</Location>
<Location "/b2">
    WebSocketHandler broadcast
</Location>
<Location "/bx">
    WebSocketHandler broadcast
    WebSocketHandlerOption include-sender off
</Location>
<Location "/bp">
    WebSocketHandler broadcast
    WebSocketHandlerOption publishers alice
</Location>
<Location "/small">
    WebSocketHandler broadcast
    WebSocketMaxQueuedOutput 64K
    WebSocketQueueOverflow Drop
</Location>
<Location "/fast">
    WebSocketHandler broadcast
    WebSocketNamespace /small
</Location>
<Location "/t">
    WebSocketHandler test
</Location>
<Location "/raw">
    WebSocketHandler test_raw
    WebSocketChannelHistory 3
</Location>
<Location "/publish">
    SetHandler websocket-publish
    WebSocketNamespace /b1
    WebSocketMaxMessageSize 4K
    Require local
</Location>
<Location "/publish-small">
    SetHandler websocket-publish
    WebSocketNamespace /small
    Require local
</Location>
<Location "/publish-denied">
    SetHandler websocket-publish
    WebSocketNamespace /b1
    Require all denied
</Location>
<Location "/publish-nowhere">
    SetHandler websocket-publish
</Location>
""".format(bc=BROADCAST_SO, raw=RAW_SO)

# Hundreds of handshakes at once keep the workers busy for a moment,
# which mpm_event reports at error level.
BUSY = (r"AH00484", r"AH10159")
# Killing a child on purpose: httpd says so at error level.
KILLED = (r"AH00052", r"exit signal Killed")
# So is the hub's death (ours), when a test kills it.
HUB_DIED = (r"WS00078",)


@pytest.fixture(scope="module")
def event2(httpd_factory):
    srv = httpd_factory("chan-event", SITE, servers=2, start_servers=2)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def prefork(httpd_factory):
    srv = httpd_factory("chan-prefork", SITE, mpm="prefork")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def worker2(httpd_factory):
    srv = httpd_factory("chan-worker", SITE, mpm="worker", servers=2,
                        start_servers=2)
    yield srv
    stop_server(srv)


# --- helpers -----------------------------------------------------------------

def uri(srv, path):
    return "ws://127.0.0.1:{}{}".format(srv.port, path)


async def connect(srv, path, **kw):
    return await websockets.connect(uri(srv, path), compression=None,
                                    open_timeout=20, close_timeout=5, **kw)


async def spread(srv, path, n, children=2):
    """n connections or more, in at least `children` processes."""
    return await childmap.spread(srv, connect, path, n, children)


async def recv_text(ws, timeout=10):
    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_until(ws, pred, timeout=10):
    """Skip messages until pred(message) holds; return it."""
    deadline = time.time() + timeout
    while True:
        m = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.time()))
        if pred(m):
            return m


async def expect_nothing(ws, wait=0.5):
    try:
        m = await asyncio.wait_for(ws.recv(), wait)
    except asyncio.TimeoutError:
        return
    raise AssertionError("unexpected message: {!r}".format(m))


async def close_all(conns):
    await asyncio.gather(*[ws.close() for ws in conns],
                         return_exceptions=True)


def http(srv, method, path, body=None, ctype=None):
    req = urllib.request.Request(
        "http://127.0.0.1:{}{}".format(srv.port, path), data=body,
        method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def publish(srv, channel, body, ctype="text/plain", path="/publish"):
    status, _, data = http(srv, "POST", "{}/{}".format(path, channel),
                           body if isinstance(body, bytes)
                           else body.encode(), ctype)
    assert status == 200, (status, data)
    return json.loads(data)


async def subscribed(ws, channel):
    """After 'sub <channel>': the test handler's answer and, for /t, its
    on_subscribed line."""
    await ws.send("sub " + channel)
    assert await recv_text(ws) == "sub 0"


async def all_joined(conns, path_is_t=True):
    """Wait until every test-handler connection's subscription completed
    (its 'subscribed ...' line)."""
    for ws in conns:
        await recv_until(ws, lambda m: m.startswith("subscribed "))


# --- across processes ---------------------------------------------------------

async def order_everywhere(srv, path, n_conns, n_msgs):
    conns, pids = await spread(srv, path, n_conns)
    # Two publishers in different children, interleaving.
    a = conns[0]
    b = next(ws for ws, p in zip(conns, pids) if p != pids[0])
    await asyncio.sleep(0.3)    # the last subscriptions reach the hub
    for i in range(n_msgs):
        await a.send("a%d" % i)
        await b.send("b%d" % i)
    got = []
    for ws in conns:
        seen = [await recv_text(ws) for _ in range(2 * n_msgs)]
        got.append(seen)
    await close_all(conns)
    return got, pids


def check_order(got, n_msgs):
    for seen in got:
        assert sorted(seen) == sorted(["a%d" % i for i in range(n_msgs)]
                                      + ["b%d" % i for i in range(n_msgs)])
        assert [m for m in seen if m[0] == "a"] == \
            ["a%d" % i for i in range(n_msgs)]
        assert [m for m in seen if m[0] == "b"] == \
            ["b%d" % i for i in range(n_msgs)]


def test_broadcast_reaches_every_child_in_publisher_order(event2):
    got, pids = wsutil.run(order_everywhere(event2, "/b1?channel=all",
                                            20, 50), 120)
    assert len(set(pids)) >= 2
    check_order(got, 50)


def test_broadcast_across_prefork_processes(prefork):
    got, pids = wsutil.run(order_everywhere(prefork, "/b1?channel=pf",
                                            6, 20), 120)
    assert len(set(pids)) == len(pids)      # a process each
    check_order(got, 20)


def test_broadcast_across_worker_children(worker2):
    got, pids = wsutil.run(order_everywhere(worker2, "/b1?channel=wk",
                                            10, 20), 120)
    check_order(got, 20)


@pytest.mark.expect_log(*BUSY)
def test_1000_subscribers_receive_every_message_of_a_burst(event2):
    n, burst = 1000, 30

    async def main():
        sem = asyncio.Semaphore(100)

        async def one():
            async with sem:
                return await connect(event2, "/b1?channel=crowd")

        conns = await asyncio.gather(*[one() for _ in range(n)])
        pids = {childmap.child_of(event2, ws.local_address[1])
                for ws in conns[:50]}
        await asyncio.sleep(0.5)
        for i in range(burst):
            publish(event2, "crowd", "m%d" % i)

        async def drain(ws):
            return [await recv_text(ws, 30) for _ in range(burst)]

        got = await asyncio.gather(*[drain(ws) for ws in conns])
        await close_all(conns)
        return got, pids

    got, pids = wsutil.run(main(), 240)
    want = ["m%d" % i for i in range(burst)]
    assert all(g == want for g in got)
    assert len(pids) >= 2


def test_a_stalled_subscriber_does_not_delay_the_others(event2):
    """One subscriber never reads; 8 KB messages fill its queue (64K, then
    dropped and counted); the others (another location of the namespace,
    with the default queue) get every message promptly."""
    async def main():
        stalled = wsutil.RawWebSocket(event2.port, "/small?channel=s")
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conns = [await connect(event2, "/fast?channel=s") for _ in range(5)]
        await asyncio.sleep(0.3)
        payload = "x" * 8192
        t0 = time.time()
        for i in range(300):
            publish(event2, "s", "%d %s" % (i, payload),
                    path="/publish-small")
        lat = []
        for ws in conns:
            for i in range(300):
                m = await recv_text(ws, 10)
                assert m.startswith("%d " % i)
            lat.append(time.time() - t0)
        await close_all(conns)
        stalled.close()
        return lat

    lat = wsutil.run(main(), 120)
    assert max(lat) < 10, lat


def test_locations_and_channels_do_not_leak(event2):
    async def main():
        a1 = await connect(event2, "/b1?channel=a")
        b1 = await connect(event2, "/b1?channel=b")
        a2 = await connect(event2, "/b2?channel=a")
        d1 = await connect(event2, "/b1")               # the default one
        await asyncio.sleep(0.3)
        await a1.send("to b1/a")
        assert await recv_text(a1) == "to b1/a"
        for ws in (b1, a2, d1):
            await expect_nothing(ws)
        await a2.send("to b2/a")
        assert await recv_text(a2) == "to b2/a"
        await expect_nothing(a1)
        publish(event2, "default", "to b1/default")
        assert await recv_text(d1) == "to b1/default"
        await expect_nothing(a1)
        await close_all([a1, b1, a2, d1])

    wsutil.run(main(), 60)


def test_include_sender_off_and_publishers_only(event2):
    async def main():
        x1 = await connect(event2, "/bx?channel=q")
        x2 = await connect(event2, "/bx?channel=q")
        await asyncio.sleep(0.3)
        await x1.send("hi")
        assert await recv_text(x2) == "hi"
        await expect_nothing(x1)
        p = await connect(event2, "/bp?channel=q")
        await p.send("may I?")
        try:
            await recv_text(p)
            code = None
        except websockets.ConnectionClosed as e:
            code = (e.code, e.reason)
        await close_all([x1, x2])
        return code

    assert wsutil.run(main(), 60) == (1008, "not allowed to publish here")


def test_a_bad_channel_name_is_refused_with_400(event2):
    for q in ("channel=%01x", "channel=" + "x" * 300, "channel=%zz",
              "channel=%ff", "channel=", "channel", "channel=a%00b"):
        r = wsutil.handshake_status(event2.port, "/b1?" + q)
        assert r.status == 400, (q, r)
    # Each says why at info.
    assert event2.wait_log(r"refused: \?channel= is empty")
    assert event2.wait_log(r"refused: a % not followed by two hex digits")
    assert event2.wait_log(r"refused: %00 in the channel name")


def test_a_large_binary_message_crosses_children_intact(event2):
    data = os.urandom(1024 * 1024)

    async def main():
        conns, pids = await spread(event2, "/b1?channel=big", 4)
        await asyncio.sleep(0.3)
        await conns[0].send(data)
        got = [await recv_text(ws, 20) for ws in conns]
        await close_all(conns)
        return got

    assert all(g == data for g in wsutil.run(main(), 60))


# --- HTTP publishing ----------------------------------------------------------

def test_http_publish_reaches_every_child(event2):
    async def main():
        conns, pids = await spread(event2, "/b1?channel=news", 6)
        await asyncio.sleep(0.3)
        answer = publish(event2, "news", "extra!")
        got = [await recv_text(ws) for ws in conns]
        binary = publish(event2, "news", b"\x00\xff", "application/octet-stream")
        got_bin = [await recv_text(ws) for ws in conns]
        info = http(event2, "GET", "/publish/news")
        await close_all(conns)
        return answer, got, binary, got_bin, info, len(conns)

    answer, got, binary, got_bin, info, n = wsutil.run(main(), 60)
    assert got == ["extra!"] * n
    assert answer["channel"] == "news" and answer["type"] == "text"
    assert answer["subscribers"] == n and answer["id"] > 0
    assert got_bin == [b"\x00\xff"] * n and binary["type"] == "binary"
    assert binary["id"] > answer["id"]
    status, headers, body = info
    assert status == 200 and headers["Content-Type"] == "application/json"
    figures = json.loads(body)
    assert figures["last_id"] == binary["id"]
    assert figures["messages"] == 2


@pytest.mark.expect_log(r"AH01630: client denied", r"WS00090")
def test_http_publish_refusals(event2):
    assert http(event2, "POST", "/publish-denied/news", b"x")[0] == 403
    status, headers, _ = http(event2, "PUT", "/publish/news", b"x")
    assert status == 405 and "POST" in headers["Allow"]
    assert http(event2, "POST", "/publish/", b"x")[0] == 400
    assert http(event2, "POST", "/publish/%01", b"x")[0] == 400
    assert http(event2, "POST", "/publish/big", b"x" * 5000)[0] == 413
    assert http(event2, "POST", "/publish-nowhere/x", b"x")[0] == 500
    assert event2.wait_log(r"WS00090.*no WebSocketNamespace")
    # Text that is not UTF-8 goes as binary; form data (curl -d) is text.
    answer = publish(event2, "news", b"\xff\xfe", "text/plain")
    assert answer["type"] == "binary"
    answer = publish(event2, "news", "a=1", "application/x-www-form-urlencoded")
    assert answer["type"] == "text"
    # No body (curl -X POST without -d), and a body declared UTF-8 that is
    # not: 400, each with its line.
    assert http(event2, "POST", "/publish/news", b"")[0] == 400
    assert event2.wait_log(r"WS00098.*body is empty")
    assert http(event2, "POST", "/publish/news", b"\xff\xfe bad",
                "text/plain; charset=utf-8")[0] == 400
    assert event2.wait_log(r"WS00099.*declared UTF-8")
    assert event2.wait_log(r"WS00091.*\(/publish/<channel>")


# --- the handler API: ids, send_to, history, presence ---------------------------

def test_send_to_reaches_a_connection_in_another_child(event2):
    async def main():
        conns, pids = await spread(event2, "/t", 2)
        a = conns[0]
        b = next(ws for ws, p in zip(conns, pids) if p != pids[0])
        await a.send("id")
        a_id, a_pid = (await recv_text(a)).split()[1:]
        await b.send("id")
        b_id, b_pid = (await recv_text(b)).split()[1:]
        await b.send("sendto {} hello from {}".format(a_id, b_pid))
        got = await recv_text(a)
        await b.send("sendto 12345 nobody")      # no such connection
        await a.send("sendto {} to myself".format(a_id))
        mine = await recv_text(a)
        await close_all(conns)
        return a_id, b_id, a_pid, b_pid, got, mine

    a_id, b_id, a_pid, b_pid, got, mine = wsutil.run(main(), 60)
    assert a_pid != b_pid and a_id != b_id
    assert got == "hello from " + b_pid
    assert mine == "to myself"


def test_history_replays_and_resumes_without_gap_or_repeat(event2):
    async def main():
        pub = await connect(event2, "/t")
        await subscribed(pub, "h")
        await recv_until(pub, lambda m: m.startswith("subscribed h"))
        ids = []
        for i in range(5):
            await pub.send("pub h m%d" % i)
            line = await recv_text(pub)
            ids.append(int(line.split()[2]))
        assert ids == sorted(ids)
        # Resume after m1: m2..m4, no gap.
        late = await connect(event2, "/t")
        await late.send("sub h since=%d" % ids[1])
        assert await recv_text(late) == "sub 0"
        head = await recv_text(late)
        hist = [await recv_text(late) for _ in range(3)]
        # Live messages follow the replay.
        await pub.send("pub h m5")
        live = await recv_until(late, lambda m: m.startswith("msg "))
        # Last 2, no since.
        last = await connect(event2, "/t")
        await last.send("sub h last=2")
        assert await recv_text(last) == "sub 0"
        head2 = await recv_text(last)
        hist2 = [await recv_text(last) for _ in range(2)]
        await close_all([pub, late, last])
        return ids, head, hist, live, head2, hist2

    ids, head, hist, live, head2, hist2 = wsutil.run(main(), 60)
    assert head.startswith("subscribed h gap=0 last=%d n=3" % ids[4])
    assert hist == ["hist %d m%d" % (ids[i], i) for i in (2, 3, 4)]
    assert live.split()[3:] != [] and live.endswith(" m5")
    assert head2.startswith("subscribed h gap=0") and " n=2 " in head2
    assert [h.split()[2] for h in hist2] == ["m4", "m5"]


def test_replay_beyond_the_history_says_gap_and_raw_replay_is_verbatim(
        event2):
    async def main():
        pub = await connect(event2, "/raw")
        for i in range(6):
            await pub.send("pub r m%d" % i)
        await asyncio.sleep(0.3)
        raw = await connect(event2, "/raw")
        await raw.send("sub r last=10")
        assert await recv_text(raw) == "sub 0"
        replay = [await recv_text(raw) for _ in range(3)]  # history is 3
        await expect_nothing(raw, 0.3)
        # Through /t (same namespace? no: /raw's): ids of /raw via GET
        await close_all([pub, raw])
        return replay

    assert wsutil.run(main(), 60) == ["m3", "m4", "m5"]

    async def gap():
        pub = await connect(event2, "/t")
        await subscribed(pub, "g")
        await recv_until(pub, lambda m: m.startswith("subscribed g"))
        first = None
        for i in range(150):       # more than the default history of 100
            await pub.send("pub g n%d" % i)
            line = await recv_text(pub)
            if first is None:
                first = int(line.split()[2])
        late = await connect(event2, "/t")
        await late.send("sub g since=%d" % first)
        assert await recv_text(late) == "sub 0"
        head = await recv_text(late)
        await close_all([pub, late])
        return head

    head = wsutil.run(gap(), 60)
    assert head.startswith("subscribed g gap=1") and " n=100 " in head


def test_presence_join_and_leave_across_children(event2):
    async def main():
        conns, pids = await spread(event2, "/t", 2)
        a = conns[0]
        b = next(ws for ws, p in zip(conns, pids) if p != pids[0])
        await a.send("id")
        a_id = (await recv_text(a)).split()[1]
        await b.send("id")
        b_id = (await recv_text(b)).split()[1]
        await a.send("sub room label=alice")
        assert await recv_text(a) == "sub 0"
        head_a = await recv_text(a)
        assert await recv_text(a) == "member %s alice" % a_id
        await b.send("sub room label=bob")
        assert await recv_text(b) == "sub 0"
        head_b = await recv_text(b)
        members = sorted([await recv_text(b), await recv_text(b)])
        join = await recv_text(a)
        await b.close()
        leave = await recv_text(a)
        await close_all(conns)
        return a_id, b_id, head_a, head_b, members, join, leave

    a_id, b_id, head_a, head_b, members, join, leave = wsutil.run(main(), 60)
    assert "members=1" in head_a
    assert "members=2" in head_b and "subscribers=2" in head_b
    assert members == sorted(["member %s alice" % a_id,
                              "member %s bob" % b_id])
    assert join == "join room %s 2 bob" % b_id
    assert leave == "leave room %s 1 bob" % b_id


def test_unsubscribe_and_limits(event2):
    async def main():
        ws = await connect(event2, "/t")
        await subscribed(ws, "u")
        await recv_until(ws, lambda m: m.startswith("subscribed u"))
        await ws.send("sub u")
        dup = await recv_text(ws)
        await ws.send("unsub u")
        un = await recv_text(ws)
        await ws.send("unsub u")
        un2 = await recv_text(ws)
        await ws.send("pub u after")
        await expect_nothing(ws)
        for i in range(254):
            await ws.send("sub c%d" % i)
        answers = []
        while len(answers) < 254:
            m = await recv_text(ws)
            if m.startswith("sub "):
                answers.append(m)
        await ws.send("sub one-more")
        await ws.send("sub one-too-many")
        m1 = await recv_until(ws, lambda m: m.startswith("sub "))
        m2 = await recv_until(ws, lambda m: m.startswith("sub "))
        await ws.close()
        return dup, un, un2, answers, m1, m2

    dup, un, un2, answers, m1, m2 = wsutil.run(main(), 60)
    assert dup == "sub -3" and un == "unsub 0" and un2 == "unsub -3"
    assert answers == ["sub 0"] * 254
    assert m1 == "sub 0"            # the 255th
    assert m2 == "sub -4"           # WS_ELIMIT


# --- faults: a child killed, the hub killed, a graceful restart ----------------

@pytest.mark.expect_log(*KILLED)
def test_a_killed_child_loses_nothing_for_the_others(httpd_factory):
    srv = httpd_factory("chan-kill", SITE, servers=2, start_servers=2,
                        expected=KILLED)
    try:
        async def main():
            conns, pids = await spread(srv, "/t", 4)
            victim = pids[0]
            mine = [ws for ws, p in zip(conns, pids) if p == victim]
            others = [ws for ws, p in zip(conns, pids) if p != victim]
            for i, ws in enumerate(conns):
                await ws.send("sub k label=u%d" % i)
            for ws in conns:
                await recv_until(ws, lambda m: m.startswith("subscribed k"))
            os.kill(victim, signal.SIGKILL)
            for ws in mine:
                try:
                    await asyncio.wait_for(ws.recv(), 10)
                except (websockets.ConnectionClosed, asyncio.TimeoutError):
                    pass
            # The others hear the victims leave, and go on talking.
            await others[0].send("pub k still here")
            for ws in others[1:]:
                await recv_until(ws, lambda m: m.startswith("msg k")
                                 and m.endswith("still here"))
            leaves, heard = 0, False
            while leaves < len(mine) or not heard:
                m = await recv_text(others[0])
                leaves += m.startswith("leave k")
                heard = heard or (m.startswith("msg k")
                                  and m.endswith("still here"))
            await close_all(others)
            return leaves, len(mine)

        leaves, killed = wsutil.run(main(), 90)
        assert leaves == killed
        # The hub says which child went and what ended with it.
        assert srv.wait_log(r"WS00100: channel hub: child \d+ \(pid \d+\) "
                            r"is gone; its \d+ subscriptions ended", 10)
        hub = hub_pid(srv)
    finally:
        stop_server(srv)
    # httpd's stop ends the hub and removes its socket.
    assert not os.path.exists("/proc/{}".format(hub)) or \
        open("/proc/{}/stat".format(hub)).read().split()[2] == "Z"
    run = os.path.join(srv.dir, "run")
    assert not [f for f in os.listdir(run) if f.startswith("websocket-hub")]


def hub_pid(srv):
    pid = None
    for line in srv.read_log().splitlines():
        m = re.search(r"WS00077: channel hub started \(pid (\d+)\)", line)
        if m:
            pid = int(m.group(1))
    return pid


def test_a_killed_hub_is_restarted_and_channels_carry_on(httpd_factory):
    expected = HUB_DIED + (r"WS00085",)
    srv = httpd_factory("chan-hub", SITE, servers=2, start_servers=2,
                        expected=expected)
    try:
        async def main():
            conns, pids = await spread(srv, "/b1?channel=h", 4)
            await asyncio.sleep(0.3)
            await conns[0].send("before")
            for ws in conns:
                assert await recv_text(ws) == "before"
            old = hub_pid(srv)
            os.kill(old, signal.SIGKILL)
            assert srv.wait_log(r"WS00078.*exited", 10)
            # Every child resubscribes by itself.
            deadline = time.time() + 15
            while True:
                assert time.time() < deadline
                await asyncio.sleep(0.5)
                await conns[1].send("after")
                try:
                    got = [await recv_text(ws, 2) for ws in conns]
                    break
                except asyncio.TimeoutError:
                    # Drain what reached some, try again.
                    for ws in conns:
                        try:
                            while True:
                                await asyncio.wait_for(ws.recv(), 0.2)
                        except asyncio.TimeoutError:
                            pass
            new = hub_pid(srv)
            await close_all(conns)
            return old, new, got

        old, new, got = wsutil.run(main(), 90)
        assert new and new != old
        assert got == ["after"] * len(got)
        assert srv.wait_log(r"WS00084.*reachable again", 5)
    finally:
        stop_server(srv)


def test_messages_published_while_the_hub_restarts_reach_every_child(
        httpd_factory):
    """Publishers in both children keep sending through a hub restart: the
    children reconnect one after the other, and what one child's
    subscribers got, the other's get too (the later child catches up from
    the new hub's history), in order, never twice."""
    expected = HUB_DIED + (r"WS00085", r"WS00084")
    srv = httpd_factory("chan-hub-race", SITE, servers=2, start_servers=2,
                        expected=expected)
    try:
        async def main():
            conns, pids = await spread(srv, "/b1?channel=race", 6)
            await asyncio.sleep(0.3)
            by_child = {}
            for ws, p in zip(conns, pids):
                by_child.setdefault(p, []).append(ws)
            publishers = [ws_list[0] for ws_list in by_child.values()]
            stop = asyncio.Event()

            async def publish_loop(k, ws):
                i = 0
                while not stop.is_set():
                    await ws.send("p%d-%d" % (k, i))
                    i += 1
                    await asyncio.sleep(0.01)
                return i

            async def collect(ws):
                got = []
                try:
                    while True:
                        got.append(await asyncio.wait_for(ws.recv(), 3))
                except asyncio.TimeoutError:
                    pass
                return got

            sends = [asyncio.ensure_future(publish_loop(k, ws))
                     for k, ws in enumerate(publishers)]
            readers = [asyncio.ensure_future(collect(ws)) for ws in conns]
            await asyncio.sleep(0.5)
            os.kill(hub_pid(srv), signal.SIGKILL)
            assert srv.wait_log(r"WS00078.*exited", 10)
            await asyncio.sleep(2.0)
            stop.set()
            counts = await asyncio.gather(*sends)
            got = await asyncio.gather(*readers)
            await close_all(conns)
            return counts, got

        counts, got = wsutil.run(main(), 90)
        reference = got[0]
        for g in got:
            assert len(g) == len(set(g)), "a message came twice"
            assert g == reference, \
                "subscribers disagree: {} vs {} messages; missing {}".format(
                    len(g), len(reference),
                    sorted(set(reference) - set(g))[:10])
        for k, n in enumerate(counts):
            mine = [m for m in reference if m.startswith("p%d-" % k)]
            assert mine == sorted(mine, key=lambda m: int(m.split("-")[1]))
            # Sent after the restart: the publisher's last ones arrive.
            assert "p%d-%d" % (k, n - 1) in mine
    finally:
        stop_server(srv)


def test_graceful_restart_old_and_new_generations_share_channels(
        httpd_factory):
    srv = httpd_factory("chan-graceful", SITE, servers=2, start_servers=2)
    try:
        async def main():
            old = await connect(srv, "/b1?channel=gen")
            old_pid = childmap.child_of(srv, old.local_address[1])
            hub = hub_pid(srv)
            os.kill(srv.proc.pid, signal.SIGUSR1)       # apachectl graceful
            # Wait for the new generation to serve.
            deadline = time.time() + 15
            while True:
                new = await connect(srv, "/b1?channel=gen")
                new_pid = childmap.child_of(srv, new.local_address[1])
                if new_pid != old_pid and new_pid is not None:
                    break
                await new.close()
                assert time.time() < deadline
                await asyncio.sleep(0.3)
            await asyncio.sleep(0.3)
            answer = publish(srv, "gen", "over http")
            got_old = await recv_text(old)
            got_new = await recv_text(new)
            await old.send("from the old generation")
            got_new2 = await recv_text(new)
            await new.send("from the new generation")
            got_old2 = await recv_until(
                old, lambda m: m == "from the new generation")
            await close_all([old, new])
            return hub, hub_pid(srv), got_old, got_new, got_new2, got_old2

        hub, hub_after, got_old, got_new, got_new2, got_old2 = \
            wsutil.run(main(), 90)
        assert hub == hub_after         # the hub outlived the restart
        assert got_old == got_new == "over http"
        assert got_new2 == "from the old generation"
        assert got_old2 == "from the new generation"
    finally:
        stop_server(srv)


def test_a_dead_httpds_hub_socket_is_removed_at_start(httpd_factory):
    """httpd killed with -9 runs no cleanup: its hub's socket stays in
    DefaultRuntimeDir.  The next start removes sockets whose httpd is
    gone, and keeps others."""
    import subprocess

    d = os.path.join(conftest_testroot(), "chan-stale")
    run = os.path.join(d, "run")
    if os.path.isdir(d):
        import shutil
        shutil.rmtree(d)
    os.makedirs(run)
    dead = subprocess.Popen(["true"])
    dead.wait()                             # a pid nobody has now
    stale = os.path.join(run, "websocket-hub.%d.sock" % dead.pid)
    alive = os.path.join(run, "websocket-hub.%d.sock" % os.getpid())
    other = os.path.join(run, "websocket-hub.notes.txt")
    for f in (stale, alive, other):
        open(f, "w").close()
    srv = httpd_factory("chan-stale", SITE, keep_dir=True)
    try:
        assert not os.path.exists(stale)
        assert os.path.exists(alive) and os.path.exists(other)
    finally:
        stop_server(srv)
        for f in (alive, other):
            if os.path.exists(f):
                os.remove(f)


def conftest_testroot():
    from conftest import TESTROOT
    return TESTROOT
