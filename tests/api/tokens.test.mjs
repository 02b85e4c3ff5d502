// Passwords and tokens (issue 17):
// - POST /v1/users/self/password (current_password, new_password) changes
//   the password; a wrong current password is a 400 and changes nothing; a
//   change revokes every other token at once (cached ones too), and the
//   request's own stays; wrong current passwords count as failed log-ins
//   of the account (429 with Retry-After past login_backoff_after);
// - GET /v1/users/self/tokens lists the user's tokens (an ID that is not
//   the token, when it was made, which one is this request's);
// - DELETE /v1/users/self/tokens/{id} revokes one (only the owner's);
// - DELETE /v1/users/self/tokens logs out everywhere.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, login, uniqueName, assertV1Error, show, external } from './lib.mjs';

let srv;
let url;
before(async () => {
  srv = await startServer(['--access-log', 'off', '--login-backoff-after', '3']);
  url = srv.url;
});
after(async () => { await srv?.stop(); });

const self = (token) => api(url, 'GET', '/v1/users/self', { token });
const tokens = (token) => api(url, 'GET', '/v1/users/self/tokens', { token });
const change = (token, form) => api(url, 'POST', '/v1/users/self/password', { token, form });
const revoke = (token, id) => api(url, 'DELETE', `/v1/users/self/tokens${id === undefined ? '' : `/${id}`}`, { token });

async function logIn(name, password) {
  const r = await login(url, name, password);
  assert.equal(r.status, 200, show(r));
  return r.body.access_token;
}

async function works(token, what) {
  const r = await self(token);
  assert.equal(r.status, 200, `${what}: ${show(r)}`);
}

/** A token that no longer works: the v1 answer to a bad token. */
function refused(r) {
  assertV1Error(r, 400, 'OAuthAccessTokenException');
}

describe('passwords and tokens', () => {
  it('lists a user\'s tokens, with IDs that are not the tokens', async () => {
    const u = await signup(url, uniqueName('tok'));
    const t2 = await logIn(u.user.username, 'password123');
    const r = await tokens(u.token);
    assert.equal(r.status, 200, show(r));
    const list = r.body.data;
    assert.equal(list.length, 2);
    for (const t of list) {
      assert.deepEqual(Object.keys(t).sort(), ['created_time', 'current', 'id']);
      assert.match(t.id, /^[0-9a-f]{16}$/);
      assert.ok(!u.token.includes(t.id) && !t2.includes(t.id), 'an ID is not a part of the token');
      assert.match(t.created_time, /^\d+$/);
      assert.ok(Math.abs(Number(t.created_time) - Date.now() / 1000) < 600);
    }
    assert.deepEqual(list.map((t) => t.current).sort(), [false, true]);
    // the other token sees the same two, itself the current one
    const other = (await tokens(t2)).body.data;
    assert.deepEqual(other.map((t) => t.id).sort(), list.map((t) => t.id).sort());
    assert.notEqual(other.find((t) => t.current).id, list.find((t) => t.current).id);
  });

  it('changes the password: a wrong current one changes nothing; a right one revokes every other token', async () => {
    const u = await signup(url, uniqueName('pwd'));
    const name = u.user.username;
    const t2 = await logIn(name, 'password123');
    const t3 = await logIn(name, 'password123');
    for (const t of [u.token, t2, t3]) await works(t, 'before'); // each is now cached

    for (const form of [
      {}, // nothing given
      { new_password: 'brand new pass' }, // no current_password
      { current_password: 'password123' }, // no new_password
      { current_password: 'password123', new_password: 'short' }, // too short
    ]) {
      assertV1Error(await change(t2, form), 400, 'APIInvalidParametersError');
    }
    assertV1Error(await change(t2, { current_password: 'not my password', new_password: 'brand new pass' }), 400,
      'APIInvalidParametersError');
    for (const t of [u.token, t2, t3]) await works(t, 'after refused changes');
    await logIn(name, 'password123'); // the old password still logs in (and clears the failure count)

    const r = await change(t2, { current_password: 'password123', new_password: 'brand new pass' });
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.body, { meta: { code: 200 }, data: null });
    await works(t2, "the request's own token");
    refused(await self(u.token)); // another token, cached a moment ago
    refused(await self(t3)); // a third
    assert.equal((await tokens(t2)).body.data.length, 1);
    assert.equal((await login(url, name, 'password123')).status, 400, 'the old password no longer logs in');
    await logIn(name, 'brand new pass');
  });

  it('wrong current passwords count as failed log-ins of the account', { skip: external && 'counts per server' }, async () => {
    const u = await signup(url, uniqueName('pwdthr'));
    for (let i = 0; i < 4; i++) {
      assertV1Error(await change(u.token, { current_password: `wrong ${i}`, new_password: 'brand new pass' }), 400,
        'APIInvalidParametersError');
    }
    const r = await change(u.token, { current_password: 'password123', new_password: 'brand new pass' });
    assertV1Error(r, 429, 'OAuthRateLimitException');
    assert.ok(Number(r.headers.get('retry-after')) >= 1, show(r));
    assert.equal((await login(url, u.user.username, 'password123')).status, 429, 'the log-in form waits too');
  });

  it('revokes one token, only its owner\'s, and then all of them (log-out everywhere)', async () => {
    const u = await signup(url, uniqueName('rev'));
    const name = u.user.username;
    const t2 = await logIn(name, 'password123');
    const t3 = await logIn(name, 'password123');
    const stranger = await signup(url, uniqueName('revx'));
    for (const t of [u.token, t2, t3]) await works(t, 'before');
    const list = (await tokens(u.token)).body.data;
    const ofT2 = (await tokens(t2)).body.data.find((t) => t.current).id;
    assertV1Error(await revoke(stranger.token, ofT2), 404, 'APINotFoundError');
    for (const bad of ['0000000000000000', 'zz', 'ABCDEF0123456789', '0123456789abcdef0']) {
      assertV1Error(await revoke(u.token, bad), 404, 'APINotFoundError');
    }
    await works(t2, 'after refused revocations');
    const r = await revoke(u.token, ofT2);
    assert.equal(r.status, 200, show(r));
    refused(await self(t2)); // the revoked token, cached a moment ago
    assertV1Error(await revoke(u.token, ofT2), 404, 'APINotFoundError');
    await works(u.token, 'the others');
    await works(t3, 'the others');
    assert.equal((await tokens(u.token)).body.data.length, list.length - 1);

    const all = await revoke(t3);
    assert.equal(all.status, 200, show(all));
    for (const t of [u.token, t3]) refused(await self(t));
    await works(stranger.token, "someone else's");
    await logIn(name, 'password123');
  });
});
