// Bounded logs: repeated warnings (here, 10,000 rejected connections from nobody) are shown in full a few times,
// then counted and summed up in one line per interval and at exit, with --json the same way.
import fs from 'node:fs';
import path from 'node:path';
import { usock, runPython, py, tmpDir, waitListening, show, rootTest, SYSTEM_PYTHON, NOBODY_UID, NOBODY_GID } from '../helpers.mjs';

const FLOOD = py(`
n = int(sys.argv[2])
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.close()
print('done', n, flush=True)
`);

for (const json of [false, true]) {
  rootTest(
    `echo-server${json ? ' --json' : ''}: 10,000 rejected connections from nobody give at most 5 lines in full and one count of the rest`,
    async (t) => {
      const dir = tmpDir(t);
      fs.chmodSync(dir, 0o755);
      const sock = path.join(dir, 's');
      const srv = usock(['echo-server', ...(json ? ['--json'] : []), '--mode', '666', '--allow-uid', '0', sock], { t });
      await waitListening(sock);
      const flood = await runPython(FLOOD, [sock, 10000], { t, python: SYSTEM_PYTHON, uid: NOBODY_UID, gid: NOBODY_GID, cwd: '/' });
      t.is(flood.code, 0, show(flood));
      // Root is admitted; connections are accepted in order, so once root's echo comes back every rejection has happened.
      const last = await runPython(
        py(`
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'last')
s.shutdown(socket.SHUT_WR)
sys.stdout.write(recv_all(s).decode())
`),
        [sock],
        { t },
      );
      t.is(last.stdout.toString(), 'last', show(last));
      srv.kill('SIGTERM');
      const r = await srv.exited;
      const lines = r.stderr.toString().split('\n').filter(Boolean);
      t.true(lines.length <= 8, `${lines.length} stderr lines: ${lines.slice(0, 12).join(' | ')}`);
      let shown = 0;
      let counted = 0;
      for (const line of lines) {
        if (json) {
          const o = JSON.parse(line);
          if (o.event === 'rejected') shown++;
          if (o.event === 'suppressed' && o.of === 'rejected') counted += o.count;
        } else {
          if (/rejected pid \d+ uid 65534/.test(line)) shown++;
          const m = /([\d,]+) more rejected from uid 65534 in the last \d+ s/.exec(line);
          if (m) counted += Number(m[1].replace(/,/g, ''));
        }
      }
      t.is(shown, 5);
      t.is(shown + counted, 10000, 'every rejection is shown or counted');
    },
  );
}
