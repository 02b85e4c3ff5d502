// Push notifications (issue 14), against local stand-ins:
// - an APNs stand-in over HTTP/2 (h2c) that checks the provider token (an
//   ES256 JWT, verified with the public half of the test's .p8 key), the
//   topic and the payload, and answers 410 for a dead device;
// - a Web Push receiver that checks the VAPID JWT against the server's
//   public key and decrypts the message (RFC 8291, aes128gcm) with the
//   subscription's private key, as a browser would.
// News within push_window_ms about one photo is one notification; the
// kinds a user turned off are not sent; devices are first-party business.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import crypto from 'node:crypto';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startServer, api, signup, uniqueName, assertV1Error, assertOk, external, uploadPhoto,
  until, sqlExec, sqlRows, topology,
} from './lib.mjs';

const WINDOW = 1500;
const KEY_ID = 'ABC123DEFG';
const TEAM = 'TEAM123456';
const TOPIC = 'com.example.picogram';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64u = (b) => Buffer.from(b).toString('base64url');


/** Verifies an ES256 JWT with a public key; returns {header, claims}. */
function verifyJwt(jwt, publicKey) {
  const [h, c, s] = jwt.split('.');
  const ok = crypto.verify('sha256', Buffer.from(`${h}.${c}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  assert.ok(ok, 'the JWT\'s ES256 signature verifies');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), claims: JSON.parse(Buffer.from(c, 'base64url')) };
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/** RFC 8291 decryption, as the browser does it. */
function decrypt(body, ecdh, auth) {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const ct = body.subarray(21 + idlen);
  const secret = ecdh.computeSecret(asPublic);
  const uaPublic = ecdh.getPublicKey();
  const prkKey = hmac(auth, secret);
  const ikm = hmac(prkKey, Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic, Buffer.from([1])]));
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const d = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(ct.subarray(ct.length - 16));
  const plain = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  assert.equal(plain[plain.length - 1], 2, 'the last record\'s delimiter');
  return JSON.parse(plain.subarray(0, plain.length - 1).toString('utf8'));
}

describe('push notifications', { skip: external && 'needs its own server, with APNs set up' }, () => {
  let srv;
  let url;
  let dir;
  let apns;
  let wp;
  const apnsGot = [];
  const wpGot = [];
  const keys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'picogram-push-'));
    const p8 = path.join(dir, 'AuthKey.p8');
    await writeFile(p8, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    apns = http2.createServer();
    apns.on('stream', (stream, headers) => {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const token = headers[':path'].replace('/3/device/', '');
        apnsGot.push({ headers, token, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        const dead = token.startsWith('dead');
        stream.respond({ ':status': dead ? 410 : 200, 'content-type': 'application/json' });
        stream.end(dead ? JSON.stringify({ reason: 'Unregistered' }) : '');
      });
    });
    await new Promise((r) => apns.listen(0, '127.0.0.1', r));
    wp = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        wpGot.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(req.url.includes('gone') ? 410 : 201);
        res.end();
      });
    });
    await new Promise((r) => wp.listen(0, '127.0.0.1', r));
    srv = await startServer(['--access-log', 'off', '--webhook-allow-private', 'on', '--push-window-ms', String(WINDOW),
      '--apns-key-file', p8, '--apns-key-id', KEY_ID, '--apns-team-id', TEAM, '--apns-topic', TOPIC,
      '--apns-endpoint', `http://127.0.0.1:${apns.address().port}`]);
    url = srv.url;
  });
  after(async () => {
    await srv?.stop();
    apns?.close();
    wp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const device = (u, form) => api(url, 'POST', '/v1/users/self/devices', { token: u.token, form });
  const apnsToken = (tag = 'a') => `${tag}${crypto.randomBytes(32).toString('hex')}`.slice(0, 64).replace(/[^0-9a-f]/g, 'a');
  const post = async (u) => assertOk(await uploadPhoto(url, { token: u.token, photo: 'landscape.jpg' }));
  const like = (u, m) => api(url, 'POST', `/v1/media/${m.id}/likes`, { token: u.token });

  it('registers devices, checks what it is given, and lists and removes them', async () => {
    const u = await signup(url, uniqueName('pu'));
    const bad = [
      { platform: 'sms', token: 'x' },
      { platform: 'apns', token: 'not-hex' },
      { platform: 'apns', token: 'ab' },
      { platform: 'webpush', endpoint: 'ftp://x/y', p256dh: 'x', auth: 'y' },
      { platform: 'webpush', endpoint: `${`http://127.0.0.1:${wp.address().port}`}/s/1`, p256dh: 'short', auth: b64u(crypto.randomBytes(16)) },
      { platform: 'webpush', endpoint: `${`http://127.0.0.1:${wp.address().port}`}/s/1`, p256dh: b64u(crypto.createECDH('prime256v1').generateKeys()), auth: 'x' },
    ];
    for (const form of bad) assertV1Error(await device(u, form), 400, 'APIInvalidParametersError');
    const tok = apnsToken();
    const d = assertOk(await device(u, { platform: 'apns', token: tok }));
    assert.equal(d.platform, 'apns');
    assert.ok(!JSON.stringify(d).includes(tok), 'the token is not shown back whole');
    const again = assertOk(await device(u, { platform: 'apns', token: tok }));
    assert.equal(again.id, d.id, 'the same token is the same device');
    const list = assertOk(await api(url, 'GET', '/v1/users/self/devices', { token: u.token }));
    assert.deepEqual(list.map((x) => x.id), [d.id]);
    assertOk(await api(url, 'DELETE', `/v1/users/self/devices/${d.id}`, { token: u.token }));
    assertV1Error(await api(url, 'DELETE', `/v1/users/self/devices/${d.id}`, { token: u.token }), 404, 'APINotFoundError');
    const key = assertOk(await api(url, 'GET', '/web/push/key')).vapid_public_key;
    const raw = Buffer.from(key, 'base64url');
    assert.equal(raw.length, 65);
    assert.equal(raw[0], 4);
  });

  it('forgets a device when the session that registered it ends, or the password changes', async () => {
    const name = uniqueName('pu');
    const u = await signup(url, name);
    const login2 = (await api(url, 'POST', '/oauth/access_token', { form: { grant_type: 'password', username: name, password: 'password123' } })).body.access_token;
    const phone = { token: login2 };
    const a = assertOk(await device(phone, { platform: 'apns', token: apnsToken('f') }));
    const b = assertOk(await device(u, { platform: 'apns', token: apnsToken('f') }));
    const ids = async () => assertOk(await api(url, 'GET', '/v1/users/self/devices', { token: u.token })).map((x) => x.id).sort();
    assert.deepEqual(await ids(), [a.id, b.id].sort());
    assertOk(await api(url, 'POST', '/v1/accounts/logout', { token: login2 }));
    assert.deepEqual(await ids(), [b.id], 'the logged-out session\'s phone hears no more');
    const login3 = (await api(url, 'POST', '/oauth/access_token', { form: { grant_type: 'password', username: name, password: 'password123' } })).body.access_token;
    const c = assertOk(await device({ token: login3 }, { platform: 'apns', token: apnsToken('f') }));
    assertOk(await api(url, 'POST', '/v1/users/self/password', { token: u.token, form: { current_password: 'password123', new_password: 'password456' } }));
    assert.deepEqual(await ids(), [b.id], 'a password change ends every other session, and its devices');
    assert.ok(c.id);
  });

  it('ends a session in one write: when its devices cannot be dropped, the token stays too',
    { skip: external }, async () => {
      const name = uniqueName('pu');
      const u = await signup(url, name);
      const session = async () => (await api(url, 'POST', '/oauth/access_token',
        { form: { grant_type: 'password', username: name, password: 'password123' } })).body.access_token;
      const phone = await session(), other = await session();
      const d = assertOk(await device({ token: phone }, { platform: 'apns', token: apnsToken('e') }));
      const e = assertOk(await device({ token: other }, { platform: 'apns', token: apnsToken('e') }));
      const ids = async () => assertOk(await api(url, 'GET', '/v1/users/self/devices', { token: u.token })).map((x) => x.id).sort();
      const otherId = assertOk(await api(url, 'GET', '/v1/users/self/tokens', { token: other }))
        .filter((t) => t.current).map((t) => t.id); // other's own, revoked from u's session
      const stored = () => sqlRows(srv.dataDir, `SELECT COUNT(*) FROM tokens WHERE user_id = ${u.user.id}`)
        .reduce((n, x) => n + Number(x), 0);
      // every database refuses to drop devices for a moment (a failing disk, say)
      const refuse = topology === 'pg'
        ? 'CREATE FUNCTION no_drop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION \'refused\'; END $$;'
          + ' CREATE TRIGGER no_drop BEFORE DELETE ON devices FOR EACH ROW EXECUTE FUNCTION no_drop()'
        : "CREATE TRIGGER no_drop BEFORE DELETE ON devices BEGIN SELECT RAISE(ABORT, 'refused'); END";
      sqlExec(srv.dataDir, refuse);
      try {
        const out = await api(url, 'POST', '/v1/accounts/logout', { token: phone });
        assert.ok(out.status >= 500, `logout: ${out.status}`);
        assert.equal((await api(url, 'GET', '/v1/users/self', { token: phone })).status, 200, 'the session is not half ended');
        assert.equal(stored(), 3, 'its token is stored still (not only cached)');
        for (const id of otherId) {
          const r = await api(url, 'DELETE', `/v1/users/self/tokens/${id}`, { token: u.token });
          assert.ok(r.status >= 500, `revoke: ${r.status}`);
        }
        assert.equal((await api(url, 'GET', '/v1/users/self', { token: other })).status, 200, 'nor is the revoked one');
        assert.deepEqual(await ids(), [d.id, e.id].sort(), 'the devices are all there');
        assert.equal(stored(), 3, 'and every session\'s token');
      } finally {
        sqlExec(srv.dataDir, topology === 'pg' ? 'DROP TRIGGER no_drop ON devices; DROP FUNCTION no_drop()' : 'DROP TRIGGER no_drop');
      }
      assertOk(await api(url, 'POST', '/v1/accounts/logout', { token: phone }));
      for (const id of otherId) assertOk(await api(url, 'DELETE', `/v1/users/self/tokens/${id}`, { token: u.token }));
      assert.equal((await api(url, 'GET', '/v1/users/self', { token: phone })).status, 400);
      assert.equal((await api(url, 'GET', '/v1/users/self', { token: other })).status, 400);
      assert.deepEqual(await ids(), [], 'both sessions\' devices went with them');
    });

  it('pushes a like to an iPhone through APNs, with a valid provider token', async () => {
    const owner = await signup(url, uniqueName('pu'));
    const fan = await signup(url, uniqueName('fan'));
    const tok = apnsToken('b');
    assertOk(await device(owner, { platform: 'apns', token: tok }));
    const m = await post(owner);
    assertOk(await like(fan, m));
    const got = await until(() => apnsGot.find((x) => x.token === tok), 'the push');
    assert.equal(got.headers['apns-topic'], TOPIC);
    assert.equal(got.headers['apns-push-type'], 'alert');
    const jwt = /^bearer (.+)$/.exec(got.headers.authorization)[1];
    const { header, claims } = verifyJwt(jwt, keys.publicKey);
    assert.equal(header.alg, 'ES256');
    assert.equal(header.kid, KEY_ID);
    assert.equal(claims.iss, TEAM);
    assert.ok(Math.abs(claims.iat - Date.now() / 1000) < 3600);
    assert.equal(got.body.aps.alert.body, `${fan.user.username} liked your photo.`);
    assert.equal(got.body.kind, 'like');
  });

  it('makes many likes of one photo within the window one notification', async () => {
    const owner = await signup(url, uniqueName('pu'));
    const tok = apnsToken('c');
    assertOk(await device(owner, { platform: 'apns', token: tok }));
    const m = await post(owner);
    const fans = [];
    for (let i = 0; i < 5; i++) fans.push(await signup(url, uniqueName('fan')));
    for (const f of fans) assertOk(await like(f, m));
    await until(() => apnsGot.some((x) => x.token === tok), 'the push');
    await sleep(WINDOW + 1000);
    const mine = apnsGot.filter((x) => x.token === tok);
    assert.equal(mine.length, 1, JSON.stringify(mine.map((x) => x.body)));
    assert.match(mine[0].body.aps.alert.body, /^\S+ and 4 others liked your photo\.$/);
  });

  it('sends no kind the user turned off, and forgets a device APNs no longer knows', async () => {
    const owner = await signup(url, uniqueName('pu'));
    const fan = await signup(url, uniqueName('fan'));
    const tok = apnsToken('d');
    assertOk(await device(owner, { platform: 'apns', token: tok }));
    const s = assertOk(await api(url, 'POST', '/v1/users/self/notifications', { token: owner.token, form: { likes: 'false' } }));
    assert.deepEqual(s, { likes: false, comments: true, follows: true, mentions: true });
    assertV1Error(await api(url, 'POST', '/v1/users/self/notifications', { token: owner.token, form: { likes: 'maybe' } }), 400, 'APIInvalidParametersError');
    const m = await post(owner);
    assertOk(await like(fan, m));
    assertOk(await api(url, 'POST', `/v1/media/${m.id}/comments`, { token: fan.token, form: { text: 'lovely light' } }));
    const got = await until(() => apnsGot.find((x) => x.token === tok), 'the comment\'s push');
    await sleep(WINDOW + 500);
    assert.deepEqual(apnsGot.filter((x) => x.token === tok).map((x) => x.body.kind), ['comment']);
    assert.equal(got.body.aps.alert.body, `${fan.user.username} commented: lovely light`);
    // a dead device: APNs answers 410, and it is removed
    const dead = assertOk(await device(owner, { platform: 'apns', token: `dead${apnsToken('e').slice(4)}` }));
    const other = await signup(url, uniqueName('fol'));
    assertOk(await api(url, 'POST', `/v1/users/${owner.user.id}/relationship`, { token: other.token, form: { action: 'follow' } }));
    await until(async () => !assertOk(await api(url, 'GET', '/v1/users/self/devices', { token: owner.token })).some((x) => x.id === dead.id), 'the dead device removed');
    assert.ok(apnsGot.some((x) => x.token === tok && x.body.kind === 'follow'), 'the live device got the follow');
  });

  it('tells of a mention what the activity list shows: not a private photo or its text, nothing across a block', async () => {
    const priv = await signup(url, uniqueName('pp'));
    assertOk(await api(url, 'POST', '/v1/users/self', { token: priv.token, form: { is_private: 'true' } }));
    const b = await signup(url, uniqueName('pb'));
    const a = await signup(url, uniqueName('pa'));
    const c = await signup(url, uniqueName('pc'));
    const tok = apnsToken('f');
    assertOk(await device(b, { platform: 'apns', token: tok }));
    // mentioned in the caption of a private account B does not follow
    const secret = assertOk(await uploadPhoto(url, { token: priv.token, photo: 'landscape.jpg', fields: { caption: `secret plans @${b.user.username}` } }));
    const got = await until(() => apnsGot.find((x) => x.token === tok), 'the mention\'s push');
    assert.equal(got.body.aps.alert.body, `${priv.user.username} mentioned you.`, 'no caption of a photo B may not see');
    assert.equal(got.body.media_id, null, 'nor its ID');
    assert.ok(!JSON.stringify(got.body).includes('secret'));
    assert.ok(secret.id);
    // B blocks A. C mentions B on C's photo, then A mentions B there too,
    // within one window: the push is C's, with C's text (a window is
    // pushed as its last actor's), and nothing of A's reaches B
    assertOk(await api(url, 'POST', `/v1/users/${a.user.id}/relationship`, { token: b.token, form: { action: 'block' } }));
    const theirs = await post(c);
    assertOk(await api(url, 'POST', `/v1/media/${theirs.id}/comments`, { token: c.token, form: { text: `look @${b.user.username}` } }));
    assertOk(await api(url, 'POST', `/v1/media/${theirs.id}/comments`, { token: a.token, form: { text: `hey @${b.user.username}` } }));
    const open = await until(() => apnsGot.find((x) => x.token === tok && x.body.aps.alert.body.startsWith(`${c.user.username} `)), 'C\'s mention');
    assert.equal(open.body.aps.alert.body, `${c.user.username} mentioned you: look @${b.user.username}`);
    await sleep(WINDOW + 500);
    const bodies = apnsGot.filter((x) => x.token === tok).map((x) => x.body.aps.alert.body);
    assert.ok(!bodies.some((t) => t.startsWith(`${a.user.username} `)), `a push from a blocked user: ${JSON.stringify(bodies)}`);
  });

  it('pushes to a browser through Web Push: VAPID-signed, encrypted for the subscription', async () => {
    const owner = await signup(url, uniqueName('pu'));
    const fan = await signup(url, uniqueName('fan'));
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = crypto.randomBytes(16);
    const endpoint = `http://127.0.0.1:${wp.address().port}/push/${uniqueName('s')}`;
    assertOk(await device(owner, { platform: 'webpush', endpoint, p256dh: b64u(ecdh.getPublicKey()), auth: b64u(auth) }));
    const m = await post(owner);
    assertOk(await api(url, 'POST', `/v1/media/${m.id}/comments`, { token: fan.token, form: { text: 'nice one' } }));
    const got = await until(() => wpGot.find((x) => endpoint.endsWith(x.path)), 'the Web Push message');
    assert.equal(got.headers['content-encoding'], 'aes128gcm');
    assert.ok(Number(got.headers.ttl) > 0);
    const vapid = /^vapid t=([^,]+), k=(.+)$/.exec(got.headers.authorization);
    assert.ok(vapid, got.headers.authorization);
    const serverKey = assertOk(await api(url, 'GET', '/web/push/key')).vapid_public_key;
    assert.equal(vapid[2], serverKey);
    const raw = Buffer.from(serverKey, 'base64url');
    const pub = crypto.createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(raw.subarray(1, 33)), y: b64u(raw.subarray(33)) }, format: 'jwk' });
    const { claims } = verifyJwt(vapid[1], pub);
    assert.equal(claims.aud, `http://127.0.0.1:${wp.address().port}`);
    assert.ok(claims.exp > Date.now() / 1000);
    assert.match(claims.sub, /^mailto:/);
    const msg = decrypt(got.body, ecdh, auth);
    assert.equal(msg.title, 'picogram');
    assert.equal(msg.body, `${fan.user.username} commented: nice one`);
    assert.equal(msg.media_id, m.id.split('_')[0]);
  });
});
