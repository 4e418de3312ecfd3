// Terminals: whether a descriptor is one (isatty(3)) and its width (TIOCGWINSZ, ioctl_tty(2)).
import { lib } from './libc';
import { TIOCGWINSZ } from './platform/linux';

/** True when fd is a terminal (isatty(3)); Node's tty module would load its stream machinery to say the same. Never throws. */
export function isTerminal(fd: number): boolean {
  return lib().isatty(fd) === 1;
}

/** Returns the width in columns of the terminal on fd (TIOCGWINSZ), or 0 when fd is not a terminal. Never throws. */
export function columns(fd: number): number {
  const ws = Buffer.alloc(8); // struct winsize: ws_row, ws_col, ws_xpixel, ws_ypixel
  return lib().ioctlBuffer(fd, TIOCGWINSZ, ws) < 0 ? 0 : ws.readUInt16LE(2);
}
