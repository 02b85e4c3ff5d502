// GET /metrics on a listener of its own (metrics_listen): off by default;
// requests counted by route pattern (never a path with an ID), method and
// status, with latency histograms that add up; database calls timed per
// physical database; what the SQLite writer did (ops, group commits, WAL
// syncs, checkpoints); the pools, the cache and the process; output that
// promtool accepts; and a real Prometheus 2 that scrapes it on loopback and
// answers a query for one of its counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, api, signup, uniqueName, freePort, external, serverBinary, topology, uploadPhoto, show } from './lib.mjs';
import { poll } from './feed_util.mjs';

/** Fetches the metrics: {text, samples: Map of 'name{labels}' -> number, contentType}. */
async function scrape(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { text, samples, contentType: res.headers.get('content-type') };
}

const get = (s, key) => s.samples.get(key) ?? 0;
const requests = (route, method, code) => `picogram_http_requests_total{route="${route}",method="${method}",code="${code}"}`;
const hist = (suffix, route, method, le) =>
  `picogram_http_request_duration_seconds_${suffix}{route="${route}",method="${method}"${le ? `,le="${le}"` : ''}}`;

function promtool(text) {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text });
  assert.equal(r.error, undefined, `promtool: ${r.error?.message} (scripts/deps.sh test installs Debian's prometheus)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('metrics are off unless metrics_listen is set', { skip: external }, async () => {
  const srv = await startServer();
  try {
    assert.doesNotMatch(srv.stderr(), /metrics on/);
    // and the API's listener never serves them
    const res = await fetch(`${srv.url}/metrics`);
    assert.doesNotMatch(res.headers.get('content-type') || '', /version=0\.0\.4/);
    assert.doesNotMatch(await res.text(), /picogram_http_requests_total/);
  } finally {
    await srv.stop();
  }
});

test('a bad metrics_listen, or one in use, stops the server from starting', { skip: external }, async () => {
  for (const [value, why] of [['nonsense', /metrics_listen: 'nonsense' \(expected HOST:PORT\)/], ['127.0.0.1:99999', /metrics_listen/]]) {
    const r = spawnSync(serverBinary(), ['serve', '--listen', '127.0.0.1:0', '--data', '/nonexistent/never', '--metrics-listen', value],
      { timeout: 10_000 });
    assert.notEqual(r.status, 0, `${value}: should not start`);
    assert.match(r.stderr.toString(), why);
  }
  const port = await freePort();
  const first = await startServer(['--metrics-listen', `127.0.0.1:${port}`]);
  try {
    await assert.rejects(startServer(['--metrics-listen', `127.0.0.1:${port}`]), /metrics_listen: cannot listen on 127\.0\.0\.1:\d+/);
  } finally {
    await first.stop();
  }
});

test('requests are counted by route, method and status, with latency that adds up', { skip: external, timeout: 60_000 }, async () => {
  const port = await freePort();
  const srv = await startServer(['--metrics-listen', `127.0.0.1:${port}`]);
  try {
    assert.match(srv.stderr(), new RegExp(`metrics on http://127\\.0\\.0\\.1:${port}/metrics`));
    const u = await signup(srv.url, uniqueName('met'));
    const v = await signup(srv.url, uniqueName('met'));
    const before = await scrape(port);
    assert.equal(before.contentType, 'text/plain; version=0.0.4; charset=utf-8');

    for (let i = 0; i < 3; i++) assert.equal((await api(srv.url, 'GET', `/v1/users/${v.user.id}`, { token: u.token })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await api(srv.url, 'GET', '/v1/users/self')).status, 400);
    assert.equal((await api(srv.url, 'GET', '/v1/no/such/thing')).status, 404);
    assert.equal((await api(srv.url, 'POST', `/v1/users/${v.user.id}/relationship`, { token: u.token, form: { action: 'follow' } })).status, 200);
    assert.equal((await api(srv.url, 'POST', `/v1/users/${v.user.id}/relationship`, { token: u.token, form: { action: 'bogus' } })).status, 400);
    // POST with _method=DELETE counts as the DELETE it is
    const unlike = await api(srv.url, 'POST', '/v1/media/123456789/likes', { token: u.token, form: { _method: 'DELETE' } });
    for (let i = 0; i < 4; i++) assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    const head = await fetch(`${srv.url}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);

    const settled = await poll(async () => {
      const s = await scrape(port);
      return get(s, 'picogram_http_requests_in_flight') === 0 ? s : null;
    }, { timeout: 5000 });
    assert.ok(settled.ok, 'no request in flight once all are answered');
    const after = settled.value;
    const delta = (key) => get(after, key) - get(before, key);
    assert.equal(delta(requests('/v1/users/{id}', 'GET', '200')), 3);
    assert.equal(delta(requests('/v1/users/{id}', 'GET', '400')), 2);
    assert.equal(delta(requests('(unmatched)', 'GET', '404')), 1);
    assert.equal(delta(requests('/v1/users/{id}/relationship', 'POST', '200')), 1);
    assert.equal(delta(requests('/v1/users/{id}/relationship', 'POST', '400')), 1);
    assert.equal(delta(requests('/healthz', 'GET', '200')), 4);
    assert.equal(delta(requests('/healthz', 'HEAD', '200')), 1);
    assert.equal(delta(requests('/v1/media/{id}/likes', 'DELETE', String(unlike.status))), 1);
    assert.equal(delta(requests('/v1/media/{id}/likes', 'POST', String(unlike.status))), 0);

    // the histogram: cumulative buckets, +Inf equal to the count, and the
    // count equal to the requests of every status
    for (const [route, method, n] of [['/v1/users/{id}', 'GET', 5], ['/healthz', 'GET', 4], ['/v1/users/{id}/relationship', 'POST', 2]]) {
      assert.equal(delta(hist('count', route, method)), n, `${method} ${route}: count`);
      assert.equal(delta(hist('bucket', route, method, '+Inf')), n, `${method} ${route}: +Inf`);
      let last = 0;
      for (const le of ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']) {
        const c = get(after, hist('bucket', route, method, le));
        assert.ok(c >= last, `${method} ${route}: bucket ${le} (${c}) below the one before (${last})`);
        last = c;
      }
      assert.ok(delta(hist('sum', route, method)) > 0, `${method} ${route}: the sum grew`);
      assert.ok(delta(hist('sum', route, method)) < n * 10, `${method} ${route}: the sum is in seconds`);
    }
    // no label carries an ID: only patterns
    for (const key of after.samples.keys()) {
      assert.doesNotMatch(key, new RegExp(`${u.user.id}|${v.user.id}`), `a per-user label: ${key}`);
      assert.doesNotMatch(key, /route="[^"]*\/\d+/, `a path with an ID as a route: ${key}`);
    }
    // the follow was a write: it waited on the work pool (embedded) or ran
    // on the request pool (networked databases)
    const taken = ['request', 'work'].map((p) => delta(`picogram_workpool_wait_seconds_count{pool="${p}"}`));
    assert.ok(taken[0] + taken[1] >= 1, `work taken by a pool: ${taken}`);
    assert.ok(after.samples.has('picogram_workpool_queue_depth{pool="hash"}'));
    assert.ok(delta('picogram_cache_hits_total') + delta('picogram_cache_misses_total') > 0, 'the user reads looked in the cache');
    assert.ok(get(after, 'process_resident_memory_bytes') > 1 << 20);
    assert.ok(get(after, 'process_open_fds') >= 5);
    assert.ok(get(after, 'process_cpu_seconds_total') > 0);
    assert.ok(Math.abs(get(after, 'process_start_time_seconds') - Date.now() / 1000) < 120);

    const lint = promtool(after.text);
    assert.equal(lint.status, 0, `promtool check metrics:\n${lint.out}`);

    // only GET and HEAD /metrics
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics/x`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);
  } finally {
    await srv.stop();
  }
});

test('refusals by the rate limit are counted', { skip: external }, async () => {
  const port = await freePort();
  const srv = await startServer(['--metrics-listen', `127.0.0.1:${port}`, '--rate-limit', '3']);
  try {
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await api(srv.url, 'GET', '/v1/users/self')).status);
    assert.deepEqual(codes, [400, 400, 400, 429, 429]); // no token: the client address's budget
    const s = await scrape(port);
    assert.equal(get(s, 'picogram_ratelimit_refusals_total'), 2);
    assert.equal(get(s, requests('/v1/users/{id}', 'GET', '429')), 2);
  } finally {
    await srv.stop();
  }
});

test('every database is up, and the job backlog shows: due, its age, then run', { skip: external, timeout: 60_000 }, async () => {
  const port = await freePort();
  // no runner in this process: jobs wait in the outbox (with PostgreSQL,
  // other servers' runners on the same databases may take them)
  const srv = await startServer(['--metrics-listen', `127.0.0.1:${port}`, '--job-threads', '0']);
  try {
    const s0 = await scrape(port);
    const dbs = [...s0.samples.keys()].filter((k) => k.startsWith('picogram_database_up{'));
    assert.equal(dbs.length, topology === 'pg' ? 2 : topology === 'sqlite2' ? 2 : 1, dbs.join(' '));
    for (const k of dbs) assert.equal(get(s0, k), 1, `${k} is up`);
    if (topology !== 'embedded') return;
    const a = await signup(srv.url, uniqueName('mjob'));
    const b = await signup(srv.url, uniqueName('mjob'));
    assert.equal((await api(srv.url, 'POST', `/v1/users/${a.user.id}/relationship`, { token: b.token, form: { action: 'follow' } })).status, 200);
    const up = await uploadPhoto(srv.url, { token: a.token, photo: 'tiny-1x1.jpg' });
    assert.equal(up.status, 200, show(up));
    await new Promise((r) => setTimeout(r, 1200));
    const s1 = await scrape(port);
    assert.equal(get(s1, 'picogram_jobs_due{kind="fanout"}'), 1);
    assert.equal(get(s1, 'picogram_jobs_queued{kind="fanout"}'), 1);
    assert.ok(get(s1, 'picogram_jobs_oldest_due_seconds{kind="fanout"}') >= 1, 'the fan-out has waited');
    assert.equal(get(s1, 'picogram_job_runs_total{kind="fanout",outcome="done"}'), 0);
  } finally {
    await srv.stop();
  }
  if (topology !== 'embedded') return;
  // a server with a runner: the fan-out runs, the backlog empties
  const port2 = await freePort();
  const srv2 = await startServer(['--metrics-listen', `127.0.0.1:${port2}`]);
  try {
    const a = await signup(srv2.url, uniqueName('mjob'));
    const b = await signup(srv2.url, uniqueName('mjob'));
    await api(srv2.url, 'POST', `/v1/users/${a.user.id}/relationship`, { token: b.token, form: { action: 'follow' } });
    assert.equal((await uploadPhoto(srv2.url, { token: a.token, photo: 'tiny-1x1.jpg' })).status, 200);
    const ran = await poll(async () => {
      const s = await scrape(port2);
      return get(s, 'picogram_job_runs_total{kind="fanout",outcome="done"}') >= 1 && get(s, 'picogram_jobs_due{kind="fanout"}') === 0;
    }, { timeout: 10_000, interval: 100 });
    assert.ok(ran.ok, 'the fan-out ran and nothing is due');
    // and what it wrote: one follower's timeline; the upload, stored, with
    // its pipeline time; a photo that is not one, rejected
    const bad = await uploadPhoto(srv2.url, { token: a.token, photo: Buffer.from('not a photo at all'), filename: 'x.jpg' });
    assert.equal(bad.status, 400, show(bad));
    const s = await scrape(port2);
    assert.equal(get(s, 'picogram_fanout_timelines_total'), 1);
    assert.equal(get(s, 'picogram_uploads_total{outcome="stored"}'), 1);
    assert.equal(get(s, 'picogram_uploads_total{outcome="rejected"}'), 1);
    assert.equal(get(s, 'picogram_uploads_total{outcome="failed"}'), 0);
    assert.equal(get(s, 'picogram_image_pipeline_seconds_count'), 2);
    assert.ok(get(s, 'picogram_image_pipeline_seconds_sum') > 0);
  } finally {
    await srv2.stop();
  }
});

test('database calls are timed per physical database, as a histogram that adds up', { skip: external, timeout: 60_000 }, async () => {
  const port = await freePort();
  const srv = await startServer(['--metrics-listen', `127.0.0.1:${port}`]);
  try {
    const calls = (s, db) => get(s, `picogram_database_call_duration_seconds_count{database="${db}"}`);
    const s0 = await scrape(port);
    const dbs = [...s0.samples.keys()].filter((k) => k.startsWith('picogram_database_up{')).map((k) => /database="(\d+)"/.exec(k)[1]);
    const users = [];
    for (let i = 0; i < 6; i++) users.push(await signup(srv.url, uniqueName('mdb')));
    for (const u of users) assert.equal((await api(srv.url, 'GET', '/v1/users/self', { token: u.token })).status, 200);
    const s1 = await scrape(port);
    for (const db of dbs) {
      // every database gets calls (the users' rows, their names, the job runners' sweeps)
      assert.ok(calls(s1, db) > calls(s0, db), `database ${db}: ${calls(s0, db)} -> ${calls(s1, db)} calls`);
      let prev = 0;
      const bucket = (le) => get(s1, `picogram_database_call_duration_seconds_bucket{database="${db}",le="${le}"}`);
      for (const le of ['0.0001', '0.00025', '0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '5', '+Inf']) {
        assert.ok(bucket(le) >= prev, `database ${db}: buckets are cumulative at le=${le}`);
        prev = bucket(le);
      }
      assert.equal(bucket('+Inf'), calls(s1, db));
      const sum = get(s1, `picogram_database_call_duration_seconds_sum{database="${db}"}`);
      assert.ok(sum > 0 && sum < calls(s1, db) * 5, `database ${db}: sum ${sum} s over ${calls(s1, db)} calls`);
    }
    assert.equal(promtool(s1.text).status, 0, promtool(s1.text).out);
  } finally {
    await srv.stop();
  }
});

test('SQLite writes: the ops, the group commits they took and the WAL syncs, per database', { skip: external, timeout: 60_000 }, async () => {
  const port = await freePort();
  const srv = await startServer(['--metrics-listen', `127.0.0.1:${port}`]);
  try {
    const s0 = await scrape(port);
    const dbs = [...s0.samples.keys()].filter((k) => k.startsWith('picogram_database_up{')).map((k) => /database="(\d+)"/.exec(k)[1]);
    const w = (s, name, db) => get(s, `picogram_sqlite_${name}{database="${db}"}`);
    const sum = (s, name) => dbs.reduce((a, db) => a + w(s, name, db), 0);
    if (topology === 'pg') {
      // PostgreSQL has no writer of picogram's: no such series
      assert.ok(![...s0.samples.keys()].some((k) => k.startsWith('picogram_sqlite_')), s0.text);
      return;
    }
    const owner = await signup(srv.url, uniqueName('mwo'));
    const posted = await uploadPhoto(srv.url, { token: owner.token, photo: 'tiny-1x1.jpg' });
    assert.equal(posted.status, 200, show(posted));
    const users = [];
    for (let i = 0; i < 12; i++) users.push(await signup(srv.url, uniqueName('mwl')));
    const s1 = await scrape(port);
    // twelve likes at once: each is an op; some may share a commit
    const likes = await Promise.all(users.map((u) => api(srv.url, 'POST', `/v1/media/${posted.body.data.id}/likes`, { token: u.token })));
    for (const r of likes) assert.equal(r.status, 200, show(r));
    const s2 = await scrape(port);
    const ops = sum(s2, 'write_ops_total') - sum(s1, 'write_ops_total');
    const batches = sum(s2, 'write_batches_total') - sum(s1, 'write_batches_total');
    assert.ok(ops >= 12, `${ops} ops for 12 likes`);
    assert.ok(batches >= 1 && batches <= ops, `${batches} batches for ${ops} ops`);
    for (const db of dbs) {
      // sqlite_sync full (the default): each batch is made durable by a sync
      // of the WAL, one sync covering every batch committed before it
      const syncs = w(s2, 'wal_sync_seconds_count', db);
      assert.ok(syncs >= 1 && syncs <= w(s2, 'write_batches_total', db), `database ${db}: ${syncs} syncs`);
      assert.ok(w(s2, 'wal_sync_seconds_sum', db) > 0);
      assert.equal(w(s2, 'wal_sync_failed', db), 0);
      // a few likes are far from the 1,000 pages that wake the checkpointer
      assert.equal(w(s2, 'checkpoints_total', db), 0);
      assert.equal(w(s2, 'checkpoint_locks_total', db), 0);
    }
    // one database: the likes ran in write groups, each taking the writer's
    // lock once for all of its likes; two (sqlite2): each like alone, taking
    // it once a like
    const groups = get(s2, 'picogram_write_groups_total') - get(s1, 'picogram_write_groups_total');
    const grouped = get(s2, 'picogram_write_group_ops_total') - get(s1, 'picogram_write_group_ops_total');
    const takes = sum(s2, 'write_lock_wait_seconds_count') - sum(s1, 'write_lock_wait_seconds_count');
    if (dbs.length === 1) {
      assert.equal(grouped, 12, `${grouped} likes in write groups`);
      assert.ok(groups >= 1 && groups <= 12, `${groups} groups`);
      assert.ok(takes >= groups && takes <= 12, `the writer's lock taken ${takes} times for ${groups} groups`);
    } else {
      assert.equal(groups, 0, `${groups} groups across two databases`);
      assert.ok(takes >= 12, `the writer's lock taken ${takes} times for 12 likes`);
    }
    const held = sum(s2, 'write_lock_seconds_total') - sum(s1, 'write_lock_seconds_total');
    assert.ok(held > 0 && held < 30, `held ${held} s`);
    assert.ok(sum(s2, 'write_lock_wait_seconds_sum') >= sum(s1, 'write_lock_wait_seconds_sum'));
    // the WAL that took the likes holds their pages
    assert.ok(sum(s2, 'wal_pages') > 0, 'the WAL has pages');
    assert.ok(sum(s2, 'wal_sync_seconds_count') > sum(s1, 'wal_sync_seconds_count'), 'the likes were synced');
    assert.equal(promtool(s2.text).status, 0, promtool(s2.text).out);
  } finally {
    await srv.stop();
  }
});

test('a real Prometheus scrapes picogram and answers for its counter', { skip: external, timeout: 90_000 }, async () => {
  const port = await freePort();
  const srv = await startServer(['--metrics-listen', `127.0.0.1:${port}`]);
  const dir = await mkdtemp(path.join(tmpdir(), 'picogram-prom-'));
  let prom = null;
  try {
    for (let i = 0; i < 7; i++) assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
    const promPort = await freePort();
    await writeFile(path.join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: picogram\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`);
    prom = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let promErr = '';
    prom.stderr.on('data', (d) => { promErr += d; });
    const spawned = await new Promise((resolve) => { prom.on('spawn', () => resolve(null)); prom.on('error', resolve); });
    assert.equal(spawned, null, `prometheus: ${spawned?.message} (scripts/deps.sh test installs Debian's prometheus)`);
    const query = encodeURIComponent('picogram_http_requests_total{route="/healthz",method="GET",code="200"}');
    const seen = await poll(async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${query}`);
        const body = await r.json();
        const got = body?.data?.result?.[0];
        return got ? Number(got.value[1]) : null;
      } catch {
        return null; // not up yet
      }
    }, { timeout: 60_000, interval: 500 });
    assert.ok(seen.ok, `Prometheus never had the counter; it said:\n${promErr}`);
    assert.equal(seen.value, 7);
    // and it saw the target up
    const up = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=up`)).json();
    assert.equal(up.data.result[0].value[1], '1');
  } finally {
    if (prom && prom.exitCode === null) {
      const gone = new Promise((r) => prom.on('close', r));
      prom.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (prom.exitCode === null) prom.kill('SIGKILL');
    }
    await srv.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
