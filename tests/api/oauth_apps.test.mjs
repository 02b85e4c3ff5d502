// Third-party apps and OAuth2 as v1 had them (issue 14, its first part):
// - registration: POST/GET /v1/developer/clients, DELETE one (its tokens
//   go), a new secret; the secret shown only then; bad input is a 400 that
//   makes nothing; first-party tokens only;
// - GET /oauth/authorize: the web client's page with a CSP that lets the
//   consent form reach the app, or an error page that never redirects;
// - POST /oauth/authorize on the browser session and its CSRF token (a
//   header, or the form's csrf_token field): 302 with ?code=&state=,
//   #access_token=, or ?error=access_denied...;
// - POST /oauth/access_token with grant_type=authorization_code: single-use
//   codes (a second use revokes the token the first made), 10 minutes;
// - scopes (basic, comments, relationships, likes) on every endpoint, and
//   the account's own endpoints closed to apps;
// - GET/DELETE /v1/users/self/apps.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  startServer, api, signup, login, uniqueName, assertV1Error, assertOAuthError, assertOk, show, external,
  sqlExec, uploadPhoto, runAdmin,
} from './lib.mjs';

let srv;
let url;
before(async () => {
  srv = await startServer(['--access-log', 'off']);
  url = srv.url;
});
after(async () => { await srv?.stop(); });

const XRW = { 'x-requested-with': 'picogram' };
const CB = 'http://127.0.0.1:9/cb';

/** fetch that never follows a redirect; returns {status, location, body, text, headers}. */
async function raw(method, path, { cookie, csrf, form, token, query } = {}) {
  const h = {};
  if (cookie) h.cookie = `pg_session=${cookie}`;
  if (csrf) h['x-csrf-token'] = csrf;
  if (token) h.authorization = `Bearer ${token}`;
  const init = { method, headers: h, redirect: 'manual' };
  if (form) {
    init.body = new URLSearchParams(form).toString();
    h['content-type'] = 'application/x-www-form-urlencoded';
  }
  const target = url + path + (query ? `?${new URLSearchParams(query)}` : '');
  const res = await fetch(target, init);
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = null; }
  return { status: res.status, location: res.headers.get('location'), body, text, headers: res.headers };
}

/** A user with a password-grant token and a browser session. */
async function person(prefix = 'oa') {
  const name = uniqueName(prefix);
  const u = await signup(url, name);
  const r = await fetch(`${url}/web/session`, {
    method: 'POST', headers: { ...XRW, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: name, password: 'password123' }).toString(),
  });
  assert.equal(r.status, 200);
  const cookie = /pg_session=([^;]*)/.exec(r.headers.get('set-cookie'))[1];
  const csrf = (await r.json()).data.csrf_token;
  return { name, token: u.token, id: u.user.id, cookie, csrf };
}

async function register(owner, fields = {}) {
  const r = await api(url, 'POST', '/v1/developer/clients', {
    token: owner.token, form: { name: 'Test App', description: 'An app of the tests', website: 'https://example.org', redirect_uri: CB, ...fields },
  });
  return assertOk(r);
}

/** The consent form's answer, allowed or denied, on p's session. */
function decide(p, app, { type = 'code', scope = '', state, decision = 'allow', redirect = CB, csrfField = false } = {}) {
  const form = { client_id: app.client_id, redirect_uri: redirect, response_type: type, scope, decision };
  if (state !== undefined) form.state = state;
  if (csrfField) form.csrf_token = p.csrf;
  return raw('POST', '/oauth/authorize', { cookie: p.cookie, csrf: csrfField ? undefined : p.csrf, form });
}

function exchange(app, code, { secret = app.client_secret, redirect = CB, clientId = app.client_id } = {}) {
  return api(url, 'POST', '/oauth/access_token', {
    form: { client_id: clientId, client_secret: secret, grant_type: 'authorization_code', redirect_uri: redirect, code },
  });
}

/** Runs the code flow for p and app with scope; returns the token. */
async function authorize(p, app, scope = '') {
  const r = await decide(p, app, { scope, state: 'st' });
  assert.equal(r.status, 302, show(r));
  const loc = new URL(r.location);
  const t = await exchange(app, loc.searchParams.get('code'));
  assert.equal(t.status, 200, show(t));
  return t.body.access_token;
}

const me = (token) => api(url, 'GET', '/v1/users/self', { token });

async function postPhoto(token, caption = '') {
  return assertOk(await uploadPhoto(url, { token, photo: 'landscape.jpg', fields: { caption } }));
}

describe('app registration', () => {
  it('registers an app and shows its secret once', async () => {
    const dev = await person('dev');
    const app = await register(dev, { redirect_uri: `${CB} myapp://done` });
    assert.match(app.client_id, /^[0-9a-f]{32}$/);
    assert.match(app.client_secret, /^[0-9a-f]{32}$/);
    assert.deepEqual(app.redirect_uris, [CB, 'myapp://done']);
    assert.equal(app.name, 'Test App');
    assert.equal(app.website, 'https://example.org');
    assert.equal(app.enforce_signed_requests, false);
    const list = assertOk(await api(url, 'GET', '/v1/developer/clients', { token: dev.token }));
    assert.equal(list.length, 1);
    assert.equal(list[0].client_id, app.client_id);
    assert.equal(list[0].client_secret, undefined, 'the secret is shown once');
    assert.ok(!JSON.stringify(list).includes(app.client_secret));
    // another's list is their own
    const other = await person('dev');
    assert.deepEqual(assertOk(await api(url, 'GET', '/v1/developer/clients', { token: other.token })), []);
  });

  it('refuses bad registrations with a 400 and makes nothing', async () => {
    const dev = await person('dev');
    const bad = [
      [{ name: '' }, /name/],
      [{ name: 'x'.repeat(51) }, /name/],
      [{ name: 'a\u0001b' }, /name/],
      [{ redirect_uri: '' }, /redirect_uri/],
      [{ redirect_uri: '/relative/cb' }, /absolute/],
      [{ redirect_uri: 'javascript:alert(1)' }, /scheme/],
      [{ redirect_uri: 'data:text/html' }, /scheme/],
      [{ redirect_uri: 'https://example.org/a,b' }, /character/],
      [{ redirect_uri: 'https://example.org/cb#frag' }, /fragment/],
      [{ redirect_uri: 'https://user@example.org/cb' }, /user/],
      [{ redirect_uri: 'https:///cb' }, /host/],
      [{ redirect_uri: 'https://example.org/a;b' }, /character/],
      [{ redirect_uri: Array.from({ length: 11 }, (_, i) => `https://e.org/${i}`).join(' ') }, /at most 10/],
      [{ redirect_uri: `https://e.org/${'a'.repeat(600)}` }, /512/],
      [{ website: 'ftp://example.org' }, /website/],
      [{ description: 'd'.repeat(301) }, /description/],
      [{ enforce_signed_requests: 'maybe' }, /true or false/],
      [{ enforce_signed_requests: '' }, /true or false/],
    ];
    for (const [fields, msg] of bad) {
      const r = await api(url, 'POST', '/v1/developer/clients', {
        token: dev.token, form: { name: 'App', redirect_uri: CB, ...fields },
      });
      assertV1Error(r, 400, 'APIInvalidParametersError');
      assert.match(r.body.meta.error_message, msg, JSON.stringify(fields));
    }
    assert.deepEqual(assertOk(await api(url, 'GET', '/v1/developer/clients', { token: dev.token })), []);
  });

  it('deletes an app, and every token it held stops working', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    const t = await authorize(user, app);
    assertOk(await me(t));
    // another person cannot delete it (it is not theirs to see)
    assertV1Error(await api(url, 'DELETE', `/v1/developer/clients/${app.client_id}`, { token: user.token }), 404, 'APINotFoundError');
    assertOk(await api(url, 'DELETE', `/v1/developer/clients/${app.client_id}`, { token: dev.token }));
    assertV1Error(await me(t), 400, 'OAuthAccessTokenException');
    assertV1Error(await api(url, 'DELETE', `/v1/developer/clients/${app.client_id}`, { token: dev.token }), 404, 'APINotFoundError');
    // and it can no longer be authorised
    const page = await raw('GET', '/oauth/authorize', { query: { client_id: app.client_id, redirect_uri: CB, response_type: 'code' } });
    assert.equal(page.status, 400);
    assert.equal(page.location, null);
  });

  it('gives a new secret; the old one stops working', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    const fresh = assertOk(await api(url, 'POST', `/v1/developer/clients/${app.client_id}/secret`, { token: dev.token }));
    assert.equal(fresh.client_id, app.client_id);
    assert.match(fresh.client_secret, /^[0-9a-f]{32}$/);
    assert.notEqual(fresh.client_secret, app.client_secret);
    const r = await decide(user, app);
    const code = new URL(r.location).searchParams.get('code');
    const old = await exchange(app, code);
    assertOAuthError(old, 400);
    assert.equal(old.body.error_message, 'Invalid Client Secret');
    const ok = await exchange(app, code, { secret: fresh.client_secret });
    assert.equal(ok.status, 200, show(ok));
    assertV1Error(await api(url, 'POST', `/v1/developer/clients/${app.client_id}/secret`, { token: user.token }), 404, 'APINotFoundError');
  });
});

/** v1's sig: hex HMAC-SHA256 of the endpoint and the sorted parameters, keyed with the secret. */
function sign(secret, endpoint, params) {
  let msg = endpoint;
  for (const k of Object.keys(params).sort()) msg += `|${k}=${params[k]}`;
  return createHmac('sha256', secret).update(msg).digest('hex');
}

describe('editing an app, and signed requests', () => {
  it('edits an app\'s fields, checked as at registration', async () => {
    const dev = await person('dev');
    const app = await register(dev);
    const e = assertOk(await api(url, 'POST', `/v1/developer/clients/${app.client_id}`, {
      token: dev.token, form: { name: 'Renamed', redirect_uri: `${CB}\nhttps://example.org/back` },
    }));
    assert.equal(e.name, 'Renamed');
    assert.equal(e.description, 'An app of the tests', 'what is not given stays');
    assert.deepEqual(e.redirect_uris, [CB, 'https://example.org/back']);
    assert.equal(e.client_secret, undefined);
    const bad = await api(url, 'POST', `/v1/developer/clients/${app.client_id}`, { token: dev.token, form: { redirect_uri: 'javascript:x' } });
    assertV1Error(bad, 400, 'APIInvalidParametersError');
    const list = assertOk(await api(url, 'GET', '/v1/developer/clients', { token: dev.token }));
    assert.deepEqual(list[0].redirect_uris, [CB, 'https://example.org/back'], 'a refused edit changes nothing');
    const other = await person('dev');
    assertV1Error(await api(url, 'POST', `/v1/developer/clients/${app.client_id}`, { token: other.token, form: { name: 'Mine' } }), 404, 'APINotFoundError');
  });

  it('asks every call of an app that enforces signed requests for its sig, and accepts sig from others', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const owner = await person('own');
    const photo = await postPhoto(owner.token);
    const app = await register(dev, { enforce_signed_requests: 'true' });
    assert.equal(app.enforce_signed_requests, true);
    const token = await authorize(user, app, 'likes');
    const q = { access_token: token, count: '5' };
    const missing = await api(url, 'GET', '/v1/users/self/feed', { query: q });
    assertV1Error(missing, 403, 'OAuthForbiddenException');
    assert.match(missing.body.meta.error_message, /Missing required parameter 'sig'/);
    const wrong = await api(url, 'GET', '/v1/users/self/feed', { query: { ...q, sig: '0'.repeat(64) } });
    assertV1Error(wrong, 403, 'OAuthForbiddenException');
    assert.match(wrong.body.meta.error_message, /does not match/);
    assertOk(await api(url, 'GET', '/v1/users/self/feed', { query: { ...q, sig: sign(app.client_secret, '/users/self/feed', q) } }));
    // a signature over other parameters does not do
    const other = await api(url, 'GET', '/v1/users/self/feed', { query: { ...q, count: '6', sig: sign(app.client_secret, '/users/self/feed', q) } });
    assertV1Error(other, 403, 'OAuthForbiddenException');
    // a form body is signed like the query; a refused call changes nothing
    const like = { access_token: token };
    assertV1Error(await api(url, 'POST', `/v1/media/${photo.id}/likes`, { form: like }), 403, 'OAuthForbiddenException');
    assert.equal(assertOk(await api(url, 'GET', `/v1/media/${photo.id}`, { token: owner.token })).likes.count, 0);
    assertOk(await api(url, 'POST', `/v1/media/${photo.id}/likes`, { form: { ...like, sig: sign(app.client_secret, `/media/${photo.id}/likes`, like) } }));
    // after a new secret, only the new one signs
    const fresh = assertOk(await api(url, 'POST', `/v1/developer/clients/${app.client_id}/secret`, { token: dev.token })).client_secret;
    assertV1Error(await api(url, 'GET', '/v1/users/self/feed', { query: { ...q, sig: sign(app.client_secret, '/users/self/feed', q) } }), 403, 'OAuthForbiddenException');
    assertOk(await api(url, 'GET', '/v1/users/self/feed', { query: { ...q, sig: sign(fresh, '/users/self/feed', q) } }));
    // turned off, sig is accepted and ignored
    assertV1Error(await api(url, 'POST', `/v1/developer/clients/${app.client_id}`, { token: dev.token, form: { enforce_signed_requests: '' } }),
      400, 'APIInvalidParametersError'); // not "off" unasked
    assertOk(await api(url, 'POST', `/v1/developer/clients/${app.client_id}`, { token: dev.token, form: { enforce_signed_requests: 'off' } }));
    const end = Date.now() + 8000; // a cached grant lives 5 s at most
    let r;
    do {
      r = await api(url, 'GET', '/v1/users/self/feed', { query: q });
      if (r.status === 200) break;
      await new Promise((res) => setTimeout(res, 250));
    } while (Date.now() < end);
    assertOk(r);
    assertOk(await api(url, 'GET', '/v1/users/self/feed', { query: { ...q, sig: 'anything' } }));
  });
});

describe('an account deleted by the operator', () => {
  it('takes its apps with it, and their tokens stop', { skip: external && 'runs picogram admin on the data directory' }, async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    const t = await authorize(user, app, 'likes');
    assertOk(await me(t));
    const del = await runAdmin(srv.dataDir, ['delete-user', dev.name, '--yes']);
    assert.equal(del.code, 0, del.err);
    // the token check finds the app gone (a cached grant lives 5 s at most)
    const end = Date.now() + 8000;
    let r;
    do {
      r = await me(t);
      if (r.status === 400) break;
      await new Promise((res) => setTimeout(res, 250));
    } while (Date.now() < end);
    assertV1Error(r, 400, 'OAuthAccessTokenException');
    assert.deepEqual(assertOk(await api(url, 'GET', '/v1/users/self/apps', { token: user.token })), []);
    const page = await raw('GET', '/oauth/authorize', { query: { client_id: app.client_id, redirect_uri: CB, response_type: 'code' } });
    assert.equal(page.status, 400);
  });
});

describe('the authorize endpoint', () => {
  it('answers the web client with a CSP that lets the form reach the app', async () => {
    const dev = await person('dev');
    const app = await register(dev, { redirect_uri: `${CB} myapp://done` });
    for (const p of ['/oauth/authorize', '/oauth/authorize/']) {
      const r = await raw('GET', p, { query: { client_id: app.client_id, redirect_uri: CB, response_type: 'code', scope: 'likes comments', state: 'x' } });
      assert.equal(r.status, 200, show(r));
      assert.match(r.headers.get('content-type'), /^text\/html/);
      assert.match(r.text, /<script type="module" src="\/js\/app.js">/);
      const csp = r.headers.get('content-security-policy');
      assert.match(csp, /form-action 'self' http:\/\/127\.0\.0\.1:9;/);
      assert.match(csp, /frame-ancestors 'none'/);
    }
    const own = await raw('GET', '/oauth/authorize', { query: { client_id: app.client_id, redirect_uri: 'myapp://done', response_type: 'token' } });
    assert.match(own.headers.get('content-security-policy'), /form-action 'self' myapp:;/);
    // what the page shows
    const info = assertOk(await api(url, 'GET', '/web/oauth/app', { query: { client_id: app.client_id, redirect_uri: CB, response_type: 'code', scope: 'likes+comments' } }));
    assert.equal(info.client.name, 'Test App');
    assert.equal(info.client.client_secret, undefined);
    assert.deepEqual(info.scopes, ['basic', 'comments', 'likes']);
    assert.equal(info.response_type, 'code');
  });

  it('never redirects to an unknown client or redirect_uri: an error page', async () => {
    const dev = await person('dev');
    const app = await register(dev);
    const cases = [
      { redirect_uri: CB, response_type: 'code' },
      { client_id: 'f'.repeat(32), redirect_uri: CB, response_type: 'code' },
      { client_id: `${app.client_id.slice(0, 16)}${'0'.repeat(16)}`, redirect_uri: CB, response_type: 'code' },
      { client_id: app.client_id, redirect_uri: 'http://evil.example/cb', response_type: 'code' },
      { client_id: app.client_id, redirect_uri: `${CB}/more`, response_type: 'code' },
      { client_id: app.client_id, response_type: 'code' },
    ];
    for (const q of cases) {
      const r = await raw('GET', '/oauth/authorize', { query: q });
      assert.equal(r.status, 400, JSON.stringify(q));
      assert.equal(r.location, null);
      assert.match(r.headers.get('content-type'), /^text\/html/);
      assert.match(r.text, /data-testid="oauth-error"/);
      const info = await api(url, 'GET', '/web/oauth/app', { query: q });
      assert.equal(info.status, 400);
      // nor does the form's answer
      const post = await raw('POST', '/oauth/authorize', { cookie: dev.cookie, csrf: dev.csrf, form: { ...q, decision: 'allow' } });
      assert.equal(post.status, 400);
      assert.equal(post.location, null);
    }
    // HTML in a parameter is not echoed as markup
    const r = await raw('GET', '/oauth/authorize', { query: { client_id: '<script>x</script>', redirect_uri: CB } });
    assert.ok(!r.text.includes('<script>x'));
  });

  it('refuses an unknown scope as OAuthException, and a bad response_type with an error page', async () => {
    const dev = await person('dev');
    const app = await register(dev);
    const r = await raw('GET', '/oauth/authorize', { query: { client_id: app.client_id, redirect_uri: CB, response_type: 'code', scope: 'likes bogus' } });
    assertOAuthError(r, 400);
    assert.equal(r.body.error_message, 'Invalid scope field(s): bogus');
    // a bad response_type is an error page, never a redirect (an open redirector else)
    for (const response_type of ['magic', undefined]) {
      const q = { client_id: app.client_id, redirect_uri: CB };
      if (response_type) q.response_type = response_type;
      const t = await raw('GET', '/oauth/authorize', { query: q });
      assert.equal(t.status, 400);
      assert.equal(t.location, null);
      assert.match(t.text, /response_type must be code or token/);
    }
    const post = await decide(dev, app, { scope: 'admin' });
    assertOAuthError(post, 400);
    assert.match(post.body.error_message, /Invalid scope field\(s\): admin/);
  });

  it('decides only on the browser session, with its CSRF token', async () => {
    const dev = await person('dev');
    const app = await register(dev);
    const form = { client_id: app.client_id, redirect_uri: CB, response_type: 'code', decision: 'allow' };
    const noCsrf = await raw('POST', '/oauth/authorize', { cookie: dev.cookie, form });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.location, null);
    const wrong = await raw('POST', '/oauth/authorize', { cookie: dev.cookie, form: { ...form, csrf_token: 'A'.repeat(43) } });
    assert.equal(wrong.status, 403);
    const bearer = await raw('POST', '/oauth/authorize', { token: dev.token, form });
    assert.equal(bearer.status, 403);
    assert.equal(bearer.location, null);
    const nobody = await raw('POST', '/oauth/authorize', { form });
    assert.equal(nobody.status, 403);
    const noDecision = await raw('POST', '/oauth/authorize', { cookie: dev.cookie, csrf: dev.csrf, form: { ...form, decision: 'maybe' } });
    assertOAuthError(noDecision, 400);
    // the form field works as the header does
    const ok = await decide(dev, app, { csrfField: true, state: 's' });
    assert.equal(ok.status, 302, show(ok));
    assert.ok(new URL(ok.location).searchParams.get('code'));
  });

  it("takes an app's token as no session: the app cannot answer the consent form to grant itself scopes", async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    const basic = await authorize(user, app); // basic only
    // the app sends its own token as the session cookie, for the session's CSRF token
    const sess = await raw('GET', '/web/session', { cookie: basic });
    assert.equal(sess.status, 200, show(sess));
    assert.equal(sess.body.data, null, `an app's token is no browser session: ${show(sess)}`);
    // and answers the consent form itself, as if its user had allowed more
    const form = { client_id: app.client_id, redirect_uri: CB, response_type: 'token', scope: 'likes comments relationships', decision: 'allow' };
    const r = await raw('POST', '/oauth/authorize', { cookie: basic, csrf: sess.body.data?.csrf_token ?? 'A'.repeat(43), form });
    assert.equal(r.status, 403, show(r));
    assert.equal(r.location, null, 'no token in a redirect');
    // nor does its token act through the cookie anywhere else
    const self = await raw('GET', '/v1/users/self', { cookie: basic });
    assert.equal(self.status, 400, show(self));
    // the user's own session still decides
    const ok = await decide(user, app, { scope: 'likes', state: 's' });
    assert.equal(ok.status, 302, show(ok));
  });
});

describe('the code flow', () => {
  it('redirects with a code and the state, and trades the code once for a token', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev, { redirect_uri: `${CB}?app=1` });
    const r = await decide(user, app, { scope: 'likes', state: 'a b&c=d', redirect: `${CB}?app=1` });
    assert.equal(r.status, 302, show(r));
    const loc = new URL(r.location);
    assert.equal(`${loc.origin}${loc.pathname}`, CB);
    assert.equal(loc.searchParams.get('app'), '1', 'the redirect_uri\'s own query is kept');
    assert.equal(loc.searchParams.get('state'), 'a b&c=d');
    const code = loc.searchParams.get('code');
    assert.ok(code.startsWith(`${user.id}.`));
    const t = await exchange(app, code, { redirect: `${CB}?app=1` });
    assert.equal(t.status, 200, show(t));
    assert.equal(t.body.meta, undefined, 'OAuth answers are not enveloped');
    assert.equal(t.body.user.id, user.id);
    assert.equal(t.body.user.username, user.name);
    assert.ok(t.body.access_token.startsWith(`${user.id}.`));
    assert.equal(assertOk(await me(t.body.access_token)).id, user.id);
    // a second use: no code, and the token the first use made is revoked
    const again = await exchange(app, code, { redirect: `${CB}?app=1` });
    assertOAuthError(again, 400);
    assert.equal(again.body.error_message, 'No matching code found.');
    assertV1Error(await me(t.body.access_token), 400, 'OAuthAccessTokenException');
  });

  it('gives nothing for a wrong client, secret, redirect_uri or code, and keeps the code good', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    const other = await register(dev);
    const code = new URL((await decide(user, app)).location).searchParams.get('code');
    const missing = await api(url, 'POST', '/oauth/access_token', { form: { grant_type: 'authorization_code', client_id: app.client_id } });
    assertOAuthError(missing, 400);
    assert.match(missing.body.error_message, /client_secret/);
    const noClient = await exchange(app, code, { clientId: 'f'.repeat(32) });
    assertOAuthError(noClient, 400);
    assert.equal(noClient.body.error_message, 'Invalid Client ID');
    assert.equal((await exchange(app, code, { secret: '0'.repeat(32) })).body.error_message, 'Invalid Client Secret');
    assert.equal((await exchange(app, code, { redirect: `${CB}x` })).body.error_message, 'No matching code found.');
    assert.equal((await exchange(other, code)).body.error_message, 'No matching code found.');
    assert.equal((await exchange(app, `${code}x`)).body.error_message, 'No matching code found.');
    assert.equal((await exchange(app, 'not-a-code')).body.error_message, 'No matching code found.');
    const ok = await exchange(app, code);
    assert.equal(ok.status, 200, show(ok));
  });

  it('lets a code expire after 10 minutes', { skip: external && 'needs the database' }, async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    const code = new URL((await decide(user, app)).location).searchParams.get('code');
    sqlExec(srv.dataDir, `UPDATE oauth_codes SET expires_at = ${Math.floor(Date.now() / 1000) - 1}`);
    const r = await exchange(app, code);
    assertOAuthError(r, 400);
    assert.equal(r.body.error_message, 'No matching code found.');
  });

  it('the implicit flow puts the token in the fragment', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    const r = await decide(user, app, { type: 'token', scope: 'comments', state: 'z' });
    assert.equal(r.status, 302, show(r));
    const [base, frag] = r.location.split('#');
    assert.equal(base, CB);
    const f = new URLSearchParams(frag);
    assert.equal(f.get('state'), 'z');
    const token = f.get('access_token');
    assert.equal(assertOk(await me(token)).id, user.id);
  });

  it('a denial redirects with access_denied and makes nothing', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    const r = await decide(user, app, { decision: 'deny', state: 'q' });
    assert.equal(r.status, 302);
    const loc = new URL(r.location);
    assert.equal(loc.searchParams.get('error'), 'access_denied');
    assert.equal(loc.searchParams.get('error_reason'), 'user_denied');
    assert.equal(loc.searchParams.get('error_description'), 'The user denied your request');
    assert.equal(loc.searchParams.get('state'), 'q');
    assert.deepEqual(assertOk(await api(url, 'GET', '/v1/users/self/apps', { token: user.token })), []);
  });
});

describe('scopes', () => {
  // Every route of the API with what it needs of a token. Paths name
  // existing things where that matters, so each answer is the handler's.
  const ROUTES = (ctx) => [
    ['GET', '/v1/users/self', 'basic'],
    ['GET', `/v1/users/${ctx.owner.id}`, 'basic'],
    ['GET', '/v1/users/search', 'basic', { q: 'a' }],
    ['GET', `/v1/users/${ctx.owner.id}/media/recent`, 'basic'],
    ['GET', `/v1/users/${ctx.owner.id}/relationship`, 'basic'],
    ['GET', `/v1/users/${ctx.owner.id}/follows`, 'basic'],
    ['GET', `/v1/users/${ctx.owner.id}/followed-by`, 'basic'],
    ['GET', '/v1/users/self/requested-by', 'relationships'],
    ['GET', '/v1/users/self/feed', 'basic'],
    ['GET', '/v1/users/self/media/liked', 'basic'],
    ['GET', '/v1/users/self/activity', 'first'],
    ['GET', `/v1/media/${ctx.media}`, 'basic'],
    ['GET', `/v1/media/${ctx.media}/likes`, 'basic'],
    ['GET', `/v1/media/${ctx.media}/comments`, 'basic'],
    ['GET', '/v1/media/search', 'basic', { lat: '37.77', lng: '-122.41' }],
    ['GET', '/v1/media/popular', 'basic'],
    ['GET', '/v1/tags/search', 'basic', { q: 'sun' }],
    ['GET', '/v1/tags/sunset', 'basic'],
    ['GET', '/v1/tags/sunset/media/recent', 'basic'],
    ['GET', '/v1/locations/search', 'basic', { lat: '37.77', lng: '-122.41' }],
    ['GET', '/v1/geographies/1/media/recent', 'basic', { client_id: 'x' }],
    ['POST', '/v1/accounts/logout', 'basic', null, 'last'],
    ['POST', `/v1/media/${ctx.media}/likes`, 'likes'],
    ['DELETE', `/v1/media/${ctx.media}/likes`, 'likes'],
    ['POST', `/v1/media/${ctx.media}/comments`, 'comments', { text: 'nice' }],
    ['DELETE', `/v1/media/${ctx.media}/comments/1`, 'comments'],
    ['POST', `/v1/users/${ctx.owner.id}/relationship`, 'relationships', { action: 'follow' }],
    ['POST', '/v1/users/self', 'first', { full_name: 'X' }],
    ['POST', '/v1/users/self/password', 'first', { current_password: 'password123', new_password: 'password456' }],
    ['GET', '/v1/users/self/tokens', 'first'],
    ['DELETE', '/v1/users/self/tokens', 'first'],
    ['DELETE', '/v1/users/self/tokens/0123456789abcdef', 'first'],
    ['GET', '/v1/users/self/export', 'first'],
    ['POST', '/v1/media/upload', 'first'],
    ['POST', `/v1/media/${ctx.media}`, 'first', { caption: 'x' }],
    ['DELETE', `/v1/media/${ctx.media}`, 'first'],
    ['GET', '/v1/developer/clients', 'first'],
    ['POST', '/v1/developer/clients', 'first', { name: 'x', redirect_uri: CB }],
    ['DELETE', `/v1/developer/clients/${'0'.repeat(32)}`, 'first'],
    ['POST', `/v1/developer/clients/${'0'.repeat(32)}`, 'first', { name: 'y' }],
    ['POST', `/v1/developer/clients/${'0'.repeat(32)}/secret`, 'first'],
    ['GET', '/v1/users/self/apps', 'first'],
    ['GET', `/v1/developer/clients/${'0'.repeat(32)}/deliveries`, 'first'],
    ['GET', '/v1/users/self/shares', 'first'],
    ['POST', '/v1/users/self/shares', 'first', { server_url: 'https://example.org', token: 'x' }],
    ['DELETE', '/v1/users/self/shares/1', 'first'],
    ['GET', `/v1/media/${ctx.media}/shares`, 'first'],
    ['GET', '/v1/users/self/devices', 'first'],
    ['POST', '/v1/users/self/devices', 'first', { platform: 'apns', token: 'a'.repeat(64) }],
    ['DELETE', '/v1/users/self/devices/1', 'first'],
    ['GET', '/v1/users/self/notifications', 'first'],
    ['POST', '/v1/users/self/notifications', 'first', { likes: 'false' }],
    ['DELETE', `/v1/users/self/apps/${'0'.repeat(32)}`, 'first'],
  ];

  async function call(token, [method, path, , params]) {
    const opts = { token };
    if (params && method === 'GET') opts.query = params;
    else if (params) opts.form = params;
    return api(url, method, path, opts);
  }

  const refusedForScope = (r) => r.status === 400 && r.body?.meta?.error_type === 'OAuthPermissionsException';

  it('holds every endpoint to its scope, for every grant', async () => {
    const dev = await person('dev');
    const owner = await person('own');
    const user = await person('usr');
    const photo = await postPhoto(owner.token, '#sunset');
    const ctx = { owner, media: photo.id };
    const app = await register(dev);
    const grants = ['', 'likes', 'comments', 'relationships', 'likes comments relationships'];
    for (const scope of grants) {
      const have = new Set(['basic', ...scope.split(' ').filter(Boolean)]);
      const routes = ROUTES(ctx);
      for (const route of routes.filter((x) => x[4] !== 'last').concat(routes.filter((x) => x[4] === 'last'))) {
        const token = await authorize(user, app, scope);
        const r = await call(token, route);
        const want = route[2];
        const label = `${route[0]} ${route[1]} with scope "${scope}": ${show(r)}`;
        if (have.has(want)) {
          assert.ok(!refusedForScope(r), label);
          assert.ok(r.status !== 500, label);
        } else {
          assert.ok(refusedForScope(r), label);
          assert.match(r.body.meta.error_message, want === 'first' ? /own clients/ : new RegExp(`requires scope=${want}`), label);
        }
      }
    }
    // the password grant and the web session keep every right
    const pw = (await login(url, user.name, 'password123')).body.access_token;
    assertOk(await api(url, 'GET', '/v1/users/self/tokens', { token: pw }));
    const web = await fetch(`${url}/v1/users/self/apps`, { headers: { cookie: `pg_session=${user.cookie}` } });
    assert.equal(web.status, 200);
  });

  it('a refused write changes nothing', async () => {
    const dev = await person('dev');
    const owner = await person('own');
    const user = await person('usr');
    const photo = await postPhoto(owner.token);
    const app = await register(dev);
    const token = await authorize(user, app, 'comments');
    assertV1Error(await api(url, 'POST', `/v1/media/${photo.id}/likes`, { token }), 400, 'OAuthPermissionsException');
    assertV1Error(await api(url, 'POST', `/v1/users/${owner.id}/relationship`, { token, form: { action: 'follow' } }), 400, 'OAuthPermissionsException');
    const m = assertOk(await api(url, 'GET', `/v1/media/${photo.id}`, { token: owner.token }));
    assert.equal(m.likes.count, 0);
    const rel = assertOk(await api(url, 'GET', `/v1/users/${owner.id}/relationship`, { token: user.token }));
    assert.equal(rel.outgoing_status, 'none');
    assertOk(await api(url, 'POST', `/v1/media/${photo.id}/comments`, { token, form: { text: 'from an app' } }));
  });
});

describe('revocation', () => {
  it('takes a code not yet traded with the app\'s access, and with a password change', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const app = await register(dev);
    await authorize(user, app);
    const code = new URL((await decide(user, app)).location).searchParams.get('code');
    assertOk(await api(url, 'DELETE', `/v1/users/self/apps/${app.client_id}`, { token: user.token }));
    assert.equal((await exchange(app, code)).body.error_message, 'No matching code found.');
    const code2 = new URL((await decide(user, app)).location).searchParams.get('code');
    assertOk(await api(url, 'POST', '/v1/users/self/password', { token: user.token, form: { current_password: 'password123', new_password: 'password456' } }));
    assert.equal((await exchange(app, code2)).body.error_message, 'No matching code found.');
  });
});

describe('a user\'s authorised apps', () => {
  it('lists them with their scopes, and revokes one', async () => {
    const dev = await person('dev');
    const user = await person('usr');
    const a = await register(dev, { name: 'Alpha' });
    const b = await register(dev, { name: 'Beta' });
    const ta = await authorize(user, a, 'likes');
    const ta2 = await authorize(user, a, 'comments');
    const tb = await authorize(user, b);
    const list = assertOk(await api(url, 'GET', '/v1/users/self/apps', { token: user.token }));
    assert.equal(list.length, 2);
    const alpha = list.find((x) => x.client_id === a.client_id);
    assert.equal(alpha.name, 'Alpha');
    assert.deepEqual(alpha.scopes, ['basic', 'comments', 'likes']);
    assert.match(alpha.authorized_time, /^\d+$/);
    assert.equal(alpha.client_secret, undefined);
    assertOk(await api(url, 'DELETE', `/v1/users/self/apps/${a.client_id}`, { token: user.token }));
    assertV1Error(await me(ta), 400, 'OAuthAccessTokenException');
    assertV1Error(await me(ta2), 400, 'OAuthAccessTokenException');
    assertOk(await me(tb));
    const after = assertOk(await api(url, 'GET', '/v1/users/self/apps', { token: user.token }));
    assert.deepEqual(after.map((x) => x.client_id), [b.client_id]);
    assertV1Error(await api(url, 'DELETE', `/v1/users/self/apps/${a.client_id}`, { token: user.token }), 404, 'APINotFoundError');
    // the app's owner sees nothing of who authorised it, and cannot revoke for them
    assertV1Error(await api(url, 'DELETE', `/v1/users/self/apps/${b.client_id}`, { token: dev.token }), 404, 'APINotFoundError');
    assertOk(await me(tb));
  });
});
