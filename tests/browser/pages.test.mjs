// pages.test.mjs -- the demo pages of www/ in a real browser against a real
// wsd: Debian's Chromium, headless, driven by playwright-core.
//
// Run: node --test --test-reporter=tap tests/browser/pages.test.mjs
// (after `npm ci` in tests/browser). Environment: WSD is the binary (default
// SRCDIR/wsd), WSD_SRCDIR the source tree whose www/ is served (default: two
// levels above this file), WSD_TEST_OUTPUT the output folder (default
// SRCDIR/tests/output): screenshots/ gets a PNG of every page, logs/ the
// daemon's log and the pages' console. WSD_CHROMIUM overrides
// /usr/bin/chromium.
//
// The daemon is started once with `listen = 127.0.0.1:0` and fast timers,
// and is always stopped by PID at the end (SIGTERM, SIGKILL after 10 s), also
// when a test fails or the run is cut short. The https test starts a second
// daemon with `listen = 127.0.0.1:0 tls` and a self-signed certificate made
// with the openssl command into a temporary directory, and stops it the same
// way.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRCDIR = path.resolve(process.env.WSD_SRCDIR ||
    path.join(HERE, '..', '..'));
const WSD = path.resolve(process.env.WSD || path.join(SRCDIR, 'wsd'));
const OUT = path.resolve(process.env.WSD_TEST_OUTPUT ||
    path.join(SRCDIR, 'tests', 'output'));
const CHROMIUM = process.env.WSD_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(OUT, 'screenshots');
const LOGS = path.join(OUT, 'logs');

const START_TIMEOUT = 5000;	// wsd: "listening on" after spawn
const STOP_TIMEOUT = 10000;	// wsd: exit after SIGTERM, then SIGKILL
const LAUNCH_TIMEOUT = 30000;	// Chromium start-up
const WAIT = 5000;		// any one condition on a page
const TEST_TIMEOUT = 30000;	// one test
const RUN_TIMEOUT = 110000;	// the whole file, then everything is killed

// Timestamps from the time and broadcast apps.
const ISO_US = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
// The test config's interval_min / interval_max for /time and /broadcast.
const INTERVAL_MIN = 0.2;
const INTERVAL_MAX = 0.5;

const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	// Loopback only, whatever proxy the environment names.
	'--no-proxy-server',
];

let wsd = null;		// { proc, pid, port, log, exit (promise) }
let wsdTls = null;	// the https daemon, while the https test runs
let context = null;	// playwright persistent context
let userDataDir = null;
let base = null;	// http://127.0.0.1:PORT/
let consoleLog = null;	// write stream: every page's console

// --------------------------------------------------------------- daemon

// The test config: the source tree's www/ and every app, timers made fast;
// `tls` adds ` tls` to the listener and a [tls] section with those files.
function wsdConfig(tls = null) {
	const www = path.join(SRCDIR, 'www');
	const tlsSection = tls === null ? '' : `
[tls]
certificate = ${tls.certificate}
private_key = ${tls.privateKey}
`;
	return `[server]
listen = 127.0.0.1:0${tls === null ? '' : ' tls'}
log_level = info
handshake_timeout = 5s
close_timeout = 2s

[route /]
app = static
root = ${www}

[route /hello]
app = hello

[route /echo]
app = echo

[route /time]
app = time
interval_min = ${INTERVAL_MIN}s
interval_max = ${INTERVAL_MAX}s

[route /broadcast]
app = broadcast
interval_min = ${INTERVAL_MIN}s
interval_max = ${INTERVAL_MAX}s

[route /counter]
app = counter

[route /relay]
app = relay

[route /live/]
app = channels
history = 100
envelope = json
${tlsSection}`;
}

// Starts wsd on a temp config; resolves once it logs its port. The first
// daemon is `wsd`; with tls ({ certificate, privateKey }) it is `wsdTls`,
// listening with TLS.
function startWsd(tmp, tls = null) {
	const name = tls === null ? 'wsd' : 'wsd-tls';
	const conf = path.join(tmp, `${name}.ini`);
	const logPath = path.join(LOGS, `browser-${name}.log`);

	fs.writeFileSync(conf, wsdConfig(tls));
	if (!fs.existsSync(WSD))
		throw new Error(`wsd binary ${WSD} not found ` +
		    '(build it, or set WSD)');
	const proc = spawn(WSD, ['-c', conf], {
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const d = { proc, pid: proc.pid, port: null, log: '' };
	const logFile = fs.createWriteStream(logPath);
	d.exit = new Promise((resolve) => {
		proc.on('exit', (code, signal) => resolve({ code, signal }));
	});
	d.closed = new Promise((resolve) => proc.on('close', () => {
		logFile.end(resolve);
	}));
	const collect = (chunk) => {
		d.log += chunk.toString('utf8');
		logFile.write(chunk);
	};
	proc.stdout.on('data', collect);
	proc.stderr.on('data', collect);
	if (tls === null)
		wsd = d;
	else
		wsdTls = d;

	return new Promise((resolve, reject) => {
		const rx = tls === null ?
		    /listening on 127\.0\.0\.1:(\d+)\s*$/m :
		    /listening on 127\.0\.0\.1:(\d+) \(tls\)\s*$/m;
		let done = false;
		const finish = (err) => {
			if (done)
				return;
			done = true;
			clearTimeout(timer);
			clearInterval(poll);
			if (err)
				reject(err);
			else
				resolve(d);
		};
		const timer = setTimeout(() => finish(new Error(
		    `wsd logged no "listening on" within ${START_TIMEOUT} ms;` +
		    ` log:\n${d.log}`)), START_TIMEOUT);
		const poll = setInterval(() => {
			const m = rx.exec(d.log);
			if (m) {
				d.port = Number(m[1]);
				finish(null);
			}
		}, 20);
		proc.on('error', (e) => finish(e));
		d.exit.then(({ code, signal }) => {
			// One last look: the line may have come with the exit.
			const m = rx.exec(d.log);
			finish(new Error(`wsd exited (code ${code}, signal ` +
			    `${signal}) ${m ? 'right after' : 'before'} ` +
			    `listening; log:\n${d.log}`));
		});
	});
}

// 1 while the process (default: the first daemon) has not exited.
function wsdAlive(d = wsd) {
	return d !== null && d.proc.exitCode === null &&
	    d.proc.signalCode === null;
}

// SIGTERM by PID (unless `signalled`: the caller already sent it), SIGKILL
// after STOP_TIMEOUT; resolves to { code, signal, killed }.
async function stopWsd(signalled = false, d = wsd) {
	if (d === null)
		return null;
	let killed = false;
	if (wsdAlive(d)) {
		if (!signalled) {
			try {
				process.kill(d.pid, 'SIGTERM');
			} catch (e) {
				// Already gone.
			}
		}
		let timer;
		const late = new Promise((resolve) => {
			timer = setTimeout(() => resolve('late'), STOP_TIMEOUT);
		});
		if (await Promise.race([d.exit, late]) === 'late') {
			killed = true;
			try {
				process.kill(d.pid, 'SIGKILL');
			} catch (e) {
				// Gone meanwhile.
			}
		}
		clearTimeout(timer);
	}
	const st = await d.exit;
	await Promise.race([d.closed, sleep(1000)]);
	return { ...st, killed };
}

// Last resort when node itself goes down: no daemon outlives the run.
function killWsdNow() {
	for (const d of [wsd, wsdTls]) {
		if (wsdAlive(d)) {
			try {
				process.kill(d.pid, 'SIGKILL');
			} catch (e) {
				// Gone.
			}
		}
	}
}

process.on('exit', killWsdNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
	process.on(sig, () => {
		killWsdNow();
		process.exit(1);
	});
}
const watchdog = setTimeout(() => {
	console.error(`# browser tests still running after ${RUN_TIMEOUT} ms:` +
	    ' killing wsd and giving up');
	killWsdNow();
	process.exit(1);
}, RUN_TIMEOUT);
watchdog.unref();

// --------------------------------------------------------------- helpers

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

// Saves a full-page screenshot as screenshots/NAME.png.
async function shot(page, name) {
	await page.screenshot({ path: path.join(SHOTS, `${name}.png`),
	    fullPage: true, timeout: WAIT });
}

// Text of the first element matching selector, or null.
async function textOf(page, selector) {
	return page.evaluate((sel) => {
		const e = document.querySelector(sel);
		return e === null ? null : e.textContent.trim();
	}, selector);
}

// Texts of every element matching selector.
async function textsOf(page, selector) {
	return page.$$eval(selector, (els) =>
	    els.map((e) => e.textContent.trim()));
}

// Waits until selector's text is `want`; fails naming what it was.
async function waitText(page, selector, want, timeout = WAIT) {
	try {
		await page.waitForFunction(([sel, w]) => {
			const e = document.querySelector(sel);
			return e !== null && e.textContent.trim() === w;
		}, [selector, want], { timeout, polling: 50 });
	} catch (e) {
		const got = await textOf(page, selector).catch(() => null);
		assert.fail(`${page.url()}: ${selector} is ` +
		    `${JSON.stringify(got)}, not ${JSON.stringify(want)} ` +
		    `after ${timeout} ms`);
	}
}

// Waits until at least n elements match selector; returns their texts.
async function waitCount(page, selector, n, timeout = WAIT) {
	try {
		await page.waitForFunction(([sel, k]) =>
		    document.querySelectorAll(sel).length >= k,
		    [selector, n], { timeout, polling: 50 });
	} catch (e) {
		const got = await textsOf(page, selector).catch(() => []);
		assert.fail(`${page.url()}: ${got.length} of ${n} ` +
		    `${selector} after ${timeout} ms: ${JSON.stringify(got)}`);
	}
	return textsOf(page, selector);
}

// Waits until some element matching selector has text `want`.
async function waitHasText(page, selector, want, timeout = WAIT) {
	try {
		await page.waitForFunction(([sel, w]) =>
		    Array.from(document.querySelectorAll(sel)).some((e) =>
		    e.textContent.trim() === w),
		    [selector, want], { timeout, polling: 50 });
	} catch (e) {
		const got = await textsOf(page, selector).catch(() => []);
		assert.fail(`${page.url()}: no ${selector} reads ` +
		    `${JSON.stringify(want)} after ${timeout} ms; they read ` +
		    `${JSON.stringify(got)}`);
	}
}

// Checks a list of timestamps from /time or /broadcast: ISO-8601 UTC with
// microseconds, recent, increasing, spaced by the configured interval.
function checkTimestamps(list, where) {
	for (const ts of list) {
		assert.match(ts, ISO_US, `${where}: ${JSON.stringify(ts)} is ` +
		    'not an ISO-8601 UTC timestamp with microseconds');
		const ms = Date.parse(ts);
		assert.ok(Math.abs(Date.now() - ms) < 60000, `${where}: ` +
		    `${ts} is not the current UTC time (now ` +
		    `${new Date().toISOString()})`);
	}
	for (let i = 1; i < list.length; i++) {
		// Microseconds matter: compare the text, same width throughout.
		assert.ok(list[i] > list[i - 1], `${where}: ${list[i]} does ` +
		    `not come after ${list[i - 1]}`);
		const gap = (Date.parse(list[i]) - Date.parse(list[i - 1])) /
		    1000;
		// Lower bound: the timer never fires early (1 ms of clock
		// rounding); upper bound generous for a loaded machine.
		assert.ok(gap >= INTERVAL_MIN - 0.011, `${where}: ` +
		    `${list[i - 1]} -> ${list[i]} is ${gap}s, shorter than ` +
		    `interval_min ${INTERVAL_MIN}s`);
		assert.ok(gap <= INTERVAL_MAX + 1.5, `${where}: ` +
		    `${list[i - 1]} -> ${list[i]} is ${gap}s, far longer ` +
		    `than interval_max ${INTERVAL_MAX}s`);
	}
}

// A test with fresh pages: open(file) loads www/FILE in a new tab. Script
// errors and console errors on those pages fail the test; the tabs are
// closed at the end, pass or fail. `setup`, when given, runs first and
// returns { context, base, cleanup } to use instead of the shared ones
// (cleanup runs at the end, pass or fail).
function pageTest(name, fn, setup = null) {
	test(name, { timeout: TEST_TIMEOUT }, async () => {
		assert.ok(context !== null, 'no browser (start-up failed)');
		const pages = [];
		const errors = [];
		let ctx = context;
		let url = base;
		let cleanup = null;
		// prepare(page), if given, runs before the page loads.
		const open = async (file, prepare = null) => {
			const page = await ctx.newPage();
			pages.push(page);
			if (prepare !== null)
				await prepare(page);
			page.setDefaultTimeout(WAIT);
			page.on('pageerror', (e) =>
			    errors.push(`${file}: uncaught ${e.message}`));
			page.on('console', (m) => {
				consoleLog.write(`${file} [${m.type()}] ` +
				    `${m.text()}\n`);
				if (m.type() === 'error')
					errors.push(`${file}: console error: ` +
					    m.text());
			});
			const res = await page.goto(url + file,
			    { timeout: WAIT, waitUntil: 'load' });
			assert.equal(res && res.status(), 200,
			    `GET /${file} status`);
			return page;
		};
		try {
			if (setup !== null)
				({ context: ctx, base: url, cleanup } = await setup());
			await fn(open);
			assert.deepEqual(errors, [], 'errors on the pages');
		} finally {
			for (const p of pages)
				await p.close().catch(() => {});
			if (cleanup !== null)
				await cleanup();
		}
	});
}

// A second daemon on a TLS listener with a self-signed certificate for
// localhost / 127.0.0.1 (made with openssl into a temp directory), and a
// second browser whose context accepts it (ignoreHTTPSErrors).
async function httpsSetup() {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wsd-browser-tls-'));
	const tls = {
		certificate: path.join(tmp, 'cert.pem'),
		privateKey: path.join(tmp, 'key.pem'),
	};
	let browser = null;
	const cleanup = async () => {
		if (browser !== null)
			await Promise.race([browser.close(), sleep(WAIT)])
			    .catch(() => {});
		const st = await stopWsd(false, wsdTls);
		wsdTls = null;
		fs.rmSync(tmp, { recursive: true, force: true });
		if (st !== null && st.killed)
			throw new Error('the https wsd did not exit within ' +
			    `${STOP_TIMEOUT} ms of SIGTERM and was killed`);
	};
	try {
		execFileSync('openssl', ['req', '-x509', '-newkey', 'ec',
		    '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		    '-keyout', tls.privateKey, '-out', tls.certificate,
		    '-days', '2', '-subj', '/CN=localhost',
		    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
		    { stdio: ['ignore', 'pipe', 'pipe'], timeout: WAIT });
		const d = await startWsd(tmp, tls);
		browser = await chromium.launch({
			executablePath: CHROMIUM,
			headless: true,
			args: CHROMIUM_ARGS,
			timeout: LAUNCH_TIMEOUT,
		});
		const ctx = await browser.newContext({
			ignoreHTTPSErrors: true,
			viewport: { width: 800, height: 700 },
		});
		return { context: ctx, base: `https://127.0.0.1:${d.port}/`,
		    cleanup };
	} catch (e) {
		await cleanup().catch(() => {});
		throw e;
	}
}

// --------------------------------------------------------------- set-up

before(async () => {
	fs.mkdirSync(SHOTS, { recursive: true });
	fs.mkdirSync(LOGS, { recursive: true });
	consoleLog = fs.createWriteStream(path.join(LOGS,
	    'browser-console.log'));
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wsd-browser-'));
	userDataDir = path.join(tmp, 'chromium');
	fs.mkdirSync(userDataDir);
	await startWsd(tmp);
	base = `http://127.0.0.1:${wsd.port}/`;
	context = await chromium.launchPersistentContext(userDataDir, {
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_ARGS,
		viewport: { width: 800, height: 700 },
		timeout: LAUNCH_TIMEOUT,
	});
}, { timeout: START_TIMEOUT + LAUNCH_TIMEOUT + 5000 });

after(async () => {
	if (context !== null) {
		await Promise.race([context.close(), sleep(WAIT)])
		    .catch(() => {});
		context = null;
	}
	const st = await stopWsd();
	if (consoleLog !== null)
		consoleLog.end();
	if (userDataDir !== null)
		fs.rmSync(path.dirname(userDataDir), { recursive: true,
		    force: true });
	clearTimeout(watchdog);
	if (st !== null && st.killed)
		throw new Error(`wsd ${wsd.pid} did not exit within ` +
		    `${STOP_TIMEOUT} ms of SIGTERM and was killed`);
}, { timeout: STOP_TIMEOUT + WAIT + 5000 });

// --------------------------------------------------------------- tests

pageTest('index.html links every demo, and each link loads', async (open) => {
	const page = await open('index.html');
	const hrefs = await page.$$eval('main a', (as) =>
	    as.map((a) => a.getAttribute('href')));
	for (const want of ['hello.html', 'echo.html', 'show_time.html',
	    'broadcast.html', 'counter.html', 'relay.html', 'live.html'])
		assert.ok(hrefs.includes(want), `index.html has no link to ` +
		    `${want}; links: ${JSON.stringify(hrefs)}`);
	for (const href of hrefs) {
		const res = await page.request.get(new URL(href,
		    page.url()).href, { timeout: WAIT });
		assert.equal(res.status(), 200, `GET ${href}`);
	}
	await shot(page, 'index');
});

pageTest('hello.html: the form shows "Hello <name>!"', async (open) => {
	const page = await open('hello.html');
	await page.fill('#name', 'Browser Ünïcode');
	await page.click('form button[type="submit"]');
	await waitText(page, '#result', 'Hello Browser Ünïcode!');
	// The app closes normally once it has greeted.
	await waitText(page, '#status', 'Closed (code 1000).');
	await shot(page, 'hello');
});

pageTest('echo.html: a message comes back unchanged', async (open) => {
	const page = await open('echo.html');
	await waitText(page, '#status', 'Connected.');
	const msg = 'echo from the browser \u2714 \u{1F600}';
	await page.fill('#line', msg);
	await page.click('#send');
	await waitHasText(page, '#log li.received', msg);
	await shot(page, 'echo');
});

pageTest('show_time.html lists timestamps from /time', async (open) => {
	const page = await open('show_time.html');
	await waitText(page, '#status', 'Connected.');
	const list = await waitCount(page, '#log li.timestamp', 3,
	    3 * INTERVAL_MAX * 1000 + WAIT);
	checkTimestamps(list, 'show_time.html');
	await shot(page, 'show_time');
	// Pause holds the list still while the stream goes on.
	await page.click('#pause');
	assert.equal(await page.getAttribute('#pause', 'aria-pressed'), 'true');
	const held = (await textsOf(page, '#log li')).length;
	const heldTs = (await textsOf(page, '#log li.timestamp')).length;
	await sleep(2 * INTERVAL_MAX * 1000 + 200);
	assert.equal((await textsOf(page, '#log li')).length, held,
	    'the list changed while paused');
	await page.click('#pause');
	assert.equal(await page.getAttribute('#pause', 'aria-pressed'),
	    'false');
	const info = await waitCount(page, '#log li.info', 1);
	assert.match(info[0], /^\d+ timestamps? skipped while paused$/);
	// ... and shows what comes after it.
	await waitCount(page, '#log li.timestamp', heldTs + 1);
});

pageTest('broadcast.html: two pages get the same timestamps',
    async (open) => {
	const sel = '#log li.timestamp';
	const a = await open('broadcast.html');
	await waitCount(a, sel, 1);
	const b = await open('broadcast.html');
	const fromB = await waitCount(b, sel, 2);
	// A joined first, so it gets every tick B gets.
	const newestB = fromB[fromB.length - 1];
	await waitHasText(a, sel, newestB);
	const fromA = await textsOf(a, sel);
	const newestA = fromA[fromA.length - 1];
	await waitHasText(b, sel, newestA);
	// Snapshot both and compare where they overlap: B's stream is a
	// contiguous run of A's, tick for tick.
	const listA = await textsOf(a, sel);
	const listB = await textsOf(b, sel);
	checkTimestamps(listA, 'broadcast.html (first page)');
	checkTimestamps(listB, 'broadcast.html (second page)');
	const i = listA.indexOf(listB[0]);
	assert.ok(i >= 0, `the second page's first timestamp ${listB[0]} ` +
	    `is not on the first page: ${JSON.stringify(listA)}`);
	const n = Math.min(listA.length - i, listB.length);
	assert.ok(n >= 2, `only ${n} timestamps in common`);
	assert.deepEqual(listB.slice(0, n), listA.slice(i, i + n),
	    'the two pages got different timestamps');
	await shot(a, 'broadcast-1');
	await shot(b, 'broadcast-2');
});

// The counter scenario: two pages, three + in one and one - in the
// other; both show 2 and "2 users online"; a leave is announced.
async function counterTwoPages(open, name) {
	const a = await open('counter.html');
	await waitText(a, '.users', '1 user');
	await waitText(a, '.value', '0');
	const b = await open('counter.html');
	for (const p of [a, b]) {
		await waitText(p, '.users', '2 users');
		await waitText(p, '.value', '0');
	}
	for (let k = 0; k < 3; k++)
		await a.click('.plus');
	await b.click('.minus');
	for (const p of [a, b]) {
		await waitText(p, '.value', '2');
		await waitText(p, '.users', '2 users');
		await waitText(p, '.state', '2 users online');
	}
	await shot(a, name + '-1');
	await shot(b, name + '-2');
	// Leaving is announced to whoever stays.
	await b.close();
	await waitText(a, '.users', '1 user');
	await waitText(a, '.value', '2');
	return a;
}

pageTest('counter.html: two pages share the value and the user count',
    async (open) => {
	await counterTwoPages(open, 'counter');
});

pageTest('counter.html over https: two pages stay in sync',
    async (open) => {
	const a = await counterTwoPages(open, 'counter-https');
	assert.match(a.url(), /^https:\/\//, 'the page is not on https');
	// The pages' WebSockets went through the TLS listener.
	assert.match(wsdTls.log, /access: 127\.0\.0\.1:\d+ ws \/counter /,
	    'no wss session in the https daemon\'s log');
}, httpsSetup);

pageTest('relay.html: a message sent in one page appears in the other',
    async (open) => {
	const a = await open('relay.html');
	const b = await open('relay.html');
	await waitText(a, '#status', 'Connected.');
	await waitText(b, '#status', 'Connected.');
	const msgA = 'hello from page A \u2014 \u00a1hola! \u2713';
	await a.fill('#line', msgA);
	await a.press('#line', 'Enter');
	await waitHasText(b, '#log li.received', msgA);
	// echo_self defaults to on: A gets its own message back once.
	await waitHasText(a, '#log li.sent.delivered', msgA);
	const msgB = 'and hello back from B';
	await b.fill('#line', msgB);
	await b.click('#send');
	await waitHasText(a, '#log li.received', msgB);
	await waitHasText(b, '#log li.sent.delivered', msgB);
	assert.deepEqual(await textsOf(a, '#log li'), [msgA, msgB],
	    'first page\'s log');
	assert.deepEqual(await textsOf(b, '#log li'), [msgA, msgB],
	    'second page\'s log');
	await shot(a, 'relay-1');
	await shot(b, 'relay-2');
});

// Publishes text to a channel of the test daemon with curl, as a backend
// would; returns the JSON answer.
function curlPublish(channel, text) {
	const out = execFileSync('curl', ['-sS', '--max-time', '5',
	    '-H', 'Content-Type: text/plain', '--data-binary', text,
	    `${base}live/${channel}`], { encoding: 'utf8' });
	const rep = JSON.parse(out);
	assert.match(rep.id, /^\d+-\d+$/, `publish answer ${out}`);
	return rep;
}

// Subscribes live.html to channel over transport ('ws' or 'sse').
async function liveSubscribe(page, channel, transport) {
	await page.fill('#channel', channel);
	await page.selectOption('#transport', transport);
	await page.click('#subscribe');
	await waitText(page, '#status', `Subscribed to ${channel} (` +
	    (transport === 'ws' ? 'WebSocket' : 'EventSource') + ').');
}

for (const transport of ['ws', 'sse']) {
	pageTest(`live.html over ${transport}: a message published with curl ` +
	    'appears with its id, and the page\'s form publishes',
	    async (open) => {
		const page = await open('live.html');
		const channel = `browser-${transport}`;
		await liveSubscribe(page, channel, transport);
		// The subscription is in place once the channel counts it.
		const rep = curlPublish(channel, 'from curl \u2713');
		assert.equal(rep.subscribers, 1, 'subscribers in the answer');
		await waitHasText(page, '#log li.received .text',
		    'from curl \u2713');
		assert.deepEqual(await textsOf(page, '#log li.received .id'),
		    [rep.id], 'the message\'s id on the page');
		await page.fill('#line', 'from the form');
		await page.click('#publish');
		await waitHasText(page, '#log li.received .text',
		    'from the form');
		await shot(page, `live-${transport}`);
	});
}

pageTest('live.html resumes after the server drops its WebSocket, ' +
    'losing no message', async (open) => {
	const page = await open('live.html');
	const channel = 'browser-resume';
	await liveSubscribe(page, channel, 'ws');
	const a = curlPublish(channel, 'before the drop');
	await waitHasText(page, '#log li.received .text', 'before the drop');
	// A subscriber may not publish (client_publish = off): the server
	// closes the socket with 1008, and the page reconnects after 1 s.
	await page.evaluate(() => window.liveDemo.socket().send('x'));
	await waitText(page, '#status',
	    'Closed (code 1008), reconnecting in 1 s\u2026');
	const b = curlPublish(channel, 'while away');
	await waitHasText(page, '#log li.received .text', 'while away');
	await waitText(page, '#status', `Subscribed to ${channel} ` +
	    '(WebSocket).');
	const c = curlPublish(channel, 'after the return');
	await waitHasText(page, '#log li.received .text', 'after the return');
	// Each once, in order, nothing reset.
	assert.deepEqual(await textsOf(page, '#log li.received .id'),
	    [a.id, b.id, c.id], 'ids on the page');
	assert.deepEqual(await textsOf(page, '#log li.info'), [],
	    'no reset notice');
	await shot(page, 'live-resume');
});

// The counter page's socket is compressed: Chromium offers
// permessage-deflate, and its DevTools protocol shows both handshake heads.
pageTest('counter.html negotiates permessage-deflate and works',
    async (open) => {
	const offers = [];
	const answers = [];
	const header = (headers, name) => Object.entries(headers).find(
	    ([k]) => k.toLowerCase() === name)?.[1];
	const page = await open('counter.html', async (p) => {
		const cdp = await p.context().newCDPSession(p);
		cdp.on('Network.webSocketWillSendHandshakeRequest', (e) =>
		    offers.push(header(e.request.headers,
		    'sec-websocket-extensions')));
		cdp.on('Network.webSocketHandshakeResponseReceived', (e) =>
		    answers.push(header(e.response.headers,
		    'sec-websocket-extensions')));
		await cdp.send('Network.enable');
	});
	await waitText(page, '.users', '1 user');
	// Other tests moved the shared counter: one + adds one to it.
	const before = Number(await textOf(page, '.value'));
	await page.click('.plus');
	await waitText(page, '.value', String(before + 1));
	assert.equal(answers.length, 1, 'one WebSocket handshake seen');
	assert.match(offers[0] || '', /permessage-deflate/,
	    'Chromium did not offer permessage-deflate');
	// The counter is a hub route: compression = shared, no context
	// takeover either way, and Chromium takes that answer.
	assert.equal(answers[0], 'permessage-deflate; ' +
	    'server_no_context_takeover; client_no_context_takeover; ' +
	    'server_max_window_bits=12; client_max_window_bits=12',
	    'wsd\'s Sec-WebSocket-Extensions answer');
});

// Last: stops the daemon under an open page.
pageTest('SIGTERM: an open page sees close 1001 and wsd exits 0',
    async (open) => {
	const page = await open('show_time.html');
	await waitText(page, '#status', 'Connected.');
	await waitCount(page, '#log li.timestamp', 1);
	process.kill(wsd.pid, 'SIGTERM');
	await waitText(page, '#status',
	    'Closed (code 1001). Reload the page to reconnect.',
	    STOP_TIMEOUT);
	const st = await stopWsd(true);
	assert.ok(!st.killed, `wsd did not exit within ${STOP_TIMEOUT} ms ` +
	    'of SIGTERM and was killed');
	assert.deepEqual([st.code, st.signal], [0, null],
	    'wsd exit status after SIGTERM');
});
