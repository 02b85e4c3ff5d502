// HTTP/2 (cleartext, prior knowledge) comes with h2o: the same API answers
// over it, several requests multiplexed on one connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { startServer, signup, uniqueName, uploadPhoto, photosDir, proxied } from './lib.mjs';

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

test('the API over h2c: envelope, auth, errors, multiplexing', { skip: proxied }, async () => {
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

// Uploads whose streams are reset while they wait for the one request
// thread (each is under HTTP/2's first flow-control window, so it is whole
// and dispatched before its reset): the
// server must not read their bodies after h2o has freed them (the ASan
// build of the suite aborts on that), and it goes on serving.
test('uploads reset mid-flight on the request pool leave the server whole', async () => {
  if (!srv.url.startsWith('http://')) return;
  const pool = await startServer(['--access-log', 'off', '--dispatch', 'pool', '--request-threads', '1']);
  try {
    const { token } = await signup(pool.url, uniqueName('h2r'));
    const fd = new FormData();
    fd.append('photo', new Blob([await readFile(path.join(photosDir, 'grayscale.jpg'))], { type: 'image/jpeg' }), 'p.jpg');
    const packed = new Response(fd);
    const type = packed.headers.get('content-type');
    const body = Buffer.from(await packed.arrayBuffer());
    const session = http2.connect(pool.url);
    session.on('error', () => {});
    try {
      const resets = [];
      for (let i = 0; i < 24; i++) {
        const req = session.request({ ':method': 'POST', ':path': '/v1/media/upload',
          authorization: `Bearer ${token}`, 'content-type': type });
        req.on('error', () => {});
        req.on('response', () => {});
        req.end(body);
        resets.push(new Promise((resolve) => {
          setTimeout(() => { req.close(http2.constants.NGHTTP2_CANCEL); resolve(); }, 30 + (i % 4) * 10);
        }));
      }
      await Promise.all(resets);
    } finally {
      session.close();
    }
    // still serving, and a whole upload still works
    const ok = await uploadPhoto(pool.url, { token, photo: 'landscape.jpg' });
    assert.equal(ok.status, 200, ok.text);
  } finally {
    const exit = await pool.stop();
    assert.equal(exit.signal, null, `the server died: ${pool.stderr().slice(-2000)}`);
  }
});
