// Who is at the other end: supplementary groups (SO_PEERGROUPS), security label (SO_PEERSEC), and SO_PASSCRED for datagrams.
import { SOL_SOCKET, SO_PASSCRED, SO_PEERGROUPS, SO_PEERSEC } from '../sys/platform/linux';
import { getsockoptBytes, peerCredentials, setsockoptInt, type Ucred } from '../sys/socket';

/** Returns the peer's supplementary groups (SO_PEERGROUPS), or undefined where the kernel does not tell. */
export function peerGroups(fd: number): number[] | undefined {
  try {
    const b = getsockoptBytes(fd, SOL_SOCKET, SO_PEERGROUPS, 4 * 1024);
    const out: number[] = [];
    for (let i = 0; i + 4 <= b.length; i += 4) out.push(b.readUInt32LE(i));
    return out;
  } catch {
    return undefined;
  }
}

/** Returns the peer's security label (SO_PEERSEC, e.g. an SELinux context or AppArmor profile), or null where no LSM gives one. */
export function peerLabel(fd: number): string | null {
  try {
    const b = getsockoptBytes(fd, SOL_SOCKET, SO_PEERSEC, 4096);
    const text = b.toString('utf8').replace(/\0+$/, '');
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

/** Returns the peer's credentials (SO_PEERCRED), or null when the peer is already gone. Never throws. */
export function credentialsOf(fd: number): Ucred | null {
  try {
    return peerCredentials(fd);
  } catch {
    return null;
  }
}

/** Asks the kernel to attach the sender's credentials (SCM_CREDENTIALS) to every datagram fd receives (SO_PASSCRED). Throws SysError. */
export function passCredentials(fd: number): void {
  setsockoptInt(fd, SOL_SOCKET, SO_PASSCRED, 1);
}
