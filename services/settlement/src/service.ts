/**
 * The settlement service on the platform kit: schema `settlement`, the
 * clearing consumer on cashier's stream, the reconciliation consumer on
 * reconciliation's stream, the work queue of batches and deposit moves
 * shared by every replica, SettlementService over gRPC. Exported as a spec so tests
 * can run it in-process; main.ts runs it as a process.
 */
import { join } from 'node:path';
import { CN_BUSINESS_DAYS } from '@paycore/calendar';
import {
  ensureStream,
  EventNaming,
  serviceTokenFromFile,
  type ServiceSpec,
  type Worker,
} from '@paycore/platform';
import { SettlementServiceService } from '@paycore/proto/paycore/settlement/v1/settlement_service';
import { AccountDirectory, DEFAULT_CLEARING_SUBJECTS } from './application/accounts';
import { Batches, SETTLE_CODE } from './application/batches';
import { ChannelDays, Deposits } from './application/channel-days';
import { Clearing } from './application/clearing';
import { Settings } from './application/settings';
import { GrpcAccountPort, GrpcPayoutPort, serviceAddress } from './adapters/grpc/clients';
import { SETTLEMENT_SCOPES, settlementHandlers } from './adapters/grpc/handlers';
import { parseDepositRoutes, type DepositRoute } from './domain/deposit';
import {
  batchEvents,
  BatchQueueWorker,
  channelDayEvents,
  ensureBatchQueue,
} from './adapters/nats/batch-queue';
import { reconEventsConsumer } from './adapters/nats/recon-events';
import { cashierEventsConsumer, SETTLEMENT_SCHEMA } from './adapters/nats/cashier-events';
import { PgSettlementStore } from './adapters/pg/store';
import { holdAccount, holdPayouts, TestHold } from './adapters/test-hold';
import { settlementConfigSchema } from './config';

const BATCHES_PER_PULL = 10;

/** A channel's deposit route; null for a channel settlement has no pending-clearing subject for. */
export function depositRouter(
  routesText: string,
  defaultDepositSubject: string,
  clearingSubjects: Readonly<Record<string, string>>,
): (channelNo: string) => DepositRoute | null {
  const routes = parseDepositRoutes(routesText);
  for (const channelNo of routes.keys())
    if (clearingSubjects[channelNo] === undefined)
      throw new Error(`SETTLEMENT_DEPOSIT_ROUTES names ${channelNo}, which has no pending-clearing subject`);
  return (channelNo) =>
    clearingSubjects[channelNo] === undefined
      ? null
      : (routes.get(channelNo) ?? { depositSubject: defaultDepositSubject, transitSubject: null });
}

function channelDaysOf(
  config: { SETTLEMENT_DEPOSIT_ROUTES: string; SETTLEMENT_DEPOSIT_SUBJECT: string },
  naming: EventNaming,
): ChannelDays {
  const router = depositRouter(
    config.SETTLEMENT_DEPOSIT_ROUTES,
    config.SETTLEMENT_DEPOSIT_SUBJECT,
    DEFAULT_CLEARING_SUBJECTS,
  );
  return new ChannelDays(router, channelDayEvents(naming));
}

/** Concurrent pull loops of the clearing consumer in one replica (the same durable). */
const CLEARING_PULLS = 2;

function clearingPulls(consumers: readonly { start(): void; stop(): Promise<void> }[]): {
  start(): void;
  stop(): Promise<void>;
} {
  return {
    start: () => {
      for (const c of consumers) c.start();
    },
    stop: async () => {
      await Promise.all(consumers.map((c) => c.stop()));
    },
  };
}

function workersOf(
  consumer: { start(): void; stop(): Promise<void> },
  reconConsumer: { start(): void; stop(): Promise<void> },
  queue: BatchQueueWorker,
  account: GrpcAccountPort,
  payouts: GrpcPayoutPort,
): Worker[] {
  return [
    { name: 'settlement-clearing', start: () => consumer.start(), stop: () => consumer.stop() },
    {
      name: 'settlement-reconciliation',
      start: () => reconConsumer.start(),
      stop: () => reconConsumer.stop(),
    },
    { name: 'settlement-batches', start: () => queue.start(), stop: () => queue.stop() },
    {
      name: 'settlement-clients',
      start: () => undefined,
      stop: () => {
        account.close();
        payouts.close();
        return Promise.resolve();
      },
    },
  ];
}

// eslint-disable-next-line max-lines-per-function -- the service's wiring in one place: stores, clients, the clearing and reconciliation consumers, the work queue and its workers
export function settlementSpec(): ServiceSpec<typeof settlementConfigSchema> {
  return {
    name: 'settlement',
    schema: SETTLEMENT_SCHEMA,
    migrationsDir: join(__dirname, '..', 'migrations'),
    useNats: true,
    configSchema: settlementConfigSchema,
    async setup({ config, dataSource, nats, grpc, logger, metrics }) {
      if (!dataSource || !nats) throw new Error('settlement needs Postgres and NATS');
      const naming = new EventNaming(config.NATS_PREFIX);
      for (const context of ['settlement', 'cashier', 'reconciliation'])
        await ensureStream(nats.jsm, {
          name: naming.stream(context),
          subjects: [naming.contextSubjects(context)],
        });
      await ensureBatchQueue(nats, naming, config.SETTLEMENT_BATCH_ACK_WAIT_MS);
      const token = serviceTokenFromFile(config.SERVICE_TOKEN_FILE);
      const account = new GrpcAccountPort(
        serviceAddress('account', config.ACCOUNT_ADDRESS, config.ENDPOINTS_FILE),
        token,
        metrics,
      );
      const payouts = new GrpcPayoutPort(
        serviceAddress('channel-router', config.CHANNEL_ROUTER_ADDRESS, config.ENDPOINTS_FILE),
        token,
        metrics,
      );
      const store = new PgSettlementStore(dataSource);
      const holdFile = config.SETTLEMENT_TEST_HOLD_FILE;
      const hold = holdFile !== undefined && holdFile !== '' ? new TestHold(holdFile) : undefined;
      const accountPort = hold === undefined ? account : holdAccount(account, hold);
      const payoutPort = hold === undefined ? payouts : holdPayouts(payouts, hold);
      const accounts = new AccountDirectory(store, accountPort, {
        clearingSubjects: DEFAULT_CLEARING_SUBJECTS,
      });
      const clearing = new Clearing(CN_BUSINESS_DAYS);
      const batches = new Batches(
        store,
        accounts,
        accountPort,
        payoutPort,
        CN_BUSINESS_DAYS,
        batchEvents(naming, SETTLE_CODE),
        {
          payoutChannelNo: config.SETTLEMENT_PAYOUT_CHANNEL_NO,
          payoutAttemptsMax: config.SETTLEMENT_PAYOUT_ATTEMPTS_MAX,
        },
      );
      grpc.addService(
        SettlementServiceService,
        settlementHandlers(new Settings(store, clearing), batches, store),
        SETTLEMENT_SCOPES,
      );
      // Two pulls in flight per replica (ADR 0057): one clears while the other waits on NATS or Postgres.
      const consumer = clearingPulls(
        Array.from({ length: CLEARING_PULLS }, () =>
          cashierEventsConsumer({ dataSource, nats, naming, clearing, store, logger }),
        ),
      );
      const channelDays = channelDaysOf(config, naming);
      const reconConsumer = reconEventsConsumer({ dataSource, nats, naming, channelDays, store, logger });
      const queue = new BatchQueueWorker({
        nats,
        naming,
        batches,
        deposits: new Deposits(store, accounts, account),
        logger,
        ackWaitMs: config.SETTLEMENT_BATCH_ACK_WAIT_MS,
        waitingDelayMs: config.SETTLEMENT_PAYOUT_POLL_MS,
        failureDelayMs: config.SETTLEMENT_RETRY_DELAY_MS,
        batchSizeMax: Math.max(BATCHES_PER_PULL, config.SETTLEMENT_BATCH_DRIVES_IN_FLIGHT),
        drivesInFlightMax: config.SETTLEMENT_BATCH_DRIVES_IN_FLIGHT,
      });
      return workersOf(consumer, reconConsumer, queue, account, payouts);
    },
  };
}
