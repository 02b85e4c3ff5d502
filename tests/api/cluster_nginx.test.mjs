// Two stateless servers behind nginx, as scripts/cluster.sh runs them
// (deploy/nginx.conf through scripts/nginx-conf.sh), sharing the databases
// and a Redis: requests spread over both; a write through one shows on
// reads through either; links name nginx; one rate-limit budget per token;
// nginx refuses an oversized body in the API's error shape; and with one
// server killed, nginx sends everything to the other. The photos are in an
// S3 server (s3rver) and reach clients through nginx's cache, the CDN
// stand-in, which keeps serving them with the store down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchOn, api, signup, uniqueName, uploadPhoto, external, show, startRedis, startS3, freePort, repoRoot } from './lib.mjs';
import { poll } from './feed_util.mjs';

const LIMIT = 80;

test('two servers behind nginx', { skip: external, timeout: 120_000 }, async (t) => {
  const redis = await startRedis();
  const s3 = await startS3();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-lb-'));
  const ngDir = await mkdtemp(path.join(tmpdir(), 'picogram-nginx-'));
  // as root, nginx's workers run as nobody: they write its photo cache here
  if (process.getuid() === 0) await chmod(ngDir, 0o777);
  const ngPort = await freePort();
  const lb = `http://127.0.0.1:${ngPort}`;
  const servers = [];
  let nginx = null;
  try {
    const args = ['--redis', redis.url, '--trusted-proxies', '127.0.0.1', '--public-url', lb,
      '--rate-limit', String(LIMIT), '--max-upload', '1m', '--max-concurrent-uploads', '8', ...s3.flags];
    servers.push(launchOn(dataDir, args));
    await servers[0].url;
    servers.push(launchOn(dataDir, args));
    const ups = await Promise.all(servers.map(async (s) => new URL(await s.url).host));
    const conf = execFileSync(path.join(repoRoot, 'scripts', 'nginx-conf.sh'), [ngDir, `127.0.0.1:${ngPort}`, '1m', ...ups],
      { env: { ...process.env, S3: `${s3.url}/picogram` } });
    await writeFile(path.join(ngDir, 'nginx.conf'), conf);
    nginx = spawn('nginx', ['-c', path.join(ngDir, 'nginx.conf'), '-p', ngDir, '-g', 'daemon off;'], { stdio: 'ignore' });
    const up = await poll(async () => (await api(lb, 'GET', '/healthz').catch(() => ({}))).status === 200, { timeout: 10_000 });
    assert.ok(up.ok, 'nginx answers');

    // both servers take requests (each /healthz names its ID node). A request
    // with no token goes to a server by a random key, so eight could all land
    // on one (1 in 128): ask up to 40 times, until both have answered.
    const nodes = new Set();
    for (let i = 0; i < 40 && nodes.size < 2; i++) {
      const r = await api(lb, 'GET', '/healthz');
      assert.equal(r.status, 200, show(r));
      assert.equal(r.body.data.status, 'ok');
      nodes.add(r.body.data.node);
    }
    assert.equal(nodes.size, 2, `requests reach both servers: nodes ${[...nodes]}`);

    // one request ID in nginx's log and picogram's answer (nginx sends its
    // $request_id; picogram keeps a trusted proxy's); no query string (an
    // access_token) in nginx's log
    const traced = await fetch(`${lb}/v1/users/self?access_token=secret-in-query`);
    const rid = traced.headers.get('x-request-id');
    assert.match(rid || '', /^[0-9a-f]{32}$/);
    const ngLog = () => readFile(path.join(ngDir, 'nginx-access.log'), 'utf8').catch(() => '');
    const inLog = await poll(async () => (await ngLog()).includes(`"${rid}"`), { timeout: 5000 });
    assert.ok(inLog.ok, `nginx logged ${rid}:\n${(await ngLog()).slice(-1000)}`);
    assert.doesNotMatch(await ngLog(), /secret-in-query/);

    // the API through nginx
    const owner = await signup(lb, uniqueName('lbown'));
    const viewer = await signup(lb, uniqueName('lbvis'));
    const posted = await uploadPhoto(lb, { token: owner.token, photo: 'tiny-1x1.jpg', fields: { caption: 'behind nginx' } });
    assert.equal(posted.status, 200, show(posted));
    const media = posted.body.data;
    assert.ok(media.link.startsWith(`${lb}/`), `links name nginx: ${media.link}`);
    // the photo through nginx: from the store once, then from nginx's cache
    const photoUrl = media.images.standard_resolution.url;
    assert.ok(photoUrl.startsWith(`${lb}/media/`), `photo URLs name nginx: ${photoUrl}`);
    const photo = async () => {
      const r = await fetch(photoUrl);
      const bytes = Buffer.from(await r.arrayBuffer());
      return { status: r.status, cache: r.headers.get('x-cache-status'), type: r.headers.get('content-type'), bytes };
    };
    const first = await photo();
    assert.deepEqual([first.status, first.cache, first.type], [200, 'MISS', 'image/jpeg']);
    assert.equal(first.bytes.readUInt16BE(0), 0xffd8);
    const second = await photo();
    assert.deepEqual([second.status, second.cache], [200, 'HIT']);
    assert.ok(second.bytes.equals(first.bytes));
    // one range from the cache; many ranges get the whole photo (max_ranges 1)
    const part = await fetch(photoUrl, { headers: { range: 'bytes=0-9' } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(first.bytes.subarray(0, 10)));
    const many = await fetch(photoUrl, { headers: { range: `bytes=${Array.from({ length: 200 }, () => '0-').join(',')}` } });
    assert.equal(many.status, 200);
    assert.ok(Buffer.from(await many.arrayBuffer()).equals(first.bytes), 'the whole photo, once');
    const read = () => api(lb, 'GET', `/v1/media/${media.id}`, { token: viewer.token });
    for (let i = 0; i < 4; i++) assert.equal((await read()).status, 200); // cached on both
    assert.equal((await api(lb, 'POST', `/v1/media/${media.id}/likes`, { token: owner.token })).status, 200);
    const liked = await poll(async () => {
      const rs = [await read(), await read()]; // one on each server
      return rs.every((r) => r.body?.data?.likes?.count === 1);
    }, { timeout: 2000, interval: 20 });
    assert.ok(liked.ok, 'the like shows through both servers');
    const priv = await api(lb, 'POST', '/v1/users/self', { token: owner.token, form: { is_private: 'true' } });
    assert.equal(priv.status, 200, show(priv));
    const hidden = await poll(async () => {
      const rs = [await read(), await read()];
      return rs.every((r) => r.status === 400);
    }, { timeout: 2000, interval: 20 });
    assert.ok(hidden.ok, 'a private owner\'s photo is refused through both servers');

    // one budget per token across the two servers
    const spender = await signup(lb, uniqueName('lbrl'));
    let allowed = 0;
    for (let i = 0; i < LIMIT + 20; i++) {
      const r = await api(lb, 'GET', '/v1/users/self', { token: spender.token });
      if (r.status === 200) allowed++;
      else assert.equal(r.status, 429, show(r));
    }
    t.diagnostic(`rate limit through nginx: ${allowed} allowed of ${LIMIT}`);
    assert.ok(allowed >= LIMIT && allowed <= LIMIT + 8, `one budget over both servers: ${allowed} allowed of ${LIMIT}`);

    // a body over the limit: refused by nginx, in the API's shape
    const big = await api(lb, 'POST', '/v1/media/upload', {
      token: owner.token, body: Buffer.alloc(1536 * 1024, 1), headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(big.status, 413, show(big));
    assert.equal(big.body?.meta?.error_type, 'APIInvalidParametersError', show(big));

    // one server killed: nginx sends the reads and the writes to the other
    servers[1].proc.kill('SIGKILL');
    await servers[1].exited;
    for (let i = 0; i < 6; i++) {
      const r = await api(lb, 'GET', '/v1/users/self', { token: viewer.token });
      assert.equal(r.status, 200, `read ${i} with one server down: ${show(r)}`);
    }
    const c = await api(lb, 'POST', `/v1/media/${media.id}/comments`, { token: owner.token, form: { text: 'still here' } });
    assert.equal(c.status, 200, `a write with one server down: ${show(c)}`);

    // the store down: a cached photo is still served; an upload answers 503
    await s3.kill();
    const cached = await photo();
    assert.deepEqual([cached.status, cached.cache], [200, 'HIT']);
    const down = await uploadPhoto(lb, { token: owner.token, photo: 'tiny-1x1.jpg' });
    assert.equal(down.status, 503, show(down));
  } finally {
    if (nginx) { nginx.kill('SIGTERM'); await new Promise((r) => nginx.on('exit', r)); }
    for (const s of servers) s.proc.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.exited));
    await redis.stop();
    await s3.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(ngDir, { recursive: true, force: true });
  }
});
