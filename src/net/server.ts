// The start of every command that binds (listen, echo-server, send-fd/recv-fd/peercred --listen): its socket bound with the socket file guarded, and reported.
import type { Diagnostics } from '../sys/diagnostics';
import { listen, type SocketType } from '../sys/socket';
import type { AccessRules } from './access';
import type { SocketAddress } from './address';
import { bindSocketFile, type BoundSocket } from './socketfile';

/** What a server is: where, which type, the socket file's mode, the backlog and the access rules; all checked by the caller. */
export interface ServerSpec {
  address: SocketAddress;
  type: SocketType;
  mode?: number;
  backlog: number;
  rules: AccessRules | null;
  diagnostics: Diagnostics;
  /** The command, for the diagnostics. */
  name: string;
  /** What limits who may connect, for the warning about an abstract address without rules (default: the --allow-* options). */
  limitedBy?: string;
}

/**
 * Returns the socket of a server bound at spec.address (listening, for stream and seqpacket),
 * reporting a replaced stale socket and, with -v, that it listens. Serve it with acceptLoop
 * (net/accept) or a DatagramReceiver (net/datagram). Throws as bindSocketFile does, or SysError of
 * listen(2) (the socket closed and its file removed then); the caller owns the result.
 */
export function openServer(spec: ServerSpec): BoundSocket {
  const server = bindSocketFile(spec.address, spec.type, {
    mode: spec.mode,
    label: spec.name,
    onStaleReplaced: (path) => spec.diagnostics.info('stale', `replaced stale socket ${path}`, { path }),
  });
  if (spec.type !== 'dgram') {
    try {
      listen(server.fd, spec.backlog);
    } catch (err) {
      server.close();
      throw err;
    }
  }
  spec.diagnostics.info('listening', `${spec.name}: listening on ${spec.address.text} (${spec.type})`, { address: spec.address.text, type: spec.type });
  if (spec.address.kind === 'abstract' && !spec.rules) {
    spec.diagnostics.warn('open-to-all', `${spec.address.text} is an abstract address: it has no permissions, anyone in this network namespace can connect (${spec.limitedBy ?? 'limit it with --allow-*'})`,
      { address: spec.address.text });
  }
  return server;
}
