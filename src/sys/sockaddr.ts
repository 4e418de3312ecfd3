// struct sockaddr_un encoding and decoding: paths, @abstract names and autobind, exact lengths.
import { AF_UNIX, SA_FAMILY_SIZE, SUN_PATH_MAX, SUN_PATH_SIZE } from './platform/linux';

/** A socket address as usock prints it: a path, `@name`, or '' for an unnamed socket. */
export type AddressText = string;

/** Returns a sockaddr_un for a filesystem path: family, the path bytes and one NUL. Throws RangeError if it does not fit. */
export function encodePathAddress(path: Buffer | string): Buffer {
  const bytes = typeof path === 'string' ? Buffer.from(path) : path;
  if (bytes.length === 0) throw new RangeError('empty socket path');
  if (bytes.length > SUN_PATH_MAX) throw new RangeError(`socket path too long (${bytes.length} bytes, max ${SUN_PATH_MAX})`);
  if (bytes.includes(0)) throw new RangeError('socket path contains a NUL byte');
  const addr = Buffer.alloc(SA_FAMILY_SIZE + bytes.length + 1);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, SA_FAMILY_SIZE);
  return addr;
}

/** Returns a sockaddr_un for an abstract name: family, one NUL, then exactly the name (no padding). */
export function encodeAbstractAddress(name: Buffer | string): Buffer {
  const bytes = typeof name === 'string' ? Buffer.from(name) : name;
  if (bytes.length > SUN_PATH_SIZE - 1) throw new RangeError(`abstract name too long (${bytes.length} bytes, max ${SUN_PATH_SIZE - 1})`);
  const addr = Buffer.alloc(SA_FAMILY_SIZE + 1 + bytes.length);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, SA_FAMILY_SIZE + 1);
  return addr;
}

/** Returns the address that asks Linux to autobind: the family alone. */
export function encodeAutobindAddress(): Buffer {
  const addr = Buffer.alloc(SA_FAMILY_SIZE);
  addr.writeUInt16LE(AF_UNIX, 0);
  return addr;
}

/** Returns the text form of a sockaddr_un of `length` bytes: a path, `@name`, or '' when unnamed. */
export function decodeAddress(addr: Buffer, length: number): AddressText {
  if (length <= SA_FAMILY_SIZE) return '';
  const end = Math.min(length, addr.length);
  if (addr[SA_FAMILY_SIZE] === 0) return '@' + addr.toString('utf8', SA_FAMILY_SIZE + 1, end);
  const nul = addr.indexOf(0, SA_FAMILY_SIZE);
  return addr.toString('utf8', SA_FAMILY_SIZE, nul >= 0 && nul < end ? nul : end);
}
