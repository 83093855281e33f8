"""The chat protocol (handlers/chat.md) from a test's side: JSON in and
out, join (its "joined" and "history" answers), say, and the shapes of
messages and presence events.  test_chat.py and test_redis.py use it."""
import asyncio
import json
import time


async def send(ws, obj):
    """obj as JSON (a str or bytes goes as it is: malformed requests)."""
    await ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))


async def recv(ws, timeout=10):
    m = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(m, str), "a binary frame: {!r}".format(m)
    return json.loads(m)


async def recv_until(ws, pred, timeout=10):
    """Skip messages until pred(message) holds; return it."""
    deadline = time.monotonic() + timeout
    while True:
        m = await recv(ws, max(0.01, deadline - time.monotonic()))
        if pred(m):
            return m


async def expect_nothing(ws, wait=0.5):
    try:
        m = await asyncio.wait_for(ws.recv(), wait)
    except asyncio.TimeoutError:
        return
    raise AssertionError("unexpected message: {!r}".format(m))


async def join(ws, room, name=None, **extra):
    """Join; "joined" and then "history" must be the next two messages."""
    req = {"type": "join", "room": room}
    if name is not None:
        req["name"] = name
    req.update(extra)
    await send(ws, req)
    joined = await recv(ws)
    assert joined["type"] == "joined" and joined["room"] == room, joined
    history = await recv(ws)
    assert history["type"] == "history" and history["room"] == room, \
        history
    assert set(history) == {"type", "room", "messages", "gap"}, history
    return joined, history


async def say(ws, room, text):
    await send(ws, {"type": "message", "room": room, "text": text})


def is_message(room, text=None):
    return lambda m: m["type"] == "message" and m["room"] == room \
        and (text is None or m["text"] == text)


def presence(room, event, name, count):
    return {"type": "presence", "room": room, "event": event, "name": name,
            "count": count}
