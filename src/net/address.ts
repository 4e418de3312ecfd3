// ADDRESS arguments: `@abstract` names and filesystem paths (long ones reached through /proc/self/fd/N/BASENAME), and inherited sockets (`fd:N`, `sd:NAME`, `sd:`).
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../errors';
import { closeQuietly, open } from '../sys/fd';
import { encodeAbstractAddress, encodePathAddress } from '../sys/sockaddr';
import { O_DIRECTORY, O_PATH, SUN_PATH_MAX } from '../sys/platform/linux';
import { escapeBytes } from '../report/text';

interface AddressBase {
  /** The address as the user wrote it, for messages (bytes that are not UTF-8 escaped as \xNN). */
  readonly text: string;
  /** Closes the directory descriptor a long path holds; safe to call twice. */
  release(): void;
}

/** An address usock binds, connects or sends to by name. */
export interface NamedAddress extends AddressBase {
  readonly kind: 'path' | 'abstract';
  /** The encoded sockaddr_un to pass to bind(2), connect(2) or sendto(2). */
  readonly sockaddr: Buffer;
  /** The filesystem path of the socket file (as given: bytes when they are not UTF-8), for stat and unlink; undefined for abstract names. */
  readonly path?: string | Buffer;
}

/** A socket usock inherited: on descriptor N (`fd:N`), or passed by socket activation (`sd:NAME`; `sd:`, name null: the only one). See net/inherited. */
export type InheritedAddress = AddressBase &
  ({ readonly kind: 'fd'; readonly descriptor: number } | { readonly kind: 'sd'; readonly name: string | null });

export type SocketAddress = NamedAddress | InheritedAddress;

/** True when address names an inherited socket (fd:N, sd:NAME, sd:) rather than a path or an abstract name. */
export function isInherited(address: SocketAddress): address is InheritedAddress {
  return address.kind === 'fd' || address.kind === 'sd';
}

/** Returns the inherited socket text names (`fd:N`, `sd:NAME`, `sd:`), or null when it names none. Throws UsageError (64) for a malformed `fd:`. */
export function parseInherited(text: string): InheritedAddress | null {
  if (text.startsWith('fd:')) {
    const digits = text.slice(3);
    const descriptor = /^\d{1,9}$/.test(digits) ? Number(digits) : NaN;
    if (!Number.isInteger(descriptor)) {
      throw new UsageError(`bad address '${text}': expected fd:N, N a descriptor number`, `a file of that name: write ./${text}`);
    }
    return { text, kind: 'fd', descriptor, release() {} };
  }
  if (text.startsWith('sd:')) {
    const name = text.slice(3);
    if (name.includes(':'))
      throw new UsageError(`bad address '${text}': a socket activation name holds no ':'`, `a file of that name: write ./${text}`);
    return { text, kind: 'sd', name: name === '' ? null : name, release() {} };
  }
  return null;
}

/**
 * Returns the parsed address: arg is the text the user wrote, or its exact bytes where they are not
 * UTF-8 (a name is used byte for byte, never as Node decoded it); `fd:` and `sd:` name inherited sockets.
 * Throws UsageError (64) when it is empty, malformed or cannot fit, SysError when a long path's
 * directory cannot be opened. The caller releases it.
 */
export function parseAddress(arg: string | Buffer): SocketAddress {
  return (typeof arg === 'string' ? parseInherited(arg) : null) ?? parseNamedAddress(arg);
}

/** Returns the path or abstract name arg holds, as parseAddress does, but never an inherited socket (`fd:3` is then a file's name). Throws as parseAddress does. */
export function parseNamedAddress(arg: string | Buffer): NamedAddress {
  const raw = typeof arg === 'string' ? Buffer.from(arg) : arg;
  const text = typeof arg === 'string' ? arg : escapeBytes(arg);
  if (raw.length === 0) throw new UsageError('empty address');
  if (raw[0] === 0x40) {
    // '@'
    const name = raw.subarray(1);
    if (name.length > SUN_PATH_MAX) throw new UsageError(`abstract name too long (${name.length} bytes, max ${SUN_PATH_MAX})`);
    return { text, kind: 'abstract', sockaddr: encodeAbstractAddress(name), release() {} };
  }
  if (raw.length <= SUN_PATH_MAX) return { text, kind: 'path', path: arg, sockaddr: encodePathAddress(raw), release() {} };
  if (typeof arg !== 'string') {
    throw new UsageError(`socket path too long (${raw.length} bytes, max ${SUN_PATH_MAX})`, 'a path that is not UTF-8 must fit sun_path');
  }
  return viaDirectory(arg, raw.length);
}

/** Reaches a path longer than sun_path through a descriptor of its directory. */
function viaDirectory(text: string, bytes: number): NamedAddress {
  const absolute = resolve(text);
  const base = basename(absolute);
  const tooLong = () =>
    new UsageError(
      `socket path too long (${bytes} bytes, max ${SUN_PATH_MAX})`,
      'even its last component does not fit sun_path through /proc/self/fd/N/',
    );
  // Check with the shortest descriptor number first, so that a hopeless name opens nothing.
  if (Buffer.byteLength(`/proc/self/fd/0/${base}`) > SUN_PATH_MAX) throw tooLong();
  const dirFd = open(dirname(absolute), O_PATH | O_DIRECTORY);
  const proxy = `/proc/self/fd/${dirFd}/${base}`;
  if (Buffer.byteLength(proxy) > SUN_PATH_MAX) {
    closeQuietly(dirFd);
    throw tooLong();
  }
  let held = true;
  return {
    text,
    kind: 'path',
    path: text,
    sockaddr: encodePathAddress(proxy),
    release() {
      if (held) closeQuietly(dirFd);
      held = false;
    },
  };
}
