// Drives Debian's Chromium through playwright-core against a running Watchpost.
// Fails on any console error, page error, failed request or CSP violation.
// Usage: node browser.cjs BASE_URL OUT_DIR
const { chromium } = require('playwright-core');
const path = require('path');

const [base, out] = process.argv.slice(2);

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

async function visit(browser, name, url, options = {}) {
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
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  const response = await page.goto(url, { waitUntil: 'networkidle' });
  const checks = await options.check(page, response);
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
  await context.close();
  if (problems.length) fail(`${name}: ${problems.join('; ')}`);
  console.log(`ok ${name}${checks ? ` (${checks})` : ''}`);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    await visit(browser, 'home', `${base}/`, {
      check: async (page, response) => {
        if (response.status() !== 200) fail(`home answered ${response.status()}`);
        const title = await page.title();
        if (!title.includes('Watchpost')) fail(`title is ${title}`);
        const h1 = await page.textContent('h1');
        if (!h1.includes('Watchpost')) fail(`h1 is ${h1}`);
        const nav = await page.locator('nav a[aria-current="page"]').count();
        if (nav !== 1) fail('the current page is not marked in the navigation');
        const install = await page.textContent('dl.facts code');
        if (!/^[0-9a-f-]{36}$/.test(install.trim())) fail(`installation id looks wrong: ${install}`);
        const styled = await page.evaluate(() => getComputedStyle(document.querySelector('header.top')).display);
        if (styled !== 'flex') fail('the stylesheet did not apply');
        const health = await page.request.get(`${base}/health`);
        if (health.status() !== 200) fail(`/health answered ${health.status()}`);
        return `title "${title}"`;
      },
    });
    await visit(browser, 'home-phone-dark', `${base}/`, {
      context: { viewport: { width: 375, height: 740 }, colorScheme: 'dark', isMobile: true },
      check: async (page) => {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 0) fail(`the page scrolls sideways on a phone by ${overflow}px`);
        const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        if (bg !== 'rgb(13, 17, 23)') fail(`dark scheme not applied (background ${bg})`);
        return 'no sideways scroll, dark colours';
      },
    });
    await visit(browser, 'not-found', `${base}/no/such/page`, {
      allow: [/status of 404/],
      check: async (page, response) => {
        if (response.status() !== 404) fail(`expected 404, got ${response.status()}`);
        const text = await page.textContent('main');
        if (!text.includes('Request id')) fail('the error page does not show the request id');
        return 'HTML error page with request id';
      },
    });
  } finally {
    await browser.close();
  }
})().catch((e) => fail(e.stack || String(e)));
