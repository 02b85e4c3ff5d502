// Home timelines in Redis (`feed_store = redis://...`), on every topology's
// databases, against a real redis-server of their own:
// - a post is fanned out by the job runner into each follower's sorted set
//   (the member is the media ID then the author's, 16 bytes big-endian);
// - a timeline Redis lost (FLUSHALL) is rebuilt from the databases on its
//   next read, with the built mark back;
// - with Redis killed, or hung (SIGSTOP), feeds answer 200 at once, pulled
//   from the databases, and show what was posted meanwhile; the endpoints
//   that need no Redis answer as ever;
// - with Redis back (empty), every timeline is rebuilt, nothing lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, uploadPhoto, external, show, startRedis, redisCommand } from './lib.mjs';
import { poll, mediaNum, walkFeed } from './feed_util.mjs';

const BUILT = Buffer.alloc(16); // the built mark: 16 zero bytes

function member(mediaId, authorId) {
  const b = Buffer.alloc(16);
  b.writeBigInt64BE(mediaNum(mediaId), 0);
  b.writeBigInt64BE(BigInt(authorId), 8);
  return b;
}

test('timelines in Redis: fanned out by jobs, rebuilt when lost, pulled from the databases while Redis is down',
  { skip: external, timeout: 120_000 }, async (t) => {
    const redis = await startRedis();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-rtl-'));
    let server;
    try {
      server = launchOn(dataDir, ['--redis', redis.url, '--feed-store', redis.url]);
      const url = await server.url;
      const author = await signup(url, uniqueName('rtlauth'));
      const fans = [];
      for (let i = 0; i < 3; i++) fans.push(await signup(url, uniqueName('rtlfan')));
      for (const f of fans) {
        const r = await api(url, 'POST', `/v1/users/${author.user.id}/relationship`, { token: f.token, form: { action: 'follow' } });
        assert.equal(r.status, 200, show(r));
      }
      const keyOf = async (uid) => {
        const keys = await redisCommand(redis.port, 'KEYS', `picogram:tl:v1:*:${uid}`);
        assert.ok(keys.length <= 1, `one timeline key per user: ${keys}`);
        return keys[0];
      };
      const holds = async (uid, m) => {
        const k = await keyOf(uid);
        return k !== undefined && (await redisCommand(redis.port, 'ZSCORE', k, m)) !== null;
      };
      const feedIds = async (who) => (await walkFeed(url, who.token)).ids;
      const post = async (caption) => {
        const up = await uploadPhoto(url, { token: author.token, photo: 'tiny-1x1.jpg', fields: { caption } });
        assert.equal(up.status, 200, show(up));
        return up.body.data;
      };

      // fans[0] reads first: its (empty) timeline is built, with the mark
      assert.deepEqual(await feedIds(fans[0]), []);
      const k0 = await keyOf(fans[0].user.id);
      assert.ok(k0, 'a built timeline has its key');
      assert.notEqual(await redisCommand(redis.port, 'ZSCORE', k0, BUILT), null, 'and the built mark');

      // a post: the job runner puts it into the author's and every fan's set
      const m1 = await post('one');
      const m1key = member(m1.id, author.user.id);
      for (const u of [author, ...fans]) {
        const seen = await poll(() => holds(u.user.id, m1key), { timeout: 10_000 });
        assert.ok(seen.ok, `the post reaches ${u.user.username}'s timeline in Redis`);
      }
      // the fan-out drops each fan's cached head (fans[0]'s, cached empty
      // above, would otherwise be served for CACHE_SHORT_TTL_MS, 5 s); a
      // head can only be dropped once Redis holds the post, so a read just
      // after the poll above may still race the drop, and is given 2 s
      for (const f of fans) {
        const ids = await poll(async () => {
          const got = await feedIds(f);
          return got.length > 0 && got;
        }, { timeout: 2000 });
        assert.deepEqual(ids.value, [m1.id], `${f.user.username}'s feed has the post within 2 s (${ids.ms} ms)`);
      }

      // Redis loses everything: a second post lands in sets without the
      // mark, and each fan's next read rebuilds the whole timeline
      assert.equal(await redisCommand(redis.port, 'FLUSHALL'), 'OK');
      const m2 = await post('two');
      const m2key = member(m2.id, author.user.id);
      assert.ok((await poll(() => holds(fans[1].user.id, m2key), { timeout: 10_000 })).ok, 'fanned into the lost set');
      for (const f of fans) {
        const ids = await poll(async () => {
          const got = await feedIds(f);
          return got.length === 2 && got;
        }, { timeout: 10_000 });
        assert.deepEqual(ids.value, [m2.id, m1.id], `${f.user.username}'s feed, rebuilt after the flush`);
        const k = await keyOf(f.user.id);
        assert.notEqual(await redisCommand(redis.port, 'ZSCORE', k, BUILT), null, 'rebuilt with the mark');
        assert.notEqual(await redisCommand(redis.port, 'ZSCORE', k, m1key), null, 'the older post is back');
      }

      // Redis killed: feeds are pulled from the databases, fast, and show a
      // post made meanwhile (its fan-out waits for Redis)
      await redis.kill();
      const m3 = await post('three');
      for (const f of fans) {
        const started = Date.now();
        const r = await api(url, 'GET', '/v1/users/self/feed', { token: f.token });
        const ms = Date.now() - started;
        assert.equal(r.status, 200, show(r));
        assert.deepEqual(r.body.data.map((m) => m.id), [m3.id, m2.id, m1.id], 'pulled from the databases');
        assert.ok(ms < 2000, `a feed with Redis down answers in ${ms} ms`);
      }
      const other = await api(url, 'GET', `/v1/media/${m3.id}`, { token: fans[0].token });
      assert.equal(other.status, 200, show(other));
      const newcomer = await signup(url, uniqueName('rtlnew')); // a timeline never built, with Redis down
      assert.deepEqual(await feedIds(newcomer), []);

      // Redis back, empty: the fan-out that waited lands, and every feed is whole
      await redis.start();
      for (const f of fans) {
        const ids = await poll(async () => {
          const r = await api(url, 'GET', '/v1/users/self/feed', { token: f.token });
          return r.status === 200 && r.body.data.length === 3 && r.body.data.map((m) => m.id);
        }, { timeout: 15_000 });
        assert.deepEqual(ids.value, [m3.id, m2.id, m1.id], `${f.user.username}'s feed after Redis came back`);
      }
      assert.ok((await poll(() => holds(fans[2].user.id, member(m3.id, author.user.id)), { timeout: 15_000 })).ok,
        'the waiting fan-out reaches Redis');

      // Redis hung: a feed read that must ask it answers within its timeout, from the databases
      redis.pause();
      try {
        const started = Date.now();
        const r = await api(url, 'GET', '/v1/users/self/feed', { token: fans[1].token, query: { max_id: m3.id } });
        const ms = Date.now() - started;
        assert.equal(r.status, 200, show(r));
        assert.deepEqual(r.body.data.map((m) => m.id), [m2.id, m1.id]);
        assert.ok(ms < 3000, `a feed with Redis hung answers in ${ms} ms`);
        t.diagnostic(`feed page with Redis hung: ${ms} ms`);
      } finally {
        redis.resume();
      }
    } finally {
      if (server) {
        server.proc.kill('SIGTERM');
        await server.exited;
      }
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

// The popular ranking in Redis: the job (every 2 s here) writes the ranking
// it computed from every database into one key, 8-byte media IDs best
// first; GET /v1/media/popular reads that key, and the database's copy when
// Redis has lost it or is down.
test('the popular ranking is kept in Redis, and read from the database without it',
  { skip: external, timeout: 120_000 }, async () => {
    const redis = await startRedis();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-rpop-'));
    let server;
    try {
      server = launchOn(dataDir, ['--redis', redis.url, '--feed-store', redis.url, '--popular-interval', '2']);
      const url = await server.url;
      const users = [];
      for (let i = 0; i < 3; i++) users.push(await signup(url, uniqueName('rpop')));
      const media = [];
      for (const u of users) {
        const up = await uploadPhoto(url, { token: u.token, photo: 'tiny-1x1.jpg', fields: { caption: 'pop' } });
        assert.equal(up.status, 200, show(up));
        media.push(up.body.data.id);
      }
      // media[0] liked twice, media[1] once, media[2] never: that order
      for (const [m, likers] of [[media[0], [users[1], users[2]]], [media[1], [users[0]]]]) {
        for (const u of likers) assert.equal((await api(url, 'POST', `/v1/media/${m}/likes`, { token: u.token })).status, 200);
      }
      const want = media.map(mediaNum);
      const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
      const popular = async () => {
        const r = await api(url, 'GET', '/v1/media/popular', { token: users[0].token, query: { count: 100 } });
        assert.equal(r.status, 200, show(r));
        return r.body.data.map((m) => mediaNum(m.id));
      };
      const inRedis = async () => {
        const keys = await redisCommand(redis.port, 'KEYS', 'picogram:popular:v1:*');
        assert.ok(keys.length <= 1, `one ranking key: ${keys}`);
        if (keys.length === 0) return { key: null, ids: [] };
        const v = await redisCommand(redis.port, 'GET', keys[0]);
        const ids = [];
        for (let i = 0; v && i + 8 <= v.length; i += 8) ids.push(v.readBigInt64BE(i));
        return { key: keys[0], ids };
      };
      const ranked = await poll(async () => same((await inRedis()).ids, want),
        { timeout: 20_000, interval: 200 });
      assert.ok(ranked.ok, `the job writes the ranking into Redis: ${(await inRedis()).ids}`);
      assert.deepEqual(await popular(), want);

      // reads come from Redis: a ranking put there is what the API shows
      // (tried again if the job rewrote the key in between)
      const { key } = await inRedis();
      const reversed = [...want].reverse();
      const packed = Buffer.alloc(reversed.length * 8);
      reversed.forEach((id, i) => packed.writeBigInt64BE(id, i * 8));
      let seen = false;
      for (let i = 0; i < 5 && !seen; i++) {
        await redisCommand(redis.port, 'SET', key, packed);
        const got = await popular();
        if (same(got, reversed)) seen = true;
        else assert.ok(!same((await inRedis()).ids, reversed), `the API read ${got}, not what Redis held`);
      }
      assert.ok(seen, 'the API shows the ranking Redis holds');
      const restored = await poll(async () => same((await inRedis()).ids, want),
        { timeout: 10_000, interval: 100 });
      assert.ok(restored.ok, 'the next run puts the ranking back');

      // lost from Redis, or Redis down: the database's copy
      await redisCommand(redis.port, 'DEL', key);
      assert.deepEqual(await popular(), want, 'with the key gone');
      await redis.kill();
      const t0 = Date.now();
      assert.deepEqual(await popular(), want, 'with Redis down');
      assert.ok(Date.now() - t0 < 2000, `with Redis down, popular answers in ${Date.now() - t0} ms`);
    } finally {
      if (server) { server.proc.kill('SIGKILL'); await server.exited; }
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
