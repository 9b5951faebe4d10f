export {
  EventNaming,
  streamName,
  subjectFor,
  contextSubjects,
  subjectFilter,
  subjectMatches,
  InvalidEventNameError,
} from './naming';
export {
  connectNats,
  ensureStream,
  type ConnectNatsOptions,
  type NatsHandles,
  type NatsConnections,
  type EnsureStreamOptions,
} from './nats';
export {
  writeOutbox,
  writeOutboxMany,
  OUTBOX_EVENTS_PER_WRITE_MAX,
  outboxWakeupChannel,
  OUTBOX_PAYLOAD_BYTES_MAX,
  InvalidOutboxEventError,
  type OutboxEvent,
  type OutboxRow,
} from './outbox';
export { OutboxRelay, type OutboxRelayOptions, type OutboxRelayStats, type RelayBatchOutcome } from './relay';
export {
  InboxConsumer,
  InboxConfigConflictError,
  isTransientInfrastructureError,
  type InboxConsumerOptions,
  type InboxBatchHandler,
  type InboxConsumerStats,
  type InboxHandler,
  type InboxMessage,
} from './inbox';
export {
  captureContextHeaders,
  extractTraceContext,
  bizCodeOf,
  InvalidEventHeaderError,
  type EventHeaders,
} from './headers';
export { FLOW_NATS_HEADER, currentFlowFields, runWithFlowFields } from './flow-context';
