// The failed log-in back-off counts every server's failures (through Redis,
// with `redis` set): failures spread over two servers add up, so a
// password guesser gets no more tries from more servers. A success clears
// the account's count everywhere, and with Redis down each server's own
// back-off still holds and log-ins keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, external, show, startRedis, topology } from './lib.mjs';
import { sleep } from './feed_util.mjs';

const logIn = (url, username, password) => api(url, 'POST', '/oauth/access_token',
  { form: { grant_type: 'password', username, password } });

test('failed log-ins back off across servers', { skip: external, timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-lshare-'));
  const servers = [];
  try {
    const args = ['--redis', redis.url, '--login-backoff-after', '2'];
    servers.push(launchOn(dataDir, args));
    const a = await servers[0].url;
    servers.push(launchOn(dataDir, args));
    const b = await servers[1].url;
    const name = uniqueName('lshare');
    await signup(a, name, 'the-right-one');

    // three failures, on A, B, A: past the two free ones
    for (const url of [a, b, a]) assert.equal((await logIn(url, name, 'wrong guess')).status, 400);
    // B saw one of them, yet makes the next attempt wait, the right password too
    const held = await logIn(b, name, 'the-right-one');
    assert.equal(held.status, 429, show(held));
    assert.ok(Number(held.headers.get('retry-after')) >= 1, show(held));
    await sleep(1100);
    assert.equal((await logIn(b, name, 'the-right-one')).status, 200);
    // the success cleared the count everywhere: one more failure on A is free again
    assert.equal((await logIn(a, name, 'wrong again')).status, 400);
    assert.equal((await logIn(a, name, 'the-right-one')).status, 200);

    // Redis down: log-ins answer as ever, each server counting on its own
    await redis.kill();
    assert.equal((await logIn(b, name, 'wrong')).status, 400);
    const ok = await logIn(b, name, 'the-right-one');
    assert.equal(ok.status, 200, show(ok));
  } finally {
    for (const s of servers) s.proc.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

// The shared back-off is asked of Redis on the hashing thread, not on the
// event loop: with Redis hung (stopped, so each call waits out its 500 ms
// timeout), a log-in on a one-loop server leaves that loop free, and a read
// made while the log-in waits answers at once. (It used to be asked on the
// loop when requests run there, as with SQLite: every connection of that
// loop waited, 450 to 525 ms.) Not in the cluster pass: there the object
// cache's bus asks Redis on a cache fill too, by design.
test('a log-in never holds up other requests while Redis hangs',
  { skip: (external || topology === 'pg') && 'Redis is on the read path in the cluster', timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-lhang-'));
  const srv = launchOn(dataDir, ['--redis', redis.url, '--threads', '1']);
  try {
    const url = await srv.url;
    const name = uniqueName('lhang');
    const u = await signup(url, name, 'the-right-one');
    assert.equal((await api(url, 'GET', `/v1/users/${u.user.id}`, { token: u.token })).status, 200);
    redis.pause();
    const pending = logIn(url, name, 'the-right-one');
    await sleep(50); // the log-in is in its Redis call now
    const t0 = Date.now();
    const r = await api(url, 'GET', `/v1/users/${u.user.id}`, { token: u.token });
    const took = Date.now() - t0;
    assert.equal(r.status, 200, show(r));
    assert.ok(took < 350, `a read took ${took} ms while a log-in waited on a hung Redis`);
    // with Redis not answering, this server's own count decides
    const l = await pending;
    assert.equal(l.status, 200, show(l));
  } finally {
    redis.resume();
    srv.proc.kill('SIGTERM');
    await srv.exited;
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
