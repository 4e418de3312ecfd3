// Tables for a TTY (cli-table3), loaded only when one is drawn; header cells coloured where stdout takes colour.
import { columns, isTerminal } from '../sys/tty';

/** True when stdout is a TTY and NO_COLOR is not set (chalk decides the rest, FORCE_COLOR included). */
export function colourWanted(): boolean {
  return isTerminal(1) && !process.env.NO_COLOR;
}

/** Returns the width of the terminal on stdout (80 when it does not tell). Reads no stream, so stdout's flags stay as they are. */
export function terminalWidth(): number {
  return columns(1) || 80;
}

/** Returns head cells coloured cyan where colour is wanted. */
export async function headCells(cells: string[]): Promise<string[]> {
  if (!colourWanted()) return cells;
  const { default: chalk } = await import('chalk');
  return cells.map((c) => chalk.cyan(c));
}

/** Returns a cli-table3 table as text (with a final newline); opts as cli-table3 takes them. */
export async function renderTable(rows: Array<string[] | Record<string, string>>, opts: Record<string, unknown> = {}): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const table = new Table({ style: { head: [], border: [] }, ...opts });
  table.push(...(rows as never[]));
  return table.toString() + '\n';
}
