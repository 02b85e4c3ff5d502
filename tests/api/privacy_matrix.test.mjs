// The privacy matrix: every read endpoint that shows a user, photo, comment,
// like, tag, place or activity, asked by every kind of viewer about a public
// and a private owner. One `it` per (endpoint, owner, viewer) cell.
//
// Two owners, `public` and `private`, each post one located photo (a tag of
// their own and a tag and place shared with a bystander's older and newer
// photos), comment on it, and like and comment on the bystander's photo.
// The viewers: the owner, an approved follower, a stranger, a user the owner
// blocked (`blocked`), a user who blocked the owner (`blocker`) and no token
// (`anonymous`). The follower, blocked and blocker liked and commented on
// both photos while they still followed (the blocks came after); the
// stranger liked the public one (the private one refuses it).
//
// The rule, written once in access(): 'full' (profile, photos, likes,
// comments, lists), 'profile' (the profile and relationship; the rest 400
// APINotAllowedError), 'none' (the owner is not there: 404 APINotFoundError,
// left out of every list) or 'anon' (400 OAuthParameterException).
//
//                owner  follower  stranger  blocked  blocker  anonymous
//   public       full   full      full      none     profile  anon
//   private      full   full      profile   none     profile  anon
//
// Every row asserts against it, and in every cell short of 'full' no
// response the viewer got may carry a trace of the photo: its ID (a tag
// list's tag ID is the media ID), shortcode, file key, caption or the
// owner's comment on it; that covers list cursors (the tag and place rows
// walk one item a page, the hidden photo between visible ones) and file
// URLs (a file's name carries an unguessable key: whoever is never shown
// the media object never learns it; the files row checks it across all the
// viewer's traffic, and that the files answer to those who may see them).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer, api, signup, uniqueName, uploadPhoto, assertOk, assertV1Error, show, external } from './lib.mjs';
import { bareId, mapLimit, poll } from './feed_util.mjs';

const OWNERS = ['public', 'private'];
const VIEWERS = ['owner', 'follower', 'stranger', 'blocked', 'blocker', 'anonymous'];

/** What a viewer may see of an owner's account: the one rule of the matrix. */
function access(owner, viewer) {
  if (viewer === 'anonymous') return 'anon';
  if (viewer === 'blocked') return 'none';
  if (viewer === 'blocker') return 'profile'; // still sees the profile, to unblock
  if (viewer === 'stranger') return owner === 'public' ? 'full' : 'profile';
  return 'full'; // the owner, an approved follower
}
/** Whether the owner's likes and comments on a third party's photo are shown: not across a block. */
const seesActs = (viewer) => !['blocked', 'blocker', 'anonymous'].includes(viewer);

const ERRORS = { profile: [400, 'APINotAllowedError'], none: [404, 'APINotFoundError'], anon: [400, 'OAuthParameterException'] };
/** Asserts what a viewer with access a gets: the data when 'full', else the error (and null). */
function gate(r, a) {
  if (a === 'full') return assertOk(r);
  assertV1Error(r, ...ERRORS[a]);
  return null;
}
const profileGate = (a) => (a === 'profile' ? 'full' : a); // the profile and relationship
const listGate = (a) => (a === 'anon' ? 'anon' : 'full'); // lists answer, leaving out what is hidden
const ids = (list) => list.map((x) => x.id);
const PHOTO = 'tiny-1x1.jpg';
const CURSOR = /^(\d+(_\d+)?|s[A-Za-z0-9_-]{32})$/;
const KEYED = /\/media\/\d+\/(\d+)_([0-9a-f]{16})_[a-z]+\.jpg$/;

let srv;
let url;
const W = {}; // the world: users by role, owners, the bystander's photos, the place
const seen = new Map(); // viewer user ID (or 'anonymous') -> the text of every response it got

/** A cell's context: the owner O, the viewer (who, token), access a, and get() recording responses. */
function cell(owner, viewer) {
  const O = W[owner];
  const who = viewer === 'owner' ? O.who : W[viewer]; // null when anonymous
  const key = who ? who.user.id : 'anonymous';
  if (!seen.has(key)) seen.set(key, []);
  const c = { owner, viewer, O, who, a: access(owner, viewer), traced: [] };
  c.get = async (p, { query, token = who?.token, trace = true } = {}) => {
    const r = await api(url, 'GET', p, { token, query });
    if (trace) { c.traced.push(r); seen.get(key).push(r.text); }
    return r;
  };
  return c;
}

/** Follows next_url from first: {pages, ids}. */
async function walk(c, first) {
  const pages = [];
  const found = [];
  for (let target = first; target && pages.length < 20;) {
    const r = await c.get(target);
    pages.push(r);
    if (r.status !== 200) break;
    found.push(...ids(r.body.data));
    const next = r.body.pagination?.next_url;
    target = next && new URL(next).pathname + new URL(next).search;
  }
  return { pages, ids: found };
}
/** Checks a walk over the shared tag or place: the photo shown iff full, the bystander's always, cursors well formed. */
function checkWalk(c, { pages, ids: got }, nextKey) {
  if (!gate(pages[0], listGate(c.a))) return;
  for (const r of pages) {
    assertOk(r);
    const pg = r.body.pagination;
    if (pg?.next_url) assert.match(String(pg[nextKey]), CURSOR, `${nextKey}: ${show(r)}`);
  }
  assert.equal(new Set(got).size, got.length, `no photo twice: ${got}`);
  assert.ok(pages.length >= 2 && pages.every((r) => r.body.data.length <= 1), `a photo a page: ${pages.length} pages`);
  assert.ok(W.fillers.every((m) => got.includes(m.id)), `the bystander's photos: ${got}`);
  assert.equal(got.includes(c.O.m.id), c.a === 'full', `the ${c.owner} owner's photo: ${got}`);
}
/** The data of a list that answers every logged-in viewer, or null. */
const list = (c, r) => gate(r, listGate(c.a));
/** Asserts the owner's photo is in the list (the first response) iff want. */
const shows = (want) => (c, [r]) => {
  const d = list(c, r);
  if (d) assert.equal(ids(d).includes(c.O.m.id), want(c), `the ${c.owner} owner's photo in ${show(r)}`);
};
const blockedIds = () => [W.blocked.user.id, W.blocker.user.id];

/** The rows: [name, get(c) -> result, check(c, result)]. Plain rows get a list of responses. */
const ROWS = [
  ['GET /v1/users/{id}', (c) => Promise.all([c.get(`/v1/users/${c.O.id}`)]), (c, [r]) => {
    const d = gate(r, profileGate(c.a));
    if (d) assert.deepEqual([d.id, d.is_private], [c.O.id, c.owner === 'private']);
  }],
  ['GET /v1/users/{id}/relationship', (c) => Promise.all([c.get(`/v1/users/${c.O.id}/relationship`)]), (c, [r]) => {
    const d = gate(r, profileGate(c.a));
    if (d) assert.equal(d.target_user_is_private, c.owner === 'private');
    if (d && c.viewer === 'blocker') assert.equal(d.incoming_status, 'blocked_by_you');
  }],
  ['GET /v1/users/search', (c) => Promise.all([c.get('/v1/users/search', { query: { q: c.O.who.user.username } })]), (c, [r]) => {
    const d = list(c, r);
    if (d) assert.equal(ids(d).includes(c.O.id), c.a !== 'none', `the owner in ${show(r)}`);
  }],
  ['GET /v1/users/{id}/media/recent', (c) => Promise.all([c.get(`/v1/users/${c.O.id}/media/recent`)]), (c, [r]) => {
    const d = gate(r, c.a);
    if (d) assert.deepEqual(ids(d), [c.O.m.id]);
  }],
  ['GET /v1/users/{id}/follows', (c) => Promise.all([c.get(`/v1/users/${c.O.id}/follows`)]), (c, [r]) => {
    const d = gate(r, c.a);
    if (d) assert.deepEqual(d, []);
  }],
  ['GET /v1/users/{id}/followed-by', (c) => Promise.all([c.get(`/v1/users/${c.O.id}/followed-by`)]), (c, [r]) => {
    const d = gate(r, c.a);
    if (d) assert.deepEqual(ids(d), [W.follower.user.id], 'the follower alone: blocks end follows');
  }],
  ['GET /v1/media/{id} (full and bare ID)', (c) => Promise.all([c.get(`/v1/media/${c.O.m.id}`), c.get(`/v1/media/${bareId(c.O.m.id)}`)]),
    (c, rs) => {
      for (const r of rs) {
        const d = gate(r, c.a);
        if (!d) continue;
        assert.deepEqual([d.id, d.caption.text], [c.O.m.id, c.O.m.caption.text]);
        assert.ok(ids(d.likes.data).includes(W.follower.user.id), `the follower's like: ${show(r)}`);
        if (c.viewer !== 'owner') continue;
        const people = [...ids(d.likes.data), ...d.comments.data.map((x) => x.from.id)];
        for (const u of blockedIds()) assert.ok(!people.includes(u), `no like or comment across a block: ${show(r)}`);
      }
    }],
  ['GET /v1/media/shortcode/{code}', (c) => Promise.all([c.get(`/v1/media/shortcode/${c.O.code}`)]), (c, [r]) => {
    const d = gate(r, c.a);
    if (d) assert.equal(d.id, c.O.m.id);
  }],
  ['GET /v1/media/{id}/likes', (c) => Promise.all([c.get(`/v1/media/${c.O.m.id}/likes`)]), (c, [r]) => {
    const d = gate(r, c.a);
    if (d) assert.ok(ids(d).includes(W.follower.user.id), `the follower's like: ${show(r)}`);
    if (d && c.viewer === 'owner') for (const u of blockedIds()) assert.ok(!ids(d).includes(u), `no like across a block: ${show(r)}`);
  }],
  ['GET /v1/media/{id}/comments', (c) => Promise.all([c.get(`/v1/media/${c.O.m.id}/comments`)]), (c, [r]) => {
    const d = gate(r, c.a);
    if (d) assert.ok(d.some((x) => x.text === c.O.comment), `the owner's comment: ${show(r)}`);
    if (d && c.viewer === 'owner') {
      for (const u of blockedIds()) assert.ok(!d.some((x) => x.from.id === u), `no comment across a block: ${show(r)}`);
    }
  }],
  ['GET /v1/tags/{name}/media/recent (own tag)', (c) => Promise.all([c.get(`/v1/tags/${c.O.tag}/media/recent`)]),
    shows((c) => c.a === 'full')],
  ['GET /v1/tags/{name}/media/recent (cursors, count=1)', (c) => walk(c, `/v1/tags/${W.tag}/media/recent?count=1`),
    (c, w) => checkWalk(c, w, 'next_max_tag_id')],
  ['GET /v1/locations/{id}/media/recent (cursors, count=1)', (c) => walk(c, `/v1/locations/${W.place}/media/recent?count=1`),
    (c, w) => checkWalk(c, w, 'next_max_id')],
  ['GET /v1/media/search', (c) => Promise.all([c.get('/v1/media/search', { query: { lat: W.lat, lng: W.lng, distance: 100 } })]),
    shows((c) => c.a === 'full')],
  ['GET /v1/media/popular', (c) => Promise.all([c.get('/v1/media/popular', { query: { count: 100 } })]),
    shows((c) => c.a === 'full' && c.owner === 'public')],
  ['GET /v1/users/self/feed', (c) => Promise.all([c.get('/v1/users/self/feed', { query: { count: 100 } })]),
    shows((c) => c.a === 'full' && ['owner', 'follower'].includes(c.viewer))],
  ['GET /v1/users/self/media/liked', (c) => Promise.all([c.get('/v1/users/self/media/liked', { query: { count: 100 } })]),
    shows((c) => c.a === 'full' && c.viewer !== 'owner')], // all but the owner liked it if they could
  ["GET /v1/users/self/activity (the owner's: the viewer's news)", (c) => Promise.all([c.viewer === 'anonymous'
    ? c.get('/v1/users/self/activity') : c.get('/v1/users/self/activity', { query: { count: 100 }, token: c.O.who.token, trace: false })]),
  (c, [r]) => {
    const d = list(c, r);
    if (!d) return;
    const news = d.filter((x) => x.user.id === c.who.user.id);
    const want = c.a === 'full' && c.viewer !== 'owner'; // the rest never acted, or acted across a block
    assert.equal(news.length > 0, want, `news from the ${c.viewer}: ${JSON.stringify(news)}`);
    if (want) assert.ok(news.some((x) => x.type === 'like' && x.media?.id === c.O.m.id), `the like: ${JSON.stringify(news)}`);
  }],
  ["a third party's photo: the owner's like and comment",
    (c) => Promise.all(['', '/likes', '/comments'].map((p) => c.get(`/v1/media/${W.fillers[0].id}${p}`))), (c, rs) => {
      const [m, likes, comments] = rs.map((r) => list(c, r));
      if (!m) return;
      assert.equal(ids(likes).includes(c.O.id), seesActs(c.viewer), `the owner's like: ${show(rs[1])}`);
      assert.equal(comments.some((x) => x.text === c.O.elsewhere), seesActs(c.viewer), `the owner's comment: ${show(rs[2])}`);
      if (!seesActs(c.viewer)) for (const r of rs) assert.ok(!r.text.includes(c.O.id), `no trace of the owner: ${show(r)}`);
    }],
  ['photo files (the media object\'s image URLs)', async (c) => {
    const r = await c.get(`/v1/media/${c.O.m.id}`);
    if (r.status !== 200) return { r, files: [] };
    return { r, files: await Promise.all(Object.values(r.body.data.images).map(async ({ url: u }) => {
      const f = await fetch(u);
      return { u, status: f.status, type: f.headers.get('content-type'), size: (await f.arrayBuffer()).byteLength };
    })) };
  }, (c, { r, files }) => {
    if (gate(r, c.a)) {
      assert.equal(files.length, 4, 'four renditions');
      for (const f of files) {
        assert.equal(KEYED.exec(f.u)?.[2], c.O.key, `${f.u} carries the file key`);
        assert.deepEqual([f.status, f.type, f.size > 0], [200, 'image/jpeg', true], f.u);
      }
      return;
    }
    const all = seen.get(c.who ? c.who.user.id : 'anonymous');
    assert.ok(all.length > 20, `the viewer's whole traffic: ${all.length} responses`);
    for (const s of [c.O.key, bareId(c.O.m.id)]) assert.ok(!all.some((t) => t.includes(s)), `${s} never shown to the ${c.viewer}`);
  }],
];

describe('privacy matrix: every endpoint, owner and viewer', () => {
  const cells = [];
  for (const [name, get, check] of ROWS) {
    describe(name, () => {
      for (const owner of OWNERS) {
        for (const viewer of VIEWERS) {
          const entry = { name, get, owner, viewer };
          cells.push(entry);
          const skip = name.includes('popular') && external && 'needs PICOGRAM_POPULAR_INTERVAL=1';
          it(`${owner} owner, ${viewer}: ${access(owner, viewer)}`, { skip }, () => {
            if (entry.error) throw entry.error;
            const { c, result } = entry;
            check(c, result);
            if (c.a === 'full') return;
            for (const r of c.traced) {
              for (const s of c.O.secrets) assert.ok(!r.text.includes(s), `a trace of the hidden photo (${s}) in ${show(r)}`);
            }
          });
        }
      }
    });
  }

  before(async () => {
    srv = await startServer(['--access-log', 'off', '--max-concurrent-uploads', '16'], { PICOGRAM_POPULAR_INTERVAL: '1' });
    url = srv.url;
    const roles = ['public', 'private', 'follower', 'stranger', 'blocked', 'blocker', 'bystander'];
    const users = await mapLimit(roles, 4, (role) => signup(url, uniqueName(role.slice(0, 5))));
    roles.forEach((role, i) => { W[role] = users[i]; });
    const ok = async (p, who, form) => {
      const r = await api(url, 'POST', p, { token: who.token, form });
      assert.equal(r.status, 200, `${p}: ${show(r)}`);
    };
    const rel = (who, target, action) => ok(`/v1/users/${target.user.id}/relationship`, who, { action });
    await ok('/v1/users/self', W.private, { is_private: 'true' });

    const rnd = randomBytes(4).toString('hex');
    W.tag = `mx${rnd}`;
    W.lat = (Math.random() * 80 - 40).toFixed(5);
    W.lng = (Math.random() * 300 - 150).toFixed(5);
    const post = async (who, caption) => assertOk(await uploadPhoto(url, { token: who.token, photo: PHOTO,
      fields: { caption, lat: W.lat, lng: W.lng, location_name: `Matrix ${rnd}` } }));
    // oldest first: a bystander's, the public owner's, the private owner's, a bystander's
    const older = await post(W.bystander, `before #${W.tag}`);
    for (const owner of OWNERS) {
      const who = W[owner];
      const marker = `secret${owner}${rnd}`;
      const m = await post(who, `${marker} #${owner}${rnd} #${W.tag}`);
      W[owner] = { who, id: who.user.id, m, tag: `${owner}${rnd}`, code: /\/p\/([^/]+)\//.exec(m.link)[1],
        key: KEYED.exec(m.images.thumbnail.url)[2], comment: `${marker} said the owner`, elsewhere: `${owner} was here ${rnd}` };
      W[owner].secrets = [bareId(m.id), W[owner].code, W[owner].key, marker];
    }
    W.fillers = [older, await post(W.bystander, `after #${W.tag}`)];
    W.place = older.location.id;
    for (const m of [...W.fillers, W.public.m, W.private.m]) assert.equal(m.location.id, W.place, 'one shared place');

    const owners = OWNERS.map((o) => W[o]);
    const fans = [W.follower, W.blocked, W.blocker];
    await mapLimit(fans.flatMap((f) => owners.map((o) => [f, o])), 8, ([f, o]) => rel(f, o.who, 'follow'));
    await mapLimit(fans, 8, (f) => rel(W.private.who, f, 'approve'));
    const acts = [...owners.map((o) => [o.who, o.m, o.comment]), ...owners.map((o) => [o.who, W.fillers[0], o.elsewhere])];
    for (const f of fans) for (const o of owners) acts.push([f, o.m, `from the ${f.user.username}`]);
    acts.push([W.stranger, W.public.m]);
    await mapLimit(acts, 8, async ([who, m, text]) => {
      if (who !== owners.find((o) => o.m === m)?.who) await ok(`/v1/media/${m.id}/likes`, who);
      if (text) await ok(`/v1/media/${m.id}/comments`, who, { text });
    });
    const refused = await api(url, 'POST', `/v1/media/${W.private.m.id}/likes`, { token: W.stranger.token });
    assertV1Error(refused, 400, 'APINotAllowedError'); // a stranger cannot like what it may not see
    await mapLimit(owners, 2, async (o) => {
      await rel(o.who, W.blocked, 'block');
      await rel(W.blocker, o.who, 'block');
    });

    // the background work the cells read: fan-out to feeds, and (unless external) a popular run after setup
    const since = Date.now();
    const has = async (who, p, m) => ids(assertOk(await api(url, 'GET', p, { token: who.token, query: { count: 100 } }))).includes(m.id);
    const waits = [...owners.map((o) => [o.who, o.m]), ...owners.map((o) => [W.follower, o.m])]
      .map(([who, m]) => poll(() => has(who, '/v1/users/self/feed', m), { timeout: 10_000 }));
    if (!external) {
      waits.push(poll(async () => Date.now() - since > 1500 && has(W.follower, '/v1/media/popular', W.public.m),
        { timeout: 20_000, interval: 200 }));
    }
    for (const p of await Promise.all(waits)) assert.ok(p.ok, 'the feeds and popular caught up');

    await mapLimit(cells, 8, async (entry) => {
      entry.c = cell(entry.owner, entry.viewer);
      try {
        entry.result = await entry.get(entry.c);
      } catch (e) {
        entry.error = e;
      }
    });
  });
  after(async () => { await srv?.stop(); });
});
