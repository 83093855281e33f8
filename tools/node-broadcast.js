#!/usr/bin/env node
// node-broadcast.js -- the Node `ws` broadcast server `make bench` compares
// mod_websocket's broadcast handler against: one process, Node's `ws` (from
// tests/node/node_modules), no per-message deflate.  A client of
// /broadcast?channel=X joins channel X (no channel: the channel ""); every
// message a client sends goes to every client of its channel, the sender
// included, with its own type (text stays text, binary stays binary).  The
// fan-out is the plain loop of ws's README ("broadcast to all connected
// clients, including itself"), per channel.
//
//     node tools/node-broadcast.js PORT [HOST]     (HOST defaults to 127.0.0.1)
//
// Prints "listening" on stdout once it accepts connections; SIGTERM or
// SIGINT stops it.
'use strict';

const path = require('path');
const { WebSocketServer, WebSocket } = require(path.join(
  __dirname, '..', 'tests', 'node', 'node_modules', 'ws'));

const port = Number.parseInt(process.argv[2], 10);
const host = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node tools/node-broadcast.js PORT [HOST]\n');
  process.exit(2);
}

const wss = new WebSocketServer({
  host,
  port,
  path: '/broadcast', // ws compares the path without the query string
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024 * 1024,
});

const channels = new Map(); // channel id -> Set of its clients

wss.on('connection', (ws, req) => {
  const id = new URL(req.url, 'http://localhost').searchParams.get('channel')
    || '';
  let members = channels.get(id);
  if (!members) {
    members = new Set();
    channels.set(id, members);
  }
  members.add(ws);
  ws.on('message', (data, isBinary) => {
    for (const client of members) {
      if (client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });
  ws.on('close', () => {
    members.delete(ws);
    if (members.size === 0 && channels.get(id) === members) {
      channels.delete(id);
    }
  });
  ws.on('error', () => {}); // a peer's protocol error closes just that one
});

wss.on('listening', () => {
  process.stdout.write('listening\n');
});

wss.on('error', (err) => {
  process.stderr.write(`node-broadcast: ${err.message}\n`);
  process.exit(1);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
