// Error reports to a Sentry-compatible endpoint (sentry_dsn), against a
// local receiver: every 500 becomes one envelope at /api/PROJECT/envelope/
// with the key in X-Sentry-Auth, the route, method, request ID and release,
// and no token, password or cookie; a storm of them is rate-limited; a bad
// DSN stops start-up; and a crash (SIGABRT) leaves a report on disk that
// the next start sends, as a fatal event, then removes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, api, signup, uniqueName, uploadPhoto, external, serverBinary, sqlExec, launchOn, show, topology } from './lib.mjs';
import { poll } from './feed_util.mjs';

/** A receiver: {url (the DSN's host part), got: [{path, headers, header, item, event}], status, close()}. */
async function receiver() {
  const got = [];
  const r = { got, status: 200 };
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const lines = body.split('\n');
      let parsed = null;
      try {
        parsed = { header: JSON.parse(lines[0]), item: JSON.parse(lines[1]), event: JSON.parse(lines[2]) };
      } catch { /* recorded as is */ }
      got.push({ path: req.url, method: req.method, headers: req.headers, body, ...parsed });
      res.writeHead(r.status, { 'content-type': 'application/json', ...(r.status === 429 ? { 'retry-after': '60' } : {}) });
      res.end('{}');
    });
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  r.url = `127.0.0.1:${srv.address().port}`;
  r.close = () => new Promise((ok) => srv.close(ok));
  return r;
}

test('every 500 is reported once, with its route and request ID and no secret; a storm is rate-limited', { skip: external, timeout: 60_000 }, async () => {
  const rx = await receiver();
  const srv = await startServer(['--sentry-dsn', `http://publickey123@${rx.url}/42`]);
  try {
    const password = 'sekrit-password-9';
    const a = await signup(srv.url, uniqueName('sen'), password);
    const m = await uploadPhoto(srv.url, { token: a.token, photo: 'tiny-1x1.jpg' });
    assert.equal(m.status, 200, show(m));
    // every like fails now, inside the database: a 500
    if (topology === 'pg') {
      sqlExec(srv.dataDir, "CREATE FUNCTION no_likes() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'forced by a test'; END $$ LANGUAGE plpgsql");
      sqlExec(srv.dataDir, 'CREATE TRIGGER no_likes BEFORE INSERT ON likes FOR EACH ROW EXECUTE FUNCTION no_likes()');
    } else {
      sqlExec(srv.dataDir, "CREATE TRIGGER no_likes BEFORE INSERT ON likes BEGIN SELECT RAISE(ABORT, 'forced by a test'); END");
    }
    const r = await api(srv.url, 'POST', `/v1/media/${m.body.data.id}/likes?access_token=${a.token}`, { headers: { cookie: 'pg_session=cookie-secret-1' } });
    assert.equal(r.status, 500, show(r));
    const rid = r.headers.get('x-request-id');
    const one = await poll(() => rx.got.length >= 1, { timeout: 5000 });
    assert.ok(one.ok, 'the receiver got the report');
    const e = rx.got[0];
    assert.equal(e.method, 'POST');
    assert.equal(e.path, '/api/42/envelope/');
    assert.match(e.headers['x-sentry-auth'], /^Sentry sentry_version=7, sentry_client=picogram\/0\.1\.0, sentry_key=publickey123$/);
    assert.equal(e.headers['content-type'], 'application/x-sentry-envelope');
    assert.equal(e.item.type, 'event');
    assert.equal(e.item.length, Buffer.byteLength(e.body.split('\n')[2]), 'the item length is the payload\'s');
    assert.equal(e.header.event_id, e.event.event_id);
    assert.match(e.event.event_id, /^[0-9a-f]{32}$/);
    assert.equal(e.event.level, 'error');
    assert.equal(e.event.release, 'picogram@0.1.0');
    assert.equal(e.event.tags.route, '/v1/media/{id}/likes');
    assert.equal(e.event.tags.method, 'POST');
    assert.equal(e.event.tags.request_id, rid);
    assert.equal(e.event.transaction, 'POST /v1/media/{id}/likes');
    assert.ok(Math.abs(e.event.timestamp - Date.now() / 1000) < 60);
    for (const secret of [a.token, password, 'cookie-secret-1', m.body.data.id.split('_')[0]]) {
      assert.ok(!e.body.includes(secret), `the report holds no token, password, cookie or ID: ${secret}`);
    }
    // a storm: 40 more at once; the burst passes, the rest are dropped and counted
    await Promise.all(Array.from({ length: 40 }, () => api(srv.url, 'POST', `/v1/media/${m.body.data.id}/likes`, { token: a.token })));
    await new Promise((ok) => setTimeout(ok, 1500));
    assert.ok(rx.got.length >= 10 && rx.got.length <= 12, `reports sent: ${rx.got.length} (a burst of 10)`);
    // a 4xx is never reported
    const before = rx.got.length;
    assert.equal((await api(srv.url, 'GET', '/v1/media/123456/comments', { token: a.token })).status, 404);
    await new Promise((ok) => setTimeout(ok, 500));
    assert.equal(rx.got.length, before);
  } finally {
    await srv.stop();
    await rx.close();
  }
});

test('a bad sentry_dsn stops start-up with a message', { skip: external }, () => {
  for (const dsn of ['nonsense', 'http://host/42', 'ftp://k@host/42', 'http://k@host/notanumber']) {
    const r = spawnSync(serverBinary(), ['serve', '--listen', '127.0.0.1:0', '--data', path.join(tmpdir(), 'picogram-sentry-never'), '--sentry-dsn', dsn], { timeout: 10_000 });
    assert.equal(r.status, 2, `${dsn}: a bad setting, exit 2`);
    assert.match(r.stderr.toString(), /bad value for sentry_dsn/);
  }
});

test('a crash leaves a report that the next start sends, then removes', { skip: external, timeout: 60_000 }, async () => {
  const rx = await receiver();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-crash-'));
  try {
    const first = launchOn(dataDir); // no DSN: the report waits on disk
    await first.url;
    first.proc.kill('SIGABRT');
    const end = await first.exited;
    assert.equal(end.signal, 'SIGABRT', 'it still dies of the signal');
    const reports = (await readdir(path.join(dataDir, 'crash'))).filter((f) => f.endsWith('.json'));
    assert.equal(reports.length, 1, `one report: ${reports}`);
    const again = launchOn(dataDir, ['--sentry-dsn', `https://k@${rx.url}/7`.replace('https', 'http')]);
    try {
      await again.url;
      const sent = await poll(() => rx.got.some((g) => g.event?.level === 'fatal'), { timeout: 5000 });
      assert.ok(sent.ok, 'the crash is reported');
      const f = rx.got.find((g) => g.event?.level === 'fatal');
      assert.equal(f.path, '/api/7/envelope/');
      assert.match(f.event.message.formatted, /^picogram serve \(pid \d+\) crashed: SIGABRT$/);
      assert.equal(f.event.release, 'picogram@0.1.0');
      const gone = await poll(async () => (await readdir(path.join(dataDir, 'crash'))).length === 0, { timeout: 3000 });
      assert.ok(gone.ok, 'the report is removed once sent');
    } finally {
      await again.stopCleanly();
    }
  } finally {
    await rx.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
