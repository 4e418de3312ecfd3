// Opening a connection of the socket's kind: a byte stream (./stream-connection) or messages (./message-connection); both are a Connection (./connection-base).
import type { Connection, FinishCallback } from './connection-base';
import type { ConnectionOptions } from './flow';
import { MessageConnection } from './message-connection';
import { StreamConnection } from './stream-connection';

export type { Connection, FinishCallback } from './connection-base';

/** Returns a connection over fd of opts.type, not started (call start). Owns fd from now on. */
export function openConnection(fd: number, opts: ConnectionOptions, onFinish: FinishCallback): Connection {
  return opts.type === 'stream' ? new StreamConnection(fd, opts, onFinish) : new MessageConnection(fd, opts, onFinish);
}
