// picogram admin: create-user, suspend and unsuspend, rebuild-feeds and
// status, run beside a running server on its databases (every topology:
// the command takes the server's settings), with the exit codes scripts
// rely on; and suspend on a stopped server, seen when it starts.
//
// A suspension shows on the running server through a job (the server runs
// jobs; its cached copies are dropped), so the tests poll, within bounds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startServer, api, signup, login, uniqueName, uploadPhoto, assertOk, assertV1Error, assertOAuthError, external,
  serverBinary, topologyArgs, topology, sqlExec, launchOn, show,
} from './lib.mjs';
import { poll, feedPage } from './feed_util.mjs';

/** Runs `picogram admin ARGS` with the server's settings; stdin if given. {code, out, err}. */
function admin(dataDir, args, stdin = '') {
  return new Promise((resolve, reject) => {
    const p = spawn(serverBinary(), ['admin', ...args, '--data', dataDir, ...topologyArgs(dataDir)],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, out, err }); });
    p.stdin.end(stdin);
  });
}

const PASSWORD = 'correct horse 42';

describe('picogram admin beside a running server', { skip: external && 'needs the server\'s data directory' }, () => {
  let srv;
  let url;
  before(async () => {
    srv = await startServer(['--access-log', 'off']);
    url = srv.url;
  });
  after(async () => { if (srv) await srv.stop(); });

  it('create-user makes an account that can log in; a taken name exits 4, bad input 2, and nothing is made', async () => {
    const name = uniqueName('adm');
    const r = await admin(srv.dataDir, ['create-user', name, '--email', `${name}@example.com`, '--full-name', 'Ada Admin'], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.err);
    const id = /\(id (\d+)\)/.exec(r.out)?.[1];
    assert.ok(id, r.out);
    const li = await login(url, name, PASSWORD);
    assert.equal(li.status, 200, show(li));
    assert.equal(li.body.user.id, id);
    assert.equal(li.body.user.full_name, 'Ada Admin');
    const me = assertOk(await api(url, 'GET', '/v1/users/self', { token: li.body.access_token }));
    assert.equal(me.username, name);

    const taken = await admin(srv.dataDir, ['create-user', name.toUpperCase()], `${PASSWORD}\n`);
    assert.equal(taken.code, 4, JSON.stringify(taken));
    assert.match(taken.err, /taken/);
    const other = uniqueName('adm');
    for (const [args, stdin, what] of [
      [['create-user', 'no spaces allowed'], `${PASSWORD}\n`, 'username'],
      [['create-user', other], 'short\n', 'password'],
      [['create-user', other], '', 'password'],
      [['create-user', other, '--email', 'not-an-address'], `${PASSWORD}\n`, '--email'],
      [['create-user'], `${PASSWORD}\n`, 'NAME'],
    ]) {
      const bad = await admin(srv.dataDir, args, stdin);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${JSON.stringify(bad)}`);
      assert.ok(bad.err.includes(what), `${args.join(' ')}: ${bad.err}`);
    }
    assertOAuthError(await login(url, other, PASSWORD)); // none of them made it
  });

  it('suspend hides the account and its media and stops its tokens and log-in; unsuspend brings all back', async () => {
    const name = uniqueName('sus');
    const ada = await signup(url, name, PASSWORD);
    const bob = await signup(url, uniqueName('fan'));
    const carol = await signup(url, uniqueName('str'));
    const m = assertOk(await uploadPhoto(url, { token: ada.token, photo: 'tiny-1x1.jpg', fields: { caption: 'soon hidden #adminhide' } }));
    assertOk(await api(url, 'POST', `/v1/users/${ada.user.id}/relationship`, { token: bob.token, form: { action: 'follow' } }));
    const inFeed = async () => (assertOk(await feedPage(url, bob.token))).some((x) => x.id === m.id);
    assert.ok((await poll(inFeed)).ok, 'the follower sees the post');
    // cached now by the server: profile, media, token
    assertOk(await api(url, 'GET', `/v1/users/${ada.user.id}`, { token: carol.token }));
    assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: carol.token }));
    assertOk(await api(url, 'GET', '/v1/users/self', { token: ada.token }));

    const s = await admin(srv.dataDir, ['suspend', name]);
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /^suspended /);
    const tokenRefused = await poll(async () => (await api(url, 'GET', '/v1/users/self', { token: ada.token })).status === 400);
    assert.ok(tokenRefused.ok, `the suspended user's token still works after ${tokenRefused.ms} ms`);
    assertV1Error(await api(url, 'GET', '/v1/users/self', { token: ada.token }), 400, 'OAuthAccessTokenException');
    assertV1Error(await api(url, 'POST', `/v1/media/${m.id}/likes`, { token: ada.token }), 400, 'OAuthAccessTokenException');
    const gone = await poll(async () => (await api(url, 'GET', `/v1/users/${ada.user.id}`, { token: carol.token })).status === 404);
    assert.ok(gone.ok, 'the profile is hidden');
    assertV1Error(await api(url, 'GET', `/v1/media/${m.id}`, { token: carol.token }), 404);
    assertV1Error(await api(url, 'GET', `/v1/users/${ada.user.id}/media/recent`, { token: carol.token }), 404);
    assert.equal(await inFeed(), false, 'gone from the follower\'s feed');
    const tag = assertOk(await api(url, 'GET', '/v1/tags/adminhide/media/recent', { token: carol.token }));
    assert.ok(!tag.some((x) => x.id === m.id), 'gone from the tag\'s page');
    const found = assertOk(await api(url, 'GET', '/v1/users/search', { token: carol.token, query: { q: name } }));
    assert.deepEqual(found.map((u) => u.username), [], 'not found by search');
    // log-in: the right password learns why; a wrong one learns nothing new
    const li = await login(url, name, PASSWORD);
    assertOAuthError(li, 403);
    assert.match(li.body.error_message, /suspended/);
    const wrong = await login(url, name, 'wrong password 1');
    assertOAuthError(wrong, 400);
    assert.doesNotMatch(wrong.body.error_message, /suspended/);
    // the name stays taken
    const again = await api(url, 'POST', '/v1/accounts', { form: { username: name, password: PASSWORD } });
    assertV1Error(again, 400);
    // idempotent
    const twice = await admin(srv.dataDir, ['suspend', ada.user.id]);
    assert.equal(twice.code, 0, twice.err);
    assert.match(twice.out, /already/);

    const u = await admin(srv.dataDir, ['unsuspend', name]);
    assert.equal(u.code, 0, u.err);
    const back = await poll(async () => (await api(url, 'GET', '/v1/users/self', { token: ada.token })).status === 200);
    assert.ok(back.ok, 'the old token works again');
    assertOk(await api(url, 'GET', `/v1/users/${ada.user.id}`, { token: carol.token }));
    assertOk(await api(url, 'GET', `/v1/media/${m.id}`, { token: carol.token }));
    assert.ok(await inFeed(), 'back in the follower\'s feed');
    assert.equal((await login(url, name, PASSWORD)).status, 200);
  });

  it('rebuild-feeds rebuilds a lost timeline, for one user or all', { skip: topology === 'pg' && 'timelines are in Redis on this topology (feeds_redis tests their loss)' }, async () => {
    const author = await signup(url, uniqueName('rba'));
    const reader = await signup(url, uniqueName('rbr'));
    assertOk(await feedPage(url, reader.token)); // built
    assertOk(await api(url, 'POST', `/v1/users/${author.user.id}/relationship`, { token: reader.token, form: { action: 'follow' } }));
    const m = assertOk(await uploadPhoto(url, { token: author.token, photo: 'tiny-1x1.jpg' }));
    const has = async () => (assertOk(await feedPage(url, reader.token))).some((x) => x.id === m.id);
    assert.ok((await poll(has)).ok);
    for (const args of [['rebuild-feeds', reader.user.username], ['rebuild-feeds', '--all']]) {
      sqlExec(srv.dataDir, `DELETE FROM feed_items WHERE user_id = ${reader.user.id}`);
      assert.ok((await poll(async () => !(await has()))).ok, 'the timeline is lost (its cached head expires)');
      const r = await admin(srv.dataDir, args);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^rebuilt /);
      assert.ok((await poll(has)).ok, `${args.join(' ')}: the post is back`);
    }
  });

  it('status names each database, its schema and its job queue; --json too', async () => {
    const r = await admin(srv.dataDir, ['status', '--json']);
    assert.equal(r.code, 0, r.err);
    const st = JSON.parse(r.out);
    assert.ok(st.databases.length >= 1);
    for (const d of st.databases) {
      assert.equal(d.reachable, true);
      assert.equal(d.schema, st.schema_expected);
      assert.doesNotMatch(d.server, /password|:[^/@]*@/);
      assert.equal(typeof d.jobs, 'object');
      for (const k of Object.values(d.jobs)) for (const f of ['live', 'due', 'running', 'oldest_due_seconds', 'dead']) assert.equal(typeof k[f], 'number');
    }
    assert.ok(st.databases.reduce((n, d) => n + d.users, 0) >= 3);
    const text = await admin(srv.dataDir, ['status']);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /schema \d+, users \d+, media \d+/);
  });

  it('exit codes: no such user 3, bad usage 2, --help 0', async () => {
    const none = await admin(srv.dataDir, ['suspend', uniqueName('nobody')]);
    assert.equal(none.code, 3, JSON.stringify(none));
    assert.equal((await admin(srv.dataDir, ['suspend', '999999999999'])).code, 3);
    assert.equal((await admin(srv.dataDir, ['suspend'])).code, 2);
    assert.equal((await admin(srv.dataDir, ['frobnicate'])).code, 2);
    assert.equal((await admin(srv.dataDir, ['rebuild-feeds', 'someone', '--all'])).code, 2);
    assert.equal((await admin(srv.dataDir, ['status', '--bogus-setting', '1'])).code, 2);
    const help = await admin(srv.dataDir, ['suspend', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /usage: picogram admin suspend USER/);
    assert.match(help.out, /--data/);
  });
});

describe('picogram admin on a stopped server', { skip: external && 'needs the server\'s data directory' }, () => {
  it('a suspension made while it was down holds when it starts; a wrong --data is refused', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'picogram-admin-'));
    try {
      const first = launchOn(dataDir);
      const name = uniqueName('off');
      let u;
      try {
        u = await signup(await first.url, name, PASSWORD);
      } finally {
        await first.stopCleanly();
      }
      const s = await admin(dataDir, ['suspend', name]);
      assert.equal(s.code, 0, s.err);
      const again = launchOn(dataDir);
      try {
        const url = await again.url;
        assertV1Error(await api(url, 'GET', '/v1/users/self', { token: u.token }), 400, 'OAuthAccessTokenException');
        assertOAuthError(await login(url, name, PASSWORD), 403);
      } finally {
        await again.stopCleanly();
      }
      if (topology !== 'pg') { // (there the databases are named by the settings, not the directory)
        const missing = path.join(dataDir, 'not-here');
        const wrong = await admin(missing, ['status']);
        assert.equal(wrong.code, 1, JSON.stringify(wrong));
        assert.match(wrong.err, /no database at/);
        await assert.rejects(access(missing), 'nothing was made there');
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
