// Helpers shared by the home feed tests (feed.test.mjs, feed_kill.test.mjs).
// Not a test file itself: node --test only runs *.test.mjs here.
import assert from 'node:assert/strict';
import { api, assertOk, show } from './lib.mjs';

/** The numeric media ID of an API media ID ("MEDIAID_OWNERID" or bare), as a BigInt. */
export const mediaNum = (id) => BigInt(String(id).split('_')[0]);

/** The bare media ID (the part before the underscore). */
export const bareId = (id) => String(id).split('_')[0];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Calls fn() every `interval` ms until it returns a truthy value or
 * `timeout` ms have passed; returns {ok, value, ms} (value is the last result).
 * Feed writes are background jobs: this is the bounded wait for them.
 */
export async function poll(fn, { timeout = 5000, interval = 50 } = {}) {
  const start = Date.now();
  let value;
  for (;;) {
    value = await fn();
    if (value) return { ok: true, value, ms: Date.now() - start };
    if (Date.now() - start >= timeout) return { ok: false, value, ms: Date.now() - start };
    await sleep(interval);
  }
}

/** One feed page: the raw api() result. */
export function feedPage(url, token, query = {}) {
  return api(url, 'GET', '/v1/users/self/feed', { token, query });
}

/**
 * Walks the whole feed from `query` by following pagination.next_url, and
 * checks each page on the way (200, at most count items, next_url absolute on
 * this server and carrying next_max_id and the other query parameters).
 * Returns {ids (media IDs as returned), items, pages}.
 */
export async function walkFeed(url, token, query = {}, { maxPages = 200, base = url } = {}) {
  const items = [];
  let pages = 0;
  let r = await feedPage(url, token, query);
  const count = query.count === undefined ? 20 : Number(query.count);
  for (;;) {
    pages++;
    const data = assertOk(r);
    assert.ok(Array.isArray(data), `feed data is a list: ${show(r)}`);
    assert.ok(data.length <= count, `page ${pages} has at most ${count} items: ${show(r)}`);
    items.push(...data);
    const pg = r.body.pagination;
    if (pg === undefined || pg === null || Object.keys(pg).length === 0) break;
    assert.ok(pages < maxPages, `more than ${maxPages} pages`);
    assert.equal(typeof pg.next_url, 'string', `next_url in ${show(r)}`);
    assert.equal(typeof pg.next_max_id, 'string', `next_max_id in ${show(r)}`);
    // a media ID, or a sealed position when the scan stopped among hidden items
    assert.match(pg.next_max_id, /^(\d+(_\d+)?|s[A-Za-z0-9_-]{32})$/, `next_max_id is a media ID or a sealed cursor: ${show(r)}`);
    const next = new URL(pg.next_url); // absolute, or this throws
    assert.equal(next.origin, new URL(base).origin, `next_url ${pg.next_url} points at this server`);
    assert.match(next.pathname, /^\/v1\/users\/self\/feed(\.json)?$/, `next_url path ${pg.next_url}`);
    assert.equal(next.searchParams.get('max_id'), pg.next_max_id, `next_url carries max_id=next_max_id: ${pg.next_url}`);
    for (const [k, v] of Object.entries(query)) {
      if (k === 'max_id') continue;
      assert.equal(next.searchParams.get(k), String(v), `next_url keeps ${k}: ${pg.next_url}`);
    }
    r = await api(url + next.pathname + next.search, 'GET', '', { token });
  }
  return { ids: items.map((m) => m.id), items, pages };
}

/** Asserts media IDs are strictly newest first (descending media IDs: no duplicates either). */
export function assertNewestFirst(ids, what = 'feed') {
  for (let i = 1; i < ids.length; i++) {
    assert.ok(mediaNum(ids[i - 1]) > mediaNum(ids[i]),
      `${what} is newest first without repeats: ${ids[i - 1]} then ${ids[i]} (position ${i}) in ${JSON.stringify(ids)}`);
  }
}

/** Runs fn over items with at most `limit` calls in flight; results in order. */
export async function mapLimit(items, limit, fn) {
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
