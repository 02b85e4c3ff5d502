// Likes, comments and the activity feed: POST/DELETE/GET /v1/media/{id}/likes,
// the media's likes and comments summaries (counts, latest likers and
// comments, user_has_liked per viewer), GET /v1/users/self/media/liked and
// its pagination, POST/GET /v1/media/{id}/comments and
// DELETE /v1/media/{id}/comments/{cid} (text validation, who may delete),
// privacy and blocks, GET /v1/users/self/activity (every type, no news about
// yourself, blocked actors hidden, pagination), exact counters under
// concurrent writes, and what deleting a photo takes with it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, signup, uniqueName, uploadPhoto, assertOk, assertV1Error, assertShortUser, show,
} from './lib.mjs';

let srv;
let url;
// A pool of users signed up once (sign-ups are the expensive part): take(n)
// hands out ones no other test has used; the 120-liker test uses them all.
let pool = [];
let poolNext = 0;
const POOL_SIZE = 127;

before(async () => {
  srv = await startServer(['--access-log', 'off']);
  url = srv.url;
  pool = await mapLimit(Array.from({ length: POOL_SIZE }), 4, () => signup(url, uniqueName('soc')));
});
after(async () => { await srv?.stop(); });

// --- helpers ----------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function take(n) {
  assert.ok(poolNext + n <= pool.length, 'user pool exhausted: raise POOL_SIZE');
  const out = pool.slice(poolNext, poolNext + n);
  poolNext += n;
  return out;
}

/** Uploads a tiny photo; returns the media object. */
async function photo(who, caption) {
  const r = await uploadPhoto(url, { token: who.token, photo: 'tiny-1x1.jpg', fields: caption === undefined ? {} : { caption } });
  return assertOk(r);
}

const like = (who, m) => api(url, 'POST', `/v1/media/${m.id}/likes`, { token: who.token });
const unlike = (who, m) => api(url, 'DELETE', `/v1/media/${m.id}/likes`, { token: who.token });
const likesOf = (who, m) => api(url, 'GET', `/v1/media/${m.id}/likes`, { token: who.token });
const comment = (who, m, text) => api(url, 'POST', `/v1/media/${m.id}/comments`, { token: who.token, form: { text } });
const commentsOf = (who, m) => api(url, 'GET', `/v1/media/${m.id}/comments`, { token: who.token });
const delComment = (who, m, cid) => api(url, 'DELETE', `/v1/media/${m.id}/comments/${cid}`, { token: who.token });
const getMedia = async (who, m) => assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: who.token }));
const activity = (who, query = {}) => api(url, 'GET', '/v1/users/self/activity', { token: who.token, query });
const liked = (who, query = {}) => api(url, 'GET', '/v1/users/self/media/liked', { token: who.token, query });
const rel = async (who, target, action) => {
  const r = await api(url, 'POST', `/v1/users/${target.user.id}/relationship`, { token: who.token, form: { action } });
  assert.equal(r.status, 200, `${action}: ${show(r)}`);
  return r.body.data;
};
async function makePrivate(who) {
  const r = await api(url, 'POST', '/v1/users/self', { token: who.token, form: { is_private: 'true' } });
  assert.equal(r.status, 200, show(r));
}

/** Asserts a POST/DELETE answer: 200 {"meta":{"code":200},"data":null}. */
function assertNull(r, what = '') {
  assert.equal(r.status, 200, `${what}: ${show(r)}`);
  assert.deepEqual(r.body, { meta: { code: 200 }, data: null }, `${what}: ${show(r)}`);
}

const userIds = (list) => list.map((u) => u.id);
const uids = (users) => users.map((u) => u.user.id);

function assertComment(c, expect = {}) {
  assert.deepEqual(Object.keys(c).sort(), ['created_time', 'from', 'id', 'text'], JSON.stringify(c));
  assert.match(c.id, /^[1-9]\d*$/);
  assert.match(c.created_time, /^\d+$/);
  assert.ok(Math.abs(Number(c.created_time) - Date.now() / 1000) < 600, `created_time is now: ${c.created_time}`);
  assert.equal(typeof c.text, 'string');
  assertShortUser(c.from);
  assert.deepEqual(Object.keys(c.from).sort(), ['full_name', 'id', 'profile_picture', 'username']);
  for (const [k, v] of Object.entries(expect)) assert.deepEqual(c[k], v, `comment.${k} in ${JSON.stringify(c)}`);
}

function assertActivityItem(a) {
  assert.deepEqual(Object.keys(a).sort(), ['created_time', 'id', 'media', 'text', 'type', 'user'], JSON.stringify(a));
  assert.match(a.id, /^[1-9]\d*$/);
  assert.match(a.created_time, /^\d+$/);
  assert.ok(['like', 'comment', 'follow', 'request', 'approved', 'mention'].includes(a.type), a.type);
  assertShortUser(a.user);
  assert.deepEqual(Object.keys(a.user).sort(), ['full_name', 'id', 'profile_picture', 'username']);
  if (a.media !== null) {
    assert.deepEqual(Object.keys(a.media).sort(), ['id', 'images'], JSON.stringify(a));
    assert.equal(typeof a.media.id, 'string');
    assert.deepEqual(Object.keys(a.media.images), ['thumbnail']);
    const t = a.media.images.thumbnail;
    assert.equal(typeof t.url, 'string');
    assert.ok(Number.isInteger(t.width) && Number.isInteger(t.height), JSON.stringify(t));
  }
  assert.ok(a.text === null || typeof a.text === 'string', JSON.stringify(a));
}

/** The whole activity list (count=100, one page), shapes checked. */
async function allActivity(who) {
  const r = await activity(who, { count: 100 });
  const data = assertOk(r);
  assert.ok(Array.isArray(data));
  for (const a of data) assertActivityItem(a);
  return data;
}

/** Walks a paginated list by next_url; returns {items, pages}. */
async function walk(first, who, { path, key, nextKey }) {
  const items = [];
  let r = first;
  let pages = 0;
  for (;;) {
    pages++;
    const data = assertOk(r);
    items.push(...data);
    const pg = r.body.pagination;
    if (pg === undefined || pg === null || Object.keys(pg).length === 0) break;
    assert.ok(pages < 50, 'too many pages');
    assert.equal(typeof pg[nextKey], 'string', `${nextKey} in ${show(r)}`);
    const next = new URL(pg.next_url);
    assert.equal(next.origin, new URL(url).origin, `next_url ${pg.next_url}`);
    assert.equal(next.pathname, path, `next_url ${pg.next_url}`);
    assert.equal(next.searchParams.get(key), pg[nextKey], `next_url carries ${key}: ${pg.next_url}`);
    r = await api(url + next.pathname + next.search, 'GET', '', { token: who.token });
  }
  return { items, pages };
}

async function poll(fn, timeout = 5000) {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v || Date.now() - start > timeout) return v;
    await sleep(50);
  }
}

// --- likes ------------------------------------------------------------------

describe('likes', () => {
  it('like and unlike answer data null, are idempotent, and take _method=DELETE', async () => {
    const [owner, fan] = take(2);
    const m = await photo(owner);
    for (let i = 0; i < 3; i++) assertNull(await like(fan, m), `like #${i}`);
    let v = await getMedia(fan, m);
    assert.equal(v.likes.count, 1);
    assert.equal(v.user_has_liked, true);
    assert.deepEqual(userIds(v.likes.data), [fan.user.id]);
    assert.deepEqual(userIds(assertOk(await likesOf(owner, m))), [fan.user.id]);

    for (let i = 0; i < 3; i++) assertNull(await unlike(fan, m), `unlike #${i}`);
    v = await getMedia(fan, m);
    assert.equal(v.likes.count, 0);
    assert.equal(v.user_has_liked, false);
    assert.deepEqual(v.likes.data, []);
    assert.deepEqual(assertOk(await likesOf(owner, m)), []);

    // POST with _method=DELETE unlikes; the token may travel in the form body
    assertNull(await api(url, 'POST', `/v1/media/${m.id}/likes`, { form: { access_token: fan.token } }), 'like, token in form');
    assert.equal((await getMedia(owner, m)).likes.count, 1);
    for (let i = 0; i < 2; i++) {
      assertNull(await api(url, 'POST', `/v1/media/${m.id}/likes`, { token: fan.token, form: { _method: 'DELETE' } }), '_method=DELETE');
    }
    assert.equal((await getMedia(owner, m)).likes.count, 0);
    assert.deepEqual(assertOk(await likesOf(owner, m)), []);

    // the owner may like their own photo; the bare media ID and .json work too
    const bare = m.id.split('_')[0];
    assertNull(await api(url, 'POST', `/v1/media/${bare}/likes`, { token: owner.token }), 'like by bare id');
    assert.deepEqual(userIds(assertOk(await api(url, 'GET', `/v1/media/${m.id}/likes.json`, { token: fan.token }))), [owner.user.id]);
    v = await getMedia(owner, m);
    assert.equal(v.likes.count, 1);
    assert.equal(v.user_has_liked, true);
    assert.equal((await getMedia(fan, m)).user_has_liked, false);
  });

  it('lists likers newest first; media show the exact count, the latest 4 likers and user_has_liked per viewer', async () => {
    const [owner, watcher, ...likers] = take(8); // 6 likers
    const m = await photo(owner, 'likes summary');
    for (const u of likers) {
      assertNull(await like(u, m));
      await sleep(3); // like IDs order by millisecond first
    }
    const newestFirst = uids(likers).reverse();
    const list = assertOk(await likesOf(watcher, m));
    for (const u of list) {
      assertShortUser(u);
      assert.deepEqual(Object.keys(u).sort(), ['full_name', 'id', 'profile_picture', 'username']);
    }
    assert.deepEqual(userIds(list), newestFirst);
    assert.equal(list[0].username, likers.at(-1).user.username);

    // the media object: GET /v1/media/{id}, as two viewers, and in recent media
    await rel(watcher, owner, 'follow');
    const recent = async (who) => {
      const r = assertOk(await api(url, 'GET', `/v1/users/${owner.user.id}/media/recent`, { token: who.token }));
      const found = r.find((x) => x.id === m.id);
      assert.ok(found, `media ${m.id} in recent: ${JSON.stringify(r.map((x) => x.id))}`);
      return found;
    };
    for (const [who, has] of [[likers[0], true], [likers[5], true], [watcher, false], [owner, false]]) {
      for (const v of [await getMedia(who, m), await recent(who)]) {
        assert.equal(v.likes.count, 6);
        assert.deepEqual(userIds(v.likes.data), newestFirst.slice(0, 4));
        for (const u of v.likes.data) assertShortUser(u);
        assert.equal(v.user_has_liked, has, `user_has_liked for ${who.user.username}`);
      }
    }
    // the home feed renders it the same way for the viewer who follows the owner
    await rel(likers[2], owner, 'follow');
    for (const [who, has] of [[watcher, false], [likers[2], true]]) {
      const inFeed = await poll(async () => {
        const r = await api(url, 'GET', '/v1/users/self/feed', { token: who.token });
        return r.status === 200 && r.body.data.find((x) => x.id === m.id);
      });
      assert.ok(inFeed, `media ${m.id} reaches the feed of ${who.user.username}`);
      assert.equal(inFeed.likes.count, 6);
      assert.deepEqual(userIds(inFeed.likes.data), newestFirst.slice(0, 4));
      assert.equal(inFeed.user_has_liked, has, `feed user_has_liked for ${who.user.username}`);
    }
    // unlike in the middle: the count and the lists follow
    assertNull(await unlike(likers[4], m));
    const after4 = newestFirst.filter((id) => id !== likers[4].user.id);
    assert.deepEqual(userIds(assertOk(await likesOf(owner, m))), after4);
    const v = await getMedia(likers[4], m);
    assert.equal(v.likes.count, 5);
    assert.equal(v.user_has_liked, false);
    assert.deepEqual(userIds(v.likes.data), after4.slice(0, 4));
    // liking again makes you the newest liker
    assertNull(await like(likers[0], m)); // a repeat: no change
    assertNull(await like(likers[4], m));
    assert.deepEqual(userIds(assertOk(await likesOf(owner, m))), [likers[4].user.id, ...after4]);
  });

  it('answers 404 for unknown media on every endpoint', async () => {
    const [owner, other] = take(2);
    const m = await photo(owner);
    const bare = m.id.split('_')[0];
    const wrongOwner = `${bare}_${other.user.id}`;
    for (const id of ['123456789', '4207254331844527104', wrongOwner, 'abc']) {
      for (const [method, p, form] of [
        ['POST', `/v1/media/${id}/likes`],
        ['DELETE', `/v1/media/${id}/likes`],
        ['GET', `/v1/media/${id}/likes`],
        ['POST', `/v1/media/${id}/comments`, { text: 'hello' }],
        ['GET', `/v1/media/${id}/comments`],
        ['DELETE', `/v1/media/${id}/comments/123`],
      ]) {
        const r = await api(url, method, p, { token: other.token, form });
        assertV1Error(r, 404, 'APINotFoundError');
      }
    }
    assert.equal((await getMedia(owner, m)).likes.count, 0);
    assert.equal((await getMedia(owner, m)).comments.count, 0);
  });
});

// --- the liked list -----------------------------------------------------------

describe('GET /v1/users/self/media/liked', () => {
  it('lists media you liked, newest like first, and walks each exactly once', async () => {
    const [fan, a, b] = take(3);
    const photos = [];
    for (let i = 0; i < 7; i++) photos.push(await photo(i % 2 ? a : b, `liked ${i}`));
    const order = [3, 0, 5, 1, 6, 2, 4]; // the order of the likes, unrelated to the media IDs
    for (const i of order) {
      assertNull(await like(fan, photos[i]));
      // like IDs order by millisecond first: two likes of one millisecond, on
      // photos of two shards (a's and b's), sort by shard, as the seeds' IDs did
      await sleep(3);
    }
    const want = order.map((i) => photos[i].id).reverse();

    let r = await liked(fan);
    let data = assertOk(r);
    assert.deepEqual(data.map((x) => x.id), want);
    assert.ok(!r.body.pagination || Object.keys(r.body.pagination).length === 0, `no more pages: ${show(r)}`);
    for (const x of data) {
      assert.equal(x.user_has_liked, true);
      assert.equal(x.likes.count, 1);
      assert.deepEqual(userIds(x.likes.data), [fan.user.id]);
    }

    const w = await walk(await liked(fan, { count: 3 }), fan,
      { path: '/v1/users/self/media/liked', key: 'max_like_id', nextKey: 'next_max_like_id' });
    assert.deepEqual(w.items.map((x) => x.id), want, 'walking count=3 gives each once, in order');
    assert.equal(w.pages, 3);
    const p1 = await liked(fan, { count: 3 });
    assert.equal(p1.body.data.length, 3);
    assert.match(p1.body.pagination.next_url, /[?&]count=3(&|$)/, 'next_url keeps count');

    const exact = await liked(fan, { count: 7 });
    assert.equal(assertOk(exact).length, 7);
    assert.ok(!exact.body.pagination || Object.keys(exact.body.pagination).length === 0, `count=7 of 7: ${show(exact)}`);
    assert.equal(assertOk(await liked(fan, { count: 100 })).length, 7);
    assert.equal(assertOk(await liked(fan, { count: 1 })).length, 1);

    for (const count of ['0', '101', '-1', 'abc']) {
      assertV1Error(await liked(fan, { count }), 400, 'APIInvalidParametersError');
    }
    for (const mx of ['abc', '-5', '12x', '1.5', '99999999999999999999999']) {
      assertV1Error(await liked(fan, { max_like_id: mx }), 400, 'APIInvalidParametersError');
    }

    // unliking drops it; liking again puts it first
    assertNull(await unlike(fan, photos[5]));
    assertNull(await unlike(fan, photos[3]));
    assertNull(await like(fan, photos[3]));
    data = assertOk(await liked(fan));
    const want2 = [photos[3].id, ...want.filter((id) => id !== photos[5].id && id !== photos[3].id)];
    assert.deepEqual(data.map((x) => x.id), want2);
    // someone else's list is theirs
    assert.deepEqual(assertOk(await liked(a)), []);
  });
});

// user_has_liked on pages of many photos: a viewer's likes are read once
// per page, from the cache when it holds them (all of them, for a viewer
// with fewer than 128; else those of the page's range), and a like or
// unlike shows on the next page at once.
describe('user_has_liked on pages', () => {
  const recent = async (who, owner, query = {}) =>
    assertOk(await api(url, 'GET', `/v1/users/${owner.user.id}/media/recent`, { token: who.token, query }));
  const flags = (page) => Object.fromEntries(page.map((x) => [x.id, x.user_has_liked]));
  const want = (photos, likedIds) => Object.fromEntries(photos.map((m) => [m.id, likedIds.has(m.id)]));

  it('is right on every owner\'s page for a viewer with few likes, and follows each like and unlike', async () => {
    const [fan, a, b] = take(3);
    const pa = []; const pb = [];
    for (let i = 0; i < 3; i++) { pa.push(await photo(a)); pb.push(await photo(b)); }
    const mine = new Set();
    for (const m of [pa[0], pa[2], pb[1]]) { assertNull(await like(fan, m)); mine.add(m.id); }
    assert.deepEqual(flags(await recent(fan, a)), want(pa, mine));
    assert.deepEqual(flags(await recent(fan, b)), want(pb, mine), 'another owner\'s page, from the same likes');
    assertNull(await like(fan, pb[0])); mine.add(pb[0].id);
    assert.deepEqual(flags(await recent(fan, b)), want(pb, mine), 'a like shows at once');
    assertNull(await unlike(fan, pa[2])); mine.delete(pa[2].id);
    assert.deepEqual(flags(await recent(fan, a)), want(pa, mine), 'an unlike shows at once');
    assert.deepEqual(flags(await recent(a, a)), want(pa, new Set()), 'the owner sees their own likes (none)');
  });

  it('is right for a viewer with more likes than are held whole (130)', async () => {
    const [fan, c, d] = take(3);
    const pc = [];
    for (let i = 0; i < 131; i++) pc.push(await photo(c));
    const mine = new Set();
    await mapLimit(pc.slice(1), 4, async (m) => { assertNull(await like(fan, m)); });
    for (const m of pc.slice(1)) mine.add(m.id);
    const pd = [await photo(d), await photo(d)];
    assertNull(await like(fan, pd[1])); mine.add(pd[1].id);
    // every page of c's 131, walked with max_id
    const seen = {};
    let page = await api(url, 'GET', `/v1/users/${c.user.id}/media/recent`, { token: fan.token, query: { count: 33 } });
    for (let n = 0; n < 10; n++) {
      Object.assign(seen, flags(assertOk(page)));
      const next = page.body.pagination?.next_max_id;
      if (!next) break;
      page = await api(url, 'GET', `/v1/users/${c.user.id}/media/recent`, { token: fan.token, query: { count: 33, max_id: next } });
    }
    assert.deepEqual(seen, want(pc, mine));
    assert.deepEqual(flags(await recent(fan, d)), want(pd, mine));
    assertNull(await unlike(fan, pc[130])); mine.delete(pc[130].id);
    assertNull(await like(fan, pc[0])); mine.add(pc[0].id);
    assert.deepEqual(flags(await recent(fan, c, { count: 33 })), want(pc.slice(98).reverse(), mine), 'the newest page, at once');
    assert.deepEqual(flags(await recent(fan, d)), want(pd, mine));
  });
});

// --- comments -----------------------------------------------------------------

describe('comments', () => {
  it('adds comments, validates the text, and stores CRLF as LF', async () => {
    const [owner, c1] = take(2);
    const m = await photo(owner);
    assertNull(await comment(c1, m, 'first!'), 'plain');
    assertNull(await comment(c1, m, 'line one\r\nline two\nthree'), 'CRLF');
    const max = 'é'.repeat(2199) + '😀'; // 2200 characters, more bytes
    assertNull(await comment(c1, m, max), '2200 characters');
    assertNull(await api(url, 'POST', `/v1/media/${m.id}/comments`, { json: { text: 'json body' }, token: c1.token }), 'JSON');

    const bad = [
      ['empty', { text: '' }],
      ['missing', {}],
      ['2201 characters', { text: 'a'.repeat(2201) }],
      ['2201 multibyte characters', { text: '😀'.repeat(2201) }],
      ['a control character', { text: 'bell\u0007' }],
      ['a NUL', { text: 'nul\u0000here' }],
      ['a tab', { text: 'tab\there' }],
      ['DEL', { text: 'del\u007f' }],
      ['a lone CR', { text: 'cr\ronly' }],
      ['an escape', { text: '\u001b[31mred' }],
      ['spaces only', { text: '   ' }],
      ['newlines only', { text: '\n\r\n\n' }],
      ['a C1 control', { text: 'nel\u0085' }],
    ];
    for (const [what, form] of bad) {
      const r = await api(url, 'POST', `/v1/media/${m.id}/comments`, { token: c1.token, form });
      assert.equal(r.status, 400, `${what}: ${show(r)}`);
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    // invalid UTF-8
    const r = await api(url, 'POST', `/v1/media/${m.id}/comments`, { token: c1.token, form: 'text=%C3%28bad' });
    assertV1Error(r, 400, 'APIInvalidParametersError');

    const list = assertOk(await commentsOf(owner, m));
    assert.deepEqual(list.map((c) => c.text), ['first!', 'line one\nline two\nthree', max, 'json body']);
    for (const c of list) assertComment(c, { from: { id: c1.user.id, username: c1.user.username, full_name: c1.user.full_name, profile_picture: c1.user.profile_picture } });
    assert.equal((await getMedia(owner, m)).comments.count, 4);
  });

  it('lists comments oldest first; media show the exact count and the latest 4, oldest first', async () => {
    const [owner, x, y] = take(3);
    const m = await photo(owner, 'a thread');
    const texts = [];
    for (let i = 0; i < 6; i++) {
      const who = [x, y, owner][i % 3];
      texts.push(`comment ${i} by ${who.user.username}`);
      assertNull(await comment(who, m, texts[i]));
    }
    const list = assertOk(await commentsOf(x, m));
    assert.deepEqual(list.map((c) => c.text), texts);
    assert.deepEqual(list.map((c) => c.from.id), [x, y, owner, x, y, owner].map((u) => u.user.id));
    for (let i = 1; i < list.length; i++) assert.ok(BigInt(list[i - 1].id) < BigInt(list[i].id), 'IDs increase');
    for (const c of list) assertComment(c);

    for (const who of [owner, x, y]) {
      const v = await getMedia(who, m);
      assert.equal(v.comments.count, 6);
      assert.deepEqual(v.comments.data, list.slice(2), 'the latest 4, oldest first, as GET comments renders them');
      assert.equal(v.caption.text, 'a thread', 'the caption is not a comment');
    }
    const recent = assertOk(await api(url, 'GET', `/v1/users/${owner.user.id}/media/recent`, { token: y.token }));
    const inRecent = recent.find((v) => v.id === m.id);
    assert.equal(inRecent.comments.count, 6);
    assert.deepEqual(inRecent.comments.data.map((c) => c.text), texts.slice(2));
    // a photo with no comments
    const empty = await photo(owner);
    assert.deepEqual(assertOk(await commentsOf(x, empty)), []);
    assert.deepEqual((await getMedia(x, empty)).comments, { count: 0, data: [] });
  });

  it('deletes: the author and the owner may, others may not; unknown or foreign IDs are 404', async () => {
    const [owner, author, other] = take(3);
    const m = await photo(owner);
    const m2 = await photo(owner);
    for (const [who, text] of [[author, 'a1'], [author, 'a2'], [other, 'o1'], [author, 'a3']]) assertNull(await comment(who, m, text));
    assertNull(await comment(author, m2, 'on the other photo'));
    const byText = async (media) => Object.fromEntries(assertOk(await commentsOf(owner, media)).map((c) => [c.text, c.id]));
    const ids = await byText(m);
    const foreign = (await byText(m2))['on the other photo'];

    // someone else
    let r = await delComment(other, m, ids.a1);
    assertV1Error(r, 400, 'APINotAllowedError');
    r = await delComment(author, m, ids.o1);
    assertV1Error(r, 400, 'APINotAllowedError');
    assert.equal((await getMedia(owner, m)).comments.count, 4);

    // unknown IDs, and a comment of another photo through this photo
    for (const cid of ['999999', '4207254332045853696', 'abc', '0', foreign]) {
      assertV1Error(await delComment(author, m, cid), 404, 'APINotFoundError');
      assertV1Error(await delComment(owner, m, cid), 404, 'APINotFoundError');
    }
    assert.equal((await getMedia(owner, m2)).comments.count, 1, 'the foreign comment survived');

    // the author, the owner, and the author of a comment via _method=DELETE
    assertNull(await delComment(author, m, ids.a1), 'author deletes');
    assertNull(await delComment(owner, m, ids.a2), 'owner deletes');
    assertNull(await api(url, 'POST', `/v1/media/${m.id}/comments/${ids.o1}`, { token: other.token, form: { _method: 'DELETE' } }), '_method=DELETE');
    for (const [who, cid] of [[author, ids.a1], [owner, ids.a2], [other, ids.o1], [owner, ids.a1]]) {
      assertV1Error(await delComment(who, m, cid), 404, 'APINotFoundError');
    }
    const left = assertOk(await commentsOf(owner, m));
    assert.deepEqual(left.map((c) => c.text), ['a3']);
    const v = await getMedia(owner, m);
    assert.equal(v.comments.count, 1);
    assert.deepEqual(v.comments.data.map((c) => c.text), ['a3']);
  });
});

// --- privacy and blocks --------------------------------------------------------

describe('privacy and blocks', () => {
  it("a private account's photo: only the owner and approved followers may like or comment", async () => {
    const [owner, follower, stranger, requester] = take(4);
    await makePrivate(owner);
    assert.deepEqual(await rel(follower, owner, 'follow'), { outgoing_status: 'requested' });
    await rel(owner, follower, 'approve');
    assert.deepEqual(await rel(requester, owner, 'follow'), { outgoing_status: 'requested' });
    const m = await photo(owner);
    assertNull(await comment(follower, m, 'from a follower'));
    const cid = assertOk(await commentsOf(owner, m))[0].id;

    for (const who of [stranger, requester]) {
      for (const [what, call] of [
        ['like', () => like(who, m)],
        ['unlike', () => unlike(who, m)],
        ['list likes', () => likesOf(who, m)],
        ['comment', () => comment(who, m, 'let me in')],
        ['list comments', () => commentsOf(who, m)],
        ['delete a comment', () => delComment(who, m, cid)],
      ]) {
        const r = await call();
        assert.equal(r.status, 400, `${what} by ${who.user.username}: ${show(r)}`);
        assertV1Error(r, 400, 'APINotAllowedError');
      }
    }
    let v = await getMedia(owner, m);
    assert.equal(v.likes.count, 0);
    assert.equal(v.comments.count, 1);

    assertNull(await like(follower, m));
    assertNull(await like(owner, m));
    assert.deepEqual(userIds(assertOk(await likesOf(follower, m))), [owner.user.id, follower.user.id]);
    assertNull(await comment(follower, m, 'again'));
    assert.deepEqual(assertOk(await commentsOf(follower, m)).map((c) => c.text), ['from a follower', 'again']);
    assertNull(await unlike(follower, m));
    v = await getMedia(follower, m);
    assert.equal(v.likes.count, 1);
    assert.equal(v.user_has_liked, false);
    assert.equal(v.comments.count, 2);

    // once approved, the requester may too
    await rel(owner, requester, 'approve');
    assertNull(await like(requester, m));
    assert.equal((await getMedia(owner, m)).likes.count, 2);
  });

  it('an account that goes private closes its photos to likes and comments at once, though they were just open', async () => {
    // a like's checks come from the object cache (the photo's owner, their
    // privacy): the privacy must be the account's as it is now
    const [owner, stranger] = take(2);
    const m = await photo(owner);
    assertNull(await like(stranger, m));
    assertNull(await unlike(stranger, m));
    assertNull(await comment(stranger, m, 'while it was open'));
    await makePrivate(owner);
    for (const [what, call] of [['like', () => like(stranger, m)], ['comment', () => comment(stranger, m, 'now closed')]]) {
      const r = await call();
      assertV1Error(r, 400, 'APINotAllowedError');
      assert.equal(r.status, 400, `${what}: ${show(r)}`);
    }
    const v = await getMedia(owner, m);
    assert.equal(v.likes.count, 0);
    assert.deepEqual(v.comments.data.map((c) => c.text), ['while it was open']);
    const pub = await api(url, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'false' } });
    assert.equal(pub.status, 200, show(pub));
    assertNull(await like(stranger, m));
    assert.equal((await getMedia(owner, m)).likes.count, 1);
  });

  it('a blocked user, in either direction, can neither like nor comment', async () => {
    const [owner, blocked, blocker, bystander] = take(4);
    const m = await photo(owner);
    await rel(owner, blocked, 'block'); // the owner blocks
    await rel(blocker, owner, 'block'); // the other way round
    // to the blocked user the owner's photo is not there; the blocker may not
    assertV1Error(await like(blocked, m), 404, 'APINotFoundError');
    assertV1Error(await comment(blocked, m, 'hi'), 404, 'APINotFoundError');
    assertV1Error(await like(blocker, m), 400, 'APINotAllowedError');
    assertV1Error(await comment(blocker, m, 'hi'), 400, 'APINotAllowedError');
    const v = await getMedia(owner, m);
    assert.equal(v.likes.count, 0);
    assert.equal(v.comments.count, 0);
    assert.deepEqual(assertOk(await likesOf(owner, m)), []);
    assert.deepEqual(assertOk(await commentsOf(owner, m)), []);
    // nothing changed for anyone else
    assertNull(await like(bystander, m));
    // after unblocking, both may
    await rel(owner, blocked, 'unblock');
    await rel(blocker, owner, 'unblock');
    for (const who of [blocked, blocker]) {
      assertNull(await like(who, m));
      assertNull(await comment(who, m, 'hi again'));
    }
    assert.equal((await getMedia(owner, m)).likes.count, 3);
    assert.equal((await getMedia(owner, m)).comments.count, 2);
  });
});

// --- activity -------------------------------------------------------------------

describe('GET /v1/users/self/activity', () => {
  it('takes news back with what caused it: an unlike, a deleted comment, a deleted photo', async () => {
    const [owner, fan, named] = take(3);
    const m = await photo(owner, `for @${named.user.username}`);
    const other = await photo(owner, 'stays');
    assertNull(await like(fan, m));
    assertNull(await like(fan, other));
    assertNull(await comment(fan, m, `hello @${named.user.username}`));
    const kinds = async (who) => (await allActivity(who)).map((a) => `${a.type}:${a.media ? a.media.id : '-'}`);
    assert.deepEqual(await kinds(owner), [`comment:${m.id}`, `like:${other.id}`, `like:${m.id}`]);
    assert.deepEqual(await kinds(named), [`mention:${m.id}`, `mention:${m.id}`]);

    // an unlike takes its like back; a like again is news again, once
    assertNull(await unlike(fan, m));
    assert.deepEqual(await kinds(owner), [`comment:${m.id}`, `like:${other.id}`]);
    assertNull(await like(fan, m));
    assertNull(await like(fan, m)); // idempotent: no second piece of news
    assert.deepEqual(await kinds(owner), [`like:${m.id}`, `comment:${m.id}`, `like:${other.id}`]);

    // a deleted comment takes its comment and mention news with it
    const cs = assertOk(await commentsOf(owner, m));
    const cid = cs.find((c) => c.text.startsWith('hello')).id;
    assertNull(await api(url, 'DELETE', `/v1/media/${m.id}/comments/${cid}`, { token: fan.token }));
    assert.deepEqual(await kinds(owner), [`like:${m.id}`, `like:${other.id}`]);
    assert.deepEqual(await kinds(named), [`mention:${m.id}`], 'the caption mention stays');

    // a deleted photo takes all of its news; the other photo's stays
    assertNull(await api(url, 'DELETE', `/v1/media/${m.id}`, { token: owner.token }));
    assert.deepEqual(await kinds(owner), [`like:${other.id}`]);
    assert.deepEqual(await kinds(named), []);
  });

  it('approves the pending requests of an account that goes public', async () => {
    const [owner, r1, r2, ignored] = take(4);
    await makePrivate(owner);
    for (const who of [r1, r2, ignored]) assert.equal((await rel(who, owner, 'follow')).outgoing_status, 'requested');
    await rel(owner, ignored, 'ignore');
    const pub = await api(url, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'false' } });
    assert.equal(pub.status, 200, show(pub));
    const requestedBy = async () => userIds(assertOk(await api(url, 'GET', '/v1/users/self/requested-by', { token: owner.token })));
    const done = await poll(async () => (await requestedBy()).length === 0, 10_000);
    assert.ok(done, `no request is left pending: ${await requestedBy()}`);
    for (const who of [r1, r2]) {
      const r = assertOk(await api(url, 'GET', `/v1/users/${owner.user.id}/relationship`, { token: who.token }));
      assert.equal(r.outgoing_status, 'follows', 'a pending request became a follow');
      const news = await allActivity(who);
      assert.ok(news.some((n) => n.type === 'approved' && n.user.id === owner.user.id), 'and its requester heard of it');
    }
    const r = assertOk(await api(url, 'GET', `/v1/users/${owner.user.id}/relationship`, { token: ignored.token }));
    assert.equal(r.outgoing_status, 'none', 'an ignored request stays ignored');
    const followers = userIds(assertOk(await api(url, 'GET', `/v1/users/${owner.user.id}/followed-by`, { token: owner.token })));
    assert.deepEqual(followers.sort(), uids([r1, r2]).sort());
  });

  it('ends a mention at a trailing dot, and takes no new username ending in one', async () => {
    const [named, poster] = take(2);
    await photo(poster, `thanks @${named.user.username}. See you @${named.user.username.toUpperCase()}...`);
    const acts = await allActivity(named);
    assert.deepEqual(acts.map((x) => `${x.type}:${x.user.id}`), [`mention:${poster.user.id}`], '@name. is name');
    const taken = `${uniqueName('dot')}.`;
    const r = await api(url, 'POST', '/v1/accounts', { form: { username: taken, password: 'correct horse battery' } });
    assertV1Error(r, 400, 'APIInvalidParametersError');
    assert.match(r.body.meta.error_message, /end with '\.'/);
    const ok = await api(url, 'POST', '/v1/accounts', { form: { username: taken.slice(0, -1).replace(/^(.)/, '$1.'), password: 'correct horse battery' } });
    assert.equal(ok.status, 200, `a dot inside is fine: ${show(ok)}`);
  });

  it('reports likes, comments, follows, requests, approvals and mentions, newest first, never your own', async () => {
    const [pub, priv, x, y] = take(4);
    await makePrivate(priv);
    const m = await photo(pub, 'my photo');
    assertNull(await like(x, m));
    assertNull(await comment(y, m, `nice one @${x.user.username}\r\nreally`));
    await rel(y, pub, 'follow');
    await rel(x, priv, 'follow'); // a request
    await rel(priv, x, 'approve');
    const cap = await photo(priv, `with @${y.user.username} and @${pub.user.username.toUpperCase()} and @nobody_${Date.now()}`);
    // your own actions: no news
    assertNull(await like(pub, m));
    assertNull(await comment(pub, m, `me, myself @${pub.user.username}`));
    await photo(pub, `selfie @${pub.user.username}`);

    const pubActs = await allActivity(pub);
    const kinds = (acts) => acts.map((a) => `${a.type}:${a.user.id}`);
    assert.deepEqual(kinds(pubActs), [
      `mention:${priv.user.id}`,
      `follow:${y.user.id}`,
      `comment:${y.user.id}`,
      `like:${x.user.id}`,
    ], 'newest first, nothing from pub itself');
    for (let i = 1; i < pubActs.length; i++) assert.ok(BigInt(pubActs[i - 1].id) > BigInt(pubActs[i].id), 'IDs decrease');
    const [mention, follow, cmt, lk] = pubActs;
    assert.equal(lk.media.id, m.id);
    assert.equal(lk.media.images.thumbnail.url, m.images.thumbnail.url);
    assert.equal(lk.media.images.thumbnail.width, m.images.thumbnail.width);
    assert.equal(lk.text, null);
    assert.equal(lk.user.username, x.user.username);
    assert.equal(cmt.media.id, m.id);
    assert.equal(cmt.text, `nice one @${x.user.username}\nreally`);
    assert.equal(follow.media, null);
    assert.equal(follow.text, null);
    // priv is private and pub does not follow it: the mention is news, but
    // the photo and its caption stay private
    assert.equal(mention.media, null, 'a private photo is not shown through activity');
    assert.equal(mention.text, null);
    for (const a of pubActs) assert.ok(Math.abs(Number(a.created_time) - Date.now() / 1000) < 600);

    const xActs = await allActivity(x);
    assert.deepEqual(kinds(xActs), [`approved:${priv.user.id}`, `mention:${y.user.id}`]);
    assert.equal(xActs[0].media, null);
    assert.equal(xActs[0].text, null);
    assert.equal(xActs[1].media.id, m.id, 'a mention in a comment');
    assert.equal(xActs[1].text, `nice one @${x.user.username}\nreally`);

    const privActs = await allActivity(priv);
    assert.deepEqual(kinds(privActs), [`request:${x.user.id}`]);
    assert.equal(privActs[0].media, null);
    assert.equal(privActs[0].text, null);

    const yActs = await allActivity(y);
    assert.deepEqual(kinds(yActs), [`mention:${priv.user.id}`]);
    assert.equal(yActs[0].media, null); // y does not follow priv either
    // an approved follower sees the photo and the text of a mention
    await rel(y, priv, 'follow');
    await rel(priv, y, 'approve');
    const yAfter = await allActivity(y);
    const yMention = yAfter.find((a) => a.type === 'mention');
    assert.equal(yMention.media.id, cap.id, 'a mention in a caption, matched case-insensitively');
    assert.equal(yMention.text, cap.caption.text);
  });

  it("hides blocked users' actions, whichever side blocked", async () => {
    const [owner, liker, commenter, fan] = take(4);
    const m = await photo(owner);
    assertNull(await like(liker, m));
    assertNull(await comment(commenter, m, 'hello'));
    assertNull(await like(fan, m));
    const before = (await allActivity(owner)).map((a) => `${a.type}:${a.user.id}`);
    assert.deepEqual(before, [`like:${fan.user.id}`, `comment:${commenter.user.id}`, `like:${liker.user.id}`]);

    await rel(owner, liker, 'block'); // the owner blocks the actor
    await rel(commenter, owner, 'block'); // the actor blocks the owner
    const acts = await allActivity(owner);
    assert.deepEqual(acts.map((a) => `${a.type}:${a.user.id}`), [`like:${fan.user.id}`]);
    // paging does not bring them back
    const w = await walk(await activity(owner, { count: 1 }), owner,
      { path: '/v1/users/self/activity', key: 'max_id', nextKey: 'next_max_id' });
    assert.deepEqual(w.items.map((a) => a.user.id), [fan.user.id]);
  });

  it("keeps pages full when blocked users' entries are hidden", async () => {
    // "pagination is present only on lists that have more items" (api-v1.md),
    // and count=1 must bring the one visible entry, not an empty page.
    const [owner, fan, pest1, pest2] = take(4);
    const m = await photo(owner);
    assertNull(await like(fan, m)); // the only entry that stays visible, and the oldest
    assertNull(await like(pest1, m));
    assertNull(await comment(pest2, m, 'spam'));
    await rel(owner, pest1, 'block');
    await rel(owner, pest2, 'block');
    const r = await activity(owner, { count: 1 });
    assert.deepEqual(assertOk(r).map((a) => `${a.type}:${a.user.id}`), [`like:${fan.user.id}`], `count=1: ${show(r)}`);
    assert.ok(!r.body.pagination || Object.keys(r.body.pagination).length === 0, `no further page: ${show(r)}`);
  });

  it('pages with count and max_id, each item exactly once, and validates them', async () => {
    const [owner, ...actors] = take(4);
    const m1 = await photo(owner);
    const m2 = await photo(owner);
    for (const u of actors) {
      assertNull(await like(u, m1));
      assertNull(await like(u, m2));
    }
    assertNull(await comment(actors[0], m1, 'seven'));
    const all = await allActivity(owner);
    assert.equal(all.length, 7);
    assert.equal(assertOk(await activity(owner)).length, 7, 'default count is 20');

    const w = await walk(await activity(owner, { count: 3 }), owner,
      { path: '/v1/users/self/activity', key: 'max_id', nextKey: 'next_max_id' });
    assert.deepEqual(w.items.map((a) => a.id), all.map((a) => a.id));
    assert.equal(w.pages, 3);
    const first = await activity(owner, { count: 3 });
    assert.match(first.body.pagination.next_url, /[?&]count=3(&|$)/, 'next_url keeps count');
    const exact = await activity(owner, { count: 7 });
    assert.equal(assertOk(exact).length, 7);
    assert.ok(!exact.body.pagination || Object.keys(exact.body.pagination).length === 0, `count=7 of 7: ${show(exact)}`);
    // max_id is exclusive
    const after = assertOk(await activity(owner, { max_id: all[2].id }));
    assert.deepEqual(after.map((a) => a.id), all.slice(3).map((a) => a.id));

    for (const count of ['0', '101', '-3', 'ten']) {
      assertV1Error(await activity(owner, { count }), 400, 'APIInvalidParametersError');
    }
    assert.equal(assertOk(await activity(owner, { count: 100 })).length, 7);
    for (const mx of ['abc', '-1', '1e5', '99999999999999999999999']) {
      assertV1Error(await activity(owner, { max_id: mx }), 400, 'APIInvalidParametersError');
    }
  });
});

// --- concurrency ------------------------------------------------------------------

describe('concurrent writes', () => {
  it('keeps the like count exact under concurrent likes and unlikes', async () => {
    const owner = take(1)[0];
    const fans = take(10);
    const m = await photo(owner);
    // every fan likes twice at once
    const rs = await Promise.all(fans.flatMap((f) => [like(f, m), like(f, m)]));
    for (const r of rs) assertNull(r);
    let v = await getMedia(owner, m);
    assert.equal(v.likes.count, 10);
    assert.deepEqual(new Set(userIds(assertOk(await likesOf(owner, m)))), new Set(uids(fans)));

    // four unlike (twice each) while two repeat their like
    const gone = fans.slice(0, 4);
    const rs2 = await Promise.all([
      ...gone.flatMap((f) => [unlike(f, m), unlike(f, m)]),
      like(fans[8], m), like(fans[9], m),
    ]);
    for (const r of rs2) assertNull(r);
    const stay = fans.slice(4);
    v = await getMedia(owner, m);
    const list = userIds(assertOk(await likesOf(owner, m)));
    assert.equal(v.likes.count, 6);
    assert.equal(list.length, 6);
    assert.deepEqual(new Set(list), new Set(uids(stay)));
    // mixed: three leave while the four come back
    const rs3 = await Promise.all([...stay.slice(0, 3).map((f) => unlike(f, m)), ...gone.map((f) => like(f, m))]);
    for (const r of rs3) assertNull(r);
    const now = [...stay.slice(3), ...gone];
    v = await getMedia(owner, m);
    const list2 = userIds(assertOk(await likesOf(owner, m)));
    assert.equal(v.likes.count, 7);
    assert.equal(list2.length, 7);
    assert.deepEqual(new Set(list2), new Set(uids(now)));
    for (const f of fans) {
      assert.equal((await getMedia(f, m)).user_has_liked, now.includes(f), `user_has_liked of ${f.user.username}`);
    }
  });

  it('keeps the comment count exact under concurrent adds and deletes', async () => {
    const owner = take(1)[0];
    const fans = take(10);
    const m = await photo(owner);
    const rs = await Promise.all(fans.flatMap((f, i) => [comment(f, m, `a${i}`), comment(f, m, `b${i}`)]));
    for (const r of rs) assertNull(r);
    let list = assertOk(await commentsOf(owner, m));
    assert.equal(list.length, 20);
    assert.equal((await getMedia(owner, m)).comments.count, 20);
    assert.equal(new Set(list.map((c) => c.id)).size, 20);
    for (let i = 1; i < list.length; i++) assert.ok(BigInt(list[i - 1].id) < BigInt(list[i].id), 'oldest first');

    // 8 comments deleted, each by two requests at once (author and owner): one wins, one 404s;
    // meanwhile 3 more are added
    const victims = list.slice(0, 8);
    const author = (c) => fans.find((f) => f.user.id === c.from.id);
    const rs2 = await Promise.all([
      ...victims.map((c) => Promise.all([delComment(author(c), m, c.id), delComment(owner, m, c.id)])),
      ...fans.slice(0, 3).map((f, i) => comment(f, m, `c${i}`)),
    ]);
    for (const pair of rs2.slice(0, 8)) {
      const codes = pair.map((r) => r.status).sort();
      assert.deepEqual(codes, [200, 404], `one delete wins: ${pair.map(show).join(' | ')}`);
    }
    for (const r of rs2.slice(8)) assertNull(r);
    list = assertOk(await commentsOf(owner, m));
    assert.equal(list.length, 15);
    assert.equal((await getMedia(owner, m)).comments.count, 15);
    const victimIds = new Set(victims.map((c) => c.id));
    assert.ok(!list.some((c) => victimIds.has(c.id)));
  });
});

// --- deleting a photo ----------------------------------------------------------------

describe('deleting a photo', () => {
  it('takes its likes and comments with it', async () => {
    const [owner, fan, other] = take(3);
    const keep = await photo(owner, 'keep');
    const doomed = await photo(owner, 'doomed');
    assertNull(await like(fan, keep));
    assertNull(await like(fan, doomed));
    assertNull(await like(other, doomed));
    assertNull(await comment(fan, doomed, 'bye'));
    assertNull(await comment(fan, keep, 'stay'));
    assert.deepEqual(assertOk(await liked(fan)).map((x) => x.id), [doomed.id, keep.id]);

    assertNull(await api(url, 'DELETE', `/v1/media/${doomed.id}`, { token: owner.token }), 'delete the photo');
    for (const r of [await likesOf(fan, doomed), await commentsOf(fan, doomed), await like(fan, doomed),
      await comment(fan, doomed, 'late'), await unlike(fan, doomed)]) {
      assertV1Error(r, 404, 'APINotFoundError');
    }
    // the liked lists no longer show it
    let r = await liked(fan);
    assert.deepEqual(assertOk(r).map((x) => x.id), [keep.id]);
    r = await liked(other);
    assert.deepEqual(assertOk(r), []);
    assert.ok(!r.body.pagination || Object.keys(r.body.pagination).length === 0, show(r));
    const w = await walk(await liked(fan, { count: 1 }), fan,
      { path: '/v1/users/self/media/liked', key: 'max_like_id', nextKey: 'next_max_like_id' });
    assert.deepEqual(w.items.map((x) => x.id), [keep.id]);

    // the other photo is untouched
    const v = await getMedia(fan, keep);
    assert.equal(v.likes.count, 1);
    assert.equal(v.user_has_liked, true);
    assert.equal(v.comments.count, 1);
    assert.deepEqual(v.comments.data.map((c) => c.text), ['stay']);
    // the owner's activity still answers
    await allActivity(owner);
  });

  it('keeps liked-list pages full after a liked photo is deleted', async () => {
    // The liked list must not serve an empty page (with a next_url) while a
    // liked photo remains: clients stop at an empty page.
    const [owner, fan] = take(2);
    const keep = await photo(owner, 'keep');
    const doomed = await photo(owner, 'doomed');
    assertNull(await like(fan, keep));
    assertNull(await like(fan, doomed));
    assertNull(await api(url, 'DELETE', `/v1/media/${doomed.id}`, { token: owner.token }), 'delete the photo');
    const r = await liked(fan, { count: 1 });
    assert.deepEqual(assertOk(r).map((x) => x.id), [keep.id], `count=1 after the delete: ${show(r)}`);
    assert.ok(!r.body.pagination || Object.keys(r.body.pagination).length === 0, `no further page: ${show(r)}`);
  });
});

// --- many likers (last: every pool user likes this one photo) ---------------------

describe('many likers', () => {
  it('lists at most 120 likers, newest first; the count stays exact', async () => {
    const owner = take(1)[0];
    const m = await photo(owner);
    const first = pool[0];
    const rest = pool.slice(1).filter((u) => u !== owner);
    assert.ok(rest.length >= 120);
    assertNull(await like(first, m));
    await sleep(5);
    await mapLimit(rest.slice(0, 119), 8, async (u) => assertNull(await like(u, m)));
    await sleep(5);
    const last = rest[119];
    assertNull(await like(last, m));
    const list = assertOk(await likesOf(owner, m));
    assert.equal(list.length, 120);
    assert.equal(new Set(userIds(list)).size, 120, 'no liker twice');
    assert.equal(list[0].id, last.user.id, 'the newest liker first');
    assert.ok(!userIds(list).includes(first.user.id), 'the oldest liker is the one left out');
    const v = await getMedia(owner, m);
    assert.equal(v.likes.count, 121);
    assert.equal(v.likes.data.length, 4);
    assert.equal(v.likes.data[0].id, last.user.id);
    assert.equal((await getMedia(first, m)).user_has_liked, true);
  });
});
