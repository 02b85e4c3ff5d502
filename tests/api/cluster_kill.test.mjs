// The kill -9 matrix of the cluster (scripts/cluster.sh up: two PostgreSQL
// servers behind pgbouncer, Redis, two memcached, gearmand, s3rver, two
// servers and a worker behind nginx), under a mixed load through nginx:
// uploads, likes and comments. One part after another is killed with SIGKILL
// and started again: one server, the worker, Redis, a memcached (it comes
// back empty), gearmand (on its persisted queue), the S3 server. Afterwards:
// - every write acknowledged with a 2xx is there (and every acknowledged
//   photo's image is served through nginx);
// - every job ran: the outbox holds no job but the periodic ones, and no
//   dead one; every fan's feed holds every acknowledged post;
// - no answer was a 500: the failures were 503s (a dead part), 502s (a POST
//   in flight on the killed server, which nginx does not retry) or
//   connections cut by the kill.
// Runs once per binary (the embedded topology's passes): it brings its own
// cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { api, signup, uniqueName, uploadPhoto, external, show, repoRoot, serverBinary, topology } from './lib.mjs';
import { poll, sleep, walkFeed } from './feed_util.mjs';

const run = promisify(execFile);
const FANS = 4;

test('kill -9 of each part of the cluster under load loses no acknowledged write and no job',
  { skip: external || topology !== 'embedded', timeout: 240_000 }, async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'picogram-kill-'));
    if (process.getuid() === 0) await chmod(dir, 0o755);
    const script = path.join(repoRoot, 'scripts', 'cluster.sh');
    const env = { ...process.env, PICOGRAM_BIN: serverBinary(), PG_FSYNC: 'off' };
    const cluster = (...args) => run(script, [...args], { env, timeout: 60_000 });
    try {
      const up = await cluster('up', dir);
      const lb = up.stdout.trim().split('\n').at(-1);
      const cenv = Object.fromEntries((await readFile(path.join(dir, 'cluster.env'), 'utf8')).trim().split('\n')
        .map((l) => l.split('=')).map(([k, v]) => [k, v.replace(/"/g, '')]));
      const pgPorts = cenv.PG_PORTS.split(' ');
      const sql = async (port, q) => (await run('psql', ['-h', '127.0.0.1', '-p', port, '-U', 'picogram', '-d', 'picogram',
        '-Atc', q])).stdout.trim();
      const pidOf = async (f) => Number((await readFile(path.join(dir, f), 'utf8')).trim());

      const author = await signup(lb, uniqueName('kauth'));
      const fans = [];
      for (let i = 0; i < FANS; i++) fans.push(await signup(lb, uniqueName('kfan')));
      for (const f of fans) {
        const r = await api(lb, 'POST', `/v1/users/${author.user.id}/relationship`, { token: f.token, form: { action: 'follow' } });
        assert.equal(r.status, 200, show(r));
      }
      const first = await uploadPhoto(lb, { token: author.token, photo: 'tiny-1x1.jpg' });
      assert.equal(first.status, 200, show(first));

      const acked = { media: [first.body.data.id], likes: [], comments: [] };
      const statuses = new Map();
      const note = (what, status) => {
        const k = `${what} ${status}`;
        statuses.set(k, (statuses.get(k) || 0) + 1);
      };
      const odd = [];
      const call = async (what, fn, m) => {
        try {
          const r = await fn();
          note(what, r.status);
          if (![200, 502, 503].includes(r.status)) odd.push(`${what} ${m} at ${Date.now() - t0} ms: ${r.status} ${r.text.slice(0, 200)}`);
          return r;
        } catch (e) {
          note(what, 'cut');
          await sleep(50);
          return null;
        }
      };
      let loading = true;
      const t0 = Date.now();
      const lanes = [
        (async () => { // the author posts
          while (loading) {
            const r = await call('upload', () => uploadPhoto(lb, { token: author.token, photo: 'tiny-1x1.jpg' }));
            if (r?.status === 200) acked.media.push(r.body.data.id);
            else await sleep(100);
          }
        })(),
        ...fans.map((f, i) => (async () => { // each fan likes and comments the newest post
          for (let n = 0; loading; n++) {
            const m = acked.media.at(-1 - (n % Math.min(2, acked.media.length)));
            const like = await call('like', () => api(lb, 'POST', `/v1/media/${m}/likes`, { token: f.token }), m);
            if (like?.status === 200) acked.likes.push([m, f.user.id]);
            const text = `lane ${i} comment ${n}`;
            const c = await call('comment', () => api(lb, 'POST', `/v1/media/${m}/comments`, { token: f.token, form: { text } }), m);
            if (c?.status === 200) acked.comments.push([m, text]); // the API answers data null: known by its text
            if (like?.status !== 200 || c?.status !== 200) await sleep(100);
          }
        })()),
      ];
      const kill = async (what, pidFile, restart) => {
        await sleep(1500);
        process.kill(await pidOf(pidFile), 'SIGKILL');
        await sleep(1000);
        await cluster(...restart);
        t.diagnostic(`killed ${what} at ${Date.now() - t0} ms, restarted`);
      };
      try {
        await kill('serve 1', 'log/serve1.pid', ['start-serve', dir, '1']);
        await kill('the worker', 'log/worker.pid', ['start-worker', dir]);
        await kill('Redis', 'redis/redis.pid', ['start-redis', dir]);
        await kill('memcached 0', 'memcached0/memcached.pid', ['start-memcached', dir, '0']);
        await kill('gearmand', 'gearmand/gearmand.pid', ['start-gearmand', dir]);
        await kill('the S3 server', 's3/s3rver.pid', ['start-s3', dir]);
        await sleep(1500);
      } finally {
        loading = false;
        await Promise.all(lanes);
      }
      const summary = JSON.stringify(Object.fromEntries([...statuses].sort()));
      t.diagnostic(`answers: ${summary}`);
      t.diagnostic(`odd answers: ${odd.join('\n')}`);
      assert.ok(acked.media.length > 5 && acked.likes.length > 10 && acked.comments.length > 10, `load ran: ${summary}`);

      // every acknowledged write is there
      const viewer = fans[0];
      for (const m of acked.media) {
        const r = await api(lb, 'GET', `/v1/media/${m}`, { token: viewer.token });
        assert.equal(r.status, 200, `acknowledged photo ${m}: ${show(r)}`);
        const img = await fetch(r.body.data.images.thumbnail.url);
        assert.equal(img.status, 200, `the image of acknowledged photo ${m} through nginx`);
      }
      const likesOf = new Map();
      for (const [m, u] of acked.likes) {
        if (!likesOf.has(m)) {
          const r = await api(lb, 'GET', `/v1/media/${m}/likes`, { token: viewer.token });
          assert.equal(r.status, 200, show(r));
          likesOf.set(m, new Set(r.body.data.map((x) => x.id)));
        }
        assert.ok(likesOf.get(m).has(u), `acknowledged like of ${m} by ${u}`);
      }
      // comments: each photo counts at least its acknowledged ones, and lists
      // them all when it has no more than a page (150, newest first)
      const textsOf = new Map();
      for (const [m, text] of acked.comments) textsOf.set(m, [...(textsOf.get(m) || []), text]);
      for (const [m, texts] of textsOf) {
        const media = await api(lb, 'GET', `/v1/media/${m}`, { token: viewer.token });
        const count = media.body.data.comments.count;
        assert.ok(count >= texts.length, `${m} counts ${count} comments, ${texts.length} acknowledged`);
        if (count > 150) continue;
        const r = await api(lb, 'GET', `/v1/media/${m}/comments`, { token: viewer.token });
        assert.equal(r.status, 200, show(r));
        const listed = new Set(r.body.data.map((x) => x.text));
        for (const text of texts) assert.ok(listed.has(text), `acknowledged comment "${text}" on ${m}`);
      }

      // every job ran: only the periodic ones wait, none is dead. The wait
      // is bounded by the design's own: a job leased by the killed worker
      // runs again when its lease expires (JOBS_LEASE_MS, 60 s), and one
      // that failed while a part was down waits out its backoff (1 s
      // doubling: its fifth try comes 31 s after its first)
      const live = 'FROM jobs WHERE dead = 0 AND kind NOT IN (\'popular\', \'photo_rekey\')';
      const drained = await poll(async () => {
        for (const p of pgPorts) if (await sql(p, `SELECT count(*) ${live}`) !== '0') return false;
        return true;
      }, { timeout: 75_000, interval: 250 });
      if (!drained.ok) {
        const left = [];
        for (const p of pgPorts) {
          left.push(await sql(p, `SELECT string_agg(format('%s attempts=%s leased=%s due_in_ms=%s error=%s', kind, attempts, leased,
            run_at - (extract(epoch from now()) * 1000)::bigint, last_error), E'\\n') ${live}`));
        }
        assert.fail(`the outbox does not drain; left:\n${left.join('\n')}`);
      }
      for (const p of pgPorts) assert.equal(await sql(p, 'SELECT count(*) FROM jobs WHERE dead <> 0'), '0', 'no dead job');
      for (const f of fans) {
        const ids = new Set((await walkFeed(lb, f.token)).ids);
        for (const m of acked.media) assert.ok(ids.has(m), `${m} in ${f.user.username}'s feed`);
      }
      for (const [k] of statuses) {
        const [what, status] = k.split(' ');
        assert.ok(['200', '503', '502', 'cut'].includes(status), `${what} answered ${status}: ${summary}\n${odd.join('\n')}`);
      }
    } finally {
      await cluster('down', dir).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });
