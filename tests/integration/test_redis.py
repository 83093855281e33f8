"""Channels over Redis (`WebSocketChannels redis://...`): several httpd
servers, each its own ServerRoot and port, with the same Redis and prefix
act as one for channels -- broadcast, chat (handlers/chat.md) and HTTP
publishing reach subscribers on every server exactly once, in publisher
order, with ids increasing per channel across servers, history, resume and
presence spanning the servers -- while conn ids (send_to) stay per server.

Faults: Redis stopped and restarted during traffic (nothing closed,
local delivery goes on, one warn line per outage and one when it is back,
nothing delivered twice, cross-server delivery resumes by itself); a
"Redis" that accepts connections and never answers (no loop stalls).
Refusals at configtest: rediss://, malformed URLs and options, the
directive outside the main server config.

Every test starts its own redis-server (redisutil.py) on a free loopback
port and stops it by PID.  Which child holds a connection is proven by the
kernel (childmap.py): the servers run mpm_event with two children, as the
demo does, and subscribers sit in both.
"""
import asyncio
import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
import websockets

import childmap
from chatutil import expect_nothing as cexpect_nothing
from chatutil import (is_message, join, presence, recv as crecv,
                      recv_until as crecv_until, say, send as csend)
import redisutil
import wsutil
from conftest import BUILD, LOAD_HANDLERS, TESTROOT, stop_server
from test_config import assert_refused, configtest

BROADCAST_SO = os.path.join(BUILD, "handlers", "broadcast.so")
CHAT_SO = os.path.join(BUILD, "handlers", "chat.so")

SITE = LOAD_HANDLERS + """
WebSocketLoadHandler broadcast "{bc}"
WebSocketLoadHandler chat "{chat}"
<Location "/echo">
    WebSocketHandler echo
</Location>
<Location "/broadcast">
    WebSocketHandler broadcast
</Location>
<Location "/chat">
    WebSocketHandler chat
</Location>
<Location "/t">
    WebSocketHandler test
</Location>
<Location "/publish">
    SetHandler websocket-publish
    WebSocketNamespace /broadcast
    Require local
</Location>
<Location "/chat-publish">
    SetHandler websocket-publish
    WebSocketNamespace /chat
    Require local
</Location>
""".format(bc=BROADCAST_SO, chat=CHAT_SO)

# The outage and recovery lines (at warn: the guard does not need them,
# but a server that logged them at error would need the declaration to
# get as far as the assertions on their level).
OUTAGE = r"WS00094"
BACK = r"WS00095"
OUTAGE_LINE = r"\[websocket:warn\].*WS00094.*unreachable"
BACK_LINE = r"\[websocket:warn\].*WS00095.*is back"


def redis_dir(name):
    return os.path.join(TESTROOT, "redis-" + name)


def start_server(httpd_factory, name, channels, mpm="event", **kw):
    """SITE with `WebSocketChannels <channels>`; mpm_event: two children
    from the start, as the demo runs."""
    if mpm != "prefork":
        kw.setdefault("servers", 2)
        kw.setdefault("start_servers", 2)
    return httpd_factory(name, SITE, mpm=mpm, channels=channels, **kw)


def count_lines(srv, regex):
    pat = re.compile(regex)
    return sum(1 for line in srv.read_log().splitlines() if pat.search(line))


def lines_of(srv, regex):
    pat = re.compile(regex)
    return [line for line in srv.read_log().splitlines() if pat.search(line)]


@pytest.fixture(scope="module")
def redis():
    r = redisutil.RedisServer(redis_dir("main"), unix=True).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def pair(httpd_factory, redis):
    """Servers A and B (mpm_event, two children each) on one Redis."""
    a = start_server(httpd_factory, "redis-a", redis.url)
    b = start_server(httpd_factory, "redis-b", redis.url)
    yield a, b
    # Redis was up throughout: no outage may have been reported.
    problems = ["{}: {}".format(s.name, line) for s in (a, b)
                for line in lines_of(s, OUTAGE)]
    stop_server(a)
    stop_server(b)
    assert not problems, "outage reported with Redis up:\n" + \
        "\n".join(problems)


@pytest.fixture
def servers(pair):
    for srv in pair:
        srv.assert_healthy()
    return pair


# --- helpers -----------------------------------------------------------------

def fresh(tag):
    return "{}-{}".format(tag, uuid.uuid4().hex[:10])


async def connect(srv, path):
    return await websockets.connect(wsutil.ws_uri(srv.port, path),
                                    compression=None, open_timeout=20,
                                    close_timeout=5)


async def spread(srv, path, n, children=2):
    """n connections or more, in at least `children` processes."""
    return await childmap.spread(srv, connect, path, n, children)


async def recv_text(ws, timeout=10):
    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_until(ws, pred, timeout=10):
    """Skip messages until pred(message) holds; return it."""
    deadline = time.monotonic() + timeout
    while True:
        m = await asyncio.wait_for(ws.recv(),
                                   max(0.01, deadline - time.monotonic()))
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


def publish(srv, channel, body, path="/publish", ctype="text/plain"):
    """POST to a websocket-publish location; the JSON answer."""
    status, _, data = http(srv, "POST", "{}/{}".format(path, channel),
                           body.encode(), ctype)
    assert status == 200, (srv.name, status, data)
    return json.loads(data)


async def apublish(srv, channel, body, path="/publish"):
    """publish() off the event loop (it blocks on HTTP)."""
    return await asyncio.to_thread(publish, srv, channel, body, path)


async def recv_all_of(ws, wanted, timeout):
    """Read until every message in the set wanted was seen (others are
    skipped)."""
    wanted = set(wanted)
    deadline = time.monotonic() + timeout
    while wanted:
        m = await asyncio.wait_for(ws.recv(),
                                   max(0.01, deadline - time.monotonic()))
        wanted.discard(m)


async def settle(servers, subs, channel, timeout=15):
    """Probes published over HTTP on every server until each subscriber
    got the latest probe of every server: every subscription reached
    Redis.  Earlier probes are skipped on the way (a publisher's messages
    keep their order), so nothing is left to read."""
    deadline = time.monotonic() + timeout
    k = 0
    while True:
        k += 1
        probes = ["probe {} {} {}".format(i, s.name, k)
                  for i, s in enumerate(servers)]
        for s, p in zip(servers, probes):
            await apublish(s, channel, p)
        try:
            for ws in subs:
                await recv_all_of(ws, probes, 1.0)
            return
        except asyncio.TimeoutError:
            assert time.monotonic() < deadline, \
                "subscriptions on {} never all saw each other's probes " \
                "within {}s".format([s.name for s in servers], timeout)


def check_publisher_order(got, tags, n):
    """Each subscriber got each publisher's n messages, once each, in the
    order sent, and nothing else."""
    want = sorted("%s%d" % (t, i) for t in tags for i in range(n))
    for seen in got:
        assert sorted(seen) == want, "not exactly once: {}".format(
            [m for m in set(seen) if seen.count(m) > 1] or
            sorted(set(want) - set(seen))[:10])
        for t in tags:
            assert [m for m in seen if m.startswith(t)] == \
                ["%s%d" % (t, i) for i in range(n)], "order of " + t


# --- chat helpers ------------------------------------------------------------

# --- two servers, one Redis: broadcast and HTTP publishing -------------------

def test_broadcast_reaches_both_servers_once_each_in_publisher_order(
        servers):
    a, b = servers
    n = 40

    async def main():
        ch = fresh("order")
        subs_a, pids_a = await spread(a, "/broadcast?channel=" + ch, 3)
        subs_b, pids_b = await spread(b, "/broadcast?channel=" + ch, 3)
        subs = subs_a + subs_b
        await settle([a, b], subs, ch)
        # A publisher in each child of each server, interleaving.
        pubs = [subs_a[0],
                next(w for w, p in zip(subs_a, pids_a) if p != pids_a[0]),
                subs_b[0],
                next(w for w, p in zip(subs_b, pids_b) if p != pids_b[0])]
        tags = ["a0-", "a1-", "b0-", "b1-"]
        for i in range(n):
            for ws, t in zip(pubs, tags):
                await ws.send("%s%d" % (t, i))
        got = [[await recv_text(ws) for _ in range(4 * n)] for ws in subs]
        for ws in subs:
            await expect_nothing(ws, 0.3)
        await close_all(subs)
        return got, tags, len(subs_a), len(subs_b)

    got, tags, na, nb = wsutil.run(main(), 90)
    assert na >= 3 and nb >= 3
    check_publisher_order(got, tags, n)


def test_http_publish_on_b_reaches_a_and_b_with_counts_and_ids(servers):
    a, b = servers

    async def main():
        ch = fresh("news")
        subs_a, _ = await spread(a, "/broadcast?channel=" + ch, 2)
        subs_b, _ = await spread(b, "/broadcast?channel=" + ch, 3)
        subs = subs_a + subs_b
        await settle([a, b], subs, ch)
        answer = await apublish(b, ch, "extra!")
        got = [await recv_text(ws) for ws in subs]
        for ws in subs:
            await expect_nothing(ws, 0.3)
        # Alternating servers, one after the other: ids increase.
        answers = []
        for i in range(10):
            answers.append(await apublish((a, b)[i % 2], ch, "n%d" % i))
        got2 = [[await recv_text(ws) for _ in range(10)] for ws in subs]
        info = await asyncio.to_thread(http, a, "GET", "/publish/" + ch)
        await close_all(subs)
        return ch, answer, got, answers, got2, info, len(subs)

    ch, answer, got, answers, got2, info, n = wsutil.run(main(), 60)
    assert answer["channel"] == ch and answer["type"] == "text"
    assert answer["subscribers"] == n, \
        "the publish on B counts the subscribers of both servers"
    assert got == ["extra!"] * n
    ids = [x["id"] for x in answers]
    assert ids[0] > answer["id"]
    assert ids == sorted(ids) and len(set(ids)) == 10, ids
    for seen in got2:
        assert [m for m in seen if int(m[1:]) % 2 == 0] == \
            ["n%d" % i for i in range(0, 10, 2)]
        assert [m for m in seen if int(m[1:]) % 2 == 1] == \
            ["n%d" % i for i in range(1, 10, 2)]
        assert sorted(seen) == sorted("n%d" % i for i in range(10))
    status, _, body = info
    assert status == 200
    assert json.loads(body)["last_id"] == ids[-1], \
        "GET on A knows the last id, published on B"


def test_send_to_stays_on_its_own_server(servers):
    a, b = servers

    async def main():
        ta = await connect(a, "/t")
        tb = await connect(b, "/t")
        tb2 = await connect(b, "/t")
        await ta.send("id")
        a_id = (await recv_text(ta)).split()[1]
        await tb.send("id")
        b_id = (await recv_text(tb)).split()[1]
        await tb2.send("id")
        b2_id = (await recv_text(tb2)).split()[1]
        # B's connections reach each other by id...
        await tb2.send("sendto {} from b2".format(b_id))
        on_b = await recv_text(tb)
        # ...but A's id means nothing to B (or another connection of B's,
        # if the numbers coincide): A's connection gets nothing.
        await tb2.send("sendto {} across".format(a_id))
        await expect_nothing(ta, 1.0)
        await ta.send("sendto {} to myself".format(a_id))
        mine = await recv_text(ta)
        await close_all([ta, tb, tb2])
        return a_id, b_id, b2_id, on_b, mine

    a_id, b_id, b2_id, on_b, mine = wsutil.run(main(), 60)
    assert on_b == "from b2"
    assert mine == "to myself"


# --- chat across servers -----------------------------------------------------

def test_chat_presence_lists_and_tells_members_of_both_servers(servers):
    a, b = servers

    async def main():
        room = fresh("presence")
        alice = await connect(a, "/chat")
        await join(alice, room, "alice")
        bob = await connect(b, "/chat")
        j_bob, _ = await join(bob, room, "bob")
        seen_bob = await crecv(alice)
        carol = await connect(a, "/chat")
        j_carol, _ = await join(carol, room, "carol")
        seen_carol = [await crecv(alice), await crecv(bob)]
        await say(alice, room, "hello")
        got = [await crecv(ws) for ws in (alice, bob, carol)]
        await csend(bob, {"type": "leave", "room": room})
        left = await crecv(bob)
        bob_left = [await crecv(alice), await crecv(carol)]
        # A connection that just drops on A: B's member hears it.
        j_bob2, _ = await join(bob, room, "bob")
        await crecv(alice)
        await crecv(carol)
        carol.transport.abort()
        carol_gone = [await crecv(alice), await crecv(bob)]
        for ws in (alice, bob):
            await cexpect_nothing(ws, 0.3)
        await close_all([alice, bob])
        return (room, j_bob, seen_bob, j_carol, seen_carol, got, left,
                bob_left, j_bob2, carol_gone)

    (room, j_bob, seen_bob, j_carol, seen_carol, got, left, bob_left, j_bob2,
     carol_gone) = wsutil.run(main(), 60)
    assert sorted(j_bob["users"]) == ["alice", "bob"] and \
        j_bob["count"] == 2, j_bob
    assert seen_bob == presence(room, "join", "bob", 2)
    assert sorted(j_carol["users"]) == ["alice", "bob", "carol"] and \
        j_carol["count"] == 3, j_carol
    assert seen_carol == [presence(room, "join", "carol", 3)] * 2
    assert got[0]["type"] == "message" and got[0]["text"] == "hello"
    assert got[0] == got[1] == got[2]
    assert left == {"type": "left", "room": room}
    assert bob_left == [presence(room, "leave", "bob", 2)] * 2
    assert sorted(j_bob2["users"]) == ["alice", "bob", "carol"]
    assert carol_gone == [presence(room, "leave", "carol", 2)] * 2


def test_chat_members_of_both_servers_see_one_order_with_rising_ids(
        servers):
    a, b = servers
    n = 30

    async def main():
        room = fresh("one-order")
        x = await connect(a, "/chat")
        await join(x, room, "x")
        y = await connect(b, "/chat")
        await join(y, room, "y")
        await crecv(x)                          # y's presence
        for i in range(n):
            await say(x, room, "x%d" % i)
            await say(y, room, "y%d" % i)
        seen = [[await crecv(ws) for _ in range(2 * n)] for ws in (x, y)]
        await close_all([x, y])
        return seen

    seen_x, seen_y = wsutil.run(main(), 60)
    assert seen_x == seen_y
    ids = [m["id"] for m in seen_x]
    assert len(set(ids)) == len(ids) and ids == sorted(ids), ids
    texts = [m["text"] for m in seen_x]
    assert [t for t in texts if t[0] == "x"] == ["x%d" % i for i in range(n)]
    assert [t for t in texts if t[0] == "y"] == ["y%d" % i for i in range(n)]


def test_chat_history_and_resume_across_servers(servers):
    """Messages said on A are B's history; a member of B that dropped
    resumes on B (since=) with exactly what was said on A and published
    over HTTP on A meanwhile."""
    a, b = servers

    async def main():
        room = fresh("resume")
        alice = await connect(a, "/chat")
        await join(alice, room, "alice")
        for i in range(5):
            await say(alice, room, "m%d" % i)
        sent = [await crecv_until(alice, is_message(room, "m%d" % i))
                for i in range(5)]
        bob = await connect(b, "/chat")
        j_bob, h_bob = await join(bob, room, "bob")
        await crecv(alice)                      # bob's presence
        bob.transport.abort()
        await crecv_until(alice, lambda m: m["type"] == "presence")
        for i in range(5, 10):
            await say(alice, room, "m%d" % i)
        await apublish(a, room, "over http", path="/chat-publish")
        await crecv_until(alice, is_message(room, "over http"))
        bob2 = await connect(b, "/chat")
        j_back, h_back = await join(bob2, room, "bob",
                                    since=h_bob["messages"][-1]["id"])
        await say(alice, room, "live")
        live = await crecv_until(bob2, is_message(room))
        await cexpect_nothing(bob2, 0.3)
        await close_all([alice, bob2])
        return sent, j_bob, h_bob, j_back, h_back, live

    sent, j_bob, h_bob, j_back, h_back, live = wsutil.run(main(), 60)
    assert h_bob["gap"] is False
    assert h_bob["messages"] == sent, "B's history is what A said"
    assert j_bob["last_id"] == sent[-1]["id"]
    assert h_back["gap"] is False
    texts = [m["text"] for m in h_back["messages"]]
    assert texts == ["m%d" % i for i in range(5, 10)] + ["over http"]
    assert h_back["messages"][-1]["from"] is None
    ids = [m["id"] for m in h_back["messages"]]
    assert ids == sorted(ids) and ids[0] > sent[-1]["id"]
    assert j_back["last_id"] == ids[-1]
    assert live["text"] == "live" and live["from"] == "alice"
    assert live["id"] > ids[-1]


# --- other MPMs, URLs and options --------------------------------------------

def cross_check(srv_x, srv_y, n=20, timeout=60):
    """Subscribers in two processes of each server; a WebSocket publisher
    on each server: all get both publishers' messages once, in order."""
    async def main():
        ch = fresh("cross")
        subs_x, _ = await spread(srv_x, "/broadcast?channel=" + ch, 2)
        subs_y, _ = await spread(srv_y, "/broadcast?channel=" + ch, 2)
        subs = subs_x + subs_y
        await settle([srv_x, srv_y], subs, ch)
        for i in range(n):
            await subs_x[0].send("x%d" % i)
            await subs_y[0].send("y%d" % i)
        got = [[await recv_text(ws) for _ in range(2 * n)] for ws in subs]
        for ws in subs:
            await expect_nothing(ws, 0.3)
        await close_all(subs)
        return got

    check_publisher_order(wsutil.run(main(), timeout), ["x", "y"], n)


def test_prefork_and_event_servers_share_channels(httpd_factory, redis,
                                                  servers):
    a, _ = servers
    p = start_server(httpd_factory, "redis-prefork", redis.url,
                     mpm="prefork")
    try:
        cross_check(p, a)
    finally:
        stop_server(p)


def test_a_unix_socket_url_shares_with_a_tcp_one(httpd_factory, redis,
                                                 servers):
    a, _ = servers
    u = start_server(httpd_factory, "redis-unix",
                     "unix://" + redis.socket_path)
    try:
        cross_check(u, a)
        assert any(c.get("addr", "").startswith("/") or
                   c.get("laddr", "").startswith("/")
                   for c in redis.clients()), \
            "no client of redis on its unix socket: {}".format(
                redis.clients())
    finally:
        stop_server(u)


def test_another_prefix_shares_nothing_and_keys_stay_under_prefixes(
        httpd_factory, redis, servers):
    a, _ = servers
    c = start_server(httpd_factory, "redis-prefix",
                     redis.url + " prefix=other:")
    try:
        async def main():
            ch = fresh("prefix")
            sa = await connect(a, "/broadcast?channel=" + ch)
            sc = await connect(c, "/broadcast?channel=" + ch)
            await asyncio.sleep(0.5)
            ans_c = await apublish(c, ch, "on c")
            got_c = await recv_text(sc)
            ans_a = await apublish(a, ch, "on a")
            got_a = await recv_text(sa)
            await expect_nothing(sa, 1.0)
            await expect_nothing(sc, 0.2)
            await close_all([sa, sc])
            return ans_a, ans_c, got_a, got_c

        ans_a, ans_c, got_a, got_c = wsutil.run(main(), 60)
        assert (got_a, got_c) == ("on a", "on c")
        assert ans_a["subscribers"] == 1 and ans_c["subscribers"] == 1
        keys = redis.keys()
        assert any(k.startswith("ws:") for k in keys), keys
        assert any(k.startswith("other:") for k in keys), keys
        stray = [k for k in keys if not k.startswith(("ws:", "other:"))]
        assert not stray, "keys outside the prefixes: {}".format(stray)
        chans = [x.decode() for x in redis.command("PUBSUB", "CHANNELS")]
        stray = [x for x in chans if not x.startswith(("ws:", "other:"))]
        assert not stray, "channels outside the prefixes: {}".format(stray)
    finally:
        stop_server(c)


def test_password_and_db_from_the_url(httpd_factory):
    """A Redis with requirepass: `:password@` and `user:password@` both
    authenticate; /3 puts every key in database 3."""
    r = redisutil.RedisServer(redis_dir("auth"), password="s3cret-pw")
    r.start()
    d1 = d2 = None
    try:
        base = "127.0.0.1:{}/3".format(r.port)
        d1 = start_server(httpd_factory, "redis-auth1",
                          "redis://:s3cret-pw@" + base)
        d2 = start_server(httpd_factory, "redis-auth2",
                          "redis://default:s3cret-pw@" + base
                          + " timeout=3")
        cross_check(d1, d2, n=10)
        assert r.keys(db=3), "no key in database 3"
        assert r.keys(db=0) == [], "keys in database 0: {}".format(
            r.keys(db=0))
        for srv in (d1, d2):
            assert count_lines(srv, OUTAGE) == 0, lines_of(srv, OUTAGE)
            assert "s3cret-pw" not in srv.read_log(), \
                "the password is in {}'s error_log".format(srv.name)
    finally:
        for srv in (d1, d2):
            if srv:
                stop_server(srv)
        r.stop()


# --- faults: Redis stopped and restarted during traffic ----------------------

@pytest.mark.expect_log(OUTAGE, BACK)
def test_redis_stopped_and_restarted_during_traffic(httpd_factory):
    """Chat members in both children of two servers; a member of each
    server talks every 30 ms throughout.  Redis is stopped (SIGTERM),
    then started again on its port: nothing is closed, each server logs
    the outage once and the recovery once, a server's own members get all
    its messages meanwhile, cross-server delivery comes back by itself,
    and no member gets a message twice."""
    outage_test(httpd_factory, "stop", lambda r: r.stop(),
                lambda r: r.start(), timeout=2)


@pytest.mark.expect_log(OUTAGE, BACK)
def test_redis_paused_during_traffic_then_resumed(httpd_factory):
    """The same with Redis frozen (SIGSTOP: connections open, commands
    unanswered, then all executed on SIGCONT) and timeout=1: the servers
    give up after the timeout and deliver locally; what Redis executes
    late must not reach anyone a second time, nor out of order."""
    outage_test(httpd_factory, "pause", lambda r: r.pause(),
                lambda r: r.resume(), timeout=1)


def outage_test(httpd_factory, tag, down, up, timeout):
    r = redisutil.RedisServer(redis_dir("fault-" + tag))
    r.start()
    f1 = f2 = None
    channels = r.url if timeout == 2 else "{} timeout={}".format(r.url,
                                                                 timeout)
    try:
        f1 = start_server(httpd_factory, "redis-{}1".format(tag), channels,
                          expected=(OUTAGE, BACK))
        f2 = start_server(httpd_factory, "redis-{}2".format(tag), channels,
                          expected=(OUTAGE, BACK))
        result = wsutil.run(outage_traffic(r, f1, f2, down, up), 100)
    finally:
        for srv in (f1, f2):
            if srv:
                stop_server(srv)
        r.stop()
    check_outage(result, f1, f2, timeout)


async def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "{} within {}s".format(what,
                                                                  timeout)
        await asyncio.sleep(0.05)


async def outage_traffic(r, f1, f2, down, up):
    room = fresh("outage")
    m1, pids1 = await spread(f1, "/chat", 2)
    m2, pids2 = await spread(f2, "/chat", 2)
    members = m1 + m2
    home = ["f1"] * len(m1) + ["f2"] * len(m2)
    for i, ws in enumerate(members):
        await join(ws, room, "u%d" % i)
    got = [[] for _ in members]         # (text, id) of each message
    odd = [[] for _ in members]         # errors, anything unexpected
    closed = [None] * len(members)

    async def receive(i, ws):
        try:
            while True:
                m = json.loads(await ws.recv())
                if m["type"] == "message":
                    got[i].append((m["text"], m["id"]))
                elif m["type"] != "presence":
                    odd[i].append(m)
        except websockets.ConnectionClosed as e:
            closed[i] = (e.code, e.reason)

    receivers = [asyncio.ensure_future(receive(i, ws))
                 for i, ws in enumerate(members)]
    senders = {"f1": m1[0], "f2": m2[0]}
    sent = {"f1": 0, "f2": 0}
    talking = asyncio.Event()
    talking.set()

    async def talk(tag):
        while talking.is_set():
            await say(senders[tag], room, "%s-%d" % (tag, sent[tag]))
            sent[tag] += 1
            await asyncio.sleep(0.03)

    def have(i, tag, least=0):
        """Member i got a message of tag numbered least or above."""
        return any(t.startswith(tag + "-") and int(t.split("-")[1]) >= least
                   for t, _ in got[i])

    talkers = [asyncio.ensure_future(talk(t)) for t in ("f1", "f2")]
    t = {}
    # Both ways across, before the outage.
    await wait_until(lambda: all(have(i, "f1") and have(i, "f2")
                                 for i in range(len(members))), 15,
                     "every member hears both servers")
    await asyncio.sleep(0.3)
    t["stop"] = time.monotonic()
    await asyncio.to_thread(down, r)
    for srv in (f1, f2):
        assert await asyncio.to_thread(srv.wait_log, OUTAGE, 10), \
            "{} logged no {} within 10 s of Redis going away".format(
                srv.name, OUTAGE)
    t["outage_logged"] = time.monotonic()
    # Published over HTTP during the outage: reaches the server's own.
    during = await asyncio.to_thread(publish, f1, room, "http-outage",
                                     "/chat-publish")
    t["http_answered"] = time.monotonic()
    await asyncio.sleep(1.0)
    t["restart"] = time.monotonic()
    await asyncio.to_thread(up, r)
    for srv in (f1, f2):
        assert await asyncio.to_thread(srv.wait_log, BACK, 10), \
            "{} logged no {} within 10 s of Redis listening again".format(
                srv.name, BACK)
    t["back_logged"] = time.monotonic()
    mark = dict(sent)
    # Across again, by itself.
    await wait_until(
        lambda: all(have(i, "f2" if h == "f1" else "f1",
                         mark["f2" if h == "f1" else "f1"])
                    for i, h in enumerate(home)), 10,
        "cross-server delivery resumes after Redis is back")
    t["resumed"] = time.monotonic()
    await asyncio.sleep(0.5)
    talking.clear()
    await asyncio.gather(*talkers)
    last = {k: "%s-%d" % (k, v - 1) for k, v in sent.items()}
    await wait_until(lambda: all(any(x == last["f1"] for x, _ in g) and
                                 any(x == last["f2"] for x, _ in g)
                                 for g in got), 10,
                     "every member gets the last message of both servers")
    await asyncio.sleep(0.5)            # a duplicate would come now
    # Redis came back empty (nothing persisted): presence and counts of
    # both servers again, for a newcomer and a publisher.
    late = await connect(f2, "/chat")
    late_joined, _ = await join(late, room, "late")
    recount = await asyncio.to_thread(publish, f1, room, "recount",
                                      "/chat-publish")
    await late.close()
    still_open = [ws.open for ws in members]
    for task in receivers:
        task.cancel()
    await asyncio.gather(*receivers, return_exceptions=True)
    await close_all(members)
    return dict(room=room, home=home, got=got, odd=odd, closed=closed,
                still_open=still_open, sent=dict(sent), mark=mark,
                late_joined=late_joined, recount=recount,
                during=during, t=t, pids=(pids1, pids2))


def check_outage(res, f1, f2, timeout):
    t = res["t"]
    assert res["closed"] == [None] * len(res["home"]), \
        "WebSockets closed: {}".format(res["closed"])
    assert all(res["still_open"])
    assert res["odd"] == [[]] * len(res["home"]), \
        "unexpected messages: {}".format(res["odd"])
    assert res["during"]["type"] == "text"
    for i, (h, got) in enumerate(zip(res["home"], res["got"])):
        texts = [x for x, _ in got]
        ids = [y for _, y in got]
        dup = sorted({x for x in texts if texts.count(x) > 1})
        assert not dup, "member {} ({}) got twice: {}".format(i, h, dup[:10])
        dup_ids = sorted({y for y in ids if ids.count(y) > 1})
        assert not dup_ids, "member {} ({}) got ids twice: {}".format(
            i, h, dup_ids[:10])
        for tag in ("f1", "f2"):
            nums = [int(x.split("-")[1]) for x in texts
                    if x.startswith(tag + "-")]
            assert nums == sorted(nums), \
                "member {} ({}): {}'s messages out of order".format(i, h,
                                                                   tag)
            if tag == h:
                # Its own server's messages: every one, outage or not.
                missing = sorted(set(range(res["sent"][tag])) - set(nums))
                assert not missing, \
                    "member {} ({}) missed its own server's {}".format(
                        i, h, ["%s-%d" % (tag, n) for n in missing[:20]])
        if h == "f1":
            assert "http-outage" in texts, \
                "member {} of f1 missed the HTTP publish during the " \
                "outage".format(i)
        assert ids == sorted(ids), \
            "member {} ({}): ids not increasing across the outage: " \
            "{}".format(i, h, [(x, y) for x, y in got
                               if y in _descents(ids)][:10])
    n = len(res["home"])
    want = sorted(["u%d" % i for i in range(n)] + ["late"])
    assert sorted(res["late_joined"]["users"]) == want and \
        res["late_joined"]["count"] == n + 1, \
        "presence after Redis came back: {}".format(res["late_joined"])
    assert res["recount"]["subscribers"] == n + 1, \
        "subscribers after Redis came back: {}".format(res["recount"])
    # One line for the outage, one for the recovery, per server, at warn.
    for srv in (f1, f2):
        assert len(lines_of(srv, OUTAGE)) == 1, lines_of(srv, OUTAGE)
        assert len(lines_of(srv, BACK)) == 1, lines_of(srv, BACK)
        assert lines_of(srv, OUTAGE_LINE), lines_of(srv, OUTAGE)
        assert lines_of(srv, BACK_LINE), lines_of(srv, BACK)
    # The outage known within the timeout; back within the 1 s backoff
    # cap (plus slack).
    assert t["outage_logged"] - t["stop"] < timeout + 2, t
    assert t["http_answered"] - t["outage_logged"] < timeout + 2, t
    assert t["back_logged"] - t["restart"] < 1 + timeout + 2, t


def _descents(ids):
    return {ids[k + 1] for k in range(len(ids) - 1) if ids[k + 1] < ids[k]}


# --- faults: a Redis that never answers --------------------------------------

class EchoPinger(threading.Thread):
    """Echo round trips on a connection of its own, every 20 ms, timed,
    until stopped (a thread: the test's event loop cannot delay it)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.ws = wsutil.RawWebSocket(port, "/echo")
        self.rtts = []                  # (when, seconds)
        self.halt = threading.Event()
        self.error = None

    def run(self):
        try:
            i = 0
            while not self.halt.is_set():
                text = "ping %d" % i
                t0 = time.monotonic()
                self.ws.send_frame(wsutil.OP_TEXT, text)
                op, data = self.ws.recv_message()
                self.rtts.append((t0, time.monotonic() - t0))
                assert data == text.encode(), data
                i += 1
                time.sleep(0.02)
        except Exception as e:          # reported by the test
            self.error = e
        finally:
            self.ws.close()

    def stop(self):
        self.halt.set()
        self.join(10)


@pytest.mark.expect_log(OUTAGE)
def test_a_redis_that_never_answers_stalls_no_loop(httpd_factory):
    """httpd starts; WebSockets work; another connection's echo stays
    under 100 ms throughout; a publish reaches the local subscribers
    within timeout + 2 s (the hub gives up on Redis after `timeout`)."""
    silent = redisutil.SilentRedis()
    timeout = 1
    srv = pinger = None
    try:
        t0 = time.monotonic()
        srv = start_server(httpd_factory, "redis-silent",
                           "{} timeout={}".format(silent.url, timeout),
                           expected=(OUTAGE,))
        started = time.monotonic() - t0
        pinger = EchoPinger(srv.port)
        pinger.start()

        async def main():
            ch = fresh("stall")
            subs, _ = await spread(srv, "/broadcast?channel=" + ch, 2)
            await asyncio.sleep(0.3)
            delays = {}
            t = time.monotonic()
            await subs[0].send("over ws")
            for ws in subs:
                assert await recv_text(ws, timeout + 5) == "over ws"
            delays["ws"] = time.monotonic() - t
            t = time.monotonic()
            answer = await apublish(srv, ch, "over http")
            delays["http_answer"] = time.monotonic() - t
            for ws in subs:
                assert await recv_text(ws, timeout + 5) == "over http"
            delays["http"] = time.monotonic() - t
            # Again, later: still delivered (Redis is still silent).
            await asyncio.sleep(timeout + 0.5)
            t = time.monotonic()
            await subs[-1].send("later")
            for ws in subs:
                assert await recv_text(ws, timeout + 5) == "later"
            delays["later"] = time.monotonic() - t
            for ws in subs:
                await expect_nothing(ws, 0.3)
            await close_all(subs)
            return answer, delays

        answer, delays = wsutil.run(main(), 60)
        time.sleep(0.3)
        pinger.stop()
        assert pinger.error is None, repr(pinger.error)
        rtts = pinger.rtts
        worst = max(rtts, key=lambda x: x[1]) if rtts else None
        assert len(rtts) >= 50, "only {} echo round trips".format(len(rtts))
        assert worst[1] < 0.1, \
            "echo took {:.0f} ms, {:.1f} s after the pinger started".format(
                worst[1] * 1000, worst[0] - rtts[0][0])
        assert started < 10, "httpd took {:.1f} s to start".format(started)
        assert answer["type"] == "text"
        for k, v in delays.items():
            assert v < timeout + 2, (k, delays)
        assert silent.accepted >= 1, "the hub never connected"
        assert srv.wait_log(OUTAGE_LINE, 5), srv.read_log()[-2000:]
    finally:
        if pinger and pinger.is_alive():
            pinger.stop()
        if srv:
            stop_server(srv)
        silent.close()


# --- configuration -----------------------------------------------------------

def slug(text):
    """A ServerRoot name for a config value."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


@pytest.mark.parametrize("value", [
    "embedded",
    "redis://127.0.0.1",
    "redis://localhost:6390/2 prefix=app1: timeout=5",
    "redis://:secret@127.0.0.1:6390",
    "redis://user:secret@127.0.0.1:6390/15",
    "unix:///run/redis/redis.sock db=3 prefix=x: timeout=1",
], ids=["embedded", "host", "port-db-options", "password", "user-password",
        "unix"])
def test_good_channel_settings_pass_configtest(value):
    rc, out, _ = configtest("channels-ok-" + slug(value),
                            "WebSocketChannels {}\n".format(value))
    assert rc == 0, out
    assert "Syntax OK" in out


def refused(name, extra, *messages):
    """assert_refused, and not merely for want of the directive."""
    out = assert_refused(name, extra, "WebSocketChannels",
                         r"WebSocketChannels", *messages)
    assert "Invalid command" not in out, out
    return out


def test_rediss_is_refused_for_want_of_tls_in_hiredis():
    refused("channels-rediss", "WebSocketChannels rediss://127.0.0.1:6380\n",
            r"hiredis 0\.14", r"TLS")


@pytest.mark.parametrize("value,message", [
    ("redis://", r"host|URL|url"),
    ("redis://127.0.0.1:notaport", r"notaport|port"),
    ("redis://127.0.0.1:70000", r"70000|port"),
    ("redis://127.0.0.1:6379/notadb", r"notadb|db|database"),
    ("redis://127.0.0.1:6379/-1", r"-1|db|database"),
    ("http://127.0.0.1:6379", r"http:|scheme|URL|url"),
    ("127.0.0.1:6379", r"127\.0\.0\.1:6379|scheme|URL|url"),
    ("unix://relative/redis.sock", r"relative|absolute|unix"),
    ("unix:///run/redis.sock db=x", r"db"),
], ids=["empty-host", "port-text", "port-range", "db-text", "db-negative",
        "scheme", "no-scheme", "unix-relative", "unix-db"])
def test_a_malformed_url_is_refused(value, message):
    refused("channels-bad-" + slug(value),
            "WebSocketChannels {}\n".format(value), message)


@pytest.mark.parametrize("option", [
    "timeout=0", "timeout=abc", "timeout=", "colour=blue", "justaword",
], ids=["timeout-zero", "timeout-text", "timeout-empty", "unknown",
        "no-equals"])
def test_a_bad_option_is_refused(option):
    refused("channels-opt-" + slug(option),
            "WebSocketChannels redis://127.0.0.1:6379 {}\n".format(option),
            re.escape(option.split("=")[0]))


def test_channels_outside_the_main_server_config_are_refused():
    out = refused("channels-vhost", """
<VirtualHost 127.0.0.1:1>
    WebSocketChannels redis://127.0.0.1:6379
</VirtualHost>
""", r"<VirtualHost>")
    # Where it may go instead: not a <Location> (refused there too).
    assert "<Location>" not in out, out
    refused("channels-location", """
<Location "/x">
    WebSocketChannels redis://127.0.0.1:6379
</Location>
""", r"not allowed here|cannot occur|not allowed in <Location> context")


# --- a hub restart, and Redis that lost its data -----------------------------

@pytest.mark.expect_log(r"WS00078", r"WS00085", r"WS00084")
def test_a_killed_hub_catches_up_from_redis(httpd_factory):
    """Server A's hub is killed while server B publishes every 20 ms: A's
    subscribers (in both children) still get every message, in order,
    once: the restarted hub fetches from Redis what its children missed."""
    from test_channels import hub_pid

    r = redisutil.RedisServer(redis_dir("hubkill")).start()
    a = b = None
    expected = (r"WS00078", r"WS00085", r"WS00084")
    try:
        a = start_server(httpd_factory, "redis-hubkill-a", r.url,
                         expected=expected)
        b = start_server(httpd_factory, "redis-hubkill-b", r.url)

        async def main():
            ch = fresh("hubkill")
            subs, _ = await spread(a, "/broadcast?channel=" + ch, 2)
            pub = await connect(b, "/broadcast?channel=" + ch)
            await settle([a, b], subs + [pub], ch)
            got = [[] for _ in subs]
            stop = asyncio.Event()

            async def reader(i, ws):
                try:
                    while True:
                        m = await asyncio.wait_for(ws.recv(), 3)
                        if m.startswith("b"):
                            got[i].append(m)
                except asyncio.TimeoutError:
                    pass

            async def publisher():
                n = 0
                while not stop.is_set():
                    await pub.send("b%d" % n)
                    n += 1
                    await asyncio.sleep(0.02)
                return n

            readers = [asyncio.ensure_future(reader(i, ws))
                       for i, ws in enumerate(subs)]
            sender = asyncio.ensure_future(publisher())
            await asyncio.sleep(0.5)
            os.kill(hub_pid(a), signal.SIGKILL)
            assert a.wait_log(r"WS00078.*exited", 10)
            await asyncio.sleep(2.5)
            stop.set()
            n = await sender
            await asyncio.gather(*readers)
            await close_all(subs + [pub])
            return n, got

        n, got = wsutil.run(main(), 90)
    finally:
        for srv in (a, b):
            if srv:
                stop_server(srv)
        r.stop()
    want = ["b%d" % i for i in range(n)]
    for seen in got:
        assert seen == want, "missing {}, twice {}".format(
            sorted(set(want) - set(seen), key=lambda m: int(m[1:]))[:10],
            [m for m in set(seen) if seen.count(m) > 1][:10])


@pytest.mark.expect_log(OUTAGE, BACK)
def test_a_resume_after_redis_lost_its_data_says_gap(httpd_factory):
    """Redis restarts empty (no persistence): a chat member resuming from
    an id Redis no longer knows is told there is a gap."""
    r = redisutil.RedisServer(redis_dir("lost")).start()
    a = None
    try:
        a = start_server(httpd_factory, "redis-lost", r.url,
                         expected=(OUTAGE, BACK))

        async def main():
            room = fresh("lost")
            alice = await connect(a, "/chat")
            await join(alice, room, "alice")
            for i in range(3):
                await say(alice, room, "m%d" % i)
            said = [await crecv_until(alice, is_message(room, "m%d" % i))
                    for i in range(3)]
            await alice.close()
            r.stop()
            assert a.wait_log(OUTAGE_LINE, 10)
            r.start()
            assert a.wait_log(BACK_LINE, 15)
            back = await connect(a, "/chat")
            _, history = await join(back, room, "alice",
                                    since=said[-1]["id"])
            await back.close()
            return history

        history = wsutil.run(main(), 60)
    finally:
        if a:
            stop_server(a)
        r.stop()
    assert history["gap"] is True
    assert history["messages"] == []
