// The start of every command that binds (listen, echo-server, tap, send-fd/recv-fd/peercred --listen): its socket bound with the socket file guarded (or an inherited one adopted), and reported.
import type { Diagnostics } from '../sys/diagnostics';
import { listen, type SocketType } from '../sys/socket';
import type { AccessRules } from './access';
import { isInherited, type SocketAddress } from './address';
import { adoptServerSocket } from './inherited';
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
 * reporting a replaced stale socket and, with -v, that it listens; for fd:N and sd:, the inherited
 * socket, checked and adopted (net/inherited; no file is created or removed for it). Serve it with
 * acceptLoop (net/accept) or a DatagramReceiver (net/datagram). Throws as bindSocketFile or
 * adoptServerSocket do, or SysError of listen(2) (the socket closed and its file removed then); the
 * caller owns the result.
 */
export function openServer(spec: ServerSpec): BoundSocket {
  const address = spec.address;
  if (isInherited(address)) {
    const server = adoptServerSocket(address, spec.type);
    const bound = server.name === '' ? '' : `${server.name}, `;
    spec.diagnostics.info('listening', `${spec.name}: listening on ${address.text} (${bound}${spec.type}, inherited)`, {
      address: address.text,
      name: server.name,
      type: spec.type,
      inherited: true,
    });
    if (server.name.startsWith('@') && !spec.rules) warnOpenToAll(spec, `${address.text} (${server.name})`);
    return server;
  }
  const server = bindSocketFile(address, spec.type, {
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
  spec.diagnostics.info('listening', `${spec.name}: listening on ${address.text} (${spec.type})`, {
    address: address.text,
    type: spec.type,
  });
  if (address.kind === 'abstract' && !spec.rules) warnOpenToAll(spec, address.text);
  return server;
}

/** Warns that the abstract address `shown` has no permissions: anyone may connect. */
function warnOpenToAll(spec: ServerSpec, shown: string): void {
  spec.diagnostics.warn(
    'open-to-all',
    `${shown} is an abstract address: it has no permissions, anyone in this network namespace can connect (${spec.limitedBy ?? 'limit it with --allow-*'})`,
    { address: spec.address.text },
  );
}
