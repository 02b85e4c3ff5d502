// Third-party apps (OAuth2) in the web client, end to end in Debian's
// chromium (playwright-core): a person registers an app on #/developer and
// sees its secret once; in a fresh browser (nobody logged in) the app's
// authorize link shows the log-in page, then the consent card naming the
// app and what it asks for; Allow is a real form post whose 302 the browser
// follows to the app's redirect URI (a small node server here), the code
// is traded for a token that likes a photo; Deny sends access_denied; a
// new secret stops the old one; revoking the app under "Apps you've
// authorised" stops its tokens; "Edit" changes an app's name, redirect URIs
// and signed requests (a bad redirect URI shows the server's words and
// changes nothing); "Real-time deliveries" shows an app's empty log, then,
// after a tag subscription (verified by the receiver here) and a photo of
// that tag, the delivered POST. The developer page, the consent page and
// its log-in page are checked with axe-core (WCAG 2.1 A and AA) in the
// light and the dark theme, and every page is watched for console errors,
// page errors, CSP violations and dialogs. Screenshots go to
// $PICOGRAM_TEST_OUT/web/ (default build/test-output/web/).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdir } from 'node:fs/promises';
import { startServer, uniqueName, signup, login, uploadPhoto, api } from '../api/lib.mjs';
import {
  OUT, PASSWORD, WAIT, PHONE, DESKTOP, sleep, until, tid, text, waitText, visible, ready, go, signUp, audit,
  screenshots, launchChromium, newPerson as openPerson, expectingHttpErrors, assertClean, listenLocal,
} from './harness.mjs';

let srv;
let url;
let browser;
let receiver; // the app's side: {url, hits: [{method, url, body?}], close()}
const people = {}; // owner (desktop), visitor (phone: the owner again, in a fresh browser), newcomer (phone)
const state = {};
const ownerName = uniqueName('dev');
const appName = `Print Shop ${ownerName.slice(-5)}`;

// shot(): fitsWidth(), audit() and screenshots (oauth-NAME.png), light and dark
const { shot, screenshot } = screenshots({ prefix: 'oauth-', checkWidth: true });

/** A browser context of its own (its own cookies: nobody logged in), watched for problems. */
async function newPerson(key, label, options) {
  const u = await openPerson(browser, url, key, label, options);
  people[key] = u;
  return u;
}

/** The third-party app's web server: records every request, answers a tiny page. */
async function startReceiver() {
  const hits = [];
  const server = http.createServer((req, res) => {
    const hit = { method: req.method, url: req.url };
    hits.push(hit);
    const u = new URL(req.url, 'http://x');
    if (req.method === 'GET' && u.searchParams.has('hub.challenge')) {
      // a real-time subscription's check of its callback: echo the challenge
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(u.searchParams.get('hub.challenge'));
      return;
    }
    if (req.method === 'POST') {
      // a real-time delivery (a JSON array of updates)
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        hit.body = Buffer.concat(chunks).toString('utf8');
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Print Shop</title>'
      + '<link rel="icon" href="data:,"></head><body><p>Back at the app.</p></body></html>');
  });
  const { url: at, close } = await listenLocal(server);
  return { url: at, hits, close };
}

/** The app's authorize link. */
function authorizeUrl({ type = 'code', scope = 'likes comments', state: st = 'xyz', slash = true } = {}) {
  const q = new URLSearchParams({ client_id: state.clientId, redirect_uri: state.redirect, response_type: type, scope, state: st });
  return `${url}/oauth/authorize${slash ? '/' : ''}?${q}`;
}

/** Waits until the browser is at the app's /cb and the app's server saw it; returns that URL. */
async function landedOnApp(u, from) {
  await until(() => u.page.url().startsWith(state.redirect), `the browser at ${state.redirect} (it is at ${u.page.url()})`);
  const hit = await until(() => receiver.hits.slice(from).find((x) => x.url.startsWith('/cb')), 'the app to see /cb');
  return { page: new URL(u.page.url()), hit: new URL(hit.url, receiver.url) };
}

before(async () => {
  await mkdir(OUT, { recursive: true });
  // real-time updates may go to the receiver on loopback, in batches of 100 ms
  srv = await startServer(['--access-log', 'off', '--webhook-allow-private', 'on', '--webhook-batch-ms', '100']);
  url = srv.url;
  receiver = await startReceiver();
  state.redirect = `${receiver.url}/cb`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  await srv?.stop();
  await receiver?.close();
});

describe('third-party apps (OAuth2) in the web client', { timeout: 120_000 }, () => {
  it('a person signs up, registers an app on #/developer and sees its secret once', async () => {
    const owner = await newPerson('owner', 'owner (desktop)', DESKTOP);
    const { page } = owner;
    state.ownerId = await signUp(page, ownerName);

    // from the profile, next to "Download your data"
    await page.click(tid('nav-profile'));
    await ready(page, 'profile');
    await page.click(tid('developer-link'));
    await ready(page, 'developer');
    assert.match(await page.title(), /^Developer • picogram$/);
    await visible(page, tid('dev-apps-empty'));
    await visible(page, tid('authorized-apps-empty'));

    // the form says what is missing before anything is sent
    await page.click(tid('dev-app-submit'));
    await waitText(page, tid('dev-app-error'), /name of 1 to 50 characters/);
    await page.fill(tid('dev-app-name'), appName);
    await page.click(tid('dev-app-submit'));
    await waitText(page, tid('dev-app-error'), /at least one redirect URI/);
    await page.fill(tid('dev-app-redirect'), 'not a uri');
    await page.click(tid('dev-app-submit'));
    await waitText(page, tid('dev-app-error'), /not an absolute URI/);
    await shot(page, 'developer-form-error');

    // registered: two redirect URIs, one a line each
    await page.fill(tid('dev-app-description'), 'Prints your photos on paper.');
    await page.fill(tid('dev-app-website'), 'printshop.example');
    await page.fill(tid('dev-app-redirect'), `${state.redirect}\nhttps://printshop.example/callback`);
    await page.click(tid('dev-app-submit'));
    await visible(page, tid('dev-secret-panel'));
    state.clientId = (await text(page, tid('dev-client-id'))).trim();
    state.secret = (await text(page, tid('dev-secret'))).trim();
    assert.match(state.clientId, /^[0-9a-f]{32}$/);
    assert.match(state.secret, /^[0-9a-f]{32}$/);
    await waitText(page, tid('dev-secret-panel'), /it will not be shown again/);
    const row = `${tid('dev-app-row')}[data-client-id="${state.clientId}"]`;
    await visible(page, row);
    assert.equal(await text(page, `${row} .dev-app-name`), appName);
    assert.deepEqual(await page.locator(`${row} ${tid('dev-app-redirects')} li`).allTextContents(),
      [state.redirect, 'https://printshop.example/callback']);
    assert.equal(await text(page, `${row} ${tid('dev-app-client-id')}`), state.clientId);
    assert.equal(await page.inputValue(tid('dev-app-name')), '', 'the form is emptied');
    await shot(page, 'developer-secret');

    // the secret goes with the panel, and is in no list the server gives
    await page.click(tid('dev-secret-done'));
    await page.locator(tid('dev-secret-panel')).waitFor({ state: 'detached', timeout: WAIT });
    await go(page, `#/developer?t=${Date.now()}`, 'developer');
    await visible(page, row);
    assert.equal((await page.content()).includes(state.secret), false, 'the secret is not shown again');
    const listed = await page.evaluate(async () => (await (await fetch('/v1/developer/clients')).json()).data);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].client_id, state.clientId);
    assert.equal('client_secret' in listed[0], false);
    assert.deepEqual(listed[0].redirect_uris, [state.redirect, 'https://printshop.example/callback']);
    assert.equal(listed[0].website, 'https://printshop.example');
    assert.equal(listed[0].enforce_signed_requests, false);
    await shot(page, 'developer');
    assertClean(owner);
  });

  it('"Reset secret" asks first, then shows a new secret once', async () => {
    const { owner } = people;
    const { page } = owner;
    const row = page.locator(`${tid('dev-app-row')}[data-client-id="${state.clientId}"]`);
    // Cancel leaves it as it was
    await row.locator(tid('dev-app-reset')).click();
    await visible(page, tid('dev-app-reset-confirm'));
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'dev-app-reset-confirm');
    await shot(page, 'developer-confirm');
    await row.locator(tid('dev-confirm-cancel')).click();
    await row.locator(tid('dev-app-reset')).waitFor({ timeout: WAIT });
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'dev-app-reset', 'focus is back on the button');
    await row.locator(tid('dev-app-reset')).click();
    await row.locator(tid('dev-app-reset-confirm')).click();
    await visible(page, tid('dev-secret-panel'));
    await waitText(page, tid('dev-secret-panel'), /A new secret for .*it will not be shown again/s);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'dev-secret-panel', 'focus on the new secret');
    state.oldSecret = state.secret;
    state.secret = (await text(page, tid('dev-secret'))).trim();
    assert.match(state.secret, /^[0-9a-f]{32}$/);
    assert.notEqual(state.secret, state.oldSecret);
    assert.equal(await text(page, tid('dev-client-id')), state.clientId);
    await page.click(tid('dev-secret-done'));
    assertClean(owner);
  });

  it('a bad client_id gets the server\'s error page; an error from /web/oauth/app shows in an error box', async () => {
    const res = await fetch(`${url}/oauth/authorize/?client_id=${'0'.repeat(32)}&redirect_uri=${encodeURIComponent(state.redirect)}&response_type=code`,
      { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') || '', /text\/html/);
    const elsewhere = new URLSearchParams({ client_id: state.clientId, redirect_uri: `${receiver.url}/elsewhere`, response_type: 'code' });
    const wrongUri = await fetch(`${url}/oauth/authorize/?${elsewhere}`, { redirect: 'manual' });
    assert.equal(wrongUri.status, 400, 'a redirect URI not registered is never redirected to');
    assert.equal(wrongUri.headers.get('location'), null);

    // the consent page's own error box (the answer is made up here)
    const { owner } = people;
    const { page } = owner;
    const appInfo = /\/web\/oauth\/app\?/;
    await page.route(appInfo, (route) => route.fulfill({
      status: 400,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ meta: { code: 400, error_type: 'APIInvalidParametersError', error_message: 'state must be at most 1024 bytes' } }),
    }));
    try {
      await expectingHttpErrors(owner, async () => {
        await page.goto(authorizeUrl());
        await ready(page, 'consent');
        await waitText(page, tid('error'), /^State must be at most 1024 bytes\.$/);
      });
      assert.equal(await page.locator(tid('consent-allow')).count(), 0, 'nothing to allow');
      assert.ok(page.url().startsWith(url), 'no redirect');
      await audit(page, 'consent error');
    } finally {
      await page.unroute(appInfo);
    }
    assertClean(owner);
  });

  it('in a fresh browser the authorize link asks to log in, then shows the consent card; Allow sends a code to the app', async () => {
    const visitor = await newPerson('visitor', 'visitor (phone)', PHONE);
    const { page } = visitor;
    const res = await page.goto(authorizeUrl());
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-security-policy'] || '', new RegExp(`form-action 'self' ${receiver.url.replace(/[.]/g, '\\.')}`));
    await ready(page, 'login');
    await waitText(page, tid('auth-note'), /an app is asking to use your picogram account/);
    await visible(page, tid('to-signup'));
    assert.equal(new URL(page.url()).pathname, '/oauth/authorize/');
    await shot(page, 'consent-login');
    await page.fill(tid('login-username'), ownerName);
    await page.fill(tid('login-password'), PASSWORD);
    await page.click(tid('login-submit'));

    // back on the consent page, its query and all
    await ready(page, 'consent');
    const at = new URL(page.url());
    assert.equal(at.pathname, '/oauth/authorize/');
    assert.equal(at.hash, '');
    assert.equal(at.searchParams.get('client_id'), state.clientId);
    await visible(page, tid('consent-card'));
    assert.equal(await text(page, tid('consent-app')), appName);
    await waitText(page, tid('consent-description'), /Prints your photos on paper\./);
    await waitText(page, tid('consent-user'), new RegExp(`Logged in as ${ownerName}\\b`));
    assert.deepEqual(await page.locator(`${tid('consent-scopes')} li`).evaluateAll((els) => els.map((e) => e.dataset.scope)),
      ['basic', 'likes', 'comments']);
    const scopes = await page.locator(`${tid('consent-scopes')} li`).allTextContents();
    assert.match(scopes[0], /see your profile, photos, follows and followers/i);
    assert.match(scopes[1], /like and unlike photos as you/i);
    assert.match(scopes[2], /post and delete comments as you/i);
    await waitText(page, tid('consent-destination'), new RegExp(`^${new URL(receiver.url).host.replace(/[.]/g, '\\.')}$`));
    assert.match(await page.title(), new RegExp(`^Authorize ${appName} • picogram$`));
    assert.equal(await page.isHidden('#nav'), true, 'no navigation bar on the consent page');
    // a real form to /oauth/authorize, with the session's CSRF token
    const form = await page.evaluate(() => {
      const f = document.querySelector('[data-testid="consent-form"]');
      return { method: f.method, action: new URL(f.action).pathname, fields: Object.fromEntries(new FormData(f)) };
    });
    const session = await page.evaluate(async () => (await (await fetch('/web/session')).json()).data);
    assert.deepEqual(form, {
      method: 'post',
      action: '/oauth/authorize',
      fields: {
        client_id: state.clientId, redirect_uri: state.redirect, response_type: 'code', scope: 'likes comments', state: 'xyz', csrf_token: session.csrf_token,
      },
    });
    await shot(page, 'consent');

    const from = receiver.hits.length;
    await page.click(tid('consent-allow'));
    const { page: landed, hit } = await landedOnApp(visitor, from);
    assert.equal(landed.pathname, '/cb');
    assert.equal(hit.searchParams.get('state'), 'xyz');
    state.code = hit.searchParams.get('code');
    assert.ok(state.code, `a code in ${hit}`);
    assert.equal(landed.searchParams.get('code'), state.code);
    assert.equal(receiver.hits[from].method, 'GET');
    assertClean(visitor);
  });

  it('the app trades the code for a token (the old secret no longer works) and likes a photo with it', async () => {
    // a photo of the owner's, shared through the API
    const r = await login(url, ownerName, PASSWORD);
    assert.equal(r.status, 200, r.text);
    state.ownToken = r.body.access_token;
    const up = await uploadPhoto(url, { token: state.ownToken, photo: 'landscape.jpg', fields: { caption: 'For the print shop' } });
    assert.equal(up.status, 200, up.text);
    state.mediaId = up.body.data.id;

    const trade = (secret) => api(url, 'POST', '/oauth/access_token', {
      form: { client_id: state.clientId, client_secret: secret, grant_type: 'authorization_code', redirect_uri: state.redirect, code: state.code },
    });
    const old = await trade(state.oldSecret);
    assert.equal(old.status, 400, `the reset secret: ${old.text}`);
    assert.match(old.body?.error_message || '', /secret/i, old.text);
    const t = await trade(state.secret);
    assert.equal(t.status, 200, t.text);
    assert.equal(typeof t.body.access_token, 'string');
    assert.equal(t.body.user.id, state.ownerId);
    assert.equal(t.body.user.username, ownerName);
    state.appToken = t.body.access_token;

    const like = await api(url, 'POST', `/v1/media/${state.mediaId}/likes`, { token: state.appToken });
    assert.equal(like.status, 200, like.text);
    const likers = await api(url, 'GET', `/v1/media/${state.mediaId}/likes`, { token: state.ownToken });
    assert.ok(likers.body.data.some((u) => u.username === ownerName), likers.text);
    // what was not granted is refused
    const other = await signup(url, uniqueName('other'));
    const follow = await api(url, 'POST', `/v1/users/${other.user.id}/relationship`, { token: state.appToken, form: { action: 'follow' } });
    assert.equal(follow.status, 400, follow.text);
    assert.match(follow.body?.meta?.error_message || '', /scope=relationships/, follow.text);
    const apps = await api(url, 'GET', '/v1/developer/clients', { token: state.appToken });
    assert.equal(apps.status, 400, `an app's token cannot list apps: ${apps.text}`);
  });

  it('the logged-in browser goes straight to consent; Deny sends access_denied, Allow of a token its fragment', async () => {
    const { visitor } = people;
    const { page } = visitor;
    await page.goto(authorizeUrl({ type: 'token', scope: 'likes', state: 'deny me', slash: false }));
    await ready(page, 'consent');
    assert.equal(new URL(page.url()).pathname, '/oauth/authorize');
    assert.deepEqual(await page.locator(`${tid('consent-scopes')} li`).evaluateAll((els) => els.map((e) => e.dataset.scope)), ['basic', 'likes']);
    let from = receiver.hits.length;
    await page.click(tid('consent-deny'));
    let { hit } = await landedOnApp(visitor, from);
    assert.equal(hit.pathname, '/cb');
    assert.equal(hit.searchParams.get('error'), 'access_denied');
    assert.equal(hit.searchParams.get('error_reason'), 'user_denied');
    assert.ok(hit.searchParams.get('error_description'), `an error_description in ${hit}`);
    assert.equal(hit.searchParams.get('state'), 'deny me');
    assert.equal(hit.searchParams.get('access_token'), null);

    // the implicit flow's token comes in the fragment (the app's server never sees it)
    await page.goto(authorizeUrl({ type: 'token', scope: 'likes', state: 'implicit' }));
    await ready(page, 'consent');
    from = receiver.hits.length;
    await page.click(tid('consent-allow'));
    ({ hit } = await landedOnApp(visitor, from));
    assert.equal(hit.search, '');
    const fragment = new URLSearchParams(new URL(page.url()).hash.slice(1));
    state.implicitToken = fragment.get('access_token');
    assert.ok(state.implicitToken, `a token in ${page.url()}`);
    assert.equal(fragment.get('state'), 'implicit');
    const me = await api(url, 'GET', '/v1/users/self', { token: state.implicitToken });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.data.username, ownerName);
    assertClean(visitor);
  });

  it('someone new signs up from the consent page, comes back to it (and after logging out and in), and denies', async () => {
    const newcomer = await newPerson('newcomer', 'newcomer (phone)', PHONE);
    const { page } = newcomer;
    await page.goto(authorizeUrl({ scope: 'relationships', state: 'new' }));
    await ready(page, 'login');
    await page.click(tid('to-signup'));
    await ready(page, 'signup');
    await waitText(page, tid('auth-note'), /an app is asking/);
    const name = uniqueName('new');
    await page.fill(tid('signup-username'), name);
    await page.fill(tid('signup-password'), PASSWORD);
    await page.click(tid('signup-submit'));
    await ready(page, 'consent');
    await waitText(page, tid('consent-user'), new RegExp(`Logged in as ${name}\\b`));
    // "Not you? Log out", and logging in again comes back here too
    await page.click(tid('consent-logout'));
    await ready(page, 'login');
    await visible(page, tid('auth-note'));
    await page.fill(tid('login-username'), name);
    await page.fill(tid('login-password'), PASSWORD);
    await page.click(tid('login-submit'));
    await ready(page, 'consent');
    assert.equal(new URL(page.url()).searchParams.get('state'), 'new');
    await waitText(page, tid('consent-user'), new RegExp(`Logged in as ${name}\\b`));
    await waitText(page, `${tid('consent-scopes')} [data-scope="relationships"]`, /follow and unfollow people as you/i);
    const from = receiver.hits.length;
    await page.click(tid('consent-deny'));
    const { hit } = await landedOnApp(newcomer, from);
    assert.equal(hit.searchParams.get('error'), 'access_denied');
    assert.equal(hit.searchParams.get('state'), 'new');
    assertClean(newcomer);
  });

  it('revoking the app under "Apps you\'ve authorised" (on the phone) stops its tokens', async () => {
    const { visitor, owner } = people;
    const { page } = visitor; // the owner, on their phone
    await page.goto('/#/edit');
    await ready(page, 'edit');
    await page.click(tid('edit-developer-link'));
    await ready(page, 'developer');
    const row = page.locator(`${tid('authorized-app-row')}[data-client-id="${state.clientId}"]`);
    await row.waitFor({ timeout: WAIT });
    await waitText(page, `${tid('authorized-app-row')}[data-client-id="${state.clientId}"] .dev-app-name`, new RegExp(`^${appName}$`));
    assert.deepEqual(await row.locator(`${tid('authorized-app-scopes')} li`).evaluateAll((els) => els.map((e) => e.dataset.scope)),
      ['basic', 'likes', 'comments']);
    await shot(page, 'developer-phone');
    await row.locator(tid('authorized-app-revoke')).click();
    await row.locator(tid('authorized-app-revoked')).waitFor({ timeout: WAIT });
    for (const token of [state.appToken, state.implicitToken]) {
      const r = await api(url, 'POST', `/v1/media/${state.mediaId}/likes`, { token });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body?.meta?.error_type, 'OAuthAccessTokenException', r.text);
    }
    // gone from the list; the owner's own log-in still works
    await go(page, `#/developer?t=${Date.now()}`, 'developer');
    await visible(page, tid('authorized-apps-empty'));
    const me = await api(url, 'GET', '/v1/users/self', { token: state.ownToken });
    assert.equal(me.status, 200, me.text);
    await shot(page, 'developer-revoked-phone');
    assertClean(visitor);
    // the owner's other browser lists it no more either
    await go(owner.page, `#/developer?t=${Date.now()}`, 'developer');
    await visible(owner.page, tid('authorized-apps-empty'));
    assertClean(owner);
  });

  it('"Edit" changes an app\'s name, redirect URIs and signed requests; a bad redirect URI shows the server\'s error and changes nothing', async () => {
    const { owner } = people;
    const { page } = owner;
    await go(page, `#/developer?t=${Date.now()}`, 'developer');
    const rowSel = `${tid('dev-app-row')}[data-client-id="${state.clientId}"]`;
    const row = page.locator(rowSel);
    const uris = [state.redirect, 'https://printshop.example/callback'];
    const listedApp = async () => (await page.evaluate(async () => (await (await fetch('/v1/developer/clients')).json()).data))[0];

    // the form comes filled with what the app has; Cancel leaves it so
    await row.locator(tid('dev-app-edit')).click();
    const form = row.locator(tid('dev-edit-form'));
    await form.waitFor({ timeout: WAIT });
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'dev-edit-name', 'focus on the name');
    assert.equal(await form.locator(tid('dev-edit-name')).inputValue(), appName);
    assert.equal(await form.locator(tid('dev-edit-description')).inputValue(), 'Prints your photos on paper.');
    assert.equal(await form.locator(tid('dev-edit-website')).inputValue(), 'https://printshop.example');
    assert.equal(await form.locator(tid('dev-edit-redirect')).inputValue(), uris.join('\n'));
    assert.equal(await form.locator(tid('dev-edit-signed')).isChecked(), false);
    assert.equal(await row.locator(tid('dev-app-reset')).isVisible(), false, 'the other buttons wait');
    await shot(page, 'developer-edit');
    await form.locator(tid('dev-edit-name')).fill('Not saved');
    await form.locator(tid('dev-edit-cancel')).click();
    await form.waitFor({ state: 'detached', timeout: WAIT });
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'dev-app-edit', 'focus back on Edit');
    assert.equal(await text(page, `${rowSel} .dev-app-name`), appName);

    // a new name, a third redirect URI, signed requests on
    state.appName = `${appName} Pro`;
    const more = [...uris, 'https://printshop.example/v2/callback'];
    await row.locator(tid('dev-app-edit')).click();
    await form.waitFor({ timeout: WAIT });
    await form.locator(tid('dev-edit-name')).fill(state.appName);
    await form.locator(tid('dev-edit-redirect')).fill(`${uris.join('\n')}\n  ${more[2]}  \n`);
    await form.locator('label.switch').click();
    assert.equal(await form.locator(tid('dev-edit-signed')).isChecked(), true);
    await form.locator(tid('dev-edit-save')).click();
    await form.waitFor({ state: 'detached', timeout: WAIT });
    await waitText(page, `${rowSel} .dev-app-name`, new RegExp(`^${state.appName}$`));
    assert.deepEqual(await row.locator(`${tid('dev-app-redirects')} li`).allTextContents(), more);
    assert.equal(await text(page, `${rowSel} ${tid('dev-app-signed-state')}`), 'Required');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'dev-app-edit', 'focus back on Edit');
    // kept: the list after a reload, and the API's
    await go(page, `#/developer?t=${Date.now()}`, 'developer');
    await waitText(page, `${rowSel} .dev-app-name`, new RegExp(`^${state.appName}$`));
    assert.deepEqual(await row.locator(`${tid('dev-app-redirects')} li`).allTextContents(), more);
    assert.equal(await text(page, `${rowSel} ${tid('dev-app-signed-state')}`), 'Required');
    let listed = await listedApp();
    assert.equal(listed.name, state.appName);
    assert.deepEqual(listed.redirect_uris, more);
    assert.equal(listed.enforce_signed_requests, true);
    assert.equal(listed.description, 'Prints your photos on paper.', 'the fields not changed stay');
    assert.equal(listed.website, 'https://printshop.example');

    // javascript:x is the server's to refuse: its words are shown, nothing changes
    const direct = await api(url, 'POST', `/v1/developer/clients/${state.clientId}`, { token: state.ownToken, form: { redirect_uri: 'javascript:x' } });
    assert.equal(direct.status, 400, direct.text);
    assert.equal(direct.body?.meta?.error_type, 'APIInvalidParametersError', direct.text);
    const words = direct.body.meta.error_message;
    assert.ok(words, direct.text);
    await row.locator(tid('dev-app-edit')).click();
    await form.waitFor({ timeout: WAIT });
    await form.locator(tid('dev-edit-name')).fill('Hacked');
    await form.locator(tid('dev-edit-redirect')).fill('javascript:x');
    await expectingHttpErrors(owner, async () => {
      await form.locator(tid('dev-edit-save')).click();
      await visible(page, `${rowSel} ${tid('dev-edit-error')}`);
    });
    const shown = await text(page, `${rowSel} ${tid('dev-edit-error')}`);
    const wanted = `${words.charAt(0).toUpperCase()}${words.slice(1)}`;
    assert.ok(shown === wanted || shown === `${wanted}.`, `the server's words (${words}) are shown: ${shown}`);
    assert.equal(await page.getAttribute(`${rowSel} ${tid('dev-edit-error')}`, 'role'), 'alert');
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'dev-edit-redirect', 'focus on the field at fault');
    assert.equal(await form.locator(tid('dev-edit-redirect')).inputValue(), 'javascript:x', 'what was typed stays to be fixed');
    await shot(page, 'developer-edit-error');
    await form.locator(tid('dev-edit-cancel')).click();
    await form.waitFor({ state: 'detached', timeout: WAIT });
    assert.equal(await text(page, `${rowSel} .dev-app-name`), state.appName);
    assert.deepEqual(await row.locator(`${tid('dev-app-redirects')} li`).allTextContents(), more);
    listed = await listedApp();
    assert.equal(listed.name, state.appName, 'a refused edit changes nothing');
    assert.deepEqual(listed.redirect_uris, more);
    assertClean(owner);
  });

  it('"Real-time deliveries" shows an empty log, then the POST a tag subscription got for a new photo', async () => {
    const { owner, visitor } = people;
    const { page } = owner;
    const rowSel = `${tid('dev-app-row')}[data-client-id="${state.clientId}"]`;
    const row = page.locator(rowSel);
    const toggle = row.locator(tid('dev-deliveries-toggle'));
    const panel = row.locator(tid('dev-deliveries'));
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await panel.isVisible(), false);
    await toggle.click();
    await panel.waitFor({ timeout: WAIT });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    assert.equal(await toggle.getAttribute('aria-controls'), await panel.getAttribute('id'));
    await waitText(page, `${rowSel} ${tid('dev-deliveries-empty')}`, /^No real-time updates sent yet\.$/);
    assert.equal(await row.locator(tid('dev-delivery-row')).count(), 0);
    await shot(page, 'developer-deliveries-empty');
    // closed and opened again
    await toggle.click();
    await panel.waitFor({ state: 'hidden', timeout: WAIT });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    await toggle.click();
    await visible(page, `${rowSel} ${tid('dev-deliveries-empty')}`);

    // a tag subscription: the server checks the callback (the receiver echoes the challenge)
    const tag = uniqueName('rt').replace(/_/g, '');
    const callback = `${receiver.url}/hook`;
    const from = receiver.hits.length;
    const sub = await api(url, 'POST', '/v1/subscriptions', {
      form: {
        client_id: state.clientId, client_secret: state.secret, object: 'tag', object_id: tag, aspect: 'media', verify_token: 'x', callback_url: callback,
      },
    });
    assert.equal(sub.status, 200, sub.text);
    const check = receiver.hits.slice(from).find((x) => x.method === 'GET' && x.url.startsWith('/hook?'));
    assert.ok(check, `the callback was checked: ${JSON.stringify(receiver.hits.slice(from))}`);
    assert.equal(new URL(check.url, receiver.url).searchParams.get('hub.mode'), 'subscribe');
    await sleep(1200); // every server has heard of the subscription

    // a photo of that tag, by anyone: one POST, delivered
    const up = await uploadPhoto(url, { token: state.ownToken, photo: 'landscape.jpg', fields: { caption: `#${tag}` } });
    assert.equal(up.status, 200, up.text);
    const refresh = row.locator(tid('dev-deliveries-refresh'));
    const delivered = row.locator(`${tid('dev-delivery-row')}[data-outcome="delivered"]`);
    await until(async () => {
      if (await delivered.count()) return true;
      await refresh.click({ timeout: 2000 });
      await page.waitForFunction((sel) => !document.querySelector(sel)?.disabled, `${rowSel} ${tid('dev-deliveries-refresh')}`, { timeout: 2000 });
      return (await delivered.count()) > 0;
    }, 'a "delivered" row in the deliveries view', 15_000);
    const post = receiver.hits.slice(from).find((x) => x.method === 'POST' && x.url === '/hook');
    assert.ok(post, 'the receiver got the POST');
    const items = JSON.parse(post.body);
    assert.equal(items[0].object_id, tag);
    assert.equal(items[0].data.media_id, up.body.data.id);

    assert.equal(await row.locator(tid('dev-deliveries-empty')).count(), 0, 'no empty state beside the log');
    const headers = await row.locator(`${tid('dev-deliveries-table')} th`).allTextContents();
    assert.deepEqual(headers, ['Time', 'Outcome', 'Callback', 'HTTP status', 'Updates', 'Attempt', 'Error']);
    const cells = (await delivered.first().locator('td').allTextContents()).map((t) => t.trim());
    assert.match(cells[0], /\d{1,2}:\d\d:\d\d/, `a time: ${cells[0]}`);
    assert.ok(await delivered.first().locator('td time[datetime]').count(), 'a <time datetime>');
    assert.match(cells[1], /Delivered$/);
    assert.equal(cells[2], callback);
    assert.equal(cells[3], '200');
    assert.equal(cells[4], String(items.length));
    assert.equal(cells[5], '1');
    assert.match(cells[6], /^—\s*none$/, 'no error (a dash; "none" to a screen reader)');
    const log = await api(url, 'GET', `/v1/developer/clients/${state.clientId}/deliveries`, { token: state.ownToken });
    assert.equal(log.status, 200, log.text);
    assert.equal(await row.locator(tid('dev-delivery-row')).count(), log.body.data.length, 'a row for each delivery');
    await shot(page, 'developer-deliveries');

    // the other outcomes, and no answer at all (this log is made up here)
    const logUrl = new RegExp(`/v1/developer/clients/${state.clientId}/deliveries$`);
    const now = Math.floor(Date.now() / 1000);
    const made = [
      { id: '9', callback_url: `${receiver.url}/gone`, outcome: 'dropped', http_status: 0, error: 'the subscription was deleted', updates: 2, attempt: 1, time: String(now) },
      { id: '8', callback_url: `${receiver.url}/down`, outcome: 'failed', http_status: 0, error: 'connection refused', updates: 3, attempt: 5, time: String(now - 60) },
      { id: '7', callback_url: `${receiver.url}/slow`, outcome: 'retrying', http_status: 503, error: 'HTTP 503', updates: 1, attempt: 2, time: String(now - 120) },
    ];
    await page.route(logUrl, (route) => route.fulfill({
      status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ meta: { code: 200 }, data: made }),
    }));
    try {
      await refresh.click();
      await until(async () => (await row.locator(tid('dev-delivery-row')).count()) === 3, 'the made-up log');
      assert.deepEqual(await row.locator(tid('dev-delivery-row')).evaluateAll((els) => els.map((e) => e.dataset.outcome)), ['dropped', 'failed', 'retrying']);
      const failed = (await row.locator(`${tid('dev-delivery-row')}[data-outcome="failed"] td`).allTextContents()).map((t) => t.trim());
      assert.deepEqual(failed.slice(1), ['Failed', `${receiver.url}/down`, 'No answer', '3', '5', 'connection refused']);
      assert.equal(await row.locator('.dlv-scroll').evaluate((el) => el.scrollWidth <= el.clientWidth), true,
        'on a desktop the whole table shows, without scrolling sideways');
      await audit(page, 'developer deliveries, every outcome (light)');
      await page.emulateMedia({ colorScheme: 'dark' });
      try {
        await audit(page, 'developer deliveries, every outcome (dark)');
      } finally {
        await page.emulateMedia({ colorScheme: 'light' });
      }
      await screenshot(page, 'developer-deliveries-outcomes');
    } finally {
      await page.unroute(logUrl);
    }

    // on the phone the table scrolls in its own (focusable) region, not the page
    const phone = visitor.page;
    await go(phone, `#/developer?t=${Date.now()}`, 'developer');
    const phoneRow = phone.locator(rowSel);
    await phoneRow.locator(tid('dev-deliveries-toggle')).click();
    await phoneRow.locator(`${tid('dev-delivery-row')}[data-outcome="delivered"]`).first().waitFor({ timeout: WAIT });
    assert.equal(await phoneRow.locator('.dlv-scroll').getAttribute('tabindex'), '0');
    await shot(phone, 'developer-deliveries-phone');
    assertClean(visitor);
    assertClean(owner);
  });

  it('deleting the app asks first; then its authorize link is refused', async () => {
    const { owner } = people;
    const { page } = owner;
    const row = page.locator(`${tid('dev-app-row')}[data-client-id="${state.clientId}"]`);
    await row.locator(tid('dev-app-delete')).click();
    await row.locator(tid('dev-app-delete-confirm')).click();
    await row.waitFor({ state: 'detached', timeout: WAIT });
    await visible(page, tid('dev-apps-empty'));
    const listed = await page.evaluate(async () => (await (await fetch('/v1/developer/clients')).json()).data);
    assert.deepEqual(listed, []);
    const res = await fetch(authorizeUrl(), { redirect: 'manual' });
    assert.equal(res.status, 400);
    assertClean(owner);
  });
});
