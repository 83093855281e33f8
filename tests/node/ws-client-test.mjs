// ws-client-test.mjs -- runs demo/htdocs/ws-client.js (the browser module)
// under Node with the `ws` package as the global WebSocket, for
// tests/integration/test_ws_client.py.
//
//   node ws-client-test.mjs '{"scenario": "chat", "url": ..., ...}'
//
// Prints JSON lines on stdout: {"ready": true} once the scenario is set up,
// then one result object; exits 0 (or 1 with the error on stderr).
//   chat   ChatClient joins spec.room as spec.name; collects the texts of
//          "message" events until it has spec.expect (in any order), and
//          counts reconnections
//   queue  WSClient on an echo URL: sends spec.count messages before it is
//          open; reports what came back
//   heartbeat  WSClient with a heartbeat on spec.url through a TCP proxy of
//          this script's; once open, the proxy stops passing that
//          connection's bytes either way (a dead peer): how long until the
//          "close" event and the next "open", and that close event
//   connecttimeout  WSClient (connectTimeout spec.connect_timeout) on a
//          TCP server of this script's that accepts and never answers: the
//          first "close" event, when it came, and whether a reconnection
//          attempt followed
//   badargs    WSClient with a URL with a fragment (spec.url + '#x'), a
//          bad subprotocol, a ftp: URL: what the constructor throws, and
//          whether the first opens
//   badclose   WSClient on an echo URL, once open: close(1001) and a close
//          reason over 123 bytes (what each throws), whether the client
//          still echoes after them, then close()
//   joinearly  ChatClient joins spec.room before its socket is open; the
//          events it gets in the next second ("joined", "error")
//   stray  ChatClient against a server of this script's that answers its
//          join, then sends a message and a presence of a room the client
//          is not in, then one of its room: the "message" and "presence"
//          events the client emits
import net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { WSClient, ChatClient } from '../../demo/htdocs/ws-client.js';

globalThis.WebSocket = WebSocket;
const spec = JSON.parse(process.argv[2]);
setTimeout(() => { process.stderr.write('timeout\n'); process.exit(1); },
           spec.timeout_ms || 60000).unref();

function print(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

if (spec.scenario === 'chat') {
  const chat = new ChatClient(spec.url, { minDelay: 100, maxDelay: 1000 });
  const texts = [];
  let reconnects = 0, ready = false;
  chat.ws.addEventListener('reconnecting', () => { reconnects++; });
  chat.addEventListener('history', () => {
    if (!ready) { ready = true; print({ ready: true }); }
  });
  chat.addEventListener('message', (e) => {
    texts.push(e.detail.text);
    if (spec.expect.every((t) => texts.includes(t))) {
      print({ texts, reconnects });
      chat.close();
      setTimeout(() => process.exit(0), 50);
    }
  });
  chat.join(spec.room, spec.name);
} else if (spec.scenario === 'queue') {
  const ws = new WSClient(spec.url);
  const got = [];
  for (let i = 0; i < spec.count; i++) ws.send('q' + i);
  ws.addEventListener('message', (e) => {
    got.push(e.data);
    if (got.length === spec.count) {
      print({ got });
      ws.close();
      setTimeout(() => process.exit(0), 50);
    }
  });
} else if (spec.scenario === 'heartbeat') {
  const target = new URL(spec.url);
  const pipes = [];
  const proxy = net.createServer((down) => {
    const up = net.connect(+target.port, target.hostname);
    const pipe = { dead: false };
    pipes.push(pipe);
    down.on('data', (d) => { if (!pipe.dead) up.write(d); });
    up.on('data', (d) => { if (!pipe.dead) down.write(d); });
    for (const s of [down, up]) s.on('error', () => {});
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
  const url = 'ws://127.0.0.1:' + proxy.address().port + target.pathname;
  const ws = new WSClient(url, { minDelay: 50, maxDelay: 200,
                                 heartbeat: spec.heartbeat });
  let deadAt = 0, closed = null;
  const finish = (reopenAfterMs) => {
    print({ ...closed, reopenAfterMs });
    ws.close();
    setTimeout(() => process.exit(0), 50);
  };
  ws.addEventListener('open', () => {
    if (!deadAt) {
      deadAt = Date.now();
      for (const p of pipes) p.dead = true;
      setTimeout(() => finish(null), spec.wait_ms);
    } else {
      finish(Date.now() - deadAt);
    }
  });
  ws.addEventListener('close', (e) => {
    if (!closed) {
      closed = { code: e.code, reason: e.reason, wasClean: e.wasClean,
                 willReconnect: e.willReconnect,
                 closeAfterMs: Date.now() - deadAt };
    }
  });
} else if (spec.scenario === 'connecttimeout') {
  const silent = net.createServer(() => {});
  await new Promise((ok) => silent.listen(0, '127.0.0.1', ok));
  const opts = { minDelay: 50, maxDelay: 100 };
  if (spec.connect_timeout !== undefined) opts.connectTimeout = spec.connect_timeout;
  const ws = new WSClient('ws://127.0.0.1:' + silent.address().port + '/', opts);
  const t0 = Date.now();
  let closed = null;
  const finish = () => {
    print({ closed });
    ws.close();
    setTimeout(() => process.exit(0), 50);
  };
  ws.addEventListener('close', (e) => {
    closed = closed || { code: e.code, reason: e.reason, wasClean: e.wasClean,
                         afterMs: Date.now() - t0 };
  });
  ws.addEventListener('reconnecting', () => { if (closed) finish(); });
  setTimeout(finish, spec.wait_ms);
} else if (spec.scenario === 'badargs') {
  const thrown = (f) => { try { f(); return null; } catch (e) { return e.name; } };
  const result = {
    badProtocol: thrown(() => new WSClient(spec.url, { protocols: 'a b' })),
    twice: thrown(() => new WSClient(spec.url, { protocols: ['chat', 'chat'] })),
    ftp: thrown(() => new WSClient('ftp://127.0.0.1/')),
  };
  const ws = new WSClient(spec.url + '#x');
  result.url = ws.url;
  ws.addEventListener('open', () => {
    print({ ...result, opened: true });
    ws.close();
    setTimeout(() => process.exit(0), 50);
  });
} else if (spec.scenario === 'badclose') {
  const ws = new WSClient(spec.url);
  const result = {};
  const attempt = (...args) => {
    try { ws.close(...args); return 'closed'; } catch (e) { return e.name; }
  };
  ws.addEventListener('open', () => {
    result.code1001 = attempt(1001);
    result.longReason = attempt(1000, 'x'.repeat(124));
    result.readyState = ws.readyState;
    ws.send('still here');
  });
  ws.addEventListener('message', (e) => {
    result.echoed = e.data;
    ws.close(4001, 'done');
  });
  ws.addEventListener('close', (e) => {
    print({ ...result, closeCode: e.code, willReconnect: e.willReconnect,
            readyStateAfter: ws.readyState });
    setTimeout(() => process.exit(0), 50);
  });
} else if (spec.scenario === 'joinearly') {
  const chat = new ChatClient(spec.url);
  const events = [];
  for (const type of ['joined', 'error']) {
    chat.addEventListener(type, (e) => events.push({ type, ...e.detail }));
  }
  chat.join(spec.room, 'early');
  chat.addEventListener('history', () => setTimeout(() => {
    print({ events });
    chat.close();
    setTimeout(() => process.exit(0), 50);
  }, 1000));
} else if (spec.scenario === 'stray') {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((ok) => server.on('listening', ok));
  server.on('connection', (sock) => sock.on('message', (data) => {
    const req = JSON.parse(data);
    if (req.type !== 'join') return;
    const room = req.room, other = 'elsewhere';
    for (const m of [
      { type: 'joined', room, name: req.name, users: [req.name], count: 1, last_id: 0 },
      { type: 'history', room, messages: [], gap: false },
      { type: 'message', room: other, from: 'x', text: 'not mine', id: 5, ts: 1 },
      { type: 'presence', room: other, event: 'join', name: 'y', count: 2 },
      { type: 'message', room, from: 'z', text: 'mine', id: 6, ts: 2 },
    ]) sock.send(JSON.stringify(m));
  }));
  const chat = new ChatClient('ws://127.0.0.1:' + server.address().port + '/');
  const events = [];
  for (const type of ['message', 'presence']) {
    chat.addEventListener(type, (e) => {
      events.push({ type, room: e.detail.room, text: e.detail.text });
      if (e.detail.text === 'mine') {
        print({ events });
        chat.close();
        setTimeout(() => process.exit(0), 50);
      }
    });
  }
  chat.join('here', 'me');
} else {
  process.stderr.write('unknown scenario\n');
  process.exit(1);
}
