// Drives Debian's Chromium through playwright-core against a running Watchpost
// that has no account yet. The flow: first-run setup from the one-time link,
// TOTP enrolment (the code computed here from the key on the page), log out,
// log in with password + TOTP, the overview (desktop, phone, dark), a viewer
// who sees no edit controls and whose forged POST gets 403, the host page over
// 30 synthetic days (light and dark) refreshing itself, the error issues
// that the real sentry-sdk and a Django app sent, and the 404 page.
// Fails on any console error, page error, failed request or CSP violation.
// Usage: node browser.cjs BASE_URL OUT_DIR SETUP_TOKEN_FILE
const { chromium } = require('playwright-core');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const [base, out, setupFile] = process.argv.slice(2);
const ADMIN = { email: 'admin@example.com', password: 'violet tractor hums beneath granite skies' };
const VIEWER = { email: 'viewer@example.com', password: 'seven lanterns drift over quiet harbours' };

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) fail(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

// RFC 6238 TOTP, SHA1, 6 digits, 30 s.
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(value).padStart(6, '0');
}
const stepNow = () => Math.floor(Date.now() / 1000 / 30);

// A browser context that records every problem a user would not see.
async function watched(browser, options = {}) {
  const context = await browser.newContext(options.context || {});
  const page = await context.newPage();
  const problems = [];
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !(options.allow || []).some((re) => re.test(m.text()))) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // A navigation cancels the previous page's pending loads (ERR_ABORTED);
  // that is the browser moving on, not a failure of the server.
  page.on('requestfailed', (r) => {
    const reason = r.failure()?.errorText || '';
    if (!reason.includes('ERR_ABORTED')) problems.push(`request failed: ${r.url()} ${reason}`);
  });
  const done = async (name) => {
    await context.close();
    if (problems.length) fail(`${name}: ${problems.join('; ')}`);
  };
  return { page, done };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
}

async function adminFlow(browser) {
  const { page, done } = await watched(browser, { allow: [/status of 401/] });
  const link = fs.readFileSync(setupFile, 'utf8').trim();
  const token = new URL(link).searchParams.get('token');
  await page.goto(`${base}/setup?token=${token}`);
  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=name]', 'Ada Admin');
  await page.fill('input[name=password]', ADMIN.password);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await Promise.all([page.waitForURL(/\/login\?done=setup/), page.click('button[type=submit]')]);
  console.log('ok setup: first admin created from the one-time link');

  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=password]', ADMIN.password);
  await shot(page, 'login');
  await Promise.all([page.waitForURL(/\/account\/2fa$/), page.click('button[type=submit]')]);
  const nav = await page.locator('nav a[href="/users"]').count();
  const key = (await page.textContent('#manual-key')).trim();
  if (!(await page.locator('.qr svg').count())) fail('no QR code on the enrolment page');
  const secret = base32(key);
  const enrolStep = stepNow();
  await page.fill('input[name=code]', totp(secret, enrolStep));
  await Promise.all([page.waitForLoadState('networkidle'), page.click('form[action="/account/2fa/enable"] button')]);
  const codes = await page.locator('#recovery-codes li').count();
  if (codes !== 10) fail(`expected 10 recovery codes, saw ${codes}`);
  console.log(`ok 2fa: enrolled with the manual key (nav to /users before enrolment: ${nav})`);

  await page.goto(`${base}/account`);
  await shot(page, 'account');
  await Promise.all([page.waitForURL(/\/login\?done=logout/), page.click('header form[action="/logout"] button')]);
  const blocked = await page.goto(`${base}/`);
  if (!blocked.url().includes('/login')) fail(`logged out, / went to ${blocked.url()}`);
  console.log('ok logout: the home page asks for a login again');

  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=password]', ADMIN.password);
  await Promise.all([page.waitForURL(/\/login\/totp$/), page.click('button[type=submit]')]);
  // A code is accepted once: wait for a step after the one used to enrol.
  while (stepNow() <= enrolStep) await page.waitForTimeout(1000);
  await page.fill('input[name=code]', totp(secret, stepNow()));
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  const h1 = await page.textContent('h1');
  if (!h1.includes('Overview')) fail(`h1 is ${h1}`);
  const cards = await page.locator('.status-card').count();
  if (cards < 4) fail(`expected the host status cards on the overview, saw ${cards}`);
  if ((await page.locator('.status-card svg.sparkline path').count()) < 4) fail('the cards have no sparklines');
  if ((await page.locator('nav a[aria-current="page"]').count()) !== 1) fail('the current page is not marked in the navigation');
  const install = await page.textContent('dl.facts code');
  if (!/^[0-9a-f-]{36}$/.test(install.trim())) fail(`installation id looks wrong: ${install}`);
  const styled = await page.evaluate(() => getComputedStyle(document.querySelector('header.top')).display);
  if (styled !== 'flex') fail('the stylesheet did not apply');
  await shot(page, 'home');
  console.log('ok login: password + TOTP, home page rendered');

  await page.goto(`${base}/users`);
  await page.fill('form[action="/users"][method="post"] input[name=email]', VIEWER.email);
  await page.fill('form[action="/users"][method="post"] input[name=name]', 'Vic Viewer');
  await page.fill('form[action="/users"][method="post"] input[name=password]', VIEWER.password);
  await Promise.all([page.waitForURL(/\/users\?done=created/), page.click('form[action="/users"][method="post"] button')]);
  if (!(await page.textContent('table')).includes(VIEWER.email)) fail('the new viewer is not listed');
  await shot(page, 'users');
  console.log('ok users: an admin created a viewer');
  await checksFlow(browser, page);
  await securityFlow(page);
  await perfFlow(page);
  await errorsFlow(page);
  await auditAndRetentionFlow(page);
  await done('admin flow');
}

// The scanner that run.sh sent before the browser started: banned, in the
// timeline and the top offenders; an admin bans a block by hand and lifts it.
async function securityFlow(page) {
  await until(page, `${base}/security`, '#bans', '203.0.113.66', 15);
  const offenders = await page.textContent('#offenders');
  if (!offenders.includes('203.0.113.66')) fail('the scanner is not among the top offenders');
  const timeline = await page.textContent('#timeline');
  for (const kind of ['probe.sensitive_file', 'ban.created']) {
    if (!timeline.includes(kind)) fail(`the timeline has no ${kind}`);
  }
  if (!(await page.locator('.chart-card svg').count())) fail('no events chart on the security page');
  await shot(page, 'security');
  await page.fill('#ban-form input[name=ip]', '198.51.100.0/24');
  await page.fill('#ban-form input[name=reason]', 'abuse report');
  await Promise.all([page.waitForURL(/done=banned/), page.click('#ban-form button')]);
  if (!(await page.locator('tr[data-ban="198.51.100.0/24"]').count())) fail('the manual ban is not listed');
  await Promise.all([page.waitForURL(/done=unbanned/), page.click('tr[data-ban="198.51.100.0/24"] button.danger')]);
  if (await page.locator('tr[data-ban="198.51.100.0/24"]').count()) fail('the lifted ban is still listed');
  console.log('ok security: the scanner is banned and shown; a block banned and lifted by hand');
}

// Watchpost's own traffic, per route, once its first minute is stored: the
// three charts, the routes table sorted by p95, a deploy recorded by hand
// and drawn as a marker, and one route's percentiles.
async function perfFlow(page) {
  await until(page, `${base}/perf?hours=1`, '#routes', '/security', 90);
  if ((await page.locator('.chart-card svg.chart').count()) !== 3) fail('the performance page lacks its three charts');
  await Promise.all([page.waitForURL(/sort=p95/), page.click('#routes th a[href*="sort=p95"]')]);
  if (!(await page.locator('#routes tbody tr').count())) fail('the routes table is empty');
  await page.fill('form[action="/perf/deploys"] input[name=version]', 'e2e-1');
  await Promise.all([page.waitForURL(/done=deploy/), page.click('form[action="/perf/deploys"] button')]);
  if (!(await page.textContent('#deploys')).includes('e2e-1')) fail('the deploy is not listed');
  if (!(await page.locator('svg.chart .marker').count())) fail('the deploy is not drawn on the charts');
  await shot(page, 'perf');
  await Promise.all([page.waitForURL(/\/perf\/route\?/), page.click('#routes tbody tr:first-child td a')]);
  if (!(await page.textContent('main')).includes('Latency percentiles')) fail('the route page has no percentile chart');
  if ((await page.locator('#codes tbody tr').count()) < 1) fail('the route page has no status codes');
  await shot(page, 'perf-route');
  console.log('ok perf: routes per pattern, sorted; a deploy marker; a route\'s percentiles');
}

// What run.sh's sentry-sdk clients and the Django app sent: the issue list,
// the Django issue with its stack trace and its request scrubbed, resolved.
async function errorsFlow(page) {
  await page.goto(`${base}/errors`);
  const list = await page.textContent('#issues');
  for (const want of ['ZeroDivisionError', 'hello from the e2e run', 'in checkout']) {
    if (!list.includes(want)) fail(`the issue list lacks ${want}`);
  }
  await shot(page, 'errors-list');
  await Promise.all([page.waitForURL(/\/errors\/issues\/\d+/), page.click('#issues tr:has-text("in checkout") td a')]);
  const request = await page.textContent('#request');
  if (!request.includes('[Filtered]')) fail('the request on the issue page is not scrubbed');
  if (/s3cr3t|4111 1111/.test(await page.textContent('main'))) fail('a secret reached the issue page');
  if (!(await page.locator('.frames li').count())) fail('the issue page shows no stack trace');
  if (!(await page.textContent('#tags')).includes('django-shop@2.0.0')) fail('the tag distribution lacks the release');
  await shot(page, 'errors-issue');
  await Promise.all([page.waitForURL(/done=resolved/), page.click('#issue-actions button:has-text("Resolve")')]);
  console.log('ok errors: issues listed; the Django issue shows its trace and a scrubbed request; resolved');
}

// The security audit run from its page (the e2e instance has TOTP, a fresh
// trail and loopback only, so its findings are the host's), and the
// retention page listing every data type with its figures.
async function auditAndRetentionFlow(page) {
  await page.goto(`${base}/security/audit`);
  await Promise.all([page.waitForURL(/done=ran/), page.click('#run-audit button')]);
  const summary = await page.textContent('#audit-summary');
  if (!/high/.test(summary)) fail(`the audit summary reads oddly: ${summary}`);
  if (!(await page.locator('#passed').count())) fail('the audit page lists no passed checks');
  if ((await page.textContent('#findings')).includes('integrity.trail_chain')) fail('the audit finds the trail broken');
  if (!(await page.textContent('#passed')).includes('integrity.trail_chain')) fail('the trail check did not pass');
  await shot(page, 'security-audit');
  await page.goto(`${base}/settings/retention`);
  const table = await page.textContent('main table');
  for (const data of ['audit_trail', 'security_events', 'check_results', 'perf_minutes', 'error_events', 'log_files']) {
    if (!table.includes(data)) fail(`the retention page lacks ${data}`);
  }
  await Promise.all([page.waitForURL(/\/settings\/retention\?/), page.click('form[action="/settings/retention/run"] button')]);
  if (!(await page.textContent('main')).includes('Retention ran')) fail('running retention said nothing');
  await shot(page, 'retention');
  console.log('ok audit and retention: the audit ran from its page; every data type listed; retention ran');
}

// Reloads `url` until `selector`'s text includes `want` (or fails after `seconds`).
async function until(page, url, selector, want, seconds) {
  for (let i = 0; i < seconds * 2; i++) {
    await page.goto(url);
    const text = (await page.textContent(selector)) || '';
    if (text.includes(want)) return;
    await page.waitForTimeout(500);
  }
  fail(`${url}: ${selector} never showed ${want}`);
}

// An HTTP check made through the UI against a loopback target: tested before
// saving, up once saved, down once the target stops; the list and the public
// status page show it.
async function checksFlow(browser, page) {
  const http = require('http');
  const sockets = new Set();
  const target = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<h1>Welcome to the shop</h1>');
  });
  target.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => target.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${target.address().port}/`;

  await page.goto(`${base}/checks/new`);
  await page.fill('input[name=name]', 'Shop');
  await page.fill('input[name=id]', 'shop');
  await page.fill('input[name=url]', url);
  await page.fill('input[name=keyword]', 'Welcome');
  await page.fill('input[name=interval]', '10s');
  await page.fill('input[name=fail_after]', '1');
  await page.fill('input[name=tags]', 'web');
  await page.check('input[name=public]');
  if (await page.locator('fieldset[data-kinds="heartbeat"]').isVisible()) fail('the heartbeat fields show for an HTTP check');
  await Promise.all([page.waitForLoadState('load'), page.click('#test-now')]);
  const tested = (await page.textContent('#test-result')) || '';
  if (!tested.includes('Up') || !tested.includes('HTTP 200')) fail(`test now: ${tested}`);
  await shot(page, 'check-form-tested');
  await Promise.all([page.waitForURL(/\/checks\/shop\?done=saved/), page.click('#save')]);
  console.log('ok checks: "Test now" ran the check before saving; saved');

  await until(page, `${base}/checks/shop`, '#check-state', 'Up', 20);
  console.log('ok checks: the new check went up');
  await new Promise((resolve) => { target.close(resolve); for (const s of sockets) s.destroy(); });
  await until(page, `${base}/checks/shop`, '#check-state', 'Down', 40);
  const reason = (await page.textContent('#last-error')) || '';
  if (!reason.includes('connection refused')) fail(`down for the wrong reason: ${reason}`);
  await shot(page, 'check-detail');
  console.log(`ok checks: the target stopped and the check went down (${reason.trim()})`);

  await page.goto(`${base}/checks`);
  const row = (await page.textContent('tr[data-check="shop"]')) || '';
  if (!row.includes('Down')) fail(`the list row says ${row}`);
  if ((await page.locator('tr[data-check="shop"] svg.sparkline path').count()) !== 1) fail('no latency sparkline on the list');
  await shot(page, 'checks-list');

  const anon = await browser.newContext();
  const pub = await anon.newPage();
  await pub.goto(`${base}/status`);
  const overall = (await pub.textContent('#overall')) || '';
  if (!overall.includes('down')) fail(`status page headline: ${overall}`);
  const html = await pub.content();
  if (html.includes(url) || html.includes('connection refused')) fail('the status page shows internals');
  if ((await pub.locator('.bars .bar').count()) < 90) fail('no 90-day bars on the status page');
  await shot(pub, 'status-page');
  await anon.close();
  console.log('ok status page: public, shows the outage, hides the target and error');

  // The shop-down rule (for = 5s) fires while the target is down; bringing
  // it back on the same port resolves it.
  await until(page, `${base}/alerts`, '#firing', 'shop-down', 30);
  await shot(page, 'alerts-firing');
  console.log('ok alerts: shop-down fires on the alerts page');
  await new Promise((resolve) => target.listen(Number(new URL(url).port), '127.0.0.1', resolve));
  // It serves on until the script ends, without keeping the script alive.
  target.unref();
  for (const s of sockets) s.unref();
  target.on('connection', (s) => s.unref());
  await until(page, `${base}/checks/shop`, '#check-state', 'Up', 40);
  await until(page, `${base}/alerts`, '#history', 'resolved', 30);
  await shot(page, 'alerts');
  console.log('ok alerts: the target came back and the alert resolved');
}

async function viewerFlow(browser) {
  const { page, done } = await watched(browser, { allow: [/status of 403/] });
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', VIEWER.email);
  await page.fill('input[name=password]', VIEWER.password);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  if (await page.locator('nav a[href="/users"]').count()) fail('a viewer sees the Users link');
  if (await page.locator('main form[method=post]').count()) fail('a viewer sees an edit control on the home page');
  const csrf = await page.getAttribute('header input[name=csrf]', 'value');
  const forged = await page.request.post(`${base}/users/1/disable`, { form: { csrf } });
  if (forged.status() !== 403) fail(`a viewer's forged POST answered ${forged.status()}`);
  const users = await page.goto(`${base}/users`);
  if (users.status() !== 403) fail(`a viewer got ${users.status()} from /users`);
  console.log('ok viewer: no edit controls, forged POST and /users answer 403');

  await page.goto(`${base}/host?range=30d`);
  const charts = await page.locator('svg.chart').count();
  if (charts < 12) fail(`expected a chart per metric family, saw ${charts}`);
  if ((await page.locator('svg.chart path.band').count()) < 5) fail('30-day charts show no min-max bands');
  if (!(await page.textContent('main')).includes('Synthetic data')) fail('synthetic history is not labelled');
  if ((await page.locator('table tbody tr').count()) < 5) fail('the top-processes table is empty');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`the host page scrolls sideways by ${overflow}px`);
  await shot(page, 'host-30d');
  await page.goto(`${base}/`);
  await shot(page, 'overview');

  // Live refresh: the 1-hour view replaces its charts within ~10 s, in place.
  await page.goto(`${base}/host?range=1h`);
  const before = await page.locator('#charts').boundingBox();
  await page.evaluate(() => document.querySelector('#charts .chart-card').setAttribute('data-old', '1'));
  await page.waitForFunction(() => !document.querySelector('#charts [data-old]'), null, { timeout: 15000 });
  const after = await page.locator('#charts').boundingBox();
  if (Math.abs(before.y - after.y) > 1 || Math.abs(before.width - after.width) > 1) fail('the charts moved on refresh');
  if ((await page.locator('svg.chart').count()) < 12) fail('the refreshed charts are missing');
  console.log(`ok host: ${charts} charts over 30 days, bands, top processes, refresh in place`);
  await done('viewer flow');
}

async function hostDark(browser) {
  const { page, done } = await watched(browser, { context: { colorScheme: 'dark', viewport: { width: 1280, height: 900 } } });
  await page.goto(`${base}/login`);
  await page.fill('input[name=email]', VIEWER.email);
  await page.fill('input[name=password]', VIEWER.password);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  await page.goto(`${base}/host?range=7d`);
  const stroke = await page.evaluate(() => getComputedStyle(document.querySelector('svg.chart path.line')).stroke);
  if (!stroke || stroke === 'none') fail('chart lines have no colour in dark mode');
  await shot(page, 'host-7d-dark');
  console.log('ok host dark: lines coloured by the dark palette');
  await done('host dark');
}

async function phoneAndErrors(browser) {
  const { page, done } = await watched(browser, {
    context: { viewport: { width: 375, height: 740 }, colorScheme: 'dark', isMobile: true },
    allow: [/status of 404/],
  });
  await page.goto(`${base}/login`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 0) fail(`the login page scrolls sideways on a phone by ${overflow}px`);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  if (bg !== 'rgb(13, 17, 23)') fail(`dark scheme not applied (background ${bg})`);
  await shot(page, 'login-phone-dark');
  const missing = await page.goto(`${base}/no/such/page`);
  if (missing.status() !== 404) fail(`expected 404, got ${missing.status()}`);
  if (!(await page.textContent('main')).includes('Request id')) fail('the error page does not show the request id');
  const health = await page.request.get(`${base}/health`);
  if (health.status() !== 200) fail(`/health answered ${health.status()}`);
  console.log('ok phone: no sideways scroll, dark colours; 404 page shows the request id');
  await done('phone and errors');
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    await adminFlow(browser);
    await viewerFlow(browser);
    await hostDark(browser);
    await phoneAndErrors(browser);
  } finally {
    await browser.close();
  }
})().catch((e) => fail(e.stack || String(e)));
