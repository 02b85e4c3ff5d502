// Discovery: hashtags (GET /v1/tags/{name}, /v1/tags/{name}/media/recent,
// /v1/tags/search) and where they come from (captions, the owner's comments,
// caption edits with POST /v1/media/{id}), how the tag index follows edits
// and deletes; places (the upload's location fields, GET /v1/locations/{id},
// /v1/locations/{id}/media/recent, /v1/locations/search); geo search
// (GET /v1/media/search: haversine distances checked independently, across
// the antimeridian and near the pole, the time window); popular (a periodic
// job, run every second here); the ranking of GET /v1/users/search; and
// privacy and blocks on every discovery list.
//
// Everything shares one server. Tags get random names and every group of
// tests puts its places in its own part of the world (kilometres apart), so
// the tests do not see each other's media.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  startServer, api, signup, uniqueName, uploadPhoto, assertOk, assertV1Error, assertShortUser, external, show,
} from './lib.mjs';
import { mediaNum, bareId, poll, sleep, mapLimit } from './feed_util.mjs';

const PHOTO = 'tiny-1x1.jpg';
const MEDIA_KEYS = ['id', 'type', 'filter', 'tags', 'link', 'created_time', 'attribution', 'user_has_liked',
  'users_in_photo', 'location', 'caption', 'likes', 'comments', 'user', 'images'];
const POPULAR_WAIT_MS = 20_000; // the job runs every second; ASan builds are slow

let srv;
let url;
let pool = [];
let poolNext = 0;
const POOL_SIZE = 40;

before(async () => {
  // --max-concurrent-uploads: one test uploads 6 photos at once
  srv = await startServer(['--access-log', 'off', '--max-concurrent-uploads', '16'], { PICOGRAM_POPULAR_INTERVAL: '1' });
  url = srv.url;
  pool = await mapLimit(Array.from({ length: POOL_SIZE }), 4, () => signup(url, uniqueName('disc')));
});
after(async () => { await srv?.stop(); });

// --- helpers ----------------------------------------------------------------

/** n users no other test has used. */
function take(n) {
  assert.ok(poolNext + n <= pool.length, 'user pool exhausted: raise POOL_SIZE');
  const out = pool.slice(poolNext, poolNext + n);
  poolNext += n;
  return out;
}

/** A fresh lower-case name: the prefix (letters) and 8 hex digits. */
const fresh = (prefix) => `${prefix}${randomBytes(4).toString('hex')}`;
const enc = encodeURIComponent;
const sorted = (a) => [...a].sort();
const idsOf = (list) => list.map((m) => m.id);

/** Uploads the tiny photo with these text fields; returns the media object. */
async function post(who, fields = {}) {
  let r;
  for (let attempt = 0; ; attempt++) {
    r = await uploadPhoto(url, { token: who.token, photo: PHOTO, fields });
    // an external server may have a lower --max-concurrent-uploads
    if (r.status !== 503 || attempt >= 20) break;
    await sleep(100);
  }
  assert.equal(r.status, 200, `upload ${JSON.stringify(fields).slice(0, 200)}: ${show(r)}`);
  return assertOk(r);
}
const get = (who, p, query) => api(url, 'GET', p, { token: who.token, query });
const getMedia = async (who, id) => assertOk(await get(who, `/v1/media/${id}`));
async function delMedia(who, m) {
  const r = await api(url, 'DELETE', `/v1/media/${m.id}`, { token: who.token });
  assert.equal(r.status, 200, `delete ${m.id}: ${show(r)}`);
}
async function comment(who, m, text) {
  const r = await api(url, 'POST', `/v1/media/${m.id}/comments`, { token: who.token, form: { text } });
  assert.equal(r.status, 200, `comment ${JSON.stringify(text)}: ${show(r)}`);
}
/** The ID of the comment on m with exactly this text. */
async function commentId(who, m, text) {
  const list = assertOk(await get(who, `/v1/media/${m.id}/comments`));
  const c = list.find((x) => x.text === text);
  assert.ok(c, `comment ${JSON.stringify(text)} in ${JSON.stringify(list)}`);
  return c.id;
}
async function delComment(who, m, cid) {
  const r = await api(url, 'DELETE', `/v1/media/${m.id}/comments/${cid}`, { token: who.token });
  assert.equal(r.status, 200, `delete comment ${cid}: ${show(r)}`);
}
async function like(who, m) {
  const r = await api(url, 'POST', `/v1/media/${m.id}/likes`, { token: who.token });
  assert.equal(r.status, 200, `like ${m.id}: ${show(r)}`);
}
async function rel(who, target, action) {
  const r = await api(url, 'POST', `/v1/users/${target.user.id}/relationship`, { token: who.token, form: { action } });
  assert.equal(r.status, 200, `${action}: ${show(r)}`);
  return r.body.data;
}
async function setPrivate(who, on) {
  const r = await api(url, 'POST', '/v1/users/self', { token: who.token, form: { is_private: on ? 'true' : 'false' } });
  assert.equal(r.status, 200, show(r));
}
const editCaption = (who, id, caption) => api(url, 'POST', `/v1/media/${id}`, { token: who.token, form: { caption } });

/** Asserts the media object has every v1 key. */
function assertMediaShape(m, extra = []) {
  assert.ok(m && typeof m === 'object', `not a media object: ${JSON.stringify(m)}`);
  for (const k of [...MEDIA_KEYS, ...extra]) assert.ok(k in m, `media lacks ${k}: ${JSON.stringify(m).slice(0, 300)}`);
  assert.match(m.id, /^[1-9]\d*_[1-9]\d*$/);
  assert.ok(Array.isArray(m.tags));
}

// tags
const tagPath = (name) => `/v1/tags/${enc(name)}`;
const tagInfo = async (who, name) => assertOk(await get(who, tagPath(name)));
const tagPage = (who, name, query) => get(who, `${tagPath(name)}/media/recent`, query);
const tagSearch = (who, query) => get(who, '/v1/tags/search', query);
const TAG_WALK = { key: 'max_tag_id', nextKey: 'next_max_tag_id' };
const ID_WALK = { key: 'max_id', nextKey: 'next_max_id' };

/** Checks a tag page's pagination: min_tag_id (the newest item's tag ID) on a non-empty page. */
function checkTagPage(r, data) {
  const pg = r.body.pagination;
  if (data.length > 0) {
    assert.ok(pg && typeof pg.min_tag_id === 'string', `min_tag_id on a non-empty page: ${show(r)}`);
    assert.match(pg.min_tag_id, /^\d+$/, `min_tag_id is a number: ${show(r)}`);
  } else {
    assert.ok(!pg || pg.min_tag_id === undefined, `no min_tag_id on an empty page: ${show(r)}`);
  }
  // a plain tag ID, or a sealed position when the scan stopped among hidden items
  if (pg && pg.next_max_tag_id !== undefined) assert.match(pg.next_max_tag_id, /^(\d+|s[A-Za-z0-9_-]{32})$/, show(r));
  if (pg && pg.next_url !== undefined) assert.equal(typeof pg.next_max_tag_id, 'string', `next_max_tag_id with next_url: ${show(r)}`);
}

/**
 * Walks a list from `first` (a path with its query) by following
 * pagination.next_url; checks each page (200, at most count items, next_url
 * absolute on this server, carrying key=pagination[nextKey] and the first
 * query's other parameters; with tokenInUrl, no Authorization header: the
 * token must travel in next_url). Returns {items, ids, pages (sizes), responses}.
 */
async function walk(first, who, { key, nextKey, count, onPage, tokenInUrl = false } = {}) {
  const firstUrl = new URL(url + first);
  let target = firstUrl.pathname + firstUrl.search;
  const items = [];
  const pages = [];
  const responses = [];
  for (;;) {
    assert.ok(pages.length < 60, `too many pages walking ${first}`);
    const r = await api(url, 'GET', target, { token: tokenInUrl ? undefined : who.token });
    const data = assertOk(r);
    assert.ok(Array.isArray(data), show(r));
    if (count !== undefined) assert.ok(data.length <= count, `${data.length} items > count ${count} on ${target}`);
    if (onPage) onPage(r, data);
    items.push(...data);
    pages.push(data.length);
    responses.push(r);
    const pg = r.body.pagination;
    if (!pg || pg.next_url === undefined) break;
    assert.equal(typeof pg.next_url, 'string', show(r));
    assert.equal(typeof pg[nextKey], 'string', `${nextKey} in ${show(r)}`);
    const next = new URL(pg.next_url); // absolute, or this throws
    assert.equal(next.origin, new URL(url).origin, `next_url ${pg.next_url} points at this server`);
    assert.equal(next.searchParams.get(key), pg[nextKey], `next_url carries ${key}=${nextKey}: ${pg.next_url}`);
    for (const [k, v] of firstUrl.searchParams) {
      if (k !== key) assert.equal(next.searchParams.get(k), v, `next_url keeps ${k}: ${pg.next_url}`);
    }
    target = next.pathname + next.search;
  }
  return { items, ids: idsOf(items), pages, responses };
}

/** Every media ID on a tag, walked with count=100. */
async function tagIds(who, name) {
  return (await walk(`${tagPath(name)}/media/recent?count=100`, who, { ...TAG_WALK, count: 100, onPage: checkTagPage })).ids;
}
/** Every media ID at a place, walked with count=100. */
async function placeIds(who, id) {
  return (await walk(`/v1/locations/${id}/media/recent?count=100`, who, { ...ID_WALK, count: 100 })).ids;
}

/** Asserts a list answer has no further page (no pagination, or no next_url in it). */
function assertLastPage(r) {
  const pg = r.body.pagination;
  assert.ok(!pg || pg.next_url === undefined, `no next page: ${show(r)}`);
}

// geometry: computed here independently of the server
const R = 6371000;
const rad = (d) => (d * Math.PI) / 180;
const deg = (r) => (r * 180) / Math.PI;
function haversine(lat1, lng1, lat2, lng2) {
  const a = Math.sin(rad(lat2 - lat1) / 2) ** 2
    + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(lng2 - lng1) / 2) ** 2;
  return 2 * R * Math.asin(Math.min(1, Math.sqrt(a)));
}
/** The point d metres from (lat, lng) on the initial bearing (degrees), rounded to 7 decimals. */
function destination(lat, lng, bearing, d) {
  const p1 = rad(lat);
  const l1 = rad(lng);
  const t = rad(bearing);
  const dd = d / R;
  const p2 = Math.asin(Math.sin(p1) * Math.cos(dd) + Math.cos(p1) * Math.sin(dd) * Math.cos(t));
  const l2 = l1 + Math.atan2(Math.sin(t) * Math.sin(dd) * Math.cos(p1), Math.cos(dd) - Math.sin(p1) * Math.sin(p2));
  const lo = ((deg(l2) + 540) % 360) - 180;
  return [Number(deg(p2).toFixed(7)), Number(lo.toFixed(7))];
}
const tolerance = (d) => Math.max(1, d * 0.001);
const here = (m) => ({ id: m.id, lat: m.location.latitude, lng: m.location.longitude });

/**
 * Runs GET /v1/media/search with q ({lat, lng, distance?, count?, ...}) and
 * asserts it returns exactly the `known` media ({id, lat, lng}) within the
 * distance, nearest first (media at one point newest first), each with a
 * distance within max(1 m, 0.1%) of the haversine. Returns the items.
 */
async function checkGeo(who, known, q, what = '') {
  const dist = q.distance === undefined ? 1000 : Number(q.distance);
  const want = new Map();
  for (const k of known) {
    const d = haversine(q.lat, q.lng, k.lat, k.lng);
    assert.ok(Math.abs(d - dist) > 5, `test data: ${k.id} is ${d} m from the query, too near the ${dist} m boundary`);
    if (d < dist) want.set(k.id, d);
  }
  const query = { ...q, count: q.count ?? 100 };
  const r = await get(who, '/v1/media/search', query);
  const data = assertOk(r);
  assert.ok(Array.isArray(data), show(r));
  const label = `${what} search ${JSON.stringify(query)}`;
  assert.deepEqual(sorted(idsOf(data)), sorted([...want.keys()]),
    `${label}: exactly the media within ${dist} m (got ${JSON.stringify(data.map((m) => [m.id, m.distance]))}, want ${JSON.stringify([...want])})`);
  for (const m of data) {
    assertMediaShape(m, ['distance']);
    assert.ok(m.location !== null, `${label}: media without a place: ${m.id}`);
    assert.equal(typeof m.distance, 'number', `${label}: distance of ${m.id} is a number: ${JSON.stringify(m.distance)}`);
    const mine = want.get(m.id);
    assert.ok(Math.abs(m.distance - mine) <= tolerance(mine),
      `${label}: distance of ${m.id} is ${m.distance}, haversine says ${mine}`);
  }
  for (let i = 1; i < data.length; i++) {
    const [a, b] = [data[i - 1], data[i]];
    assert.ok(a.distance <= b.distance, `${label}: nearest first: ${a.id} at ${a.distance} before ${b.id} at ${b.distance}`);
    // Media at the same point are at exactly the same distance: newest first.
    // (Distances may be rounded for output, so equal numbers alone need not
    // be a tie: two points 0.04 m apart may show the same distance.)
    if (a.location.latitude === b.location.latitude && a.location.longitude === b.location.longitude) {
      assert.equal(a.distance, b.distance, `${label}: media at one point are at one distance: ${a.id}, ${b.id}`);
      assert.ok(mediaNum(a.id) > mediaNum(b.id), `${label}: equal distances newest first: ${a.id} before ${b.id}`);
    }
  }
  return data;
}

/**
 * Runs GET /v1/locations/search by lat/lng and asserts exactly the `known`
 * places ({id, lat, lng}) within the distance come back, nearest first.
 */
async function checkPlaces(who, known, q, what = '') {
  const dist = q.distance === undefined ? 1000 : Number(q.distance);
  const want = [];
  for (const k of known) {
    const d = haversine(q.lat, q.lng, k.lat, k.lng);
    assert.ok(Math.abs(d - dist) > 5, `test data: place ${k.id} is ${d} m from the query, too near the ${dist} m boundary`);
    if (d < dist) want.push(k.id);
  }
  const r = await get(who, '/v1/locations/search', { count: 100, ...q });
  const data = assertOk(r);
  assert.ok(Array.isArray(data), show(r));
  const label = `${what} place search ${JSON.stringify(q)}`;
  for (const p of data) assertPlaceShape(p);
  assert.deepEqual(sorted(data.map((p) => p.id)), sorted(want), `${label}: ${show(r)}`);
  const ds = data.map((p) => haversine(q.lat, q.lng, p.latitude, p.longitude));
  for (let i = 1; i < ds.length; i++) assert.ok(ds[i - 1] <= ds[i] + 0.5, `${label}: nearest first: ${show(r)}`);
  return data;
}

function assertPlaceShape(p) {
  for (const k of ['id', 'name', 'latitude', 'longitude']) assert.ok(k in p, `place lacks ${k}: ${JSON.stringify(p)}`);
  assert.equal(typeof p.id, 'string');
  assert.match(p.id, /^\d+$/);
  assert.equal(typeof p.name, 'string');
  assert.equal(typeof p.latitude, 'number');
  assert.equal(typeof p.longitude, 'number');
}

const popular = async (who, query = { count: 100 }) => assertOk(await get(who, '/v1/media/popular', query));

// --- tags: names, counts, Unicode ---------------------------------------------

describe('GET /v1/tags/{name}', () => {
  let owner;
  let viewer;
  before(() => { [owner, viewer] = take(2); });

  it('counts media per tag: lower-cased, Unicode-aware, # stripped, percent-encoded', async () => {
    const t = fresh('uc');
    const T = t.toUpperCase();
    const m1 = await post(owner, { caption: `Hello #${T}Café and #${T}ТЕСТ, hi @someone` });
    const m2 = await post(owner, { caption: `#${t}CAFÉ in #${T}東京 #${t}café` });
    assert.deepEqual(sorted(m1.tags), sorted([`${t}café`, `${t}тест`]), 'tags of the first');
    assert.deepEqual(sorted(m2.tags), sorted([`${t}café`, `${t}東京`]), 'tags of the second (each once)');

    for (const name of [`${t}café`, `${T}CAFÉ`, `#${T}Café`, `#${t}café`]) {
      const r = await get(viewer, tagPath(name));
      assert.deepEqual(assertOk(r), { name: `${t}café`, media_count: 2 }, `GET ${tagPath(name)}`);
    }
    for (const name of [`${t}тест`, `${T}ТЕСТ`, `#${t}Тест`]) {
      assert.deepEqual(await tagInfo(viewer, name), { name: `${t}тест`, media_count: 1 }, name);
    }
    assert.deepEqual(await tagInfo(viewer, `#${t}東京`), { name: `${t}東京`, media_count: 1 });
    // the optional .json suffix
    assert.deepEqual(assertOk(await get(viewer, `${tagPath(`${t}café`)}.json`)), { name: `${t}café`, media_count: 2 });
    // a tag nobody used
    assert.deepEqual(await tagInfo(viewer, `${T}Unused`), { name: `${t}unused`, media_count: 0 });
    const none = await tagPage(viewer, `${t}unused`);
    assert.deepEqual(assertOk(none), []);
    assertLastPage(none);

    // the media list, by any spelling of the name; items are the media objects GET /v1/media/{id} returns
    for (const name of [`#${T}CAFÉ`, `${t}café`]) {
      const r = await tagPage(viewer, name);
      const data = assertOk(r);
      assert.deepEqual(idsOf(data), [m2.id, m1.id], `newest first on ${name}`);
      checkTagPage(r, data);
      assertLastPage(r);
      for (const m of data) assert.deepEqual(m, await getMedia(viewer, m.id), `tag list item ${m.id}`);
    }
    const w = await walk(`${tagPath(`#${T}CAFÉ`)}/media/recent?count=1`, viewer, { ...TAG_WALK, count: 1, onPage: checkTagPage });
    assert.deepEqual(w.ids, [m2.id, m1.id], 'walking a Unicode tag one at a time');
    assert.deepEqual(w.pages, [1, 1]);
    assert.deepEqual(await tagIds(viewer, `${t}東京`), [m2.id]);
    assert.deepEqual(await tagIds(viewer, `${T}ТЕСТ`), [m1.id]);
  });

  it('accepts names up to 100 characters and refuses invalid ones with 400', async () => {
    assert.deepEqual(await tagInfo(viewer, 'x'.repeat(100)), { name: 'x'.repeat(100), media_count: 0 });
    assert.deepEqual(await tagInfo(viewer, 'é'.repeat(100)), { name: 'é'.repeat(100), media_count: 0 }, '100 two-byte characters');
    assert.deepEqual(await tagInfo(viewer, 'snow_day_2'), { name: 'snow_day_2', media_count: 0 });
    assert.deepEqual(await tagInfo(viewer, '123a'), { name: '123a', media_count: 0 });
    const bad = ['a b', 'a-b', 'ab!', '#', '123', '#123', 'x'.repeat(101), 'é'.repeat(101), 'ta#g', 'a.b'];
    for (const name of bad) {
      assertV1Error(await get(viewer, tagPath(name)), 400, 'APIInvalidParametersError');
      assertV1Error(await tagPage(viewer, name), 400, 'APIInvalidParametersError');
    }
  });

  it('needs an access token on every discovery endpoint', async () => {
    for (const p of ['/v1/tags/nofilter', '/v1/tags/nofilter/media/recent', '/v1/tags/search?q=no', '/v1/locations/1',
      '/v1/locations/1/media/recent', '/v1/locations/search?q=x', '/v1/media/search?lat=1&lng=1', '/v1/media/popular']) {
      assertV1Error(await api(url, 'GET', p), 400, 'OAuthParameterException');
    }
  });
});

// --- tags from the owner's comments -----------------------------------------

describe('tags from comments', () => {
  it("takes tags from the owner's comments only, and drops them with the comment", async () => {
    const [owner, other] = take(2);
    const t = fresh('cm');
    const T = t.toUpperCase();
    const m = await post(owner, { caption: `caption #${t}a` });
    const tagsNow = async () => {
      const a = sorted((await getMedia(owner, m.id)).tags);
      assert.deepEqual(sorted((await getMedia(other, m.id)).tags), a, 'every viewer sees the same tags');
      return a;
    };
    const count = async (s) => (await tagInfo(other, `${t}${s}`)).media_count;

    const otherText = `not mine #${t}b #${t}z`;
    await comment(other, m, otherText);
    assert.deepEqual(await tagsNow(), [`${t}a`], "another user's comment adds no tag");
    assert.equal(await count('b'), 0);
    assert.equal(await count('z'), 0);
    assert.deepEqual(await tagIds(other, `${t}z`), []);

    const first = `first #${T}B and #${t}c`;
    await comment(owner, m, first);
    assert.deepEqual(await tagsNow(), sorted([`${t}a`, `${t}b`, `${t}c`]), "the owner's comment adds its tags");
    assert.equal(await count('b'), 1);
    assert.equal(await count('c'), 1);
    assert.deepEqual(await tagIds(other, `${t}b`), [m.id]);
    const second = `second #${t}c`;
    const third = `third #${t}A`;
    await comment(owner, m, second);
    await comment(owner, m, third);
    assert.deepEqual(await tagsNow(), sorted([`${t}a`, `${t}b`, `${t}c`]), 'tags repeat nowhere');
    assert.equal(await count('c'), 1, 'a media counts once per tag');
    assert.equal(await count('a'), 1);
    assert.deepEqual(await tagIds(other, `${t}c`), [m.id], 'listed once');

    await delComment(owner, m, await commentId(owner, m, first));
    assert.deepEqual(await tagsNow(), sorted([`${t}a`, `${t}c`]), '#b went with its comment; #c is still in another');
    assert.equal(await count('b'), 0);
    assert.deepEqual(await tagIds(other, `${t}b`), []);
    assert.equal(await count('c'), 1);
    assert.deepEqual(await tagIds(other, `${t}c`), [m.id]);

    await delComment(owner, m, await commentId(owner, m, second));
    assert.deepEqual(await tagsNow(), [`${t}a`]);
    assert.equal(await count('c'), 0);
    assert.deepEqual(await tagIds(other, `${t}c`), []);

    await delComment(owner, m, await commentId(owner, m, third));
    assert.deepEqual(await tagsNow(), [`${t}a`], 'the caption still has #a');
    assert.equal(await count('a'), 1);
    assert.deepEqual(await tagIds(other, `${t}a`), [m.id]);

    // the owner deletes the other user's comment: nothing changes
    await delComment(owner, m, await commentId(owner, m, otherText));
    assert.deepEqual(await tagsNow(), [`${t}a`]);
    assert.deepEqual(assertOk(await tagSearch(other, { q: t })), [{ name: `${t}a`, media_count: 1 }]);
  });

  it("takes tags from the owner's first 30 comments only: what tags a photo stays small to reread", async () => {
    const [owner, other] = take(2);
    const t = fresh('win');
    const m = await post(owner, { caption: 'no tags here' });
    const tagsNow = async () => sorted((await getMedia(other, m.id)).tags);
    await comment(owner, m, `early #${t}e`);
    for (let i = 1; i < 30; i++) await comment(owner, m, `plain ${i}`);
    await comment(owner, m, `late #${t}l`); // the 31st
    assert.deepEqual(await tagsNow(), [`${t}e`], 'the 31st comment of the owner tags nothing');
    assert.equal((await tagInfo(other, `${t}l`)).media_count, 0);
    // one of the first 30 goes: the late one is now among them
    await delComment(owner, m, await commentId(owner, m, 'plain 7'));
    assert.deepEqual(await tagsNow(), sorted([`${t}e`, `${t}l`]));
    assert.equal((await tagInfo(other, `${t}l`)).media_count, 1);
    assert.deepEqual(await tagIds(other, `${t}l`), [m.id]);
  });
});

// --- caption edits ------------------------------------------------------------

describe('POST /v1/media/{id}: caption edits', () => {
  it('replaces the caption, and the tag index and media.tags follow it', async () => {
    const [owner, other] = take(2);
    const a = fresh('ce');
    const A = a.toUpperCase();
    const m = await post(owner, { caption: `first #${a}old #${a}keep` });
    const n = await post(owner, { caption: `neighbour #${a}new` });
    await comment(owner, m, `mine #${a}cmt`);
    assert.deepEqual(sorted((await getMedia(owner, m.id)).tags), sorted([`${a}old`, `${a}keep`, `${a}cmt`]));
    const count = async (s) => (await tagInfo(other, `${a}${s}`)).media_count;

    let r = await editCaption(owner, m.id, `second #${A}NEW #${a}keep`);
    let data = assertOk(r);
    assertMediaShape(data);
    assert.equal(data.id, m.id);
    assert.equal(data.caption?.text, `second #${A}NEW #${a}keep`, show(r));
    assertShortUser(data.caption.from, { id: owner.user.id, username: owner.user.username });
    assert.deepEqual(sorted(data.tags), sorted([`${a}new`, `${a}keep`, `${a}cmt`]));
    assert.deepEqual(await getMedia(owner, m.id), data, 'GET /v1/media/{id} shows the edit');
    assert.equal((await getMedia(other, m.id)).caption.text, `second #${A}NEW #${a}keep`);
    assert.equal(await count('old'), 0, 'the old tag is gone');
    assert.deepEqual(await tagIds(other, `${a}old`), []);
    assert.equal(await count('new'), 2);
    assert.deepEqual(await tagIds(other, `${a}new`), [m.id, n.id], 'tagged by the edit, after n: in front of n');
    assert.equal(await count('keep'), 1);
    assert.equal(await count('cmt'), 1);
    assert.deepEqual(assertOk(await tagSearch(other, { q: a })), [
      { name: `${a}new`, media_count: 2 }, { name: `${a}cmt`, media_count: 1 }, { name: `${a}keep`, media_count: 1 },
    ], 'tags/search follows the edit');

    // an empty caption removes it; the owner comment's tag stays
    r = await editCaption(owner, m.id, '');
    data = assertOk(r);
    assert.equal(data.caption, null, `caption="" removes the caption: ${show(r)}`);
    assert.deepEqual(data.tags, [`${a}cmt`]);
    assert.deepEqual(await getMedia(owner, m.id), data);
    assert.equal(await count('keep'), 0);
    assert.equal(await count('new'), 1);
    assert.deepEqual(await tagIds(other, `${a}new`), [n.id]);
    assert.deepEqual(assertOk(await tagSearch(other, { q: `${a}k` })), [], 'unused tags are not searchable');

    // a caption repeating the comment's tag: counted once; deleting the comment keeps it
    data = assertOk(await editCaption(owner, m.id, `#${a}cmt again`));
    assert.deepEqual(data.tags, [`${a}cmt`]);
    assert.equal(await count('cmt'), 1);
    await delComment(owner, m, await commentId(owner, m, `mine #${a}cmt`));
    assert.deepEqual((await getMedia(owner, m.id)).tags, [`${a}cmt`], 'the caption still carries it');
    assert.equal(await count('cmt'), 1);
    assert.deepEqual(await tagIds(other, `${a}cmt`), [m.id]);
    data = assertOk(await editCaption(owner, m.id, 'no tags now'));
    assert.deepEqual(data.tags, []);
    assert.equal(data.caption.text, 'no tags now');
    assert.equal(await count('cmt'), 0);
    assert.deepEqual(await tagIds(other, `${a}cmt`), []);
  });

  it('refuses other users, unknown media and over-long captions, changing nothing', async () => {
    const [owner, other] = take(2);
    const a = fresh('cr');
    const m = await post(owner, { caption: `kept #${a}kept` });
    const was = await getMedia(owner, m.id);
    assertV1Error(await editCaption(other, m.id, `hijack #${a}evil`), 400, 'APINotAllowedError');
    assertV1Error(await editCaption(other, bareId(m.id), `hijack #${a}evil`), 400, 'APINotAllowedError');
    for (const id of ['123456789', '4207254331844527104', `${bareId(m.id)}_${other.user.id}`]) {
      assertV1Error(await editCaption(owner, id, `lost #${a}evil`), 404, 'APINotFoundError');
    }
    for (const caption of ['a'.repeat(2201), 'é'.repeat(2201), `#${a}evil ${'x'.repeat(2200)}`]) {
      assertV1Error(await editCaption(owner, m.id, caption), 400);
    }
    assert.deepEqual(await getMedia(owner, m.id), was, 'the media is unchanged');
    assert.deepEqual(await tagInfo(other, `${a}kept`), { name: `${a}kept`, media_count: 1 });
    assert.deepEqual(await tagInfo(other, `${a}evil`), { name: `${a}evil`, media_count: 0 });
    assert.deepEqual(await tagIds(other, `${a}kept`), [m.id]);
    // exactly 2200 characters is fine; the bare media ID works too
    const long = `#${a}long ${'é'.repeat(2200 - a.length - 6)}`;
    assert.equal([...long].length, 2200);
    const data = assertOk(await editCaption(owner, bareId(m.id), long));
    assert.equal(data.caption.text, long);
    assert.deepEqual(data.tags, [`${a}long`]);
    assert.equal((await tagInfo(other, `${a}kept`)).media_count, 0);
    assert.equal((await tagInfo(other, `${a}long`)).media_count, 1);
  });
});

// --- the tag index under concurrent writes ------------------------------------

describe('the tag index under concurrent writes', () => {
  it('keeps media_count exact under concurrent uploads, comments, edits and deletes', async () => {
    const [a, b] = take(2);
    const t = fresh('cc');
    const owners = [a, b, a, b, a, b];
    const ms = await Promise.all(owners.map((who, i) => post(who, { caption: `together #${t} n${i}` })));
    assert.equal((await tagInfo(a, t)).media_count, 6);
    assert.deepEqual(sorted(await tagIds(a, t)), sorted(idsOf(ms)));
    await Promise.all(ms.map((m, i) => comment(owners[i], m, `also #${t}c`)));
    assert.equal((await tagInfo(a, `${t}c`)).media_count, 6);
    await Promise.all([
      (async () => assertOk(await editCaption(owners[0], ms[0].id, 'gone')))(),
      (async () => assertOk(await editCaption(owners[1], ms[1].id, 'gone too')))(),
      delMedia(owners[2], ms[2]),
      delMedia(owners[3], ms[3]),
      comment(owners[4], ms[4], `again #${t}`),
      comment(owners[5], ms[5], `again #${t}c`),
    ]);
    assert.deepEqual(assertOk(await tagSearch(b, { q: t })), [
      { name: `${t}c`, media_count: 4 }, { name: t, media_count: 2 },
    ]);
    assert.deepEqual(sorted(await tagIds(b, t)), sorted([ms[4].id, ms[5].id]));
    assert.deepEqual(sorted(await tagIds(b, `${t}c`)), sorted(idsOf([ms[0], ms[1], ms[4], ms[5]])));
    for (const i of [0, 1]) assert.deepEqual((await getMedia(b, ms[i].id)).tags, [`${t}c`]);
    for (const i of [4, 5]) assert.deepEqual(sorted((await getMedia(b, ms[i].id)).tags), sorted([t, `${t}c`]));
  });

  it('counts new tags exactly when many photos take them at once', async () => {
    // Each round's tags are new: every edit's transaction creates their
    // count rows, at once and in its own order, so on PostgreSQL two of
    // them insert the same new tag together (the upsert must settle that)
    // and some deadlock (the one PostgreSQL picks runs again).
    const [a] = take(1);
    const ms = [];
    for (let i = 0; i < 8; i++) ms.push(await post(a, { caption: `n${i}` }));
    for (let round = 0; round < 4; round++) {
      const tags = Array.from({ length: 8 }, () => fresh('nt'));
      const rs = await Promise.all(ms.map((m, i) => {
        const mine = tags.map((_, k) => tags[(k + i * 3) % tags.length]);
        return editCaption(a, m.id, mine.map((t) => `#${t}`).join(' '));
      }));
      for (const r of rs) assertOk(r);
      for (const t of tags) assert.deepEqual(await tagInfo(a, t), { name: t, media_count: 8 }, `round ${round}`);
    }
  });
});

// --- tag search and deletes ---------------------------------------------------

describe('GET /v1/tags/search', () => {
  let owner;
  let p;
  let m;
  before(async () => {
    [owner] = take(1);
    p = fresh('ts');
    m = [
      await post(owner, { caption: `#${p}aa #${p}b #${p}c #${p}ab` }),
      await post(owner, { caption: `#${p}AA #${p}B #${p}c` }),
      await post(owner, { caption: `#${p}aa #${p}b #${p}éa` }),
      await post(owner, { caption: `#${p}dz` }),
    ];
  });
  const names = (r) => assertOk(r).map((x) => x.name);

  it('lists tags by prefix, most used first, then by name', async () => {
    const full = [
      { name: `${p}aa`, media_count: 3 }, { name: `${p}b`, media_count: 3 }, { name: `${p}c`, media_count: 2 },
      { name: `${p}ab`, media_count: 1 }, { name: `${p}dz`, media_count: 1 }, { name: `${p}éa`, media_count: 1 },
    ];
    for (const q of [p, `#${p.toUpperCase()}`, p.toUpperCase()]) {
      const r = await tagSearch(owner, { q });
      assert.deepEqual(assertOk(r), full, `q=${q}`);
    }
    assert.deepEqual(names(await tagSearch(owner, { q: `${p}a` })), [`${p}aa`, `${p}ab`]);
    assert.deepEqual(names(await tagSearch(owner, { q: `#${p}A` })), [`${p}aa`, `${p}ab`]);
    assert.deepEqual(names(await tagSearch(owner, { q: `${p}É` })), [`${p}éa`], 'Unicode prefixes, case-insensitive');
    assert.deepEqual(names(await tagSearch(owner, { q: `${p}aa` })), [`${p}aa`], 'a whole name is its own prefix');
    assert.deepEqual(assertOk(await tagSearch(owner, { q: `${p}x` })), []);
    assert.deepEqual(names(await tagSearch(owner, { q: p, count: 2 })), [`${p}aa`, `${p}b`]);
    assert.deepEqual(names(await tagSearch(owner, { q: p, count: 1 })), [`${p}aa`]);
    assert.deepEqual(assertOk(await tagSearch(owner, { q: p, count: 100 })), full);
  });

  it('answers 400 without q or with a bad count', async () => {
    for (const query of [{}, { q: '' }, { count: 5 }, { q: p, count: 0 }, { q: p, count: 101 }, { q: p, count: -1 },
      { q: p, count: 'abc' }, { q: p, count: '1.5' }]) {
      assertV1Error(await tagSearch(owner, query), 400, 'APIInvalidParametersError');
    }
  });

  it('returns 20 tags by default', async () => {
    const q = fresh('td');
    const caption = Array.from({ length: 22 }, (_, i) => `#${q}${String(i).padStart(2, '0')}`).join(' ');
    await post(owner, { caption });
    const r = await tagSearch(owner, { q });
    assert.deepEqual(names(r), Array.from({ length: 20 }, (_, i) => `${q}${String(i).padStart(2, '0')}`), 'name order, 20 of them');
    assert.equal(assertOk(await tagSearch(owner, { q, count: 100 })).length, 22);
  });

  it('drops deleted media from counts, lists and search', async () => {
    await delMedia(owner, m[3]);
    assert.deepEqual(await tagInfo(owner, `${p}dz`), { name: `${p}dz`, media_count: 0 });
    assert.deepEqual(await tagIds(owner, `${p}dz`), []);
    assert.deepEqual(names(await tagSearch(owner, { q: p })), [`${p}aa`, `${p}b`, `${p}c`, `${p}ab`, `${p}éa`]);

    await delMedia(owner, m[0]);
    assert.deepEqual(assertOk(await tagSearch(owner, { q: p })), [
      { name: `${p}aa`, media_count: 2 }, { name: `${p}b`, media_count: 2 }, { name: `${p}c`, media_count: 1 },
      { name: `${p}éa`, media_count: 1 },
    ]);
    assert.deepEqual(await tagIds(owner, `${p}aa`), [m[2].id, m[1].id]);
    assert.deepEqual(await tagIds(owner, `${p}c`), [m[1].id]);
    assert.deepEqual(await tagIds(owner, `${p}ab`), []);
    assert.equal((await tagInfo(owner, `${p}ab`)).media_count, 0);
  });
});

// --- a busy tag and place: ordering, pagination, defaults -----------------------

describe('a busy tag and place (21 photos)', () => {
  let owner;
  let viewer;
  let bt;
  let place;
  let up = [];
  let tagOrder; // newest tagging first
  let placeOrder; // newest media first
  let tids; // tag IDs, in tagOrder
  const B = [-33.8688, 151.2093];

  before(async () => {
    [owner, viewer] = take(2);
    bt = fresh('bk');
    up.push(await post(owner, { caption: 'first, untagged', location_name: 'Bulk Bay', lat: B[0], lng: B[1] }));
    place = up[0].location.id;
    up.push(await post(owner, { location_id: place }));
    for (let i = 2; i < 21; i++) up.push(await post(owner, { caption: `#${bt} number ${i}`, location_id: place }));
    // tagged later: an owner comment on the oldest, then a caption on the second oldest
    await comment(owner, up[0], `late #${bt.toUpperCase()}`);
    assertOk(await editCaption(owner, up[1].id, `now #${bt}`));
    tagOrder = [up[1].id, up[0].id, ...idsOf(up.slice(2)).reverse()];
    placeOrder = idsOf(up).reverse();
  });

  it('puts media tagged later (by a comment or a caption edit) at the front', async () => {
    assert.deepEqual((await tagInfo(viewer, bt)).media_count, 21);
    const r = await tagPage(viewer, bt, { count: 100 });
    const data = assertOk(r);
    assert.deepEqual(idsOf(data), tagOrder);
    checkTagPage(r, data);
    assertLastPage(r);
    assert.ok(data[0].tags.includes(bt) && data[1].tags.includes(bt), 'the late tags are on the media');
  });

  it('walks the tag list page by page, each item exactly once, with min_tag_id', async () => {
    const one = await walk(`${tagPath(bt)}/media/recent?count=1`, viewer, { ...TAG_WALK, count: 1, onPage: checkTagPage });
    assert.deepEqual(one.ids, tagOrder);
    assert.deepEqual(one.pages, Array(21).fill(1));
    tids = one.responses.map((r) => r.body.pagination.min_tag_id);
    for (let i = 1; i < tids.length; i++) {
      assert.ok(BigInt(tids[i - 1]) > BigInt(tids[i]), `tag IDs decrease down the list: ${tids}`);
    }
    const six = await walk(`${tagPath(bt)}/media/recent?count=6`, viewer, { ...TAG_WALK, count: 6, onPage: checkTagPage });
    assert.deepEqual(six.ids, tagOrder);
    assert.deepEqual(six.pages, [6, 6, 6, 3]);
    six.responses.forEach((r, k) => assert.equal(r.body.pagination.min_tag_id, tids[6 * k], `min_tag_id of page ${k}`));
    // the default count is 20
    const d = await tagPage(viewer, bt);
    assert.deepEqual(idsOf(assertOk(d)), tagOrder.slice(0, 20));
    assert.equal(d.body.pagination?.min_tag_id, tids[0], show(d));
    assert.equal(typeof d.body.pagination.next_max_tag_id, 'string', show(d));
    const rest = await api(url, 'GET', new URL(d.body.pagination.next_url).pathname + new URL(d.body.pagination.next_url).search,
      { token: viewer.token });
    assert.deepEqual(idsOf(assertOk(rest)), tagOrder.slice(20));
    assertLastPage(rest);
    // the token may travel in next_url
    const q = await walk(`${tagPath(bt)}/media/recent?count=8&access_token=${enc(viewer.token)}`, viewer, { ...TAG_WALK, count: 8, tokenInUrl: true });
    assert.deepEqual(q.ids, tagOrder);
  });

  it('honours max_tag_id and min_tag_id as exclusive bounds', async () => {
    assert.ok(tids, 'needs the walk above');
    const ids = async (query) => idsOf(assertOk(await tagPage(viewer, bt, { count: 100, ...query })));
    assert.deepEqual(await ids({ max_tag_id: tids[2] }), tagOrder.slice(3));
    assert.deepEqual(await ids({ min_tag_id: tids[4] }), tagOrder.slice(0, 4));
    assert.deepEqual(await ids({ min_tag_id: tids[8], max_tag_id: tids[2] }), tagOrder.slice(3, 8));
    assert.deepEqual(await ids({ max_tag_id: tids[0] }), tagOrder.slice(1));
    assert.deepEqual(await ids({ max_tag_id: tids[20] }), []);
    assert.deepEqual(await ids({ min_tag_id: tids[0] }), []);
    assert.deepEqual(await ids({ min_tag_id: tids[20] }), tagOrder.slice(0, 20));
    assert.deepEqual(await ids({ min_tag_id: tids[20], count: 2 }), tagOrder.slice(0, 2));
    assert.deepEqual(await ids({ max_tag_id: (BigInt(tids[0]) + 1n).toString() }), tagOrder);
    const w = await walk(`${tagPath(bt)}/media/recent?count=4&min_tag_id=${tids[15]}`, viewer,
      { ...TAG_WALK, count: 4, onPage: checkTagPage });
    assert.deepEqual(w.ids, tagOrder.slice(0, 15), 'pages within min_tag_id');
    const empty = await tagPage(viewer, bt, { min_tag_id: tids[0] });
    assert.deepEqual(assertOk(empty), []);
    checkTagPage(empty, []);
  });

  it('answers 400 for a bad count, max_tag_id or min_tag_id', async () => {
    for (const query of [{ count: 0 }, { count: 101 }, { count: -1 }, { count: 'abc' }, { count: '2.5' },
      { max_tag_id: 'abc' }, { min_tag_id: 'abc' }, { max_tag_id: '12abc' }, { min_tag_id: 'x1' }]) {
      assertV1Error(await tagPage(viewer, bt, query), 400, 'APIInvalidParametersError');
    }
    assert.equal(assertOk(await tagPage(viewer, bt, { count: 100 })).length, 21);
    assert.equal(assertOk(await tagPage(viewer, bt, { count: 1 })).length, 1);
  });

  it("lists the place's media newest first, and walks them exactly once", async () => {
    assert.deepEqual(assertOk(await get(viewer, `/v1/locations/${place}`)), up[0].location);
    for (const m of up) assert.deepEqual(m.location, up[0].location, 'every upload with location_id is at the place');
    const w = await walk(`/v1/locations/${place}/media/recent?count=5`, viewer, {
      ...ID_WALK,
      count: 5,
      onPage: (r, data) => {
        const pg = r.body.pagination;
        if (pg && pg.next_url) {
          assert.deepEqual(sorted(Object.keys(pg)), ['next_max_id', 'next_url'], show(r));
          // the last item's ID, in full or bare (as the home feed allows)
          assert.match(pg.next_max_id, /^\d+(_\d+)?$/, show(r));
          assert.equal(bareId(pg.next_max_id), bareId(data.at(-1).id), 'next_max_id is the last item');
        }
      },
    });
    assert.deepEqual(w.ids, placeOrder);
    assert.deepEqual(w.pages, [5, 5, 5, 5, 1]);
    const d = await get(viewer, `/v1/locations/${place}/media/recent`);
    assert.deepEqual(idsOf(assertOk(d)), placeOrder.slice(0, 20), 'count defaults to 20');
    assert.equal(bareId(d.body.pagination?.next_max_id), bareId(placeOrder[19]), show(d));
    const all = await get(viewer, `/v1/locations/${place}/media/recent`, { count: 100 });
    assert.deepEqual(idsOf(assertOk(all)), placeOrder);
    assert.equal(all.body.pagination, undefined);
    for (const m of assertOk(all).slice(0, 3)) assert.deepEqual(m, await getMedia(viewer, m.id));
    // .json
    assert.deepEqual(idsOf(assertOk(await get(viewer, `/v1/locations/${place}/media/recent.json`, { count: 3 }))), placeOrder.slice(0, 3));
  });

  it('honours max_id, min_id (exclusive) and the timestamps (inclusive) on the place list', async () => {
    const get2 = async (query) => idsOf(assertOk(await get(viewer, `/v1/locations/${place}/media/recent`, { count: 100, ...query })));
    const ids = placeOrder;
    for (const f of [(x) => x, bareId]) {
      assert.deepEqual(await get2({ max_id: f(ids[2]) }), ids.slice(3));
      assert.deepEqual(await get2({ min_id: f(ids[4]) }), ids.slice(0, 4));
      assert.deepEqual(await get2({ min_id: f(ids[9]), max_id: f(ids[1]) }), ids.slice(2, 9));
      assert.deepEqual(await get2({ min_id: f(ids[0]) }), []);
      assert.deepEqual(await get2({ max_id: f(ids[20]) }), []);
      assert.deepEqual(await get2({ min_id: f(ids[20]), count: 2 }), ids.slice(0, 2));
    }
    const byId = new Map(up.map((m) => [m.id, Number(m.created_time)]));
    const times = ids.map((id) => byId.get(id));
    const t = times[10];
    assert.deepEqual(await get2({ min_timestamp: t }), ids.filter((_, i) => times[i] >= t));
    assert.deepEqual(await get2({ max_timestamp: t }), ids.filter((_, i) => times[i] <= t));
    assert.deepEqual(await get2({ min_timestamp: t, max_timestamp: t }), ids.filter((_, i) => times[i] === t));
    assert.deepEqual(await get2({ min_timestamp: Math.max(...times) + 1 }), []);
    assert.deepEqual(await get2({ max_timestamp: Math.min(...times) - 1 }), []);
  });

  it('answers 400 for bad parameters and 404 for an unknown place', async () => {
    for (const query of [{ count: 0 }, { count: 101 }, { count: 'abc' }, { max_id: 'abc' }, { min_id: 'x_y' },
      { max_id: '-5' }, { min_timestamp: 'abc' }, { max_timestamp: '1.5' }]) {
      assertV1Error(await get(viewer, `/v1/locations/${place}/media/recent`, query), 400, 'APIInvalidParametersError');
    }
    for (const id of ['999999999999', '9223372036854775807']) {
      assertV1Error(await get(viewer, `/v1/locations/${id}`), 404, 'APINotFoundError');
      assertV1Error(await get(viewer, `/v1/locations/${id}/media/recent`), 404, 'APINotFoundError');
    }
    for (const p of ['/v1/locations/abc', '/v1/locations/abc/media/recent', '/v1/locations/12x']) {
      const r = await get(viewer, p);
      assert.ok(r.status === 400 || r.status === 404, `${p}: ${show(r)}`);
      assertV1Error(r, r.status);
    }
  });

  it('geo search: equal distances newest first, count defaults to 20', async () => {
    const [lat, lng] = [up[0].location.latitude, up[0].location.longitude];
    const d = assertOk(await get(viewer, '/v1/media/search', { lat, lng }));
    assert.deepEqual(idsOf(d), placeOrder.slice(0, 20));
    for (const m of d) assert.ok(typeof m.distance === 'number' && m.distance >= 0 && m.distance < 1, `distance ${m.distance}`);
    const known = up.map(here);
    const all = await checkGeo(viewer, known, { lat, lng, distance: 50 }, 'bulk');
    assert.deepEqual(idsOf(all), placeOrder);
    assert.deepEqual(idsOf(assertOk(await get(viewer, '/v1/media/search', { lat, lng, count: 3 }))), placeOrder.slice(0, 3));
  });

  it('drops a deleted media from the tag, the place and geo search', async () => {
    const gone = up[10];
    await delMedia(owner, gone);
    assert.equal((await tagInfo(viewer, bt)).media_count, 20);
    assert.deepEqual(await tagIds(viewer, bt), tagOrder.filter((id) => id !== gone.id));
    assert.deepEqual(await placeIds(viewer, place), placeOrder.filter((id) => id !== gone.id));
    const [lat, lng] = [up[0].location.latitude, up[0].location.longitude];
    const g = assertOk(await get(viewer, '/v1/media/search', { lat, lng, count: 100 }));
    assert.deepEqual(idsOf(g), placeOrder.filter((id) => id !== gone.id));
    assert.deepEqual(assertOk(await tagSearch(viewer, { q: bt })), [{ name: bt, media_count: 20 }]);
    // the place itself stays
    assert.deepEqual(assertOk(await get(viewer, `/v1/locations/${place}`)), up[0].location);
  });
});

// --- places and geo search ----------------------------------------------------

describe('places and geo search', () => {
  let owner;
  let viewer;
  let G;
  const C = [48.137154, 11.576124];
  const at = (bearing, d) => destination(C[0], C[1], bearing, d);
  const m = {};
  let known; // media: {id, lat, lng}
  let places; // distinct places: {id, lat, lng, name}

  before(async () => {
    [owner, viewer] = take(2);
    G = `Loc${randomBytes(4).toString('hex')}`;
    const put = (lat, lng, name) => post(owner, { lat: lat.toFixed(7), lng: lng.toFixed(7), ...(name === undefined ? {} : { location_name: name }) });
    m.a0 = await put(C[0], C[1], `${G} Alpha`);
    m.a1 = await post(owner, { location_id: m.a0.location.id, caption: 'at Alpha by id' });
    m.a2 = await put(...at(90, 5), `${G.toLowerCase()} ALPHA`); // same name within 10 m: the same place
    m.a3 = await put(C[0], C[1], `${G} Beta`); // another name at the same point: another place
    m.a4 = await put(...at(0, 30), `${G} Alpha`); // the same name 30 m away: another place
    m.a5 = await put(...at(45, 420), `${G} Far420`);
    m.a6 = await put(...at(200, 880), `${G} Far880`);
    m.a7 = await put(...at(300, 1500), `${G} Far1500`);
    m.a8 = await put(...at(135, 2700), `${G} Far2700`);
    m.a9 = await put(...at(260, 4600)); // no name
    m.a10 = await put(...at(10, 6500), `${G} Far6500`);
    m.a11 = await put(...at(45, 13), `${G} alpha`); // 13 m away (9.2 m north, 9.2 m east): another place
    m.a12 = await put(...at(180, 200), `${G} Été`);
    m.a13 = await put(...at(180, 203), `${G} ÉTÉ`); // Unicode case-insensitive, 3 m away: the same place
    known = Object.values(m).map(here);
    const byId = new Map();
    for (const x of Object.values(m)) byId.set(x.location.id, x.location);
    places = [...byId.values()].map((p) => ({ id: p.id, lat: p.latitude, lng: p.longitude, name: p.name }));
  });

  it('creates places from the upload, reuses them by id and by name within 10 m, and reads them back', async () => {
    const L = m.a0.location;
    assertPlaceShape(L);
    assert.deepEqual(sorted(Object.keys(L)), ['id', 'latitude', 'longitude', 'name']);
    assert.equal(L.name, `${G} Alpha`);
    assert.ok(Math.abs(L.latitude - C[0]) < 1e-6 && Math.abs(L.longitude - C[1]) < 1e-6, JSON.stringify(L));
    assert.deepEqual(m.a1.location, L, 'location_id');
    assert.deepEqual(m.a2.location, L, 'the same name (any case) within 10 m reuses the place');
    assert.notEqual(m.a3.location.id, L.id, 'another name: another place');
    assert.equal(m.a3.location.name, `${G} Beta`);
    assert.notEqual(m.a4.location.id, L.id, 'the same name 30 m away: another place');
    assert.equal(m.a4.location.name, `${G} Alpha`);
    assert.equal(m.a9.location.name, '', 'lat/lng without a name: an unnamed place');
    assert.ok(![L.id, m.a4.location.id].includes(m.a11.location.id), 'the same name 13 m away (diagonally): another place');
    assert.deepEqual(m.a13.location, m.a12.location, 'names compare case-insensitively in any script');
    assert.equal(m.a12.location.name, `${G} Été`);
    assert.equal(places.length, 11, 'eleven distinct places');
    for (const x of Object.values(m)) {
      const r = await get(viewer, `/v1/locations/${x.location.id}`);
      assert.deepEqual(assertOk(r), x.location, `GET /v1/locations/${x.location.id}`);
      assert.deepEqual(await getMedia(viewer, x.id).then((g) => g.location), x.location);
    }
    assert.deepEqual(assertOk(await get(viewer, `/v1/locations/${L.id}.json`)), L);
    assert.deepEqual(await placeIds(viewer, L.id), [m.a2.id, m.a1.id, m.a0.id]);
    assert.deepEqual(await placeIds(viewer, m.a3.location.id), [m.a3.id]);
  });

  it('refuses bad location fields with 400 and creates nothing', async () => {
    const self = async () => assertOk(await get(owner, '/v1/users/self')).counts.media;
    const recent = async () => idsOf(assertOk(await get(owner, '/v1/users/self/media/recent', { count: 100 })));
    const was = { media: await self(), recent: await recent() };
    const BAD = `Nope${randomBytes(4).toString('hex')}`;
    const tag = fresh('nope');
    const id = m.a0.location.id;
    const cases = [
      { location_id: '999999999999' },
      { location_id: '9223372036854775807' },
      { location_id: 'abc' },
      { location_id: id, lat: C[0], lng: C[1] },
      { location_id: id, location_name: `${BAD} one` },
      { location_id: id, lat: C[0] },
      { location_id: id, lng: C[1] },
      { location_name: `${BAD} two` },
      { location_name: `${BAD} three`, lat: C[0] },
      { location_name: `${BAD} four`, lng: C[1] },
      { location_name: `${BAD} five`, lat: '91', lng: '0' },
      { location_name: `${BAD} six`, lat: '-90.5', lng: '10' },
      { location_name: `${BAD} seven`, lat: '10', lng: '180.01' },
      { location_name: `${BAD} eight`, lat: '10', lng: '-181' },
      { location_name: `${BAD} nine`, lat: 'abc', lng: '10' },
      { lat: '12.5' },
      { lat: '12.5', lng: '200' },
    ];
    for (const fields of cases) {
      const r = await uploadPhoto(url, { token: owner.token, photo: PHOTO, fields: { caption: `bad #${tag}`, ...fields } });
      assertV1Error(r, 400);
    }
    assert.equal(await self(), was.media, 'counts.media unchanged');
    assert.deepEqual(await recent(), was.recent, 'no new media');
    assert.deepEqual(assertOk(await get(viewer, '/v1/locations/search', { q: BAD })), [], 'no place was created');
    assert.deepEqual(await tagInfo(viewer, tag), { name: tag, media_count: 0 }, 'no tag was indexed');
    assert.deepEqual(await placeIds(viewer, id), [m.a2.id, m.a1.id, m.a0.id], 'the place got no media');
  });

  it('finds media within the distance, nearest first, with haversine distances', async () => {
    const q = (pt, distance) => ({ lat: pt[0], lng: pt[1], ...(distance === undefined ? {} : { distance }) });
    let r = await checkGeo(viewer, known, q(C), 'default 1000 m');
    assert.deepEqual(idsOf(r), [m.a3.id, m.a2.id, m.a1.id, m.a0.id, m.a11.id, m.a4.id, m.a13.id, m.a12.id, m.a5.id, m.a6.id],
      'equal distances (one point, two places) newest first, then by distance');
    assert.deepEqual(idsOf(await checkGeo(viewer, known, q(C, 20))), [m.a3.id, m.a2.id, m.a1.id, m.a0.id, m.a11.id]);
    await checkGeo(viewer, known, q(C, 500));
    r = await checkGeo(viewer, known, q(C, 2000));
    assert.equal(r.at(-1).id, m.a7.id);
    r = await checkGeo(viewer, known, q(C, '5000'), 'the maximum');
    assert.equal(r.length, 13, 'all but the one 6.5 km away');
    await checkGeo(viewer, known, q(C, '1000.0'));
    const a7 = [m.a7.location.latitude, m.a7.location.longitude];
    assert.deepEqual(idsOf(await checkGeo(viewer, known, q(a7, 1000))), [m.a7.id]);
    await checkGeo(viewer, known, q(a7, 1580));
    const Q = at(90, 700);
    r = await checkGeo(viewer, known, q(Q));
    assert.equal(r[0].id, m.a5.id, 'the nearest from Q');
    await checkGeo(viewer, known, q(Q, 2200));
    await checkGeo(viewer, known, q([m.a8.location.latitude, m.a8.location.longitude], 3000));
    await checkGeo(viewer, known, q([m.a9.location.latitude, m.a9.location.longitude], 5000));
    // distance 0 is allowed
    const zero = await get(viewer, '/v1/media/search', { lat: C[0], lng: C[1], distance: 0 });
    for (const x of assertOk(zero)) assert.ok([m.a0.id, m.a1.id, m.a2.id, m.a3.id].includes(x.id), show(zero));
  });

  it('returns the media objects GET /v1/media/{id} returns, plus distance; honours count', async () => {
    const all = await checkGeo(viewer, known, { lat: C[0], lng: C[1], distance: 5000 });
    for (const x of all) {
      const { distance, ...rest } = x;
      assert.deepEqual(rest, await getMedia(viewer, x.id), `geo item ${x.id}`);
    }
    for (const count of [1, 2, 5]) {
      const r = await get(viewer, '/v1/media/search', { lat: C[0], lng: C[1], distance: 5000, count });
      assert.deepEqual(idsOf(assertOk(r)), idsOf(all).slice(0, count), `count=${count}`);
    }
  });

  it('shows a new photo at once to a search that has read its spot before', async () => {
    // a spot of its own in the Southern Ocean: nothing else is near it
    const spot = [-55 - Math.random() * 5, -100 - Math.random() * 20];
    const q = { lat: spot[0].toFixed(7), lng: spot[1].toFixed(7), distance: 200 };
    const first = await post(owner, { lat: q.lat, lng: q.lng, location_name: `Sea ${G}` });
    assert.deepEqual(idsOf(assertOk(await get(viewer, '/v1/media/search', q))), [first.id]);
    const [lat, lng] = destination(spot[0], spot[1], 90, 50);
    const second = await post(owner, { lat: lat.toFixed(7), lng: lng.toFixed(7), location_name: `Sea East ${G}` });
    assert.deepEqual(idsOf(assertOk(await get(viewer, '/v1/media/search', q))), [first.id, second.id], 'nearest first, the new one too');
    const third = await post(owner, { location_id: first.location.id });
    assert.deepEqual(idsOf(assertOk(await get(viewer, '/v1/media/search', q))), [third.id, first.id, second.id],
      'the same point: newest first');
  });

  it('honours the time window (inclusive unix seconds)', async () => {
    const times = Object.values(m).map((x) => Number(x.created_time));
    const lo = Math.min(...times);
    const hi = Math.max(...times);
    const base = { lat: C[0], lng: C[1], distance: 5000, count: 100 };
    const ids = async (query) => sorted(idsOf(assertOk(await get(viewer, '/v1/media/search', { ...base, ...query }))));
    const within = Object.values(m).filter((x) => x !== m.a10);
    assert.deepEqual(await ids({ min_timestamp: lo, max_timestamp: hi }), sorted(idsOf(within)));
    assert.deepEqual(await ids({ min_timestamp: hi + 1, max_timestamp: hi + 100 }), []);
    assert.deepEqual(await ids({ min_timestamp: lo - 1000, max_timestamp: lo - 1 }), []);
    assert.deepEqual(await ids({ min_timestamp: lo, max_timestamp: lo }), sorted(idsOf(within.filter((x) => Number(x.created_time) === lo))));
    assert.deepEqual(await ids({ min_timestamp: hi - 604800, max_timestamp: hi }), sorted(idsOf(within)), 'a window of exactly 7 days');
    assert.deepEqual(await ids({ min_timestamp: hi - 604800 - 3600, max_timestamp: hi - 3600 }), [], 'a window that ends an hour ago');
    for (const query of [
      { min_timestamp: hi - 604801, max_timestamp: hi },
      { min_timestamp: 0, max_timestamp: hi },
      { min_timestamp: hi, max_timestamp: hi - 1 },
      { min_timestamp: 'abc', max_timestamp: hi },
      { min_timestamp: lo, max_timestamp: '12x' },
    ]) {
      assertV1Error(await get(viewer, '/v1/media/search', { ...base, ...query }), 400, 'APIInvalidParametersError');
    }
  });

  it('answers 400 for bad lat, lng, distance and count', async () => {
    const ok = { lat: C[0], lng: C[1] };
    const bad = [
      {}, { lat: C[0] }, { lng: C[1] }, { lat: '', lng: C[1] }, { lat: C[0], lng: '' },
      { lat: '90.0001', lng: 0 }, { lat: '-91', lng: 0 }, { lat: 0, lng: '180.5' }, { lat: 0, lng: '-181' },
      { lat: 'abc', lng: 0 }, { lat: 0, lng: '1x' }, { lat: 'nan', lng: 0 }, { lat: 0, lng: 'inf' },
      { ...ok, distance: 'abc' }, { ...ok, distance: '-1' }, { ...ok, distance: '5001' }, { ...ok, distance: '1e9' },
      { ...ok, distance: '10m' }, { ...ok, count: 0 }, { ...ok, count: 101 }, { ...ok, count: 'x' },
    ];
    for (const query of bad) {
      assertV1Error(await get(viewer, '/v1/media/search', query), 400, 'APIInvalidParametersError');
    }
    for (const query of [{ lat: 90, lng: 180 }, { lat: -90, lng: -180 }, { ...ok, distance: 5000 }, { ...ok, count: 100 }]) {
      assertOk(await get(viewer, '/v1/media/search', query));
    }
  });

  it('searches places by distance, nearest first', async () => {
    const q = (pt, distance) => ({ lat: pt[0], lng: pt[1], ...(distance === undefined ? {} : { distance }) });
    let r = await checkPlaces(viewer, places, q(C));
    assert.equal(r.length, 7);
    const near = sorted([m.a0.location.id, m.a3.location.id]);
    assert.deepEqual(sorted(r.slice(0, 2).map((p) => p.id)), near, 'the two places at the point come first');
    assert.deepEqual(r.slice(2).map((p) => p.id), [m.a11, m.a4, m.a12, m.a5, m.a6].map((x) => x.location.id));
    const one = r.find((p) => p.id === m.a0.location.id);
    assert.deepEqual({ id: one.id, name: one.name, latitude: one.latitude, longitude: one.longitude }, m.a0.location);
    await checkPlaces(viewer, places, q(C, 20));
    await checkPlaces(viewer, places, q(C, 2000));
    r = await checkPlaces(viewer, places, q(C, 5000));
    assert.equal(r.length, 10, 'all but the one 6.5 km away');
    await checkPlaces(viewer, places, q(at(90, 700), 1000));
    const two = assertOk(await get(viewer, '/v1/locations/search', { ...q(C), count: 2 }));
    assert.deepEqual(sorted(two.map((p) => p.id)), near, 'count=2');
  });

  it('searches places by name prefix, case-insensitively', async () => {
    const named = places.filter((p) => p.name !== '');
    const ids = async (query) => sorted(assertOk(await get(viewer, '/v1/locations/search', { count: 100, ...query })).map((p) => p.id));
    assert.deepEqual(await ids({ q: G }), sorted(named.map((p) => p.id)));
    assert.deepEqual(await ids({ q: G.toUpperCase() }), sorted(named.map((p) => p.id)));
    assert.deepEqual(await ids({ q: `${G.toLowerCase()} al` }), sorted([m.a0.location.id, m.a4.location.id, m.a11.location.id]));
    assert.deepEqual(await ids({ q: `${G} éT` }), [m.a12.location.id], 'Unicode, case-insensitive');
    assert.deepEqual(await ids({ q: `${G} BETA` }), [m.a3.location.id]);
    assert.deepEqual(await ids({ q: `${G} Gamma` }), []);
    const three = assertOk(await get(viewer, '/v1/locations/search', { q: G, count: 3 }));
    assert.equal(three.length, 3);
    for (const p of three) assertPlaceShape(p);
    assert.equal(assertOk(await get(viewer, '/v1/locations/search', { q: G })).length, named.length, 'default count is 20');
  });

  it('answers 400 for bad place searches', async () => {
    const ok = { lat: C[0], lng: C[1] };
    for (const query of [
      {}, { q: '' }, { lat: C[0] }, { lng: C[1] }, { lat: 'abc', lng: C[1] }, { lat: C[0], lng: '1y' },
      { lat: '91', lng: 0 }, { lat: 0, lng: '181' }, { ...ok, distance: '-1' }, { ...ok, distance: '5001' },
      { ...ok, distance: 'far' }, { ...ok, count: 0 }, { ...ok, count: 101 }, { q: G, count: 'abc' },
    ]) {
      assertV1Error(await get(viewer, '/v1/locations/search', query), 400, 'APIInvalidParametersError');
    }
  });
});

// --- the antimeridian and the pole -----------------------------------------------

describe('geo search across the antimeridian and near the pole', () => {
  let owner;
  let viewer;
  const m = {};
  before(async () => {
    [owner, viewer] = take(2);
    const n = randomBytes(3).toString('hex');
    m.east = await post(owner, { lat: '0', lng: '179.9995', location_name: `AM East ${n}` });
    m.west = await post(owner, { lat: '0', lng: '-179.9995', location_name: `AM West ${n}` });
    m.n0 = await post(owner, { lat: '89.999', lng: '0', location_name: `Pole Zero ${n}` });
    m.n180 = await post(owner, { lat: '89.999', lng: '180', location_name: `Pole Half ${n}` });
  });

  it('finds media on the other side of the antimeridian', async () => {
    const known = [here(m.east), here(m.west)];
    let r = await checkGeo(viewer, known, { lat: 0, lng: 179.9995, distance: 500 }, 'east');
    assert.deepEqual(idsOf(r), [m.east.id, m.west.id]);
    assert.ok(Math.abs(r[1].distance - 111.19) < 1, `about 111 m across: ${r[1].distance}`);
    r = await checkGeo(viewer, known, { lat: 0, lng: -179.9995, distance: 500 }, 'west');
    assert.deepEqual(idsOf(r), [m.west.id, m.east.id]);
    r = await checkGeo(viewer, known, { lat: 0, lng: 180, distance: 100 }, 'on the line');
    assert.equal(r.length, 2, 'both ~55.6 m away');
    await checkGeo(viewer, known, { lat: 0, lng: -180, distance: 100 }, 'on the line, as -180');
    await checkGeo(viewer, known, { lat: 0, lng: -180, distance: 40 }, 'too short');
    r = await checkGeo(viewer, known, { lat: 0, lng: 179.999, distance: 200 });
    assert.deepEqual(idsOf(r), [m.east.id, m.west.id]);
    await checkGeo(viewer, known, { lat: 0, lng: -179.999, distance: 100 });
    r = await checkGeo(viewer, known, { lat: 0.0005, lng: -179.9999 });
    assert.equal(r.length, 2);
  });

  it('finds media around the pole', async () => {
    const known = [here(m.n0), here(m.n180)];
    let r = await checkGeo(viewer, known, { lat: 89.999, lng: 90, distance: 500 }, 'pole');
    assert.equal(r.length, 2);
    for (const x of r) assert.ok(Math.abs(x.distance - 157.25) < 1, `~157 m: ${x.distance}`);
    r = await checkGeo(viewer, known, { lat: 89.999, lng: 0, distance: 200 });
    assert.deepEqual(idsOf(r), [m.n0.id], 'the one across the pole is 222 m away');
    r = await checkGeo(viewer, known, { lat: 89.999, lng: 0, distance: 300 });
    assert.deepEqual(idsOf(r), [m.n0.id, m.n180.id]);
    assert.ok(Math.abs(r[1].distance - 222.39) < 1, `222 m across the pole: ${r[1].distance}`);
    await checkGeo(viewer, known, { lat: 89.999, lng: -180, distance: 300 });
    await checkGeo(viewer, known, { lat: 90, lng: 0, distance: 150 }, 'from the pole itself');
    await checkGeo(viewer, known, { lat: 90, lng: 123, distance: 100 }, 'from the pole, too short');
    await checkGeo(viewer, known, { lat: 89.998, lng: -90 });
  });

  it('searches places across the antimeridian and near the pole', async () => {
    const am = [m.east, m.west].map((x) => ({ id: x.location.id, lat: x.location.latitude, lng: x.location.longitude }));
    const pole = [m.n0, m.n180].map((x) => ({ id: x.location.id, lat: x.location.latitude, lng: x.location.longitude }));
    await checkPlaces(viewer, am, { lat: 0, lng: 180, distance: 100 });
    await checkPlaces(viewer, am, { lat: 0, lng: -179.9995, distance: 500 });
    await checkPlaces(viewer, pole, { lat: 89.999, lng: 90, distance: 500 });
    await checkPlaces(viewer, pole, { lat: 89.999, lng: 0, distance: 200 });
  });
});

// --- popular --------------------------------------------------------------------

describe('GET /v1/media/popular', () => {
  it('ranks a liked photo above an equally recent one, and follows new likes', async (t) => {
    if (external) return t.skip('needs PICOGRAM_POPULAR_INTERVAL=1');
    const [owner, viewer, ...likers] = take(9); // 7 likers
    const hot = await post(owner, { caption: 'hot' });
    const cold = await post(owner, { caption: 'cold' });
    for (const u of likers.slice(0, 3)) await like(u, hot);
    await comment(likers[0], hot, 'great');
    const above = (list, a, b) => {
      const ids = idsOf(list);
      const i = ids.indexOf(a.id);
      const j = ids.indexOf(b.id);
      return i >= 0 && (j < 0 || i < j);
    };
    let last;
    let p = await poll(async () => above((last = await popular(viewer)), hot, cold), { timeout: POPULAR_WAIT_MS, interval: 200 });
    assert.ok(p.ok, `hot ranks above cold within ${POPULAR_WAIT_MS} ms; popular is ${JSON.stringify(idsOf(last))}`);
    for (const x of last) assertMediaShape(x);
    const h = last.find((x) => x.id === hot.id);
    assert.equal(h.likes.count, 3);
    assert.equal(h.user_has_liked, false, 'rendered for the viewer');
    const asLiker = await popular(likers[1]);
    assert.equal(asLiker.find((x) => x.id === hot.id)?.user_has_liked, true, 'user_has_liked per viewer');

    // cold overtakes hot with more likes and comments
    for (const u of likers) await like(u, cold);
    await comment(likers[1], cold, 'better');
    await comment(likers[2], cold, 'even better');
    p = await poll(async () => above((last = await popular(viewer)), cold, hot), { timeout: POPULAR_WAIT_MS, interval: 200 });
    assert.ok(p.ok, `cold overtakes hot; popular is ${JSON.stringify(idsOf(last))}`);

    // count
    assert.ok((await popular(viewer, { count: 1 })).length <= 1);
    assert.ok((await popular(viewer, { count: 2 })).length <= 2);

    // a deleted photo leaves the list
    await delMedia(owner, cold);
    p = await poll(async () => !idsOf((last = await popular(viewer))).includes(cold.id), { timeout: POPULAR_WAIT_MS, interval: 200 });
    assert.ok(p.ok, `a deleted photo leaves popular; still ${JSON.stringify(idsOf(last))}`);
    assert.ok(idsOf(await popular(viewer)).includes(hot.id), 'hot stays');
  });
});

// --- privacy and blocks on every discovery list -------------------------------------

describe('privacy and blocks on discovery lists', () => {
  let pub; // public owner
  let priv; // private owner
  let fan; // approved follower of priv
  let req; // pending request to priv
  let str; // stranger
  let bp; // blocked by pub
  let bk; // blocked pub
  let pm;
  let qm;
  let vt;
  let place;
  const V = [35.6762, 139.6503];

  before(async () => {
    [pub, priv, fan, req, str, bp, bk] = take(7);
    vt = fresh('pv');
    await setPrivate(priv, true);
    pm = await post(pub, { caption: `public #${vt}`, location_name: 'Privacy Plaza', lat: V[0], lng: V[1] });
    place = pm.location.id;
    qm = await post(priv, { caption: `private #${vt}`, location_id: place });
    assert.deepEqual(await rel(fan, priv, 'follow'), { outgoing_status: 'requested' });
    await rel(priv, fan, 'approve');
    assert.deepEqual(await rel(req, priv, 'follow'), { outgoing_status: 'requested' });
    await rel(pub, bp, 'block');
    await rel(bk, pub, 'block');
    await like(fan, pm);
    await like(str, pm);
    await comment(str, pm, 'nice');
    await like(fan, qm);
    await comment(fan, qm, 'lovely');
  });

  /** What each viewer may see, newest first. */
  const visible = () => [
    [pub, 'the public owner', [pm]],
    [priv, 'the private owner', [qm, pm]],
    [fan, 'an approved follower', [qm, pm]],
    [req, 'a pending requester', [pm]],
    [str, 'a stranger', [pm]],
    [bp, 'a user the owner blocked', []],
    [bk, 'a user who blocked the owner', []],
  ];

  it('tag lists show private media only to approved followers and the owner; blocks hide both ways', async () => {
    for (const [who, what, want] of visible()) {
      assert.deepEqual(await tagIds(who, vt), idsOf(want), `tag list for ${what}`);
      assert.deepEqual(await tagInfo(who, vt), { name: vt, media_count: 2 }, `media_count counts every media, for ${what}`);
      assert.deepEqual(assertOk(await tagSearch(who, { q: vt })), [{ name: vt, media_count: 2 }], `tag search for ${what}`);
      const w = await walk(`${tagPath(vt)}/media/recent?count=1`, who, { ...TAG_WALK, count: 1, onPage: checkTagPage });
      assert.deepEqual(w.ids, idsOf(want), `walking one at a time, for ${what}`);
    }
  });

  it('place lists likewise', async () => {
    for (const [who, what, want] of visible()) {
      assert.deepEqual(assertOk(await get(who, `/v1/locations/${place}`)), pm.location, `the place itself, for ${what}`);
      assert.deepEqual(await placeIds(who, place), idsOf(want), `place list for ${what}`);
      const w = await walk(`/v1/locations/${place}/media/recent?count=1`, who, { ...ID_WALK, count: 1 });
      assert.deepEqual(w.ids, idsOf(want), `walking the place one at a time, for ${what}`);
    }
  });

  it('geo search likewise', async () => {
    for (const [who, what, want] of visible()) {
      const r = await get(who, '/v1/media/search', { lat: V[0], lng: V[1], distance: 100 });
      assert.deepEqual(idsOf(assertOk(r)), idsOf(want), `geo search for ${what}`);
      // count counts what the viewer may see: hidden media take no place
      const one = await get(who, '/v1/media/search', { lat: V[0], lng: V[1], distance: 100, count: 1 });
      assert.deepEqual(idsOf(assertOk(one)), idsOf(want).slice(0, 1), `geo search count=1 for ${what}`);
    }
  });

  it('popular never shows private media to non-followers, nor media across a block', async (t) => {
    if (external) return t.skip('needs PICOGRAM_POPULAR_INTERVAL=1');
    let last;
    const p = await poll(async () => idsOf((last = await popular(str))).includes(pm.id), { timeout: POPULAR_WAIT_MS, interval: 200 });
    assert.ok(p.ok, `the liked public photo reaches popular; popular is ${JSON.stringify(idsOf(last))}`);
    await sleep(1500); // at least one more run of the job
    for (const [who, what, want] of visible()) {
      const ids = idsOf(await popular(who));
      if (!idsOf(want).includes(qm.id)) assert.ok(!ids.includes(qm.id), `private media in popular for ${what}: ${ids}`);
      if (!idsOf(want).includes(pm.id)) assert.ok(!ids.includes(pm.id), `blocked owner's media in popular for ${what}: ${ids}`);
      if (idsOf(want).includes(pm.id)) assert.ok(ids.includes(pm.id), `the public photo in popular for ${what}: ${ids}`);
    }
  });

  it('follows relationship changes at once: approve, unblock, going public', async () => {
    await rel(priv, req, 'approve');
    await rel(bk, pub, 'unblock');
    assert.deepEqual(await tagIds(req, vt), [qm.id, pm.id], 'approved: the requester sees the private photo');
    assert.deepEqual(await placeIds(req, place), [qm.id, pm.id]);
    assert.deepEqual(await tagIds(bk, vt), [pm.id], 'unblocked: the public photo is back');
    assert.deepEqual(idsOf(assertOk(await get(bk, '/v1/media/search', { lat: V[0], lng: V[1], distance: 100 }))), [pm.id]);
    assert.deepEqual(await tagIds(bp, vt), [], 'still blocked');
    await rel(fan, priv, 'unfollow');
    assert.deepEqual(await tagIds(fan, vt), [pm.id], 'unfollowed: the private photo is hidden again');
    await setPrivate(priv, false);
    assert.deepEqual(await tagIds(str, vt), [qm.id, pm.id], 'public now: everyone sees it');
    assert.deepEqual(await placeIds(str, place), [qm.id, pm.id]);
    assert.deepEqual(idsOf(assertOk(await get(str, '/v1/media/search', { lat: V[0], lng: V[1], distance: 100 }))), [qm.id, pm.id]);
    assert.deepEqual(await tagIds(bp, vt), [qm.id], 'a block on one owner hides only that owner');
  });
});

// --- user search ranking -----------------------------------------------------------

describe('GET /v1/users/search ranking', () => {
  it('puts the exact match first, then username prefixes, then full-name prefixes, each by follower count', async () => {
    const fans = take(4);
    const P = uniqueName('us').slice(0, 18);
    const mk = async (name, full_name) => (await signup(url, name, 'password123', full_name ? { full_name } : {}));
    // signed up in an order unrelated to the ranking
    const F2 = await mk(uniqueName('fn'), `${P.toUpperCase()} Two`);
    const Pd = await mk(`${P}d`);
    const Pb = await mk(`${P}b`);
    const F1 = await mk(uniqueName('fn'), `${P} One`);
    const exact = await mk(P);
    const Pc = await mk(`${P}c`, `${P} also`);
    const Pa = await mk(`${P}a`);
    const follow = async (list, target) => { for (const f of list) await rel(f, target, 'follow'); };
    await follow(fans.slice(0, 1), Pa); // 1
    await follow(fans.slice(0, 3), Pb); // 3
    await follow(fans.slice(0, 2), Pc); // 2
    await follow(fans, F1); // 4
    await follow(fans.slice(0, 1), F2); // 1
    const search = async (q, count) => {
      const r = await get(fans[0], '/v1/users/search', count === undefined ? { q } : { q, count });
      const list = assertOk(r);
      for (const u of list) assertShortUser(u);
      return list.map((u) => u.id);
    };
    const uid = (...us) => us.map((u) => u.user.id);
    assert.deepEqual(await search(P), uid(exact, Pb, Pc, Pa, Pd, F1, F2), 'exact, then username prefixes, then full names');
    assert.deepEqual(await search(P.toUpperCase()), uid(exact, Pb, Pc, Pa, Pd, F1, F2), 'case-insensitive');
    assert.deepEqual(await search(P, 3), uid(exact, Pb, Pc));
    assert.deepEqual(await search(`${P}c`), uid(Pc), 'an exact match alone');

    // the ranking follows follower counts as they change
    await follow(fans.slice(1, 4), Pa); // Pa: 4
    for (const f of fans.slice(0, 3)) await rel(f, F1, 'unfollow'); // F1: 1
    await follow(fans.slice(1, 3), F2); // F2: 3
    assert.deepEqual(await search(P), uid(exact, Pa, Pb, Pc, Pd, F2, F1));
  });
});
