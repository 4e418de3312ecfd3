// `usock tap` as data: its two addresses, its options and where each applies; the work is in ./run.
import { accessOptions, countOption, maxConnsOption, serverOptionsAt, timeoutOption } from '../../cli/common-options';
import { command, type SettingsOf } from '../../cli/settle';
import type { CommandSpec } from '../../cli/spec';
import { address, file, flag, wholeNumber } from '../../cli/values';

export const tapSpec = {
  name: 'tap',
  summary:
    "recording relay: accept clients at LISTEN (or in a daemon's place), connect each to TARGET, relay both ways and record every transfer",
  positionals: {
    listen: { kind: 'address', help: 'where clients connect: socket path or @abstract name' },
    target: { kind: 'address', help: "the daemon's socket: path or @abstract name" },
  },
  inherits: { from: ['listen', 'inplace'], role: 'serve' },
  options: {
    hex: { value: flag(), help: 'record data as a hex dump (offset, hex, ASCII, like xxd) instead of escaped text' },
    log: { value: file(), help: 'append the records to FILE instead of stderr' },
    pcap: {
      value: file(),
      help: 'also write a pcap capture to FILE (truncated first): each connection a TCP flow (dgram, seqpacket: UDP), for Wireshark and tshark',
    },
    pcapPort: {
      value: wholeNumber(1, 65_535),
      default: 80,
      help: 'the server port of the flows in the pcap file, so that Wireshark dissects the protocol (5432, 6379, ...)',
      notWhen: [{ without: ['pcap'], why: 'it is the server port of the pcap flows' }],
    },
    inplace: {
      value: address(),
      help: 'instead of LISTEN and TARGET: move the live socket at PATH aside, listen at PATH (same owner, group, mode), relay to it; put it back at the end',
    },
    maxConns: maxConnsOption,
    timeout: timeoutOption,
    count: countOption('N connections served'),
    mode: {
      ...serverOptionsAt('listen').mode,
      notWhen: [{ with: ['inplace'], why: 'the socket gets the mode of the one it replaces' }, ...serverOptionsAt('listen').mode.notWhen],
    },
    backlog: serverOptionsAt('listen').backlog,
    ...accessOptions,
  },
} as const satisfies CommandSpec;

export type TapSettings = SettingsOf<typeof tapSpec>;

export const tapCommand = command(tapSpec, async (settings) => (await import('./run')).runTap(settings));
