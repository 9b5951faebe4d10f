/**
 * Wake-ups for background loops, so that an idle platform is idle: a loop
 * waits on a `Wakeup` instead of polling, and is woken
 *   - in-process, right after the transaction that made work for it
 *     committed (`signalAfterCommit`) — no database round trip at all;
 *   - across processes (another replica wrote the work) by Postgres
 *     LISTEN/NOTIFY through the process's `PgWakeups` hub, which forwards
 *     local signals to peers as NOTIFY, at most one per channel per
 *     `peerNotifyIntervalMs`, sent after the commit on its own connection;
 *   - by a backstop timer in every case, so a lost signal (a peer without a
 *     hub, a dropped LISTEN connection, a row written by hand) costs at most
 *     one backstop interval of latency, never the work.
 *
 * Why NOTIFY is not sent inside every writing transaction (a trigger):
 * Postgres serialises the commits of notifying transactions on one lock;
 * measured on this machine that halved the commit rate of a simple INSERT
 * workload (docs/adr/0026). Here a burst of 500 commits costs at most one
 * NOTIFY per interval, and none when nothing listens across processes.
 *
 * Signals are latched: a signal that arrives while the loop is working (not
 * waiting) makes the next `wait()` return at once, so no wake-up is lost
 * between "found nothing" and "went to sleep".
 *
 * Channels are `<schema>.<topic>` (wakeupChannel), at most 63 bytes (the
 * Postgres identifier limit that LISTEN applies).
 */
import { randomBytes } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { afterCommit } from './db/query-runner';
import { CountingPgClient } from './db/statement-count';
import { errorMessage, SILENT_LOG_SINK, type PlatformLogSink } from './db/logging';
import { assertIntegerInRange, backoffDelayMs } from './events/bounded';

const CHANNEL_BYTES_MAX = 63;
const TOPIC_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const RECONNECT_BASE_MS = 100;
/** Bound on the channels one hub listens to and on waiters per channel. */
const CHANNELS_MAX = 256;
const WAITERS_PER_CHANNEL_MAX = 64;

/** The wake-up channel of `topic` in `schema`, e.g. wakeupChannel('cashier', 'outbox') = 'cashier.outbox'. */
export function wakeupChannel(schema: string, topic: string): string {
  if (!SCHEMA_PATTERN.test(schema)) throw new RangeError(`bad schema ${JSON.stringify(schema)}`);
  if (!TOPIC_PATTERN.test(topic)) throw new RangeError(`bad wake-up topic ${JSON.stringify(topic)}`);
  const channel = `${schema}.${topic}`;
  if (channel.length > CHANNEL_BYTES_MAX) {
    throw new RangeError(`wake-up channel ${channel} is longer than ${CHANNEL_BYTES_MAX} bytes`);
  }
  return channel;
}

/** Why a wait ended. */
export type WakeReason = 'signal' | 'backstop' | 'closed';

export interface WakeupOptions {
  /** The longest a wait lasts without a signal: the slow poll that catches a lost signal. */
  readonly backstopIntervalMs: number;
}

// ---- the process's signal bus ---------------------------------------------------

const waitersByChannel = new Map<string, Set<Wakeup>>();
/** Hubs that forward local signals to other processes. */
const peerForwarders = new Set<(channel: string) => void>();

function wakeLocal(channel: string): void {
  const waiters = waitersByChannel.get(channel);
  if (waiters) for (const waiter of waiters) waiter.signal();
}

/** Wakes every waiter on `channel` in this process now, and (through each hub) its peers. */
export function signalWakeup(channel: string): void {
  wakeLocal(channel);
  for (const forward of peerForwarders) forward(channel);
}

/**
 * Wakes `channel` once the transaction of `manager` commits (at once outside
 * a transaction); nothing happens if it rolls back.
 */
export function signalAfterCommit(manager: EntityManager, channel: string): void {
  // Once per channel per transaction: a transaction writing 10 000 outbox rows wakes the relay once.
  afterCommit(manager, () => signalWakeup(channel), `wakeup:${channel}`);
}

/**
 * What a loop waits on. One waiter at a time per Wakeup (one loop); create
 * one per loop. `close()` ends a pending wait with 'closed' and detaches it.
 */
export class Wakeup {
  private pending = false;
  private closed = false;
  private release: ((reason: WakeReason) => void) | undefined;
  private readonly backstopIntervalMs: number;
  private readonly onClose: (() => void) | undefined;

  constructor(
    readonly channel: string,
    options: WakeupOptions,
    onClose?: () => void,
  ) {
    this.backstopIntervalMs = assertIntegerInRange(
      'backstopIntervalMs',
      options.backstopIntervalMs,
      1,
      3_600_000,
    );
    this.onClose = onClose;
    let waiters = waitersByChannel.get(channel);
    if (!waiters) {
      waiters = new Set();
      waitersByChannel.set(channel, waiters);
    }
    if (waiters.size >= WAITERS_PER_CHANNEL_MAX) {
      throw new RangeError(`more than ${WAITERS_PER_CHANNEL_MAX} waiters on wake-up channel ${channel}`);
    }
    waiters.add(this);
  }

  /**
   * Resolves with 'signal' when a signal came since the last wait returned
   * (at once if one is latched), 'backstop' after `timeoutMs` (default: the
   * backstop interval; a shorter one suits a loop that knows when its next
   * work is due), 'closed' once closed.
   */
  wait(timeoutMs?: number): Promise<WakeReason> {
    if (this.closed) return Promise.resolve('closed');
    if (this.release) throw new Error(`two concurrent waits on wake-up ${this.channel}`);
    if (this.pending) {
      this.pending = false;
      return Promise.resolve('signal');
    }
    const delayMs = Math.max(1, Math.min(timeoutMs ?? this.backstopIntervalMs, this.backstopIntervalMs));
    return new Promise<WakeReason>((resolve) => {
      const timer = setTimeout(() => finish('backstop'), delayMs);
      const finish = (reason: WakeReason): void => {
        clearTimeout(timer);
        this.release = undefined;
        resolve(reason);
      };
      this.release = finish;
    });
  }

  /** Wakes this waiter only (a loop's own "go again"). */
  signal(): void {
    if (this.closed) return;
    const release = this.release;
    if (release) release('signal');
    else this.pending = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiters = waitersByChannel.get(this.channel);
    waiters?.delete(this);
    if (waiters?.size === 0) waitersByChannel.delete(this.channel);
    this.release?.('closed');
    this.onClose?.();
  }
}

// ---- LISTEN/NOTIFY across processes ---------------------------------------------

export interface PgWakeupsOptions {
  /** postgres:// URL of the database whose peers share the channels. */
  readonly url: string;
  /** Shown in pg_stat_activity (a suffix `:wakeups` is added). */
  readonly applicationName: string;
  /** Forward local signals to peers as NOTIFY. Default true. */
  readonly notifyPeers?: boolean;
  /** At most one NOTIFY per channel per this interval; later signals in it are merged into one at its end. Default 100. */
  readonly peerNotifyIntervalMs?: number;
  /** Ceiling of the reconnect backoff. Default 5000. */
  readonly reconnectDelayMaxMs?: number;
  readonly logger?: PlatformLogSink;
}

export interface PgWakeupsStats {
  readonly connected: boolean;
  /** Notifications from peers that woke local waiters. */
  readonly received: number;
  /** NOTIFY statements sent to peers. */
  readonly notified: number;
  readonly reconnects: number;
}

interface PeerNotifyState {
  timer: NodeJS.Timeout;
  pendingAgain: boolean;
}

/**
 * One LISTEN connection per process and database (not taken from the pool),
 * listening to the channels of the Wakeups made through it; reconnects with
 * backoff for as long as it runs, and after each reconnect wakes every
 * waiter once (notifications sent while it was away are lost).
 */
export class PgWakeups {
  private readonly token = randomBytes(8).toString('hex');
  private readonly notifyPeers: boolean;
  private readonly peerNotifyIntervalMs: number;
  private readonly reconnectDelayMaxMs: number;
  private readonly logger: PlatformLogSink;
  private readonly channels = new Map<string, number>();
  private readonly peerNotify = new Map<string, PeerNotifyState>();
  private readonly forward = (channel: string): void => this.forwardToPeers(channel);
  private client: CountingPgClient | undefined;
  private connecting: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private running = false;
  private counters = { received: 0, notified: 0, reconnects: 0 };

  constructor(private readonly options: PgWakeupsOptions) {
    this.notifyPeers = options.notifyPeers ?? true;
    this.peerNotifyIntervalMs = assertIntegerInRange(
      'peerNotifyIntervalMs',
      options.peerNotifyIntervalMs ?? 100,
      1,
      60_000,
    );
    this.reconnectDelayMaxMs = assertIntegerInRange(
      'reconnectDelayMaxMs',
      options.reconnectDelayMaxMs ?? 5_000,
      RECONNECT_BASE_MS,
      300_000,
    );
    this.logger = options.logger ?? SILENT_LOG_SINK;
  }

  /** Connects in the background (and keeps reconnecting); resolves after the first attempt. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.notifyPeers) peerForwarders.add(this.forward);
    await this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    peerForwarders.delete(this.forward);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const state of this.peerNotify.values()) clearTimeout(state.timer);
    this.peerNotify.clear();
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** A Wakeup on `channel` that peers' NOTIFY also wakes. */
  wakeup(channel: string, options: WakeupOptions): Wakeup {
    if (channel.length > CHANNEL_BYTES_MAX) throw new RangeError(`wake-up channel ${channel} is too long`);
    const count = this.channels.get(channel) ?? 0;
    if (count === 0 && this.channels.size >= CHANNELS_MAX) {
      throw new RangeError(`more than ${CHANNELS_MAX} wake-up channels on one hub`);
    }
    const waiter = new Wakeup(channel, options, () => this.unlisten(channel));
    this.channels.set(channel, count + 1);
    if (count === 0) void this.listen(channel);
    return waiter;
  }

  stats(): PgWakeupsStats {
    return { ...this.counters, connected: this.client !== undefined };
  }

  private async listen(channel: string): Promise<void> {
    const client = this.client;
    if (!client) return; // The next connect listens to every channel.
    await client.query(`LISTEN ${quoteChannel(channel)}`).catch((error: unknown) => {
      this.logger.warn({ err: errorMessage(error), channel }, 'LISTEN failed; the backstop poll covers it');
    });
  }

  private unlisten(channel: string): void {
    const count = (this.channels.get(channel) ?? 1) - 1;
    if (count > 0) {
      this.channels.set(channel, count);
      return;
    }
    this.channels.delete(channel);
    void this.client?.query(`UNLISTEN ${quoteChannel(channel)}`).catch(() => undefined);
  }

  private connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = this.connectOnce().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectOnce(): Promise<void> {
    const client = new CountingPgClient({
      connectionString: this.options.url,
      application_name: `${this.options.applicationName}:wakeups`,
      keepAlive: true,
    });
    client.on('notification', (message) => {
      if (message.payload === this.token) return; // our own NOTIFY
      this.counters.received++;
      wakeLocal(message.channel);
    });
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      for (const channel of this.channels.keys()) await client.query(`LISTEN ${quoteChannel(channel)}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      this.scheduleReconnect(error);
      return;
    }
    if (!this.running) {
      await client.end().catch(() => undefined);
      return;
    }
    const wasReconnect = this.failures > 0 || this.counters.reconnects > 0;
    this.client = client;
    this.failures = 0;
    if (wasReconnect) {
      // Whatever peers announced while we were away is lost: every waiter looks once.
      for (const channel of this.channels.keys()) wakeLocal(channel);
    }
  }

  private lost(client: CountingPgClient, error: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('notification');
    void client.end().catch(() => undefined);
    this.counters.reconnects++;
    this.scheduleReconnect(error);
  }

  private scheduleReconnect(error: unknown): void {
    if (!this.running) return;
    this.failures++;
    const delayMs = backoffDelayMs(this.failures, RECONNECT_BASE_MS, this.reconnectDelayMaxMs);
    this.logger.warn({ err: errorMessage(error), delayMs }, 'wake-up connection lost; reconnecting');
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  /** Leading NOTIFY at once, then at most one more per interval while signals keep coming. */
  private forwardToPeers(channel: string): void {
    const state = this.peerNotify.get(channel);
    if (state) {
      state.pendingAgain = true;
      return;
    }
    this.sendNotify(channel);
    const next: PeerNotifyState = {
      pendingAgain: false,
      timer: setTimeout(() => {
        this.peerNotify.delete(channel);
        if (next.pendingAgain) this.forwardToPeers(channel);
      }, this.peerNotifyIntervalMs),
    };
    this.peerNotify.set(channel, next);
  }

  private sendNotify(channel: string): void {
    const client = this.client;
    if (!client) return; // Peers' backstop polls cover the gap.
    this.counters.notified++;
    client.query('SELECT pg_notify($1, $2)', [channel, this.token]).catch((error: unknown) => {
      this.logger.warn({ err: errorMessage(error), channel }, 'NOTIFY failed; peers poll on their backstop');
    });
  }
}

function quoteChannel(channel: string): string {
  return `"${channel.replace(/"/g, '""')}"`;
}
