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
import WebSocket from 'ws';
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
} else {
  process.stderr.write('unknown scenario\n');
  process.exit(1);
}
