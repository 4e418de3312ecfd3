// yargs module for `usock tap`: its options and help; the work is in ./run.
import { accessOptions, countOption, maxConnsOptions, serverOptions, timeoutOptions, type ArgvOf } from '../../cli/options';
import type { UsockCommand } from '../../cli/registry';

export const tapOptions = {
  hex: { type: 'boolean', describe: 'record data as a hex dump (offset, hex, ASCII, like xxd) instead of escaped text' },
  log: { type: 'string', describe: 'append the records to FILE instead of stderr', requiresArg: true },
  pcap: { type: 'string', describe: 'also write a pcap capture to FILE (truncated first): each connection a TCP flow (dgram, seqpacket: UDP), for Wireshark and tshark', requiresArg: true },
  'pcap-port': { type: 'string', defaultDescription: '80', describe: 'the server port of the flows in the pcap file, so that Wireshark dissects the protocol (5432, 6379, ...)', requiresArg: true },
  inplace: { type: 'string', describe: 'instead of LISTEN and TARGET: move the live socket at PATH aside, listen at PATH (same owner, group, mode), relay to it; put it back at the end', requiresArg: true },
  ...maxConnsOptions,
  ...timeoutOptions,
  ...countOption('N connections served'),
  ...serverOptions,
  ...accessOptions,
} as const;

export type TapArgv = ArgvOf<typeof tapOptions, { listen?: string; target?: string }>;

export const tapCommand: UsockCommand<TapArgv> = {
  command: 'tap [listen] [target]',
  describe: 'recording relay: accept clients at LISTEN (or in a daemon\'s place), connect each to TARGET, relay both ways and record every transfer',
  builder: (y) => y
    .positional('listen', { type: 'string', describe: 'where clients connect: socket path or @abstract name' })
    .positional('target', { type: 'string', describe: 'the daemon\'s socket: path or @abstract name' })
    .options(tapOptions),
  run: async (argv) => (await import('./run')).runTap(argv),
};
