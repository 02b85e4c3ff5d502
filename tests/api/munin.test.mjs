// deploy/munin/picogram, the Munin plugin: its config names every field it
// fetches, and its values are the sums of picogram's own /metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startServer, api, signup, uniqueName, freePort, external, repoRoot } from './lib.mjs';

const plugin = path.join(repoRoot, 'deploy', 'munin', 'picogram');
const run = (url, arg) => execFileSync(plugin, arg ? [arg] : [], { env: { ...process.env, url } }).toString();

/** Munin's output as {graph: {field: value}}. */
function parse(text, suffix) {
  const graphs = {};
  let g = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('multigraph ')) { g = line.slice(11); graphs[g] = {}; continue; }
    const m = new RegExp(`^([a-z0-9_]+)\\.${suffix} (.*)$`).exec(line);
    if (m && g) graphs[g][m[1]] = m[2];
  }
  return graphs;
}

test('the Munin plugin reads /metrics', { skip: external }, async () => {
  const port = await freePort();
  const srv = await startServer(['--metrics-listen', `127.0.0.1:${port}`]);
  const url = `http://127.0.0.1:${port}/metrics`;
  try {
    assert.equal(run(url, 'autoconf').trim(), 'yes');
    assert.match(run('http://127.0.0.1:1/metrics', 'autoconf'), /^no /);
    const u = await signup(srv.url, uniqueName('munin'));
    for (let i = 0; i < 3; i++) assert.equal((await api(srv.url, 'GET', '/v1/users/self', { token: u.token })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await api(srv.url, 'GET', '/v1/users/self')).status, 400);

    const fetched = parse(run(url), 'value');
    const text = await (await fetch(url)).text();
    const byClass = {};
    let sum = 0;
    let count = 0;
    for (const line of text.split('\n')) {
      const m = /^picogram_http_requests_total\{.*code="(\d)\d\d"\} (\d+)$/.exec(line);
      if (m) byClass[m[1]] = (byClass[m[1]] || 0) + Number(m[2]);
      const s = /^picogram_http_request_duration_seconds_sum\{.*\} ([\d.]+)$/.exec(line);
      if (s) sum += Number(s[1]);
      const c = /^picogram_http_request_duration_seconds_count\{.*\} (\d+)$/.exec(line);
      if (c) count += Number(c[1]);
    }
    const req = fetched.picogram_requests;
    assert.ok(Number(req.r2xx) >= 4, JSON.stringify(req)); // the sign-up and three reads
    assert.equal(Number(req.r2xx), byClass[2]);
    assert.equal(Number(req.r4xx), byClass[4]);
    assert.equal(Number(req.r4xx), 2);
    assert.equal(Number(req.r5xx), 0);
    assert.equal(Number(fetched.picogram_latency.count), count);
    assert.ok(Math.abs(Number(fetched.picogram_latency.sum) - sum * 1e6) <= count + 1, `${fetched.picogram_latency.sum} µs vs ${sum} s`);
    assert.ok(Number(fetched.picogram_memory.rss) > 1 << 20);
    assert.equal(fetched.picogram_jobs.dead, '0');

    // every field fetched has a label in config, under the same graph
    const labels = parse(run(url, 'config'), 'label');
    for (const [g, fields] of Object.entries(fetched)) {
      assert.ok(labels[g], `config has graph ${g}`);
      for (const f of Object.keys(fields)) assert.ok(labels[g][f], `config labels ${g}.${f}`);
    }
  } finally {
    await srv.stop();
  }
});
