// browser-test.mjs -- drives Debian's Chromium with playwright-core (no
// browser download) against a running demo site, for
// tests/integration/test_browser.py.
//
//   node browser-test.mjs '{"scenario": "...", "base": "http://127.0.0.1:P", ...}'
//
// Prints JSON lines: {"ready": true} when a scenario waits for the test
// to act, then one result object.  Exits 0, or 1 with the error on stderr.
//   pages      landing, httpd's status page (what failed to load on both),
//              echo (text and binary), two chat pages talking;
//              screenshots of the landing and chat pages into spec.shots
//   reconnect  the chat page joins spec.room: ready once joined, then waits
//              for spec.expect in its log (the test restarts the server and
//              says it in the room, before or after the page is back)
//   chat       two chat pages (ann, bob) in spec.room talk to each other
//   frameworks the React example (in StrictMode) and the Vue example talk
//              to each other; how many sockets each page opened, and what
//              each page logged to its console at warning or error level
//   echoclose  the echo console: close codes and a reason the browser
//              refuses typed in (the page says why, stays open), a long
//              text (its log line is cut), then an empty code (a close
//              without one); what the page logged and threw
//   chatedge   three chat pages in spec.room, two of them named "guest":
//              a name too long in bytes (not in characters) is refused by
//              the page, which stays in its room; one guest leaves; a
//              message over the server's limit (70000 bytes); the people
//              lists and logs
//   overflow   long words without a break point: a ticker message (on a
//              390 px wide phone), a chat name and room (at 390 and 1200
//              px): each page's width and the width of its content
//   hookurl    a page of the test's (served at /examples/react/) with a
//              component using useWebSocket in StrictMode, whose url
//              changes once open: the readyState values it rendered for
//              each url
//   xorigin    a page of http://evil.example (served by the test itself)
//              opens spec.ws: how it closed and what Chromium logged
//   layout     spec.url at spec.width CSS pixels (a phone's): how wide the
//              page is laid out, and its tallest table row (of those
//              matching spec.rows, a selector); a screenshot into spec.shot
//              if given
import { chromium } from 'playwright-core';

const spec = JSON.parse(process.argv[2]);
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');
setTimeout(() => { process.stderr.write('timeout\n'); process.exit(1); },
           spec.timeout_ms || 90000).unref();

const browser = await chromium.launch({
  executablePath: spec.chromium || '/usr/bin/chromium',
  // No Local Network Access prompt/block: the xorigin scenario's page of
  // another (public) site must reach the server on loopback, as a page of
  // a public site reaches a server that is public too.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
         '--disable-features=LocalNetworkAccessChecks'],
});

async function text(page, sel) {
  return (await page.textContent(sel)) || '';
}

// Two chat pages (separate browser contexts: separate people) join
// spec.room and say hello to each other.
async function chatPair() {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();
  for (const [p, name] of [[a, 'ann'], [b, 'bob']]) {
    await p.goto(spec.base + '/chat.html');
    await p.fill('#name', name);
    await p.fill('#room', spec.room);
    if (name === 'ann') await p.click('#join');
    else await p.press('#room', 'Enter');         // Enter joins too
    await p.waitForFunction(() => !document.getElementById('text').disabled);
  }
  await a.waitForFunction(() => document.getElementById('people').textContent.includes('bob'));
  await a.fill('#text', 'hi bob');
  await a.click('#say');
  await b.waitForFunction(() => document.getElementById('log').textContent.includes('ann: hi bob'));
  await b.fill('#text', 'hi ann');
  await b.press('#text', 'Enter');
  await a.waitForFunction(() => document.getElementById('log').textContent.includes('bob: hi ann'));
  return [a, b];
}

try {
  if (spec.scenario === 'pages') {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const landing = await ctx.newPage();
    const failed = [];
    landing.on('response', (r) => { if (r.status() >= 400) failed.push(r.url() + ' ' + r.status()); });
    await landing.goto(spec.base + '/');
    await landing.screenshot({ path: spec.shots + '/landing.png', fullPage: true });
    const title = await landing.title();
    // httpd's status page links no icon: Chromium asks for /favicon.ico.
    const status = await ctx.newPage();
    // (Playwright does not report that request: Chromium's console does.)
    status.on('console', (m) => { if (m.type() === 'error') failed.push('/server-status: ' + m.text()); });
    await status.goto(spec.base + '/server-status');
    await status.waitForTimeout(1000);

    const echo = await ctx.newPage();
    await echo.goto(spec.base + '/echo.html');
    await echo.click('#connect');
    await echo.waitForFunction(() => document.getElementById('state').textContent === 'OPEN');
    await echo.fill('#msg', 'hello from chromium');
    await echo.click('#send');
    await echo.waitForFunction(() => document.getElementById('log').textContent.includes('< hello from chromium'));
    await echo.fill('#size', '1000');
    await echo.click('#sendbin');
    await echo.waitForFunction(() => document.getElementById('log').textContent.includes('< 1000 bytes'));
    const echoExt = await echo.evaluate(() => document.getElementById('log').textContent.match(/\(([^)]*deflate[^)]*)\)/)?.[1] || '');

    const [a, b] = await chatPair();
    await a.screenshot({ path: spec.shots + '/chat.png', fullPage: true });
    print({ title, failed, echoExt, chatA: await text(a, '#log'), chatB: await text(b, '#log') });
  } else if (spec.scenario === 'chat') {
    const [a, b] = await chatPair();
    print({ chatA: await text(a, '#log'), chatB: await text(b, '#log') });
  } else if (spec.scenario === 'frameworks') {
    const ctx = await browser.newContext();
    // Count the sockets each page opens (StrictMode mounts twice).
    await ctx.addInitScript(() => {
      const Native = window.WebSocket;
      window.__sockets = 0;
      window.WebSocket = class extends Native {
        constructor(url, protocols) { super(url, protocols); window.__sockets++; }
      };
    });
    const react = await ctx.newPage();
    const vue = await ctx.newPage();
    const console_ = { react: [], vue: [] };
    for (const [p, k] of [[react, 'react'], [vue, 'vue']]) {
      p.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console_[k].push(m.text()); });
      p.on('pageerror', (e) => console_[k].push(String(e)));
    }
    await react.goto(spec.base + '/examples/react/');
    await vue.goto(spec.base + '/examples/vue/');
    for (const p of [react, vue]) {
      await p.waitForFunction(() => document.getElementById('state')?.textContent === 'open');
    }
    // Anyone may publish to the channel: JSON that is not {from, text}
    // strings must not break either page.
    for (const body of ['{"from":{"evil":1},"text":"object from"}',
                        '{"from":"x","text":{"a":1}}', '{"text":["a"]}', '[1,2]',
                        '{"text":"no from"}']) {
      const r = await fetch(spec.base + '/publish/frameworks', { method: 'POST', body,
                                                                 headers: { 'Content-Type': 'application/json' } });
      if (r.status !== 200) throw new Error('publish: ' + r.status);
    }
    for (const p of [react, vue]) {
      await p.waitForFunction(() => document.getElementById('log')?.textContent.includes('?: no from'));
    }
    await react.fill('#text', 'hello from React');
    await react.click('#send');
    await vue.waitForFunction(() => document.getElementById('log').textContent.includes('React: hello from React'));
    await vue.fill('#text', 'hello from Vue');
    await vue.press('#text', 'Enter');
    await react.waitForFunction(() => document.getElementById('log').textContent.includes('Vue: hello from Vue'));
    print({
      reactLog: await text(react, '#log'), vueLog: await text(vue, '#log'),
      reactSockets: await react.evaluate(() => window.__sockets),
      vueSockets: await vue.evaluate(() => window.__sockets),
      console: console_,
    });
  } else if (spec.scenario === 'echoclose') {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(spec.base + '/echo.html');
    await page.click('#connect');
    await page.waitForFunction(() => document.getElementById('state').textContent === 'OPEN');
    for (const [code, reason] of [['1005', 'bye'], ['5000', 'bye'], ['1001', 'bye'],
                                  ['1000', 'é'.repeat(62)]]) {
      await page.fill('#code', code);
      await page.fill('#reason', reason);
      await page.click('#close');
    }
    const stateAfterRefused = await text(page, '#state');
    await page.fill('#msg', 'still open');
    await page.click('#send');
    await page.waitForFunction(() => document.getElementById('log').textContent.includes('< still open'));
    await page.evaluate(() => { document.getElementById('msg').value = 'x'.repeat(200000); });
    await page.click('#send');
    await page.waitForFunction(() => /< x+ … \(200000 characters in all\)/.test(document.getElementById('log').textContent));
    await page.fill('#code', '');
    await page.click('#close');
    await page.waitForFunction(() => document.getElementById('state').textContent === 'CLOSED');
    await page.waitForFunction(() => document.getElementById('log').textContent.includes('close code='));
    const lines = await page.evaluate(() => [...document.querySelectorAll('#log div')].map((d) => d.textContent));
    print({ stateAfterRefused, errors, lines: lines.map((l) => l.replace(/^\S+ (AM|PM)?\s*/, '')),
            longest: Math.max(...lines.map((l) => l.length)) });
  } else if (spec.scenario === 'chatedge') {
    const pages = [];
    const errors = [];
    for (const name of ['guest', 'guest', 'carol']) {
      const p = await (await browser.newContext()).newPage();
      p.on('pageerror', (e) => errors.push(String(e)));
      await p.goto(spec.base + '/chat.html');
      await p.waitForFunction(() => document.getElementById('state').textContent === 'connected');
      await p.fill('#name', name);
      await p.fill('#room', spec.room);
      await p.click('#join');
      await p.waitForFunction(() => !document.getElementById('text').disabled);
      pages.push(p);
    }
    const [a, b, c] = pages;
    const people = (p) => p.evaluate(() => [...document.querySelectorAll('#people li')].map((li) => li.textContent));
    await c.waitForFunction(() => document.querySelectorAll('#people li').length === 3);
    const peopleBefore = await people(c);
    await a.fill('#name', 'é'.repeat(20));          // 20 characters, 40 bytes
    await a.click('#join');
    await a.fill('#text', 'still here');
    await a.click('#say');
    await c.waitForFunction(() => /guest: still here/.test(document.getElementById('log').textContent));
    await b.close();
    await c.waitForFunction(() => document.querySelectorAll('#people li').length === 2);
    const peopleAfter = await people(c);
    await a.evaluate(() => { document.getElementById('text').value = 'k'.repeat(70000); });
    await a.click('#say');
    await a.waitForFunction(() => document.getElementById('log').textContent.includes('⚠ disconnected'));
    await a.waitForFunction(() => document.getElementById('state').textContent === 'connected');
    print({ peopleBefore, peopleAfter, errors, logA: await text(a, '#log'), whereA: await text(a, '#where') });
  } else if (spec.scenario === 'overflow') {
    const widths = (p) => p.evaluate(() => ({ scroll: document.documentElement.scrollWidth,
                                              client: document.documentElement.clientWidth }));
    const out = {};
    const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    await phone.goto(spec.base + '/ticker.html');
    await phone.waitForFunction(() => document.getElementById('state').textContent === 'live');
    const word = 'https://example.com/' + 'a'.repeat(100) + '?q=' + 'b'.repeat(60);
    const r = await fetch(spec.base + '/publish/ticker', { method: 'POST', body: word,
                                                           headers: { 'Content-Type': 'text/plain' } });
    if (r.status !== 200) throw new Error('publish: ' + r.status);
    await phone.waitForFunction(() => document.getElementById('count').textContent === '1 message');
    out.ticker390 = await widths(phone);
    for (const width of [390, 1200]) {
      const p = await (await browser.newContext({ viewport: { width, height: 800 } })).newPage();
      await p.goto(spec.base + '/chat.html');
      await p.waitForFunction(() => document.getElementById('state').textContent === 'connected');
      await p.fill('#name', 'W'.repeat(32));
      await p.fill('#room', 'R'.repeat(64));
      await p.click('#join');
      await p.waitForFunction(() => !document.getElementById('text').disabled);
      await p.fill('#text', 'M'.repeat(300));
      await p.click('#say');
      await p.waitForFunction(() => document.getElementById('log').textContent.includes('MMMM'));
      out['chat' + width] = await widths(p);
    }
    print(out);
  } else if (spec.scenario === 'hookurl') {
    const page = await (await browser.newContext()).newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.route(spec.base + '/examples/react/hook-test.html', (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><title>hook test</title>
<script src="/vendor/react.development.js"></script>
<script src="/vendor/react-dom.development.js"></script>
<script type="importmap">{ "imports": { "react": "./react-global.js",
  "react-dom/client": "./react-dom-global.js", "htm": "/vendor/htm.module.js" } }</script>
<div id="root"></div>
<script type="module">
import { StrictMode, createElement, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import htm from "htm";
import { useWebSocket } from "./useWebSocket.js";
const html = htm.bind(createElement);
window.rendered = [];
function Probe() {
  const [url, setUrl] = useState("/echo?first");
  window.setUrl = setUrl;
  const { readyState } = useWebSocket(url);
  useEffect(() => { window.rendered.push(url + " " + readyState); }, [url, readyState]);
  return html\`<span>\${url} \${readyState}</span>\`;
}
createRoot(document.getElementById("root")).render(html\`<\${StrictMode}><\${Probe} /><//>\`);
</script>` }));
    await page.goto(spec.base + '/examples/react/hook-test.html');
    await page.waitForFunction(() => window.rendered?.includes('/echo?first 1'));
    await page.evaluate(() => window.setUrl('/echo?second'));
    await page.waitForFunction(() => window.rendered.includes('/echo?second 1'));
    await page.waitForTimeout(500);      // the old socket's close event
    print({ rendered: await page.evaluate(() => window.rendered), errors });
  } else if (spec.scenario === 'xorigin') {
    const page = await (await browser.newContext()).newPage();
    const logged = [];
    page.on('console', (m) => logged.push(m.text()));
    // The other site: its page comes from this script, not from the server.
    await page.route('http://evil.example/**', (route) => route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><title>another site</title><script>' +
            'const ws = new WebSocket(' + JSON.stringify(spec.ws) + ');' +
            'window.result = new Promise((ok) => { ws.onopen = () => ok({ opened: true });' +
            'ws.onclose = (e) => ok({ opened: false, code: e.code }); });</script>',
    }));
    await page.goto('http://evil.example/');
    const result = await page.evaluate(() => window.result);
    print({ ...result, console: logged });
  } else if (spec.scenario === 'layout') {
    const ctx = await browser.newContext({ viewport: { width: spec.width, height: 844 } });
    const page = await ctx.newPage();
    await page.goto(spec.url);
    if (spec.shot) await page.screenshot({ path: spec.shot, fullPage: true });
    print(await page.evaluate((rows) => ({
      pageWidth: document.documentElement.scrollWidth,
      viewport: window.innerWidth,
      tallestRow: Math.max(...[...document.querySelectorAll(rows)].map((r) => r.getBoundingClientRect().height)),
    }), spec.rows || 'tr'));
  } else if (spec.scenario === 'reconnect') {
    const page = await (await browser.newContext()).newPage();
    await page.goto(spec.base + '/chat.html');
    await page.fill('#name', 'page');
    await page.fill('#room', spec.room);
    await page.click('#join');
    await page.waitForFunction(() => !document.getElementById('text').disabled);
    print({ ready: true });
    await page.waitForFunction((want) => document.getElementById('log').textContent.includes(want),
                               spec.expect, { timeout: 60000 });
    await page.waitForFunction(() => document.getElementById('state').textContent === 'connected');
    print({ log: await text(page, '#log'), state: await text(page, '#state') });
  } else {
    throw new Error('unknown scenario ' + spec.scenario);
  }
} catch (e) {
  process.stderr.write(String(e && e.stack || e) + '\n');
  await browser.close();
  process.exit(1);
}
await browser.close();
process.exit(0);
