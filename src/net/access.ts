// Access rules (--allow-uid, --allow-gid, --allow-user, --allow-group): which peers a server admits.
import { UsageError } from '../errors';
import { groupByName, userByName } from '../sys/users';

/** The rules as the user wrote them: ids and names, each list possibly empty. */
export interface AccessSpec {
  uids: readonly string[];
  gids: readonly string[];
  users: readonly string[];
  groups: readonly string[];
}

export interface AccessRules {
  uids: Set<number>;
  gids: Set<number>;
}

/** A peer as the rules see it: uid, primary gid, and supplementary groups where the kernel tells them. */
export interface PeerIdentity {
  uid: number;
  gid: number;
  groups?: number[];
}

const MAX_ID = 0xfffffffe;

function ids(option: string, values: readonly string[]): number[] {
  return values.map((v) => {
    // (uid_t)-1 is no id: chown(2) and setreuid(2) read it as "unchanged".
    if (!/^\d+$/.test(String(v)) || Number(v) > MAX_ID)
      throw new UsageError(`bad --${option} '${v}': expected a number from 0 to ${MAX_ID}`);
    return Number(v);
  });
}

/** Returns the rules the options give, or null when there are none (every peer is admitted). Throws UsageError (64) for an unknown user or group. */
export function parseAccessRules(spec: AccessSpec): AccessRules | null {
  const uids = new Set(ids('allow-uid', spec.uids));
  const gids = new Set(ids('allow-gid', spec.gids));
  for (const name of spec.users) {
    const user = userByName(String(name));
    if (!user) throw new UsageError(`unknown user '${name}' in --allow-user`);
    uids.add(user.uid);
  }
  for (const name of spec.groups) {
    const group = groupByName(String(name));
    if (!group) throw new UsageError(`unknown group '${name}' in --allow-group`);
    gids.add(group.gid);
  }
  return uids.size || gids.size ? { uids, gids } : null;
}

/** True when rules admit peer: no rules, its uid listed, or its gid or one of its groups listed. */
export function admits(rules: AccessRules | null, peer: PeerIdentity): boolean {
  if (!rules) return true;
  if (rules.uids.has(peer.uid) || rules.gids.has(peer.gid)) return true;
  return (peer.groups ?? []).some((g) => rules.gids.has(g));
}
