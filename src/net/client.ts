// Client sockets: bound first where asked (--bind, or autobind for dgram replies), connected without blocking, a full backlog waited out on a timer, the socket type detected.
import { SysError } from '../sys/errors';
import { bind, closeQuietly, connect, socket, WOULD_BLOCK, type SocketType } from '../sys/socket';
import { encodeAutobindAddress } from '../sys/sockaddr';
import type { SocketAddress } from './address';
import { bindServer, type BoundSocket } from './socketfile';

export const CONCRETE_TYPES: SocketType[] = ['stream', 'seqpacket', 'dgram'];

/** The first and the longest pause between connect attempts while the listener's backlog is full. */
const FIRST_PAUSE_MS = 1;
const LONGEST_PAUSE_MS = 100;

export interface ClientSocket {
  fd: number;
  /** The --bind socket, if any: close it (removing its file) when done, not fd. */
  bound?: BoundSocket;
}

/**
 * Returns a socket of type connected to address. It is bound first to bindTo when given (every type:
 * the peer sees that address), else a dgram socket autobinds so that replies can arrive. Throws
 * SysError/UsockError; closes what it opened on failure. The caller releases address.
 */
export async function connectTo(address: SocketAddress, type: SocketType, bindTo?: SocketAddress): Promise<ClientSocket> {
  let bound: BoundSocket | undefined;
  let fd: number;
  if (bindTo) {
    bound = bindServer(bindTo, type, { backlog: null });
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

/**
 * Connects fd. While the listener's backlog is full (EAGAIN) it tries again after a growing pause
 * (1 ms up to 100 ms): an unconnected AF_UNIX socket polls writable at once, so there is no event to
 * wait for. Throws SysError.
 */
async function connectWaiting(fd: number, address: SocketAddress): Promise<void> {
  for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, LONGEST_PAUSE_MS)) {
    if (connect(fd, address.sockaddr, address.text) !== WOULD_BLOCK) return;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/** Returns a socket of type connected to address (no --bind), and releases address. Throws as connectTo does. */
export async function connectAndRelease(address: SocketAddress, type: SocketType): Promise<number> {
  try {
    return (await connectTo(address, type)).fd;
  } finally {
    address.release();
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
