/**
 * Reconciliation on the platform kit: store, clients of channel-router,
 * account and ledger, use cases, gRPC handlers, HTTP report routes, the
 * consumer of channel.txn_updated, and the schedule / resume worker, wired
 * once. main.ts runs it as a process; tests run it in-process.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import {
  ensureStream,
  EventNaming,
  serviceTokenFromFile,
  type FullConfig,
  type Metrics,
  type NatsConnections,
  type ServiceSpec,
  type Worker,
} from '@paycore/platform';
import { ReconciliationServiceService } from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { GrpcAccountPort, GrpcChannelPort, GrpcLedgerPort, serviceAddress } from './adapters/grpc/clients';
import { reconHandlers, reconScopes } from './adapters/grpc/handlers';
import { reportRoutes } from './adapters/http/report';
import { channelTxnConsumer, RECON_CONTEXT, RECON_SCHEMA, reconEvents } from './adapters/nats/events';
import { PgReconStore } from './adapters/pg/store';
import { BankClaims } from './application/bank';
import type { AccountPort, ChannelPort, LedgerPort } from './application/ports';
import { Reconciliation } from './application/reconciliation';
import { DayChecks } from './application/report';
import { Scheduler, Ticker } from './application/scheduler';
import { reconConfigSchema } from './config';
import { parseChannels } from './domain/channels';

export const CURRENCY = 'CNY';

interface Peers {
  readonly channel: ChannelPort;
  readonly account: AccountPort;
  readonly ledger: LedgerPort;
}

export interface ReconSpecOptions {
  /** Replace the peers (service tests of the engine alone); production always calls them. */
  readonly peers?: Peers;
  readonly consumerBackoffMs?: readonly number[];
}

export function reconciliationSpec(options: ReconSpecOptions = {}): ServiceSpec<typeof reconConfigSchema> {
  return {
    name: 'reconciliation',
    schema: RECON_SCHEMA,
    migrationsDir: join(__dirname, '..', 'migrations'),
    useNats: true,
    configSchema: reconConfigSchema,
    async setup({ config, dataSource, nats, grpc, http, logger, metrics }): Promise<readonly Worker[]> {
      if (dataSource === undefined || nats === undefined)
        throw new Error('reconciliation needs Postgres and NATS');
      const naming = new EventNaming(config.NATS_PREFIX);
      await ensureStream(nats.jsm, {
        name: naming.stream(RECON_CONTEXT),
        subjects: [naming.contextSubjects(RECON_CONTEXT)],
      });
      // The consumer needs channel-router's stream; declaring it here too is harmless (same configuration).
      await ensureStream(nats.jsm, {
        name: naming.stream('channel'),
        subjects: [naming.contextSubjects('channel')],
      });
      const closers: (() => void)[] = [];
      const peers = options.peers ?? grpcPeers(config, metrics, closers);
      const channels = parseChannels(config.RECON_CHANNELS);
      const store = new PgReconStore(dataSource);
      const recon = new Reconciliation(store, peers.channel, peers.account, reconEvents(naming), logger, {
        channels: new Map(channels.map((c) => [c.channelNo, c])),
        holdWindowMinutes: config.RECON_HOLD_WINDOW_MINUTES,
        uploadBytesMax: config.RECON_UPLOAD_BYTES_MAX,
        streamUploadBytesMax: config.RECON_STREAM_UPLOAD_BYTES_MAX,
        currency: CURRENCY,
        lease: {
          ttlMs: config.RECON_RUN_LEASE_MS,
          waitMs: config.RECON_RUN_LEASE_WAIT_MS,
          pollMs: Math.min(1_000, Math.floor(config.RECON_RUN_LEASE_MS / 10)),
        },
      });
      const bank = new BankClaims(store, peers.account, config.RECON_UPLOAD_BYTES_MAX, CURRENCY);
      const checks = new DayChecks(store, peers.account, peers.ledger, CURRENCY);
      grpc.addService(ReconciliationServiceService, reconHandlers(recon, bank, checks, store), reconScopes);
      for (const route of reportRoutes(recon, store, checks)) http.route('GET', route.path, route.handler);
      logger.info({ channels: channels.map((c) => c.channelNo) }, 'reconciliation configured');
      return backgroundWorkers({
        config,
        dataSource,
        nats,
        naming,
        logger,
        recon,
        bank,
        store,
        closers,
        options,
      });
    },
  };
}

type ReconConfig = FullConfig<typeof reconConfigSchema>;

/** The peers over gRPC; their clients are closed when the service stops. */
function grpcPeers(config: ReconConfig, metrics: Metrics, closers: (() => void)[]): Peers {
  const token = serviceTokenFromFile(config.SERVICE_TOKEN_FILE);
  const address = (name: string, explicit: string | undefined) =>
    serviceAddress(name, explicit, config.ENDPOINTS_FILE);
  const channel = new GrpcChannelPort(
    address('channel-router', config.CHANNEL_ROUTER_ADDRESS),
    token,
    metrics,
  );
  const account = new GrpcAccountPort(address('account', config.ACCOUNT_ADDRESS), token, metrics);
  const ledger = new GrpcLedgerPort(address('ledger', config.LEDGER_ADDRESS), token, metrics);
  closers.push(
    () => channel.close(),
    () => account.close(),
    () => ledger.close(),
  );
  return { channel, account, ledger };
}

/** The channel.txn_updated consumer, the schedule / resume ticker, and the peers' clients. */
function backgroundWorkers(input: {
  config: ReconConfig;
  dataSource: DataSource;
  nats: NatsConnections;
  naming: EventNaming;
  logger: Logger;
  recon: Reconciliation;
  bank: BankClaims;
  store: PgReconStore;
  closers: readonly (() => void)[];
  options: ReconSpecOptions;
}): Worker[] {
  const { config, dataSource, nats, naming, logger, recon, bank, store, closers, options } = input;
  const consumer = channelTxnConsumer({
    dataSource,
    nats,
    naming,
    logger,
    ...(options.consumerBackoffMs !== undefined ? { backoffMs: options.consumerBackoffMs } : {}),
  });
  const scheduler = new Scheduler(
    recon,
    store,
    logger,
    {
      enabled: config.RECON_SCHEDULE_ENABLED,
      minuteOfDay: config.RECON_SCHEDULE_MINUTE_OF_DAY,
      resumeAfterMs: config.RECON_RESUME_AFTER_MS,
      nowMs: () => Date.now(),
    },
    bank,
  );
  const ticker = new Ticker(
    'reconciliation-schedule',
    config.RECON_SCHEDULE_TICK_MS,
    () => scheduler.pass(),
    logger,
  );
  return [
    { name: 'channel-txns', start: () => consumer.start(), stop: () => consumer.stop() },
    { name: 'schedule', start: () => ticker.start(), stop: () => ticker.stop() },
    {
      name: 'peer-clients',
      start: () => undefined,
      stop: () => {
        for (const close of closers) close();
        return Promise.resolve();
      },
    },
  ];
}
