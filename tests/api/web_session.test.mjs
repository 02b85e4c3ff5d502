// The browser session (POST /web/accounts, POST/GET/DELETE /web/session):
// the token lives in an HttpOnly, SameSite=Strict cookie, never in a body
// JavaScript can read; the API takes the cookie like a token; state changes
// on the cookie need the session's X-CSRF-Token; /web/* writes need
// X-Requested-With. And the web client's static files: served at / and at
// /p/CODE/ with a Content-Security-Policy, the API unchanged beside them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, uniqueName, assertOk, assertV1Error, show, external } from './lib.mjs';

let srv;
let url;
before(async () => {
  srv = await startServer(['--access-log', 'off']);
  url = srv.url;
});
after(async () => { await srv?.stop(); });

const XRW = { 'x-requested-with': 'picogram' };

/** fetch with a cookie jar of one cookie; returns {status, body, headers, cookie} */
async function web(method, path, { cookie, csrf, form, headers = {} } = {}) {
  const h = { ...headers };
  if (cookie) h.cookie = `pg_session=${cookie}`;
  if (csrf) h['x-csrf-token'] = csrf;
  const init = { method, headers: h };
  if (form) {
    init.body = new URLSearchParams(form).toString();
    h['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(url + path, init);
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  const setCookie = res.headers.get('set-cookie');
  return { status: res.status, body, text, headers: res.headers, setCookie };
}

function sessionCookie(r) {
  assert.ok(r.setCookie, `no Set-Cookie: ${r.text}`);
  const m = /pg_session=([^;]*)/.exec(r.setCookie);
  assert.ok(m, r.setCookie);
  return m[1];
}

async function webSignup(name = uniqueName('web')) {
  const r = await web('POST', '/web/accounts', { form: { username: name, password: 'password123', full_name: 'Web User' }, headers: XRW });
  const data = assertOk(r);
  return { name, cookie: sessionCookie(r), csrf: data.csrf_token, user: data.user };
}

describe('browser sign-up and log-in', () => {
  it('signs up into an HttpOnly, SameSite=Strict cookie and answers the user and a CSRF token, not the token', async () => {
    const name = uniqueName('web');
    const r = await web('POST', '/web/accounts', { form: { username: name, password: 'password123' }, headers: XRW });
    const data = assertOk(r);
    assert.deepEqual(Object.keys(data).sort(), ['csrf_token', 'user']);
    assert.equal(data.user.username, name);
    assert.match(data.csrf_token, /^[A-Za-z0-9_-]{43}$/);
    const cookie = sessionCookie(r);
    assert.ok(!r.text.includes(cookie), 'the token never appears in the body');
    assert.match(r.setCookie, /HttpOnly/);
    assert.match(r.setCookie, /SameSite=Strict/);
    assert.match(r.setCookie, /Path=\//);
    assert.doesNotMatch(r.setCookie, /Secure/, 'plain http public_url: no Secure flag');
    // the cookie works on the API like a token
    const me = assertOk(await web('GET', '/v1/users/self', { cookie }));
    assert.equal(me.username, name);
  });

  it('logs in with a password, refuses a wrong one with a v1 error and no cookie', async () => {
    const u = await webSignup();
    const ok = await web('POST', '/web/session', { form: { username: u.name, password: 'password123' }, headers: XRW });
    const data = assertOk(ok);
    assert.equal(data.user.id, u.user.id);
    const c2 = sessionCookie(ok);
    assert.notEqual(c2, u.cookie, 'a new session');
    const bad = await web('POST', '/web/session', { form: { username: u.name, password: 'wrong-password' }, headers: XRW });
    assertV1Error(bad, 400, 'APIInvalidParametersError');
    assert.match(bad.body.meta.error_message, /incorrect/);
    assert.equal(bad.setCookie, null);
    const none = await web('POST', '/web/session', { form: { username: uniqueName('ghost'), password: 'password123' }, headers: XRW });
    assertV1Error(none, 400, 'APIInvalidParametersError');
    assertV1Error(await web('POST', '/web/session', { form: { username: u.name }, headers: XRW }), 400, 'APIInvalidParametersError');
  });

  it('refuses sign-up problems like /v1/accounts does', async () => {
    const u = await webSignup();
    assertV1Error(await web('POST', '/web/accounts', { form: { username: u.name, password: 'password123' }, headers: XRW }), 400);
    assertV1Error(await web('POST', '/web/accounts', { form: { username: uniqueName('w'), password: 'short' }, headers: XRW }), 400);
    assertV1Error(await web('POST', '/web/accounts', { form: { username: 'bad name!', password: 'password123' }, headers: XRW }), 400);
  });

  it('needs X-Requested-With on /web/* writes, so a cross-site form cannot log a browser in', async () => {
    const name = uniqueName('web');
    const r = await web('POST', '/web/accounts', { form: { username: name, password: 'password123' } });
    assertV1Error(r, 403, 'OAuthPermissionsException');
    assert.equal(r.setCookie, null);
    // nothing was created: the name is still free
    assertOk(await web('POST', '/web/accounts', { form: { username: name, password: 'password123' }, headers: XRW }));
    assertV1Error(await web('POST', '/web/session', { form: { username: name, password: 'password123' } }), 403);
  });
});

describe('the session', () => {
  it('GET /web/session answers the user and CSRF token, or null without a session', async () => {
    const u = await webSignup();
    const s = assertOk(await web('GET', '/web/session', { cookie: u.cookie }));
    assert.equal(s.user.id, u.user.id);
    assert.equal(s.csrf_token, u.csrf);
    const anon = await web('GET', '/web/session');
    assert.equal(anon.status, 200);
    assert.equal(anon.body.data, null);
    assert.equal(anon.setCookie, null);
    const stale = await web('GET', '/web/session', { cookie: `${u.user.id}.forged` });
    assert.equal(stale.body.data, null);
    assert.match(stale.setCookie, /pg_session=;.*Max-Age=0/, 'a stale cookie is cleared');
  });

  it('asks the CSRF token of state changes made on the cookie, and only of those', async () => {
    const u = await webSignup();
    const other = await webSignup();
    // GET needs none
    assertOk(await web('GET', '/v1/users/self', { cookie: u.cookie }));
    // a POST without it, or with another session's, changes nothing
    for (const csrf of [undefined, other.csrf, 'x'.repeat(43), '']) {
      const r = await web('POST', '/v1/users/self', { cookie: u.cookie, csrf, form: { bio: 'forged' } });
      assertV1Error(r, 403, 'OAuthPermissionsException');
    }
    assert.equal(assertOk(await web('GET', '/v1/users/self', { cookie: u.cookie })).bio, '');
    // nor does a relationship change without it
    assertV1Error(await web('POST', `/v1/users/${other.user.id}/relationship`, {
      cookie: u.cookie, form: { action: 'follow' } }), 403);
    const rel = assertOk(await web('GET', `/v1/users/${other.user.id}/relationship`, { cookie: u.cookie }));
    assert.equal(rel.outgoing_status, 'none');
    // with it, the change lands
    const ok = assertOk(await web('POST', '/v1/users/self', { cookie: u.cookie, csrf: u.csrf, form: { bio: 'mine' } }));
    assert.equal(ok.bio, 'mine');
    assertOk(await web('POST', `/v1/users/${other.user.id}/relationship`, { cookie: u.cookie, csrf: u.csrf, form: { action: 'follow' } }));
  });

  it('leaves token clients alone: a Bearer or access_token request needs no CSRF token', async () => {
    const t = await signup(url, uniqueName('tok'));
    const r = await api(url, 'POST', '/v1/users/self', { token: t.token, form: { bio: 'via token' } });
    assert.equal(assertOk(r).bio, 'via token');
    // a token in the request wins over a cookie beside it
    const u = await webSignup();
    const both = await fetch(`${url}/v1/users/self?access_token=${encodeURIComponent(t.token)}`, { headers: { cookie: `pg_session=${u.cookie}` } });
    assert.equal((await both.json()).data.id, t.user.id);
  });

  it('logs out: the token is revoked and the cookie cleared', async () => {
    const u = await webSignup();
    assertV1Error(await web('DELETE', '/web/session', { cookie: u.cookie, headers: XRW }), 403, 'OAuthPermissionsException');
    const out = await web('DELETE', '/web/session', { cookie: u.cookie, csrf: u.csrf, headers: XRW });
    assert.equal(out.status, 200, show(out));
    assert.equal(out.body.data, null);
    assert.match(out.setCookie, /pg_session=;.*Max-Age=0/);
    assertV1Error(await web('GET', '/v1/users/self', { cookie: u.cookie }), 400, 'OAuthAccessTokenException');
    assert.equal((await web('GET', '/web/session', { cookie: u.cookie })).body.data, null);
  });

  it('finds the session cookie among others', async () => {
    const u = await webSignup();
    const res = await fetch(`${url}/v1/users/self`, { headers: { cookie: `a=1; pg_session_x=2;pg_session=${u.cookie}; z=3` } });
    assert.equal((await res.json()).data.id, u.user.id);
    const none = await fetch(`${url}/v1/users/self`, { headers: { cookie: 'pg_session=' } });
    assert.equal(none.status, 400);
  });
});

describe('the web client files', { skip: external && 'needs the default web root' }, () => {
  it('serves the client at / with a strict Content-Security-Policy', async () => {
    const r = await fetch(url + '/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/html/);
    const csp = r.headers.get('content-security-policy');
    assert.ok(csp, 'a CSP header');
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    // photo URLs are absolute (public_url): their origin is named, so the page
    // works under another name for the same host too
    assert.ok(csp.includes(`img-src 'self' blob: data: ${url}`), csp);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const html = await r.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
    assert.doesNotMatch(html, /<style/i, 'no inline style');
    assert.doesNotMatch(html, /\sstyle=/i, 'no style attributes');
  });

  it('opens photo links (/p/CODE/) on the client page', async () => {
    const r = await fetch(url + '/p/DpjIiiSFiQA/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/html/);
    assert.ok(r.headers.get('content-security-policy'));
    assert.equal(await r.text(), await (await fetch(url + '/')).text());
  });

  it('answers a missing file with a JSON 404, and keeps the API at its prefixes', async () => {
    const r = await fetch(url + '/no/such/file.js');
    assert.equal(r.status, 404);
    assert.equal((await r.json()).meta.error_type, 'APINotFoundError');
    const a = await fetch(url + '/v1/nope');
    assert.equal((await a.json()).meta.error_type, 'APINotFoundError');
  });

  it('serves JSON only when the web client is off', async () => {
    const off = await startServer(['--access-log', 'off', '--web-root', 'off']);
    try {
      const r = await fetch(off.url + '/');
      assert.equal(r.status, 404);
      assert.equal((await r.json()).meta.error_type, 'APINotFoundError');
    } finally {
      await off.stop();
    }
  });
});
