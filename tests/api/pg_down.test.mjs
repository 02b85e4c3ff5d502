// One PostgreSQL server down (Cluster I): the requests that need its
// shards answer 503 ServiceUnavailable within about a second, the others
// are unaffected, and when it comes back the server resumes by itself.
//
// Runs on the 'pg' topology only (it needs PostgreSQL and pgbouncer): it
// starts a cluster of its own with scripts/cluster.sh, since it stops one
// of its servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, show, external, topology, uploadPhoto, ownCluster, shardOf } from './lib.mjs';
import { poll } from './feed_util.mjs';

const half = (id) => (shardOf(id) < 4096 ? 0 : 1);

test('a PostgreSQL server down: 503 for its users within about a second, the others served, recovery without a restart',
  { skip: external || topology !== 'pg' ? 'needs the pg topology' : false, timeout: 120_000 }, async (t) => {
    const own = await ownCluster('picogram-pgdown-');
    const { dir, cluster } = own;
    const dataDir = path.join(dir, 'data');
    let srv;
    try {
      cluster('up', dir);
      srv = launchOn(dataDir, ['--config', path.join(dir, 'picogram.conf')]);
      const url = await srv.url;
      const on = [[], []];
      for (let i = 0; i < 100 && (!on[0].length || !on[1].length); i++) {
        const u = await signup(url, uniqueName('down'));
        on[half(u.user.id)].push(u);
      }
      const [up, down] = [on[0][0], on[1][0]];
      assert.ok(up && down, 'users on both servers');
      const self = (u) => api(url, 'GET', '/v1/users/self', { token: u.token });

      cluster('stop-pg', dir, '1');
      // the first request on the stopped server may wait for pgbouncer's 1 s; then it fails at once
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const r = await self(down);
        const ms = Date.now() - t0;
        assert.equal(r.status, 503, show(r));
        assert.equal(r.body.meta.error_type, 'ServiceUnavailable');
        assert.ok(r.headers.get('retry-after'), 'Retry-After');
        assert.ok(ms < 2500, `answered in ${ms} ms`);
        const ok = await self(up);
        assert.equal(ok.status, 200, `a user on the other server is served: ${show(ok)}`);
        t.diagnostic(`down: 503 in ${ms} ms`);
      }
      // a write on the live server goes through
      const other = await signup(url, uniqueName('alive')).catch(() => null);
      assert.ok(other === null || other.token, 'a sign-up lands on either server: it may fail only for the down one');

      // a post on the live server whose tags live on both: the down side's
      // effects wait in the outbox, and waiting counts no failed attempt
      // (an outage of any length loses none)
      const tags = Array.from({ length: 12 }, (_, i) => `${uniqueName('dn')}${i}`.toLowerCase());
      const post = await uploadPhoto(url, { token: up.token, photo: 'tiny-1x1.jpg',
        fields: { caption: tags.map((x) => `#${x}`).join(' ') } });
      assert.equal(post.status, 200, `a post on the live server: ${post.text}`);
      await new Promise((r) => setTimeout(r, 7000)); // the inline run, then the runner's tries
      const [waiting, attempts, dead] = own.psql(0, "SELECT COUNT(*), COALESCE(MAX(attempts), 0), COALESCE(MAX(dead), 0) FROM jobs WHERE kind = 'tag'")
        .trim().split('|').map(Number);
      t.diagnostic(`tag effects waiting for the down server: ${waiting}`);
      assert.ok(waiting > 0, 'some of 12 tags live on the down server');
      assert.equal(attempts, 0, 'no attempt counted while the server is down');
      assert.equal(dead, 0);

      cluster('start-pg', dir, '1');
      const back = await poll(async () => (await self(down)).status === 200, { timeout: 20_000, interval: 200 });
      assert.ok(back.ok, 'requests for the restarted server succeed again, without restarting picogram');
      t.diagnostic(`recovered ${back.ms} ms after the restart`);
      const landed = await poll(async () => {
        for (const tag of tags) {
          const r = await api(url, 'GET', `/v1/tags/${tag}/media/recent`, { token: up.token });
          if (r.status !== 200 || !r.body.data.some((m) => m.id === post.body.data.id)) return false;
        }
        return true;
      }, { timeout: 20_000, interval: 500 });
      assert.ok(landed.ok, 'every tag lists the post once the server is back');
    } finally {
      await own.stop([srv]);
    }
  });
