// Text for humans: escaped fields for tab-separated output, peers, counts.

/** Returns text with tabs, newlines, backslashes and other control characters escaped (\t, \n, \\, \xHH), for one tab-separated field. */
export function escapeField(text: string): string {
  return text.replace(/[\\\x00-\x1f\x7f]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Returns credentials for a diagnostic line: `pid P uid U gid G`, or `unknown peer`. */
export function describePeer(c: { pid: number; uid: number; gid: number } | null | undefined): string {
  return c ? `pid ${c.pid} uid ${c.uid} gid ${c.gid}` : 'unknown peer';
}

/** Returns "N word" or "N words". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
