// Writes between users on different databases (Cluster I). Users are signed
// up until each of the two databases holds some; then a follow, a request
// and its approval, a like, a comment with a mention, an owner's tag, a
// block and a delete go across them, and every mirror (the followee's
// lists and counts, the liker's list, mention news, the tag index) comes
// out as on one database. Then the same with the effects left to the job
// runner and the server killed (kill -9) before they ran: after the
// restart, nothing is lost and nothing is doubled.
//
// On the embedded topology (one database) the test starts its own server
// on two SQLite files; on the others, it uses theirs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  startServer, launchOn, api, signup, uniqueName, uploadPhoto, assertOk, show, external, topology,
} from './lib.mjs';
import { poll } from './feed_util.mjs';

/** The database of a user in the two-way split: 0 for shards 0-4095, 1 above. */
const half = (id) => (((BigInt(id) >> 10n) & 8191n) < 4096n ? 0 : 1);
const twoDbArgs = (dir) => (topology === 'embedded'
  ? ['--database', `0-4095=sqlite:${dir}/a.db;4096-8191=sqlite:${dir}/b.db`] : []);

/** Signs up until there are n users on each database; returns [[on 0...], [on 1...]]. */
async function usersOnBoth(url, n) {
  const on = [[], []];
  for (let i = 0; i < 200 && (on[0].length < n || on[1].length < n); i++) {
    const u = await signup(url, uniqueName('xs'));
    if (on[half(u.user.id)].length < n) on[half(u.user.id)].push(u);
  }
  assert.ok(on[0].length === n && on[1].length === n, 'users landed on both databases');
  return on;
}

const get = (url, who, p, query) => api(url, 'GET', p, { token: who.token, query });
const rel = (url, who, target, action) =>
  api(url, 'POST', `/v1/users/${target.user.id}/relationship`, { token: who.token, form: { action } });
const counts = async (url, who) => assertOk(await get(url, who, `/v1/users/${who.user.id}`)).counts;
const ids = (list) => list.map((x) => x.id);
async function eventually(what, fn, timeout = 8000) {
  const r = await poll(fn, { timeout, interval: 100 });
  assert.ok(r.ok, `${what} (last seen: ${JSON.stringify(r.value)})`);
  return r.value;
}

describe('writes across databases', { skip: external }, () => {
  let srv;
  let url;
  let a; // on database 0
  let d; // on database 0
  let b; // on database 1
  let c; // on database 1
  before(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'picogram-xs-'));
    srv = await startServer(['--access-log', 'off', ...twoDbArgs(dir)]);
    srv.extraDir = dir;
    url = srv.url;
    const on = await usersOnBoth(url, 2);
    [a, d] = on[0];
    [b, c] = on[1];
  });
  after(async () => {
    await srv?.stop();
    if (srv?.extraDir) await rm(srv.extraDir, { recursive: true, force: true });
  });

  it('a follow: the followee\'s followers, counts and news', async () => {
    assert.equal((await rel(url, b, a, 'follow')).body.data.outgoing_status, 'follows');
    assert.equal((await counts(url, b)).follows, 1);
    await eventually('a counts b as a follower', async () => (await counts(url, a)).followed_by === 1);
    const followers = assertOk(await get(url, a, `/v1/users/${a.user.id}/followed-by`));
    assert.deepEqual(ids(followers), [b.user.id]);
    const news = assertOk(await get(url, a, '/v1/users/self/activity'));
    assert.ok(news.some((n) => n.type === 'follow' && n.user.id === b.user.id), JSON.stringify(news));
    const r = assertOk(await get(url, a, `/v1/users/${b.user.id}/relationship`));
    assert.equal(r.incoming_status, 'followed_by');
  });

  it('a request to a private account, withdrawn, then made again and approved', async () => {
    assert.equal((await api(url, 'POST', '/v1/users/self', { token: a.token, form: { is_private: 'true' } })).status, 200);
    assert.equal((await rel(url, c, a, 'follow')).body.data.outgoing_status, 'requested');
    await eventually('a sees the request', async () =>
      ids(assertOk(await get(url, a, '/v1/users/self/requested-by'))).includes(c.user.id));
    assert.equal((await rel(url, c, a, 'unfollow')).status, 200);
    await eventually('the withdrawn request and its news are gone', async () =>
      !ids(assertOk(await get(url, a, '/v1/users/self/requested-by'))).includes(c.user.id)
      && !assertOk(await get(url, a, '/v1/users/self/activity')).some((n) => n.type === 'request' && n.user.id === c.user.id));
    await rel(url, c, a, 'follow');
    assert.equal((await rel(url, a, c, 'approve')).status, 200);
    const out = assertOk(await get(url, c, `/v1/users/${a.user.id}/relationship`));
    assert.equal(out.outgoing_status, 'follows', 'the truth, on c\'s database, changed at once');
    await eventually('a counts c too', async () => (await counts(url, a)).followed_by === 2);
    const news = assertOk(await get(url, c, '/v1/users/self/activity'));
    assert.ok(news.some((n) => n.type === 'approved'), JSON.stringify(news));
    await api(url, 'POST', '/v1/users/self', { token: a.token, form: { is_private: 'false' } });
  });

  let photo;
  const tag = `xs${randomBytes(4).toString('hex')}`;
  it('a like, a comment with a mention, and the owner\'s tag', async () => {
    photo = assertOk(await uploadPhoto(url, { token: a.token, photo: 'tiny-1x1.jpg', fields: { caption: 'across' } }));
    assert.equal((await api(url, 'POST', `/v1/media/${photo.id}/likes`, { token: b.token })).status, 200);
    await eventually('the liker\'s list holds it', async () =>
      ids(assertOk(await get(url, b, '/v1/users/self/media/liked'))).includes(photo.id));
    const text = `hello @${d.user.username}`;
    assert.equal((await api(url, 'POST', `/v1/media/${photo.id}/comments`, { token: b.token, form: { text } })).status, 200);
    await eventually('d hears of the mention', async () =>
      assertOk(await get(url, d, '/v1/users/self/activity')).some((n) => n.type === 'mention' && n.text === text));
    await api(url, 'POST', `/v1/media/${photo.id}/comments`, { token: a.token, form: { text: `#${tag}` } });
    const page = await eventually('the tag lists the photo', async () => {
      const r = assertOk(await get(url, b, `/v1/tags/${tag}/media/recent`));
      return r.length ? r : null;
    });
    assert.deepEqual(ids(page), [photo.id]);
    assert.equal(assertOk(await get(url, b, `/v1/tags/${tag}`)).media_count, 1);
    const m = assertOk(await get(url, a, `/v1/media/${photo.id}`));
    assert.equal(m.likes.count, 1);
    assert.equal(m.comments.count, 2);
  });

  it('a block severs the follow on the other database', async () => {
    assert.equal((await rel(url, a, b, 'block')).status, 200);
    const r = assertOk(await get(url, a, `/v1/users/${b.user.id}/relationship`));
    assert.equal(r.incoming_status, 'blocked_by_you', 'b no longer follows a');
    await eventually('a\'s count follows', async () => (await counts(url, a)).followed_by === 1);
    assert.equal((await counts(url, b)).follows, 0);
    // to b, a is not there
    assert.equal((await api(url, 'GET', `/v1/users/${a.user.id}/relationship`, { token: b.token })).status, 404);
    assert.equal((await rel(url, b, a, 'follow')).status, 404, 'a block forbids following again');
  });

  it('a deleted photo leaves the liker\'s list, the mention news and the tag', async () => {
    assert.equal((await api(url, 'DELETE', `/v1/media/${photo.id}`, { token: a.token })).status, 200);
    await eventually('everything about it is gone', async () => {
      const liked = ids(assertOk(await get(url, b, '/v1/users/self/media/liked')));
      const news = assertOk(await get(url, d, '/v1/users/self/activity'));
      const count = assertOk(await get(url, b, `/v1/tags/${tag}`)).media_count;
      return !liked.includes(photo.id) && !news.some((n) => n.type === 'mention') && count === 0;
    });
  });
});

describe('a crash between a write and its effects on the other database', { skip: external }, () => {
  it('loses none of them and doubles none: the job runner completes them after the restart', { timeout: 90_000 },
    async (t) => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-xskill-'));
      const args = twoDbArgs(dataDir);
      let srv = launchOn(dataDir, ['--far-inline', 'off', ...args]);
      try {
        const url = await srv.url;
        const [[a, d], [b]] = await usersOnBoth(url, 2);
        const photo = assertOk(await uploadPhoto(url, { token: a.token, photo: 'tiny-1x1.jpg', fields: { caption: 'kill' } }));
        const t0 = Date.now();
        const tag = `xk${randomBytes(4).toString('hex')}`;
        for (const r of await Promise.all([
          rel(url, b, a, 'follow'),
          api(url, 'POST', `/v1/media/${photo.id}/likes`, { token: b.token }),
          api(url, 'POST', `/v1/media/${photo.id}/comments`, { token: b.token, form: { text: `@${d.user.username} look` } }),
          api(url, 'POST', `/v1/media/${photo.id}`, { token: a.token, form: { caption: `kill #${tag}` } }),
        ])) assert.equal(r.status, 200, show(r));
        // the effects wait for the runner (2 s after their commit): not there yet
        const before = assertOk(await get(url, a, `/v1/users/${a.user.id}/followed-by`));
        const early = Date.now() - t0 < 1500;
        srv.proc.kill('SIGKILL');
        await srv.exited;
        if (early) assert.deepEqual(before, [], 'the follower list was not written before the kill');
        else t.diagnostic('the writes took over 1.5 s: the kill may have come after the runner');

        srv = launchOn(dataDir, args);
        const url2 = await srv.url;
        await eventually('every effect landed after the restart', async () => {
          const followers = ids(assertOk(await get(url2, a, `/v1/users/${a.user.id}/followed-by`)));
          const liked = ids(assertOk(await get(url2, b, '/v1/users/self/media/liked')));
          const news = assertOk(await get(url2, d, '/v1/users/self/activity'));
          const tagged = ids(assertOk(await get(url2, b, `/v1/tags/${tag}/media/recent`)));
          return followers.includes(b.user.id) && liked.includes(photo.id) && news.some((n) => n.type === 'mention')
            && tagged.includes(photo.id);
        }, 20_000);
        // once each
        assert.equal((await counts(url2, a)).followed_by, 1);
        assert.equal(assertOk(await get(url2, b, `/v1/tags/${tag}`)).media_count, 1);
        assert.equal(assertOk(await get(url2, d, '/v1/users/self/activity')).filter((n) => n.type === 'mention').length, 1);
        assert.equal(assertOk(await get(url2, b, '/v1/users/self/media/liked')).length, 1);
      } finally {
        srv.proc.kill('SIGTERM');
        await srv.exited;
        await rm(dataDir, { recursive: true, force: true });
      }
    });
});
