// Check-then-write paths driven concurrently (Cluster I). SQLite has one
// writer at a time; PostgreSQL's READ COMMITTED lets transactions
// interleave, so each of these is correct only by its unique keys,
// ON CONFLICT or locks: profile edits of different fields all land, one
// place is made for one name at one spot, follows and likes repeated at
// once count once, and popular stays one job.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer, api, signup, uniqueName, uploadPhoto, assertOk, show } from './lib.mjs';
import { mapLimit } from './feed_util.mjs';

let srv;
let url;
before(async () => {
  srv = await startServer(['--access-log', 'off', '--max-concurrent-uploads', '16', '--workers', '4']);
  url = srv.url;
});
after(async () => { await srv?.stop(); });

const self = async (who) => assertOk(await api(url, 'GET', '/v1/users/self', { token: who.token }));

describe('at once', () => {
  it('profile edits of different fields all land', async () => {
    const u = await signup(url, uniqueName('race'));
    for (let round = 0; round < 3; round++) {
      const edits = { full_name: `Racing Name ${round}`, bio: `racing bio ${round}`, website: `https://race.example/${round}`,
        is_private: round % 2 ? 'true' : 'false' };
      const rs = await Promise.all(Object.entries(edits).map(([k, v]) =>
        api(url, 'POST', '/v1/users/self', { token: u.token, form: { [k]: v } })));
      for (const r of rs) assert.equal(r.status, 200, show(r));
      const me = await self(u);
      assert.equal(me.full_name, edits.full_name);
      assert.equal(me.bio, edits.bio);
      assert.equal(me.website, edits.website);
      assert.equal(me.is_private, round % 2 === 1);
    }
  });

  it('one place for one name at one spot, however many uploads make it at once', async () => {
    const u = await signup(url, uniqueName('place'));
    const name = `Race Spot ${randomBytes(3).toString('hex')}`;
    const lat = (Math.random() * 100 - 50).toFixed(5);
    const lng = (Math.random() * 300 - 150).toFixed(5);
    const rs = await mapLimit(Array.from({ length: 8 }), 8, () => uploadPhoto(url, {
      token: u.token, photo: 'tiny-1x1.jpg', fields: { lat, lng, location_name: name } }));
    const places = new Set(rs.map((r) => assertOk(r).location.id));
    assert.equal(places.size, 1, `one place: ${[...places]}`);
    const listed = assertOk(await api(url, 'GET', `/v1/locations/${[...places][0]}/media/recent`, { token: u.token }));
    assert.equal(listed.length, 8);
  });

  it('the same follow, and the same like, sent many times at once count once', async () => {
    const [a, b] = await mapLimit([0, 1], 2, () => signup(url, uniqueName('twice')));
    const m = assertOk(await uploadPhoto(url, { token: a.token, photo: 'tiny-1x1.jpg' }));
    const rs = await Promise.all([
      ...Array.from({ length: 10 }, () => api(url, 'POST', `/v1/users/${a.user.id}/relationship`, { token: b.token, form: { action: 'follow' } })),
      ...Array.from({ length: 10 }, () => api(url, 'POST', `/v1/media/${m.id}/likes`, { token: b.token })),
    ]);
    for (const r of rs) assert.equal(r.status, 200, show(r));
    assert.equal((await self(b)).counts.follows, 1);
    assert.equal((await self(a)).counts.followed_by, 1);
    assert.equal(assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: b.token })).likes.count, 1);
    // and undone many times at once
    const undo = await Promise.all([
      ...Array.from({ length: 10 }, () => api(url, 'POST', `/v1/users/${a.user.id}/relationship`, { token: b.token, form: { action: 'unfollow' } })),
      ...Array.from({ length: 10 }, () => api(url, 'DELETE', `/v1/media/${m.id}/likes`, { token: b.token })),
    ]);
    for (const r of undo) assert.equal(r.status, 200, show(r));
    assert.equal((await self(b)).counts.follows, 0);
    assert.equal((await self(a)).counts.followed_by, 0);
    assert.equal(assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: b.token })).likes.count, 0);
    assert.deepEqual(assertOk(await api(url, 'GET', '/v1/users/self/media/liked', { token: b.token })), []);
  });

  it('follows and unfollows interleaved at once leave counts that match the lists', async () => {
    const users = await mapLimit(Array.from({ length: 6 }), 3, () => signup(url, uniqueName('mesh')));
    const ops = [];
    for (const u of users) {
      for (const v of users) {
        if (u === v) continue;
        for (const action of ['follow', 'unfollow', 'follow']) ops.push([u, v, action]);
      }
    }
    ops.sort(() => Math.random() - 0.5);
    const rs = await mapLimit(ops, 16, ([u, v, action]) =>
      api(url, 'POST', `/v1/users/${v.user.id}/relationship`, { token: u.token, form: { action } }));
    // each one succeeds: two that cross (u follows v as v follows u) may
    // deadlock on PostgreSQL, and the one it picks runs again
    for (const r of rs) assert.equal(r.status, 200, show(r));
    for (const u of users) {
      const me = await self(u);
      const follows = assertOk(await api(url, 'GET', `/v1/users/${u.user.id}/follows`, { token: u.token }));
      const followers = assertOk(await api(url, 'GET', `/v1/users/${u.user.id}/followed-by`, { token: u.token }));
      assert.equal(me.counts.follows, follows.length, `follows of ${u.user.username}`);
      assert.equal(me.counts.followed_by, followers.length, `followers of ${u.user.username}`);
    }
  });
});
