export async function runListen(argv: unknown) { console.error('todo'); return 1; }
