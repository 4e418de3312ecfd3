// Unit tests of settle: defaults applied once, each value read by its type, and the "does not apply" rules in one wording naming the command.
import test from 'ava';
import { settle } from '../../../src/cli/settle.ts';
import { connectSpec } from '../../../src/commands/connect/index.ts';
import { listenSpec } from '../../../src/commands/listen/index.ts';
import { lsSpec } from '../../../src/commands/ls/index.ts';
import { pairSpec } from '../../../src/commands/pair/index.ts';
import { whoCanSpec } from '../../../src/commands/who-can/index.ts';

/**
 * Returns GivenArgs: options as [key, words] pairs, positionals by name.
 * @param {Array<[string, string[]]>} options @param {Record<string, string>} [positionals] @param {string[]} [rest]
 */
function given(options, positionals = { address: '/tmp/a.sock' }, rest = undefined) {
  return { options: new Map(options), positionals: new Map(Object.entries(positionals)), rest };
}

/** Asserts that settling spec with options throws a usage error with exactly message. */
function refused(t, spec, options, message, positionals) {
  const err = t.throws(() => settle(spec, given(options, positionals)), { name: 'UsageError' });
  t.is(err?.message, message);
}

test('defaults: given once in the spec; flags false, repeatable options empty, the others undefined', (t) => {
  const s = settle(connectSpec, given([]));
  t.like(s, {
    type: 'stream',
    probe: false,
    wait: 0.5,
    shutdownDelay: 0.25,
    frame: 'line',
    maxSize: 262144,
    json: false,
    address: '/tmp/a.sock',
  });
  t.is(s.timeout, undefined);
  t.is(s.rest, undefined);
  t.deepEqual(settle(listenSpec, given([])).allowUid, []);
  t.is(settle(lsSpec, given([], {})).type, undefined, 'ls -t filters: no default');
});

test('values are read by their types, once', (t) => {
  const s = settle(
    connectSpec,
    given([
      ['timeout', ['2.5']],
      ['type', ['dgram']],
      ['count', ['3']],
      ['wait', ['0']],
    ]),
  );
  t.like(s, { timeout: 2.5, type: 'dgram', count: 3, wait: 0 });
  refused(t, connectSpec, [['timeout', ['0']]], "bad --timeout '0': expected a number of seconds above 0");
  refused(t, listenSpec, [['mode', ['999']]], "bad --mode '999': expected octal permission bits such as 0660");
});

test('an option where it does not apply: 64, one wording, naming the command, the rule and why', (t) => {
  refused(
    t,
    connectSpec,
    [['wait', ['1']]],
    'connect: --wait does not apply to -t stream (a stream or seqpacket peer ends with EOF: it applies to -t dgram only)',
  );
  refused(
    t,
    connectSpec,
    [
      ['probe', []],
      ['count', ['1']],
    ],
    'connect: --count does not apply with -z (nothing is sent or received)',
  );
  refused(
    t,
    connectSpec,
    [['type', ['auto']]],
    'connect: --type auto does not apply without -z (only a probe detects the type: give -t stream, dgram or seqpacket)',
  );
  refused(
    t,
    connectSpec,
    [
      ['probe', []],
      ['type', ['auto']],
      ['bind', ['/tmp/b']],
    ],
    'connect: --bind does not apply with -t auto (each type tried would bind it again: give the type)',
  );
  refused(
    t,
    connectSpec,
    [
      ['exec', ['cat']],
      ['frame', ['nul']],
    ],
    'connect: --frame does not apply to -t stream with --exec (the command reads and writes the socket)',
  );
  refused(t, listenSpec, [['maxConns', ['5']]], 'listen: --max-conns does not apply without -k (without it listen serves one connection)');
  refused(
    t,
    pairSpec,
    [['frame', ['nul']]],
    'pair: --frame does not apply with CMD2 (it applies only where usock itself holds the other end)',
    { cmd1: 'a', cmd2: 'b' },
  );
  const err = /** @type {{ kind?: string } | undefined} */ (t.throws(() => settle(connectSpec, given([['wait', ['1']]]))));
  t.is(err?.kind, 'USAGE', 'exit status 64');
});

test('where an option applies, its rules stay silent', (t) => {
  t.like(
    settle(
      connectSpec,
      given([
        ['type', ['dgram']],
        ['wait', ['1']],
        ['count', ['2']],
      ]),
    ),
    { wait: 1, count: 2 },
  );
  t.like(
    settle(
      connectSpec,
      given([
        ['probe', []],
        ['type', ['auto']],
      ]),
    ),
    { type: 'auto', probe: true },
  );
  t.like(
    settle(
      connectSpec,
      given([
        ['type', ['seqpacket']],
        ['exec', ['cat']],
        ['frame', ['nul']],
      ]),
    ),
    { frame: 'nul' },
  );
  t.like(
    settle(
      listenSpec,
      given([
        ['keepOpen', []],
        ['maxConns', ['5']],
        ['type', ['stream']],
        ['count', ['2']],
      ]),
    ),
    { maxConns: 5, count: 2 },
  );
  t.like(
    settle(
      pairSpec,
      given(
        [
          ['type', ['dgram']],
          ['frame', ['nul']],
        ],
        { cmd1: 'a' },
      ),
    ),
    { frame: 'nul', cmd2: undefined },
  );
});

test('a rule may carry a hint line', (t) => {
  const err = /** @type {{ message?: string, hint?: string } | undefined} */ (
    t.throws(() => settle(whoCanSpec, given([['try', []]], { address: '@x' })), { name: 'UsageError' })
  );
  t.is(err?.message, 'who-can: --try does not apply without --user (it connects as each --user NAME)');
  t.regex(err?.hint ?? '', /--try --user/);
});
