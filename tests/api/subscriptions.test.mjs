// Real-time subscriptions as v1 had them (issue 14), with a real receiver
// on loopback (the server runs with --webhook-allow-private on):
// - POST /v1/subscriptions verifies the callback with hub.challenge; GET
//   lists; DELETE by id or object; bad input is APISubscriptionError and
//   makes nothing;
// - a new photo's updates reach tag, location, geography and user
//   subscriptions, in batches, signed with X-Hub-Signature (HMAC-SHA1 of
//   the raw body, keyed with the client secret);
// - a private account's photos and a user subscription reach only apps
//   the owner authorised;
// - a failing callback is retried, then given up, and the app's owner
//   sees every outcome at /v1/developer/clients/{id}/deliveries;
// - SSRF: without webhook_allow_private, callbacks on loopback, private,
//   link-local and metadata addresses are refused before any request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import {
  startServer, api, signup, uniqueName, assertV1Error, assertOk, show, external, uploadPhoto,
  until,
} from './lib.mjs';

const XRW = { 'x-requested-with': 'picogram' };
// through nginx to the cluster's servers, which tests/run.sh starts with
// webhook_allow_private on (and a 700 ms batch window) for these tests
const clusterHooks = external && process.env.PICOGRAM_TEST_WEBHOOKS === '1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A callback receiver: answers challenges (unless told otherwise), records every request. */
async function receiver() {
  const rx = { gets: [], posts: [], failNext: 0, always500: false, challenge: 'echo' };
  rx.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url, 'http://x');
      if (req.method === 'GET') {
        rx.gets.push({ path: u.pathname, query: Object.fromEntries(u.searchParams) });
        if (rx.challenge === 'redirect') {
          res.writeHead(302, { location: `/echo?c=${u.searchParams.get('hub.challenge')}` });
          res.end();
        } else if (rx.challenge === 'wrong') {
          res.end('not the challenge');
        } else if (rx.challenge === '500') {
          res.writeHead(500);
          res.end();
        } else {
          res.end(u.searchParams.get('hub.challenge') ?? '');
        }
        return;
      }
      const raw = Buffer.concat(chunks);
      rx.posts.push({ path: u.pathname, headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')), at: Date.now() });
      if (rx.always500 || rx.failNext > 0) {
        rx.failNext = Math.max(0, rx.failNext - 1);
        res.writeHead(500);
        res.end('no');
        return;
      }
      res.end('ok');
    });
  });
  await new Promise((r) => rx.server.listen(0, '127.0.0.1', r));
  rx.url = `http://127.0.0.1:${rx.server.address().port}`;
  rx.items = () => rx.posts.filter((p) => p.headers['x-test-ok'] !== 'no').flatMap((p) => p.body);
  rx.close = () => new Promise((r) => rx.server.close(r));
  return rx;
}


function makeHelpers(getUrl) {
  const url = () => getUrl();
  async function person(prefix) {
    const name = uniqueName(prefix);
    const u = await signup(url(), name);
    const r = await fetch(`${url()}/web/session`, {
      method: 'POST', headers: { ...XRW, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: name, password: 'password123' }).toString(),
    });
    const cookie = /pg_session=([^;]*)/.exec(r.headers.get('set-cookie'))[1];
    const csrf = (await r.json()).data.csrf_token;
    return { name, token: u.token, id: u.user.id, cookie, csrf };
  }
  async function register(owner) {
    return assertOk(await api(url(), 'POST', '/v1/developer/clients', {
      token: owner.token, form: { name: 'Hooks App', redirect_uri: 'http://127.0.0.1:9/cb' },
    }));
  }
  async function authorizeApp(p, app) {
    const r = await fetch(`${url()}/oauth/authorize`, {
      method: 'POST', redirect: 'manual',
      headers: { cookie: `pg_session=${p.cookie}`, 'x-csrf-token': p.csrf, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: app.client_id, redirect_uri: 'http://127.0.0.1:9/cb', response_type: 'token', decision: 'allow' }).toString(),
    });
    assert.equal(r.status, 302);
    return new URLSearchParams(new URL(r.headers.get('location')).hash.slice(1)).get('access_token');
  }
  const subscribe = (app, form) => api(url(), 'POST', '/v1/subscriptions', {
    form: { client_id: app.client_id, client_secret: app.client_secret, aspect: 'media', verify_token: 'vt-1', ...form },
  });
  const list = (app) => api(url(), 'GET', '/v1/subscriptions', { query: { client_id: app.client_id, client_secret: app.client_secret } });
  const unsubscribe = (app, form) => api(url(), 'DELETE', '/v1/subscriptions', {
    query: { client_id: app.client_id, client_secret: app.client_secret, ...form },
  });
  async function post(who, fields = {}) {
    return assertOk(await uploadPhoto(url(), { token: who.token, photo: 'landscape.jpg', fields }));
  }
  const deliveries = async (dev, app) => assertOk(await api(url(), 'GET', `/v1/developer/clients/${app.client_id}/deliveries`, { token: dev.token }));
  return { person, register, authorizeApp, subscribe, list, unsubscribe, post, deliveries };
}

describe('real-time subscriptions', { skip: external && !clusterHooks && 'the servers must reach a receiver on loopback (webhook_allow_private)' }, () => {
  let srv;
  let rx;
  const h = makeHelpers(() => srv.url);
  before(async () => {
    srv = await startServer(['--access-log', 'off', '--webhook-allow-private', 'on', '--webhook-batch-ms', '700']);
    rx = await receiver();
  });
  after(async () => { await srv?.stop(); await rx?.close(); });

  it('verifies the callback with a challenge, lists and deletes subscriptions', async () => {
    const dev = await h.person('dev');
    const app = await h.register(dev);
    const tag = uniqueName('t').replace(/_/g, '');
    rx.gets.length = 0;
    const s = assertOk(await h.subscribe(app, { object: 'tag', object_id: `#${tag.toUpperCase()}`, callback_url: `${rx.url}/hook?k=1` }));
    assert.equal(s.object, 'tag');
    assert.equal(s.object_id, tag, 'a tag as captions store it');
    assert.equal(s.aspect, 'media');
    assert.equal(s.type, 'subscription');
    assert.equal(s.callback_url, `${rx.url}/hook?k=1`);
    assert.match(s.id, /^\d+$/);
    assert.equal(rx.gets.length, 1);
    const q = rx.gets[0].query;
    assert.equal(q['hub.mode'], 'subscribe');
    assert.equal(q['hub.verify_token'], 'vt-1');
    assert.equal(q.k, '1', 'the callback\'s own query is kept');
    assert.match(q['hub.challenge'], /^[0-9a-f]{32}$/);
    const g = assertOk(await h.subscribe(app, { object: 'geography', lat: '48.8584', lng: '2.2945', radius: '2000', callback_url: `${rx.url}/hook` }));
    assert.equal(g.object_id, g.id);
    assert.equal(g.radius, 2000);
    assert.deepEqual(assertOk(await h.list(app)).map((x) => x.id).sort(), [s.id, g.id].sort());
    assert.equal(assertOk(await h.unsubscribe(app, { id: s.id })), null);
    assert.deepEqual(assertOk(await h.list(app)).map((x) => x.id), [g.id]);
    assertV1Error(await h.unsubscribe(app, { id: s.id }), 404, 'APINotFoundError');
    const other = await h.register(dev);
    assertV1Error(await h.unsubscribe(other, { id: g.id }), 404, 'APINotFoundError');
    assert.deepEqual(assertOk(await h.list(app)).map((x) => x.id), [g.id], 'another client cannot delete it');
    // a tag in any script, as captions store it (lower-cased); long ones too
    const ete = assertOk(await h.subscribe(app, { object: 'tag', object_id: '#\u00c9T\u00c9', callback_url: `${rx.url}/hook` }));
    assert.equal(ete.object_id, '\u00e9t\u00e9');
    const long = assertOk(await h.subscribe(app, { object: 'tag', object_id: '\u00e9'.repeat(100), callback_url: `${rx.url}/hook` }));
    assert.equal(long.object_id, '\u00e9'.repeat(100));
    assertOk(await h.unsubscribe(app, { object: 'all' }));
    assert.deepEqual(assertOk(await h.list(app)), []);
  });

  it('refuses bad subscriptions with APISubscriptionError and makes nothing', async () => {
    const dev = await h.person('dev');
    const app = await h.register(dev);
    const cb = `${rx.url}/hook`;
    const cases = [
      { object: 'comments', callback_url: cb },
      { object: 'tag', object_id: 'a b', callback_url: cb },
      { object: 'tag', object_id: 'x\u20ac', callback_url: cb },
      { object: 'tag', object_id: 'x'.repeat(101), callback_url: cb },
      { object: 'tag', callback_url: cb },
      { object: 'location', object_id: 'x', callback_url: cb },
      { object: 'location', object_id: '4217397655794957312', callback_url: cb }, // no such place
      { object: 'geography', lat: '10', lng: '10', radius: '6000', callback_url: cb },
      { object: 'geography', lat: '100', lng: '10', callback_url: cb },
      { object: 'geography', lat: '10', lng: '10', callback_url: cb },
      { object: 'geography', lat: '10', lng: '10', radius: '0', callback_url: cb },
      { object: 'geography', lat: '10', lng: '10', radius: 'far', callback_url: cb },
      { object: 'user' },
      { object: 'user', callback_url: 'ftp://127.0.0.1/x' },
      { object: 'user', callback_url: cb, aspect: 'likes' },
      { object: 'user', callback_url: cb, verify_token: 'v'.repeat(257) },
    ];
    for (const form of cases) assertV1Error(await h.subscribe(app, form), 400, 'APISubscriptionError');
    for (const mode of ['wrong', '500', 'redirect']) {
      rx.challenge = mode;
      const r = await h.subscribe(app, { object: 'user', callback_url: cb });
      assertV1Error(r, 400, 'APISubscriptionError');
    }
    rx.challenge = 'echo';
    assert.equal(rx.gets.filter((x) => x.path === '/echo').length, 0, 'a redirect is not followed');
    const badSecret = await api(srv.url, 'POST', '/v1/subscriptions', { form: { client_id: app.client_id, client_secret: '0'.repeat(32), object: 'user', aspect: 'media', callback_url: cb } });
    assertV1Error(badSecret, 400, 'APISubscriptionError');
    assertV1Error(await api(srv.url, 'POST', '/v1/subscriptions', { form: { object: 'user', aspect: 'media', callback_url: cb } }), 400, 'OAuthParameterException');
    assert.deepEqual(assertOk(await h.list(app)), []);
  });

  it('delivers a new photo to its tag, place, circle and user subscriptions, signed and batched', async () => {
    const dev = await h.person('dev');
    const author = await h.person('aut');
    const app = await h.register(dev);
    await h.authorizeApp(author, app);
    const tag = uniqueName('rt').replace(/_/g, '');
    const path = `/d-${tag}`;
    const cb = `${rx.url}${path}`;
    // a spot of its own in the Southern Ocean (other suites may share the servers, and place photos)
    const lat0 = -60 - Math.random() * 5;
    const lng0 = -120 - Math.random() * 20;
    const at = (dlat) => (lat0 + dlat).toFixed(6);
    const first = await h.post(author, { caption: `hello #${tag}`, location_name: `Place ${tag}`, lat: at(0.0016), lng: lng0.toFixed(6) });
    const place = first.location.id;
    const subs = {
      tag: assertOk(await h.subscribe(app, { object: 'tag', object_id: tag, callback_url: cb })),
      location: assertOk(await h.subscribe(app, { object: 'location', object_id: place, callback_url: cb })),
      geography: assertOk(await h.subscribe(app, { object: 'geography', lat: at(0), lng: lng0.toFixed(6), radius: '1000', callback_url: cb })),
      user: assertOk(await h.subscribe(app, { object: 'user', callback_url: cb })),
    };
    const farGeo = assertOk(await h.subscribe(app, { object: 'geography', lat: at(1), lng: lng0.toFixed(6), radius: '1000', callback_url: cb }));
    await sleep(1100); // every server has heard of the subscriptions
    const photos = [];
    for (let i = 0; i < 3; i++) photos.push(await h.post(author, { caption: `#${tag} ${i}`, location_id: place }));
    const mine = () => rx.posts.filter((p) => p.path === path);
    await until(() => mine().flatMap((p) => p.body).length >= 12, '12 updates (4 subscriptions x 3 photos)');
    await sleep(1000);
    const posts = mine();
    // (the first photo's job may run after the subscriptions exist, on
    // servers shared with suites that subscribe too: its updates may come)
    const ours = new Set(photos.map((p) => p.id));
    const items = posts.flatMap((p) => p.body).filter((x) => ours.has(x.data?.media_id));
    assert.equal(items.length, 12, JSON.stringify(items));
    assert.ok(posts.length < 12, `batched: ${posts.length} POSTs for 12 updates`);
    for (const p of posts) {
      assert.equal(p.headers['content-type'], 'application/json');
      const want = createHmac('sha1', app.client_secret).update(p.raw).digest('hex');
      assert.equal(p.headers['x-hub-signature'], want, 'X-Hub-Signature is the HMAC-SHA1 of the raw body');
    }
    for (const [kind, sub] of Object.entries(subs)) {
      const got = items.filter((x) => x.subscription_id === sub.id);
      assert.deepEqual(got.map((x) => x.data.media_id).sort(), photos.map((m) => m.id).sort(), kind);
      for (const x of got) {
        assert.equal(x.object, kind);
        assert.equal(x.changed_aspect, 'media');
        assert.equal(typeof x.time, 'number');
        assert.equal(x.object_id, { tag, location: place, geography: sub.id, user: author.id }[kind]);
      }
    }
    assert.equal(items.filter((x) => x.subscription_id === farGeo.id).length, 0, 'a circle elsewhere gets nothing');
    // the geography's photos, as v1's /geographies/{geo-id}/media/recent has them: newest first
    const geo = (id, query) => api(srv.url, 'GET', `/v1/geographies/${id}/media/recent`, { token: author.token, query });
    const recent = assertOk(await geo(subs.geography.id, { client_id: app.client_id }));
    assert.deepEqual(recent.map((m) => m.id), [...photos].reverse().map((m) => m.id).concat([first.id]));
    assert.ok(recent.every((m) => typeof m.distance === 'number' && m.distance <= 1000));
    const newer = assertOk(await geo(subs.geography.id, { client_id: app.client_id, min_id: photos[1].id.split('_')[0] }));
    assert.deepEqual(newer.map((m) => m.id), [photos[2].id]);
    assert.deepEqual(assertOk(await geo(farGeo.id, { client_id: app.client_id })), []);
    assertV1Error(await geo(subs.geography.id, { client_id: 'f'.repeat(32) }), 404, 'APINotFoundError');
    assertV1Error(await geo(subs.tag.id, { client_id: app.client_id }), 404, 'APINotFoundError');
    // an app's token reads its own app's geographies, not another's (a client_id is no secret)
    const other = await h.register(dev);
    const otherToken = await h.authorizeApp(author, other);
    const asOther = await api(srv.url, 'GET', `/v1/geographies/${subs.geography.id}/media/recent`, { token: otherToken, query: { client_id: app.client_id } });
    assertV1Error(asOther, 404, 'APINotFoundError');
    const ownToken = await h.authorizeApp(author, app);
    assert.equal(assertOk(await api(srv.url, 'GET', `/v1/geographies/${subs.geography.id}/media/recent`,
      { token: ownToken, query: { client_id: app.client_id } })).length, recent.length);
    // the log counts every update the receiver got: the 12, and the first
    // photo's if its job ran after a subscription existed (a delivery is
    // logged once its answer is read, so the log may trail the receiver)
    const logged = (log) => log.reduce((n, d) => n + d.updates, 0);
    const got = () => mine().flatMap((p) => p.body).length;
    await until(async () => logged(await h.deliveries(dev, app)) === got(), 'the log has every update received');
    const log = await h.deliveries(dev, app);
    assert.ok(log.length >= 1 && log.every((d) => d.outcome === 'delivered' && d.http_status === 200), JSON.stringify(log));
    assert.ok(logged(log) >= 12 && logged(log) <= 12 + 4, `${logged(log)} updates logged`);
    // nobody else reads the log
    assertV1Error(await api(srv.url, 'GET', `/v1/developer/clients/${app.client_id}/deliveries`, { token: author.token }), 404, 'APINotFoundError');
  });

  it('sends a private account\'s photos, and user updates, only to apps the owner authorised', async () => {
    const dev = await h.person('dev');
    const app = await h.register(dev);
    const priv = await h.person('prv');
    const pub = await h.person('pub');
    assertOk(await api(srv.url, 'POST', '/v1/users/self', { token: priv.token, form: { is_private: 'true' } }));
    const tag = uniqueName('pv').replace(/_/g, '');
    const path = `/p-${tag}`;
    const tagSub = assertOk(await h.subscribe(app, { object: 'tag', object_id: tag, callback_url: `${rx.url}${path}` }));
    const userSub = assertOk(await h.subscribe(app, { object: 'user', callback_url: `${rx.url}${path}` }));
    await sleep(1100);
    const hidden = await h.post(priv, { caption: `#${tag} hidden` });
    const open = await h.post(pub, { caption: `#${tag} open` });
    const mine = () => rx.posts.filter((p) => p.path === path).flatMap((p) => p.body);
    await until(() => mine().length >= 1, 'the public photo');
    await sleep(1500); // anything else would have come by now
    let got = mine();
    assert.deepEqual(got.map((x) => [x.subscription_id, x.data.media_id]), [[tagSub.id, open.id]],
      'neither the private photo, nor a user subscription of an unauthorised user');
    assert.ok(!got.some((x) => x.data.media_id === hidden.id));
    // once the private owner authorises the app, its photos go, to both
    await h.authorizeApp(priv, app);
    const later = await h.post(priv, { caption: `#${tag} later` });
    await until(() => mine().filter((x) => x.data.media_id === later.id).length >= 2, 'the authorised owner\'s photo');
    got = mine().filter((x) => x.data.media_id === later.id);
    assert.deepEqual(got.map((x) => x.subscription_id).sort(), [tagSub.id, userSub.id].sort());
  });

  it('retries a failing callback, and the owner sees every attempt', async () => {
    const dev = await h.person('dev');
    const app = await h.register(dev);
    const tag = uniqueName('rr').replace(/_/g, '');
    const path = `/r-${tag}`;
    assertOk(await h.subscribe(app, { object: 'tag', object_id: tag, callback_url: `${rx.url}${path}` }));
    await sleep(1100);
    const author = await h.person('aut');
    rx.failNext = 2;
    const m = await h.post(author, { caption: `#${tag}` });
    await until(async () => (await h.deliveries(dev, app)).some((d) => d.outcome === 'delivered'), 'a delivery after two failures', 30_000);
    const log = await h.deliveries(dev, app);
    assert.deepEqual(log.map((d) => d.outcome).reverse(), ['retrying', 'retrying', 'delivered'], JSON.stringify(log));
    assert.equal(log[2].http_status, 500);
    assert.match(log[2].error, /HTTP 500/);
    const tries = rx.posts.filter((p) => p.path === path);
    assert.equal(tries.length, 3);
    assert.ok(tries[2].at - tries[1].at >= 1500, 'backing off');
    assert.ok(tries.every((p) => p.body[0].data.media_id === m.id));
  });
});

describe('a callback that keeps failing', { skip: external && 'the servers must reach a receiver on loopback' }, () => {
  let srv;
  let rx;
  const h = makeHelpers(() => srv.url);
  before(async () => {
    srv = await startServer(['--access-log', 'off', '--webhook-allow-private', 'on', '--webhook-batch-ms', '100', '--webhook-max-attempts', '2']);
    rx = await receiver();
  });
  after(async () => { await srv?.stop(); await rx?.close(); });

  it('is given up after webhook_max_attempts, logged as failed, and the next update still goes', async () => {
    const dev = await h.person('dev');
    const app = await h.register(dev);
    const tag = uniqueName('gu').replace(/_/g, '');
    assertOk(await h.subscribe(app, { object: 'tag', object_id: tag, callback_url: `${rx.url}/g` }));
    await sleep(1100);
    const author = await h.person('aut');
    rx.always500 = true;
    await h.post(author, { caption: `#${tag}` });
    await until(async () => (await h.deliveries(dev, app)).some((d) => d.outcome === 'failed'), 'the update given up', 20_000);
    const log = await h.deliveries(dev, app);
    assert.deepEqual(log.map((d) => d.outcome).reverse(), ['retrying', 'failed']);
    assert.equal(rx.posts.length, 2);
    rx.always500 = false;
    const m = await h.post(author, { caption: `#${tag} again` });
    await until(() => rx.posts.some((p) => p.body.some((x) => x.data.media_id === m.id) && p !== rx.posts[0]), 'the next update', 10_000);
  });
});

describe('callbacks inside the server\'s network (SSRF)', { skip: clusterHooks && 'these servers allow private callbacks' }, () => {
  let srv;
  let rx;
  const h = makeHelpers(() => srv.url);
  before(async () => {
    srv = await startServer(['--access-log', 'off']);
    rx = await receiver();
  });
  after(async () => { await srv?.stop(); await rx?.close(); });

  it('refuses loopback, private, link-local and metadata callbacks before any request', async () => {
    const dev = await h.person('dev');
    const app = await h.register(dev);
    const port = new URL(rx.url).port;
    const refused = [
      `${rx.url}/x`, `http://localhost:${port}/x`, `http://127.1.2.3:${port}/`, `http://[::1]:${port}/`,
      'http://10.1.2.3/', 'http://172.16.5.4/', 'http://192.168.1.1/', 'http://169.254.169.254/latest/meta-data/',
      'http://100.64.0.1/', 'http://0.0.0.0/', 'http://[::ffff:127.0.0.1]/', 'http://[fd00:ec2::254]/', 'http://[fe80::1]/',
      'http://user@127.0.0.1/',
    ];
    for (const cb of refused) {
      const r = await h.subscribe(app, { object: 'user', callback_url: cb });
      assertV1Error(r, 400, 'APISubscriptionError');
    }
    assert.equal(rx.gets.length, 0, 'no request reached the receiver');
    assert.deepEqual(assertOk(await h.list(app)), []);
  });
});
