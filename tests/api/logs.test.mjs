// Request IDs and logs: every answer carries X-Request-Id (a trusted
// proxy's, if well formed, else a new one), the access log names it, and
// with log_format = json every line is a JSON object; the slow-request log
// names the request's route and ID; the jobs a request makes log with
// its ID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, uniqueName, external, show, uploadPhoto } from './lib.mjs';
import { poll } from './feed_util.mjs';

const ID = /^[0-9a-f]{32}$/;

test('every answer has a request ID, named in the access log', { skip: external }, async () => {
  const srv = await startServer(['--access-log', '-']);
  try {
    const ids = [];
    for (const p of ['/v1/users/self', '/healthz', '/readyz', '/v1/no/such']) {
      const r = await fetch(`${srv.url}${p}`);
      const id = r.headers.get('x-request-id');
      assert.match(id || '', ID, `${p}: ${id}`);
      ids.push(id);
    }
    assert.equal(new Set(ids).size, ids.length, 'each request its own ID');
    // without trusted proxies, a client's own X-Request-Id is not taken
    const r = await fetch(`${srv.url}/v1/users/self`, { headers: { 'x-request-id': 'client-chosen' } });
    assert.match(r.headers.get('x-request-id'), ID);
    const logged = await poll(() => ids.every((id) => srv.stderr().includes(`"${id}"`)), { timeout: 3000 });
    assert.ok(logged.ok, `the access log names every ID:\n${srv.stderr().slice(-2000)}`);
    const line = srv.stderr().split('\n').find((l) => l.includes(ids[0]));
    assert.match(line, /"GET \/v1\/users\/self HTTP\/1\.1" 400 \d+ "-" "[^"]*" "[0-9a-f]{32}"$/);
  } finally {
    await srv.stop();
  }
});

test("a trusted proxy's request ID is kept when well formed", { skip: external }, async () => {
  const srv = await startServer(['--trusted-proxies', '127.0.0.1']);
  try {
    const asks = [
      ['nginx-1f2e3d.4:5_6', 'nginx-1f2e3d.4:5_6'],
      ['has space', null],
      ['x'.repeat(65), null],
      ['', null],
    ];
    for (const [sent, kept] of asks) {
      const r = await fetch(`${srv.url}/v1/users/self`, { headers: { 'x-request-id': sent } });
      const got = r.headers.get('x-request-id');
      if (kept) assert.equal(got, kept);
      else assert.match(got, ID, `${JSON.stringify(sent)} replaced: ${got}`);
    }
    const h = await fetch(`${srv.url}/healthz`, { headers: { 'x-request-id': 'from-the-proxy' } });
    assert.equal(h.headers.get('x-request-id'), 'from-the-proxy');
  } finally {
    await srv.stop();
  }
});

test('log_format json: every line is a JSON object; slow requests are logged with their ID', { skip: external, timeout: 30_000 }, async () => {
  const srv = await startServer(['--log-format', 'json', '--access-log', '-', '--slow-request-ms', '1']);
  try {
    const name = uniqueName('logs');
    const res = await api(srv.url, 'POST', '/v1/accounts', { form: { username: name, password: 'password123' } });
    assert.equal(res.status, 200, show(res)); // a password hash: far over 1 ms
    const id = res.headers.get('x-request-id');
    assert.match(id, ID);
    const seen = await poll(() => {
      const lines = srv.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const access = lines.find((l) => l.request_id === id && l.path === '/v1/accounts');
      const slow = lines.find((l) => l.request_id === id && l.level === 'warn');
      return access && slow ? { lines, access, slow } : null;
    }, { timeout: 3000 });
    assert.ok(seen.ok, `access and slow lines for ${id}:\n${srv.stderr().slice(-3000)}`);
    const { lines, access, slow } = seen.value;
    assert.equal(access.method, 'POST');
    assert.equal(access.status, 200);
    assert.equal(access.protocol, 'HTTP/1.1');
    assert.match(slow.msg, /^slow request: POST \/v1\/accounts answered 200 in [\d.]+ ms$/);
    assert.match(slow.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const start = lines.find((l) => /^picogram listening on /.test(l.msg || ''));
    assert.ok(start, 'the start line is JSON too');
    assert.equal(start.level, 'info');
    assert.equal(start.request_id, undefined, 'no request, no ID');
  } finally {
    await srv.stop();
  }
});

test("the jobs a request makes log with its request ID, and so do the jobs they make", { skip: external, timeout: 30_000 }, async () => {
  const srv = await startServer(['--log-format', 'json', '--log-level', 'debug', '--access-log', 'off', '--trusted-proxies', '127.0.0.1']);
  try {
    const a = await signup(srv.url, uniqueName('logj'));
    const rid = `upload-${process.pid}-1`;
    const up = await uploadPhoto(srv.url, { token: a.token, photo: 'tiny-1x1.jpg', headers: { 'x-request-id': rid } });
    assert.equal(up.status, 200, show(up));
    assert.equal(up.headers.get('x-request-id'), rid);
    const jobs = () => srv.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((l) => / \(fanout\) ran: /.test(l.msg || ''));
    const ran = await poll(() => jobs().some((l) => l.request_id === rid), { timeout: 5000 });
    assert.ok(ran.ok, `the upload's fan-out logs with ${rid}:\n${srv.stderr().slice(-3000)}`);
    assert.ok(jobs().every((l) => l.request_id === undefined || l.request_id.startsWith('upload-') || /^[0-9a-f]{32}$/.test(l.request_id)));
  } finally {
    await srv.stop();
  }
});

test('a bad log_format stops start-up with a clear message', { skip: external }, async () => {
  await assert.rejects(startServer(['--log-format', 'xml']), /log_format: 'xml' \(expected one of text\|json\)/);
});
