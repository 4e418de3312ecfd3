export async function runConnect(argv: unknown) { console.error('todo'); return 1; }
