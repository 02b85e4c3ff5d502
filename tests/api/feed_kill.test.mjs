// kill -9 in the middle of a fan-out, then restart on the same data
// directory: the fan-out is a durable job (written to the outbox with the
// post, its progress saved step by step), so after the restart every
// follower's feed gets every acknowledged photo, exactly once.
//
// The server runs with --fanout-batch 1 --job-threads 1: one follower per
// job step, one step at a time, so a fan-out to 40 followers takes 40
// committed steps per photo and is still running when the last upload is
// acknowledged.
//
// Every feed is read once before the uploads, so every timeline is built:
// otherwise the first read after the restart would rebuild it from the
// database and show the photos whatever the fan-out did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, external, uploadPhoto, assertOk, show } from './lib.mjs';
import { poll, feedPage, walkFeed, mapLimit, mediaNum } from './feed_util.mjs';

const FOLLOWERS = 40;
const PHOTOS = 3;
const FLAGS = ['--fanout-batch', '1', '--job-threads', '1'];


test('kill -9 during a fan-out loses nothing: after the restart every follower gets every photo once',
  { skip: external && 'needs its own data directory', timeout: 90_000 }, async (t) => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-fkill-'));
    const servers = [];
    try {
      const first = launchOn(dataDir, FLAGS);
      servers.push(first);
      const url = await first.url;
      const author = await signup(url, uniqueName('fkauthor'));
      // sign-ups are CPU-bound on the server (2 workers): two at a time
      const followers = await mapLimit(Array.from({ length: FOLLOWERS }), 2, () => signup(url, uniqueName('fkfan')));
      await mapLimit(followers, 4, async (f) => {
        const r = await api(url, 'POST', `/v1/users/${author.user.id}/relationship`, { token: f.token, form: { action: 'follow' } });
        assert.deepEqual(assertOk(r), { outgoing_status: 'follows' });
      });
      // build every timeline now (see the top of the file)
      await mapLimit([author, ...followers], 4, async (u) => assert.deepEqual(assertOk(await feedPage(url, u.token)), []));
      const me = assertOk(await api(url, 'GET', '/v1/users/self', { token: author.token }));
      assert.equal(me.counts.followed_by, FOLLOWERS);

      // three uploads back to back; kill -9 as soon as the last one is acknowledged
      const photos = [];
      for (let i = 0; i < PHOTOS; i++) {
        const r = await uploadPhoto(url, { token: author.token, photo: 'tiny-1x1.jpg', fields: { caption: `kill #${i}` } });
        photos.push(assertOk(r).id);
      }
      first.proc.kill('SIGKILL');
      const ex = await first.exited;
      assert.equal(ex.signal, 'SIGKILL');
      const want = [...photos].reverse(); // newest first

      const second = launchOn(dataDir, FLAGS);
      servers.push(second);
      const url2 = await second.url;
      const upAt = Date.now();

      // Right after the restart: how far had the fan-out got? The restarted
      // server resumes the jobs at once (there is no flag to hold them back:
      // --job-threads is at least 1), so these reads race with the resumed
      // fan-out; measured here, it needs some 100 ms to finish, while one
      // read takes a few. A fan-out walks the followers in descending ID order
      // (as GET /users/{id}/followed-by lists them), so the follower with the
      // lowest ID gets each photo last: that follower's feed is read first,
      // alone, as the witness, and then all the others in parallel.
      const byId = [...followers].sort((a, b) => (BigInt(a.user.id) < BigInt(b.user.id) ? -1 : 1));
      const readIds = async (f) => assertOk(await feedPage(url2, f.token, { count: 100 })).map((m) => m.id);
      const witness = await readIds(byId[0]);
      const witnessMs = Date.now() - upAt;
      const others = await Promise.all(byId.slice(1).map(readIds));
      const readMs = Date.now() - upAt;
      const atRestart = [witness, ...others];
      const complete = atRestart.filter((ids) => want.every((id) => ids.includes(id))).length;
      const perPhoto = want.map((id) => atRestart.filter((ids) => ids.includes(id)).length);
      t.diagnostic(`right after the restart: ${complete} of ${FOLLOWERS} followers had all ${PHOTOS} photos; ` +
        `followers having each photo, newest first: ${perPhoto.join(', ')}; the lowest-ID follower had ` +
        `${witness.length} (read ${witnessMs} ms after the restart; all ${FOLLOWERS} reads done after ${readMs} ms)`);
      // What the reads saw must be a consistent partial fan-out: only the
      // author's photos, newest first, no repeats.
      for (const ids of atRestart) {
        assert.ok(ids.every((id) => photos.includes(id)), `only the author's photos: ${JSON.stringify(ids)}`);
        assert.deepEqual(ids, want.filter((id) => ids.includes(id)), `newest first, no repeats: ${JSON.stringify(ids)}`);
      }
      // The kill landed mid-fan-out: 40 one-follower steps for the last photo
      // cannot all have run between its acknowledgement and the kill, and the
      // witness read comes well before the resumed fan-out reaches that
      // follower. This is asserted, not only recorded: it held in every run
      // here (alone, beside the other API test files, and with the CPUs kept
      // busy), with the witness read 5 to 20 ms after the restart and 4 to 37
      // followers still missing the last photo. Should it ever prove racy on
      // a much slower machine, the line below can become a diagnostic only:
      // the checks after it are what prove that nothing was lost.
      assert.ok(complete < FOLLOWERS,
        `at least one follower was still missing a photo when the restarted server came up (${complete} of ${FOLLOWERS} complete)`);

      // Within a bounded wait, every follower has all three, once each, newest first.
      const start = Date.now();
      let last = [];
      const done = await poll(async () => {
        last = await mapLimit(followers, 8, async (f) => (await walkFeed(url2, f.token, { count: 2 })).ids);
        return last.every((ids) => ids.length === want.length && ids.every((id, i) => id === want[i]));
      }, { timeout: 20_000, interval: 100 });
      const wrong = followers.map((f, i) => [f.user.username, last[i]]).filter(([, ids]) => JSON.stringify(ids) !== JSON.stringify(want));
      assert.ok(done.ok, `after ${Date.now() - start} ms, followers whose feed is not exactly ${JSON.stringify(want)}: ` +
        JSON.stringify(wrong.slice(0, 5)) + ` (${wrong.length} of ${FOLLOWERS})`);
      t.diagnostic(`all ${FOLLOWERS} followers complete ${done.ms} ms after the restart`);
      assert.ok(mediaNum(want[0]) > mediaNum(want[2]));

      // the author's own feed too, and the photos themselves survived
      const own = await poll(async () => {
        const ids = (await walkFeed(url2, author.token, { count: 1 })).ids;
        return JSON.stringify(ids) === JSON.stringify(want);
      });
      assert.ok(own.ok, "the author's own feed has the three photos once each");
      for (const id of photos) assertOk(await api(url2, 'GET', `/v1/media/${id}`, { token: author.token }));

      // and the restarted server fans out new photos as usual
      const r = await uploadPhoto(url2, { token: author.token, photo: 'tiny-1x1.jpg' });
      const fresh = assertOk(r).id;
      const again = await poll(async () => {
        const heads = await mapLimit(followers, 8, async (f) => assertOk(await feedPage(url2, f.token, { count: 1 }))[0]?.id);
        return heads.every((id) => id === fresh);
      }, { timeout: 20_000, interval: 100 });
      assert.ok(again.ok, `a new photo reaches every follower after the restart: ${show(r)}`);

      second.proc.kill('SIGTERM');
      const ex2 = await second.exited;
      assert.equal(ex2.code, 0, second.stderr());
    } finally {
      for (const s of servers) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
      await Promise.all(servers.map((s) => s.exited));
      await rm(dataDir, { recursive: true, force: true });
    }
  });
