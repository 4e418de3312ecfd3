// `usock who-can` as data: its address and options; the work is in ./run.
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { flag, group, repeatable, user } from '../../cli/values';

export const whoCanSpec = {
  name: 'who-can',
  summary: 'explain who may connect to the socket at ADDRESS: owner, group, mode, ACLs and every directory on the way',
  positionals: { address: { kind: 'address', required: true, help: 'socket path or @abstract name' } },
  options: {
    user: { value: repeatable(user()), help: 'say whether this user can connect, and why (repeatable); exit 77 when one cannot' },
    group: { value: repeatable(group()), help: 'say whether a member of this group can connect, and why (repeatable)' },
    try: {
      value: flag(),
      help: 'also connect as each --user (as connect -z --as; root only) and flag a real outcome that differs',
      notWhen: [{ without: ['user'], why: 'it connects as each --user NAME', hint: 'usock who-can --try --user www-data /run/app.sock' }],
    },
  },
} as const satisfies CommandSpec;

export type WhoCanSettings = SettingsOf<typeof whoCanSpec>;

export const whoCanCommand = command(whoCanSpec, async (settings) => (await import('./run')).runWhoCan(settings));
