// picogram admin: create-user, suspend and unsuspend, rebuild-feeds and
// status, run beside a running server on its databases (every topology:
// the command takes the server's settings), with the exit codes scripts
// rely on; and suspend on a stopped server, seen when it starts.
//
// A suspension shows on the running server through a job (the server runs
// jobs; its cached copies are dropped), so the tests poll, within bounds.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  startServer, api, signup, login, uniqueName, uploadPhoto, assertOk, assertV1Error, assertOAuthError, external,
  serverBinary, topologyArgs, topology, sqlExec, sqlRows, launchOn, show, dbTargets, mediaFiles, runAdmin,
} from './lib.mjs';
import { poll, feedPage } from './feed_util.mjs';

const admin = runAdmin;

const PASSWORD = 'correct horse 42';

/** Points in the geo index with IDs no photo has (any topology). */
const countGeo = (dataDir) => sqlRows(dataDir, 'SELECT COUNT(*) FROM geo_media WHERE id NOT IN (SELECT id FROM media)')
  .reduce((n, x) => n + Number(x), 0);

/** Rows that name user, table by table, on every database of the server (any topology). */
function countRows(dataDir, user) {
  const checks = {
    users: `SELECT COUNT(*) FROM users WHERE id = ${user}`,
    usernames: `SELECT COUNT(*) FROM usernames WHERE user_id = ${user}`,
    tokens: `SELECT COUNT(*) FROM tokens WHERE user_id = ${user}`,
    media: `SELECT COUNT(*) FROM media WHERE user_id = ${user}`,
    likes: `SELECT COUNT(*) FROM likes WHERE user_id = ${user}`,
    liked: `SELECT COUNT(*) FROM liked WHERE user_id = ${user}`,
    comments: `SELECT COUNT(*) FROM comments WHERE user_id = ${user}`,
    following: `SELECT COUNT(*) FROM following WHERE user_id = ${user} OR target_id = ${user}`,
    followers: `SELECT COUNT(*) FROM followers WHERE user_id = ${user} OR follower_id = ${user}`,
    blocks: `SELECT COUNT(*) FROM blocks WHERE user_id = ${user}`,
    activity: `SELECT COUNT(*) FROM activity WHERE user_id = ${user}`,
    feed_items: `SELECT COUNT(*) FROM feed_items WHERE user_id = ${user} OR author_id = ${user}`,
    feed_state: `SELECT COUNT(*) FROM feed_state WHERE user_id = ${user}`,
    celebrities: `SELECT COUNT(*) FROM celebrities WHERE user_id = ${user}`,
  };
  const out = {};
  for (const t of dbTargets(dataDir)) {
    const r = execFileSync('/usr/bin/python3', ['-c', 'import sys, json\n'
      + 'if sys.argv[1].startswith("postgresql:"):\n import psycopg2; c = psycopg2.connect(sys.argv[1])\n'
      + 'else:\n import sqlite3; c = sqlite3.connect(sys.argv[1])\n'
      + 'cur = c.cursor(); out = {}\n'
      + 'for k, q in json.loads(sys.argv[2]).items():\n cur.execute(q); out[k] = cur.fetchone()[0]\n'
      + 'print(json.dumps(out))', t, JSON.stringify(checks)], { encoding: 'utf8' });
    for (const [k, n] of Object.entries(JSON.parse(r))) out[k] = (out[k] || 0) + n;
  }
  return out;
}

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
      [['create-user', other], `${'x'.repeat(1100)}\n`, 'too long'],
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

  it('delete-user needs --yes, then erases the account and all it made, keeps others\' counts right and frees the name', async () => {
    const name = uniqueName('del');
    const ada = await signup(url, name, PASSWORD);
    const [bob, carol, dave, erin, frank] = await Promise.all(['dbob', 'dcar', 'ddav', 'deri', 'dfra'].map((p) => signup(url, uniqueName(p))));
    const rel = async (who, target, action) => assertOk(await api(url, 'POST', `/v1/users/${target.user.id}/relationship`, { token: who.token, form: { action } }));
    const adaPhotos = [];
    for (const caption of ['first #eraseme', 'second #eraseme']) {
      adaPhotos.push(assertOk(await uploadPhoto(url, { token: ada.token, photo: 'tiny-1x1.jpg', fields: { caption } })).id);
    }
    const bobPhoto = assertOk(await uploadPhoto(url, { token: bob.token, photo: 'tiny-1x1.jpg', fields: { caption: 'bob #eraseme' } })).id;
    assertOk(await api(url, 'POST', `/v1/media/${bobPhoto}/likes`, { token: ada.token }));
    assertOk(await api(url, 'POST', `/v1/media/${bobPhoto}/comments`, { token: ada.token, form: { text: 'nice one' } }));
    assertOk(await api(url, 'POST', `/v1/media/${bobPhoto}/comments`, { token: carol.token, form: { text: 'agreed' } }));
    assertOk(await api(url, 'POST', `/v1/media/${adaPhotos[0]}/likes`, { token: bob.token }));
    await rel(bob, ada, 'follow');
    await rel(ada, carol, 'follow');
    assertOk(await api(url, 'POST', '/v1/users/self', { token: dave.token, form: { is_private: 'true' } }));
    await rel(ada, dave, 'follow'); // a request: dave is private
    assertOk(await api(url, 'POST', '/v1/users/self', { token: ada.token, form: { is_private: 'true' } }));
    await rel(erin, ada, 'follow'); // a request to ada
    await rel(ada, frank, 'block');
    const bobMedia = async () => assertOk(await api(url, 'GET', `/v1/media/${bobPhoto}`, { token: carol.token }));
    assert.equal((await bobMedia()).likes.count, 1);
    assert.equal((await bobMedia()).comments.count, 2);

    const no = await admin(srv.dataDir, ['delete-user', name]);
    assert.equal(no.code, 2, JSON.stringify(no));
    assert.match(no.err, /--yes/);
    assertOk(await api(url, 'GET', '/v1/users/self', { token: ada.token })); // nothing happened

    const adaFiles = async () => (await mediaFiles(srv.dataDir)).filter((f) => adaPhotos.some((id) => f.includes(id.split('_')[0])));
    assert.equal((await adaFiles()).length, 8, 'four renditions of each of the two photos');
    const del = await admin(srv.dataDir, ['delete-user', name, '--yes']);
    assert.equal(del.code, 0, del.err);
    assert.match(del.out, /2 photo\(s\) \(8 file\(s\)\), 1 like\(s\), 1 comment\(s\) on others' photos, 1 follow\(s\), 1 follower\(s\), 2 request\(s\), 1 block\(s\)/);

    // gone: token (once the server's cached copy is dropped), log-in (as any
    // wrong name), profile, photos, files
    const refused = await poll(async () => (await api(url, 'GET', '/v1/users/self', { token: ada.token })).status === 400);
    assert.ok(refused.ok, `the deleted user's token still works after ${refused.ms} ms`);
    assertV1Error(await api(url, 'GET', '/v1/users/self', { token: ada.token }), 400, 'OAuthAccessTokenException');
    assertOAuthError(await login(url, name, PASSWORD), 400);
    assertV1Error(await api(url, 'GET', `/v1/users/${ada.user.id}`, { token: carol.token }), 404);
    for (const id of adaPhotos) assertV1Error(await api(url, 'GET', `/v1/media/${id}`, { token: carol.token }), 404);
    assert.deepEqual(await adaFiles(), [], 'the files of the deleted photos are gone');
    const tag = assertOk(await api(url, 'GET', '/v1/tags/eraseme/media/recent', { token: carol.token }));
    assert.ok(!tag.some((x) => adaPhotos.includes(x.id)), 'not on the tag page');
    assert.ok(tag.some((x) => x.id === bobPhoto), 'bob\'s photo stays on it');
    // others' counts and lists, once the servers' cached copies are dropped
    const fixed = await poll(async () => {
      const m = await bobMedia();
      return m.likes.count === 0 && m.comments.count === 1;
    });
    assert.ok(fixed.ok, `bob's photo: ${JSON.stringify((await bobMedia()).likes)} ${JSON.stringify((await bobMedia()).comments)}`);
    const comments = assertOk(await api(url, 'GET', `/v1/media/${bobPhoto}/comments`, { token: carol.token }));
    assert.deepEqual(comments.map((c) => c.text), ['agreed']);
    const count = async (who, field) => (assertOk(await api(url, 'GET', '/v1/users/self', { token: who.token }))).counts[field];
    assert.ok((await poll(async () => (await count(bob, 'follows')) === 0)).ok, 'bob follows no one now');
    assert.ok((await poll(async () => (await count(carol, 'followed_by')) === 0)).ok, 'carol has no follower now');
    const requests = assertOk(await api(url, 'GET', '/v1/users/self/requested-by', { token: dave.token }));
    assert.deepEqual(requests, [], 'the request to dave is gone');
    assertOk(await api(url, 'GET', `/v1/users/${frank.user.id}`, { token: frank.token }));
    // news it caused others is shown without it
    for (const who of [bob, carol, dave]) {
      const news = assertOk(await api(url, 'GET', '/v1/users/self/activity', { token: who.token }));
      assert.ok(!JSON.stringify(news).includes(ada.user.id), `${who.user.username}'s news names the deleted user: ${JSON.stringify(news)}`);
    }
    // no row of it is left anywhere
    const rows = countRows(srv.dataDir, ada.user.id);
    assert.deepEqual(Object.entries(rows).filter(([, n]) => n > 0), [], JSON.stringify(rows));
    // the name is free; a second delete finds no one
    await signup(url, name, PASSWORD);
    const again = await admin(srv.dataDir, ['delete-user', ada.user.id, '--yes']);
    assert.equal(again.code, 3, JSON.stringify(again));
  });

  it('delete-user killed part way leaves the account hidden, and running it again finishes', async () => {
    const name = uniqueName('kil');
    const ada = await signup(url, name, PASSWORD);
    const ids = [];
    for (let i = 0; i < 24; i++) ids.push(assertOk(await uploadPhoto(url, { token: ada.token, photo: 'tiny-1x1.jpg' })).id.split('_')[0]);
    const files = async () => (await mediaFiles(srv.dataDir)).filter((f) => ids.some((id) => f.includes(id))).length;
    assert.equal(await files(), 4 * ids.length);
    const p = spawn(serverBinary(), ['admin', 'delete-user', name, '--yes', '--data', srv.dataDir, ...topologyArgs(srv.dataDir)],
      { stdio: 'ignore' });
    const exited = new Promise((r) => p.on('exit', (code, signal) => r({ code, signal })));
    // kill -9 once the first photo's files are gone, before the last's
    const started = await poll(async () => (await files()) < 4 * ids.length, { timeout: 20_000, interval: 5 });
    p.kill('SIGKILL');
    const how = await exited;
    const left = await files();
    assert.ok(started.ok, 'the erase began');
    if (how.signal === 'SIGKILL') assert.ok(left > 0, 'killed part way'); // (else it had finished: still checked below)
    const viewer = await signup(url, uniqueName('kiv'));
    const hidden = await poll(async () => (await api(url, 'GET', `/v1/users/${ada.user.id}`, { token: viewer.token })).status === 404);
    assert.ok(hidden.ok, 'hidden meanwhile');
    const again = await admin(srv.dataDir, ['delete-user', ada.user.id, '--yes']);
    assert.equal(again.code, how.signal === 'SIGKILL' ? 0 : 3, JSON.stringify(again));
    assert.equal(await files(), 0);
    const rows = countRows(srv.dataDir, ada.user.id);
    assert.deepEqual(Object.entries(rows).filter(([, n]) => n > 0), [], JSON.stringify(rows));
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

  it('reindex mends the tags\' and places\' indexes and the geo index from the photos', async () => {
    const a = await signup(url, uniqueName('rix'));
    const tag = `reidx${process.pid}`;
    const [lat, lng] = [48.8583701, 2.2944813];
    const m = assertOk(await uploadPhoto(url, { token: a.token, photo: 'tiny-1x1.jpg', fields: { caption: `#${tag}`, location_name: 'Reindex Tower', lat, lng } }));
    const place = m.location.id;
    const tagged = async () => assertOk(await api(url, 'GET', `/v1/tags/${tag}/media/recent`, { token: a.token })).map((x) => x.id);
    const count = async () => assertOk(await api(url, 'GET', `/v1/tags/${tag}`, { token: a.token })).media_count;
    const near = async () => assertOk(await api(url, 'GET', '/v1/media/search', { token: a.token, query: { lat, lng, distance: 100 } })).map((x) => x.id);
    const atPlace = async () => assertOk(await api(url, 'GET', `/v1/locations/${place}/media/recent`, { token: a.token })).map((x) => x.id);
    assert.deepEqual(await tagged(), [m.id]);
    assert.ok((await near()).includes(m.id));
    // damage every index: the entry gone, a stale one, a wrong count, the point and the place's list gone
    sqlExec(srv.dataDir, `DELETE FROM tag_media WHERE tag = '${tag}'`);
    sqlExec(srv.dataDir, `INSERT INTO tag_media (tag, id, media_id) VALUES ('${tag}', 7, 7)`);
    sqlExec(srv.dataDir, `UPDATE tags SET media_count = 99 WHERE name = '${tag}'`);
    sqlExec(srv.dataDir, `DELETE FROM geo_media WHERE id = ${m.id.split('_')[0]}`);
    sqlExec(srv.dataDir, 'INSERT INTO geo_media (id, lat0, lat1, lng0, lng1, t0, t1) VALUES (11, 0, 0, 0, 0, 0, 0)');
    sqlExec(srv.dataDir, `DELETE FROM location_media WHERE location_id = ${place}`);
    assert.ok((await poll(async () => (await tagged()).length === 0 && (await count()) === 99)).ok, 'the damage shows');
    // (a geo search reads the index's cells from the object cache, which
    // a change made outside the server reaches within their short TTL)
    assert.ok((await poll(async () => !(await near()).includes(m.id), { timeout: 10_000 })).ok, 'the point is gone');
    assert.deepEqual(await atPlace(), []);

    const r = await admin(srv.dataDir, ['reindex']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^tags: \d+ \(photo, tag\) pair\(s\) reconciled, [1-9]\d* count\(s\) corrected$/m);
    assert.match(r.out, /^geo: [1-9]\d* placed photo\(s\) indexed again, [1-9]\d* point\(s\) of photos gone dropped$/m);
    assert.ok((await poll(async () => (await tagged()).join() === m.id && (await count()) === 1)).ok,
      `tag page ${JSON.stringify(await tagged())}, count ${await count()}`);
    assert.ok((await poll(async () => (await near()).includes(m.id), { timeout: 10_000 })).ok, 'found by geo search again');
    assert.deepEqual(await atPlace(), [m.id]);
    const orphans = countGeo(srv.dataDir);
    assert.equal(orphans, 0, 'the stale point is gone');
    const again = await admin(srv.dataDir, ['reindex', 'tags']);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, / 0 count\(s\) corrected/);
    assert.doesNotMatch(again.out, /^geo:/m);
    assert.equal((await admin(srv.dataDir, ['reindex', 'bogus'])).code, 2);
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
    // a name of digits is not taken for an ID it is not
    const digits = `9${Date.now()}${process.pid}`.slice(0, 20);
    const d = await signup(url, digits, PASSWORD);
    const byName = await admin(srv.dataDir, ['suspend', digits]);
    assert.equal(byName.code, 0, JSON.stringify(byName));
    assert.match(byName.out, new RegExp(`^suspended ${digits} \\(id ${d.user.id}\\)`));
    assert.equal((await admin(srv.dataDir, ['unsuspend', d.user.id])).code, 0, 'and by its ID');
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
