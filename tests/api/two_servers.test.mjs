// Two servers on the same databases (Cluster I): concurrent sign-ups,
// uploads, follows, likes and comments through both. Afterwards no ID
// repeats anywhere, every counter equals the rows it counts, and every
// follow's mirror matches it. The two processes hold different ID nodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchOn, api, signup, uniqueName, uploadPhoto, external, dbTargets, show } from './lib.mjs';
import { mapLimit, poll } from './feed_util.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const USERS = 24;

function checkDb(dataDir) {
  const out = execFileSync('/usr/bin/python3', [path.join(here, 'check_db.py'), ...dbTargets(dataDir)]);
  return JSON.parse(out.toString());
}

const pick = (a) => a[Math.floor(Math.random() * a.length)];

test('two servers on the same databases: unique IDs, exact counters, mirrors that match', { skip: external, timeout: 120_000 },
  async (t) => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-two-'));
    const servers = [];
    try {
      servers.push(launchOn(dataDir, ['--max-concurrent-uploads', '16']));
      const a = await servers[0].url;
      servers.push(launchOn(dataDir, ['--max-concurrent-uploads', '16']));
      const b = await servers[1].url;
      const nodeOf = (s) => Number(/ID node (\d+)/.exec(s.stderr())?.[1]);
      assert.notEqual(nodeOf(servers[0]), nodeOf(servers[1]), 'the two hold different ID nodes');
      const urls = [a, b];
      const users = await mapLimit(Array.from({ length: USERS }, (_, i) => i), 6,
        (i) => signup(urls[i % 2], uniqueName('two')));
      const media = await mapLimit(users, 6, async (u, i) => {
        const r = await uploadPhoto(urls[(i + 1) % 2], { token: u.token, photo: 'tiny-1x1.jpg', fields: { caption: `two #both @${users[(i + 1) % USERS].user.username}` } });
        assert.equal(r.status, 200, show(r));
        return r.body.data;
      });
      // follows, likes and comments through both servers at once, with
      // repeats racing each other (the same follow through A and B together)
      const ops = [];
      for (const u of users) {
        for (let k = 0; k < 4; k++) {
          const v = pick(users);
          if (v === u) continue;
          const form = { action: 'follow' };
          ops.push(() => api(a, 'POST', `/v1/users/${v.user.id}/relationship`, { token: u.token, form }));
          ops.push(() => api(b, 'POST', `/v1/users/${v.user.id}/relationship`, { token: u.token, form }));
        }
        for (let k = 0; k < 4; k++) {
          const m = pick(media);
          ops.push(() => api(a, 'POST', `/v1/media/${m.id}/likes`, { token: u.token }));
          ops.push(() => api(b, 'POST', `/v1/media/${m.id}/likes`, { token: u.token }));
        }
        ops.push(() => api(pick(urls), 'POST', `/v1/media/${pick(media).id}/comments`, { token: u.token, form: { text: 'nice #both' } }));
      }
      ops.sort(() => Math.random() - 0.5);
      // and a burst on one photo: like IDs are made on its shard, by both servers in the same milliseconds
      const hot = media[0];
      for (const u of users) ops.unshift(() => api(urls[Number(u.user.id.at(-1)) % 2], 'POST', `/v1/media/${hot.id}/likes`, { token: u.token }));
      const results = await mapLimit(ops, 12, (op) => op());
      for (const r of results) assert.equal(r.status, 200, show(r));
      // unfollow some through the other server
      await mapLimit(users.slice(0, 8), 4, (u, i) => api(urls[i % 2], 'POST', `/v1/users/${users[(i + 3) % USERS].user.id}/relationship`,
        { token: u.token, form: { action: 'unfollow' } }));

      // the far effects land (inline, or from the job queue)
      const settled = await poll(async () => {
        const c = checkDb(dataDir);
        return c.counters.length === 0 ? c : null;
      }, { timeout: 20_000, interval: 250 });
      const c = settled.value || checkDb(dataDir);
      t.diagnostic(`rows: ${JSON.stringify(c.rows)}; ID nodes: ${c.nodes}`);
      assert.deepEqual(c.duplicates, {}, 'no ID repeats');
      assert.deepEqual(c.counters, [], 'every counter equals its rows; every mirror matches');
      assert.deepEqual(c.misplaced, [], 'every username, tag and tag index row stores its own shard');
      assert.ok(c.nodes.length >= 2, `IDs were made by both servers' nodes: ${c.nodes}`);
      assert.equal(c.rows.users, USERS);
      assert.equal(c.rows.media, USERS);
    } finally {
      for (const s of servers) {
        s.proc.kill('SIGTERM');
        await s.exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    }
  });
