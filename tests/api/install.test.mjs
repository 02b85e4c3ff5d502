// `make install` (meson install): the binary, the web client, deploy/ and
// the man pages land under the prefix (here inside a DESTDIR); the man
// pages are valid roff and name every command and every setting that
// --help names (they are written from the same tables); and the installed
// binary serves its installed web client, found from its own path, not the
// source tree's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, appendFile, constants, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { external, serverBinary, startServer } from './lib.mjs';

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  assert.equal(r.error, undefined, `${cmd}: ${r.error?.message}`);
  return r;
};

test('make install puts the binary, web client, deploy files and man pages in place', { skip: external }, async (t) => {
  const buildDir = path.dirname(serverBinary());
  const dest = await mkdtemp(path.join(tmpdir(), 'picogram-install-'));
  t.after(() => rm(dest, { recursive: true, force: true }));
  const inst = run('meson', ['install', '-C', buildDir, '--destdir', dest, '--no-rebuild', '--quiet']);
  assert.equal(inst.status, 0, `${inst.stdout}${inst.stderr}`);
  // where each built or copied thing goes, under the build's prefix
  const map = JSON.parse(run('meson', ['introspect', '--installed', buildDir]).stdout);
  const at = (suffix) => {
    const to = Object.values(map).find((p) => p.endsWith(suffix));
    assert.ok(to, `nothing installs to *${suffix}: ${JSON.stringify(map)}`);
    return path.join(dest, to);
  };
  const bin = at('/bin/picogram');
  const web = at('/share/picogram/web');
  const deploy = at('/share/picogram/deploy');
  const man1 = at('/man1/picogram.1');
  const man5 = at('/man5/picogram.conf.5');
  await access(bin, constants.X_OK);
  for (const f of ['index.html', 'app.css', 'js']) await access(path.join(web, f));
  for (const f of ['nginx.conf', 'systemd/picogram.service', 'systemd/picogram-worker.service']) await access(path.join(deploy, f));
  for (const f of ['roll.sh', 'munin/picogram']) await access(path.join(deploy, f), constants.X_OK);

  // the man pages: valid roff (groff warns of nothing) ...
  for (const page of [man1, man5]) {
    const g = run('groff', ['-man', '-Tutf8', '-ww', '-z', page]);
    assert.equal(g.status, 0, g.stderr);
    assert.equal(g.stderr, '', `${page}: groff warns`);
    const m = run('man', ['-l', page], { env: { ...process.env, MANWIDTH: '100', MAN_KEEP_FORMATTING: '' } });
    assert.equal(m.status, 0, m.stderr);
  }
  // ... that name every command of `picogram help` and every setting of --help
  const help = run(bin, ['help']);
  assert.equal(help.status, 0);
  const commands = [...help.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((x) => x[1]);
  assert.ok(commands.includes('serve') && commands.includes('manpage'), help.stdout);
  const serveHelp = run(bin, ['serve', '--help']);
  assert.equal(serveHelp.status, 0);
  const flags = [...serveHelp.stdout.matchAll(/^ {2}--([a-z-]+) /gm)].map((x) => x[1]).filter((f) => f !== 'config');
  assert.ok(flags.length > 30, serveHelp.stdout);
  const page1 = run('man', ['-l', man1], { env: { ...process.env, MANWIDTH: '200' } }).stdout.replace(/.\x08/g, '');
  const page5 = run('man', ['-l', man5], { env: { ...process.env, MANWIDTH: '200' } }).stdout.replace(/.\x08/g, '');
  for (const c of commands) assert.match(page1, new RegExp(`^ {7}${c}\\b`, 'm'), `picogram(1) names the command ${c}`);
  for (const f of flags) {
    assert.match(page1, new RegExp(`^ {7}--${f} VALUE$`, 'm'), `picogram(1) names --${f}`);
    assert.match(page5, new RegExp(`^ {7}${f.replaceAll('-', '_')} = VALUE$`, 'm'), `picogram.conf(5) names ${f}`);
  }

  // the installed binary serves the installed web client (marked, so the
  // source tree's copy cannot pass for it)
  const marker = `<!-- installed copy ${process.pid} -->`;
  await appendFile(path.join(web, 'index.html'), marker);
  assert.ok((await stat(path.join(web, 'index.html'))).size > 0);
  const saved = process.env.PICOGRAM_BIN;
  process.env.PICOGRAM_BIN = bin;
  let srv;
  try {
    srv = await startServer(['--access-log', 'off']);
  } finally {
    if (saved === undefined) delete process.env.PICOGRAM_BIN; else process.env.PICOGRAM_BIN = saved;
  }
  try {
    const r = await fetch(`${srv.url}/`);
    assert.equal(r.status, 200);
    const body = await r.text();
    assert.ok(body.includes(marker), `GET / serves the installed index.html: ${body.slice(0, 200)}`);
    const css = await fetch(`${srv.url}/app.css`);
    assert.equal(css.status, 200);
    assert.equal(await css.text(), await readFile(path.join(web, 'app.css'), 'utf8'));
  } finally {
    await srv.stop();
  }
});

test('picogram manpage refuses a section it does not have, with exit code 2', { skip: external }, () => {
  const r = run(serverBinary(), ['manpage', '3']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /manpage takes 1 .* or 5/);
  assert.equal(r.stdout, '');
});
