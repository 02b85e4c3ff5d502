// The social graph: follow, requests to private accounts, approve/ignore,
// block/unblock, the lists and their pagination, privacy of media and lists,
// counters, and idempotence of every action.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, uniqueName } from './lib.mjs';

let srv;
let url;
before(async () => { srv = await startServer(['--access-log', 'off']); url = srv.url; });
after(async () => { await srv.stop(); });

const rel = (who, target, action) =>
  api(url, 'POST', `/v1/users/${target.user.id}/relationship`, { token: who.token, form: action ? { action } : {} });
const relGet = (who, target) => api(url, 'GET', `/v1/users/${target.user.id}/relationship`, { token: who.token });
const me = async (who) => (await api(url, 'GET', '/v1/users/self', { token: who.token })).body.data;
const list = (who, path, query = {}) => api(url, 'GET', path, { token: who.token, query });
const ids = (r) => r.body.data.map((u) => u.id);

async function users(n, prefix) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await signup(url, uniqueName(prefix)));
  return out;
}

async function makePrivate(who) {
  const r = await api(url, 'POST', '/v1/users/self', { token: who.token, form: { is_private: 'true' } });
  assert.equal(r.status, 200);
}

describe('follow and unfollow', () => {
  it('follows a public account, is idempotent, and counts exactly', async () => {
    const [a, b] = await users(2, 'fol');
    for (let i = 0; i < 3; i++) {
      const r = await rel(a, b, 'follow');
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.data, { outgoing_status: 'follows' });
    }
    assert.deepEqual((await relGet(a, b)).body.data,
      { outgoing_status: 'follows', incoming_status: 'none', target_user_is_private: false });
    assert.deepEqual((await relGet(b, a)).body.data,
      { outgoing_status: 'none', incoming_status: 'followed_by', target_user_is_private: false });
    assert.equal((await me(a)).counts.follows, 1);
    assert.equal((await me(b)).counts.followed_by, 1);
    for (let i = 0; i < 2; i++) assert.deepEqual((await rel(a, b, 'unfollow')).body.data, { outgoing_status: 'none' });
    assert.equal((await me(a)).counts.follows, 0);
    assert.equal((await me(b)).counts.followed_by, 0);
  });

  it('refuses yourself, unknown users, and unknown actions', async () => {
    const [a] = await users(1, 'self');
    let r = await rel(a, a, 'follow');
    assert.equal(r.status, 400);
    assert.equal(r.body.meta.error_type, 'APIInvalidParametersError');
    r = await api(url, 'POST', '/v1/users/self/relationship', { token: a.token, form: { action: 'follow' } });
    assert.equal(r.status, 400);
    r = await api(url, 'POST', '/v1/users/123456789/relationship', { token: a.token, form: { action: 'follow' } });
    assert.equal(r.status, 404);
    const [b] = await users(1, 'tgt');
    for (const action of [undefined, '', 'FOLLOW', 'like', 'follow;drop']) {
      r = await rel(a, b, action);
      assert.equal(r.status, 400, `${action}: ${r.text}`);
    }
    assert.equal((await me(a)).counts.follows, 0);
  });
});

describe('private accounts', () => {
  it('makes a request, which the owner approves; ignore and deny drop it', async () => {
    const [owner, x, y, z] = await users(4, 'priv');
    await makePrivate(owner);
    for (const who of [x, y, z]) {
      const r = await rel(who, owner, 'follow');
      assert.deepEqual(r.body.data, { outgoing_status: 'requested' });
    }
    assert.deepEqual((await rel(x, owner, 'follow')).body.data, { outgoing_status: 'requested' }); // idempotent
    assert.equal((await relGet(x, owner)).body.data.target_user_is_private, true);
    assert.equal((await relGet(owner, x)).body.data.incoming_status, 'requested_by');
    const pending = await list(owner, '/v1/users/self/requested-by');
    assert.deepEqual(new Set(ids(pending)), new Set([x.user.id, y.user.id, z.user.id]));
    assert.equal((await me(owner)).counts.followed_by, 0); // requests are not followers

    assert.equal((await rel(owner, x, 'approve')).status, 200);
    assert.equal((await rel(owner, x, 'approve')).status, 200); // idempotent
    assert.equal((await rel(owner, y, 'ignore')).status, 200);
    assert.equal((await rel(owner, z, 'deny')).status, 200);
    assert.deepEqual(ids(await list(owner, '/v1/users/self/requested-by')), []);
    assert.equal((await relGet(x, owner)).body.data.outgoing_status, 'follows');
    assert.equal((await relGet(y, owner)).body.data.outgoing_status, 'none');
    assert.equal((await relGet(z, owner)).body.data.outgoing_status, 'none');
    assert.equal((await me(owner)).counts.followed_by, 1);
    // approving someone who never asked changes nothing
    const [w] = await users(1, 'never');
    assert.equal((await rel(owner, w, 'approve')).status, 200);
    assert.equal((await relGet(w, owner)).body.data.outgoing_status, 'none');
  });

  it('follows an account as it is now: a request once it goes private, though it was just seen public', async () => {
    // the target and its privacy come from the user cache: the privacy must be the account's as it is now
    const [owner, x, y] = await users(3, 'turn');
    for (const who of [x, y]) assert.equal((await api(url, 'GET', `/v1/users/${owner.user.id}`, { token: who.token })).status, 200);
    assert.deepEqual((await rel(x, owner, 'follow')).body.data, { outgoing_status: 'follows' });
    assert.deepEqual((await rel(x, owner, 'unfollow')).body.data, { outgoing_status: 'none' });
    await makePrivate(owner);
    for (const who of [x, y]) assert.deepEqual((await rel(who, owner, 'follow')).body.data, { outgoing_status: 'requested' });
    assert.equal((await me(owner)).counts.followed_by, 0);
  });

  it('shows lists and media only to approved followers and the owner', async () => {
    const [owner, fan, stranger] = await users(3, 'vis');
    await makePrivate(owner);
    await rel(fan, owner, 'follow');
    await rel(stranger, owner, 'follow'); // stays requested
    await rel(owner, fan, 'approve');
    for (const path of ['followed-by', 'follows', 'media/recent']) {
      const p = `/v1/users/${owner.user.id}/${path}`;
      assert.equal((await list(owner, p)).status, 200, path);
      assert.equal((await list(fan, p)).status, 200, path);
      const r = await list(stranger, p);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.meta.error_type, 'APINotAllowedError');
    }
  });
});

describe('blocks', () => {
  it('ends follows both ways, forbids following, and lifts on unblock', async () => {
    const [a, b] = await users(2, 'blk');
    await rel(a, b, 'follow');
    await rel(b, a, 'follow');
    assert.equal((await me(a)).counts.follows, 1);
    for (let i = 0; i < 2; i++) assert.equal((await rel(a, b, 'block')).status, 200);
    const ra = (await relGet(a, b)).body.data;
    assert.equal(ra.outgoing_status, 'none');
    assert.equal(ra.incoming_status, 'blocked_by_you');
    // to b, a is not there: no relationship to read, nothing to follow
    let r = await relGet(b, a);
    assert.equal(r.status, 404, r.text);
    assert.equal(r.body.meta.error_type, 'APINotFoundError');
    for (const u of [a, b]) {
      const c = (await me(u)).counts;
      assert.equal(c.follows, 0);
      assert.equal(c.followed_by, 0);
    }
    r = await rel(b, a, 'follow');
    assert.equal(r.status, 404);
    assert.equal(r.body.meta.error_type, 'APINotFoundError');
    r = await rel(a, b, 'follow'); // the blocker must unblock first
    assert.equal(r.status, 400);
    assert.equal(r.body.meta.error_type, 'APINotAllowedError');
    // the blocked user cannot see the blocker's lists or media (to them the
    // blocker is not there), and the blocker cannot see the blocked user's
    r = await list(b, `/v1/users/${a.user.id}/media/recent`);
    assert.equal(r.status, 404);
    assert.equal(r.body.meta.error_type, 'APINotFoundError');
    r = await list(a, `/v1/users/${b.user.id}/media/recent`);
    assert.equal(r.status, 400);
    assert.equal(r.body.meta.error_type, 'APINotAllowedError');
    for (let i = 0; i < 2; i++) assert.equal((await rel(a, b, 'unblock')).status, 200);
    assert.equal((await relGet(a, b)).body.data.incoming_status, 'none');
    assert.deepEqual((await rel(b, a, 'follow')).body.data, { outgoing_status: 'follows' });
  });
});

describe('lists', () => {
  it('walks follows and followed-by page by page, each user exactly once', async () => {
    const [hub, ...fans] = await users(8, 'lst');
    for (const f of fans) await rel(f, hub, 'follow');
    for (const f of fans.slice(0, 5)) await rel(hub, f, 'follow');
    for (const [path, want] of [['followed-by', fans], ['follows', fans.slice(0, 5)]]) {
      const seen = [];
      let r = await list(hub, `/v1/users/${hub.user.id}/${path}`, { count: 3 });
      for (let pages = 0; ; pages++) {
        assert.equal(r.status, 200, r.text);
        seen.push(...ids(r));
        const pg = r.body.pagination;
        if (!pg) break;
        assert.ok(pages < 10);
        assert.ok(pg.next_cursor && pg.next_url.includes(`cursor=${pg.next_cursor}`));
        r = await api(pg.next_url, 'GET', '', { token: hub.token });
      }
      assert.equal(seen.length, want.length, path);
      assert.deepEqual(new Set(seen), new Set(want.map((u) => u.user.id)), path);
    }
    const r = await list(hub, `/v1/users/${hub.user.id}/followed-by`, { cursor: 'abc' });
    assert.equal(r.status, 400);
    const c = await list(hub, `/v1/users/${hub.user.id}/followed-by`, { count: 0 });
    assert.equal(c.status, 400);
  });

  it('lists newest first: follows, followers and requests, in the order they were made, page after page', async () => {
    const [hub, ...fans] = await users(6, 'new');
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const walk = async (who, path) => {
      const seen = [];
      let r = await list(who, path, { count: 2 });
      for (let pages = 0; ; pages++) {
        assert.equal(r.status, 200, r.text);
        seen.push(...ids(r));
        if (!r.body.pagination) return seen;
        assert.ok(pages < 10);
        r = await api(r.body.pagination.next_url, 'GET', '', { token: who.token });
      }
    };
    // fans follow one by one, in an order unlike their IDs'
    const order = [fans[2], fans[0], fans[4], fans[1], fans[3]];
    for (const f of order) { await rel(f, hub, 'follow'); await sleep(5); }
    for (const f of [fans[3], fans[1], fans[0]]) { await rel(hub, f, 'follow'); await sleep(5); }
    assert.deepEqual(await walk(hub, `/v1/users/${hub.user.id}/followed-by`), order.map((u) => u.user.id).reverse());
    assert.deepEqual(await walk(hub, `/v1/users/${hub.user.id}/follows`), [fans[0], fans[1], fans[3]].map((u) => u.user.id));
    // a follow again changes nothing; an unfollow and a follow make it the newest
    await rel(order[0], hub, 'follow');
    assert.equal(ids(await list(hub, `/v1/users/${hub.user.id}/followed-by`, { count: 1 }))[0], order[4].user.id);
    await rel(order[0], hub, 'unfollow');
    await sleep(5);
    await rel(order[0], hub, 'follow');
    assert.equal(ids(await list(hub, `/v1/users/${hub.user.id}/followed-by`, { count: 1 }))[0], order[0].user.id);

    // requests to a private account, newest first; an approval makes the newest follower
    const [priv, ...askers] = await users(4, 'newp');
    await makePrivate(priv);
    for (const a of askers) { await rel(a, priv, 'follow'); await sleep(5); }
    assert.deepEqual(await walk(priv, '/v1/users/self/requested-by'), askers.map((u) => u.user.id).reverse());
    await rel(priv, askers[2], 'approve');
    await sleep(5);
    await rel(priv, askers[0], 'approve');
    assert.deepEqual(await walk(priv, `/v1/users/${priv.user.id}/followed-by`), [askers[0], askers[2]].map((u) => u.user.id));
    assert.deepEqual(await walk(priv, '/v1/users/self/requested-by'), [askers[1].user.id]);

    for (const bad of ['abc', '123', '_5', '5_', '1_x', '-1_2', '99999999999999999999_1']) {
      const r = await list(hub, `/v1/users/${hub.user.id}/followed-by`, { cursor: bad });
      assert.equal(r.status, 400, `cursor ${bad}: ${r.text}`);
    }
  });

  it('keeps exact counters under concurrent follows and unfollows', async () => {
    const [star, ...fans] = await users(9, 'cnt');
    await Promise.all(fans.map((f) => rel(f, star, 'follow')));
    await Promise.all(fans.map((f) => rel(f, star, 'follow')));
    assert.equal((await me(star)).counts.followed_by, fans.length);
    await Promise.all(fans.slice(0, 4).map((f) => rel(f, star, 'unfollow')));
    assert.equal((await me(star)).counts.followed_by, fans.length - 4);
    const listed = await list(star, `/v1/users/${star.user.id}/followed-by`, { count: 100 });
    assert.equal(listed.body.data.length, fans.length - 4);
  });
});
