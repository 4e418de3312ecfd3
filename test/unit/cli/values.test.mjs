// Unit tests of the value types: each reads the words given, checks them and returns the typed value, or throws a usage error naming the option and the value as written.
import test from 'ava';
import { address, choice, file, flag, group, octalMode, repeatable, seconds, text, user, wholeNumber } from '../../../src/cli/values.ts';

/** Asserts that parsing words as type throws a usage error (64) whose message matches re. */
function bad(t, type, words, re) {
  const err = t.throws(() => type.parse(words, '--opt'), { name: 'UsageError' }, JSON.stringify(words));
  t.regex(err.message, re);
}

test('flag: true when given, read alone', (t) => {
  t.is(flag().takes, 'flag');
  t.true(flag().parse([], '--opt'));
});

test('seconds: fractions, 0 or more; above 0 where asked', (t) => {
  t.is(seconds().parse(['0'], '--opt'), 0);
  t.is(seconds().parse(['1.5'], '--opt'), 1.5);
  t.is(seconds().parse(['.25'], '--opt'), 0.25);
  t.is(seconds({ above0: true }).parse(['2'], '--opt'), 2);
  bad(t, seconds({ above0: true }), ['0'], /^bad --opt '0': expected a number of seconds above 0$/);
  for (const w of ['-1', 'abc', '', '1e3', '0x10', 'Infinity', '1 2'])
    bad(t, seconds(), [w], new RegExp(`^bad --opt '${w}': expected seconds, 0 or more$`));
  bad(t, seconds(), ['1', '2'], /^bad --opt '1,2'/); // given twice
});

test('whole number: within its range, shown as written otherwise', (t) => {
  const n = wholeNumber(1, 10);
  t.is(n.parse(['1'], '--opt'), 1);
  t.is(n.parse(['10'], '--opt'), 10);
  t.is(n.parse([' 7 '], '--opt'), 7);
  for (const w of ['0', '11', '1.5', '-1', 'x', '', '0x5'])
    bad(t, n, [w], new RegExp(`^bad --opt '${w}': expected a whole number from 1 to 10$`));
  t.is(wholeNumber(0).parse(['9007199254740991'], '--opt'), Number.MAX_SAFE_INTEGER);
});

test('octal mode: three octal digits, a leading 0 allowed', (t) => {
  t.is(octalMode().parse(['600'], '--opt'), 0o600);
  t.is(octalMode().parse(['0660'], '--opt'), 0o660);
  t.is(octalMode().parse(['7'], '--opt'), 0o7);
  for (const w of ['800', '01777', 'rw', '', '0x1ff', '-600']) bad(t, octalMode(), [w], /expected octal permission bits such as 0660$/);
});

test('choice: one of its words, offered by completion', (t) => {
  const c = choice(['line', 'nul']);
  t.deepEqual(c.choices, ['line', 'nul']);
  t.is(c.parse(['nul'], '--opt'), 'nul');
  bad(t, c, ['csv'], /^bad --opt 'csv': expected one of line, nul$/);
  bad(t, c, ['Line'], /expected one of/);
});

test('text types take the word as it is; completion is told what they name', (t) => {
  t.is(text('CMD').parse(['a b'], '--opt'), 'a b');
  t.is(address().complete, 'address');
  t.is(file().complete, 'file');
  t.is(user().complete, 'user');
  t.is(group().complete, 'group');
  t.is(text('X').complete, 'none');
});

test('repeatable: every value given, each read by its item type', (t) => {
  const r = repeatable(wholeNumber(0, 5));
  t.is(r.takes, 'values');
  t.deepEqual(r.parse(['1', '2', '5'], '--opt'), [1, 2, 5]);
  bad(t, r, ['1', '9'], /^bad --opt '9'/);
  t.is(repeatable(user()).complete, 'user');
});
