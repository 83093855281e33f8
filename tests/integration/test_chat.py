"""The chat handler (handlers/chat.c; protocol in handlers/chat.md) on a
real httpd: joins, messages, presence, history and resume, errors, names
from httpd auth, rooms across child processes (mpm_event and mpm_worker
with two children, prefork), and locations that do not share rooms.

Every room name is fresh (rooms of a module's server outlive a test).
Which child holds a connection is proven by the kernel (childmap.py).
"""
import asyncio
import base64
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid

import pytest
import websockets

import childmap
from chatutil import (expect_nothing, is_message, join, presence, recv,
                      recv_until, say, send)
import serverroot
import wsutil
from conftest import (BUILD, HTPASSWD_USER, HTTPD, MODULE_SO, TESTROOT,
                      fresh_dir, httpd_env, stop_server)

CHAT_SO = os.path.join(BUILD, "handlers", "chat.so")

SITE = """
WebSocketLoadHandler chat "{chat}"
<Location "/chat">
    WebSocketHandler chat
</Location>
<Location "/chat2">
    WebSocketHandler chat
</Location>
<Location "/chat-small">
    WebSocketHandler chat
    WebSocketHandlerOption history 3
    WebSocketHandlerOption max-text 10
    WebSocketHandlerOption max-rooms 2
</Location>
<Location "/chat-short">
    WebSocketHandler chat
    WebSocketChannelHistory 3
</Location>
<Location "/chat-auth">
    WebSocketHandler chat
    AuthType Basic
    AuthName "chat"
    AuthBasicProvider file
    AuthUserFile "@ROOT@/conf/htpasswd"
    Require valid-user
</Location>
<Location "/chat-publish">
    SetHandler websocket-publish
    WebSocketNamespace /chat
    Require local
</Location>
""".format(chat=CHAT_SO)

# Killing a child on purpose: httpd may say so at error level.
KILLED = (r"AH00052", r"exit signal Killed")


def start_site(httpd_factory, name, **kw):
    """SITE on a fresh ServerRoot with the test htpasswd in conf/."""
    conf_dir = os.path.join(TESTROOT, name, "conf")
    fresh_dir(os.path.join(TESTROOT, name))
    os.makedirs(conf_dir)
    subprocess.run(["htpasswd", "-bc", os.path.join(conf_dir, "htpasswd"),
                    HTPASSWD_USER[0], HTPASSWD_USER[1]], check=True,
                   capture_output=True)
    return httpd_factory(name, SITE, keep_dir=True, **kw)


@pytest.fixture(scope="module")
def chat(httpd_factory):
    """mpm_event with two children, both started at once."""
    srv = start_site(httpd_factory, "chat-event", servers=2, start_servers=2)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def chat_prefork(httpd_factory):
    srv = start_site(httpd_factory, "chat-prefork", mpm="prefork")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def chat_worker(httpd_factory):
    """mpm_worker with two children (a thread per connection)."""
    srv = start_site(httpd_factory, "chat-worker", mpm="worker", servers=2,
                     start_servers=2)
    yield srv
    stop_server(srv)


# --- helpers -----------------------------------------------------------------

def fresh_room(tag):
    return "{}-{}".format(tag, uuid.uuid4().hex[:10])


async def connect(srv, path="/chat", **kw):
    return await websockets.connect(wsutil.ws_uri(srv.port, path),
                                    compression=None, open_timeout=20,
                                    close_timeout=5, **kw)


def check_message(m, room, sender, text):
    """A message object: exactly its fields, id and ts integers."""
    assert set(m) == {"type", "room", "from", "text", "id", "ts"}, m
    assert (m["type"], m["room"], m["from"], m["text"]) == \
        ("message", room, sender, text), m
    assert type(m["id"]) is int and m["id"] > 0, m
    assert type(m["ts"]) is int, m
    assert abs(m["ts"] - time.time() * 1000) < 60000, m


async def close_all(conns):
    await asyncio.gather(*[ws.close() for ws in conns],
                         return_exceptions=True)


def http_publish(srv, room, body, ctype="text/plain", path="/chat-publish"):
    req = urllib.request.Request(
        "http://127.0.0.1:{}{}/{}".format(srv.port, path, room), data=body,
        method="POST")
    req.add_header("Content-Type", ctype)
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
        return json.loads(r.read())


def auth_header(user=HTPASSWD_USER[0], password=HTPASSWD_USER[1]):
    cred = base64.b64encode("{}:{}".format(user, password).encode())
    return {"Authorization": "Basic " + cred.decode()}


# --- joining, messages, leaving ----------------------------------------------

def test_join_answers_joined_then_an_empty_history(chat):
    async def main():
        room = fresh_room("first")
        a = await connect(chat)
        joined, history = await join(a, room, "alice")
        await a.close()
        return room, joined, history

    room, joined, history = wsutil.run(main(), 30)
    assert joined == {"type": "joined", "room": room, "name": "alice",
                      "users": ["alice"], "count": 1, "last_id": 0}
    assert history == {"type": "history", "room": room, "messages": [],
                       "gap": False}


def test_a_message_reaches_every_member_sender_included(chat):
    async def main():
        room = fresh_room("fanout")
        a = await connect(chat)
        await join(a, room, "alice")
        b = await connect(chat)
        joined_b, _ = await join(b, room, "bob")
        seen_join = await recv(a)
        c = await connect(chat)
        joined_c, _ = await join(c, room, "carol")
        seen_c = [await recv(a), await recv(b)]
        await say(a, room, "hello")
        got = [await recv(ws) for ws in (a, b, c)]
        await say(c, room, "h\u00e9llo \U0001f600\n\"quoted\"")
        got2 = [await recv(ws) for ws in (a, b, c)]
        await close_all([a, b, c])
        return room, joined_b, seen_join, joined_c, seen_c, got, got2

    room, joined_b, seen_join, joined_c, seen_c, got, got2 = \
        wsutil.run(main(), 30)
    assert sorted(joined_b["users"]) == ["alice", "bob"]
    assert joined_b["count"] == 2 and joined_b["name"] == "bob"
    assert seen_join == presence(room, "join", "bob", 2)
    assert sorted(joined_c["users"]) == ["alice", "bob", "carol"]
    assert joined_c["count"] == 3
    assert seen_c == [presence(room, "join", "carol", 3)] * 2
    for m in got:
        check_message(m, room, "alice", "hello")
    assert got[0] == got[1] == got[2]
    for m in got2:
        check_message(m, room, "carol", "h\u00e9llo \U0001f600\n\"quoted\"")
    assert got2[0] == got2[1] == got2[2]
    assert got2[0]["id"] > got[0]["id"]
    assert got2[0]["ts"] >= got[0]["ts"]


def test_ids_increase_and_every_member_sees_one_order(chat):
    n = 30

    async def main():
        room = fresh_room("order")
        a = await connect(chat)
        await join(a, room, "alice")
        b = await connect(chat)
        await join(b, room, "bob")
        await recv(a)                           # bob's presence
        for i in range(n):
            await say(a, room, "a%d" % i)
            await say(b, room, "b%d" % i)
        seen = [[await recv(ws) for _ in range(2 * n)] for ws in (a, b)]
        await close_all([a, b])
        return seen

    seen_a, seen_b = wsutil.run(main(), 60)
    assert seen_a == seen_b
    ids = [m["id"] for m in seen_a]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    texts = [m["text"] for m in seen_a]
    assert [t for t in texts if t[0] == "a"] == ["a%d" % i for i in range(n)]
    assert [t for t in texts if t[0] == "b"] == ["b%d" % i for i in range(n)]


def test_a_message_right_after_join_comes_after_joined_and_history(chat):
    async def main():
        room = fresh_room("eager")
        a = await connect(chat)
        # Both at once: the join's answer first, then our own message.
        await a.send(json.dumps({"type": "join", "room": room,
                                 "name": "alice"}))
        await say(a, room, "right away")
        got = [await recv(a) for _ in range(3)]
        await a.close()
        return room, got

    room, got = wsutil.run(main(), 30)
    assert [m["type"] for m in got] == ["joined", "history", "message"]
    check_message(got[2], room, "alice", "right away")


def test_leave_answers_left_and_the_others_see_it(chat):
    async def main():
        room = fresh_room("leave")
        a = await connect(chat)
        await join(a, room, "alice")
        b = await connect(chat)
        await join(b, room, "bob")
        await recv(a)                           # bob's presence
        await send(b, {"type": "leave", "room": room})
        left = await recv(b)
        seen = await recv(a)
        # No longer in the room: neither sends nor receives there.
        await say(a, room, "after bob left")
        mine = await recv(a)
        await expect_nothing(b)
        await say(b, room, "still here?")
        refused = await recv(b)
        # And may join again.
        joined, history = await join(b, room, "bob")
        back = await recv(a)
        await close_all([a, b])
        return room, left, seen, mine, refused, joined, history, back

    room, left, seen, mine, refused, joined, history, back = \
        wsutil.run(main(), 30)
    assert left == {"type": "left", "room": room}
    assert seen == presence(room, "leave", "bob", 1)
    check_message(mine, room, "alice", "after bob left")
    assert refused["type"] == "error" and refused["room"] == room
    assert joined["count"] == 2
    assert [m["text"] for m in history["messages"]] == ["after bob left"]
    assert back == presence(room, "join", "bob", 2)


def test_a_leave_right_after_a_join_is_answered_after_it(chat):
    """join and leave sent at once: joined, history, then left -- whether
    or not the join was complete when the leave came."""
    async def main():
        room = fresh_room("quick")
        a = await connect(chat)
        await join(a, room, "alice")
        b = await connect(chat)
        await send(b, {"type": "join", "room": room, "name": "bob"})
        await send(b, {"type": "leave", "room": room})
        got = [await recv(b) for _ in range(3)]
        seen = [await recv(a), await recv(a)]
        # Out of the room now, and free to come back.
        await say(a, room, "bob is out")
        await recv(a)
        await expect_nothing(b)
        joined, history = await join(b, room, "bob")
        await close_all([a, b])
        return room, got, seen, joined, history

    room, got, seen, joined, history = wsutil.run(main(), 30)
    assert [m["type"] for m in got] == ["joined", "history", "left"]
    assert seen == [presence(room, "join", "bob", 2),
                    presence(room, "leave", "bob", 1)]
    assert joined["count"] == 2
    assert [m["text"] for m in history["messages"]] == ["bob is out"]


def test_join_leave_join_at_once_ends_coherently(chat):
    """Sent in one write.  If the first join is still unanswered when the
    second comes, the second is refused ("still leaving"); if it was
    answered, the leave is done at once and the second join succeeds."""
    async def main():
        room = fresh_room("jlj")
        b = await connect(chat)
        reqs = [{"type": "join", "room": room, "name": "bob"},
                {"type": "leave", "room": room},
                {"type": "join", "room": room, "name": "bob"}]
        # One TCP write carrying the three frames.
        b.transport.write(b"".join(
            wsutil.frame(wsutil.OP_TEXT, json.dumps(r)) for r in reqs))
        got = [await recv(b) for _ in range(4)]
        if got[0]["type"] == "joined":
            got.append(await recv(b))
        await expect_nothing(b)
        await say(b, room, "am I in?")
        after = await recv(b)
        await b.close()
        return room, got, after

    room, got, after = wsutil.run(main(), 30)
    kinds = [m["type"] for m in got]
    if kinds[0] == "error":
        assert got[0] == {"type": "error", "room": room,
                          "error": "still leaving (wait for \"left\")"}
        assert kinds[1:] == ["joined", "history", "left"]
        assert after["type"] == "error" and after["error"] == "not joined"
    else:
        assert kinds == ["joined", "history", "left", "joined", "history"]
        check_message(after, room, "bob", "am I in?")


def test_closing_and_vanishing_connections_leave_the_room(chat):
    async def main():
        room = fresh_room("vanish")
        a = await connect(chat)
        await join(a, room, "alice")
        b = await connect(chat)
        await join(b, room, "bob")
        c = await connect(chat)
        await join(c, room, "carol")
        await recv(a)
        await recv(a)
        await recv(b)
        # carol closes properly; bob's TCP connection just goes away.
        await c.close()
        by_close = await recv(a)
        await recv(b)
        b.transport.abort()
        by_abort = await recv(a)
        await a.close()
        return room, by_close, by_abort

    room, by_close, by_abort = wsutil.run(main(), 30)
    assert by_close == presence(room, "leave", "carol", 2)
    assert by_abort == presence(room, "leave", "bob", 1)


def test_one_connection_in_two_rooms_with_a_name_in_each(chat):
    async def main():
        r1, r2 = fresh_room("two-a"), fresh_room("two-b")
        a = await connect(chat)
        j1, _ = await join(a, r1, "alice")
        j2, _ = await join(a, r2, "al")
        b = await connect(chat)
        await join(b, r2, "bob")
        p = await recv(a)
        await say(a, r1, "in one")
        m1 = await recv(a)
        await say(a, r2, "in two")
        m2 = await recv(a)
        mb = await recv(b)
        await close_all([a, b])
        return r1, r2, j1, j2, p, m1, m2, mb

    r1, r2, j1, j2, p, m1, m2, mb = wsutil.run(main(), 30)
    assert j1["name"] == "alice" and j2["name"] == "al"
    assert p == presence(r2, "join", "bob", 2)
    check_message(m1, r1, "alice", "in one")
    check_message(m2, r2, "al", "in two")
    assert mb == m2


# --- history and resume ------------------------------------------------------

async def publish_texts(ws, room, texts):
    """Send texts to room from ws; return the messages as ws got them
    back (their ids)."""
    for t in texts:
        await say(ws, room, t)
    return [await recv_until(ws, is_message(room, t)) for t in texts]


def test_a_join_replays_the_last_history_messages(chat):
    async def main():
        room = fresh_room("last")
        a = await connect(chat, "/chat-small")      # history 3
        await join(a, room, "alice")
        sent = await publish_texts(a, room, ["m%d" % i for i in range(5)])
        c = await connect(chat, "/chat-small")
        joined, history = await join(c, room, "carol")
        await recv(a)                           # carol's presence
        # The default, 50, with 60 messages in the room.
        big = fresh_room("last50")
        b = await connect(chat)
        await join(b, big, "bob")
        sent50 = await publish_texts(b, big, ["n%d" % i for i in range(60)])
        d = await connect(chat)
        _, history50 = await join(d, big, "dave")
        await close_all([a, b, c, d])
        return room, sent, joined, history, sent50, history50

    room, sent, joined, history, sent50, history50 = wsutil.run(main(), 60)
    assert history["gap"] is False
    assert history["messages"] == sent[2:]
    for m in history["messages"]:
        check_message(m, room, "alice", m["text"])
    assert joined["last_id"] == sent[-1]["id"]
    assert history50["messages"] == sent50[10:]
    assert history50["gap"] is False


def test_resume_gets_exactly_what_was_published_meanwhile(chat):
    """bob saw up to X, dropped; alice kept talking (before, during and
    after his return); with since=X he gets each message once, in order:
    the history, then the live ones."""
    async def main():
        room = fresh_room("resume")
        a = await connect(chat)
        await join(a, room, "alice")
        b = await connect(chat)
        await join(b, room, "bob")
        await recv(a)                                   # bob joined
        await publish_texts(a, room, ["m%d" % i for i in range(5)])
        seen = [await recv(b) for _ in range(5)]
        last_seen = seen[-1]["id"]
        b.transport.abort()
        await recv_until(a, lambda m: m["type"] == "presence")
        # Some while bob is away...
        await publish_texts(a, room, ["m%d" % i for i in range(5, 15)])
        # ...and more while he comes back.
        sending = asyncio.ensure_future(publish_texts(
            a, room, ["m%d" % i for i in range(15, 45)] + ["end"]))
        b2 = await connect(chat)
        joined, history = await join(b2, room, "bob", since=last_seen)
        got = list(history["messages"])
        while not got or got[-1]["text"] != "end":
            m = await recv(b2)
            assert m["type"] == "message", m
            got.append(m)
        sent = await sending
        await expect_nothing(b2, 0.3)
        await close_all([a, b2])
        return last_seen, joined, history, got, sent

    last_seen, joined, history, got, sent = wsutil.run(main(), 60)
    assert history["gap"] is False
    assert [m["text"] for m in got] == \
        ["m%d" % i for i in range(5, 45)] + ["end"]
    assert all(m["id"] > last_seen for m in got)
    ids = [m["id"] for m in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert got[-len(sent):] == sent


def test_resume_from_before_the_kept_history_says_gap(chat):
    async def main():
        room = fresh_room("gap")
        a = await connect(chat, "/chat-short")      # the channel keeps 3
        await join(a, room, "alice")
        sent = await publish_texts(a, room, ["m%d" % i for i in range(6)])
        answers = []
        for since in (sent[0]["id"], sent[2]["id"], sent[4]["id"],
                      sent[5]["id"]):
            c = await connect(chat, "/chat-short")
            _, history = await join(c, room, "carol", since=since)
            answers.append(history)
            await c.close()
        await a.close()
        return sent, answers

    sent, (h0, h2, h4, h5) = wsutil.run(main(), 60)
    assert h0["gap"] is True and h0["messages"] == sent[3:]
    assert h2["gap"] is False and h2["messages"] == sent[3:]
    assert h4["gap"] is False and h4["messages"] == sent[5:]
    assert h5["gap"] is False and h5["messages"] == []


# --- errors ------------------------------------------------------------------

R = "@ROOM@"            # replaced by a fresh room in each case
R2 = "@ROOM2@"
R3 = "@ROOM3@"

# (id, setup joins, request, the room the error names or None)
ERROR_CASES = [
    ("not-json", [], "hello there", None),
    ("truncated-json", [], '{"type": "join", ', None),
    ("not-an-object", [], "[1, 2, 3]", None),
    ("duplicate-keys", [], '{"type": "join", "type": "leave"}', None),
    ("missing-type", [], {"room": R}, None),
    ("type-not-a-string", [], {"type": 7}, None),
    ("unknown-type", [], {"type": "dance", "room": R}, None),
    ("binary", [], b"\x00\x01binary", None),
    ("join-without-room", [], {"type": "join", "name": "bob"}, None),
    ("room-not-a-string", [], {"type": "join", "room": 5, "name": "b"},
     None),
    ("empty-room", [], {"type": "join", "room": "", "name": "bob"}, None),
    ("room-too-long", [], {"type": "join", "room": "r" * 65, "name": "b"},
     None),
    ("room-with-control", [], {"type": "join", "room": "a\tb",
                               "name": "bob"}, None),
    ("missing-name", [], {"type": "join", "room": R}, R),
    ("empty-name", [], {"type": "join", "room": R, "name": ""}, R),
    ("name-too-long", [], {"type": "join", "room": R, "name": "x" * 33}, R),
    ("name-not-a-string", [], {"type": "join", "room": R, "name": 1}, R),
    ("name-with-control", [], {"type": "join", "room": R,
                               "name": "bo\u0007b"}, R),
    ("name-with-nul", [], {"type": "join", "room": R, "name": "bo\u0000b"},
     R),
    ("name-with-c1-control", [], {"type": "join", "room": R,
                                  "name": "bo\u0085b"}, R),
    ("since-not-an-id", [], {"type": "join", "room": R, "name": "bob",
                             "since": "yesterday"}, R),
    ("since-negative", [], {"type": "join", "room": R, "name": "bob",
                            "since": -1}, R),
    ("double-join", [R], {"type": "join", "room": R, "name": "bob"}, R),
    ("too-many-rooms", [R, R2], {"type": "join", "room": R3,
                                 "name": "bob"}, R3),
    ("message-not-joined", [], {"type": "message", "room": R,
                                "text": "hi"}, R),
    ("text-too-long", [R], {"type": "message", "room": R,
                            "text": "x" * 11}, R),
    ("text-too-long-multibyte", [R], {"type": "message", "room": R,
                                      "text": "\u00e9" * 6}, R),
    ("empty-text", [R], {"type": "message", "room": R, "text": ""}, R),
    ("missing-text", [R], {"type": "message", "room": R}, R),
    ("text-not-a-string", [R], {"type": "message", "room": R,
                                "text": ["hi"]}, R),
    ("leave-not-joined", [], {"type": "leave", "room": R}, R),
]


def substitute(obj, rooms):
    if isinstance(obj, str):
        for k, v in rooms.items():
            obj = obj.replace(k, v)
        return obj
    if isinstance(obj, dict):
        return {k: substitute(v, rooms) for k, v in obj.items()}
    return obj


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_a_bad_request_is_answered_with_an_error_and_the_connection_stays(
        chat, case):
    _, setup, request, err_room = case
    rooms = {R: fresh_room("err"), R2: fresh_room("err2"),
             R3: fresh_room("err3")}

    async def main():
        ws = await connect(chat, "/chat-small")   # max-text 10, max-rooms 2
        for r in setup:
            await join(ws, rooms[r], "bob")
        await send(ws, substitute(request, rooms))
        err = await recv(ws)
        await expect_nothing(ws, 0.2)           # one answer, no more
        # Still served: a message in a room joined (now or before).
        room = rooms[setup[0]] if setup else rooms[R]
        if not setup:
            await join(ws, room, "bob")
        await say(ws, room, "still ok")
        ok = await recv(ws)
        await ws.close()
        return err, ok, room

    err, ok, room = wsutil.run(main(), 30)
    assert err["type"] == "error", err
    assert isinstance(err["error"], str) and err["error"], err
    assert set(err) == ({"type", "error", "room"} if err_room
                        else {"type", "error"}), err
    if err_room:
        assert err["room"] == rooms[err_room]
    check_message(ok, room, "bob", "still ok")


def test_errors_say_what_is_wrong(chat):
    async def main():
        ws = await connect(chat, "/chat-small")
        room = fresh_room("why")
        out = {}
        for key, req in [
                ("json", "nope"),
                ("notobject", "42"),
                ("broken", "{\"type\": "),
                ("huge", {"type": "message", "room": room,
                          "text": "x" * 5000}),
                ("type", {"type": "dance"}),
                ("name", {"type": "join", "room": room, "name": ""}),
                ("notjoined", {"type": "message", "room": room,
                               "text": "x"})]:
            await send(ws, req)
            out[key] = (await recv(ws))["error"]
        await join(ws, room, "bob")
        await send(ws, {"type": "join", "room": room, "name": "bob"})
        out["double"] = (await recv(ws))["error"]
        await say(ws, room, "x" * 11)
        out["long"] = (await recv(ws))["error"]
        await join(ws, fresh_room("why2"), "bob")
        await send(ws, {"type": "join", "room": fresh_room("why3"),
                        "name": "bob"})
        out["rooms"] = (await recv(ws))["error"]
        await ws.close()
        return out

    out = wsutil.run(main(), 30)
    assert out["json"] == "not a JSON object"
    assert out["notobject"] == "not a JSON object"
    assert out["broken"].startswith("not JSON")
    # Refused before parsing: /chat-small's max-text 10 allows requests of
    # 6 * (10 + 2 * 255) + 1024 bytes.
    assert out["huge"] == "message too long (at most 4144 bytes)"
    assert "unknown type" in out["type"]
    assert out["name"].startswith("name:") and "32 bytes" in out["name"]
    assert out["notjoined"] == "not joined"
    assert out["double"] == "already joined"
    assert out["long"] == "text too long (at most 10 bytes)"
    assert out["rooms"] == "too many rooms (at most 2 at once)"


def test_limits_themselves_are_accepted(chat):
    async def main():
        ws = await connect(chat, "/chat-small")
        room = "\u00e9" * 32                    # 64 bytes of UTF-8
        name = "\u00fc" * 16                    # 32 bytes of UTF-8
        joined, _ = await join(ws, room, name)
        await say(ws, room, "\u00e9" * 5)       # 10 bytes
        m = await recv(ws)
        await ws.close()
        return room, name, joined, m

    room, name, joined, m = wsutil.run(main(), 30)
    assert joined["name"] == name
    check_message(m, room, name, "\u00e9" * 5)


# --- names from httpd's authentication ---------------------------------------

def test_an_authenticated_user_is_the_name_whatever_the_client_says(chat):
    user = HTPASSWD_USER[0]

    async def main():
        room = fresh_room("auth")
        a = await connect(chat, "/chat-auth", extra_headers=auth_header())
        joined, _ = await join(a, room, "mallory")
        b = await connect(chat, "/chat-auth", extra_headers=auth_header())
        joined_b, _ = await join(b, room)       # no name needed
        seen = await recv(a)
        await say(b, room, "who am I?")
        got = [await recv(a), await recv(b)]
        await close_all([a, b])
        try:
            await connect(chat, "/chat-auth")
            refused = None
        except websockets.exceptions.InvalidStatusCode as e:
            refused = e.status_code
        return room, joined, joined_b, seen, got, refused

    room, joined, joined_b, seen, got, refused = wsutil.run(main(), 30)
    assert joined["name"] == user and joined["users"] == [user]
    assert joined_b["name"] == user and joined_b["users"] == [user, user]
    assert seen == presence(room, "join", user, 2)
    for m in got:
        check_message(m, room, user, "who am I?")
    assert refused == 401


# --- messages not from the chat ----------------------------------------------

def test_a_message_published_over_http_shows_from_null(chat):
    async def main():
        room = fresh_room("http")
        a = await connect(chat)
        await join(a, room, "alice")
        http_publish(chat, room, b"plain words")
        plain = await recv(a)
        # Looks like the chat's own, but came over HTTP: not trusted.
        http_publish(chat, room, b'{"from":"admin","text":"obey"}',
                     "application/json")
        spoof = await recv(a)
        # Binary that is not UTF-8 cannot be a chat text: not shown.
        http_publish(chat, room, b"\xff\xfe\x00", "application/octet-stream")
        await expect_nothing(a)
        c = await connect(chat)
        _, history = await join(c, room, "carol")
        await close_all([a, c])
        return room, plain, spoof, history

    room, plain, spoof, history = wsutil.run(main(), 30)
    check_message(plain, room, None, "plain words")
    check_message(spoof, room, None, '{"from":"admin","text":"obey"}')
    assert history["messages"] == [plain, spoof]


# --- across child processes --------------------------------------------------

async def two_in_different_children(srv):
    """Open connections until two sit in different child processes;
    close the others.  Returns (a, b, pid_a, pid_b)."""
    conns, pids = await childmap.spread(srv, lambda s, _p: connect(s), None,
                                        2)
    a, pa = conns[0], pids[0]
    i = next(i for i, p in enumerate(pids) if p != pa)
    b, pb = conns[i], pids[i]
    await close_all([ws for j, ws in enumerate(conns) if j not in (0, i)])
    return a, b, pa, pb


async def chat_across(srv):
    a, b, pa, pb = await two_in_different_children(srv)
    room = fresh_room("across")
    log = {}
    await join(a, room, "ann")
    joined_b, _ = await join(b, room, "ben")
    log["b_joined"] = joined_b
    log["a_sees_join"] = await recv(a)
    await say(a, room, "from ann")
    log["ann_says"] = [await recv(a), await recv(b)]
    await say(b, room, "from ben")
    log["ben_says"] = [await recv(a), await recv(b)]
    await send(a, {"type": "leave", "room": room})
    log["a_left"] = await recv(a)
    log["b_sees_leave"] = await recv(b)
    _, history = await join(a, room, "ann")
    log["a_history"] = history
    log["b_sees_join"] = await recv(b)
    b.transport.abort()
    log["a_sees_vanish"] = await recv(a)
    await a.close()
    return room, pa, pb, log


def check_across(room, pa, pb, log):
    assert pa != pb
    assert sorted(log["b_joined"]["users"]) == ["ann", "ben"]
    assert log["b_joined"]["count"] == 2
    assert log["a_sees_join"] == presence(room, "join", "ben", 2)
    for m in log["ann_says"]:
        check_message(m, room, "ann", "from ann")
    for m in log["ben_says"]:
        check_message(m, room, "ben", "from ben")
    assert log["ann_says"][0] == log["ann_says"][1]
    assert log["ben_says"][0] == log["ben_says"][1]
    assert log["a_left"] == {"type": "left", "room": room}
    assert log["b_sees_leave"] == presence(room, "leave", "ann", 1)
    assert log["a_history"]["messages"] == \
        [log["ann_says"][0], log["ben_says"][0]]
    assert log["b_sees_join"] == presence(room, "join", "ann", 2)
    assert log["a_sees_vanish"] == presence(room, "leave", "ben", 1)


def test_chat_between_two_children_of_mpm_event(chat):
    check_across(*wsutil.run(chat_across(chat), 90))


def test_chat_between_two_prefork_processes(chat_prefork):
    check_across(*wsutil.run(chat_across(chat_prefork), 90))


def test_chat_between_two_children_of_mpm_worker(chat_worker):
    check_across(*wsutil.run(chat_across(chat_worker), 90))


def test_members_of_a_killed_child_leave_the_room(httpd_factory):
    """prefork: bob's process is killed; alice (in another) sees him
    leave, and the room goes on."""
    srv = start_site(httpd_factory, "chat-kill", mpm="prefork",
                     expected=KILLED)
    try:
        async def main():
            a, b, pa, pb = await two_in_different_children(srv)
            room = fresh_room("killed")
            await join(a, room, "alice")
            await join(b, room, "bob")
            await recv(a)
            os.kill(pb, signal.SIGKILL)
            gone = await recv(a, 15)
            c = await connect(srv)
            joined, _ = await join(c, room, "carol")
            await recv(a)
            await say(c, room, "after")
            got = [await recv(a), await recv(c)]
            await close_all([a, b, c])
            return room, gone, joined, got

        room, gone, joined, got = wsutil.run(main(), 90)
        assert gone == presence(room, "leave", "bob", 1)
        assert sorted(joined["users"]) == ["alice", "carol"]
        for m in got:
            check_message(m, room, "carol", "after")
    finally:
        stop_server(srv)


# --- locations ---------------------------------------------------------------

def test_two_chat_locations_do_not_share_rooms(chat):
    async def main():
        room = fresh_room("apart")
        a = await connect(chat, "/chat")
        await join(a, room, "alice")
        b = await connect(chat, "/chat2")
        joined_b, _ = await join(b, room, "bob")
        await expect_nothing(a)                 # no presence across
        await say(a, room, "in /chat")
        mine_a = await recv(a)
        await expect_nothing(b)
        await say(b, room, "in /chat2")
        mine_b = await recv(b)
        await expect_nothing(a)
        # /chat-publish is /chat's namespace: /chat2 hears nothing.
        http_publish(chat, room, b"to /chat")
        over_http = await recv(a)
        await expect_nothing(b)
        await close_all([a, b])
        return room, joined_b, mine_a, mine_b, over_http

    room, joined_b, mine_a, mine_b, over_http = wsutil.run(main(), 30)
    assert joined_b["users"] == ["bob"] and joined_b["count"] == 1
    assert joined_b["last_id"] == 0
    check_message(mine_a, room, "alice", "in /chat")
    check_message(mine_b, room, "bob", "in /chat2")
    check_message(over_http, room, None, "to /chat")


# --- configuration -----------------------------------------------------------

def configtest(name, options):
    d = os.path.join(TESTROOT, "chat-config-" + name)
    fresh_dir(d)
    extra = 'WebSocketLoadHandler chat "{}"\n<Location "/c">\n' \
            '    WebSocketHandler chat\n'.format(CHAT_SO)
    for k, v in options:
        extra += "    WebSocketHandlerOption {} {}\n".format(k, v)
    extra += "</Location>\n"
    conf = serverroot.generate(d, 1, extra=extra, listen_host="127.0.0.1",
                               module=MODULE_SO)
    proc = subprocess.run([HTTPD, "-t", "-f", conf], capture_output=True,
                          text=True, timeout=60, env=httpd_env())
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("option,value,message", [
    ("history", "-1", "history is the number of messages replayed on a "
                      "join, from 0 to 1000"),
    ("history", "1001", "from 0 to 1000"),
    ("history", "ten", "from 0 to 1000"),
    ("max-text", "0", "max-text is the longest text a client may send, in "
                      "bytes, from 1 to 16777216"),
    ("max-text", "16777217", "from 1 to 16777216"),
    ("max-rooms", "0", "max-rooms is how many rooms one connection may be "
                       "in, from 1 to 255"),
    ("max-rooms", "256", "from 1 to 255"),
    ("max-rooms", "2x", "from 1 to 255"),
    ("colour", "blue", "unknown option (chat takes history, max-text, "
                       "max-rooms)"),
])
def test_a_bad_option_is_refused_at_configtest(option, value, message):
    rc, out = configtest("bad", [(option, value)])
    assert rc != 0, out
    assert "Syntax error on line" in out, out
    assert message in out, out


def test_good_options_pass_configtest():
    rc, out = configtest("good", [("history", "0"), ("max-text", "16777216"),
                                  ("max-rooms", "255")])
    assert rc == 0, out
