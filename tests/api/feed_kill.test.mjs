// kill -9 in the middle of a fan-out, then restart on the same data
// directory: the fan-out is a durable job (written to the outbox with the
// post, its progress saved step by step), so after the restart every
// follower's feed gets every acknowledged photo, exactly once.
//
// The server runs with --fanout-batch 1 --job-threads 1: one follower per
// job step, one step at a time, so a fan-out to 80 followers takes 80
// committed steps per photo and is still running when the last upload is
// acknowledged.
//
// Every feed is read once before the uploads, so every timeline is built:
// otherwise the first read after the restart would rebuild it from the
// database and show the photos whatever the fan-out did. The feeds as the
// kill left them are read through a server with no job runner, before one
// with a runner resumes the fan-out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, external, uploadPhoto, assertOk, show } from './lib.mjs';
import { poll, feedPage, walkFeed, mapLimit, mediaNum } from './feed_util.mjs';

const FOLLOWERS = 80; // with Redis timelines a step takes about a millisecond: 40 sometimes all ran before the kill
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

      // Right after the kill: how far had the fan-out got? A server with no
      // job runner (--job-threads 0) reads the feeds as the kill left them,
      // with nothing racing the reads; then it stops, and one with a runner
      // resumes the fan-out.
      const frozen = launchOn(dataDir, ['--fanout-batch', '1', '--job-threads', '0']);
      servers.push(frozen);
      const urlF = await frozen.url;
      const readIds = async (f) => assertOk(await feedPage(urlF, f.token, { count: 100 })).map((m) => m.id);
      const atKill = await mapLimit(followers, 8, readIds);
      const complete = atKill.filter((ids) => want.every((id) => ids.includes(id))).length;
      const perPhoto = want.map((id) => atKill.filter((ids) => ids.includes(id)).length);
      t.diagnostic(`at the kill: ${complete} of ${FOLLOWERS} followers had all ${PHOTOS} photos; ` +
        `followers having each photo, newest first: ${perPhoto.join(', ')}`);
      // What the reads saw must be a consistent partial fan-out: only the
      // author's photos, newest first, no repeats.
      for (const ids of atKill) {
        assert.ok(ids.every((id) => photos.includes(id)), `only the author's photos: ${JSON.stringify(ids)}`);
        assert.deepEqual(ids, want.filter((id) => ids.includes(id)), `newest first, no repeats: ${JSON.stringify(ids)}`);
      }
      // The kill landed mid-fan-out: 80 one-follower steps for the last photo
      // cannot all have run between its acknowledgement and the kill.
      assert.ok(complete < FOLLOWERS, `the kill landed mid-fan-out (${complete} of ${FOLLOWERS} complete at the kill)`);
      frozen.proc.kill('SIGTERM');
      assert.equal((await frozen.exited).code, 0, frozen.stderr());

      const second = launchOn(dataDir, FLAGS);
      servers.push(second);
      const url2 = await second.url;

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
