// Client sockets: connect to an address (waiting out a full backlog without blocking), bind dgram clients for replies.
import { UsageError } from '../errors';
import { SysError } from '../sys/errors';
import { FdWatcher } from '../sys/poll';
import { bind, closeQuietly, connect, socket, WOULD_BLOCK, type SocketType } from '../sys/socket';
import { encodeAutobindAddress } from '../sys/sockaddr';
import { parseAddress, type SocketAddress } from './address';
import { bindServer, type BoundSocket } from './socketfile';

export const CONCRETE_TYPES: SocketType[] = ['stream', 'seqpacket', 'dgram'];

/** Returns type as a SocketType; throws UsageError for `auto` where a command cannot detect. */
export function concreteType(type: string, where: string): SocketType {
  if ((CONCRETE_TYPES as string[]).includes(type)) return type as SocketType;
  throw new UsageError(`--type ${type} is not available for ${where}`, '--type auto works with connect -z; give -t stream, dgram or seqpacket');
}

export interface ClientSocket {
  fd: number;
  /** The --bind socket of a dgram client, if any: close it (removing its file) when done, not fd. */
  bound?: BoundSocket;
}

/**
 * Returns a socket of type connected to address. A dgram socket is bound first so that replies can
 * arrive: to bindTo when given, else by Linux autobind. Throws SysError/CliError; closes what it opened on failure.
 * The caller releases address.
 */
export async function connectTo(address: SocketAddress, type: SocketType, bindTo?: SocketAddress): Promise<ClientSocket> {
  let bound: BoundSocket | undefined;
  let fd: number;
  if (type === 'dgram' && bindTo) {
    bound = bindServer(bindTo, 'dgram');
    fd = bound.fd;
  } else {
    fd = socket(type);
  }
  try {
    if (type === 'dgram' && !bindTo) bind(fd, encodeAutobindAddress(), 'autobind');
    await connectWaiting(fd, address);
    return { fd, bound };
  } catch (err) {
    if (bound) bound.close();
    else closeQuietly(fd);
    throw err;
  }
}

/** Returns a socket of type connected to the address written as text (no --bind). Throws as parseAddress and connectTo do. */
export async function connectToAddress(text: string, type: SocketType): Promise<number> {
  const address = parseAddress(text);
  try {
    return (await connectTo(address, type)).fd;
  } finally {
    address.release();
  }
}

/** Connects fd, retrying when the listener's backlog is full (EAGAIN) once the socket turns writable. Throws SysError. */
async function connectWaiting(fd: number, address: SocketAddress): Promise<void> {
  for (;;) {
    if (connect(fd, address.sockaddr, address.text) !== WOULD_BLOCK) return;
    const watcher = new FdWatcher(fd);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 50);
      watcher.onWritable(() => { clearTimeout(timer); resolve(); });
    });
    watcher.close();
  }
}

/** Returns the type of the socket at address, trying stream, seqpacket and dgram; throws the first type's error when none connects. */
export async function detectType(address: SocketAddress): Promise<SocketType> {
  let first: unknown;
  for (const type of CONCRETE_TYPES) {
    try {
      const { fd } = await connectTo(address, type);
      closeQuietly(fd);
      return type;
    } catch (err) {
      first ??= err;
      if (!(err instanceof SysError && err.code === 'EPROTOTYPE')) throw err;
    }
  }
  throw first;
}
