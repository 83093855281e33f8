// client.js -- a Node `ws` client for mod_websocket's integration tests
// (tests/integration/test_node.py runs it).
//
//   node client.js '{"url": "ws://127.0.0.1:8080/echo", "scenario": "echo", ...}'
//
// Scenarios (each prints one JSON object on stdout and exits 0, or prints
// the error on stderr and exits 1):
//   echo       send args.messages ([{type: "text"|"binary", text|size}]),
//              check each comes back identical and with its type; with
//              args.deflate, permessage-deflate is offered (the agreed
//              extensions are reported)
//   close      close with args.code / args.reason (none if absent); report
//              what the server's close frame said
//   protocol   offer args.protocols; report the agreed subprotocol
//   recv       receive args.count messages and report them (text)
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const spec = JSON.parse(process.argv[2]);
const TIMEOUT_MS = spec.timeout_ms || 60000;

function fail(msg) {
  process.stderr.write(String(msg) + '\n');
  process.exit(1);
}

setTimeout(() => fail('timeout after ' + TIMEOUT_MS + ' ms'), TIMEOUT_MS)
  .unref();

function open(protocols) {
  const ws = new WebSocket(spec.url, protocols || [], {
    // args.deflate: offer permessage-deflate (and compress every message)
    perMessageDeflate: spec.deflate ? { threshold: 0 } : false,
    maxPayload: 0, // no limit
  });
  ws.on('error', (e) => fail('ws error: ' + e.message));
  return ws;
}

function payloadOf(m) {
  if (m.type === 'text') {
    if (m.text !== undefined) return m.text;
    // A large text: ASCII with some multi-byte characters.
    const unit = 'abcdefghij\u00e9\u20ac';
    const unitBytes = Buffer.byteLength(unit);
    return unit.repeat(Math.floor(m.size / unitBytes));
  }
  if (m.size === 0) return Buffer.alloc(0);
  return crypto.randomBytes(m.size);
}

function scenarioEcho() {
  const ws = open();
  const msgs = (spec.messages || []).map((m) => ({ type: m.type,
    data: payloadOf(m) }));
  const results = [];
  let i = 0;
  ws.on('open', () => {
    for (const m of msgs) ws.send(m.data, { binary: m.type === 'binary' });
  });
  ws.on('message', (data, isBinary) => {
    const want = msgs[i];
    if (!want) fail('unexpected extra message');
    const got = isBinary ? data : data.toString('utf8');
    const same = isBinary ? Buffer.isBuffer(want.data) &&
      Buffer.compare(data, want.data) === 0 : got === want.data;
    results.push({ type: isBinary ? 'binary' : 'text', same,
      length: isBinary ? data.length : Buffer.byteLength(got) });
    i++;
    if (i === msgs.length) ws.close(1000, 'done');
  });
  ws.on('close', (code, reason) => {
    console.log(JSON.stringify({ results, code,
      reason: reason.toString(), extensions: ws.extensions }));
    process.exit(0);
  });
}

function scenarioClose() {
  const ws = open();
  ws.on('open', () => {
    if (spec.code === undefined) ws.close();
    else ws.close(spec.code, spec.reason || '');
  });
  ws.on('close', (code, reason) => {
    console.log(JSON.stringify({ code, reason: reason.toString() }));
    process.exit(0);
  });
}

function scenarioProtocol() {
  const ws = open(spec.protocols);
  ws.on('open', () => {
    const protocol = ws.protocol;
    ws.send('info');
    ws.on('message', (data) => {
      console.log(JSON.stringify({ protocol,
        info: JSON.parse(data.toString()) }));
      ws.close(1000);
    });
  });
  ws.on('close', () => process.exit(0));
}

function scenarioRecv() {
  const ws = open();
  const got = [];
  ws.on('open', () => { if (spec.send) ws.send(spec.send); });
  ws.on('message', (data) => {
    got.push(data.toString());
    if (got.length === spec.count) ws.close(1000);
  });
  ws.on('close', (code, reason) => {
    console.log(JSON.stringify({ messages: got, code,
      reason: reason.toString() }));
    process.exit(0);
  });
}

const scenarios = {
  echo: scenarioEcho,
  close: scenarioClose,
  protocol: scenarioProtocol,
  recv: scenarioRecv,
};
if (!scenarios[spec.scenario]) fail('unknown scenario ' + spec.scenario);
scenarios[spec.scenario]();
