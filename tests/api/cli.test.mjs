// The command line: help, one-line errors with exit code 2, precedence of
// flags over environment over config file, and `picogram migrate`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serverBinary, startServer, api, external, repoRoot } from './lib.mjs';

function run(args, env = {}) {
  const r = spawnSync(serverBinary(), args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function assertUsageError(r, mention) {
  assert.equal(r.code, 2, `exit code: ${JSON.stringify(r)}`);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.err}`);
  assert.match(lines[0], /^picogram: /);
  assert.ok(lines[0].includes(mention), `${lines[0]} should name ${mention}`);
}

test('help texts describe the commands and every setting', { skip: external }, () => {
  const top = run(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.out, /serve/);
  assert.match(top.out, /migrate/);
  const serve = run(['serve', '--help']);
  assert.equal(serve.code, 0);
  for (const flag of ['--config', '--listen', '--data', '--threads', '--workers', '--rate-limit', '--max-body',
    '--max-upload', '--public-url', '--database', '--access-log'])
    assert.ok(serve.out.includes(flag), `serve --help mentions ${flag}`);
  assert.match(serve.out, /PICOGRAM_/);
});

test('bad flags, environment and config files: one line, exit 2', { skip: external }, async () => {
  assertUsageError(run(['serve', '--threads', 'abc']), 'threads');
  assertUsageError(run(['serve', '--bogus', '1']), 'bogus');
  assertUsageError(run(['serve', '--listen']), 'listen');
  assertUsageError(run(['serve', '--listen', 'nocolon']), 'listen');
  assertUsageError(run(['serve', '--max-body', '2m', '--max-upload', '1m']), 'max_body');
  assertUsageError(run(['serve', 'stray']), 'stray');
  assertUsageError(run(['serve'], { PICOGRAM_THREADS: 'lots' }), 'PICOGRAM_THREADS');
  assertUsageError(run(['serve', '--config', '/nonexistent/picogram.conf']), '/nonexistent/picogram.conf');
  const dir = await mkdtemp(path.join(tmpdir(), 'picogram-cli-'));
  const conf = path.join(dir, 'bad.conf');
  await writeFile(conf, 'listen = 127.0.0.1:0\nthreads = zero\n');
  assertUsageError(run(['serve', '--config', conf]), `${conf}:2`);
  await rm(dir, { recursive: true, force: true });
  const r = run(['frobnicate']);
  assert.equal(r.code, 2);
});

test('flags win over the environment, which wins over the file', { skip: external }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'picogram-cli-'));
  const conf = path.join(dir, 'picogram.conf');
  await writeFile(conf, '# test\nrate_limit = 7\naccess_log = off\n');
  const limitOf = async (args, env) => {
    const s = await startServer(['--config', conf, ...args], env);
    try {
      const r = await api(s.url, 'GET', '/v1/nothing');
      return r.headers.get('x-ratelimit-limit');
    } finally {
      await s.stop();
    }
  };
  assert.equal(await limitOf([], {}), '7');
  assert.equal(await limitOf([], { PICOGRAM_RATE_LIMIT: '8' }), '8');
  assert.equal(await limitOf(['--rate-limit', '9'], { PICOGRAM_RATE_LIMIT: '8' }), '9');
  assert.equal(await limitOf(['--rate-limit=10'], { PICOGRAM_CONFIG: '/nonexistent' }), '10'); // --config wins too
  await rm(dir, { recursive: true, force: true });
});

test('migrate creates the schema once, then reports it current', { skip: external }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'picogram-cli-'));
  const first = run(['migrate', '--data', dir]);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /schema version 0 -> \d+/);
  const again = run(['migrate', '--data', dir]);
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /schema version (\d+) = \1/);
  await rm(dir, { recursive: true, force: true });
});

test('shards move: bad ranges, a missing --to, a bad --catch-up-seconds, SQLite databases and no move to resume: one line, exit 2', { skip: external }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'picogram-move-cli-'));
  const db = ['--data', dir, '--database', `sqlite:${path.join(dir, 'a.db')}`];
  const to = ['--to', 'postgres://picogram@127.0.0.1:1/picogram'];
  assert.equal(run(['migrate', ...db]).code, 0);
  for (const range of ['abc', '5-', '9000', '10-3', '1-2-3'])
    assertUsageError(run(['shards', 'move', range, ...to, ...db]), 'bad range');
  assertUsageError(run(['shards', 'move', '5', ...db]), 'usage');
  assertUsageError(run(['shards', 'move', '--resume', '--abort', ...db]), '--resume');
  assertUsageError(run(['shards', 'move', '5', '--resume', ...to, ...db]), '--resume');
  assertUsageError(run(['shards', 'move', '5', '--to', 'sqlite:/tmp/x.db', ...db]), 'PostgreSQL URL');
  assertUsageError(run(['shards', 'move', '5', ...to, ...db]), 'PostgreSQL servers');
  assertUsageError(run(['shards', 'move', '--resume', ...db]), 'PostgreSQL servers');
  for (const n of ['0', '3601', '1.5', 'x', ''])
    assertUsageError(run(['shards', 'move', '5', ...to, '--catch-up-seconds', n, ...db]), '--catch-up-seconds');
  assertUsageError(run(['shards', 'move', '--abort', '--catch-up-seconds', '5', ...db]), '--catch-up-seconds');
  const help = run(['shards', 'move', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--drop-source/);
  assert.match(help.out, /--catch-up-seconds/);
  const json = JSON.parse(run(['shards', '--json', ...db]).out);
  assert.equal(json.epoch, 0);
  assert.deepEqual(json.ranges.map((r) => r.range), [[0, 8191]]);
  assert.deepEqual(json.moves, []);
  await rm(dir, { recursive: true, force: true });
});

test('scripts/cluster.sh refuses a directory with white space in its path at once, starting nothing', { skip: external }, async () => {
  const base = await mkdtemp(path.join(tmpdir(), 'picogram cluster '));
  try {
    const script = path.join(repoRoot, 'scripts', 'cluster.sh');
    for (const args of [['up', path.join(base, 'c')], ['restore', path.join(tmpdir(), 'no-such-backup'), path.join(base, 'c')]]) {
      const r = spawnSync(script, args, { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /^cluster\.sh: .* must have no white space in its path/, args[0]);
      assert.equal(spawnSync('ls', ['-A', base], { encoding: 'utf8' }).stdout, '', `${args[0]} made nothing under ${base}`);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
