/**
 * Connecting to NATS and declaring streams, with every option that matters
 * spelled out. Written against the nats.js v3 clients and a NATS 2.9 server:
 * nothing here needs 2.10 (no multi-filter consumers, no stream metadata, no
 * compression); the v3 client refuses 2.10-only options against 2.9 anyway.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';

export interface ConnectNatsOptions {
  readonly servers: string | readonly string[];
  /** Client name shown by the server (`nats server report connections`). */
  readonly name: string;
  /** Reconnect forever by default: a service outlives NATS restarts. */
  readonly reconnect?: boolean;
  /** -1 = unlimited. */
  readonly maxReconnectAttempts?: number;
  /** Wait between reconnect attempts. Default 1000. */
  readonly reconnectTimeWaitMs?: number;
  /** Bound on the first connect. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Bound on every JetStream API request and publish ack. Default 5000. */
  readonly jetStreamTimeoutMs?: number;
}

export interface NatsHandles {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

/** The name the service kit uses for the same three handles. */
export type NatsConnections = NatsHandles;

export async function connectNats(options: ConnectNatsOptions): Promise<NatsHandles> {
  const nc = await connect({
    servers: typeof options.servers === 'string' ? options.servers : [...options.servers],
    name: options.name,
    reconnect: options.reconnect ?? true,
    maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 1_000,
    timeout: options.connectTimeoutMs ?? 5_000,
  });
  const timeout = options.jetStreamTimeoutMs ?? 5_000;
  try {
    const jsm = await jetstreamManager(nc, { timeout });
    const js = jetstream(nc, { timeout });
    return { nc, js, jsm };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

export interface EnsureStreamOptions {
  readonly name: string;
  readonly subjects: readonly string[];
  /** Events older than this are dropped. Default 7 days. */
  readonly maxAgeMs?: number;
  /** Window in which a repeated Nats-Msg-Id is dropped as a duplicate. Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /**
   * Size bound of the stream; -1 = none (the default: retention is by age).
   * A byte bound on a file stream is reserved from the server's JetStream
   * storage when the stream is created, so bound only what must be bounded.
   */
  readonly maxBytes?: number;
}

const MS_TO_NANOS = 1_000_000;
/** JetStream API error code for "stream name already in use" (not in the client's enum). */
const STREAM_NAME_IN_USE = 10058;
const DAY_MS = 24 * 60 * 60 * 1_000;

/**
 * Creates the stream or brings an existing one to this configuration.
 * Idempotent, and safe when several replicas start at once (a lost create
 * race turns into an update).
 */
export async function ensureStream(jsm: JetStreamManager, options: EnsureStreamOptions): Promise<StreamInfo> {
  const maxAgeMs = options.maxAgeMs ?? 7 * DAY_MS;
  const duplicateWindowMs = Math.min(options.duplicateWindowMs ?? 2 * 60_000, maxAgeMs);
  const config = {
    subjects: [...options.subjects],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: maxAgeMs * MS_TO_NANOS,
    duplicate_window: duplicateWindowMs * MS_TO_NANOS,
    max_bytes: options.maxBytes ?? -1,
    num_replicas: 1,
  };
  const exists = await jsm.streams.info(options.name).then(
    () => true,
    (error: unknown) => {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return false;
      throw error;
    },
  );
  if (exists) return jsm.streams.update(options.name, config);
  try {
    return await jsm.streams.add({ name: options.name, ...config });
  } catch (error) {
    // Another replica created it between our info and add.
    if (error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE) {
      return jsm.streams.update(options.name, config);
    }
    throw error;
  }
}
