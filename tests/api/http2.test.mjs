// HTTP/2 (cleartext, prior knowledge) comes with h2o: the same API answers
// over it, several requests multiplexed on one connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startServer, signup, uniqueName } from './lib.mjs';

let srv;
before(async () => { srv = await startServer(['--access-log', 'off']); });
after(async () => { await srv.stop(); });

function get(session, path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ...headers });
    let data = '';
    let head;
    req.setEncoding('utf8');
    req.on('response', (h) => { head = h; });
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve({ status: head[':status'], headers: head, body: JSON.parse(data) }));
    req.on('error', reject);
    req.end();
  });
}

test('the API over h2c: envelope, auth, errors, multiplexing', async () => {
  if (!srv.url.startsWith('http://')) return;
  const { token, user } = await signup(srv.url, uniqueName('h2'));
  const session = http2.connect(srv.url);
  try {
    const results = await Promise.all([
      get(session, '/v1/users/self', { authorization: `Bearer ${token}` }),
      get(session, `/v1/users/${user.id}.json?access_token=${encodeURIComponent(token)}`),
      get(session, '/v1/no/such/thing'),
    ]);
    assert.equal(results[0].status, 200);
    assert.equal(results[0].body.data.id, user.id);
    assert.equal(results[1].status, 200);
    assert.equal(results[1].body.data.username, user.username);
    assert.equal(results[2].status, 404);
    assert.equal(results[2].body.meta.error_type, 'APINotFoundError');
    for (const r of results) assert.ok(r.headers['x-ratelimit-remaining'] !== undefined);
  } finally {
    session.close();
  }
});
