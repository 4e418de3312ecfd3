// The kernel buffer sizes of a socket (SO_SNDBUF, SO_RCVBUF), set by whoever asks for them: no connection sets them by itself.
import { SOL_SOCKET, SO_RCVBUF, SO_SNDBUF } from '../sys/platform/linux';
import { setsockoptInt } from '../sys/socket';

/** SO_SNDBUF and SO_RCVBUF of relayed streams: 1 MiB keeps the bytes in cache between the two copies (4 MiB measured slower). */
export const STREAM_SOCKET_BUFFER = 1024 * 1024;

/**
 * Asks for send and receive buffers of `bytes` on fd (fewer wake-ups per byte on a stream). The kernel
 * doubles the value and caps it (net.core.wmem_max, rmem_max; socket(7)); a refusal keeps the current
 * size, so this never throws.
 */
export function setSocketBuffers(fd: number, bytes: number = STREAM_SOCKET_BUFFER): void {
  for (const opt of [SO_SNDBUF, SO_RCVBUF]) {
    try {
      setsockoptInt(fd, SOL_SOCKET, opt, bytes);
    } catch {
      // keep the current size
    }
  }
}
