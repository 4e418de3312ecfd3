// What a relay counts (bytes, messages, drops), and the -v line that tells it.

/** Counters a relay reports with -v. */
export interface RelayStats {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
  /** Received messages larger than --max-size: dropped and reported. */
  oversize: number;
  /** Messages the kernel refused to send (EMSGSIZE, ENOBUFS): dropped and reported. */
  refused: number;
  /** Units not sent because the peer stopped reading. */
  dropped: number;
}

/** Returns zeroed counters. */
export function newStats(): RelayStats {
  return { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0, oversize: 0, refused: 0, dropped: 0 };
}

/** Returns the -v line for stats: bytes, and for messages their counts and drops. */
export function describeStats(s: RelayStats, messages: boolean): string {
  const base = `${s.bytesOut} bytes sent, ${s.bytesIn} bytes received`;
  if (!messages) return base;
  const extra = [
    s.oversize ? `${s.oversize} oversize` : '',
    s.refused ? `${s.refused} refused` : '',
    s.dropped ? `${s.dropped} dropped` : '',
  ].filter(Boolean);
  return `${s.messagesOut} messages sent, ${s.messagesIn} received (${base}${extra.length ? ', ' + extra.join(', ') : ''})`;
}
