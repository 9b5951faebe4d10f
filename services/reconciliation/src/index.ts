/** @paycore/reconciliation — its spec and configuration, for tests and tooling. */
export { reconciliationSpec, CURRENCY } from './service';
export { reconConfigSchema } from './config';
export { RECON_SCHEMA } from './adapters/nats/events';
