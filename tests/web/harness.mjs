// What the Chromium tests of the web client (tests/web/*.test.mjs) share:
// the browser and its settings, bounded waits, pages watched for console
// errors, page errors, CSP violations and dialogs, axe-core's WCAG 2.1 A and
// AA check, screenshots (light and dark) and signing up through the UI.
// Every wait is bounded, by WAIT unless a test names a longer one.
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { repoRoot } from '../api/lib.mjs';

/** Where screenshots go: $PICOGRAM_TEST_OUT/web/ (default build/test-output/web/). */
export const OUT = path.join(path.resolve(process.env.PICOGRAM_TEST_OUT || path.join(repoRoot, 'build', 'test-output')), 'web');
/** The chromium to drive (Debian's, unless $PICOGRAM_CHROMIUM names another). */
export const CHROMIUM = process.env.PICOGRAM_CHROMIUM || '/usr/bin/chromium';
/** The password of everyone the tests sign up. */
export const PASSWORD = 'correct horse battery';
/** Every wait is bounded by this (or less, or by a longer wait a test names). */
export const WAIT = 10_000;
/** A phone's browser context options. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true };
/** A desktop's browser context options. */
export const DESKTOP = { viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 };
// axe-core (npm, pinned in package-lock.json) and the rules it checks
const AXE_SOURCE = await readFile(path.join(repoRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** Resolves after ms milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; fails after timeout ms. */
export async function until(fn, what, timeout = WAIT) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) assert.fail(`timed out after ${timeout} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(100);
  }
}

/** The selector of the element with that data-testid. */
export const tid = (id) => `[data-testid="${id}"]`;

/** The text of the first element matching selector ('' if none). */
export async function text(page, selector) {
  return (await page.locator(selector).first().textContent({ timeout: WAIT })) ?? '';
}

/** Waits until the first element matching selector has a text matching re; resolves with it. */
export async function waitText(page, selector, re, timeout = WAIT) {
  return until(async () => {
    const t = await page.locator(selector).first().textContent({ timeout: 500 });
    return re.test(t ?? '') ? t : false;
  }, `${selector} to match ${re}`, timeout);
}

/** Waits until the first element matching selector is visible. */
export async function visible(page, selector, timeout = WAIT) {
  await page.locator(selector).first().waitFor({ state: 'visible', timeout });
}

/** Waits until the router has rendered `route` and its first load is done. */
export async function ready(page, route) {
  await page.waitForSelector(`body[data-route="${route}"] #view[data-ready="true"]`, { timeout: WAIT });
}

/** Sets the location's hash and waits for `route` to be ready. */
export async function go(page, hash, route) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await ready(page, route);
}

/** Opens the page at hash, afresh: reloaded if the browser is there already. */
export async function goAfresh(page, hash, route) {
  const there = await page.evaluate((h) => {
    if (location.hash === h) return true;
    location.hash = h;
    return false;
  }, hash);
  if (there) await page.reload();
  await ready(page, route);
}

/** Signs up through the UI from the log-in page (at /); resolves with the new user's ID. */
export async function signUp(page, name, { fullName } = {}) {
  await page.goto('/');
  await visible(page, tid('login-form'));
  await page.click(tid('to-signup'));
  await visible(page, tid('signup-form'));
  await page.fill(tid('signup-username'), name);
  if (fullName) await page.fill(tid('signup-fullname'), fullName);
  await page.fill(tid('signup-password'), PASSWORD);
  await page.click(tid('signup-submit'));
  await ready(page, 'feed');
  const href = await page.getAttribute(tid('nav-profile'), 'href');
  return href.replace('#/u/', '');
}

/** Whether every image of the page is loaded (evaluated in the page). */
const imagesDone = () => [...document.images].every((i) => i.complete);

/**
 * axe-core's WCAG 2.1 A and AA rules over the page as it is now; fails
 * naming each rule broken and the elements that break it. The source is
 * evaluated as DevTools does, so the page's CSP (no eval) stays on.
 */
export async function audit(page, name) {
  // colours mid-transition (a button fading in as it is enabled) are not the page's
  await page.waitForFunction(() => document.getAnimations().every((a) => !(a instanceof CSSTransition) || a.playState !== 'running'),
    null, { timeout: WAIT });
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) =>
      `    ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`).join('\n')}`);
  }, AXE_TAGS);
  assert.equal(violations.length, 0, `${name}: WCAG 2.1 A/AA violations:\n  ${violations.join('\n  ')}`);
  return violations;
}

/** Nothing wider than the screen (a phone must not scroll sideways). */
export async function fitsWidth(page, name) {
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width, `${name}: the page is ${scroll}px wide on a ${width}px screen`);
}

/**
 * A test file's screenshot functions, its screenshots named OUT/PREFIX+NAME.png:
 * - screenshot(page, name): a full-page screenshot. The viewport is
 *   stretched to the page's height first, so that fixed bars (the phone's
 *   bottom navigation) sit at the bottom of the picture rather than over
 *   the middle of it;
 * - shot(page, name): checks the screen with audit() and takes its
 *   screenshot (NAME), in the light theme and then in the dark one
 *   (NAME-dark), and goes back to light.
 * Options: prefix; imagesFirst (shot() waits for the images to load),
 * imagesEach (so does every screenshot()), checkWidth (shot() checks
 * fitsWidth() before the audit).
 */
export function screenshots({ prefix = '', imagesFirst = false, imagesEach = false, checkWidth = false } = {}) {
  async function screenshot(page, name) {
    const vp = page.viewportSize();
    const height = await page.evaluate(() => Math.ceil(document.documentElement.scrollHeight));
    if (height > vp.height) await page.setViewportSize({ width: vp.width, height: Math.min(height, 6000) });
    try {
      if (imagesEach) await page.waitForFunction(imagesDone, null, { timeout: WAIT });
      await page.screenshot({ path: path.join(OUT, `${prefix}${name}.png`), animations: 'disabled', timeout: WAIT });
    } finally {
      if (height > vp.height) await page.setViewportSize(vp);
    }
  }
  async function shot(page, name) {
    if (imagesFirst) await page.waitForFunction(imagesDone, null, { timeout: WAIT });
    if (checkWidth) await fitsWidth(page, name);
    await audit(page, `${name} (light)`);
    await screenshot(page, name);
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(0, 0, 0)', `${name}: the dark theme is on`);
      await audit(page, `${name} (dark)`);
      await screenshot(page, `${name}-dark`);
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
  }
  return { shot, screenshot };
}

/** Launches headless chromium (CHROMIUM). */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 20_000,
  });
}

/**
 * A person: a browser context of its own (its own cookies: nobody logged
 * in) at baseURL, and its page, watched. Resolves with
 * {key, label, context, page, problems, dialogs, allowHttpErrors}:
 * console errors, page errors and CSP violations go to problems, dialogs
 * (dismissed) to dialogs; see expectingHttpErrors() and assertClean().
 * ignoreConsole(message, person), if given, lets through the console
 * messages it returns true for (checked first).
 */
export async function newPerson(browser, baseURL, key, label, options, { ignoreConsole } = {}) {
  const context = await browser.newContext({ ...options, baseURL });
  context.setDefaultTimeout(WAIT);
  context.setDefaultNavigationTimeout(WAIT);
  const page = await context.newPage();
  const u = { key, label, context, page, problems: [], dialogs: [], allowHttpErrors: false };
  page.on('console', (m) => {
    if (ignoreConsole && ignoreConsole(m, u)) return;
    const t = m.text();
    const httpError = /Failed to load resource: the server responded with a status of [45]\d\d/.test(t);
    if (m.type() === 'error' && !(httpError && u.allowHttpErrors)) u.problems.push(`console.error: ${t}`);
    else if (/Content Security Policy|Refused to/i.test(t)) u.problems.push(`csp: ${t}`);
  });
  page.on('pageerror', (e) => u.problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    u.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  // CSP violations as the page sees them (besides the console)
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return u;
}

/** Runs fn while HTTP error answers are expected (they log "Failed to load resource"). */
export async function expectingHttpErrors(u, fn) {
  u.allowHttpErrors = true;
  try {
    return await fn();
  } finally {
    await sleep(50);
    u.allowHttpErrors = false;
  }
}

/** Fails if the person's page had problems or opened dialogs. */
export function assertClean(u) {
  assert.deepEqual(u.problems, [], `${u.label}: console errors, page errors or CSP violations`);
  assert.deepEqual(u.dialogs, [], `${u.label}: dialogs were opened`);
}

/**
 * Listens on a free loopback port with server (an http.Server); resolves
 * with {url, host, port, close()} (close() drops open connections too).
 */
export function listenLocal(server) {
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}`,
        host: `127.0.0.1:${port}`,
        port,
        close: () => new Promise((r) => {
          server.closeAllConnections?.();
          server.close(() => r());
        }),
      });
    });
  });
}
