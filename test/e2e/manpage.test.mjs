// The manual page documents every command and long option that `usock --help` lists, and renders without warnings; CONTRIBUTING.md's Code map names every source file.
import ava from 'ava';

/** The tests of a file run one after another (they start servers, time things, count descriptors); files run side by side. */
const test = ava.serial;
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const usockBin = fileURLToPath(new URL('../../bin/usock', import.meta.url));
const manPage = fileURLToPath(new URL('../../man/usock.1', import.meta.url));
const contributing = fileURLToPath(new URL('../../CONTRIBUTING.md', import.meta.url));
const srcDir = fileURLToPath(new URL('../../src', import.meta.url));

/** Returns the stdout of `usock ARGS --help`; throws when it does not exit 0. */
function helpText(args) {
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [usockBin, ...args, '--help'], { encoding: 'utf8', env, timeout: 30_000 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`usock ${[...args, '--help'].join(' ')} exited ${result.status ?? result.signal}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Returns the command names listed in the "Commands:" section of the top-level help. */
function listedCommands(help) {
  const lines = help.split('\n');
  const start = lines.findIndex((line) => /^Commands:\s*$/.test(line));
  if (start < 0) return [];
  const names = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    const match = /^\s+usock\s+([a-z][a-z0-9-]*)/.exec(line);
    if (match) names.push(match[1]);
  }
  return names;
}

/** Returns the distinct `--long-option` tokens in text. */
function longOptions(text) {
  return [...new Set(text.match(/(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*/g) ?? [])];
}

/** Returns roff source as plain text: `\-` becomes `-`, font and zero-width escapes are dropped. */
function roffToText(roff) {
  return roff
    .replace(/\\f(?:\[[^\]]*\]|\(..|.)/g, '')
    .replace(/\\&/g, '')
    .replace(/\\-/g, '-');
}

/** Returns the text of the `.SH` section named title (up to the next `.SH`), or '' when absent. */
function section(roff, title) {
  const parts = roff.split(/^\.SH\s+/m);
  const found = parts.find((part) => part.replace(/^"/, '').startsWith(title));
  return found ?? '';
}

/** Returns the `.SS` subsections of COMMANDS, keyed by their first word (the command name). */
function commandSections(roff) {
  const sections = new Map();
  for (const part of section(roff, 'COMMANDS')
    .split(/^\.SS\s+/m)
    .slice(1)) {
    const name = part.replace(/^"/, '').split(/\s/)[0];
    sections.set(roffToText(name), part);
  }
  return sections;
}

/** Returns whether option occurs in text as a whole token (so `--as` is not found inside `--ask`). */
function mentions(text, option) {
  const escaped = option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`).test(text);
}

/** Returns whether program can be run (spawn does not fail with ENOENT). */
function available(program) {
  const result = spawnSync(program, ['--version'], { encoding: 'utf8' });
  return !result.error;
}

const roff = readFileSync(manPage, 'utf8');
const manText = roffToText(roff);
const globalSection = roffToText(section(roff, 'GLOBAL OPTIONS'));
const subsections = commandSections(roff);

let topHelp;
let helpError;
try {
  topHelp = helpText([]);
} catch (error) {
  helpError = error;
}

if (helpError) {
  test('usock --help runs (build with `npm run build`)', (t) => {
    t.fail(String(helpError.message ?? helpError));
  });
} else {
  const globalOptions = longOptions(topHelp);
  const commands = listedCommands(topHelp);

  test('usock --help lists commands and global options', (t) => {
    t.true(commands.length > 0, `no "Commands:" section in:\n${topHelp}`);
    t.true(globalOptions.includes('--type'), 'usock --help does not list --type');
  });

  test('the man page documents every global option under GLOBAL OPTIONS', (t) => {
    t.not(globalSection, '', 'man page has no GLOBAL OPTIONS section');
    const missing = globalOptions.filter((option) => !mentions(globalSection, option));
    t.deepEqual(missing, [], `global options missing from GLOBAL OPTIONS: ${missing.join(' ')}`);
  });

  for (const command of commands) {
    test(`the man page documents ${command} and each of its options`, (t) => {
      const options = longOptions(helpText([command]));
      t.true(options.length > 0, `usock ${command} --help shows no long option`);
      t.true(mentions(manText, command), `command ${command} does not appear in the man page`);
      const missing = options.filter((option) => !mentions(manText, option));
      t.deepEqual(missing, [], `options of ${command} missing from the man page: ${missing.join(' ')}`);

      const own = subsections.get(command);
      t.truthy(own, `no ".SS ${command} ..." subsection under COMMANDS`);
      const ownText = roffToText(own ?? '');
      const undocumented = options.filter((option) => !globalOptions.includes(option) && !mentions(ownText, option));
      t.deepEqual(undocumented, [], `options of ${command} missing from its own subsection: ${undocumented.join(' ')}`);
    });
  }
}

test('the man page renders with man and groff', (t) => {
  let checked = false;
  if (available('man')) {
    checked = true;
    const env = { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80' };
    const result = spawnSync('man', ['-l', manPage], { encoding: 'utf8', env, timeout: 30_000 });
    t.is(result.status, 0, `man -l failed: ${result.stderr}`);
    t.regex(result.stdout, /SYNOPSIS/);
  } else {
    t.log('man is not installed: man -l not checked');
  }
  if (available('groff')) {
    checked = true;
    const result = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', manPage], { encoding: 'utf8', timeout: 30_000 });
    t.is(result.status, 0, `groff failed: ${result.stderr}`);
    t.is(result.stderr, '', 'groff -ww reports warnings');
  } else {
    t.log('groff is not installed: groff -ww not checked');
  }
  if (!checked) {
    t.log('neither man nor groff is installed: rendering not checked');
    t.pass();
  }
});

/** Returns the paths of the files under dir, relative to dir, with '/' separators. */
function filesUnder(dir, prefix = '') {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

test("CONTRIBUTING.md's Code map names every source file under src/", (t) => {
  const text = readFileSync(contributing, 'utf8');
  const start = text.indexOf('## Code map');
  t.true(start >= 0, 'CONTRIBUTING.md has no "## Code map" section');
  const end = text.indexOf('\n## ', start + 1);
  const map = text.slice(start, end < 0 ? undefined : end);
  // A file is named by its path (`src/io/connection.ts`) or, within its folder's entry, by the end of
  // it in backquotes (`connection.ts`, `platform/linux.ts`).
  const named = (file) => {
    const parts = file.split('/');
    return map.includes(`src/${file}`) || parts.some((_, i) => map.includes(`\`${parts.slice(i).join('/')}\``));
  };
  const unnamed = filesUnder(srcDir).filter((file) => !named(file));
  t.deepEqual(unnamed, [], `source files the Code map does not name: ${unnamed.join(' ')}`);
  // A folder too (a command's index.ts is named by any `index.ts`): `src/commands/tap/`, `tap/`, `tap/dgram.ts`.
  const folders = [
    ...new Set(
      filesUnder(srcDir).flatMap((file) =>
        file
          .split('/')
          .slice(0, -1)
          .map((_, i, dirs) => dirs.slice(0, i + 1).join('/')),
      ),
    ),
  ];
  const namedFolder = (dir) => {
    const parts = dir.split('/');
    return map.includes(`src/${dir}/`) || parts.some((_, i) => map.includes(`\`${parts.slice(i).join('/')}/`));
  };
  const unnamedFolders = folders.filter((dir) => !namedFolder(dir));
  t.deepEqual(unnamedFolders, [], `source folders the Code map does not name: ${unnamedFolders.join(' ')}`);
});
