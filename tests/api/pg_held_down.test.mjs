// The PostgreSQL driver never commits part of a transaction that a
// hold-down cut short (db/postgres.c: a database held down after a
// connection to it failed). Before the fix, a transaction whose statement
// was refused kept its ROLLBACK refused too, stayed open on a live
// connection, and the next transaction's BEGIN ran on inside it: its COMMIT
// also committed the first statements of the one that had failed (seen as a
// comment row without its count after a failover). The sequence is driven
// by tests/unit/pg_held_down.c against the suite's PostgreSQL server 0,
// directly (not through pgbouncer), in a database of its own.
//
// Runs on the 'pg' topology only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { clusterEnv, psql, serverBinary, external, topology } from './lib.mjs';

test('a transaction cut short by a hold-down is rolled back, never committed with the next one',
  { skip: external || topology !== 'pg' ? 'needs the pg topology' : false, timeout: 60_000 }, () => {
    const { pgPorts } = clusterEnv();
    const name = `t_${randomBytes(6).toString('hex')}`;
    psql(0, `CREATE DATABASE ${name}`);
    try {
      const helper = path.join(path.dirname(serverBinary()), 'tests', 'unit', 'pg_held_down');
      let out;
      try {
        out = execFileSync(helper, [`postgres://picogram@127.0.0.1:${pgPorts[0]}/${name}`],
          { stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
      } catch (e) {
        assert.fail(`pg_held_down: ${e.stdout}${e.stderr} (exit ${e.status}; "1,3" is the failed transaction's row committed)`);
      }
      assert.equal(out, '3\nlost:', 'only the transaction that committed left its row, and nothing of the lost one');
    } finally {
      psql(0, `DROP DATABASE ${name} WITH (FORCE)`);
    }
  });
