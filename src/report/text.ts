// Text for humans: escaped fields for tab-separated output, peers, counts.

/** Returns text with tabs, newlines, backslashes and other control characters escaped (\t, \n, \\, \xHH), for one tab-separated field. */
export function escapeField(text: string): string {
  return text.replace(/[\\\x00-\x1f\x7f]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Returns credentials for a diagnostic line: `pid P uid U gid G`, or `unknown peer`. */
export function describePeer(c: { pid: number; uid: number; gid: number } | null | undefined): string {
  return c ? `pid ${c.pid} uid ${c.uid} gid ${c.gid}` : 'unknown peer';
}

/** Returns "N word" or "N words". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Returns bytes as text for humans: UTF-8 decoded, with bytes that are not valid UTF-8 and control
 * characters escaped (\xNN, \n, \t, \\), so that a name usock shows is the name it uses.
 */
export function escapeBytes(bytes: Buffer): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    let valid = len > 0 && i + len <= bytes.length;
    for (let k = 1; valid && k < len; k++) valid = (bytes[i + k]! & 0xc0) === 0x80;
    if (valid && len > 1) {
      const ch = bytes.toString('utf8', i, i + len);
      valid = !ch.includes('\uFFFD'); // overlong or surrogate encodings
      if (valid) out += ch;
    } else if (valid) {
      out += escapeField(String.fromCharCode(b));
    }
    if (!valid) {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i += 1;
    } else {
      i += len;
    }
  }
  return out;
}

/** Returns bytes as one line of C-escaped text: printable ASCII as it is, `\n`, `\r`, `\t`, `\\`, and `\xNN` for every other byte. */
export function cEscape(bytes: Buffer): string {
  // One latin1 decode, then native passes for the common escapes and one regular expression for the
  // rare bytes left: printable runs are copied by V8, not byte by byte (tap records whole transfers).
  let text = bytes.toString('latin1');
  if (!NEEDS_ESCAPE.test(text)) return text;
  text = text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r').replaceAll('\t', '\\t');
  return RARE.test(text) ? text.replace(RARE_ALL, escapeOne) : text;
}

const NEEDS_ESCAPE = /[^\x20-\x5b\x5d-\x7e]/;
const RARE = /[^\x20-\x7e]/;
const RARE_ALL = /[^\x20-\x7e]/g;

/** Returns the C escape of one character that is a byte outside printable ASCII, or a backslash. */
function escapeOne(c: string): string {
  switch (c) {
    case '\\':
      return '\\\\';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  }
}

/** Returns a hex dump of bytes as xxd prints it: 16 bytes a line, offset, hex in pairs of bytes, then ASCII with `.` for the rest; each line ends with `\n`. */
export function hexDump(bytes: Buffer): string {
  let out = '';
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    let hex = '';
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      if (i < row.length) {
        const b = row[i]!;
        hex += b.toString(16).padStart(2, '0');
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      } else {
        hex += '  ';
      }
      if (i % 2 === 1) hex += ' ';
    }
    out += `${off.toString(16).padStart(8, '0')}: ${hex} ${ascii}\n`;
  }
  return out;
}
