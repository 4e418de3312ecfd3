// Socket options and descriptor flags of a socket usock did not create (an inherited one): its domain, type and listening state, and the flags usock's own sockets have.
import { fcntl } from './fd';
import {
  F_GETFD,
  F_GETFL,
  F_SETFD,
  F_SETFL,
  FD_CLOEXEC,
  O_NONBLOCK,
  SO_ACCEPTCONN,
  SO_DOMAIN,
  SO_TYPE,
  SOL_SOCKET,
} from './platform/linux';
import { getsockoptInt } from './socket';

/** Returns the address family of the socket on fd (SO_DOMAIN: AF_UNIX is 1). Throws SysError (EBADF: not open; ENOTSOCK: not a socket). */
export function socketDomain(fd: number): number {
  return getsockoptInt(fd, SOL_SOCKET, SO_DOMAIN);
}

/** Returns the type number of the socket on fd (SO_TYPE: SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET...). Throws SysError. */
export function socketTypeNumber(fd: number): number {
  return getsockoptInt(fd, SOL_SOCKET, SO_TYPE);
}

/** Returns true when the socket on fd listens (SO_ACCEPTCONN). Throws SysError. */
export function isListening(fd: number): boolean {
  return getsockoptInt(fd, SOL_SOCKET, SO_ACCEPTCONN) !== 0;
}

/** Makes fd non-blocking (O_NONBLOCK) and close-on-exec (FD_CLOEXEC), as usock's own sockets are. Throws SysError. */
export function makeNonBlockingCloexec(fd: number): void {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
}
