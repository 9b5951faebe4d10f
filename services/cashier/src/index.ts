/** @paycore/cashier — the cashier's public surface: its spec, and the merchant-side signature check. */
export { cashierSpec, CASHIER_SCHEMA } from './service';
export { cashierConfigSchema } from './config';
export { signNotification, verifyNotification, NOTIFY_RETRY_SCHEDULE_MS } from './domain/notify';
