// Harness for picogram's black-box HTTP API tests (node:test, node:http).
//
// startServer() spawns build/picogram on a free port with a fresh data
// directory, unless PICOGRAM_URL is set, in which case the suite runs
// against that already-running server (tests that need special flags then
// skip themselves: see `external`).
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';
import { existsSync, readFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import assert from 'node:assert/strict';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

// Every process the suite starts hashes new passwords at the lowest cost
// (the password_hash setting), unless told otherwise: the suite signs up
// thousands of users, and at the default cost (0.2 s of a core each) that
// was 40% of its CPU. The tests about hashing's cost and its queue
// (accounts, flood) ask for the default.
process.env.PICOGRAM_PASSWORD_HASH ??= 'minimum';

/** True when the suite runs against an external server (PICOGRAM_URL). */
export const external = Boolean(process.env.PICOGRAM_URL);
/**
 * Why a test is skipped behind a proxy (PICOGRAM_TEST_PROXIED, with
 * PICOGRAM_URL naming nginx in front of the servers): nginx answers
 * malformed HTTP itself and speaks no h2c, so those tests would test nginx.
 * False when not proxied.
 */
export const proxied = process.env.PICOGRAM_TEST_PROXIED ? 'nginx answers malformed HTTP and h2c itself' : false;

const STDERR_MAX = 1 << 20;

/*
 * The error lines of every server a test file starts, kept in
 * $PICOGRAM_TEST_OUT/server-errors/<file>.log (when that is set, as make
 * test sets it), so that a failure (a 500, say) shows its cause: tests/run.sh
 * prints the file of each test file that failed.
 */
const ERRORS_FILE = process.env.PICOGRAM_TEST_OUT && process.argv[1]
  ? path.join(process.env.PICOGRAM_TEST_OUT, 'server-errors', `${path.basename(process.argv[1])}.log`) : null;
/** A function taking a process's stderr chunks that keeps their error lines. */
export function errorLineKeeper(name) {
  let partial = '';
  return (chunk) => {
    if (!ERRORS_FILE) return;
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop().slice(-4096);
    const errors = lines.filter((l) => /^\S+Z error /.test(l));
    if (!errors.length) return;
    try {
      mkdirSync(path.dirname(ERRORS_FILE), { recursive: true });
      appendFileSync(ERRORS_FILE, errors.map((l) => `${name}: ${l}\n`).join(''));
    } catch { /* diagnostics only */ }
  };
}
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export function serverBinary() {
  const bin = process.env.PICOGRAM_BIN || path.join(repoRoot, 'build', 'picogram');
  return path.resolve(repoRoot, bin);
}

/**
 * Starts a server. Returns {url, proc, dataDir, stderr(), stop()}; with
 * PICOGRAM_URL set, {url, stop} only (and extraArgs/env are ignored).
 */
/**
 * The topology the suite runs on (PICOGRAM_TEST_TOPOLOGY): 'embedded' (the
 * default: one SQLite file), 'sqlite2' (the logical shards split over two
 * SQLite files, the cheapest way to catch a cross-shard bug), or 'pg' (two
 * PostgreSQL servers, each behind pgbouncer, as `scripts/cluster.sh up DIR`
 * started them: PICOGRAM_TEST_CLUSTER=DIR; each server gets two fresh
 * databases, migrated).
 */
export const topology = process.env.PICOGRAM_TEST_TOPOLOGY || 'embedded';

/** The cluster's ports (PICOGRAM_TEST_CLUSTER/cluster.env), for the 'pg' topology. */
export function clusterEnv() {
  const dir = process.env.PICOGRAM_TEST_CLUSTER;
  assert.ok(dir, 'the pg topology needs PICOGRAM_TEST_CLUSTER (a scripts/cluster.sh directory)');
  const env = {};
  for (const line of readFileSync(path.join(dir, 'cluster.env'), 'utf8').split('\n')) {
    const m = /^(\w+)="?([^"]*)"?$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return { dir, pgPorts: env.PG_PORTS.split(' ').map(Number), bouncerPorts: env.BOUNCER_PORTS.split(' ').map(Number),
    redisPort: Number(env.REDIS_PORT), memcachedPorts: (env.MEMCACHED_PORTS || '').split(' ').filter(Boolean).map(Number),
    gearmandPort: Number(env.GEARMAND_PORT) };
}

/** psql against PostgreSQL server i of the test cluster (direct, not through pgbouncer). */
export function psql(i, sql, db = 'postgres') {
  const { pgPorts } = clusterEnv();
  return execFileSync('/usr/lib/postgresql/15/bin/psql', ['-h', '127.0.0.1', '-p', String(pgPorts[i]), '-U', 'picogram',
    '-d', db, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql]).toString();
}

/** The logical shard of an ID (a media ID "ID_USER" too). */
export const shardOf = (id) => Number((BigInt(String(id).split('_')[0]) >> 10n) & 8191n);

const clusterScript = path.join(repoRoot, 'scripts', 'cluster.sh');

/** psql on the picogram database of PostgreSQL server i of the scripts/cluster.sh cluster in dir, as it is now
 * (cluster.env: after a failover, the promoted replica). Trimmed rows, unaligned. */
export function psqlOn(dir, i, sql) {
  const ports = /PG_PORTS="(\d+) (\d+)"/.exec(readFileSync(path.join(dir, 'cluster.env'), 'utf8'));
  return execFileSync('/usr/lib/postgresql/15/bin/psql', ['-h', '127.0.0.1', '-p', ports[1 + i], '-U', 'picogram',
    '-d', 'picogram', '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
}

/**
 * A cluster of a test's own, for tests that stop, kill, move or restore its
 * parts: scripts/cluster.sh with its databases only (CLUSTER_SERVE=0,
 * PG_FSYNC=off, and env), in a new temporary directory. {dir, env,
 * cluster(...args) (the script, its output), psql(i, sql), stop(servers)
 * (the servers SIGTERMed and awaited, then the cluster down and its
 * directory removed)}. Call cluster('up', dir) to start it.
 */
export async function ownCluster(prefix, env = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const e = { ...process.env, CLUSTER_SERVE: '0', PG_FSYNC: 'off', ...env };
  const cluster = (...args) => execFileSync(clusterScript, args, { env: e, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  return {
    dir, env: e, cluster, psql: (i, sql) => psqlOn(dir, i, sql),
    async stop(servers = [], dirs = [dir]) {
      for (const s of servers.filter(Boolean)) {
        s.proc.kill('SIGTERM');
        await s.exited;
      }
      for (const d of dirs) {
        try { cluster('down', d); } catch { /* best effort: it may not have come up */ }
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const pgDatabases = new Map(); // dataDir -> database URL spec
/** Two fresh databases, migrated, for a server of the 'pg' topology: its --database value. */
function pgDatabase(dataDir) {
  if (pgDatabases.has(dataDir)) return pgDatabases.get(dataDir);
  const { bouncerPorts } = clusterEnv();
  const name = `t_${randomBytes(6).toString('hex')}`;
  for (let i = 0; i < 2; i++) psql(i, `CREATE DATABASE ${name}`);
  const spec = `0-4095=postgres://picogram@127.0.0.1:${bouncerPorts[0]}/${name};`
    + `4096-8191=postgres://picogram@127.0.0.1:${bouncerPorts[1]}/${name}`;
  // pgbouncer gives a client 1 s to get a server connection (query_wait_timeout,
  // deploy/pgbouncer.ini: fast 503s while a server is down); a new database's
  // first connections can take longer on a loaded CI machine, and this is the
  // tests' setup, not what they test: so a migrate that met it runs again
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync(serverBinary(), ['migrate', '--database', spec, '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      break;
    } catch (e) { // say why: the command's own words
      const why = `${e.stderr}${e.stdout}`;
      if (attempt < 3 && /query_wait_timeout/.test(why)) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
        continue;
      }
      throw new Error(`picogram migrate failed (${e.status}): ${why}`);
    }
  }
  pgDatabases.set(dataDir, spec);
  return spec;
}

/** The SQLite files of a server's data directory in this topology (none on PostgreSQL). */
export function dbFiles(dataDir) {
  if (topology === 'pg') return [];
  return topology === 'sqlite2' ? [path.join(dataDir, 'shards-a.db'), path.join(dataDir, 'shards-b.db')]
    : [path.join(dataDir, 'picogram.db')];
}

/**
 * The databases of a server with this data directory, as check_db.py and
 * sqlExec take them: SQLite files, or postgresql:// URLs straight to the
 * PostgreSQL servers (not through pgbouncer).
 */
export function dbTargets(dataDir) {
  if (topology !== 'pg') return dbFiles(dataDir);
  const spec = pgDatabases.get(dataDir);
  assert.ok(spec, `no databases made for ${dataDir}`);
  const name = /\/(t_[0-9a-f]+)/.exec(spec)[1];
  return clusterEnv().pgPorts.map((p) => `postgresql://picogram@127.0.0.1:${p}/${name}`);
}

/** Runs the picogram binary with args; stdin if given. Resolves {code, out, err}. */
export function runPicogram(args, stdin = '', { timeout = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(serverBinary(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, out, err }); });
    // a command that exits without reading its input (a refusal) closes
    // the pipe first: EPIPE here, which is not the test's failure
    p.stdin.on('error', () => {});
    p.stdin.end(stdin);
  });
}

/**
 * Runs `picogram admin ARGS` with the settings of the server on dataDir
 * (any topology); stdin if given. Resolves {code, out, err}.
 */
export function runAdmin(dataDir, args, stdin = '', opts = {}) {
  return runPicogram(['admin', ...args, '--data', dataDir, ...topologyArgs(dataDir)], stdin, opts);
}

/**
 * For the SQLite databases of dataDir and the photo files given (paths under
 * photos/media): {rows, rowsWithoutFiles, filesWithoutRows}.
 */
export function photoDisagreement(dataDir, files) {
  const rows = new Set();
  for (const db of dbFiles(dataDir)) {
    const out = execFileSync('/usr/bin/python3', ['-c', 'import sys, sqlite3\n'
      + 'for i, k in sqlite3.connect(sys.argv[1]).execute("SELECT id, file_key FROM media"): print(i, k)', db],
    { encoding: 'utf8' });
    for (const line of out.split('\n').filter(Boolean)) {
      const [id, key] = line.split(' ').map(BigInt);
      const stem = key === 0n ? `${id}` : `${id}_${key.toString(16).padStart(16, '0')}`;
      rows.add(`${(id >> 10n) & 8191n}/${stem}`);
    }
  }
  const have = new Map();
  for (const f of files) {
    const m = /^(\d+)\/(\d+(?:_[0-9a-f]{16})?)_[tlsh]\.jpg$/.exec(f);
    assert.ok(m, `an unexpected file ${f}`);
    const k = `${m[1]}/${m[2]}`;
    have.set(k, (have.get(k) || 0) + 1);
  }
  return {
    rows: rows.size,
    rowsWithoutFiles: [...rows].filter((r) => have.get(r) !== 4),
    filesWithoutRows: [...have.keys()].filter((k) => !rows.has(k)),
  };
}

/** Python that connects c to the database URL or SQLite file in sys.argv[1] and runs sys.argv[2] on cur. */
const PY_SQL = 'import sys\n'
  + 'if sys.argv[1].startswith("postgresql:"):\n import psycopg2; c = psycopg2.connect(sys.argv[1])\n'
  + 'else:\n import sqlite3; c = sqlite3.connect(sys.argv[1])\n'
  + 'cur = c.cursor(); cur.execute(sys.argv[2])\n';

/** Runs one SQL statement on every database of a server (any topology). */
export function sqlExec(dataDir, sql) {
  for (const t of dbTargets(dataDir)) execFileSync('/usr/bin/python3', ['-c', `${PY_SQL}c.commit()`, t, sql]);
}

/** The rows a query gives on every database of a server (any topology), each row's columns joined by a tab. */
export function sqlRows(dataDir, sql) {
  const rows = [];
  for (const t of dbTargets(dataDir)) {
    const out = execFileSync('/usr/bin/python3', ['-c', `${PY_SQL}for r in cur.fetchall(): print("\\t".join(str(v) for v in r))`,
      t, sql], { encoding: 'utf8' });
    rows.push(...out.split('\n').filter(Boolean));
  }
  return rows;
}

/** The flags that put a server with this data directory on the topology. */
export function topologyArgs(dataDir) {
  if (topology === 'sqlite2') {
    const [a, b] = dbFiles(dataDir);
    // and every request on the request threads, as PostgreSQL's are (the pg
    // topology tries them on the loop first: dispatch auto)
    return ['--database', `0-4095=sqlite:${a};4096-8191=sqlite:${b}`, '--dispatch', 'pool'];
  }
  // (and the cluster's Redis, which holds the home timelines, its memcached
  // instances, the object cache, and its gearmand, which carries the jobs)
  if (topology === 'pg') {
    const env = clusterEnv();
    const redis = `redis://127.0.0.1:${env.redisPort}`;
    const cache = `memcached://${env.memcachedPorts.map((p) => `127.0.0.1:${p}`).join(',')}`;
    return ['--database', pgDatabase(dataDir), '--redis', redis, '--feed-store', redis, '--cache', cache,
      '--job-server', `gearman://127.0.0.1:${env.gearmandPort}`];
  }
  return [];
}

export async function startServer(extraArgs = [], env = {}) {
  if (process.env.PICOGRAM_URL) {
    return { url: process.env.PICOGRAM_URL.replace(/\/+$/, ''), stop: async () => ({ code: null, signal: null }), stderr: () => '' };
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-api-'));
  const args = ['serve', '--listen', '127.0.0.1:0', '--data', dataDir, '--threads', '2', '--workers', '2',
    ...topologyArgs(dataDir), ...extraArgs];
  const proc = spawn(serverBinary(), args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  let err = '';
  const append = (chunk) => {
    err += chunk.toString('utf8');
    if (err.length > STDERR_MAX) err = err.slice(err.length - STDERR_MAX);
  };
  proc.stderr.on('data', append);
  proc.stderr.on('data', errorLineKeeper(`serve ${proc.pid}`));

  let exited = null; // {code, signal} once the process is gone
  const exitPromise = new Promise((resolve) => {
    // 'close' comes after 'exit' and after stderr has been read to its end
    proc.on('close', (code, signal) => {
      exited = exited?.error ? exited : { code, signal };
      resolve(exited);
    });
    proc.on('error', (e) => {
      append(`\n[spawn error: ${e.message}]\n`);
      exited = exited || { code: null, signal: null, error: e };
      resolve(exited);
    });
  });

  let url;
  try {
    url = await new Promise((resolve, reject) => {
      let settled = false;
      const check = () => {
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
        if (m && !settled) {
          cleanup();
          resolve(m[1]);
        }
      };
      const onExit = () => {
        if (settled) return;
        cleanup();
        reject(new Error(`picogram exited before listening (${JSON.stringify(exited)}); stderr:\n${err}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`picogram did not report 'listening on' within ${START_TIMEOUT_MS} ms; stderr:\n${err}`));
      }, START_TIMEOUT_MS);
      const cleanup = () => {
        settled = true;
        clearTimeout(timer);
        proc.stderr.off('data', check);
      };
      proc.stderr.on('data', check);
      exitPromise.then(() => {
        if (!settled) onExit();
      });
      check();
    });
  } catch (e) {
    if (!exited) proc.kill('SIGKILL');
    await exitPromise;
    await rm(dataDir, { recursive: true, force: true });
    throw e;
  }

  let stopped = null;
  async function stop() {
    if (stopped) return stopped;
    stopped = (async () => {
      if (!exited) {
        proc.kill('SIGTERM');
        let timer;
        const timedOut = await Promise.race([
          exitPromise.then(() => false),
          new Promise((r) => {
            timer = setTimeout(() => r(true), STOP_TIMEOUT_MS);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut && !exited) {
          proc.kill('SIGKILL');
        }
      }
      const res = await exitPromise;
      await rm(dataDir, { recursive: true, force: true });
      return { code: res.code, signal: res.signal };
    })();
    return stopped;
  }

  return { url, proc, dataDir, stderr: () => err, stop, exited: () => exited };
}

function encodeForm(obj) {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    sp.append(k, String(v));
  }
  return sp.toString();
}

/**
 * One request. Options: query (object or raw string), form (object or raw
 * string, sent as x-www-form-urlencoded), json (value, or raw string),
 * token (Bearer), headers, body (raw; Buffer or string, sent as is).
 * Returns {status, headers, body, text}: body is the parsed JSON or null.
 */
export async function api(url, method, p, opts = {}) {
  const { query, form, json, token, headers = {}, body } = opts;
  let target = url + p;
  if (query !== undefined) {
    const qs = typeof query === 'string' ? query : encodeForm(query);
    target += (target.includes('?') ? '&' : '?') + qs;
  }
  const h = { ...headers };
  let payload;
  if (form !== undefined) {
    payload = typeof form === 'string' ? form : encodeForm(form);
    if (!hasHeader(h, 'content-type')) h['content-type'] = 'application/x-www-form-urlencoded';
  } else if (json !== undefined) {
    payload = typeof json === 'string' ? json : JSON.stringify(json);
    if (!hasHeader(h, 'content-type')) h['content-type'] = 'application/json';
  } else if (body !== undefined) {
    payload = body;
  }
  if (token !== undefined && token !== null) h.authorization = `Bearer ${token}`;
  const res = await request(target, method, h, payload);
  const text = res.text;
  let parsed = null;
  try {
    parsed = text.length ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

// The suite's requests go through node:http with a keep-alive agent, not
// fetch: fetch (undici) cost the test processes about twice the CPU per
// request, and the suite makes a great many on two cores. What fetch did
// and the tests rely on is kept: the headers as received (duplicates
// joined), the standard methods' names in capitals, redirects followed, a
// connection failure a TypeError('fetch failed') with its cause. Free sockets close after 4 s (as fetch's), before a
// server's idle timeout can race a request onto a closing one.
const agent = new http.Agent({ keepAlive: true, timeout: 4000 });
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function request(target, method, headers, payload, hops = 0, retried = false) {
  const u = new URL(target);
  if (u.protocol !== 'http:') {
    return fetch(target, { method, headers, body: payload }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }));
  }
  if (/^(delete|get|head|options|post|put)$/i.test(method)) method = method.toUpperCase();
  const body = payload === undefined ? undefined
    : payload instanceof Uint8Array || payload instanceof ArrayBuffer ? Buffer.from(payload) : Buffer.from(String(payload));
  const h = { ...headers };
  if (body !== undefined && !hasHeader(h, 'content-length')) h['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const fail = (err) => {
      const e = new TypeError('fetch failed');
      e.cause = err;
      reject(e);
    };
    const req = http.request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search, method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('the server closed the connection mid-answer')));
      res.on('end', () => {
        const hd = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) hd.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const loc = hd.get('location');
        if (REDIRECTS.has(res.statusCode) && loc && hops < 20) {
          const keep = res.statusCode === 307 || res.statusCode === 308 || (res.statusCode !== 303 && method !== 'POST');
          const nh = { ...headers };
          if (!keep) for (const k of Object.keys(nh)) if (/^content-/i.test(k)) delete nh[k];
          const m = keep ? method : method === 'HEAD' ? 'HEAD' : 'GET';
          resolve(request(new URL(loc, target).href, m, nh, keep ? payload : undefined, hops + 1));
          return;
        }
        resolve({ status: res.statusCode, headers: hd, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', (err) => {
      // a kept socket the server closed as this request went out: once more
      // on a new one, for reads only (a write may have reached the server)
      if (!retried && req.reusedSocket && err.code === 'ECONNRESET' && (method === 'GET' || method === 'HEAD')) {
        resolve(request(target, method, headers, payload, hops, true));
        return;
      }
      fail(err);
    });
    req.end(body);
  });
}

function hasHeader(h, name) {
  return Object.keys(h).some((k) => k.toLowerCase() === name);
}

let counter = 0;
/** A short unique username: [a-z0-9_], at most 30 characters. */
export function uniqueName(prefix = 'u') {
  const clean = String(prefix).toLowerCase().replace(/[^a-z0-9_]/g, '').slice(0, 12) || 'u';
  counter = (counter + 1) % 46656;
  const rnd = randomBytes(5).toString('hex'); // 10 chars
  const name = `${clean}_${process.pid.toString(36).slice(-3)}${counter.toString(36)}${rnd}`;
  return name.slice(0, 30);
}

/** Signs up a user; throws with the response unless it worked. Returns {token, user}. */
export async function signup(url, username, password = 'password123', extra = {}) {
  const r = await api(url, 'POST', '/v1/accounts', { form: { username, password, ...extra } });
  if (r.status !== 200 || !r.body?.data?.access_token) {
    throw new Error(`sign-up of ${username} failed: ${r.status} ${r.text}`);
  }
  return { token: r.body.data.access_token, user: r.body.data.user };
}

/** Logs in with the password grant. Returns the raw api() result. */
export function login(url, username, password) {
  return api(url, 'POST', '/oauth/access_token', { form: { grant_type: 'password', username, password } });
}

/** Asserts a v1 error envelope: {"meta":{"code","error_type","error_message"}}, no data. */
export function assertV1Error(res, status, type) {
  assert.equal(res.status, status, `expected ${status} ${type ?? ''}, got ${show(res)}`);
  assert.ok(res.body && typeof res.body === 'object', `error body is not JSON: ${show(res)}`);
  const m = res.body.meta;
  assert.ok(m && typeof m === 'object', `no meta in ${show(res)}`);
  assert.equal(m.code, status, `meta.code in ${show(res)}`);
  if (type !== undefined) assert.equal(m.error_type, type, `error_type in ${show(res)}`);
  else assert.equal(typeof m.error_type, 'string', `error_type in ${show(res)}`);
  assert.equal(typeof m.error_message, 'string', `error_message in ${show(res)}`);
  assertJsonContentType(res);
}

/** Asserts an OAuth error (not enveloped): {"code","error_type":"OAuthException","error_message"}. */
export function assertOAuthError(res, status = 400) {
  assert.equal(res.status, status, `expected OAuth ${status}, got ${show(res)}`);
  assert.ok(res.body && typeof res.body === 'object', `error body is not JSON: ${show(res)}`);
  assert.equal(res.body.code, status, `code in ${show(res)}`);
  assert.equal(res.body.error_type, 'OAuthException', `error_type in ${show(res)}`);
  assert.equal(typeof res.body.error_message, 'string', `error_message in ${show(res)}`);
  assert.equal(res.body.meta, undefined, `OAuth errors are not enveloped: ${show(res)}`);
  assertJsonContentType(res);
}

/** Asserts a 200 v1 envelope and returns its data. */
export function assertOk(res) {
  assert.equal(res.status, 200, `expected 200, got ${show(res)}`);
  assert.ok(res.body && res.body.meta, `no envelope in ${show(res)}`);
  assert.equal(res.body.meta.code, 200, `meta.code in ${show(res)}`);
  assert.ok('data' in res.body, `no data in ${show(res)}`);
  assertJsonContentType(res);
  return res.body.data;
}

export function assertJsonContentType(res) {
  const ct = res.headers.get('content-type') || '';
  assert.match(ct, /^application\/json\b/i, `content-type of ${show(res)}`);
}

/** Asserts the rate-limit headers are present and numeric. Returns {limit, remaining}. */
export function assertRateHeaders(res) {
  const limit = res.headers.get('x-ratelimit-limit');
  const remaining = res.headers.get('x-ratelimit-remaining');
  assert.match(String(limit), /^\d+$/, `x-ratelimit-limit missing or bad on ${show(res)}`);
  assert.match(String(remaining), /^\d+$/, `x-ratelimit-remaining missing or bad on ${show(res)}`);
  return { limit: Number(limit), remaining: Number(remaining) };
}

const USER_FULL_KEYS = ['id', 'username', 'full_name', 'profile_picture', 'bio', 'website', 'is_private', 'counts'];
const USER_SHORT_KEYS = ['id', 'username', 'full_name', 'profile_picture'];

/** Asserts the shape of a full user object. */
export function assertFullUser(u, expect = {}) {
  assert.ok(u && typeof u === 'object', `not a user: ${JSON.stringify(u)}`);
  for (const k of USER_FULL_KEYS) assert.ok(k in u, `user lacks ${k}: ${JSON.stringify(u)}`);
  assert.equal(typeof u.id, 'string');
  assert.match(u.id, /^[1-9]\d*$/);
  for (const k of ['username', 'full_name', 'profile_picture', 'bio', 'website']) assert.equal(typeof u[k], 'string', k);
  assert.equal(typeof u.is_private, 'boolean');
  assert.deepEqual(Object.keys(u.counts).sort(), ['followed_by', 'follows', 'media']);
  for (const v of Object.values(u.counts)) assert.ok(Number.isInteger(v) && v >= 0);
  for (const [k, v] of Object.entries(expect)) assert.deepEqual(u[k], v, `user.${k} in ${JSON.stringify(u)}`);
}

/** Asserts the shape of a short user object (lists, OAuth). */
export function assertShortUser(u, expect = {}) {
  assert.ok(u && typeof u === 'object', `not a user: ${JSON.stringify(u)}`);
  for (const k of USER_SHORT_KEYS) assert.ok(k in u, `user lacks ${k}: ${JSON.stringify(u)}`);
  assert.equal(typeof u.id, 'string');
  for (const [k, v] of Object.entries(expect)) assert.deepEqual(u[k], v, `user.${k} in ${JSON.stringify(u)}`);
}

/** Describes a response for assertion messages. */
export function show(res) {
  return `${res.status} ${res.text.length > 400 ? res.text.slice(0, 400) + '...' : res.text}`;
}

/**
 * Sends raw bytes on a fresh TCP connection and collects what comes back
 * until the server closes or `timeout` ms pass. Returns {raw, status,
 * headers (lower-cased names), body, closed}; status is null if the server
 * answered nothing.
 */
export async function rawRequest(url, data, { timeout = 2000 } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), hostname);
    const chunks = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1'), closed));
    };
    const timer = setTimeout(() => finish(false), timeout);
    sock.on('data', (d) => {
      chunks.push(d);
      // stop as soon as one complete response with a Content-Length is in
      const r = parseRaw(Buffer.concat(chunks).toString('latin1'), false);
      if (r.complete) finish(false);
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('connect', () => sock.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data));
  });
}

function parseRaw(raw, closed) {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { raw, status: null, headers: {}, body: null, text: '', closed, complete: false };
  const lines = raw.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const text = raw.slice(end + 4);
  const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : null;
  const complete = len !== null && Buffer.byteLength(text, 'latin1') >= len;
  let body = null;
  try {
    body = JSON.parse(Buffer.from(len !== null ? text.slice(0, len) : text, 'latin1').toString('utf8'));
  } catch {
    body = null;
  }
  return { raw, status: m ? Number(m[1]) : null, headers, body, text, closed, complete };
}

// ---------------------------------------------------------------------------
// Photos: fixtures, uploads and the photo store on disk.

/** The test photos (see its README.md). */
export const photosDir = path.join(repoRoot, 'tests', 'fixtures', 'photos');
/** The generated bench photos p00.jpg .. p19.jpg: PICOGRAM_FIXTURES_DIR, or build/test-fixtures/bench. */
export const benchPhotosDir = path.resolve(process.env.PICOGRAM_FIXTURES_DIR || path.join(repoRoot, 'build', 'test-fixtures', 'bench'));
const BENCH_PHOTOS = 20;
let benchPhotosMade = false;

/**
 * The path of bench photo i (0..19), a 1080x1350 JPEG of about 200 KB.
 * The first call in a process makes any that are missing with
 * tests/fixtures/make_bench_photos.py (safe to run from several processes at once).
 */
export function benchPhoto(i) {
  assert.ok(Number.isInteger(i) && i >= 0 && i < BENCH_PHOTOS, `no bench photo ${i}`);
  const name = (n) => path.join(benchPhotosDir, `p${String(n).padStart(2, '0')}.jpg`);
  if (!benchPhotosMade) {
    if (!Array.from({ length: BENCH_PHOTOS }, (_, n) => name(n)).every((f) => existsSync(f))) {
      execFileSync('/usr/bin/python3', [path.join(repoRoot, 'tests', 'fixtures', 'make_bench_photos.py'), benchPhotosDir],
        { stdio: ['ignore', 'ignore', 'inherit'] });
    }
    benchPhotosMade = true;
  }
  return name(i);
}

/**
 * POST /v1/media/upload as multipart/form-data. Options: token, tokenIn
 * ('bearer' (default), 'query' or 'field': a text part sent before the
 * photo), photo (Buffer, or a file name under photosDir, or an absolute
 * path; omit to send no photo), filename, type (the part's Content-Type),
 * fields (text parts, sent after the photo). Returns what api() returns.
 */
export async function uploadPhoto(url, opts = {}) {
  const { token, tokenIn = 'bearer', photo, filename, type = 'application/octet-stream', fields = {}, headers: extra = {} } = opts;
  const fd = new FormData();
  if (token && tokenIn === 'field') fd.append('access_token', token);
  if (photo !== undefined) {
    let bytes = photo;
    let name = filename;
    if (typeof photo === 'string') {
      const file = path.isAbsolute(photo) ? photo : path.join(photosDir, photo);
      bytes = await readFile(file);
      name = name ?? path.basename(file);
    }
    fd.append('photo', new Blob([bytes], { type }), name ?? 'photo.jpg');
  }
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Blob) fd.append(k, v, `${k}.txt`); // a field sent as a file
    else if (v !== undefined) fd.append(k, String(v));
  }
  let target = `${url}/v1/media/upload`;
  const headers = { ...extra };
  if (token && tokenIn === 'query') target += `?access_token=${encodeURIComponent(token)}`;
  if (token && tokenIn === 'bearer') headers.authorization = `Bearer ${token}`;
  // the form encoded as fetch would send it, then sent as api() sends
  const form = new Response(fd);
  if (!hasHeader(headers, 'content-type')) headers['content-type'] = form.headers.get('content-type');
  const res = await request(target, 'POST', headers, Buffer.from(await form.arrayBuffer()));
  const text = res.text;
  let parsed = null;
  try {
    parsed = text.length ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Every file under dir, recursively, as paths relative to dir (sorted; [] if dir is missing). */
export async function listFiles(dir) {
  const out = [];
  async function walk(rel) {
    let entries;
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if (e.code === 'ENOENT') return;
      throw e;
    }
    for (const e of entries) {
      const r = rel ? path.join(rel, e.name) : e.name;
      if (e.isDirectory()) await walk(r);
      else out.push(r);
    }
  }
  await walk('');
  return out.sort();
}

/** The files of the photo store's media under a server's data directory. */
export function mediaFiles(dataDir) {
  return listFiles(path.join(dataDir, 'photos', 'media'));
}

/**
 * Starts the real binary on a data directory the caller keeps (for kill -9
 * and restart tests): {proc, url (a promise), exited (a promise), stderr(),
 * stopCleanly()}: SIGTERM, and the exit must be 0. Nothing is cleaned up
 * otherwise; the caller kills the process and removes the dir.
 */
export function launchOn(dataDir, extraArgs = [], env = undefined) {
  const proc = spawn(serverBinary(), ['serve', '--listen', '127.0.0.1:0', '--data', dataDir, '--threads', '2',
    '--workers', '2', '--access-log', 'off', ...(extraArgs.includes('--config') ? [] : topologyArgs(dataDir)), ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
  let err = '';
  proc.stderr.on('data', errorLineKeeper(`serve ${proc.pid}`));
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
  const url = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no listening line: ${err}`)), 10_000);
    proc.stderr.on('data', (c) => {
      err += c;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) { clearTimeout(t); resolve(m[1]); }
    });
    proc.on('exit', () => { clearTimeout(t); reject(new Error(`exited: ${err}`)); });
  });
  url.catch(() => {}); // awaited by the test; no unhandled rejection if the test failed first
  const stopCleanly = async () => {
    proc.kill('SIGTERM');
    assert.equal((await exited).code, 0, err);
  };
  return { proc, url, exited, stderr: () => err, stopCleanly };
}

/**
 * Starts `picogram worker` on a data directory the caller keeps (as launchOn):
 * {proc, exited (a promise of {code, signal}), stderr()}.
 */
export function launchWorker(dataDir, args = []) {
  const proc = spawn(serverBinary(), ['worker', '--data', dataDir, ...topologyArgs(dataDir), ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => { err += d; });
  proc.stderr.on('data', errorLineKeeper(`worker ${proc.pid}`));
  const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  return { proc, exited, stderr: () => err };
}

/**
 * A port free on 127.0.0.1 now, below the kernel's ephemeral range: one
 * from that range could be taken, before the server the caller starts binds
 * it, by the local end of some connection.
 */
export async function freePort() {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch { /* not Linux: the default range */ }
  for (let i = 0; i < 1000; i++) {
    const port = 10000 + Math.floor(Math.random() * Math.max(1, low - 10000));
    const ok = await new Promise((resolve) => {
      const s = net.createServer();
      s.on('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port');
}

/** Whether a Redis answers PING on the port. */
function redisPing(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    const t = setTimeout(() => { c.destroy(); resolve(false); }, 500);
    c.on('connect', () => c.write('PING\r\n'));
    c.on('data', (d) => { clearTimeout(t); c.destroy(); resolve(d.toString().startsWith('+PONG')); });
    c.on('error', () => { clearTimeout(t); resolve(false); });
  });
}

/** Parses one RESP reply at buf[i]: [value, next index], or null if incomplete. Strings are Buffers. */
function respParse(buf, i = 0) {
  const eol = buf.indexOf('\r\n', i);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[i]);
  const line = buf.subarray(i + 1, eol).toString();
  const next = eol + 2;
  if (type === '+') return [line, next];
  if (type === '-') return [new Error(line), next];
  if (type === ':') return [Number(line), next];
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return [null, next];
    return buf.length >= next + n + 2 ? [buf.subarray(next, next + n), next + n + 2] : null;
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return [null, next];
    const out = [];
    let at = next;
    for (let k = 0; k < n; k++) {
      const r = respParse(buf, at);
      if (!r) return null;
      out.push(r[0]);
      at = r[1];
    }
    return [out, at];
  }
  throw new Error(`bad RESP type ${type}`);
}

/** One command to the Redis on port (args: strings or Buffers); its reply (strings as Buffers). */
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const parts = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    const c = net.connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const t = setTimeout(() => { c.destroy(); reject(new Error('redis: no reply in 2 s')); }, 2000);
    c.on('connect', () => c.write(Buffer.concat(parts)));
    c.on('data', (d) => {
      got = Buffer.concat([got, d]);
      const r = respParse(got);
      if (r) { clearTimeout(t); c.destroy(); resolve(r[0]); }
    });
    c.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/** SIGKILLs a child that is still running (stopped or not) and waits for its exit. */
async function killHard(proc, exited) {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  }
}

/**
 * A real redis-server (Debian's) on a free loopback port, with nothing
 * saved: {url, port, kill() (SIGKILL), start() (again, on the same port),
 * pause() and resume() (SIGSTOP, SIGCONT: a hung Redis), stop()}.
 */
export async function startRedis() {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'picogram-redis-'));
  let proc = null;
  const r = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
      const gone = new Promise((res) => proc.on('exit', res));
      r.exited = gone;
      for (let i = 0; i < 100; i++) {
        if (await redisPing(port)) return;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`redis-server did not answer on port ${port}`);
    },
    pause() { proc.kill('SIGSTOP'); },
    resume() { proc.kill('SIGCONT'); },
    kill: () => killHard(proc, r.exited),
    async stop() {
      await r.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  return r;
}

/** One text-protocol command to the memcached on port; its reply, up to its last line (END, a status, or a value). */
export function memcachedCommand(port, line) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => { c.destroy(); reject(new Error(`memcached: no reply to ${line} in 2 s`)); }, 2000);
    c.on('connect', () => c.write(`${line}\r\n`));
    c.on('data', (d) => {
      got += d.toString('latin1');
      if (/(^|\n)(END|OK|ERROR|STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|VERSION [^\r]*|CLIENT_ERROR[^\r]*|SERVER_ERROR[^\r]*)\r\n$/.test(got)) {
        clearTimeout(t);
        c.destroy();
        resolve(got);
      }
    });
    c.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/**
 * A real memcached (Debian's) on a free loopback port, 64 MB, no UDP:
 * {port, addr (HOST:PORT), keys() (every key it holds, with its expiry:
 * [{key, exp}], by `lru_crawler metadump`), kill(), start() (again, on the same
 * port, empty), pause() and resume() (SIGSTOP, SIGCONT), stop()}.
 */
export async function startMemcached() {
  const port = await freePort();
  let proc = null;
  const m = {
    port,
    addr: `127.0.0.1:${port}`,
    async start() {
      const asRoot = process.getuid && process.getuid() === 0 ? ['-u', 'nobody'] : [];
      proc = spawn('memcached', ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '64', ...asRoot],
        { stdio: 'ignore' });
      m.exited = new Promise((res) => proc.on('exit', res));
      for (let i = 0; i < 100; i++) {
        try {
          if ((await memcachedCommand(port, 'version')).startsWith('VERSION')) return;
        } catch { /* not up yet */ }
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`memcached did not answer on port ${port}`);
    },
    async keys() {
      const out = await memcachedCommand(port, 'lru_crawler metadump all');
      return out.split(/\r?\n/).filter((l) => l.startsWith('key=')).map((l) => {
        const f = Object.fromEntries(l.split(' ').map((kv) => kv.split('=')));
        return { key: decodeURIComponent(f.key), exp: Number(f.exp) };
      });
    },
    pause() { proc.kill('SIGSTOP'); },
    resume() { proc.kill('SIGCONT'); },
    kill: () => killHard(proc, m.exited),
    async stop() { await m.kill(); },
  };
  await m.start();
  return m;
}

/** One line to gearmand's admin protocol on port ('status', 'workers', 'version'); its reply, up to '.' or the one line. */
export function gearmandAdmin(port, line) {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => { c.destroy(); reject(new Error(`gearmand: no reply to ${line} in 2 s`)); }, 2000);
    c.on('connect', () => c.write(`${line}\n`));
    c.on('data', (d) => {
      got += d.toString();
      if (/(^|\n)\.\n$/.test(got) || (/^(OK|ERR)[^\n]*\n$/.test(got))) {
        clearTimeout(t);
        c.destroy();
        resolve(got);
      }
    });
    c.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/**
 * A real gearmand (Debian's gearman-job-server) on a free loopback port, its
 * queue persisted in SQLite in a temporary directory: {port, url
 * (gearman://...), queued(fnPrefix) (jobs queued for the functions whose name
 * starts so, by the admin 'status'), kill(), start() (again, same port and
 * queue), pause(), resume(), stop()}.
 */
export async function startGearmand() {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'picogram-gearmand-'));
  let proc = null;
  const g = {
    port,
    url: `gearman://127.0.0.1:${port}`,
    async start() {
      proc = spawn('gearmand', ['-L', '127.0.0.1', '-p', String(port), '-q', 'libsqlite3', '--libsqlite3-db',
        path.join(dir, 'queue.db'), '-l', path.join(dir, 'gearmand.log'), '--verbose', 'WARNING', '-t', '2'],
      { stdio: 'ignore' });
      g.exited = new Promise((res) => proc.on('exit', res));
      for (let i = 0; i < 100; i++) {
        try {
          if ((await gearmandAdmin(port, 'version')).startsWith('OK')) return;
        } catch { /* not up yet */ }
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`gearmand did not answer on port ${port}`);
    },
    async queued(prefix) {
      let n = 0;
      for (const l of (await gearmandAdmin(port, 'status')).split('\n')) {
        const [fn, total] = l.split('\t');
        if (fn && fn.startsWith(prefix)) n += Number(total);
      }
      return n;
    },
    pause() { proc.kill('SIGSTOP'); },
    resume() { proc.kill('SIGCONT'); },
    kill: () => killHard(proc, g.exited),
    async stop() {
      await g.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await g.start();
  return g;
}

/**
 * A real S3-compatible server (s3rver, from npm) on a free loopback port,
 * with the bucket `picogram` and its default account (S3RVER/S3RVER):
 * {url, port, flags (picogram's flags for it),
 * objects(prefix) (keys, by anonymous ListObjectsV2), get(key), put(key, body),
 * kill(), start() (again, on the same port and data), stop()}.
 */
export async function startS3() {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'picogram-s3-'));
  const bin = path.join(repoRoot, 'node_modules', 's3rver', 'bin', 's3rver.js');
  let proc = null;
  const url = `http://127.0.0.1:${port}`;
  const s = {
    url,
    port,
    flags: ['--photo-store', `s3:${url}/picogram`, '--s3-access-key', 'S3RVER', '--s3-secret-key', 'S3RVER'],
    async start() {
      // --openssl-legacy-provider: s3rver makes the continuation tokens of long listings with DES
      proc = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent',
        '--configure-bucket', 'picogram'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      proc.stderr.on('data', (d) => { err += d; });
      s.exited = new Promise((res) => proc.on('exit', res));
      let last = '';
      for (let i = 0; i < 200; i++) {
        try {
          const r = await fetch(`${url}/picogram?list-type=2&max-keys=1`);
          if (r.status === 200) return;
          last = `${r.status} ${await r.text()}`;
        } catch (e) { last = String(e.cause || e); }
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`s3rver did not answer on port ${port}: ${last} ${err}`);
    },
    async objects(prefix = 'media/') {
      const keys = [];
      let token = '';
      for (;;) {
        const q = new URLSearchParams({ 'list-type': '2', prefix, ...(token ? { 'continuation-token': token } : {}) });
        const xml = await (await fetch(`${url}/picogram?${q}`)).text();
        for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(m[1]);
        const next = xml.match(/<NextContinuationToken>([^<]*)</);
        if (!/<IsTruncated>true/.test(xml) || !next) return keys;
        token = next[1];
      }
    },
    get: (key) => fetch(`${url}/picogram/${key}`),
    put: (key, body) => fetch(`${url}/picogram/${key}`, { method: 'PUT', body }),
    async kill() {
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await s.exited;
      }
    },
    async stop() {
      await s.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await s.start();
  return s;
}

/** RFC 3986 encoding, as AWS Signature V4 wants it (the path keeps its slashes). */
const awsEncode = (str, keepSlash) => encodeURIComponent(str)
  .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  .replace(keepSlash ? /%2F/g : /$^/, '/');

/**
 * An S3 proxy that checks every request's AWS Signature V4 (s3rver does
 * not: it checks only that the access key exists), computed here on its
 * own from the request, the payload's SHA-256 included, and passes the good
 * ones to target (an S3 URL). A bad one gets 403 SignatureDoesNotMatch.
 * {url, checked, bad: [reasons], close()}.
 */
export async function startSigV4Proxy(target, accessKey, secretKey) {
  const p = { checked: 0, bad: [] };
  const verify = (req, body) => {
    const auth = req.headers.authorization || '';
    const m = auth.match(/^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/);
    if (!m) return `no SigV4 Authorization: ${auth}`;
    const [, ak, day, region, signed, signature] = m;
    if (ak !== accessKey) return `access key ${ak}`;
    const amzDate = req.headers['x-amz-date'] || '';
    if (!amzDate.startsWith(day)) return `x-amz-date ${amzDate} is not of ${day}`;
    const payloadHash = req.headers['x-amz-content-sha256'];
    if (payloadHash !== createHash('sha256').update(body).digest('hex')) return `x-amz-content-sha256 ${payloadHash} is not the body's`;
    const names = signed.split(';');
    for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256']) if (!names.includes(h)) return `${h} is not signed`;
    const u = new URL(req.url, 'http://x');
    const query = [...u.searchParams].map(([k, v]) => [awsEncode(k), awsEncode(v)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`).join('&');
    const headers = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/ +/g, ' ')}\n`).join('');
    const canonical = [req.method, awsEncode(decodeURIComponent(u.pathname), true), query, headers, signed, payloadHash].join('\n');
    const scope = `${day}/${region}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
    let key = `AWS4${secretKey}`;
    for (const part of [day, region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    const want = createHmac('sha256', key).update(toSign).digest('hex');
    return want === signature ? null : `signature ${signature}, computed ${want} over ${JSON.stringify(canonical)}`;
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      p.checked++;
      const why = verify(req, body);
      if (why) {
        p.bad.push(why);
        res.writeHead(403, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code></Error>');
        return;
      }
      try {
        const headers = { ...req.headers };
        delete headers.host;
        delete headers['content-length'];
        const r = await fetch(`${target}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined });
        const out = Buffer.from(await r.arrayBuffer());
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') || 'application/xml' });
        res.end(out);
      } catch (e) {
        res.writeHead(502);
        res.end(String(e));
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  p.url = `http://127.0.0.1:${server.address().port}`;
  p.close = () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); });
  return p;
}

/** Polls fn (sync or async) every 100 ms until it returns something truthy,
 * which it returns; fails naming `what` after ms. */
export async function until(fn, what, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
