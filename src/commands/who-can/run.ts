// `usock who-can`: who may connect to a socket, and why (the path walk, the classes of users, named users and groups), optionally tried for real.
import { addressOf, reporterOf } from '../../cli/options';
import { EXIT, UsageError, UsockError } from '../../errors';
import { printOut } from '../../io/stdio';
import { walkToSocket } from '../../net/pathwalk';
import {
  ACL_GROUP,
  ACL_USER,
  aclEntryText,
  evaluate,
  modeString,
  NO_ID,
  outcomeDiffers,
  type Names,
  type PathStep,
  type Subject,
  type Verdict,
} from '../../net/permissions';
import { colourWanted, headCells, renderTable, terminalWidth } from '../../report/table';
import type { Reporter } from '../../report/reporter';
import { escapeField } from '../../report/text';
import { isTerminal } from '../../sys/tty';
import { allUsers, groupById, groupByName, groupsOf, userById, userByName, type UserEntry } from '../../sys/users';
import type { WhoCanSettings } from './index';

const ABSTRACT_REASON = 'an abstract address has no permissions: anyone in the network namespace can connect';

/** One named user or group and its verdict; with --try, the real outcome too. */
interface Row {
  name: string;
  idKey: 'uid' | 'gid';
  id: number;
  verdict: Verdict;
  /** The user to connect as with --try; null for a group (never tried). */
  user: UserEntry | null;
  tried?: boolean;
  outcome?: string | null;
  differs?: boolean;
}

type Style = 'table' | 'text' | 'json';

/** Runs `usock who-can`; resolves to 0, or 77 when a named user or group cannot connect. Throws UsageError (64), UsockError (66, 77), SysError. */
export async function runWhoCan(argv: WhoCanSettings): Promise<number> {
  const reporter = reporterOf(argv);
  const userNames = argv.user;
  const groupNames = argv.group;
  const users = userNames.map(lookUpUser);
  const groups = groupNames.map(lookUpGroup);
  if (argv.try && process.getuid?.() !== 0) throw new UsockError(`--try needs root (usock runs as uid ${process.getuid?.()})`, 'NOPERM');
  if (argv.try && argv.address.includes('\uFFFD')) {
    throw new UsageError(
      '--try cannot pass an address that is not UTF-8 on to connect --as',
      'reach the socket through a UTF-8 path, e.g. a symbolic link',
    );
  }
  const style: Style = argv.json ? 'json' : isTerminal(1) ? 'table' : 'text';
  const names = nameCache();
  const address = addressOf(argv.address);
  try {
    const steps = address.kind === 'abstract' ? null : walkToSocket(address.path!, `who-can ${address.text}`);
    const verdictOf = (s: Subject): Verdict =>
      steps ? evaluate(steps, s, names) : { allowed: true, reason: ABSTRACT_REASON, stoppedAt: null };
    if (users.length === 0 && groups.length === 0) {
      const everyone = allUsers();
      reporter.info('users', `${everyone.length} users in the user database`, { users: everyone.length });
      if (style === 'json') {
        await printOut(
          everyone.map((u) => JSON.stringify({ name: u.name, uid: u.uid, ...verdictJson(verdictOf(subjectOf(u))) }) + '\n').join(''),
        );
      } else {
        await printOut(steps ? await summary(steps, everyone, names, style) : await abstractSummary(style));
      }
      return EXIT.OK;
    }
    const rows: Row[] = [
      ...users.map((u): Row => ({ name: u.name, idKey: 'uid', id: u.uid, verdict: verdictOf(subjectOf(u)), user: u })),
      ...groups.map((g): Row => ({ name: g.name, idKey: 'gid', id: g.gid, verdict: verdictOf({ uid: NO_ID, gids: [g.gid] }), user: null })),
    ];
    if (argv.try) {
      const target = address.kind === 'abstract' || argv.address.startsWith('/') ? argv.address : `./${argv.address}`;
      for (const row of rows) {
        row.tried = row.user !== null;
        row.outcome = row.user ? await tryConnecting(row.user.name, target, argv.type ?? 'stream', reporter) : null;
        row.differs = row.outcome !== null && outcomeDiffers(row.verdict.allowed, row.outcome);
      }
    }
    await printOut(await formatRows(rows, style, argv.try === true));
    const refused = rows.some((r) => !r.verdict.allowed || r.outcome === 'EACCES' || r.outcome === 'EPERM');
    return refused ? EXIT.NOPERM : EXIT.OK;
  } finally {
    address.release();
  }
}

/** Returns the user called name (or with that uid, when name is a number); throws UsageError (64) when there is none. */
function lookUpUser(name: string): UserEntry {
  const user = userByName(name) ?? (/^\d+$/.test(name) ? userById(Number(name)) : null);
  if (!user) throw new UsageError(`unknown user '${name}'`, 'see `getent passwd`');
  return user;
}

/** Returns the group called name (or with that gid, when name is a number); throws UsageError (64) when there is none. */
function lookUpGroup(name: string): { name: string; gid: number } {
  const group = groupByName(name) ?? (/^\d+$/.test(name) ? groupById(Number(name)) : null);
  if (!group) throw new UsageError(`unknown group '${name}'`, 'see `getent group`');
  return group;
}

/** Returns the user as a subject: its uid, its primary gid and its supplementary groups from the database. */
function subjectOf(u: UserEntry): Subject {
  return { uid: u.uid, gids: groupsOf(u.name, u.gid) };
}

/** Returns names from the user and group databases, each id looked up once; an id without a name is its number. */
function nameCache(): Names {
  const usersById = new Map<number, string>();
  const groupsByGid = new Map<number, string>();
  return {
    user(uid) {
      if (!usersById.has(uid)) usersById.set(uid, userById(uid)?.name ?? String(uid));
      return usersById.get(uid)!;
    },
    group(gid) {
      if (!groupsByGid.has(gid)) groupsByGid.set(gid, groupById(gid)?.name ?? String(gid));
      return groupsByGid.get(gid)!;
    },
  };
}

/** Returns the JSON fields of a verdict. */
function verdictJson(v: Verdict): { allowed: boolean; reason: string } {
  return { allowed: v.allowed, reason: v.reason };
}

/**
 * Connects to target as user in a child (`usock connect -z --as USER`); resolves to `connected`, or the
 * error code the child reported (EACCES, ECONNREFUSED...), or `exit N` when it reported none. With -v,
 * reports the child's error line.
 */
async function tryConnecting(user: string, target: string, type: string, reporter: Reporter): Promise<string> {
  const { start } = await import('../../proc/spawn'); // child_process only where a command runs
  const running = await start(
    process.execPath,
    [...process.execArgv, process.argv[1]!, 'connect', '-z', '--as', user, '-t', type, target],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const chunks: Buffer[] = [];
  const stderr = running.child.stderr!;
  stderr.on('data', (d: Buffer) => chunks.push(d));
  const drained = new Promise<void>((resolve) => stderr.on('close', resolve));
  const [{ status, signal }] = await Promise.all([running.ended, drained]);
  if (status === 0) {
    reporter.info('try', `--try as ${user}: connected`, { user, status });
    return 'connected';
  }
  const first = Buffer.concat(chunks).toString().split('\n')[0] ?? '';
  reporter.info('try', `--try as ${user}: ${first.replace(/^usock: /, '') || `exit ${status}`}`, { user, status, error: first });
  const code = /\((E[A-Z0-9]+)\)\s*$/.exec(first);
  return code ? code[1]! : signal ? `killed by ${signal}` : `exit ${status}`;
}

/** Returns the rows as text for stdout: a table, tab-separated lines (name, id, verdict, reason[, outcome, agrees|DIFFERS]) or JSON lines. */
async function formatRows(rows: Row[], style: Style, tried: boolean): Promise<string> {
  if (style === 'json') {
    return rows
      .map(
        (r) =>
          JSON.stringify({
            name: r.name,
            [r.idKey]: r.id,
            ...verdictJson(r.verdict),
            ...(tried ? { tried: r.tried, outcome: r.outcome, differs: r.differs } : {}),
          }) + '\n',
      )
      .join('');
  }
  const verdictWord = (r: Row) => (r.verdict.allowed ? 'allowed' : 'denied');
  const check = (r: Row) => (r.outcome === null || r.outcome === undefined ? '-' : r.differs ? 'DIFFERS' : 'agrees');
  if (style === 'text') {
    return rows
      .map(
        (r) =>
          [
            escapeField(r.name),
            String(r.id),
            verdictWord(r),
            escapeField(r.verdict.reason),
            ...(tried ? [r.outcome ?? '-', check(r)] : []),
          ].join('\t') + '\n',
      )
      .join('');
  }
  const chalk = colourWanted() ? (await import('chalk')).default : null;
  const paint = (text: string, good: boolean) => (chalk ? (good ? chalk.green(text) : chalk.red(text)) : text);
  const head = await headCells(['name', 'id', 'verdict', 'reason', ...(tried ? ['outcome', 'check'] : [])]);
  const fixed = 16 + 12 + 10 + (tried ? 14 + 10 : 0);
  const reasonWidth = Math.max(24, terminalWidth() - fixed - (head.length + 1));
  return renderTable(
    rows.map((r) => [
      escapeField(r.name),
      `${r.idKey} ${r.id}`,
      paint(verdictWord(r), r.verdict.allowed),
      escapeField(r.verdict.reason),
      ...(tried ? [r.outcome ?? '-', r.differs ? paint('DIFFERS', false) : check(r)] : []),
    ]),
    { head, colWidths: [16, 12, 10, reasonWidth, ...(tried ? [14, 10] : [])], wordWrap: true },
  );
}

/** A class of users the socket file's permissions name: the superuser, its owner, a named ACL user, its group, a named ACL group, others. */
interface UserClass {
  key: string;
  label: string;
  subject: Subject;
}

/** Returns the classes of the socket file, each with a subject that stands for its members. */
function classesOf(sock: PathStep, names: Names, everyone: UserEntry[]): UserClass[] {
  const groupsOfUid = (uid: number) => {
    const u = everyone.find((e) => e.uid === uid) ?? userById(uid);
    return u ? groupsOf(u.name, u.gid) : [];
  };
  const classes: UserClass[] = [{ key: 'superuser', label: 'superuser', subject: { uid: 0, gids: [0] } }];
  if (sock.uid !== 0)
    classes.push({ key: 'owner', label: `owner ${names.user(sock.uid)}`, subject: { uid: sock.uid, gids: groupsOfUid(sock.uid) } });
  for (const e of sock.acl ?? []) {
    if (e.tag === ACL_USER && e.id !== sock.uid && e.id !== 0)
      classes.push({ key: `user:${e.id}`, label: `user ${names.user(e.id!)}`, subject: { uid: e.id!, gids: groupsOfUid(e.id!) } });
  }
  classes.push({ key: 'group', label: `group ${names.group(sock.gid)}`, subject: { uid: NO_ID, gids: [sock.gid] } });
  for (const e of sock.acl ?? []) {
    if (e.tag === ACL_GROUP && e.id !== sock.gid)
      classes.push({ key: `group:${e.id}`, label: `group ${names.group(e.id!)}`, subject: { uid: NO_ID, gids: [e.id!] } });
  }
  classes.push({ key: 'others', label: 'others', subject: { uid: NO_ID, gids: [] } });
  return classes;
}

/** Returns the key of the class a user falls in on the socket file (as the kernel tries them: owner, named user, groups, other). */
function classKeyOf(s: Subject, sock: PathStep, classes: UserClass[]): string {
  const has = (key: string) => classes.some((c) => c.key === key);
  if (s.uid === 0) return 'superuser';
  if (s.uid === sock.uid) return 'owner';
  if (has(`user:${s.uid}`)) return `user:${s.uid}`;
  if (s.gids.includes(sock.gid)) return 'group';
  const named = (sock.acl ?? []).find((e) => e.tag === ACL_GROUP && s.gids.includes(e.id!) && has(`group:${e.id}`));
  return named ? `group:${named.id}` : 'others';
}

/**
 * Returns the default report: the path walk (each component's mode, owner, group and ACL, and the
 * classes it stops), then each class with its verdict, the users of the database in it (those whose own
 * verdict differs from their class's marked `(allowed)` or `(denied)`), and the reason.
 */
async function summary(steps: PathStep[], everyone: UserEntry[], names: Names, style: Style): Promise<string> {
  const sock = steps[steps.length - 1]!;
  const classes = classesOf(sock, names, everyone);
  const verdicts = classes.map((c) => evaluate(steps, c.subject, names));
  const members = new Map<string, string[]>(classes.map((c) => [c.key, []]));
  for (const u of everyone) {
    const s = subjectOf(u);
    const key = classKeyOf(s, sock, classes);
    const own = evaluate(steps, s, names).allowed;
    const classVerdict = verdicts[classes.findIndex((c) => c.key === key)]!.allowed;
    members.get(key)!.push(own === classVerdict ? u.name : `${u.name} (${own ? 'allowed' : 'denied'})`);
  }
  const stops = steps.map((_, i) => classes.filter((__, k) => verdicts[k]!.stoppedAt === i).map((c) => c.label));
  const walk = steps.map((step, i) => ({
    path: step.path,
    mode: modeString(step.mode, step.acl !== null),
    owner: names.user(step.uid),
    group: names.group(step.gid),
    acl: step.acl ? step.acl.map((e) => aclEntryText(e, names)).join(',') : '-',
    note: step.kind === 'symlink' ? `-> ${step.target}` : stops[i]!.length > 0 ? `stops ${stops[i]!.join(', ')}` : '-',
  }));
  const who = classes.map((c, k) => ({
    who: c.label,
    verdict: verdicts[k]!.allowed ? 'allowed' : 'denied',
    users: members.get(c.key)!.join(', ') || '-',
    reason: verdicts[k]!.reason,
  }));
  if (style === 'text') {
    return (
      walk.map((w) => ['path', w.path, w.mode, w.owner, w.group, w.acl, w.note].map(escapeField).join('\t') + '\n').join('') +
      who.map((w) => ['who', w.who, w.verdict, w.users, w.reason].map(escapeField).join('\t') + '\n').join('')
    );
  }
  const width = terminalWidth();
  const walkTable = await renderTable(
    walk.map((w) => [w.path, w.mode, w.owner, w.group, w.acl, w.note].map(escapeField)),
    {
      head: await headCells(['path', 'mode', 'owner', 'group', 'acl', 'note']),
    },
  );
  const usersWidth = Math.max(16, Math.floor((width - 16 - 9 - 5) / 3));
  const whoTable = await renderTable(
    who.map((w) => [w.who, w.verdict, w.users, w.reason].map(escapeField)),
    {
      head: await headCells(['who', 'verdict', 'users', 'reason']),
      colWidths: [16, 9, usersWidth, Math.max(24, width - 16 - 9 - usersWidth - 5)],
      wordWrap: true,
    },
  );
  return walkTable + whoTable;
}

/** Returns the default report for an abstract address: anyone can connect. */
async function abstractSummary(style: Style): Promise<string> {
  if (style === 'text') return ['who', 'anyone', 'allowed', '-', ABSTRACT_REASON].join('\t') + '\n';
  return renderTable([['anyone', 'allowed', ABSTRACT_REASON]], { head: await headCells(['who', 'verdict', 'reason']) });
}
