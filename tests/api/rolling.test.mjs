// A rolling restart behind nginx (deploy/nginx.conf) by deploy/roll.sh
// loses no request: two servers on the same databases and Redis, a steady
// load of reads and writes through nginx, and roll.sh restarting each in
// turn (its RESTART here: SIGTERM, which drains for drain_seconds, wait for
// the exit, start again on the port; its SSH: a local shell), waiting for
// /readyz and for nginx to take the server back. Every request the clients
// sent is answered 200. The drain (6 s) outlasts nginx's keep-alive
// timeout for idle upstream connections (5 s): with a 2 s drain, a POST
// once got a 502 here (under ASan), sent by nginx on an idle connection
// just as the old process exited. Then roll.sh stops, exit 1, at a server
// that does not come back, and touches none after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { api, signup, uniqueName, uploadPhoto, external, show, startRedis, freePort, repoRoot, serverBinary, topologyArgs } from './lib.mjs';
import { poll } from './feed_util.mjs';

const CLIENTS = 6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const run = promisify(execFile);
const sh = (s) => `'${String(s).replace(/'/g, "'\\''")}'`;

test('deploy/roll.sh restarts two servers behind nginx under load, answering every request', { skip: external, timeout: 120_000 }, async () => {
  const redis = await startRedis();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-roll-'));
  const ngDir = await mkdtemp(path.join(tmpdir(), 'picogram-nginx-'));
  const work = await mkdtemp(path.join(tmpdir(), 'picogram-rollsh-'));
  if (process.getuid() === 0) await chmod(ngDir, 0o777);
  const ngPort = await freePort();
  const lb = `http://127.0.0.1:${ngPort}`;
  const ports = [await freePort(), await freePort()];
  const targets = ports.map((p) => `127.0.0.1:${p}`);
  const serveArgs = ['--data', dataDir, '--threads', '2', '--workers', '2', '--access-log', 'off', ...topologyArgs(dataDir),
    '--redis', redis.url, '--trusted-proxies', '127.0.0.1', '--public-url', lb, '--rate-limit', '1000000', '--drain-seconds', '6'];
  // what roll.sh runs on a "host": stop the server on the port (SIGTERM:
  // it drains, then exits) and start it again; ssh is a local shell
  const restart = path.join(work, 'restart.sh');
  await writeFile(restart, `#!/bin/sh
set -eu
port=$1
pidf=${sh(work)}/$port.pid
if [ -f "$pidf" ]; then
  pid=$(cat "$pidf")
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
fi
[ ! -f ${sh(work)}/$port.broken ] || exit 0
${sh(path.resolve(serverBinary()))} serve --listen 127.0.0.1:$port ${serveArgs.map(sh).join(' ')} >>${sh(work)}/$port.log 2>&1 &
echo $! >"$pidf"
`, { mode: 0o755 });
  const ssh = path.join(work, 'ssh');
  await writeFile(ssh, '#!/bin/sh\nshift\nexec sh -c "$*"\n', { mode: 0o755 });
  const pidOf = async (port) => Number((await readFile(path.join(work, `${port}.pid`), 'utf8')).trim());
  const roll = (env = {}) => run(path.join(repoRoot, 'deploy', 'roll.sh'), targets, {
    env: { ...process.env, SSH: ssh, RESTART: `${restart} {port}`, SETTLE: '6', READY_TIMEOUT: '20', ...env }, timeout: 90_000,
  });
  const isReady = async (port) => (await api(`http://127.0.0.1:${port}`, 'GET', '/readyz').catch(() => ({}))).status === 200;
  let nginx = null;
  let loading = true;
  try {
    for (const p of ports) {
      await run(restart, [String(p)]);
      assert.ok((await poll(() => isReady(p), { timeout: 10_000 })).ok, `server on ${p} up`);
    }
    const conf = execFileSync(path.join(repoRoot, 'scripts', 'nginx-conf.sh'), [ngDir, `127.0.0.1:${ngPort}`, '1m', ...targets]);
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

    await sleep(1000);
    const before = await Promise.all(ports.map(pidOf));
    const t0 = Date.now();
    const { stdout } = await roll();
    const took = Date.now() - t0;
    const after = await Promise.all(ports.map(pidOf));
    for (let i = 0; i < 2; i++) assert.notEqual(after[i], before[i], `server ${i} was restarted`);
    assert.match(stdout, /roll\.sh: 2 server\(s\) restarted/);
    assert.ok(took >= 2 * 5900 + 6000, `two drains and a settle: ${took} ms`);
    await sleep(1000);
    loading = false;
    await load;
    const summary = JSON.stringify(Object.fromEntries(statuses));
    console.log(`# rolling restart: ${sent} requests in ${took} ms of roll.sh: ${summary}`);
    assert.ok(sent >= 200, `enough load: ${sent} requests`);
    // on a failure, what nginx and the servers logged says which side
    // dropped the request
    const logs = async () => {
      const tail = async (f) => (await readFile(f, 'utf8').catch(() => '')).split('\n').filter((l) => l).slice(-30).join('\n');
      const parts = [`nginx-error.log:\n${await tail(path.join(ngDir, 'nginx-error.log'))}`];
      for (const p of ports) parts.push(`${p}.log:\n${await tail(path.join(work, `${p}.log`))}`);
      return parts.join('\n');
    };
    if ([...statuses.keys()].some((k) => !/ 200$/.test(k))) assert.fail(`${summary}\n${odd.join('\n')}\n${await logs()}`);

    // a server that does not come back: roll.sh stops there, exit 1, and
    // never touches the next one
    await writeFile(path.join(work, `${ports[0]}.broken`), '');
    const second = await pidOf(ports[1]);
    const failed = await roll({ READY_TIMEOUT: '2' }).then(() => null, (e) => e);
    assert.ok(failed, 'roll.sh failed');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /127\.0\.0\.1:\d+: not ready after 2s; stopping here/);
    assert.equal(await pidOf(ports[1]), second, 'the second server untouched');
    assert.ok(await isReady(ports[1]));
    // and one already down is not restarted past: nothing is touched
    // (after READY_TIMEOUT of tries: a busy server may answer /readyz late once)
    const again = await roll({ READY_TIMEOUT: '2' }).then(() => null, (e) => e);
    assert.equal(again?.code, 1);
    assert.match(again.stderr, /is not ready before its restart \(2s\); stopping here/);
  } finally {
    loading = false;
    if (nginx) nginx.kill('SIGTERM');
    for (const p of ports) {
      const pid = await pidOf(p).catch(() => 0);
      if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(ngDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
});
