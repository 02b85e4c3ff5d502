// The home feed, GET /v1/users/self/feed: your own photos and those of the
// people you follow, newest first, with count / max_id / min_id and
// next_url pagination; fan-out of new photos (a background job, so the
// tests poll with a bounded wait), backfill on follow, removal on unfollow,
// block and delete, private accounts, the rebuild of a never-built timeline
// on first read, and (on a second server with --celebrity 2) the read-time
// merge of celebrities' posts.
//
// A timeline that was never built is rebuilt from the database on its first
// read, which would hide a fan-out that never happened: viewers whose
// timelines should be fed by jobs read their feed once right after sign-up
// (fresh()), so that later photos can only arrive through the jobs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, api, signup, uniqueName, uploadPhoto, assertOk, assertV1Error, external, show, topology, sqlExec, dbFiles } from './lib.mjs';
import { mediaNum, bareId, poll, feedPage, walkFeed, assertNewestFirst, mapLimit } from './feed_util.mjs';

const PHOTO = 'tiny-1x1.jpg';

/** Helpers bound to one server. */
function client(getUrl) {
  const url = () => getUrl();
  const helpers = {
    /** Signs up n users (two at a time: sign-ups are CPU-bound on the server). */
    async users(n, prefix) {
      return mapLimit(Array.from({ length: n }), 2, () => signup(url(), uniqueName(prefix)));
    },
    /** Signs up n users and reads each one's feed once, which builds their timelines. */
    async fresh(n, prefix) {
      const us = await helpers.users(n, prefix);
      for (const u of us) assertOk(await feedPage(url(), u.token));
      return us;
    },
    async rel(who, target, action, expectStatus = 200) {
      const r = await api(url(), 'POST', `/v1/users/${target.user.id}/relationship`, { token: who.token, form: { action } });
      assert.equal(r.status, expectStatus, `${action}: ${show(r)}`);
      return r.body?.data;
    },
    async post(who, caption) {
      const r = await uploadPhoto(url(), { token: who.token, photo: PHOTO, fields: caption ? { caption } : {} });
      return assertOk(r);
    },
    /** The whole feed (walked with count=100), as media IDs. */
    async ids(who, query = { count: 100 }) {
      return (await walkFeed(url(), who.token, query)).ids;
    },
    /** Polls who's whole feed until pred(ids) holds (at most 5 s); returns those ids. */
    async waitFeed(who, pred, what) {
      let last;
      const p = await poll(async () => {
        last = await helpers.ids(who);
        return pred(last);
      });
      assert.ok(p.ok, `${what}: after ${p.ms} ms the feed is still ${JSON.stringify(last)}`);
      return last;
    },
    /** Polls until who's feed is exactly `want` (media IDs, any order given; compared newest first). */
    async waitExactly(who, want, what) {
      const sorted = sortNewest(want);
      return helpers.waitFeed(who, (ids) => sameList(ids, sorted), `${what} (want ${JSON.stringify(sorted)})`);
    },
    /**
     * Waits until the background jobs queued so far have run: a sentinel
     * user (with a built timeline and no followers) posts, and we wait for
     * the post to reach its own timeline through its one-step fan-out job.
     * Jobs run in the order they were queued (one job thread), so the
     * follow/unfollow/delete jobs queued before it have run too. Used before
     * asserting that something did NOT appear.
     */
    async settle() {
      if (!helpers.sentinel) [helpers.sentinel] = await helpers.fresh(1, 'sentinel');
      const m = await helpers.post(helpers.sentinel);
      await helpers.waitFeed(helpers.sentinel, (ids) => ids.includes(m.id), 'the sentinel post reaches its own timeline');
    },
    sentinel: null,
  };
  return helpers;
}

const sortNewest = (ids) => [...ids].sort((a, b) => (mediaNum(b) > mediaNum(a) ? 1 : mediaNum(b) < mediaNum(a) ? -1 : 0));
const sameList = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

let srv;
let url;
const c = client(() => url);

before(async () => {
  // --fanout-batch 2: fan-outs to more than two followers take several job steps.
  srv = await startServer(['--access-log', 'off', '--fanout-batch', '2']);
  url = srv.url;
});
after(async () => { await srv.stop(); });

describe('what the feed holds', () => {
  it('shows your own photos and those of people you follow, not of others', async () => {
    const [me, friend, stranger] = await c.fresh(3, 'basic');
    await c.rel(me, friend, 'follow');
    const mine = await c.post(me, 'mine');
    const theirs = await c.post(friend, 'theirs');
    const other = await c.post(stranger, 'other');
    const ids = await c.waitExactly(me, [mine.id, theirs.id], "own and followed user's photos");
    assert.deepEqual(ids, [theirs.id, mine.id], 'newest first');
    await c.waitExactly(friend, [theirs.id], 'the friend does not follow back');
    await c.waitExactly(stranger, [other.id], "the stranger's own photo only");
    await c.settle();
    assert.deepEqual(await c.ids(me), [theirs.id, mine.id], "still no stranger's photo");

    // each item is the same media object GET /v1/media/{id} returns
    const page = assertOk(await feedPage(url, me.token));
    for (const m of page) {
      const one = assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: me.token }));
      assert.deepEqual(m, one, `feed item ${m.id} equals GET /v1/media/${m.id}`);
    }
    assert.equal(page[0].user.id, friend.user.id);
    assert.equal(page[1].user.id, me.user.id);
    assert.match(page[0].id, new RegExp(`^\\d+_${friend.user.id}$`));

    // authentication is required
    const anon = await api(url, 'GET', '/v1/users/self/feed');
    assertV1Error(anon, 400, 'OAuthParameterException');
  });

  it('fans a photo out to every follower, in several batches, exactly once', async () => {
    const [author, ...fans] = await c.fresh(6, 'batch');
    for (const f of fans) await c.rel(f, author, 'follow');
    const p1 = await c.post(author, 'one');
    const p2 = await c.post(author, 'two');
    for (const who of [author, ...fans]) await c.waitExactly(who, [p1.id, p2.id], `${who.user.username} gets both`);
  });
});

describe('order and pagination', () => {
  let viewer;
  let all; // the 9 media IDs, newest first

  before(async () => {
    const [v] = await c.fresh(1, 'pgv');
    viewer = v;
    const authors = await c.users(3, 'pga');
    for (const a of authors) await c.rel(viewer, a, 'follow');
    const posted = [];
    for (let round = 0; round < 3; round++) {
      for (const a of authors) posted.push((await c.post(a, `round ${round}`)).id);
    }
    all = [...posted].reverse();
    assert.deepEqual(sortNewest(posted), all, 'media IDs grow with time');
    await c.waitExactly(viewer, all, 'all nine posts arrive');
  });

  it('is newest first, and every count walks each item exactly once', async () => {
    const first = await walkFeed(url, viewer.token);
    assert.deepEqual(first.ids, all, 'default count (20) returns all nine on one page');
    assert.equal(first.pages, 1);
    assertNewestFirst(first.ids);
    const times = first.items.map((m) => Number(m.created_time));
    for (let i = 1; i < times.length; i++) assert.ok(times[i - 1] >= times[i], `created_time non-increasing: ${times}`);

    for (const count of [1, 2, 4, 8, 9, 10, 100]) {
      const w = await walkFeed(url, viewer.token, { count });
      assert.deepEqual(w.ids, all, `count=${count}: every item once, newest first`);
      assert.equal(w.pages, Math.ceil(all.length / count), `count=${count}: pages`);
    }
  });

  it('gives next_url (absolute, keeping the query) and next_max_id when there is more', async () => {
    const r = await feedPage(url, viewer.token, { count: 2 });
    const data = assertOk(r);
    assert.deepEqual(data.map((m) => m.id), all.slice(0, 2));
    const pg = r.body.pagination;
    assert.ok(pg, `pagination on a partial page: ${show(r)}`);
    assert.equal(bareId(pg.next_max_id), bareId(all[1]), 'next_max_id is the last item shown');
    const next = new URL(pg.next_url);
    assert.equal(next.origin, url);
    assert.equal(next.searchParams.get('count'), '2');
    // the last page has no pagination
    const last = await feedPage(url, viewer.token, { count: 2, max_id: bareId(all[6]) });
    assert.deepEqual(assertOk(last).map((m) => m.id), all.slice(7));
    assert.equal(last.body.pagination, undefined, `no pagination on the last page: ${show(last)}`);
    // a token in the query string is kept in next_url too
    const q = await feedPage(url, undefined, { access_token: viewer.token, count: 4 });
    assertOk(q);
    assert.equal(new URL(q.body.pagination.next_url).searchParams.get('access_token'), viewer.token);
    const walked = await walkFeed(url, undefined, { access_token: viewer.token, count: 4 });
    assert.deepEqual(walked.ids, all);
  });

  it('honours max_id and min_id (exclusive), bare or MEDIAID_OWNERID', async () => {
    for (const form of [bareId, (id) => id]) {
      assert.deepEqual(await c.ids(viewer, { count: 100, max_id: form(all[2]) }), all.slice(3), 'max_id');
      assert.deepEqual(await c.ids(viewer, { count: 100, min_id: form(all[6]) }), all.slice(0, 6), 'min_id');
      assert.deepEqual(await c.ids(viewer, { count: 100, min_id: form(all[6]), max_id: form(all[2]) }), all.slice(3, 6),
        'min_id and max_id');
      assert.deepEqual(await c.ids(viewer, { count: 2, min_id: form(all[6]) }), all.slice(0, 6),
        'walking pages of 2 above min_id (next_url keeps min_id)');
      assert.deepEqual(await c.ids(viewer, { count: 2, min_id: form(all[7]), max_id: form(all[0]) }), all.slice(1, 7),
        'walking pages of 2 between min_id and max_id');
      assert.deepEqual(await c.ids(viewer, { count: 100, max_id: form(all[8]) }), [], 'nothing older than the oldest');
      assert.deepEqual(await c.ids(viewer, { count: 100, min_id: form(all[0]) }), [], 'nothing newer than the newest');
    }
    // bounds that are not in the feed work too
    const between = (mediaNum(all[4]) + mediaNum(all[5])) / 2n;
    assert.deepEqual(await c.ids(viewer, { count: 100, max_id: String(between) }), all.slice(5));
    assert.deepEqual(await c.ids(viewer, { count: 100, min_id: String(between) }), all.slice(0, 5));
    assert.deepEqual(await c.ids(viewer, { count: 100, max_id: '9223372036854775807' }), all);
    assert.deepEqual(await c.ids(viewer, { count: 100, min_id: '1' }), all);
    // an empty value is the same as no value
    assert.deepEqual(await c.ids(viewer, { count: 100, max_id: '', min_id: '' }), all);
  });

  it('rejects a count outside 1..100', async () => {
    for (const count of ['0', '101', '-1', 'abc', '1.5', '2x', '99999999999999999999']) {
      const r = await feedPage(url, viewer.token, { count });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    assert.equal(assertOk(await feedPage(url, viewer.token, { count: 1 })).length, 1);
    assert.equal(assertOk(await feedPage(url, viewer.token, { count: 100 })).length, all.length);
  });

  it('rejects a max_id or min_id that is not a media ID', async () => {
    for (const key of ['max_id', 'min_id']) {
      for (const v of ['abc', '-1', '0', '1.5', '12x', 'x12', '_12', '1e5', '99999999999999999999']) {
        const r = await feedPage(url, viewer.token, { [key]: v });
        assertV1Error(r, 400, 'APIInvalidParametersError');
      }
    }
  });

  it('rejects a MEDIAID_OWNERID bound whose owner part is not an ID (as /media/{id} and media/recent do)', async () => {
    const id = bareId(all[2]);
    for (const key of ['max_id', 'min_id']) {
      for (const v of [`${id}_abc`, `${id}_`, `${id}_-1`]) {
        // the other endpoints that take the same kind of ID refuse it
        const recent = await api(url, 'GET', '/v1/users/self/media/recent', { token: viewer.token, query: { [key]: v } });
        assertV1Error(recent, 400, 'APIInvalidParametersError');
        const r = await feedPage(url, viewer.token, { [key]: v });
        assert.equal(r.status, 400, `GET /v1/users/self/feed?${key}=${v}: ${show(r)}`);
        assertV1Error(r, 400, 'APIInvalidParametersError');
      }
    }
  });
});

describe('following, unfollowing, blocks, deletes and private accounts', () => {
  it('brings in the recent photos of someone you start following', async () => {
    const [viewer] = await c.fresh(1, 'bfv');
    const [author] = await c.users(1, 'bfa');
    const a1 = await c.post(author, 'before 1');
    const a2 = await c.post(author, 'before 2');
    await c.settle();
    assert.deepEqual(await c.ids(viewer), [], 'nothing before the follow');
    await c.rel(viewer, author, 'follow');
    assert.deepEqual(await c.waitExactly(viewer, [a1.id, a2.id], 'backfill after follow'), [a2.id, a1.id]);
    const a3 = await c.post(author, 'after');
    await c.waitExactly(viewer, [a1.id, a2.id, a3.id], 'and new photos after it');
  });

  // Timelines in the database (embedded, two SQLite files): the follow and
  // its timeline change are one write, so the answer to the follow comes
  // after both, and the feed head cached before it is gone.
  const inDb = external || topology === 'pg' ? 'timelines in Redis: the change is a job' : false;
  it('changes the timeline in the follow itself, and the unfollow too', { skip: inDb }, async () => {
    // a job for it would be seen here (the runner deletes a job it has run)
    sqlExec(srv.dataDir, 'CREATE TABLE IF NOT EXISTS test_seen (kind TEXT)');
    sqlExec(srv.dataDir, "CREATE TRIGGER IF NOT EXISTS test_seen AFTER INSERT ON jobs WHEN NEW.kind IN ('backfill', 'unfeed') "
      + 'BEGIN INSERT INTO test_seen VALUES (NEW.kind); END');
    const [viewer] = await c.fresh(1, 'inv');
    const [author] = await c.users(1, 'ina');
    const a1 = await c.post(author, 'one');
    const a2 = await c.post(author, 'two');
    assert.deepEqual(await c.ids(viewer), [], 'read (and cached) before the follow');
    await c.rel(viewer, author, 'follow');
    assert.deepEqual(await c.ids(viewer), [a2.id, a1.id], 'at once: the follow brought them in');
    await c.rel(viewer, author, 'unfollow');
    assert.deepEqual(await c.ids(viewer), [], 'at once: the unfollow took them out');
    const seen = dbFiles(srv.dataDir).map((f) => execFileSync('/usr/bin/python3', ['-c',
      'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM test_seen").fetchone()[0])', f]));
    assert.deepEqual(seen.map((b) => Number(String(b).trim())), seen.map(() => 0), 'no backfill or unfeed job');
  });

  it('takes them out on unfollow, also when the unfollow follows the follow at once', async () => {
    const [viewer] = await c.fresh(1, 'ufv');
    const [author, other] = await c.users(2, 'ufa');
    const a1 = await c.post(author);
    const o1 = await c.post(other);
    await c.rel(viewer, author, 'follow');
    await c.rel(viewer, other, 'follow');
    await c.waitExactly(viewer, [a1.id, o1.id], 'both followed');
    await c.rel(viewer, author, 'unfollow');
    await c.waitExactly(viewer, [o1.id], 'unfollow removes the photos');
    const a2 = await c.post(author, 'while not followed');
    // follow and unfollow back to back: the backfill must not outlive the unfollow
    await c.rel(viewer, author, 'follow');
    await c.rel(viewer, author, 'unfollow');
    await c.settle();
    assert.deepEqual(await c.ids(viewer), [o1.id], `no photo of the unfollowed author (${a1.id}, ${a2.id})`);
  });

  it('takes photos out both ways on block, and unblock does not bring them back', async () => {
    const [x, y, z] = await c.fresh(3, 'blk');
    await c.rel(x, y, 'follow');
    await c.rel(y, x, 'follow');
    await c.rel(z, x, 'follow');
    const x1 = await c.post(x, 'x');
    const y1 = await c.post(y, 'y');
    await c.waitExactly(x, [x1.id, y1.id], 'x sees y');
    await c.waitExactly(y, [x1.id, y1.id], 'y sees x');
    await c.waitExactly(z, [x1.id], 'z sees x');
    await c.rel(x, y, 'block');
    await c.waitExactly(x, [x1.id], "the blocker no longer sees the blocked user's photos");
    await c.waitExactly(y, [y1.id], "the blocked user no longer sees the blocker's photos");
    const x2 = await c.post(x, 'after the block');
    await c.waitExactly(z, [x1.id, x2.id], 'others still get x');
    await c.settle();
    assert.deepEqual(await c.ids(y), [y1.id], 'nor new ones');
    await c.rel(x, y, 'unblock');
    await c.settle();
    assert.deepEqual(await c.ids(x), [x2.id, x1.id], 'unblock does not restore the follow');
    assert.deepEqual(await c.ids(y), [y1.id]);
  });

  it('drops a deleted photo from every feed', async () => {
    const [viewer, author] = await c.fresh(2, 'del');
    await c.rel(viewer, author, 'follow');
    const p1 = await c.post(author, 'doomed');
    const p2 = await c.post(author, 'kept');
    const p3 = await c.post(author, 'doomed too');
    await c.waitExactly(viewer, [p1.id, p2.id, p3.id], 'all three');
    assertOk(await api(url, 'DELETE', `/v1/media/${p1.id}`, { token: author.token }));
    assertOk(await api(url, 'DELETE', `/v1/media/${bareId(p3.id)}`, { token: author.token }));
    await c.waitExactly(viewer, [p2.id], "the follower's feed");
    await c.waitExactly(author, [p2.id], "the author's own feed");
    // and pages still walk over the gap exactly once
    assert.deepEqual(await c.ids(viewer, { count: 1 }), [p2.id]);
  });

  it("shows a private account's photos only after the owner approves the request", async () => {
    const [owner, fan, ignored] = await c.fresh(3, 'prv');
    assertOk(await api(url, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'true' } }));
    const o1 = await c.post(owner, 'private one');
    assert.deepEqual(await c.rel(fan, owner, 'follow'), { outgoing_status: 'requested' });
    assert.deepEqual(await c.rel(ignored, owner, 'follow'), { outgoing_status: 'requested' });
    await c.settle();
    assert.deepEqual(await c.ids(fan), [], 'a request shows nothing');
    const o2 = await c.post(owner, 'private two');
    await c.waitExactly(owner, [o1.id, o2.id], "the owner's own feed");
    await c.settle();
    assert.deepEqual(await c.ids(fan), [], 'nor new photos while requested');
    await c.rel(owner, fan, 'approve');
    await c.rel(owner, ignored, 'ignore');
    await c.waitExactly(fan, [o1.id, o2.id], 'approved: the photos arrive');
    const o3 = await c.post(owner, 'private three');
    await c.waitExactly(fan, [o1.id, o2.id, o3.id], 'and new ones');
    await c.settle();
    assert.deepEqual(await c.ids(ignored), [], 'the ignored requester sees nothing');
  });
});

describe('a timeline that was never built', () => {
  it('is rebuilt from the database on the very first read', async () => {
    const [a, b, stranger, priv] = await c.users(4, 'rba');
    assertOk(await api(url, 'POST', '/v1/users/self', { token: priv.token, form: { is_private: 'true' } }));
    const a1 = await c.post(a);
    const b1 = await c.post(b);
    const a2 = await c.post(a);
    const s1 = await c.post(stranger);
    const p1 = await c.post(priv);
    const [n] = await c.users(1, 'rbn'); // never reads its feed before the checks below
    const n1 = await c.post(n, 'my own');
    await c.rel(n, a, 'follow');
    await c.rel(n, b, 'follow');
    await c.rel(n, priv, 'follow'); // only requested
    const want = [n1.id, a2.id, b1.id, a1.id];
    const first = await c.ids(n);
    assert.deepEqual(first, want, `the first read shows own and followed photos (not ${s1.id}, ${p1.id})`);
    await c.settle();
    assert.deepEqual(await c.ids(n), want, 'and later reads the same');
    assert.deepEqual(await c.ids(n, { count: 1 }), want, 'walked one by one');

    // the same for a user who never read the feed and follows before anyone posts
    const [early] = await c.users(1, 'rbe');
    const [author] = await c.users(1, 'rbx');
    await c.rel(early, author, 'follow');
    const x1 = await c.post(author);
    const x2 = await c.post(author);
    assert.deepEqual(await c.ids(early, { count: 1 }), [x2.id, x1.id], 'first read, walked one by one');
  });
});

describe('celebrities (--celebrity 2: read-time merge)', { skip: external && 'needs --celebrity' }, () => {
  let srv2;
  let url2;
  const k = client(() => url2);

  before(async () => {
    if (external) return;
    srv2 = await startServer(['--access-log', 'off', '--celebrity', '2', '--fanout-batch', '2']);
    url2 = srv2.url;
  });
  after(async () => { if (srv2) await srv2.stop(); });

  it("merges a celebrity's posts at read time, in time order with other posts, exactly once across pages", async () => {
    const [f1, f2, f3] = await k.fresh(3, 'celf');
    const [star, n1, n2] = await k.fresh(3, 'cela');
    for (const f of [f1, f2, f3]) await k.rel(f, star, 'follow'); // 3 followers: a celebrity
    await k.rel(f1, n1, 'follow');
    await k.rel(f2, n1, 'follow'); // n1: 2 followers, fanned out
    await k.rel(f1, n2, 'follow');
    await k.rel(f3, n2, 'follow'); // n2: 2 followers, fanned out
    const posts = { star: [], n1: [], n2: [] };
    for (const [who, name] of [[star, 'star'], [n1, 'n1'], [star, 'star'], [n2, 'n2'], [n1, 'n1'], [star, 'star'],
      [n2, 'n2'], [star, 'star']]) {
      const m = await k.post(who, `${name} post`);
      posts[name].push(m.id);
      if (name === 'star') {
        // no job needed: the very next read of each follower has it
        for (const f of [f1, f2, f3]) {
          const page = assertOk(await feedPage(url2, f.token));
          assert.equal(page[0]?.id, m.id, `${f.user.username} sees the celebrity's post ${m.id} at once: ${JSON.stringify(page.map((x) => x.id))}`);
        }
      }
    }
    const want = new Map([
      [f1, [...posts.star, ...posts.n1, ...posts.n2]],
      [f2, [...posts.star, ...posts.n1]],
      [f3, [...posts.star, ...posts.n2]],
    ]);
    for (const [f, ids] of want) await k.waitExactly(f, ids, `${f.user.username}: celebrity and normal posts`);
    for (const [f, ids] of want) {
      const sorted = sortNewest(ids);
      for (const count of [1, 2, 3, 5]) {
        assert.deepEqual(await k.ids(f, { count }), sorted, `${f.user.username}, count=${count}: interleaved, each once`);
      }
      const mid = sorted[2];
      assert.deepEqual(await k.ids(f, { count: 2, max_id: mid }), sorted.slice(3), 'max_id over the merge');
      assert.deepEqual(await k.ids(f, { count: 2, min_id: mid }), sorted.slice(0, 2), 'min_id over the merge');
    }
    await k.waitExactly(star, posts.star, "the celebrity's own feed");
    await k.settle();
    assert.deepEqual(await k.ids(n1), sortNewest(posts.n1), 'a non-follower of the celebrity does not get the posts');
  });

  it('keeps posts from before and after an author becomes a celebrity, once each', async () => {
    const [g1, g2, g3, d] = await k.fresh(4, 'celup');
    await k.rel(g1, d, 'follow');
    await k.rel(g2, d, 'follow');
    const d1 = await k.post(d, 'fanned out');
    await k.waitExactly(g1, [d1.id], 'g1 gets the fanned-out post');
    await k.waitExactly(g2, [d1.id], 'g2 gets the fanned-out post');
    await k.rel(g3, d, 'follow'); // 3 followers now: merged at read time from here on
    const d2 = await k.post(d, 'merged');
    for (const g of [g1, g2, g3]) {
      await k.waitExactly(g, [d1.id, d2.id], `${g.user.username} has both`);
      assert.deepEqual(await k.ids(g, { count: 1 }), [d2.id, d1.id], `${g.user.username}: each once, walked one by one`);
    }
  });

  it("a new follower sees a celebrity's posts on the first read; unfollow and block take them out at once", async () => {
    const [s, h1, h2, h3] = await k.users(4, 'celnew');
    for (const h of [h1, h2, h3]) await k.rel(h, s, 'follow');
    const s1 = await k.post(s);
    const s2 = await k.post(s);
    const [j, l] = await k.users(2, 'celj'); // timelines never built
    await k.rel(j, s, 'follow');
    await k.rel(l, s, 'follow');
    assert.deepEqual(await k.ids(j, { count: 1 }), [s2.id, s1.id], 'the first read');
    await k.rel(j, s, 'unfollow');
    assert.deepEqual(await k.ids(j), [], 'unfollow: gone at once');
    await k.rel(l, s, 'block');
    assert.deepEqual(await k.ids(l), [], 'block: gone at once');
  });

  it("keeps a former celebrity's posts in followers' feeds after they drop to the threshold", async () => {
    const [e, h1, h2, h3] = await k.fresh(4, 'celdn');
    for (const h of [h1, h2, h3]) await k.rel(h, e, 'follow');
    const e1 = await k.post(e, 'posted as a celebrity');
    for (const h of [h1, h2, h3]) assert.deepEqual(await k.ids(h), [e1.id], `${h.user.username} sees it (merged)`);
    await k.rel(h3, e, 'unfollow'); // 2 followers: no longer above --celebrity 2
    // h1 and h2 still follow e: e's photo must stay in their feeds
    for (const h of [h1, h2]) await k.waitExactly(h, [e1.id], `${h.user.username} still sees ${e1.id} from the author they follow`);
    const e2 = await k.post(e, 'posted as a normal author');
    for (const h of [h1, h2]) await k.waitExactly(h, [e1.id, e2.id], `${h.user.username}: both posts`);
  });
});

// The timelines store in the database (feed_store = db), the embedded
// default, on whatever database the topology runs: on the pg topology this
// is where PostgreSQL's conditional put (a fan-out's put only to users who
// follow the author still, FOR KEY SHARE) runs.
describe('timelines in the database store (--feed-store db) on this topology', { skip: external && 'needs its own server' }, () => {
  let srv3;
  let url3;
  const d = client(() => url3);

  before(async () => {
    if (external) return;
    srv3 = await startServer(['--access-log', 'off', '--feed-store', 'db', '--fanout-batch', '2']);
    url3 = srv3.url;
  });
  after(async () => { if (srv3) await srv3.stop(); });

  it('fans out to followers only, in batches, and an unfollow keeps the next posts out', async () => {
    const [f1, f2, f3, stranger] = await d.fresh(4, 'dbf');
    const [author] = await d.users(1, 'dba');
    for (const f of [f1, f2, f3]) await d.rel(f, author, 'follow');
    const p1 = await d.post(author, 'to three followers, two batches');
    for (const f of [f1, f2, f3]) await d.waitExactly(f, [p1.id], `${f.user.username} gets the post`);
    await d.rel(f2, author, 'unfollow');
    await d.waitExactly(f2, [], 'unfollow takes it out');
    const p2 = await d.post(author, 'after the unfollow');
    for (const f of [f1, f3]) await d.waitExactly(f, [p1.id, p2.id], `${f.user.username} gets the second`);
    await d.settle();
    assert.deepEqual(await d.ids(f2), [], 'the unfollower gets neither');
    assert.deepEqual(await d.ids(stranger), [], 'a stranger gets nothing');
  });
});
