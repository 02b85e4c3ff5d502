// Sharing to Mastodon-API servers and push notifications in the web client,
// end to end in Debian's chromium (playwright-core), against a local
// stand-in of a Mastodon server (verify_credentials, POST /api/v2/media,
// POST /api/v1/statuses):
// - a person signs up, opens #/settings from the profile and connects the
//   stand-in's account: a wrong token first shows the server's words;
// - the upload page offers "Also post to alice@host"; the photo shared
//   with it ticked reaches the stand-in (the photo, then the caption), and
//   the photo page shows its owner "Shared to alice@host: Posted" with the
//   remote post's link; the account is disconnected again;
// - the kinds of notifications: one turned off stays off after a reload
//   (and on the server); "Turn on notifications in this browser" (the
//   permission granted) registers /sw.js and either subscribes or says
//   clearly why this browser could not (headless chromium has no push
//   service), never throwing; the worker shows a message handed to it (over
//   DevTools), one per kind and photo; a device listed is removed with its
//   button.
// The settings page and the upload page with its share checkbox are checked
// with axe-core (WCAG 2.1 A and AA) in the light and the dark theme, and
// every page is watched for console errors, page errors, CSP violations and
// dialogs. Screenshots go to $PICOGRAM_TEST_OUT/web/ (default
// build/test-output/web/).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { startServer, photosDir, uniqueName, login, api, external } from '../api/lib.mjs';
import {
  OUT, PASSWORD, WAIT, PHONE, sleep, until, tid, text, waitText, visible, ready, goAfresh as go, signUp, audit,
  screenshots, launchChromium, newPerson as openPerson, expectingHttpErrors, assertClean, listenLocal,
} from './harness.mjs';

// every wait is bounded by WAIT, or by the longer waits named here
const SHARE_WAIT = 30_000; // a share is a job: the photo, then the status
const PUSH_WAIT = 25_000; // the settings page gives the browser's push machinery 10 s per step
const GOOD = 'GOOD';

let srv;
let url;
let browser;
let masto; // the stand-in Mastodon server
const people = {};
const state = {};

// go() opens the page afresh: reloaded if the browser is there already.
// shot(): fitsWidth(), audit() and screenshots (share-push-NAME.png), light
// and dark, once the images are in
const { shot, screenshot } = screenshots({ prefix: 'share-push-', imagesFirst: true, checkWidth: true });

/**
 * A browser context of its own, watched for problems. Once the person's
 * allowPushIncognito is set, chromium's own words when
 * pushManager.subscribe() is called in a context without a profile on disk
 * (as playwright's are) are let through: the page then gets an AbortError
 * it shows; this line is the browser's, not the page's.
 */
async function newPerson(key, label, options) {
  const u = await openPerson(browser, url, key, label, options, {
    ignoreConsole: (m, p) => p.allowPushIncognito && m.type() === 'error' && /does not support the Push API in incognito mode/.test(m.text()),
  });
  people[key] = u;
  return u;
}

/** A stand-in of the three endpoints of the Mastodon API picogram calls; records what it got. */
async function startMastodon() {
  const st = { media: [], statuses: [], refused: 0 };
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const json = (code, v) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (req.headers.authorization !== `Bearer ${GOOD}`) {
      st.refused++;
      return json(401, { error: 'The access token is invalid' });
    }
    const p = new URL(req.url, 'http://x').pathname;
    if (req.method === 'GET' && p === '/api/v1/accounts/verify_credentials') return json(200, { id: '7', username: 'alice', acct: 'alice' });
    if (req.method === 'POST' && p === '/api/v2/media') {
      try {
        const form = await new Response(body, { headers: { 'content-type': req.headers['content-type'] } }).formData();
        const file = form.get('file');
        st.media.push({ type: file.type, size: file.size });
      } catch (e) {
        return json(422, { error: `not a multipart upload: ${e.message}` });
      }
      return json(200, { id: 'm1', type: 'image' });
    }
    if (req.method === 'POST' && p === '/api/v1/statuses') {
      const f = new URLSearchParams(body.toString('utf8'));
      st.statuses.push({ status: f.get('status'), media: f.getAll('media_ids[]'), key: req.headers['idempotency-key'] });
      return json(200, { id: '100', url: 'https://remote.example/@alice/100' });
    }
    return json(404, { error: 'Record not found' });
  });
  const { url: at, host, close } = await listenLocal(server);
  return Object.assign(st, { url: at, host, close });
}

/** The API as this person, with a token of the password grant. */
async function asPerson(u, method, p, opts = {}) {
  if (!u.token) {
    const r = await login(url, u.name, PASSWORD);
    assert.equal(r.status, 200, r.text);
    u.token = r.body.access_token;
  }
  const r = await api(url, method, p, { ...opts, token: u.token });
  assert.equal(r.status, 200, `${method} ${p}: ${r.status} ${r.text}`);
  return r.body.data;
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');

before(async () => {
  await mkdir(OUT, { recursive: true });
  masto = await startMastodon();
  // shares may go to the stand-in on loopback, over http
  srv = await startServer(['--access-log', 'off', '--webhook-allow-private', 'on']);
  url = srv.url;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => {});
  await srv?.stop();
  await masto?.close();
});

describe('sharing and push notifications in the web client', { timeout: 180_000, skip: external && 'needs its own server, allowed to reach loopback' }, () => {
  it('a person signs up and connects a Mastodon account on #/settings (a wrong token first shows the server\'s words)', async () => {
    const a = await newPerson('a', 'A (phone)', PHONE);
    a.name = uniqueName('sp');
    const { page } = a;
    a.id = await signUp(page, a.name);

    // the profile leads to the settings, and so does the edit page
    await page.click(tid('nav-profile'));
    await ready(page, 'profile');
    await page.click(tid('edit-profile'));
    await ready(page, 'edit');
    await visible(page, tid('edit-settings-link'));
    await go(page, `#/u/${a.id}`, 'profile');
    await page.click(tid('settings-link'));
    await ready(page, 'settings');
    await visible(page, tid('share-accounts'));
    await visible(page, tid('notif-settings'));
    assert.equal(await page.locator(tid('share-account-row')).count(), 0);
    assert.match(await text(page, tid('share-connect-form')), /Create an access token with write scope in your server's Development settings/);
    await shot(page, 'settings-empty');

    // a token the server refuses: its words, nothing connected
    await page.fill(tid('share-server'), masto.url);
    await page.fill(tid('share-token'), 'wrong-token');
    const refusedBefore = masto.refused;
    await expectingHttpErrors(a, async () => {
      await page.click(tid('share-connect-submit'));
      await visible(page, tid('share-connect-error'));
    });
    assert.match(await text(page, tid('share-connect-error')), /refused the access token \(HTTP 401\)/);
    assert.ok(masto.refused > refusedBefore, 'the server was asked');
    assert.equal(await page.locator(tid('share-account-row')).count(), 0);
    await audit(page, 'settings with an error (light)');

    // the right one: the account is listed as alice@host, the form is empty again
    await page.fill(tid('share-token'), GOOD);
    await page.click(tid('share-connect-submit'));
    await waitText(page, tid('share-account-row'), new RegExp(`alice@${masto.host.replace(/\./g, '\\.')}`));
    assert.ok(await page.locator(tid('share-connect-error')).isHidden());
    assert.equal(await page.inputValue(tid('share-token')), '');
    assert.equal(await page.inputValue(tid('share-server')), '');
    const accounts = await asPerson(a, 'GET', '/v1/users/self/shares');
    assert.equal(accounts.length, 1);
    assert.equal(accounts[0].acct, 'alice');
    assert.equal(accounts[0].server_url, masto.url);
    state.accountId = accounts[0].id;
    assert.equal(await page.getAttribute(tid('share-account-row'), 'data-account-id'), state.accountId);
    await shot(page, 'settings-account');
    assertClean(a);
  });

  it('the photo shared with "Also post to" ticked reaches the server, and its page says so with the post\'s link', async () => {
    const { a } = people;
    const { page } = a;
    await go(page, '#/upload', 'upload');
    await page.setInputFiles(tid('file-input'), path.join(photosDir, 'landscape.jpg'));
    await visible(page, tid('preview'));
    const box = tid(`upload-share-${state.accountId}`);
    await visible(page, box);
    assert.equal(await page.isChecked(box), false, 'nothing goes elsewhere unless asked');
    const label = await text(page, `label[for="upload-share-${state.accountId}"]`);
    assert.equal(label.trim(), `Also post to alice@${masto.host}`);
    const caption = `Harbour at dusk ${a.name.slice(-6)}`;
    await page.fill(tid('upload-caption'), caption);
    await page.check(box);
    await shot(page, 'upload-share');

    const statusesBefore = masto.statuses.length;
    await page.click(tid('upload-submit'));
    await page.waitForSelector(`body[data-route="photo"] #view[data-ready="true"]`, { timeout: WAIT + 2000 });
    state.mediaId = decodeURIComponent(new URL(page.url()).hash.replace('#/m/', ''));
    assert.match(state.mediaId, /^\d+(_\d+)?$/);

    // pending, then posted: the page reads it again by itself (bounded)
    await visible(page, tid('photo-shares'));
    await page.waitForSelector(`${tid('photo-share-row')}[data-status="posted"]`, { timeout: SHARE_WAIT });
    const row = await text(page, tid('photo-share-row'));
    assert.match(row, new RegExp(`Shared to alice@${masto.host.replace(/\./g, '\\.')}`));
    assert.match(row, /Posted/);
    assert.equal(await page.getAttribute(`${tid('photo-share-row')} a`, 'href'), 'https://remote.example/@alice/100');
    assert.equal(masto.statuses.length, statusesBefore + 1);
    assert.equal(masto.statuses.at(-1).status, caption);
    assert.deepEqual(masto.statuses.at(-1).media, ['m1']);
    assert.equal(masto.media.at(-1).type, 'image/jpeg');
    const shares = await asPerson(a, 'GET', `/v1/media/${state.mediaId}/shares`);
    assert.equal(shares[0].status, 'posted');
    assert.equal(shares[0].account_id, state.accountId);
    await audit(page, 'photo page with its shares (light)');
    await screenshot(page, 'photo-shares');
    assertClean(a);
  });

  it('somebody else sees the photo without where it went', async () => {
    const b = await newPerson('b', 'B (phone)', PHONE);
    b.name = uniqueName('sq');
    const r = await api(url, 'POST', '/v1/accounts', { form: { username: b.name, password: PASSWORD } });
    assert.equal(r.status, 200, r.text);
    await b.page.goto('/');
    await visible(b.page, tid('login-form'));
    await b.page.fill(tid('login-username'), b.name);
    await b.page.fill(tid('login-password'), PASSWORD);
    await b.page.click(tid('login-submit'));
    await ready(b.page, 'feed');
    await go(b.page, `#/m/${state.mediaId}`, 'photo');
    await visible(b.page, tid('media-card'));
    await sleep(300);
    assert.equal(await b.page.locator(tid('photo-shares')).count(), 0);
    assertClean(b);
    await b.context.close();
  });

  it('the account is disconnected, and the upload page offers it no more', async () => {
    const { a } = people;
    const { page } = a;
    await go(page, '#/settings', 'settings');
    await visible(page, tid('share-account-row'));
    await page.click(tid('share-disconnect'));
    await until(async () => (await page.locator(tid('share-account-row')).count()) === 0, 'the row to go');
    await visible(page, tid('share-accounts-empty'));
    assert.deepEqual(await asPerson(a, 'GET', '/v1/users/self/shares'), []);
    await go(page, '#/upload', 'upload');
    await page.setInputFiles(tid('file-input'), path.join(photosDir, 'landscape.jpg'));
    await visible(page, tid('preview'));
    assert.equal(await page.locator(`[data-testid^="upload-share-"]`).count(), 0);
    assert.ok(await page.locator(tid('upload-shares')).isHidden());
    assertClean(a);
  });

  it('a kind of notification turned off stays off after a reload, and on the server', async () => {
    const { a } = people;
    const { page } = a;
    await go(page, '#/settings', 'settings');
    for (const k of ['likes', 'comments', 'follows', 'mentions']) assert.equal(await page.isChecked(tid(`notif-kind-${k}`)), true, `${k} on at first`);
    await page.uncheck(tid('notif-kind-likes'));
    await until(async () => (await asPerson(a, 'GET', '/v1/users/self/notifications')).likes === false, 'likes off on the server');
    await page.reload();
    await ready(page, 'settings');
    assert.equal(await page.isChecked(tid('notif-kind-likes')), false, 'likes stays off');
    for (const k of ['comments', 'follows', 'mentions']) assert.equal(await page.isChecked(tid(`notif-kind-${k}`)), true, `${k} still on`);
    assert.deepEqual(await asPerson(a, 'GET', '/v1/users/self/notifications'), { likes: false, comments: true, follows: true, mentions: true });
    // and on again
    await page.check(tid('notif-kind-likes'));
    await until(async () => (await asPerson(a, 'GET', '/v1/users/self/notifications')).likes === true, 'likes on again');
    assertClean(a);
  });

  it('"Turn on notifications" registers /sw.js and subscribes, or says clearly why this browser cannot', async () => {
    const { a } = people;
    const { page, context } = a;
    const sw = await fetch(`${url}/sw.js`);
    assert.equal(sw.status, 200);
    assert.match(sw.headers.get('content-type') || '', /javascript/);
    assert.match(await sw.text(), /addEventListener\('push'/);

    await context.grantPermissions(['notifications'], { origin: url });
    await go(page, '#/settings', 'settings');
    await visible(page, tid('notif-enable'));
    assert.match(await text(page, tid('notif-status')), /off in this browser/);
    const devicesBefore = await asPerson(a, 'GET', '/v1/users/self/devices');
    a.allowPushIncognito = true;
    await page.click(tid('notif-enable'));
    const outcome = await until(async () => {
      const st = await page.getAttribute(tid('notif-status'), 'data-state');
      return st === 'on' || st === 'error' ? st : false;
    }, 'the button to say how it went', PUSH_WAIT);
    const said = await text(page, tid('notif-status'));
    if (outcome === 'on') {
      assert.match(said, /Notifications are on in this browser/);
      await visible(page, tid('notif-disable'));
      const devices = await asPerson(a, 'GET', '/v1/users/self/devices');
      assert.equal(devices.length, devicesBefore.length + 1);
      assert.equal(devices.at(-1).platform, 'webpush');
      assert.match(await text(page, tid('device-list')), /this browser/);
      await page.click(tid('notif-disable'));
      await waitText(page, tid('notif-status'), /off in this browser/);
      assert.equal((await asPerson(a, 'GET', '/v1/users/self/devices')).length, devicesBefore.length);
    } else {
      // headless chromium has no push service: the page says so, and carries on
      assert.match(said, /^This browser could not subscribe to push messages: \S.+\.$/);
      assert.ok(await page.locator(tid('notif-enable')).isVisible(), 'it can be tried again');
      assert.ok(await page.locator(tid('notif-disable')).isHidden());
      assert.deepEqual(await asPerson(a, 'GET', '/v1/users/self/devices'), devicesBefore);
    }
    // either way, the service worker is registered at / from /sw.js
    const reg = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration('/');
      if (!r) return null;
      const w = r.active || r.waiting || r.installing;
      return { scope: r.scope, script: w ? w.scriptURL : null };
    });
    assert.ok(reg, 'a service worker registration');
    assert.equal(reg.scope, `${url}/`);
    assert.equal(reg.script, `${url}/sw.js`);
    console.log(`# push in this browser: ${outcome}: ${said}`);
    await audit(page, `settings after turning on (${outcome}) (light)`);

    // the worker shows a message as the browser hands it over (DevTools'
    // "Push" button: no push service needed), one per kind and photo
    const cdp = await context.newCDPSession(page);
    try {
      const regs = [];
      cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => regs.push(...e.registrations));
      await cdp.send('ServiceWorker.enable');
      const id = await until(() => regs.find((r) => !r.isDeleted && r.scopeURL === `${url}/`)?.registrationId, 'the registration over CDP');
      const push = (msg) => cdp.send('ServiceWorker.deliverPushMessage', { origin: url, registrationId: id, data: JSON.stringify(msg) });
      await push({ title: 'bo liked your photo', body: 'Harbour at dusk', kind: 'likes', media_id: '123', url: '/#/m/123' });
      await push({ title: 'bo and 1 other liked your photo', body: 'Harbour at dusk', kind: 'likes', media_id: '123', url: '/#/m/123' });
      await push({ title: 'cy commented', body: 'Lovely', kind: 'comments', media_id: '123', url: '/#/m/123' });
      const shown = await until(async () => {
        const n = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications())
          .map((x) => ({ title: x.title, body: x.body, tag: x.tag, url: x.data && x.data.url })));
        return n.length === 2 && n.some((x) => x.title.startsWith('bo and')) ? n : false;
      }, 'two notifications (the second like replaced the first)');
      const byTag = Object.fromEntries(shown.map((x) => [x.tag, x]));
      assert.deepEqual(byTag.likes123, { title: 'bo and 1 other liked your photo', body: 'Harbour at dusk', tag: 'likes123', url: `${url}/#/m/123` });
      assert.deepEqual(byTag.comments123, { title: 'cy commented', body: 'Lovely', tag: 'comments123', url: `${url}/#/m/123` });
      await page.evaluate(async () => { for (const n of await (await navigator.serviceWorker.ready).getNotifications()) n.close(); });
    } finally {
      await cdp.detach().catch(() => {});
    }
    assertClean(a);
  });

  it('a device is listed with its kind and push service, and removed with its button', async () => {
    const { a } = people;
    const { page } = a;
    const ecdh = crypto.createECDH('prime256v1');
    const d = await asPerson(a, 'POST', '/v1/users/self/devices', {
      form: { platform: 'webpush', endpoint: `${masto.url}/push/${crypto.randomBytes(8).toString('hex')}`, p256dh: b64u(ecdh.generateKeys()), auth: b64u(crypto.randomBytes(16)) },
    });
    await go(page, '#/settings', 'settings');
    const row = page.locator(`${tid('device-row')}[data-device-id="${d.id}"]`);
    await row.waitFor({ state: 'visible', timeout: WAIT });
    const t = await row.textContent();
    assert.match(t, /Web browser/);
    assert.ok(t.includes(masto.host), `the hint names the push service: ${t}`);
    await shot(page, 'settings-device');
    await row.locator(tid('device-remove')).click();
    await row.waitFor({ state: 'detached', timeout: WAIT });
    assert.ok(!(await asPerson(a, 'GET', '/v1/users/self/devices')).some((x) => x.id === d.id), 'gone from the server');
    assertClean(a);
  });
});
