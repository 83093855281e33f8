// ws-client.js -- a small WebSocket client for pages served by mod_websocket
// (and any other server): one ES module, no dependencies, no build step.
//
//   import { WSClient, ChatClient } from "/ws-client.js";
//
//   const ws = new WSClient("/echo");              // relative URLs work
//   ws.addEventListener("message", (e) => console.log(e.data));
//   ws.send("hello");                              // queued until open
//
// WSClient: the browser's WebSocket, plus
//   - reconnection with exponential backoff and full jitter (minDelay ..
//     maxDelay); the backoff is reset only once a connection has stayed up
//     for stableAfter ms, so a server that accepts and drops at once does
//     not cause a storm;
//   - a connection attempt not open after connectTimeout ms is given up
//     and retried (a "close" event with code 1006, reason "not open in
//     time");
//   - dead-connection detection (optional): with heartbeat.message set, that
//     message is sent every heartbeat.interval ms, and a connection that
//     received nothing for heartbeat.timeout ms is closed and reconnected;
//   - sends made while not connected are queued (at most maxQueue; the
//     oldest is dropped beyond, with a "drop" event) and sent on (re)connect;
//   - sendJSON(value), and event.json on "message" events (undefined when
//     the data is not JSON text);
//   - events: "open", "message", "close" ({code, reason, wasClean,
//     willReconnect}), "reconnecting" ({attempt, delay}), "drop" ({data});
//     a connection given up by the heartbeat closes at once with code 4000,
//     reason "no answer in time", wasClean false.
//   The constructor throws a SyntaxError, as WebSocket's does, on a URL
//   that is not ws:, wss:, http: or https: (relative ones are resolved
//   against the page; a fragment is dropped) and on subprotocols that are
//   not distinct tokens.
//   close(code, reason) closes for good (no reconnection); like the
//   browser's, it throws on a code other than 1000 or 3000-4999 or a reason
//   over 123 bytes (and then changes nothing).  The socket is
//   opened in a microtask after the constructor: a client closed at once
//   (React StrictMode's double mount) never opens one.
//
// ChatClient: mod_websocket's chat protocol (handlers/chat.md) on WSClient:
// join/say/leave; after a reconnect it joins its rooms again with `since` =
// the last message id it saw in each, so nothing is lost or shown twice.
// Events: "message", "presence", "joined", "history", "error" (each event's
// `detail` is the server's JSON object).

const defaults = {
  protocols: undefined,
  minDelay: 250,
  maxDelay: 30000,
  stableAfter: 5000,
  maxQueue: 100,
  connectTimeout: 10000,        // a handshake not done by then is retried
  heartbeat: null,              // {message, interval, timeout}
  binaryType: "arraybuffer",
};

// The URL to open: a relative one against the page's, http(s): as
// ws(s):, without a fragment (the browser refuses one).  What the
// WebSocket constructor would refuse is refused here, at once, with its
// SyntaxError: the socket itself is made later, in a microtask, where a
// throw reaches no one and the client would wait forever.
function absolute(url) {
  let u;
  try {
    u = typeof location === "undefined" ? new URL(url)
                                        : new URL(url, location.href);
  } catch (e) {
    throw new DOMException("not a URL: " + url, "SyntaxError");
  }
  if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new DOMException("not a ws:, wss:, http: or https: URL: " + url,
                           "SyntaxError");
  }
  u.hash = "";
  return u.href;
}

function checkProtocols(protocols) {
  if (protocols === undefined) return;
  const list = Array.isArray(protocols) ? protocols : [protocols];
  const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  if (list.some((p) => !token.test(p)) || new Set(list).size < list.length) {
    throw new DOMException("subprotocols must be distinct tokens: "
                           + JSON.stringify(list), "SyntaxError");
  }
}

function event(type, props) {
  const e = new Event(type);
  Object.assign(e, props);
  return e;
}

export class WSClient extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = absolute(url);
    this.options = { ...defaults, ...options };
    checkProtocols(this.options.protocols);
    this.queue = [];
    this.attempt = 0;
    this.closedForGood = false;
    this.ws = null;
    this.timers = {};
    // The first socket opens in a microtask, not here: a client closed in
    // the same task it was made in (React's StrictMode mounts, unmounts and
    // mounts again at once) never opens one.
    queueMicrotask(() => { if (!this.closedForGood) this._connect(); });
  }

  /** The WebSocket's readyState: 0 (CONNECTING) also while waiting to
   *  reconnect, 3 (CLOSED) once close() was called. */
  get readyState() {
    if (this.ws && this.ws.readyState < 2) return this.ws.readyState;
    return this.closedForGood ? 3 : 0;
  }

  get connected() {
    return !!this.ws && this.ws.readyState === 1;
  }

  send(data) {
    if (this.connected) {
      this.ws.send(data);
      return true;
    }
    if (this.closedForGood) return false;
    this.queue.push(data);
    while (this.queue.length > this.options.maxQueue) {
      this.dispatchEvent(event("drop", { data: this.queue.shift() }));
    }
    return false;
  }

  sendJSON(value) {
    return this.send(JSON.stringify(value));
  }

  close(code = 1000, reason = "") {
    // Checked first, as the browser's close() would (it throws on these),
    // so that a refused code leaves the client as it was, not half-closed.
    if (!Number.isInteger(code)
        || (code !== 1000 && (code < 3000 || code > 4999))) {
      throw new DOMException("close code " + code + ": 1000, or 3000 to 4999",
                             "InvalidAccessError");
    }
    if (new TextEncoder().encode(reason).length > 123) {
      throw new DOMException("close reason: at most 123 bytes of UTF-8",
                             "SyntaxError");
    }
    this.closedForGood = true;
    this._clearTimers();
    if (this.ws && this.ws.readyState < 2) this.ws.close(code, reason);
  }

  _clearTimers() {
    for (const k of Object.keys(this.timers)) {
      clearTimeout(this.timers[k]);
      clearInterval(this.timers[k]);
    }
    this.timers = {};
  }

  _connect() {
    let ws;
    try {
      ws = new WebSocket(this.url, this.options.protocols);
    } catch (e) {
      // Refused by the browser for a reason not checked above: the
      // client ends, and says why.
      this.closedForGood = true;
      this.dispatchEvent(event("close", { code: 1006,
                                          reason: String(e.message || e),
                                          wasClean: false,
                                          willReconnect: false }));
      return;
    }
    ws.binaryType = this.options.binaryType;
    this.ws = ws;
    // A handshake nobody answers (a silent network, a stalled server)
    // would hold the client in CONNECTING for minutes: give it up.
    if (this.options.connectTimeout > 0) {
      this.timers.connect = setTimeout(() => {
        this._giveUp(ws, 1006, "not open in time");
      }, this.options.connectTimeout);
    }
    ws.onopen = () => {
      clearTimeout(this.timers.connect);
      this.lastSeen = Date.now();
      this.timers.stable = setTimeout(() => { this.attempt = 0; },
                                      this.options.stableAfter);
      this._startHeartbeat();
      this.dispatchEvent(event("open", {}));
      const queued = this.queue;
      this.queue = [];
      for (const data of queued) this.send(data);
    };
    ws.onmessage = (m) => {
      this.lastSeen = Date.now();
      let json;
      if (typeof m.data === "string") {
        try { json = JSON.parse(m.data); } catch (e) { json = undefined; }
      }
      this.dispatchEvent(event("message", { data: m.data, json }));
    };
    ws.onclose = (c) => this._closed(ws, c.code, c.reason, c.wasClean);
    ws.onerror = () => { /* a close event follows */ };
  }

  // Stop listening to ws and close it (its closing handshake may never
  // end): it ends now for the client.
  _giveUp(ws, code, reason) {
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};      // (Node's ws throws an error nobody hears)
    if (code === 1006) ws.close(); else ws.close(code, reason);
    this._closed(ws, code, reason, false);
  }

  // The socket ws has ended, or was given up: one "close" event, then a
  // reconnection unless close() was called.
  _closed(ws, code, reason, wasClean) {
    if (ws !== this.ws) return;
    this.ws = null;
    this._clearTimers();
    const willReconnect = !this.closedForGood;
    this.dispatchEvent(event("close", { code, reason, wasClean,
                                        willReconnect }));
    if (willReconnect) this._schedule();
  }

  _startHeartbeat() {
    const hb = this.options.heartbeat;
    if (!hb || !hb.message) return;
    this.timers.heartbeat = setInterval(() => {
      if (Date.now() - this.lastSeen > hb.timeout) {
        // Dead.  Its close event would come only after the closing
        // handshake, which a dead peer never answers (Chromium waits about
        // a minute): give the socket up now, and reconnect.
        this._giveUp(this.ws, 4000, "no answer in time");
        return;
      }
      if (this.connected) this.ws.send(hb.message);
    }, hb.interval);
  }

  _schedule() {
    const o = this.options;
    const cap = Math.min(o.maxDelay, o.minDelay * 2 ** this.attempt);
    const delay = Math.round(Math.random() * cap);     // full jitter
    this.attempt++;
    this.dispatchEvent(event("reconnecting", { attempt: this.attempt,
                                               delay }));
    this.timers.retry = setTimeout(() => {
      if (!this.closedForGood) this._connect();
    }, delay);
  }
}

export class ChatClient extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.rooms = new Map();       // room -> {name, lastId}
    this.ws = new WSClient(url, options);
    this.ws.addEventListener("open", () => {
      for (const [room, r] of this.rooms) {
        const join = { type: "join", room, name: r.name };
        if (r.lastId) join.since = r.lastId;
        this.ws.sendJSON(join);
      }
    });
    this.ws.addEventListener("message", (e) => this._onMessage(e.json));
  }

  // Joins and leaves are sent only on an open connection: the "open"
  // handler above joins every room on each (re)connection, so a join made
  // while connecting is sent once, not twice ("already joined"), and a
  // leave made while offline needs nothing sent.  Messages are queued.
  join(room, name) {
    this.rooms.set(room, { name, lastId: 0 });
    if (this.ws.connected) this.ws.sendJSON({ type: "join", room, name });
  }

  say(room, text) {
    this.ws.sendJSON({ type: "message", room, text });
  }

  leave(room) {
    this.rooms.delete(room);
    if (this.ws.connected) this.ws.sendJSON({ type: "leave", room });
  }

  close() {
    this.ws.close();
  }

  _seen(m) {
    const r = this.rooms.get(m.room);
    if (!r || !m.id) return true;
    if (m.id <= r.lastId) return false;       // a repeat: shown already
    r.lastId = m.id;
    return true;
  }

  _onMessage(m) {
    if (!m || typeof m !== "object") return;
    // What is still on its way from a room left (or never joined) is not
    // shown (handlers/chat.md: ignore messages for rooms you are not in).
    if (["message", "presence", "joined", "history"].includes(m.type)
        && !this.rooms.has(m.room)) return;
    if (m.type === "message") {
      if (this._seen(m)) this._emit("message", m);
    } else if (m.type === "history") {
      const fresh = (m.messages || []).filter((x) => this._seen(x));
      this._emit("history", { ...m, messages: fresh });
      for (const x of fresh) this._emit("message", x);
    } else {
      this._emit(m.type, m);
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
