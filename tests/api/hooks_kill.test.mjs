// kill -9 of a server with real-time updates in flight, then a restart on
// the same data directory: every acknowledged photo still reaches the
// subscription's callback (at least once). Two moments: at once after the
// uploads are acknowledged (the 'realtime' jobs and the batch still
// queued), and while the callback holds the delivery's POST unanswered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, external, uploadPhoto, assertOk, until } from './lib.mjs';

const FLAGS = ['--webhook-allow-private', 'on', '--webhook-batch-ms', '300'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


test('kill -9 with real-time updates queued or in flight loses none of them',
  { skip: external && 'needs its own data directory', timeout: 120_000 }, async () => {
    const rx = { stall: false, got: [], held: [] };
    const server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url, 'http://x');
        if (req.method === 'GET') {
          res.end(u.searchParams.get('hub.challenge') ?? '');
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (rx.stall) {
          rx.held.push(res); // never answered: the server is killed meanwhile
          return;
        }
        rx.got.push(...body);
        res.end('ok');
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const cb = `http://127.0.0.1:${server.address().port}/hook`;
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-hooks-kill-'));
    const running = [];
    const start = async () => {
      const s = launchOn(dataDir, FLAGS);
      running.push(s);
      return { s, url: await s.url };
    };
    const kill = async (s) => {
      s.proc.kill('SIGKILL');
      assert.equal((await s.exited).signal, 'SIGKILL');
    };
    try {
      let { s, url } = await start();
      const dev = await signup(url, uniqueName('dev'));
      const app = assertOk(await api(url, 'POST', '/v1/developer/clients', {
        token: dev.token, form: { name: 'Kill App', redirect_uri: 'http://127.0.0.1:9/cb' },
      }));
      const tag = uniqueName('k').replace(/_/g, '');
      assertOk(await api(url, 'POST', '/v1/subscriptions', {
        form: { client_id: app.client_id, client_secret: app.client_secret, object: 'tag', object_id: tag, aspect: 'media', callback_url: cb },
      }));
      const author = await signup(url, uniqueName('aut'));
      const acked = [];
      const post = async (u) => {
        const m = assertOk(await uploadPhoto(u, { token: author.token, photo: 'landscape.jpg', fields: { caption: `#${tag}` } }));
        acked.push(m.id);
      };

      // 1. killed at once after two acknowledged uploads
      await post(url);
      await post(url);
      await kill(s);
      ({ s, url } = await start());
      await until(() => acked.every((id) => rx.got.some((x) => x.data.media_id === id)), 'the two photos after the first restart');

      // 2. killed while the callback holds the delivery unanswered
      rx.stall = true;
      await post(url);
      await until(() => rx.held.length >= 1, 'the delivery in flight');
      await kill(s);
      for (const res of rx.held) res.destroy();
      rx.held.length = 0;
      rx.stall = false;
      ({ s, url } = await start());
      await until(() => acked.every((id) => rx.got.some((x) => x.data.media_id === id)), 'every photo after the second restart', 90_000);
      const log = assertOk(await api(url, 'GET', `/v1/developer/clients/${app.client_id}/deliveries`, { token: dev.token }));
      assert.ok(log.some((d) => d.outcome === 'delivered'), JSON.stringify(log));
      await s.stopCleanly();
    } finally {
      for (const r of running) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
      server.closeAllConnections?.();
      server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
