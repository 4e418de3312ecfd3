// The interface through which io/, net/ and the commands report events without knowing how they are shown (report/Reporter is one); here, the one layer all of them import.

/** Where diagnostics go: info with -v, warnings unless -q; report/Reporter is one. */
export interface Diagnostics {
  /** Something worth telling with -v. */
  info(event: string, text: string, fields?: Record<string, unknown>): void;
  /** Something dropped, rejected or undeliverable; `what` names such events in a count of those not shown (rate limit). */
  warn(event: string, text: string, fields?: Record<string, unknown>, what?: string): void;
}
