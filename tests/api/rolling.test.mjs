// A rolling restart behind nginx (deploy/nginx.conf) loses no request:
// two servers on the same databases and Redis, a steady load of reads and
// writes through nginx, and each server in turn stopped with SIGTERM
// (drain_seconds: it keeps serving, closing each connection after its
// answer, then stops listening) and started again on its port. Every
// request the clients sent is answered 200.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, uploadPhoto, external, show, startRedis, freePort, repoRoot } from './lib.mjs';
import { poll } from './feed_util.mjs';

const CLIENTS = 6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('a rolling restart of two servers behind nginx under load answers every request', { skip: external, timeout: 120_000 }, async () => {
  const redis = await startRedis();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-roll-'));
  const ngDir = await mkdtemp(path.join(tmpdir(), 'picogram-nginx-'));
  if (process.getuid() === 0) await chmod(ngDir, 0o777);
  const ngPort = await freePort();
  const lb = `http://127.0.0.1:${ngPort}`;
  const ports = [await freePort(), await freePort()];
  const args = (port) => ['--listen', `127.0.0.1:${port}`, '--redis', redis.url, '--trusted-proxies', '127.0.0.1',
    '--public-url', lb, '--rate-limit', '1000000', '--drain-seconds', '2'];
  const servers = [];
  let nginx = null;
  let loading = true;
  try {
    servers.push(launchOn(dataDir, args(ports[0])));
    await servers[0].url;
    servers.push(launchOn(dataDir, args(ports[1])));
    await servers[1].url;
    const conf = execFileSync(path.join(repoRoot, 'scripts', 'nginx-conf.sh'),
      [ngDir, `127.0.0.1:${ngPort}`, '1m', ...ports.map((p) => `127.0.0.1:${p}`)]);
    await writeFile(path.join(ngDir, 'nginx.conf'), conf);
    nginx = spawn('nginx', ['-c', path.join(ngDir, 'nginx.conf'), '-p', ngDir, '-g', 'daemon off;'], { stdio: 'ignore' });
    const up = await poll(async () => (await api(lb, 'GET', '/healthz').catch(() => ({}))).status === 200, { timeout: 10_000 });
    assert.ok(up.ok, 'nginx answers');

    const users = [];
    for (let i = 0; i < CLIENTS; i++) users.push(await signup(lb, uniqueName('roll')));
    const posted = await uploadPhoto(lb, { token: users[0].token, photo: 'tiny-1x1.jpg' });
    assert.equal(posted.status, 200, show(posted));
    const mediaId = posted.body.data.id;

    // the load: each client reads itself, likes, unlikes and comments, in turn
    const statuses = new Map();
    const odd = [];
    let sent = 0;
    const note = (what, r) => {
      const k = `${what} ${r.status}`;
      statuses.set(k, (statuses.get(k) || 0) + 1);
      if (r.status !== 200 && odd.length < 20) odd.push(`${what}: ${r.status} ${r.text?.slice(0, 200)}`);
    };
    const client = async (u, i) => {
      for (let n = 0; loading && n < 100_000; n++) {
        const steps = [
          ['read', () => api(lb, 'GET', '/v1/users/self', { token: u.token })],
          ['like', () => api(lb, 'POST', `/v1/media/${mediaId}/likes`, { token: u.token })],
          ['unlike', () => api(lb, 'DELETE', `/v1/media/${mediaId}/likes`, { token: u.token })],
          ['comment', () => api(lb, 'POST', `/v1/media/${mediaId}/comments`, { token: u.token, form: { text: `roll ${i} ${n}` } })],
        ];
        const [what, call] = steps[n % steps.length];
        sent++;
        note(what, await call().catch((e) => ({ status: 'error', text: e.message })));
      }
    };
    const load = Promise.all(users.map(client));

    for (let i = 0; i < 2; i++) {
      await sleep(1000);
      const old = servers[i];
      const stopped = Date.now();
      old.proc.kill('SIGTERM');
      const { code } = await old.exited;
      assert.equal(code, 0, old.stderr());
      assert.ok(Date.now() - stopped >= 1900, 'it drained first');
      servers[i] = launchOn(dataDir, args(ports[i]));
      await servers[i].url;
      const ready = await poll(async () => (await api(`http://127.0.0.1:${ports[i]}`, 'GET', '/readyz')).status === 200,
        { timeout: 10_000 });
      assert.ok(ready.ok, `server ${i} ready again`);
      // nginx left it alone for fail_timeout (5 s) after a refused
      // connection: the next restart waits until it takes requests again
      if (i === 0) await sleep(6000);
    }
    await sleep(1000);
    loading = false;
    await load;
    const summary = JSON.stringify(Object.fromEntries(statuses));
    console.log(`# rolling restart: ${sent} requests: ${summary}`);
    assert.ok(sent >= 200, `enough load: ${sent} requests`);
    for (const k of statuses.keys()) assert.match(k, / 200$/, `${summary}\n${odd.join('\n')}`);
  } finally {
    loading = false;
    if (nginx) nginx.kill('SIGTERM');
    for (const s of servers) s.proc.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(ngDir, { recursive: true, force: true });
  }
});
