// deploy/systemd: the units for serve and worker are valid for systemd
// (systemd-analyze verify), stop with SIGTERM and restart on failure, and
// are sandboxed (systemd-analyze security's exposure, offline, at most 2
// of 10: "OK").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { external, repoRoot, serverBinary } from './lib.mjs';

for (const [unit, command] of [['picogram.service', 'serve'], ['picogram-worker.service', 'worker']]) {
  test(`deploy/systemd/${unit}`, { skip: external }, async () => {
    const text = await readFile(path.join(repoRoot, 'deploy', 'systemd', unit), 'utf8');
    assert.match(text, new RegExp(`^ExecStart=/usr/local/bin/picogram ${command} --config /etc/picogram/picogram\\.conf$`, 'm'));
    for (const line of ['KillSignal=SIGTERM', 'Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'StateDirectory=picogram']) {
      assert.ok(text.split('\n').includes(line), `${unit}: ${line}`);
    }
    // systemd checks that ExecStart's binary exists: this build's stands in
    const dir = await mkdtemp(path.join(tmpdir(), 'picogram-unit-'));
    try {
      const file = path.join(dir, unit);
      await writeFile(file, text.replace('/usr/local/bin/picogram', path.resolve(serverBinary())));
      const verify = spawnSync('systemd-analyze', ['verify', '--man=no', file]);
      assert.equal(verify.error, undefined, `systemd-analyze: ${verify.error?.message}`);
      assert.equal(verify.status, 0, `${verify.stdout}${verify.stderr}`);
      assert.equal(verify.stderr.toString().trim(), '', 'no warning');
      const security = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', file]);
      const out = `${security.stdout}${security.stderr}`;
      const m = /Overall exposure level for [^:]+: ([\d.]+) (\S+)/.exec(out);
      assert.ok(m, out);
      assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} ${m[2]}:\n${out}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
