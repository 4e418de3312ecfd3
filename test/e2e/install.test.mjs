// A real install: npm pack, then npm install -g of that tarball into a temporary prefix, gives a working usock
// on PATH and its manual page linked where man finds it.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir, hasCommand } from '../helpers.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NPM = hasCommand('npm');

(NPM ? test : test.skip)(
  `npm pack, then npm install -g of the tarball: usock runs from the prefix and man finds usock(1)${NPM ? '' : ' [skipped: npm is not on PATH]'}`,
  (t) => {
    const dir = tmpDir(t);
    const pack = spawnSync('npm', ['pack', '--pack-destination', dir, '--ignore-scripts'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    t.is(pack.status, 0, pack.stderr);
    const tarball = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'));
    t.truthy(tarball, 'a tarball');
    const prefix = path.join(dir, 'prefix');
    const install = spawnSync(
      'npm',
      ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, tarball)],
      { encoding: 'utf8', timeout: 180_000 },
    );
    t.is(install.status, 0, install.stderr);
    const bin = path.join(prefix, 'bin', 'usock');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    t.is(version.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    const probe = spawnSync(bin, ['connect', '-z', path.join(dir, 'nothing.sock')], { encoding: 'utf8' });
    t.is(probe.status, 69, probe.stderr);
    t.regex(probe.stderr, /^usock: connect .*nothing\.sock: No such file or directory \(ENOENT\)/);
    const page = path.join(prefix, 'share', 'man', 'man1', 'usock.1');
    t.true(fs.existsSync(page), 'npm linked the manual page');
    if (hasCommand('man')) {
      const man = spawnSync('man', ['-w', 'usock'], {
        encoding: 'utf8',
        env: { ...process.env, MANPATH: path.join(prefix, 'share', 'man') },
      });
      t.is(man.status, 0, man.stderr);
      t.is(fs.realpathSync(man.stdout.trim()), fs.realpathSync(page));
    }
  },
);
