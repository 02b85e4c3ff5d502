// The load beside a shard move (bench/shard_move.sh): CONNS clients, each
// a user whose logical shard is outside LO-HI, reading its home feed and
// liking (then unliking) a photo from it whose shard is outside LO-HI too,
// until SECONDS have passed; every call's latency kept. Prints one JSON
// line: reads and writes, each {n, p50, p99, errors} (ms).
//
//   node bench/move_load.mjs URL TOKENS_FILE LO HI SECONDS CONNS
import { readFileSync } from 'node:fs';

const [url, tokensFile, lo, hi, seconds, conns] = process.argv.slice(2);
const shard = (id) => Number((BigInt(String(id).split('_')[0]) >> 10n) & 8191n);
const outside = (id) => shard(id) < Number(lo) || shard(id) > Number(hi);
const tokens = readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean).filter((t) => outside(t.split('.')[0]));
const until = Date.now() + Number(seconds) * 1000;
const reads = []; const writes = []; let readErrors = 0; let writeErrors = 0;

async function timed(method, path, token, into) {
  const t0 = performance.now();
  const r = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${token}` } }).catch(() => null);
  const body = r ? await r.json().catch(() => null) : null;
  into.push(performance.now() - t0);
  return r && r.status === 200 ? body : null;
}

async function client(i) {
  const token = tokens[i % tokens.length];
  for (let n = 0; Date.now() < until; n++) {
    const feed = await timed('GET', '/v1/users/self/feed?count=20', token, reads);
    if (!feed) { readErrors++; continue; }
    const m = feed.data.find((x) => outside(x.id));
    if (!m) continue;
    const ok = await timed(n % 2 ? 'DELETE' : 'POST', `/v1/media/${m.id}/likes`, token, writes);
    if (!ok) writeErrors++;
  }
}

const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? +s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(1) : null; };
await Promise.all(Array.from({ length: Number(conns) }, (_, i) => client(i)));
console.log(JSON.stringify({
  reads: { n: reads.length, p50: q(reads, 0.5), p99: q(reads, 0.99), errors: readErrors },
  writes: { n: writes.length, p50: q(writes, 0.5), p99: q(writes, 0.99), errors: writeErrors },
}));
