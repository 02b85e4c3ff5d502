// Blocks, as people know them from Instagram (issue 17, defect 5):
// - to the user they block, the blocker is not there: their profile, their
//   photos and lists are 404s, search leaves them out, and their likes and
//   comments on other people's photos are left out of every list and media
//   object (the counts stay); the blocker can still see the blocked user's
//   profile, to unblock them, and sees nothing more of theirs on others'
//   photos either;
// - a block takes the blocked user's likes and comments off the blocker's
//   photos (a job: the blocker's photos may be many), with their news and
//   counts; until it has, the blocked user can still unlike and delete
//   their own comments there;
// - an unblock brings back what was hidden, not what was taken.
import { describe, it, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startServer, launchOn, api, signup, uniqueName, uploadPhoto, assertOk, assertV1Error, show, external,
} from './lib.mjs';
import { poll } from './feed_util.mjs';

const ids = (list) => list.map((x) => x.id);
const texts = (list) => list.map((c) => c.text);

/** The calls every test makes, against the server at url. */
function client(url) {
  const c = {
    photo: async (who) => assertOk(await uploadPhoto(url, { token: who.token, photo: 'tiny-1x1.jpg' })),
    like: (who, m) => api(url, 'POST', `/v1/media/${m.id}/likes`, { token: who.token }),
    unlike: (who, m) => api(url, 'DELETE', `/v1/media/${m.id}/likes`, { token: who.token }),
    comment: (who, m, text) => api(url, 'POST', `/v1/media/${m.id}/comments`, { token: who.token, form: { text } }),
    comments: (who, m) => api(url, 'GET', `/v1/media/${m.id}/comments`, { token: who.token }),
    likes: (who, m) => api(url, 'GET', `/v1/media/${m.id}/likes`, { token: who.token }),
    media: (who, m) => api(url, 'GET', `/v1/media/${m.id}`, { token: who.token }),
    delComment: (who, m, cid) => api(url, 'DELETE', `/v1/media/${m.id}/comments/${cid}`, { token: who.token }),
    user: (who, whom) => api(url, 'GET', `/v1/users/${whom.user.id}`, { token: who.token }),
    search: (who, q) => api(url, 'GET', '/v1/users/search', { token: who.token, query: { q, count: '100' } }),
    activity: (who) => api(url, 'GET', '/v1/users/self/activity', { token: who.token, query: { count: '100' } }),
    liked: (who) => api(url, 'GET', '/v1/users/self/media/liked', { token: who.token, query: { count: '100' } }),
    rel: async (who, target, action) => {
      const r = await api(url, 'POST', `/v1/users/${target.user.id}/relationship`, { token: who.token, form: { action } });
      assert.equal(r.status, 200, `${action}: ${show(r)}`);
    },
    ok: async (r) => {
      assert.equal(r.status, 200, show(r));
      return r.body.data;
    },
  };
  return c;
}

describe('blocks: the blocker is not there for the blocked user', () => {
  let srv;
  let c;
  before(async () => {
    srv = await startServer(['--access-log', 'off']);
    c = client(srv.url);
  });
  after(async () => { await srv?.stop(); });

  it('profile, photos, search, and likes and comments on third parties\' photos', async () => {
    const prefix = uniqueName('blk').slice(0, 12);
    const users = [];
    for (const role of ['a', 'b', 't', 'y']) users.push(await signup(srv.url, `${prefix}${role}`));
    const [blocker, blocked, owner, other] = users;
    const p = await c.photo(owner); // a third party's photo
    const q = await c.photo(blocker); // the blocker's own
    assert.equal((await c.like(blocker, p)).status, 200);
    assert.equal((await c.like(other, p)).status, 200);
    assert.equal((await c.comment(blocker, p, 'from the blocker')).status, 200);
    assert.equal((await c.comment(blocked, p, 'from the blocked')).status, 200);
    assert.equal((await c.comment(other, p, 'from another')).status, 200);
    await c.rel(blocker, owner, 'follow');
    await c.rel(other, owner, 'follow');
    const followers = async (who) => ids(await c.ok(await api(srv.url, 'GET', `/v1/users/${owner.user.id}/followed-by`, { token: who.token }))).sort();
    // the media object is cached once for everyone: fill it before the block
    const full = await c.ok(await c.media(other, p));
    assert.deepEqual(texts(full.comments.data), ['from the blocker', 'from the blocked', 'from another']);

    await c.rel(blocker, blocked, 'block');

    // to the blocked user: no profile, no photos, no lists, not in search
    for (const r of [await c.user(blocked, blocker), await c.media(blocked, q),
      await api(srv.url, 'GET', `/v1/users/${blocker.user.id}/media/recent`, { token: blocked.token }),
      await api(srv.url, 'GET', `/v1/users/${blocker.user.id}/follows`, { token: blocked.token }),
      await c.likes(blocked, q), await c.comments(blocked, q),
      await api(srv.url, 'GET', `/v1/users/${blocker.user.id}/relationship`, { token: blocked.token }),
      await api(srv.url, 'POST', `/v1/users/${blocker.user.id}/relationship`,
        { token: blocked.token, form: { action: 'follow' } })]) {
      assertV1Error(r, 404, 'APINotFoundError');
    }
    assert.deepEqual(ids(await c.ok(await c.search(blocked, prefix))).sort(),
      [blocked, owner, other].map((u) => u.user.id).sort(), 'search leaves the blocker out');
    // nor the blocker's like and comment on the third party's photo
    const seen = await c.ok(await c.media(blocked, p));
    assert.deepEqual(ids(seen.likes.data), [other.user.id]);
    assert.deepEqual(texts(seen.comments.data), ['from the blocked', 'from another']);
    assert.equal(seen.likes.count, 2, 'the counts stay');
    assert.equal(seen.comments.count, 3);
    assert.deepEqual(ids(await c.ok(await c.likes(blocked, p))), [other.user.id]);
    assert.deepEqual(texts(await c.ok(await c.comments(blocked, p))), ['from the blocked', 'from another']);
    // nor among a third party's followers
    assert.deepEqual(await followers(blocked), [other.user.id]);

    // the blocker sees the blocked user's profile (to unblock them), but
    // not their comment on the third party's photo
    assert.equal((await c.ok(await c.user(blocker, blocked))).id, blocked.user.id);
    assert.deepEqual(texts((await c.ok(await c.media(blocker, p))).comments.data), ['from the blocker', 'from another']);
    assert.deepEqual(texts(await c.ok(await c.comments(blocker, p))), ['from the blocker', 'from another']);
    assert.equal(ids(await c.ok(await c.search(blocker, prefix))).length, 4, 'the blocker still finds everyone');

    // everyone else sees everything, as before
    const again = await c.ok(await c.media(other, p));
    assert.deepEqual(texts(again.comments.data), ['from the blocker', 'from the blocked', 'from another']);
    assert.deepEqual(ids(again.likes.data).sort(), [blocker.user.id, other.user.id].sort());
    assert.equal((await c.ok(await c.user(other, blocker))).id, blocker.user.id);
    assert.equal(ids(await c.ok(await c.search(other, prefix))).length, 4);
    assert.deepEqual(await followers(other), [blocker.user.id, other.user.id].sort());

    // an unblock brings back what was hidden
    await c.rel(blocker, blocked, 'unblock');
    assert.equal((await c.ok(await c.user(blocked, blocker))).id, blocker.user.id);
    assert.equal((await c.ok(await c.media(blocked, q))).id, q.id);
    const back = await c.ok(await c.media(blocked, p));
    assert.deepEqual(texts(back.comments.data), ['from the blocker', 'from the blocked', 'from another']);
    assert.deepEqual(ids(back.likes.data).sort(), [blocker.user.id, other.user.id].sort());
    assert.equal(ids(await c.ok(await c.search(blocked, prefix))).length, 4);
    assert.deepEqual(await followers(blocked), [blocker.user.id, other.user.id].sort());
  });
});

test('a block takes the blocked user\'s likes and comments off the blocker\'s photos; until then they may undo them',
  { skip: external && 'needs its own data directory (a server with no job runner)', timeout: 120_000 }, async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-blocks-'));
    const servers = [];
    try {
      // no job runner: the purge waits, so the window before it can be seen
      const first = launchOn(dataDir, ['--job-threads', '0']);
      servers.push(first);
      let url = await first.url;
      let c = client(url);
      const users = [];
      for (const role of ['a', 'b', 't']) users.push(await signup(url, uniqueName(`pur${role}`)));
      const [a, b, t] = users;
      const q1 = await c.photo(a);
      const q2 = await c.photo(a);
      const r = await c.photo(t);
      for (const m of [q1, q2, r]) assert.equal((await c.like(b, m)).status, 200);
      assert.equal((await c.comment(b, q1, 'one')).status, 200);
      assert.equal((await c.comment(b, q1, 'two')).status, 200);
      assert.equal((await c.comment(b, q2, 'three')).status, 200);
      assert.equal((await c.comment(a, q1, "the owner's")).status, 200);
      assert.equal((await c.comment(b, r, 'elsewhere')).status, 200);
      const kinds = async () => (await c.ok(await c.activity(a))).filter((x) => x.user.id === b.user.id).map((x) => x.type);
      assert.deepEqual((await kinds()).sort(), ['comment', 'comment', 'comment', 'like', 'like']);

      const own = (await c.ok(await c.comments(a, q2))).find((x) => x.text === 'three');

      await c.rel(a, b, 'block');

      // before the purge: b may take back a like and delete their comment,
      // and nothing else (no new like or comment, no other's comment)
      assert.equal((await c.unlike(b, q2)).status, 200, 'the blocked user unlikes');
      assert.equal((await c.delComment(b, q2, own.id)).status, 200, 'the blocked user deletes their comment');
      const owners = (await c.ok(await c.comments(a, q1))).find((x) => x.text === "the owner's");
      assertV1Error(await c.delComment(b, q1, owners.id), 404, 'APINotFoundError');
      assertV1Error(await c.like(b, q2), 404, 'APINotFoundError');
      assertV1Error(await c.comment(b, q2, 'four'), 404, 'APINotFoundError');
      let m2 = await c.ok(await c.media(a, q2));
      assert.equal(m2.likes.count, 0);
      assert.equal(m2.comments.count, 0);
      let m1 = await c.ok(await c.media(a, q1));
      assert.equal(m1.likes.count, 1, 'the purge has not run');
      assert.equal(m1.comments.count, 3);

      // a server with a job runner on the same data: the purge runs
      first.proc.kill('SIGTERM');
      assert.equal((await first.exited).code, 0, first.stderr());
      const second = launchOn(dataDir, []);
      servers.push(second);
      url = await second.url;
      c = client(url);
      const done = await poll(async () => {
        const m = await c.ok(await c.media(a, q1));
        return m.likes.count === 0 && m.comments.count === 1;
      }, { timeout: 20_000, interval: 100 });
      assert.ok(done.ok, 'the purge took the like and the two comments off q1');
      m1 = await c.ok(await c.media(a, q1));
      assert.deepEqual(texts(await c.ok(await c.comments(a, q1))), ["the owner's"]);
      assert.deepEqual(ids(await c.ok(await c.likes(a, q1))), []);
      assert.deepEqual(await kinds(), [], "the news of b's likes and comments went with them");
      // what b did elsewhere stays
      const rr = await c.ok(await c.media(t, r));
      assert.equal(rr.likes.count, 1);
      assert.deepEqual(texts(rr.comments.data), ['elsewhere']);
      assert.deepEqual(ids(await c.ok(await c.liked(b))), [r.id]);

      // an unblock brings back nothing taken
      await c.rel(a, b, 'unblock');
      m1 = await c.ok(await c.media(b, q1));
      assert.equal(m1.likes.count, 0);
      assert.deepEqual(texts(m1.comments.data), ["the owner's"]);
      second.proc.kill('SIGTERM');
      assert.equal((await second.exited).code, 0, second.stderr());
    } finally {
      for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
      await Promise.all(servers.map((s) => s.exited));
      await rm(dataDir, { recursive: true, force: true });
    }
  });
