/** channel-sandbox: a test double of Alipay, WeChat Pay v2 and a bank payout API; see sandbox.ts. */
export { startSandbox } from './sandbox';
export type { RunningSandbox, SandboxOptions } from './sandbox';
export { loadConfig } from './config';
export type { SandboxConfig } from './config';
export { loadOrGenerateKeys, MERCHANT } from './keys';
export type { SandboxKeys } from './keys';
export { ALIPAY_RETRY_SCHEDULE_MS, WECHAT_RETRY_SCHEDULE_MS } from './notifier';
export { FAULT_KINDS, OPERATIONS } from './faults';
export type { FaultKind, Operation } from './faults';
