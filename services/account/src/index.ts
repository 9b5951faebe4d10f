/** @paycore/account — the account service's public surface: its spec and use cases. */
export { accountSpec } from './service';
export { AccountService } from './application/account-service';
export type * from './application/model';
export { Chart, DEFAULT_SUBJECTS } from './domain/chart';
