// ADDRESS arguments: `@abstract` names and filesystem paths, long paths reached through /proc/self/fd/N/BASENAME.
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../errors';
import { closeQuietly, open } from '../sys/socket';
import { encodeAbstractAddress, encodePathAddress } from '../sys/sockaddr';
import { O_DIRECTORY, O_PATH, SUN_PATH_MAX } from '../sys/platform/linux';

export interface SocketAddress {
  /** The address as the user wrote it. */
  readonly text: string;
  readonly kind: 'path' | 'abstract';
  /** The encoded sockaddr_un to pass to bind(2), connect(2) or sendto(2). */
  readonly sockaddr: Buffer;
  /** The filesystem path of the socket file (as given), for stat and unlink; undefined for abstract names. */
  readonly path?: string;
  /** Closes the directory descriptor a long path holds; safe to call twice. */
  release(): void;
}

/** Returns the parsed address. Throws UsageError (64) when it is empty or cannot fit, SysError when a long path's directory cannot be opened. The caller releases it. */
export function parseAddress(text: string): SocketAddress {
  if (text === '') throw new UsageError('empty address');
  if (text.startsWith('@')) {
    const name = Buffer.from(text.slice(1));
    if (name.length > SUN_PATH_MAX) throw new UsageError(`abstract name too long (${name.length} bytes, max ${SUN_PATH_MAX})`);
    return { text, kind: 'abstract', sockaddr: encodeAbstractAddress(name), release() {} };
  }
  const bytes = Buffer.byteLength(text);
  if (bytes <= SUN_PATH_MAX) return { text, kind: 'path', path: text, sockaddr: encodePathAddress(text), release() {} };
  return viaDirectory(text, bytes);
}

/** Reaches a path longer than sun_path through a descriptor of its directory. */
function viaDirectory(text: string, bytes: number): SocketAddress {
  const absolute = resolve(text);
  const base = basename(absolute);
  const tooLong = () => new UsageError(`socket path too long (${bytes} bytes, max ${SUN_PATH_MAX})`,
    'even its last component does not fit sun_path through /proc/self/fd/N/');
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
