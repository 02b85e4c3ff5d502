// Sharing to servers that speak the Mastodon API (issue 14), against a
// local stand-in of verify_credentials, POST /api/v2/media and
// POST /api/v1/statuses:
// - connecting an account checks its token with the server; bad input is
//   a 400 that stores nothing; the token is never shown again;
// - an upload with share=ID posts the photo and its caption as a job, the
//   photo uploaded once and the status made once (Idempotency-Key) across
//   retries; a refusal that will not change fails at once; the owner sees
//   where each photo went (GET /v1/media/{id}/shares);
// - server URLs get the callbacks' SSRF rules, and https only.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startServer, api, signup, uniqueName, assertV1Error, assertOk, show, external, uploadPhoto,
  until,
} from './lib.mjs';

const GOOD = 'remote-token-with-write-scope';
// through nginx to the cluster's servers, which tests/run.sh starts with
// webhook_allow_private on for these tests
const clusterHooks = external && process.env.PICOGRAM_TEST_WEBHOOKS === '1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


/** A stand-in of the Mastodon API's three endpoints picogram calls. */
async function mastodon() {
  const st = { media: [], statuses: [], statusTries: [], failStatuses: 0, refuseStatuses: false, byKey: new Map() };
  st.server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const json = (code, v) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
    if (req.headers.authorization !== `Bearer ${GOOD}`) return json(401, { error: 'The access token is invalid' });
    if (st.revoked && req.url.startsWith('/api/v2/media')) return json(401, { error: 'The access token was revoked' });
    const u = new URL(req.url, 'http://x');
    if (req.method === 'GET' && u.pathname === '/api/v1/accounts/verify_credentials') {
      return json(200, { id: '7', username: 'alice', acct: 'alice' });
    }
    if (req.method === 'POST' && u.pathname === '/api/v2/media') {
      const form = await new Response(body, { headers: { 'content-type': req.headers['content-type'] } }).formData();
      const file = form.get('file');
      const bytes = Buffer.from(await file.arrayBuffer());
      st.media.push({ bytes, type: file.type, name: file.name });
      return json(200, { id: `m${st.media.length}`, type: 'image' });
    }
    if (req.method === 'POST' && u.pathname === '/api/v1/statuses') {
      const f = new URLSearchParams(body.toString('utf8'));
      const key = req.headers['idempotency-key'];
      st.statusTries.push({ key, status: f.get('status'), media: f.getAll('media_ids[]') });
      if (st.refuseStatuses) return json(422, { error: 'Validation failed' });
      if (st.failStatuses > 0) {
        st.failStatuses--;
        return json(503, { error: 'busy' });
      }
      if (!st.byKey.has(key)) {
        const id = String(100 + st.statuses.length);
        st.statuses.push({ id, key, status: f.get('status'), media: f.getAll('media_ids[]') });
        st.byKey.set(key, { id, url: `https://remote.example/@alice/${id}` });
      }
      return json(200, st.byKey.get(key));
    }
    return json(404, { error: 'Record not found' });
  });
  await new Promise((r) => st.server.listen(0, '127.0.0.1', r));
  st.url = `http://127.0.0.1:${st.server.address().port}`;
  st.close = () => new Promise((r) => st.server.close(r));
  return st;
}

describe('sharing to a Mastodon-API server', { skip: external && !clusterHooks && 'needs a server that may reach loopback' }, () => {
  let srv;
  let url;
  let st;
  before(async () => {
    srv = await startServer(['--access-log', 'off', '--webhook-allow-private', 'on', '--webhook-max-attempts', '4']);
    url = srv.url;
    st = await mastodon();
  });
  after(async () => { await srv?.stop(); await st?.close(); });

  const connect = (u, form) => api(url, 'POST', '/v1/users/self/shares', { token: u.token, form });
  const accounts = async (u) => assertOk(await api(url, 'GET', '/v1/users/self/shares', { token: u.token }));
  const shares = async (u, id) => assertOk(await api(url, 'GET', `/v1/media/${id}/shares`, { token: u.token }));
  const post = async (u, fields) => assertOk(await uploadPhoto(url, { token: u.token, photo: 'landscape.jpg', fields }));

  it('connects an account once the server knows its token, and refuses anything else', async () => {
    const u = await signup(url, uniqueName('sh'));
    const bad = [
      { server_url: st.url, token: 'wrong' },
      { server_url: st.url },
      { token: GOOD },
      { server_url: 'ftp://127.0.0.1/', token: GOOD },
      { server_url: `${st.url}/?x=1`, token: GOOD },
      { server_url: 'http://127.0.0.1:9', token: GOOD },
      { server_url: st.url, token: 'a b' },
    ];
    for (const form of bad) assertV1Error(await connect(u, form), 400, 'APIInvalidParametersError');
    assert.deepEqual(await accounts(u), []);
    const a = assertOk(await connect(u, { server_url: `${st.url}/`, token: GOOD }));
    assert.equal(a.server_url, st.url);
    assert.equal(a.acct, 'alice');
    assert.ok(!JSON.stringify(a).includes(GOOD), 'the token is never shown');
    assert.deepEqual((await accounts(u)).map((x) => x.id), [a.id]);
    const other = await signup(url, uniqueName('sh'));
    assertV1Error(await api(url, 'DELETE', `/v1/users/self/shares/${a.id}`, { token: other.token }), 404, 'APINotFoundError');
    assertOk(await api(url, 'DELETE', `/v1/users/self/shares/${a.id}`, { token: u.token }));
    assert.deepEqual(await accounts(u), []);
  });

  it('posts an upload with share= to the account: the photo, then the caption', async () => {
    const u = await signup(url, uniqueName('sh'));
    const a = assertOk(await connect(u, { server_url: st.url, token: GOOD }));
    const before = st.statuses.length;
    const m = await post(u, { caption: 'Sunset at the pier #sky', share: a.id });
    const done = await until(async () => (await shares(u, m.id)).find((x) => x.status === 'posted'), 'the share posted');
    assert.equal(done.account_id, a.id);
    assert.equal(done.server_url, st.url);
    assert.equal(done.acct, 'alice');
    assert.match(done.url, /^https:\/\/remote\.example\/@alice\/\d+$/);
    const s = st.statuses[before];
    assert.equal(s.status, 'Sunset at the pier #sky');
    assert.equal(s.media.length, 1);
    const sent = st.media[Number(s.media[0].slice(1)) - 1];
    assert.equal(sent.type, 'image/jpeg');
    const high = await fetch(m.images.high_resolution.url);
    assert.deepEqual(sent.bytes, Buffer.from(await high.arrayBuffer()), 'the full-size rendition, byte for byte');
    // nobody else sees where it went
    const other = await signup(url, uniqueName('sh'));
    assertV1Error(await api(url, 'GET', `/v1/media/${m.id}/shares`, { token: other.token }), 404, 'APINotFoundError');
  });

  it('refuses a share to an account that is not yours, and posts nothing', async () => {
    const u = await signup(url, uniqueName('sh'));
    const other = await signup(url, uniqueName('sh'));
    const theirs = assertOk(await connect(other, { server_url: st.url, token: GOOD }));
    for (const share of [theirs.id, '12345', 'x']) {
      const r = await uploadPhoto(url, { token: u.token, photo: 'landscape.jpg', fields: { share } });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    const me = assertOk(await api(url, 'GET', '/v1/users/self', { token: u.token }));
    assert.equal(me.counts.media, 0);
  });

  it('retries a failing server without a second photo or a second post', async () => {
    const u = await signup(url, uniqueName('sh'));
    const a = assertOk(await connect(u, { server_url: st.url, token: GOOD }));
    const media0 = st.media.length;
    const tries0 = st.statusTries.length;
    const statuses0 = st.statuses.length;
    st.failStatuses = 2;
    const m = await post(u, { caption: 'third time lucky', share: a.id });
    const done = await until(async () => (await shares(u, m.id)).find((x) => x.status === 'posted'), 'the share after two failures', 30_000);
    assert.equal(done.attempts, 3);
    assert.equal(st.media.length - media0, 1, 'the photo went once');
    const tries = st.statusTries.slice(tries0);
    assert.equal(tries.length, 3);
    assert.equal(new Set(tries.map((t) => t.key)).size, 1, 'one Idempotency-Key for every try');
    assert.equal(st.statuses.length - statuses0, 1, 'one post');
  });

  it('gives up at once on a revoked token', async () => {
    const u = await signup(url, uniqueName('sh'));
    const a = assertOk(await connect(u, { server_url: st.url, token: GOOD }));
    st.revoked = true;
    try {
      const m = await post(u, { caption: 'nope', share: a.id });
      const failed = await until(async () => (await shares(u, m.id)).find((x) => x.status === 'failed'), 'the share failed');
      assert.equal(failed.attempts, 1);
      assert.match(failed.error, /HTTP 401/);
    } finally {
      st.revoked = false;
    }
  });

  it('gives up on a 422 after three tries, and says why', async () => {
    const u = await signup(url, uniqueName('sh'));
    const a = assertOk(await connect(u, { server_url: st.url, token: GOOD }));
    st.refuseStatuses = true;
    try {
      const m = await post(u, { caption: 'nope', share: a.id });
      const failed = await until(async () => (await shares(u, m.id)).find((x) => x.status === 'failed'), 'the share failed', 30_000);
      assert.equal(failed.attempts, 3, 'a 422 may be the photo still processing: three tries');
      assert.match(failed.error, /HTTP 422/);
      assert.equal(failed.url, null);
    } finally {
      st.refuseStatuses = false;
    }
  });
});

describe('sharing: the server\'s own network (SSRF)', { skip: clusterHooks && 'these servers allow private addresses' }, () => {
  let srv;
  before(async () => { srv = await startServer(['--access-log', 'off']); });
  after(async () => { await srv?.stop(); });

  it('refuses http:// and servers on loopback, private or link-local addresses', async () => {
    const u = await signup(srv.url, uniqueName('sh'));
    for (const server_url of ['http://mastodon.example', 'https://127.0.0.1:1', 'https://localhost', 'https://10.0.0.8',
      'https://169.254.169.254', 'https://[::1]']) {
      const r = await api(srv.url, 'POST', '/v1/users/self/shares', { token: u.token, form: { server_url, token: GOOD } });
      assertV1Error(r, 400, 'APIInvalidParametersError');
      assert.ok(show(r));
    }
    assert.deepEqual(assertOk(await api(srv.url, 'GET', '/v1/users/self/shares', { token: u.token })), []);
  });
});
