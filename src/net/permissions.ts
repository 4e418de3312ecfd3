// Who may connect to a socket file, decided as the kernel decides (path_resolution(7), acl(5), fs/namei.c): pure functions of the path's records and a user's ids.

/** Tags of POSIX ACL entries, as the `system.posix_acl_access` extended attribute stores them. */
export const ACL_USER_OBJ = 0x01;
export const ACL_USER = 0x02;
export const ACL_GROUP_OBJ = 0x04;
export const ACL_GROUP = 0x08;
export const ACL_MASK = 0x10;
export const ACL_OTHER = 0x20;
/** The version in the attribute's header. */
export const ACL_XATTR_VERSION = 2;

/** Permission bits: what a directory needs (search) and what a socket needs (write). */
export const MAY_EXEC = 1;
export const MAY_WRITE = 2;

/** An id no file carries ((uid_t)-1): the uid of a subject that owns nothing, a group that matches nothing. */
export const NO_ID = -1;

export interface AclEntry {
  tag: number;
  perm: number;
  id: number | null;
}

/**
 * Returns the entries of a `system.posix_acl_access` value: a little-endian u32 version (2), then
 * entries of { u16 tag, u16 perm, u32 id } (id only meaningful for ACL_USER and ACL_GROUP; null for the
 * others). Throws RangeError when the value is not such a list.
 */
export function parseAcl(value: Buffer): AclEntry[] {
  if (value.length < 4 || (value.length - 4) % 8 !== 0) throw new RangeError(`malformed ACL: ${value.length} bytes`);
  const version = value.readUInt32LE(0);
  if (version !== ACL_XATTR_VERSION) throw new RangeError(`malformed ACL: version ${version}, expected ${ACL_XATTR_VERSION}`);
  const entries: AclEntry[] = [];
  for (let off = 4; off < value.length; off += 8) {
    const tag = value.readUInt16LE(off);
    if (![ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER].includes(tag))
      throw new RangeError(`malformed ACL: tag 0x${tag.toString(16)}`);
    const named = tag === ACL_USER || tag === ACL_GROUP;
    entries.push({ tag, perm: value.readUInt16LE(off + 2) & 7, id: named ? value.readUInt32LE(off + 4) : null });
  }
  return entries;
}

/** Names of users and groups for messages; an id without a name comes back as its number. */
export interface Names {
  user(uid: number): string;
  group(gid: number): string;
}

/** Returns perm as `rwx` with dashes (`r-x`). */
export function permString(perm: number): string {
  return (perm & 4 ? 'r' : '-') + (perm & 2 ? 'w' : '-') + (perm & 1 ? 'x' : '-');
}

/** Returns an entry as getfacl writes it: `user::rw-`, `user:nobody:rw-`, `group:staff:r-x`, `mask::r--`, `other::---`. */
export function aclEntryText(e: AclEntry, names: Names): string {
  const kind =
    e.tag === ACL_USER_OBJ || e.tag === ACL_USER
      ? 'user'
      : e.tag === ACL_GROUP_OBJ || e.tag === ACL_GROUP
        ? 'group'
        : e.tag === ACL_MASK
          ? 'mask'
          : 'other';
  const qualifier = e.tag === ACL_USER ? names.user(e.id!) : e.tag === ACL_GROUP ? names.group(e.id!) : '';
  return `${kind}:${qualifier}:${permString(e.perm)}`;
}

/** Returns the mode as `ls -l` writes it (`srw-rw----`, `drwxrwxrwt`), with `+` when the file carries an ACL. */
export function modeString(mode: number, hasAcl = false): string {
  const type =
    ({ 0o140000: 's', 0o120000: 'l', 0o100000: '-', 0o060000: 'b', 0o040000: 'd', 0o020000: 'c', 0o010000: 'p' } as Record<number, string>)[
      mode & 0o170000
    ] ?? '?';
  const bit = (on: number, c: string) => (mode & on ? c : '-');
  const special = (x: number, s: number, lower: string) => (mode & s ? (mode & x ? lower : lower.toUpperCase()) : mode & x ? 'x' : '-');
  return (
    type +
    bit(0o400, 'r') +
    bit(0o200, 'w') +
    special(0o100, 0o4000, 's') +
    bit(0o040, 'r') +
    bit(0o020, 'w') +
    special(0o010, 0o2000, 's') +
    bit(0o004, 'r') +
    bit(0o002, 'w') +
    special(0o001, 0o1000, 't') +
    (hasAcl ? '+' : '')
  );
}

/** One component of the walk to a socket: a directory searched, a symbolic link followed, or the socket file itself. */
export interface PathStep {
  /** The path of the component as the walk reached it (symbolic links expanded before it). */
  path: string;
  kind: 'directory' | 'symlink' | 'socket';
  uid: number;
  gid: number;
  /** st_mode, file type bits included. */
  mode: number;
  /** The entries of its access ACL, or null when it has none. */
  acl: AclEntry[] | null;
  /** A symbolic link's target. */
  target?: string;
}

/** Who asks: a uid and every gid (primary and supplementary). uid 0 is the superuser. */
export interface Subject {
  uid: number;
  gids: readonly number[];
}

/** The permission bit a step needs (a directory: search; the socket: write), or 0 for a symbolic link (never checked). */
export function needOf(step: PathStep): number {
  return step.kind === 'directory' ? MAY_EXEC : step.kind === 'socket' ? MAY_WRITE : 0;
}

/** Which class of the file's permissions decided, and whether it grants. */
export type Decision = { granted: boolean; emptyMaskSkipped?: boolean } & (
  | { by: 'superuser' }
  | { by: 'owner' }
  | { by: 'user'; entry: AclEntry; mask: number }
  | { by: 'group'; gids: number[]; entries: AclEntry[] | null; mask: number | null }
  | { by: 'other' }
);

/**
 * Returns whether subject gets want (MAY_EXEC, MAY_WRITE) on step, and which class decided, as
 * fs/namei.c's acl_permission_check and fs/posix_acl.c's posix_acl_permission do: the superuser passes
 * (CAP_DAC_OVERRIDE); the owner gets the owner bits; with an ACL whose mask (the mode's group bits) is not
 * empty: a named user entry (masked), then the owning group and named group entries the subject is in
 * (masked; any one granting grants; matching one and none granting denies), then other; without an ACL,
 * or with an empty mask (the kernel then skips the ACL): the group bits for a member of the owning
 * group, the other bits for everyone else.
 */
export function checkStep(step: PathStep, subject: Subject, want: number): Decision {
  if (subject.uid === 0) return { by: 'superuser', granted: true };
  const mode = step.mode;
  if (subject.uid === step.uid) return { by: 'owner', granted: ((mode >> 6) & want) === want };
  const inGroup = (gid: number) => subject.gids.includes(gid);
  const acl = step.acl;
  if (acl && (mode & 0o070) !== 0) {
    const maskEntry = acl.find((e) => e.tag === ACL_MASK);
    const mask = maskEntry ? maskEntry.perm : 7;
    const named = acl.find((e) => e.tag === ACL_USER && e.id === subject.uid);
    if (named) return { by: 'user', entry: named, mask, granted: (named.perm & mask & want) === want };
    const groups = acl.filter((e) => (e.tag === ACL_GROUP_OBJ && inGroup(step.gid)) || (e.tag === ACL_GROUP && inGroup(e.id!)));
    if (groups.length > 0) {
      const gids = groups.map((e) => (e.tag === ACL_GROUP_OBJ ? step.gid : e.id!));
      const first = groups.find((e) => (e.perm & want) === want);
      return {
        by: 'group',
        gids,
        entries: groups,
        mask: maskEntry ? mask : null,
        granted: first !== undefined && (first.perm & mask & want) === want,
      };
    }
    const other = acl.find((e) => e.tag === ACL_OTHER);
    return { by: 'other', granted: ((other ? other.perm : mode) & want) === want };
  }
  const emptyMaskSkipped =
    acl !== null && acl.some((e) => (e.tag === ACL_USER && e.id === subject.uid) || (e.tag === ACL_GROUP && inGroup(e.id!)));
  const extra = emptyMaskSkipped ? { emptyMaskSkipped } : {};
  if (inGroup(step.gid))
    return { by: 'group', gids: [step.gid], entries: null, mask: null, granted: ((mode >> 3) & want) === want, ...extra };
  return { by: 'other', granted: (mode & want) === want, ...extra };
}

/** The verdict for one subject: allowed or not, why, and the index of the step that stops it (null when allowed). */
export interface Verdict {
  allowed: boolean;
  reason: string;
  stoppedAt: number | null;
}

/** Returns the step as messages show it: `/run/app (drwx------ app app)`. */
export function describeStep(step: PathStep, names: Names): string {
  return `${step.path} (${modeString(step.mode, step.acl !== null)} ${names.user(step.uid)} ${names.group(step.gid)})`;
}

/** Returns whom a decision is about, for `... permission for WHOM` and `grants ... to WHOM`. */
export function whomOf(step: PathStep, d: Decision, names: Names): string {
  let whom: string;
  switch (d.by) {
    case 'superuser':
      return 'the superuser';
    case 'owner':
      whom = `its owner ${names.user(step.uid)}`;
      break;
    case 'user': {
      const masked = (d.entry.perm & d.mask) !== d.entry.perm;
      whom = `user ${names.user(d.entry.id!)} (ACL entry ${aclEntryText(d.entry, names)}${masked ? `, limited by the mask ${permString(d.mask)}` : ''})`;
      break;
    }
    case 'group': {
      const list = d.gids.map((g) => names.group(g)).join(', ');
      whom = `${d.gids.length === 1 ? 'the group' : 'the groups'} ${list}`;
      if (d.entries) {
        const entries = d.entries.map((e) => aclEntryText(e, names)).join(', ');
        whom += ` (ACL ${d.entries.length === 1 ? 'entry' : 'entries'} ${entries}${d.mask !== null ? `, mask ${permString(d.mask)}` : ''})`;
      }
      break;
    }
    case 'other':
      whom = 'others';
      break;
  }
  if (d.emptyMaskSkipped) whom += "; the ACL's mask is empty, so the kernel ignores its named entries";
  return whom;
}

/**
 * Returns the verdict for subject connecting through steps (the walk, the socket last): the first step
 * that refuses what it needs stops it (`/run/app (drwx------ app app) has no search permission for
 * others`); otherwise the socket's grant is the reason (`/run/app.sock (srw-rw---- app app) grants write to
 * the group app`).
 */
export function evaluate(steps: readonly PathStep[], subject: Subject, names: Names): Verdict {
  if (subject.uid === 0)
    return { allowed: true, reason: 'the superuser passes every permission check (CAP_DAC_OVERRIDE)', stoppedAt: null };
  let last: { step: PathStep; d: Decision } | null = null;
  for (const [i, step] of steps.entries()) {
    const want = needOf(step);
    if (want === 0) continue;
    const d = checkStep(step, subject, want);
    if (!d.granted) {
      const what = want === MAY_EXEC ? 'search' : 'write';
      return {
        allowed: false,
        reason: `${describeStep(step, names)} has no ${what} permission for ${whomOf(step, d, names)}`,
        stoppedAt: i,
      };
    }
    last = { step, d };
  }
  if (!last) return { allowed: true, reason: 'nothing on the way checks permissions', stoppedAt: null };
  return {
    allowed: true,
    reason: `${describeStep(last.step, names)} grants write to ${whomOf(last.step, last.d, names)}`,
    stoppedAt: null,
  };
}

/** Error codes of a connect that a permission check refused. */
const REFUSED_BY_PERMISSION = ['EACCES', 'EPERM'];
/** Outcomes that come only after the permission checks passed: the socket was reached (nobody listening, another type, a full backlog). */
const PAST_PERMISSION = ['connected', 'ECONNREFUSED', 'EPROTOTYPE', 'EAGAIN'];

/**
 * Returns whether a real connection attempt's outcome (`connected` or an error code) disagrees with the
 * prediction: an allowed user refused with EACCES or EPERM, or a denied user that got past the
 * permission checks (connected, ECONNREFUSED, EPROTOTYPE, EAGAIN). Any other outcome (the socket gone,
 * a failure to run) says nothing about permissions: false.
 */
export function outcomeDiffers(allowed: boolean, outcome: string): boolean {
  if (REFUSED_BY_PERMISSION.includes(outcome)) return allowed;
  if (PAST_PERMISSION.includes(outcome)) return !allowed;
  return false;
}
