// browser-test.mjs -- drives Debian's Chromium with playwright-core (no
// browser download) against a running demo site, for
// tests/integration/test_browser.py.
//
//   node browser-test.mjs '{"scenario": "...", "base": "http://127.0.0.1:P", ...}'
//
// Prints JSON lines: {"ready": true} when a scenario waits for the test
// to act, then one result object.  Exits 0, or 1 with the error on stderr.
//   pages      landing, echo (text and binary), two chat pages talking;
//              screenshots of the landing and chat pages into spec.shots
//   reconnect  the chat page joins spec.room: ready once joined, then waits
//              for spec.expect in its log (the test restarts the server and
//              says it in the room, before or after the page is back)
import { chromium } from 'playwright-core';

const spec = JSON.parse(process.argv[2]);
const print = (o) => process.stdout.write(JSON.stringify(o) + '\n');
setTimeout(() => { process.stderr.write('timeout\n'); process.exit(1); },
           spec.timeout_ms || 90000).unref();

const browser = await chromium.launch({
  executablePath: spec.chromium || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

async function text(page, sel) {
  return (await page.textContent(sel)) || '';
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

    const a = await (await browser.newContext()).newPage();
    const b = await (await browser.newContext()).newPage();
    for (const [p, name] of [[a, 'ann'], [b, 'bob']]) {
      await p.goto(spec.base + '/chat.html');
      await p.fill('#name', name);
      await p.fill('#room', spec.room);
      await p.click('#join');
      await p.waitForFunction(() => !document.getElementById('text').disabled);
    }
    await a.waitForFunction(() => document.getElementById('people').textContent.includes('bob'));
    await a.fill('#text', 'hi bob');
    await a.click('#say');
    await b.waitForFunction(() => document.getElementById('log').textContent.includes('ann: hi bob'));
    await b.fill('#text', 'hi ann');
    await b.press('#text', 'Enter');
    await a.waitForFunction(() => document.getElementById('log').textContent.includes('bob: hi ann'));
    await a.screenshot({ path: spec.shots + '/chat.png', fullPage: true });
    print({ title, failed, echoExt, chatA: await text(a, '#log'), chatB: await text(b, '#log') });
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
