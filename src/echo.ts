export async function runEchoServer(argv: unknown) { console.error('todo'); return 1; }
