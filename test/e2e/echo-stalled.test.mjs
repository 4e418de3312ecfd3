// echo-server gives back the descriptor of every client that closes while its echo is blocked (the client stopped reading).
import ava from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { py, runPython, tmpDir, usock, waitForSocketFile, waitUntil } from '../helpers.mjs';

const test = ava.serial;

/** Returns how many descriptors process pid has open. */
function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Clients that send 64 KiB chunks without reading until their sends block, then close (their echoes unread: a reset). */
const STALLED_CLIENTS = py(`
n = int(sys.argv[2])
socks = [connect_retry(socket.SOCK_STREAM, sys.argv[1]) for i in range(n)]
def fill(s):
    # Blocking sends until one waits 0.5 s: the server's echo queue is full and it stopped reading (a
    # non-blocking send would stop at the first moment the server is behind, long before that).
    s.settimeout(0.5)
    chunk = b'x' * 65536
    while True:
        try:
            s.send(chunk)
        except socket.timeout:
            return
threads = [threading.Thread(target=fill, args=(s,)) for s in socks]
for th in threads: th.start()
for th in threads: th.join()
for s in socks:
    s.close()
print('closed', n)
`);

for (const clients of [5, 40]) {
  test(`echo-server closes all ${clients} clients that close while their echo is blocked`, async (t) => {
    const dir = tmpDir(t);
    const sock = path.join(dir, 'e.sock');
    const server = usock(['echo-server', sock], { t });
    await waitForSocketFile(sock);
    // A client served and gone first, so that the count below is the server's steady state.
    await runPython(
      py(`s = connect_retry(socket.SOCK_STREAM, sys.argv[1]); s.sendall(b'hi'); s.shutdown(socket.SHUT_WR); print(recv_all(s))`),
      [sock],
    );
    const before = fdCount(server.pid);
    const r = await runPython(STALLED_CLIENTS, [sock, clients]);
    t.is(r.code, 0, r.stderr.toString());
    // Every descriptor comes back (bounded poll: the server may be slow on a busy machine, but must not keep any).
    await waitUntil(() => fdCount(server.pid) <= before, 30_000, `descriptors back to ${before} (now ${fdCount(server.pid)})`);
    t.true(fdCount(server.pid) <= before);
    // And the server still serves.
    const again = await runPython(
      py(
        `s = connect_retry(socket.SOCK_STREAM, sys.argv[1]); s.sendall(b'again'); s.shutdown(socket.SHUT_WR); sys.stdout.write(recv_all(s).decode())`,
      ),
      [sock],
    );
    t.is(again.stdout.toString(), 'again');
    server.kill('SIGTERM');
    await server.exited;
  });
}
