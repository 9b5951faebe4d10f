/** @paycore/ledger: the service spec (for in-process tests and tools) and its public types. */
export { ledgerSpec, type LedgerSpecOptions } from './service';
export type { AccountDailyBalances } from './application/ports';
export type { AccountDailyClosing } from './domain/close-check';
export { DEFAULT_CHART } from './domain/subjects';
