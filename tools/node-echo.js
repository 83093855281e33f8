#!/usr/bin/env node
// node-echo.js -- the reference WebSocket echo server `make bench` compares
// mod_websocket against: Node's `ws` (from tests/node/node_modules), no
// per-message deflate, each message sent back with its own type (text stays
// text, binary stays binary).
//
//     node tools/node-echo.js PORT [HOST]     (HOST defaults to 127.0.0.1)
//
// Prints "listening" on stdout once it accepts connections; SIGTERM or
// SIGINT stops it.
'use strict';

const path = require('path');
const { WebSocketServer } = require(path.join(
  __dirname, '..', 'tests', 'node', 'node_modules', 'ws'));

const port = Number.parseInt(process.argv[2], 10);
const host = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node tools/node-echo.js PORT [HOST]\n');
  process.exit(2);
}

const wss = new WebSocketServer({
  host,
  port,
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024 * 1024,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary });
  });
  ws.on('error', () => {}); // a peer's protocol error closes just that one
});

wss.on('listening', () => {
  process.stdout.write('listening\n');
});

wss.on('error', (err) => {
  process.stderr.write(`node-echo: ${err.message}\n`);
  process.exit(1);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
