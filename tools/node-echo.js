#!/usr/bin/env node
// node-echo.js -- the reference WebSocket echo server `make bench` compares
// mod_websocket against: Node's `ws` (from tests/node/node_modules), no
// per-message deflate, each message sent back with its own type (text stays
// text, binary stays binary).
//
//     node tools/node-echo.js PORT [HOST] [--deflate]
//                                          (HOST defaults to 127.0.0.1)
//
// --deflate: permessage-deflate on, set like mod_websocket's defaults
// (WebSocketCompression On): messages under 64 bytes go uncompressed, zlib
// level 3 and memLevel 8, server_no_context_takeover, a client that lets
// the server choose is asked for client_max_window_bits=12.
//
// Prints "listening" on stdout once it accepts connections; SIGTERM or
// SIGINT stops it.
'use strict';

const path = require('path');
const { WebSocketServer } = require(path.join(
  __dirname, '..', 'tests', 'node', 'node_modules', 'ws'));

const args = process.argv.slice(2).filter((a) => a !== '--deflate');
const deflate = args.length !== process.argv.length - 2;
const port = Number.parseInt(args[0], 10);
const host = args[1] || '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535 || args.length > 2) {
  process.stderr.write(
    'usage: node tools/node-echo.js PORT [HOST] [--deflate]\n');
  process.exit(2);
}

const wss = new WebSocketServer({
  host,
  port,
  perMessageDeflate: deflate ? {
    threshold: 64,
    serverNoContextTakeover: true,
    clientMaxWindowBits: 12,
    zlibDeflateOptions: { level: 3, memLevel: 8 },
  } : false,
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
