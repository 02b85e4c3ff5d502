// Moving logical shards between the cluster's two PostgreSQL servers while
// two picogram servers serve a mixed read/write load (Cluster III):
// `picogram shards move` killed (kill -9) at each of its steps, then undone
// (--abort) or taken up (--resume), until the range has moved; once resumed
// with the target's stream stopped, so that the fence's time runs out and is
// lifted. Afterwards:
// every acknowledged write is there exactly once, counters and feeds are
// right, both servers follow the new map without a restart, and the old
// server no longer serves the range (its rows gone from the live tables,
// and its fence refusing a write there).
//
// Runs on the 'pg' topology only: it starts a cluster of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { launchOn, api, signup, uniqueName, show, external, topology, uploadPhoto, serverBinary, ownCluster, shardOf } from './lib.mjs';
import { poll } from './feed_util.mjs';

const LO = 1024; const HI = 3071; // a quarter of the first server's shards
const moving = (id) => shardOf(id) >= LO && shardOf(id) <= HI;

/** `picogram shards move ARGS`, stopped (kill -9) once it says it paused at `pauseAt`; or run to its end. */
function move(conf, args, pauseAt) {
  return new Promise((resolve, reject) => {
    const p = spawn(serverBinary(), ['shards', 'move', ...args, '--config', conf],
      { env: { ...process.env, ...(pauseAt ? { PICOGRAM_MOVE_PAUSE: pauseAt } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`move ${args} timed out: ${err}`)); }, 90_000);
    p.stdout.on('data', (c) => { out += c; });
    p.stderr.on('data', (c) => {
      err += c;
      if (pauseAt && err.includes(`paused at ${pauseAt}`)) p.kill('SIGKILL');
    });
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, err }); });
  });
}

test('a range of logical shards moved under load, its mover killed at every step: nothing lost or doubled, the map followed without a restart',
  { skip: external || topology !== 'pg' ? 'needs the pg topology' : false, timeout: 300_000 }, async (t) => {
    const own = await ownCluster('picogram-move-');
    const { dir, cluster } = own;
    const pg = (i, sql) => own.psql(i, sql);
    const conf = path.join(dir, 'picogram.conf');
    const servers = [];
    let stop = false; let load;
    try {
      cluster('up', dir);
      const target = /4096-8191=(postgres:\/\/[^;\s]+)/.exec(readFileSync(conf, 'utf8'))[1];
      // refused with the reason, nothing changed
      const source = /0-4095=(postgres:\/\/[^;\s]+)/.exec(readFileSync(conf, 'utf8'))[1];
      for (const [args, why] of [[['4000-4200', '--to', target], /more than one server/],
        [[`${LO}-${HI}`, '--to', source], /on that server already/], [['--resume'], /no move in progress/],
        [['--abort'], /no move in progress/], [['5', '--to', target.replace(/\/picogram$/, '/nosuchdb')], /./]]) {
        const r = await move(conf, args);
        assert.equal(r.code, 2, `${args}: ${r.err}`);
        assert.match(r.err, why);
      }
      for (let i = 0; i < 2; i++) servers.push(launchOn(path.join(dir, 'data'), ['--config', conf]));
      const urls = await Promise.all(servers.map((s) => s.url));
      // users in the range, elsewhere on the first server, and on the second
      const users = [];
      for (let i = 0; i < 300 && (users.filter((u) => moving(u.user.id)).length < 3 || users.length < 10); i++) {
        users.push(await signup(urls[i % 2], uniqueName('mv')));
      }
      const inRange = users.filter((u) => moving(u.user.id));
      const others = users.filter((u) => !moving(u.user.id));
      t.diagnostic(`${inRange.length} of ${users.length} users in shards ${LO}-${HI}`);
      // everyone follows the first user in the range and one outside it; each posts a photo
      for (const u of users) {
        for (const f of [inRange[0], others[0]]) {
          if (f === u) continue;
          const r = await api(urls[0], 'POST', `/v1/users/${f.user.id}/relationship`, { token: u.token, form: { action: 'follow' } });
          assert.equal(r.status, 200, show(r));
        }
      }
      const photos = [];
      for (const u of users) {
        const r = await uploadPhoto(urls[1], { token: u.token, photo: 'tiny-1x1.jpg' });
        assert.equal(r.status, 200, show(r));
        photos.push({ id: r.body.data.id, owner: u });
      }

      // the load: comments and likes on every photo (both servers), feeds read; each write's outcome kept
      const acked = []; let refused = 0; let reads = 0; const likes = new Map();
      load = Promise.all(users.map(async (u, w) => {
        for (let n = 0; !stop && n < 5000; n++) {
          const url = urls[n % 2];
          const p = photos[(w + n) % photos.length];
          const text = `c${w}.${n} ${uniqueName('x')}`;
          const r = await api(url, 'POST', `/v1/media/${p.id}/comments`, { token: u.token, form: { text } }).catch(() => ({ status: 0 }));
          if (r.status === 200) acked.push({ text, media: p.id });
          else { refused++; assert.ok(r.status === 503 || r.status === 0, `a write refused with ${r.status}: ${show(r)}`); }
          if (n % 3 === 0) {
            const l = await api(url, 'POST', `/v1/media/${p.id}/likes`, { token: u.token }).catch(() => ({ status: 0 }));
            if (l.status === 200) likes.set(`${p.id} ${u.user.id}`, true);
          }
          if (n % 4 === 0) {
            const f = await api(url, 'GET', '/v1/users/self/feed', { token: u.token }).catch(() => ({ status: 0 }));
            if (f.status === 200) reads++;
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      }));
      await poll(async () => acked.length >= 50, { timeout: 30_000, interval: 50 });

      // 1. killed just after it was recorded: undone
      let r = await move(conf, [`${LO}-${HI}`, '--to', target], 'prepare');
      assert.equal(r.signal, 'SIGKILL', r.err);
      r = await move(conf, ['--abort']);
      assert.equal(r.code, 0, r.err);
      // 2. killed while copying, then after fencing: undone, writes to the range come back
      r = await move(conf, [`${LO}-${HI}`, '--to', target], 'copying');
      assert.equal(r.signal, 'SIGKILL', r.err);
      r = await move(conf, ['--resume'], 'fenced');
      assert.equal(r.signal, 'SIGKILL', r.err);
      const fencedWrite = await api(urls[0], 'POST', `/v1/media/${photos[users.indexOf(inRange[0])].id}/comments`,
        { token: others[0].token, form: { text: 'fenced' } });
      assert.equal(fencedWrite.status, 503, `a write to a fenced shard: ${show(fencedWrite)}`);
      assert.ok(fencedWrite.headers.get('retry-after'), 'Retry-After');
      // resumed with the target's stream stopped: past --catch-up-seconds the fence is lifted, the move left copying
      const id = JSON.parse(execFileSync(serverBinary(), ['shards', '--json', '--config', conf]).toString()).moves.at(-1).id;
      pg(1, `ALTER SUBSCRIPTION picogram_move_${id} DISABLE`);
      r = await move(conf, ['--resume', '--catch-up-seconds', '2']);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /has not caught up in 2 s/);
      assert.match(r.err, /the fence is lifted/);
      const stalled = JSON.parse(execFileSync(serverBinary(), ['shards', '--json', '--config', conf]).toString());
      assert.equal(stalled.moves.at(-1).state, 'copying');
      const unfenced = await api(urls[0], 'POST', `/v1/media/${photos[users.indexOf(inRange[0])].id}/comments`,
        { token: others[0].token, form: { text: 'after the fence' } });
      assert.equal(unfenced.status, 200, `a write to the range once the fence is lifted: ${show(unfenced)}`);
      acked.push({ text: 'after the fence', media: photos[users.indexOf(inRange[0])].id });
      pg(1, `ALTER SUBSCRIPTION picogram_move_${id} ENABLE`);
      r = await move(conf, ['--abort']);
      assert.equal(r.code, 0, r.err);
      const json0 = JSON.parse(execFileSync(serverBinary(), ['shards', '--json', '--config', conf]).toString());
      assert.equal(json0.epoch, 0, 'nothing switched');
      assert.deepEqual(json0.moves.map((m) => m.state), ['aborted', 'aborted'], 'the refused moves were never recorded');
      // 3. again: killed while copying, resumed, killed after the switch, resumed to the end
      r = await move(conf, [`${LO}-${HI}`, '--to', target], 'copying');
      assert.equal(r.signal, 'SIGKILL', r.err);
      const during = JSON.parse(execFileSync(serverBinary(), ['shards', '--json', '--config', conf]).toString());
      assert.equal(during.moves.at(-1).state, 'copying', 'shards --json shows the move in progress');
      // the target is fenced on the range until the switch: a process on an old map cannot write there
      // (an abort would delete such a write with the range's copy); the copy itself streams past the fence
      assert.throws(() => pg(1, `INSERT INTO users (id, username, username_lower, password_hash, created_at) VALUES (${(BigInt(LO) << 10n) + 1n}, 'y', 'y', 'h', 1)`),
        /fenced/, 'the target refuses a write to the range while it copies');
      r = await move(conf, ['--resume'], 'switched');
      assert.equal(r.signal, 'SIGKILL', r.err);
      const fence = /fenced for (\d+) ms/.exec(r.err);
      t.diagnostic(`writes to shards ${LO}-${HI} fenced for ${fence?.[1]} ms`);
      r = await move(conf, ['--resume']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /moved logical shards 1024-3071/);
      // the source's copy left only once both servers had said they follow the new map
      assert.match(r.err, /every live process is on map 1 \(after \d+ ms\)/);
      t.diagnostic(/every live process is on map 1 \(after \d+ ms\)/.exec(r.err)[0]);

      const n0 = acked.length;
      await poll(async () => acked.length >= n0 + 50, { timeout: 30_000, interval: 50 });
      stop = true;
      await load;
      t.diagnostic(`${acked.length} comments acknowledged, ${refused} refused (fences), ${reads} feed reads`);

      // both servers on the new map, without a restart
      const json = JSON.parse(execFileSync(serverBinary(), ['shards', '--json', '--config', conf]).toString());
      assert.equal(json.epoch, 1);
      assert.ok(json.ranges.some((x) => x.range[0] === LO && x.range[1] === HI && x.server === target), JSON.stringify(json.ranges));
      assert.equal(json.moves.at(-1).state, 'done');
      // every acknowledged comment exactly once, across both servers' live tables
      const rows = [0, 1].flatMap((i) => pg(i, 'SELECT text FROM comments').split('\n').filter(Boolean));
      const count = new Map();
      for (const x of rows) count.set(x, (count.get(x) || 0) + 1);
      assert.deepEqual(acked.filter((c) => count.get(c.text) !== 1).map((c) => [c.text, count.get(c.text)]), [],
        'every acknowledged comment once');
      assert.deepEqual([...count].filter(([, n]) => n > 1), [], 'no comment twice');
      // counters agree with the rows, read through each server
      for (const p of photos) {
        const texts = acked.filter((c) => c.media === p.id).length;
        for (const url of urls) {
          const m = await api(url, 'GET', `/v1/media/${p.id}`, { token: p.owner.token });
          assert.equal(m.status, 200, show(m));
          assert.ok(m.body.data.comments.count >= texts, `photo ${p.id}: ${m.body.data.comments.count} comments, ${texts} acknowledged`);
          const server = moving(p.id) || shardOf(p.id) >= 4096 ? 1 : 0;
          const stored = Number(pg(server, `SELECT count(*) FROM comments WHERE media_id = ${p.id.split('_')[0]}`));
          assert.equal(m.body.data.comments.count, stored, `photo ${p.id}: the count matches its rows`);
          const liked = [...likes.keys()].filter((k) => k.startsWith(`${p.id} `)).length;
          assert.ok(m.body.data.likes.count >= liked, `photo ${p.id}: ${m.body.data.likes.count} likes, ${liked} acknowledged`);
        }
      }
      // feeds: a follower of the moved user sees its photo, through either server
      const mover = photos.find((p) => p.owner === inRange[0]);
      for (const [i, url] of urls.entries()) {
        const f = await api(url, 'GET', '/v1/users/self/feed', { token: others[i].token });
        assert.equal(f.status, 200, show(f));
        assert.ok(f.body.data.some((x) => x.id === mover.id), `server ${i}: the moved user's photo in a follower's feed`);
      }
      // the old server no longer holds or takes the range
      assert.equal(pg(0, `SELECT count(*) FROM users WHERE shard BETWEEN ${LO} AND ${HI}`), '0');
      assert.equal(pg(0, `SELECT count(*) FROM picogram_moved_3.users`), String(inRange.length), 'its copy kept aside');
      assert.throws(() => pg(0, `INSERT INTO users (id, username, username_lower, password_hash, created_at) VALUES (${BigInt(LO) << 10n}, 'z', 'z', 'h', 1)`),
        /fenced/, 'the old server refuses a write to the range');
      // the moved users are served: log-in, profile, a new write
      for (const u of inRange) {
        const li = await api(urls[1], 'POST', '/oauth/access_token', { form: { grant_type: 'password', username: u.user.username, password: 'password123' } });
        assert.equal(li.status, 200, show(li));
        const c = await api(urls[0], 'POST', `/v1/media/${photos[0].id}/comments`, { token: li.body.access_token, form: { text: 'after the move' } });
        assert.equal(c.status, 200, show(c));
      }
    } finally {
      stop = true;
      await load?.catch(() => {});
      await own.stop(servers);
    }
  });

test('a table the target cannot copy (a name of the range held there already): the move stops after a few failed copies, says why, and --abort undoes it',
  { skip: external || topology !== 'pg' ? 'needs the pg topology' : false, timeout: 180_000 }, async () => {
    const own = await ownCluster('picogram-move-fail-');
    const { dir, cluster } = own;
    const pg = (i, sql) => own.psql(i, sql);
    const conf = path.join(dir, 'picogram.conf');
    const servers = [];
    try {
      cluster('up', dir);
      const target = /4096-8191=(postgres:\/\/[^;\s]+)/.exec(readFileSync(conf, 'utf8'))[1];
      servers.push(launchOn(path.join(dir, 'data'), ['--config', conf]));
      const url = await servers[0].url;
      // a user whose name's row (usernames, kept by a hash of the name) is in the range on the source
      let name = '';
      const users = [];
      for (let i = 0; i < 200 && !name; i++) {
        users.push(await signup(url, uniqueName('mvf')));
        name = pg(0, `SELECT username_lower FROM usernames WHERE shard BETWEEN ${LO} AND ${HI} LIMIT 1`).trim();
      }
      assert.ok(name, 'a name in the range');
      // the same name on the target, outside the range (which the move's prepare clears): its copy must fail
      pg(1, `INSERT INTO usernames (username_lower, user_id, shard) VALUES ('${name}', 1, 5000)`);
      const r = await move(conf, [`${LO}-${HI}`, '--to', target]);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /the target failed to copy a table [0-9]+ times/);
      assert.match(r.err, /--abort/);
      const a = await move(conf, ['--abort']);
      assert.equal(a.code, 0, a.err);
      const json = JSON.parse(execFileSync(serverBinary(), ['shards', '--json', '--config', conf]).toString());
      assert.equal(json.epoch, 0, 'nothing switched');
      assert.equal(json.moves.at(-1).state, 'aborted');
      // everything still served from the source, writes too
      const u = users.find((x) => x.user.username.toLowerCase() === name) ?? users[0];
      const li = await api(url, 'POST', '/oauth/access_token', { form: { grant_type: 'password', username: u.user.username, password: 'password123' } });
      assert.equal(li.status, 200, show(li));
      const up = await uploadPhoto(url, { token: li.body.access_token, photo: 'tiny-1x1.jpg' });
      assert.equal(up.status, 200, show(up));
    } finally {
      await own.stop(servers);
    }
  });
