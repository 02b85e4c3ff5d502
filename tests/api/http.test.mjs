// HTTP behaviour: 404/405, body limits (413), content types (415), rate
// limiting (429 and the x-ratelimit headers), keep-alive, shutdown.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  startServer, api, signup, login, uniqueName, show, external, proxied, rawRequest,
  assertOk, assertV1Error, assertOAuthError, assertRateHeaders, assertJsonContentType,
} from './lib.mjs';

// The file's server has small body limits so that 413s are cheap to provoke.
const MAX_BODY = 2048;
const MAX_UPLOAD = 8192;

let srv;
let url;
let user;
// Extra servers are stopped in the background (an idle keep-alive
// connection from fetch can hold a shutdown up), and awaited in after().
const pendingStops = [];

before(async () => {
  srv = await startServer(['--max-body', '2k', '--max-upload', '8k']);
  url = srv.url;
  user = await signup(url, uniqueName('http'));
});

after(async () => {
  await Promise.all([srv?.stop(), ...pendingStops]);
});

function allowSet(res) {
  return (res.headers.get('allow') || '').split(',').map((s) => s.trim()).filter(Boolean).sort();
}

describe('routing errors', () => {
  it('answers unknown routes with a JSON 404', async () => {
    // (paths outside /v1, /oauth and /web belong to the web client: web_session.test.mjs)
    const cases = [
      ['GET', '/v1'],
      ['GET', '/v1/'],
      ['GET', '/v1/users'],
      ['GET', '/v1/users/'],
      ['GET', '/v2/users/self'],
      ['GET', '/V1/users/self'],
      ['GET', '/v1/users/self/extra/segments'],
      ['GET', '/v1/users//self'],
      ['GET', '/v1/definitely-not-a-route'],
      ['POST', '/v1/users/self/no-such-thing'],
      ['DELETE', '/v1/nope'],
      ['GET', '/oauth/authorize_nope'],
      ['GET', '/v1/' + 'a/'.repeat(200)],
      ['GET', '/v1/' + 'x'.repeat(5000)],
    ];
    for (const [method, p] of cases) {
      const r = await api(url, method, p, { token: user.token });
      assertV1Error(r, 404, 'APINotFoundError');
      assertRateHeaders(r);
      assert.equal(r.body.data, undefined, 'errors carry no data');
    }
  });

  it('answers a wrong method on a known path with a JSON 405 and an allow header', async () => {
    const cases = [
      ['DELETE', '/v1/users/self', ['GET', 'POST']],
      ['PUT', '/v1/users/self', ['GET', 'POST']],
      ['PATCH', '/v1/users/self.json', ['GET', 'POST']],
      ['OPTIONS', '/v1/users/self', ['GET', 'POST']],
      ['DELETE', `/v1/users/${user.user.id}`, ['GET']],
      ['POST', '/v1/users/search', ['GET']],
      ['GET', '/v1/accounts', ['POST']],
      ['PUT', '/v1/accounts', ['POST']],
      ['GET', '/v1/accounts/logout', ['POST']],
      ['GET', '/oauth/access_token', ['POST']],
      ['DELETE', '/oauth/access_token', ['POST']],
    ];
    for (const [method, p, allow] of cases) {
      const r = await api(url, method, p, { token: user.token });
      assertV1Error(r, 405);
      assert.deepEqual(allowSet(r), allow, `${method} ${p}`);
      assertRateHeaders(r);
    }
    // the token was not used up or revoked by any of those
    assertOk(await api(url, 'GET', '/v1/users/self', { token: user.token }));
  });

  it('answers HEAD like GET without a body', async () => {
    const r = await fetch(`${url}/v1/users/self`, { method: 'HEAD', headers: { authorization: `Bearer ${user.token}` } });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), '');
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.ok(r.headers.get('x-ratelimit-remaining'));
    const n = await fetch(`${url}/v1/accounts`, { method: 'HEAD' });
    assert.equal(n.status, 405);
    assert.equal(await n.text(), '');
  });
});

describe('request body limits', () => {
  it(`answers 413 in JSON for a body over --max-body (${MAX_BODY})`, async (t) => {
    if (external) return t.skip('needs --max-body 2k');
    const username = uniqueName('big');
    const form = `username=${username}&password=password123&full_name=${'a'.repeat(4000)}`;
    const r = await api(url, 'POST', '/v1/accounts', { form });
    assertV1Error(r, 413);
    assertRateHeaders(r);
    const j = await api(url, 'POST', '/v1/accounts', {
      json: { username, password: 'password123', pad: 'p'.repeat(3000) },
    });
    assertV1Error(j, 413);
    const withToken = await api(url, 'POST', '/v1/users/self', { token: user.token, form: { bio: 'x', pad: 'p'.repeat(3000) } });
    assertV1Error(withToken, 413);
    assertRateHeaders(withToken);
    // nothing was done
    assertOAuthError(await login(url, username, 'password123'));
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: user.token })).bio, '');
    // 413 on the OAuth endpoint is still a JSON 413
    const o = await api(url, 'POST', '/oauth/access_token', {
      form: { grant_type: 'password', username, password: 'p'.repeat(3000) },
    });
    assert.equal(o.status, 413, show(o));
    assertJsonContentType(o);
    assertRateHeaders(o);
  });

  it('accepts a body of exactly --max-body bytes and refuses one byte more', async (t) => {
    if (external) return t.skip('needs --max-body 2k');
    const head = 'bio=edge&pad=';
    const exact = head + 'x'.repeat(MAX_BODY - head.length);
    assert.equal(exact.length, MAX_BODY);
    const ok = await api(url, 'POST', '/v1/users/self', { token: user.token, form: exact });
    assert.equal(assertOk(ok).bio, 'edge');
    const over = await api(url, 'POST', '/v1/users/self', { token: user.token, form: exact.replace('bio=edge', 'bio=edgy') + 'x' });
    assertV1Error(over, 413);
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: user.token })).bio, 'edge');
  });

  it(`answers 413 in JSON for a body over --max-upload (${MAX_UPLOAD}) before reading it`, async (t) => {
    if (external) return t.skip('needs --max-upload 8k');
    const username = uniqueName('huge');
    const r = await api(url, 'POST', '/v1/accounts', {
      form: `username=${username}&password=password123&pad=${'a'.repeat(16000)}`,
    });
    assertV1Error(r, 413);
    assertRateHeaders(r);
    // Only the headers are sent, announcing 1 MiB: the answer comes at once,
    // so it was judged from Content-Length without waiting for the body.
    // (Sending the body too races the server's close and may reset.)
    const big = await rawRequest(url, `POST /v1/users/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${user.token}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${1 << 20}\r\n\r\nbio=x`);
    assert.equal(big.status, 413, big.raw.slice(0, 300));
    assert.match(big.headers['content-type'] || '', /^application\/json/);
    assert.equal(big.body?.meta?.code, 413);
    assert.match(big.headers['x-ratelimit-remaining'] || '', /^\d+$/);
    assertOAuthError(await login(url, username, 'password123'));
  });

  it('answers 413 for chunked bodies over either limit', async (t) => {
    if (external) return t.skip('needs small limits');
    const chunked = (n) => {
      let body = '';
      for (let left = n; left > 0; left -= 1024) {
        const k = Math.min(1024, left);
        body += k.toString(16) + '\r\n' + 'a'.repeat(k) + '\r\n';
      }
      return 'POST /v1/accounts HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n' +
        'Content-Type: application/x-www-form-urlencoded\r\n\r\n' + body + '0\r\n\r\n';
    };
    for (const n of [4096, 12288]) {
      const r = await rawRequest(url, chunked(n));
      assert.equal(r.status, 413, `chunked ${n}: ${r.raw.slice(0, 300)}`);
      assert.match(r.headers['content-type'] || '', /^application\/json/);
      assert.equal(r.body?.meta?.code, 413);
      assert.match(r.headers['x-ratelimit-remaining'] || '', /^\d+$/);
    }
  });

  it('still serves after the 413s', async () => {
    assertOk(await api(url, 'GET', '/v1/users/self', { token: user.token }));
  });
});

describe('content types', () => {
  it('answers 415 for bodies that are neither form nor JSON', async () => {
    const types = [
      'text/plain',
      'text/plain; charset=utf-8',
      'application/xml',
      'application/octet-stream',
      'multipart/form-data; boundary=xyz',
      'application/jsonp',
      'application/json-patch+json',
      'application/x-www-form-urlencodedx',
      'image/jpeg',
    ];
    for (const ct of types) {
      const r = await api(url, 'POST', '/v1/users/self', {
        token: user.token, headers: { 'content-type': ct }, body: 'bio=via-' + ct.length,
      });
      assertV1Error(r, 415);
      assertRateHeaders(r);
      const s = await api(url, 'POST', '/v1/accounts', {
        headers: { 'content-type': ct }, body: `username=${uniqueName('ct')}&password=password123`,
      });
      assertV1Error(s, 415);
    }
    const after = assertOk(await api(url, 'GET', '/v1/users/self', { token: user.token }));
    assert.ok(!after.bio.startsWith('via-'), `a 415 body was applied: ${after.bio}`);
  });

  it('accepts form and JSON with parameters and in any case', async () => {
    const variants = [
      ['application/x-www-form-urlencoded; charset=UTF-8', 'bio=ct1'],
      ['APPLICATION/X-WWW-FORM-URLENCODED', 'bio=ct2'],
      ['application/json; charset=utf-8', '{"bio":"ct3"}'],
      ['Application/JSON', '{"bio":"ct4"}'],
    ];
    for (const [ct, body] of variants) {
      const r = await api(url, 'POST', '/v1/users/self', { token: user.token, headers: { 'content-type': ct }, body });
      assert.equal(assertOk(r).bio, body.match(/ct\d/)[0], ct);
    }
  });
});

describe('rate limiting', () => {
  it('counts down x-ratelimit-remaining by one per request of a token', async () => {
    const { token } = await signup(url, uniqueName('count'));
    let last = null;
    for (let i = 0; i < 5; i++) {
      const r = await api(url, 'GET', '/v1/users/self', { token });
      assertOk(r);
      const { limit, remaining } = assertRateHeaders(r);
      if (!external) assert.equal(limit, 5000, 'the default limit');
      if (last !== null) assert.equal(remaining, last - 1, `request ${i}`);
      last = remaining;
    }
    // errors count too
    const e = await api(url, 'GET', '/v1/nope', { token });
    assert.equal(assertRateHeaders(e).remaining, last - 1);
  });

  it('refuses with 429 past --rate-limit, per token, with separate budgets', async (t) => {
    if (external) return t.skip('needs --rate-limit 5');
    const rl = await startServer(['--rate-limit', '5', '--rate-limit-window', '3600']);
    try {
      // Sign-ups are anonymous: they count against the client address.
      const na = uniqueName('rla');
      const a = await api(rl.url, 'POST', '/v1/accounts', { form: { username: na, password: 'password123' } });
      assert.equal(assertRateHeaders(a).remaining, 4, show(a));
      const b = await api(rl.url, 'POST', '/v1/accounts', { form: { username: uniqueName('rlb'), password: 'password123' } });
      assert.equal(assertRateHeaders(b).remaining, 3, show(b));
      const ta = assertOk(a).access_token;
      const tb = assertOk(b).access_token;
      const idA = a.body.data.user.id;

      for (let i = 0; i < 5; i++) {
        const r = await api(rl.url, 'GET', '/v1/users/self', { token: ta });
        assertOk(r);
        assert.deepEqual(assertRateHeaders(r), { limit: 5, remaining: 4 - i }, `request ${i + 1} of token A`);
      }
      const over = await api(rl.url, 'GET', '/v1/users/self', { token: ta });
      assertV1Error(over, 429, 'OAuthRateLimitException');
      assert.deepEqual(assertRateHeaders(over), { limit: 5, remaining: 0 });
      const retry = Number(over.headers.get('retry-after'));
      assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 3600, `retry-after: ${over.headers.get('retry-after')}`);
      // every kind of request with that token is refused, and does nothing
      assertV1Error(await api(rl.url, 'POST', '/v1/users/self', { token: ta, form: { full_name: 'Over Limit' } }), 429,
        'OAuthRateLimitException');
      assertV1Error(await api(rl.url, 'GET', '/v1/nope', { token: ta }), 429, 'OAuthRateLimitException');
      assertV1Error(await api(rl.url, 'POST', '/v1/accounts/logout', { form: { access_token: ta } }), 429,
        'OAuthRateLimitException');

      // token B has its own budget
      const rb = await api(rl.url, 'GET', `/v1/users/${idA}`, { token: tb });
      assert.equal(assertOk(rb).full_name, '', 'the refused edit did not happen');
      assert.deepEqual(assertRateHeaders(rb), { limit: 5, remaining: 4 });

      // anonymous requests and bad tokens share the address's budget (2 left)
      const n1 = await api(rl.url, 'GET', '/v1/nope');
      assertV1Error(n1, 404);
      assert.equal(assertRateHeaders(n1).remaining, 2);
      const bad = await api(rl.url, 'GET', '/v1/users/self', { token: `${idA}.forged` });
      assertV1Error(bad, 400, 'OAuthAccessTokenException');
      assert.equal(assertRateHeaders(bad).remaining, 1);
      const n2 = await api(rl.url, 'GET', '/v1/users/self');
      assertV1Error(n2, 400, 'OAuthParameterException');
      assert.equal(assertRateHeaders(n2).remaining, 0);
      const n3 = await api(rl.url, 'GET', '/v1/nope');
      assertV1Error(n3, 429, 'OAuthRateLimitException');
      assert.ok(Number(n3.headers.get('retry-after')) >= 1);
      const s = await api(rl.url, 'POST', '/v1/accounts', { form: { username: uniqueName('rlc'), password: 'password123' } });
      assertV1Error(s, 429, 'OAuthRateLimitException');
      const l = await login(rl.url, na, 'password123');
      assert.equal(l.status, 429, show(l));
      assertJsonContentType(l);
      assertRateHeaders(l);

      // token B is unaffected by the address running out
      const rb2 = await api(rl.url, 'GET', '/v1/users/self', { token: tb });
      assertOk(rb2);
      assert.equal(assertRateHeaders(rb2).remaining, 3);
    } finally {
      pendingStops.push(rl.stop());
    }
  });

  it('starts a new budget when the window ends', async (t) => {
    if (external) return t.skip('needs --rate-limit-window 1');
    const rl = await startServer(['--rate-limit', '2', '--rate-limit-window', '1']);
    try {
      // where limits are shared between servers (the cluster), windows start
      // on whole seconds: begin just after one, so the three land in one window
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      assertV1Error(await api(rl.url, 'GET', '/v1/nope'), 404);
      assertV1Error(await api(rl.url, 'GET', '/v1/nope'), 404);
      const over = await api(rl.url, 'GET', '/v1/nope');
      assertV1Error(over, 429, 'OAuthRateLimitException');
      assert.equal(over.headers.get('retry-after'), '1');
      await new Promise((r) => setTimeout(r, 1100));
      const again = await api(rl.url, 'GET', '/v1/nope');
      assertV1Error(again, 404);
      assert.deepEqual(assertRateHeaders(again), { limit: 2, remaining: 1 });
    } finally {
      pendingStops.push(rl.stop());
    }
  });

  it('puts the rate-limit headers and a JSON body on every kind of response', async () => {
    const seen = new Set();
    const check = (r, what) => {
      assertRateHeaders(r);
      assertJsonContentType(r);
      assert.ok(r.body && typeof r.body === 'object', `${what}: body is not JSON: ${show(r)}`);
      seen.add(r.status);
    };
    check(await api(url, 'GET', '/v1/users/self', { token: user.token }), '200');
    check(await api(url, 'GET', '/v1/users/self'), 'no token');
    check(await api(url, 'GET', '/v1/users/self', { token: 'bad' }), 'bad token');
    check(await api(url, 'POST', '/v1/accounts', { form: { username: 'a-b', password: 'x' } }), 'invalid');
    check(await login(url, uniqueName('none'), 'password123'), 'oauth error');
    check(await api(url, 'GET', '/v1/users/search', { token: user.token, query: 'q=%ZZ' }), 'bad encoding');
    check(await api(url, 'GET', '/v1/nope'), '404');
    check(await api(url, 'GET', `/v1/users/${BigInt(user.user.id) + 1n}`, { token: user.token }), 'no such user');
    check(await api(url, 'DELETE', '/v1/users/self'), '405');
    check(await api(url, 'POST', '/v1/users/self', { token: user.token, headers: { 'content-type': 'text/plain' }, body: 'x' }), '415');
    if (!external) {
      check(await api(url, 'POST', '/v1/users/self', { token: user.token, form: 'pad=' + 'x'.repeat(4000) }), '413 (max-body)');
      check(await api(url, 'POST', '/v1/users/self', { token: user.token, form: 'pad=' + 'x'.repeat(20000) }), '413 (max-upload)');
    }
    for (const s of [200, 400, 404, 405, 415]) assert.ok(seen.has(s), `saw ${s}`);
  });
});

describe('connections', () => {
  it('serves several requests on one keep-alive connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set();
    try {
      const results = [];
      for (let i = 0; i < 5; i++) {
        results.push(await new Promise((resolve, reject) => {
          const req = http.request(`${url}/v1/users/self`, {
            agent, headers: { authorization: `Bearer ${user.token}` },
          }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode, body, reused: req.reusedSocket }));
          });
          req.on('socket', (s) => sockets.add(s));
          req.on('error', reject);
          req.end();
        }));
      }
      for (const r of results) {
        assert.equal(r.status, 200, r.body);
        assert.equal(JSON.parse(r.body).data.id, user.user.id);
      }
      assert.equal(sockets.size, 1, 'one connection for all five requests');
      assert.deepEqual(results.map((r) => r.reused), [false, true, true, true, true]);
    } finally {
      agent.destroy();
    }
  });

  it('answers pipelined requests in order', async () => {
    const one = (p) => `GET ${p} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${user.token}\r\n\r\n`;
    const { hostname, port } = new URL(url);
    const text = await new Promise((resolve) => {
      const sock = net.connect(Number(port), hostname);
      let out = '';
      sock.setEncoding('latin1');
      sock.on('data', (d) => {
        out += d;
        if ((out.match(/HTTP\/1\.1 /g) || []).length >= 3 && /\}\s*$/.test(out)) sock.end();
      });
      sock.on('close', () => resolve(out));
      sock.on('error', () => resolve(out));
      sock.on('connect', () => sock.write(one('/v1/users/self') + one('/v1/nope') + one(`/v1/users/${user.user.id}`)));
      setTimeout(() => sock.destroy(), 3000);
    });
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 404, 200], text.slice(0, 500));
  });

  it('answers a bad Content-Length with a JSON 400 carrying the rate-limit headers', { skip: proxied }, async () => {
    const raw = 'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n';
    const r = await rawRequest(url, raw);
    assert.equal(r.status, 400, JSON.stringify(r.raw.slice(0, 300)));
    assert.match(r.headers['content-type'] || '', /^application\/json/);
    assert.equal(r.body?.meta?.code, 400);
    assert.match(r.headers['x-ratelimit-remaining'] || '', /^\d+$/);
    assertOk(await api(url, 'GET', '/v1/users/self', { token: user.token }));
  });

  // A request line that is not HTTP at all is answered by h2o's parser with
  // fixed bytes ("400 Bad Request", text/plain, Connection: close) before any
  // handler or filter can run; README lists this as a known limitation.
  it('answers a request line that is not HTTP with a 400 and closes the connection', { skip: proxied }, async () => {
    for (const raw of ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\nHost: x\r\n\r\n']) {
      const r = await rawRequest(url, raw);
      assert.equal(r.status, 400, `${JSON.stringify(raw)} -> ${JSON.stringify(r.raw.slice(0, 300))}`);
      assert.match(r.headers.connection || '', /close/i);
    }
    assertOk(await api(url, 'GET', '/v1/users/self', { token: user.token }));
  });
});

describe('listening', () => {
  // Each loop thread has its own socket on the port (SO_REUSEPORT); a
  // second server on a port in use must still be refused, not let in to
  // share it.
  it('refuses to start on a port another server listens on', { skip: external || proxied }, async () => {
    const { port } = new URL(url);
    const other = await startServer(['--listen', `127.0.0.1:${port}`]).catch((e) => e);
    assert.ok(other instanceof Error, 'a second server on the same port started');
    assert.match(String(other.message), /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
    assertOk(await api(url, 'GET', '/v1/users/self', { token: user.token }));
  });

  it('/healthz counts cache hits and misses, and what the local cache holds', { skip: external || proxied }, async () => {
    const health = async () => (await api(url, 'GET', '/healthz')).body.data;
    const h0 = await health();
    for (const k of ['cache_hits', 'cache_misses', 'cache_entries', 'cache_bytes']) assert.equal(typeof h0[k], 'number', k);
    const u = await signup(url, uniqueName('hz'));
    for (let i = 0; i < 3; i++) assertOk(await api(url, 'GET', `/v1/users/${u.user.id}`, { token: user.token }));
    const h1 = await health();
    assert.ok(h1.cache_misses > h0.cache_misses, 'the first read of a new user misses');
    assert.ok(h1.cache_hits > h0.cache_hits, 'the reads after it hit');
    if (h1.cache === 'local') {
      assert.ok(h1.cache_entries > 0 && h1.cache_bytes > h1.cache_entries, JSON.stringify(h1));
    }
  });
});

describe('process', () => {
  it('writes an access log line to stderr for each request (default --access-log -)', async (t) => {
    if (external) return t.skip('needs its own server');
    const marker = `/v1/access-log-probe-${uniqueName('al')}`;
    assertV1Error(await api(url, 'GET', marker), 404);
    await new Promise((r) => setTimeout(r, 200));
    const err = srv.stderr();
    assert.ok(err.includes(marker), `no access-log line for ${marker} in stderr:\n${err.slice(-2000)}`);
  });

  it('exits 0 on SIGTERM', async (t) => {
    if (external) return t.skip('needs its own server');
    const s1 = await startServer();
    const r1 = await s1.stop();
    assert.deepEqual(r1, { code: 0, signal: null }, s1.stderr());
  });

  it('exits 0 on SIGTERM with an idle keep-alive connection open, closing it promptly', async (t) => {
    if (external) return t.skip('needs its own server');
    const s = await startServer();
    const { port } = new URL(s.url);
    const sock = net.connect(Number(port), '127.0.0.1');
    sock.on('error', () => {});
    await new Promise((r) => sock.on('connect', r));
    sock.write('GET /nope HTTP/1.1\r\nHost: test\r\n\r\n');
    await new Promise((r) => sock.once('data', r));
    let closedAt = null;
    sock.on('close', () => (closedAt = Date.now()));
    const t0 = Date.now();
    const res = await s.stop();
    const took = Date.now() - t0;
    sock.destroy();
    assert.deepEqual(res, { code: 0, signal: null }, `exit with an idle connection open; stderr:\n${s.stderr().slice(-1500)}`);
    assert.ok(closedAt !== null && closedAt - t0 < 1500,
      `an idle keep-alive connection (nothing in flight) should be closed at once; it was closed after ${closedAt === null ? 'never' : closedAt - t0} ms`);
    assert.ok(took < 1500, `SIGTERM -> exit took ${took} ms with one idle keep-alive connection open`);
  });
});
