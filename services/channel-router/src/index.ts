/** channel-router: the service spec for in-process runs, and the pure domain for reuse in tests. */
export { channelRouterSpec } from './service';
export { channelConfigSchema, sandboxUrl } from './config';
export { ChannelRouter } from './application/channel-router';
export type { Txn } from './application/model';
