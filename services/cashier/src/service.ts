/**
 * The cashier on the platform kit: store, clients of account and
 * channel-router, use cases, gRPC handlers, the channel event consumer, the
 * recovery worker and the merchant notifier, wired once. main.ts runs it as
 * a process; tests can run it in-process with runService(cashierSpec).
 */
import { join } from 'node:path';
import {
  createDataSource,
  ensureStream,
  EventNaming,
  InboxConsumer,
  serviceTokenFromFile,
  type ServiceSpec,
  type Worker,
} from '@paycore/platform';
import { CashierServiceService } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { TxnUpdated } from '@paycore/proto/paycore/channel/v1/events';
import {
  GrpcAccountPort,
  GrpcChannelPort,
  GrpcStoredValuePort,
  serviceAddress,
} from './adapters/grpc/clients';
import { cashierHandlers, cashierScopes } from './adapters/grpc/handlers';
import { PgCashierStore } from './adapters/pg/store';
import { NOTIFY_WAKEUP } from './adapters/pg/notifications';
import { AccountDirectory } from './application/accounts';
import { Cashier } from './application/cashier';
import { Drivers } from './application/drivers';
import { ChannelEvents, fetchPost, Notifier, Recovery, Ticker, WakingLoop } from './application/workers';
import { cashierConfigSchema } from './config';
import { CURRENCY } from './domain/model';
import { registerCashierCollectors } from './adapters/metrics/collectors';

export const CASHIER_SCHEMA = 'cashier';

export const cashierSpec: ServiceSpec<typeof cashierConfigSchema> = {
  name: 'cashier',
  schema: CASHIER_SCHEMA,
  migrationsDir: join(__dirname, '..', 'migrations'),
  useNats: true,
  configSchema: cashierConfigSchema,
  // eslint-disable-next-line max-lines-per-function -- the wiring of the service: one linear list of constructions
  async setup({
    config,
    dataSource,
    nats,
    grpc,
    catalogue,
    logger,
    metrics,
    wakeups,
  }): Promise<readonly Worker[]> {
    if (dataSource === undefined || nats === undefined || wakeups === undefined)
      throw new Error('the cashier needs Postgres and NATS');
    registerCashierCollectors(metrics, dataSource);
    const naming = new EventNaming(config.NATS_PREFIX);
    await ensureStream(nats.jsm, {
      name: naming.stream('cashier'),
      subjects: [naming.contextSubjects('cashier')],
    });
    // The consumer needs channel-router's stream; creating it here too is harmless (same configuration).
    await ensureStream(nats.jsm, {
      name: naming.stream('channel'),
      subjects: [naming.contextSubjects('channel')],
    });
    const token = serviceTokenFromFile(config.SERVICE_TOKEN_FILE);
    const account = new GrpcAccountPort(
      serviceAddress('account', config.ACCOUNT_ADDRESS, config.ENDPOINTS_FILE),
      token,
      metrics,
    );
    const storedValue = new GrpcStoredValuePort(
      serviceAddress('account', config.ACCOUNT_ADDRESS, config.ENDPOINTS_FILE),
      token,
      metrics,
    );
    const channel = new GrpcChannelPort(
      serviceAddress('channel-router', config.CHANNEL_ROUTER_ADDRESS, config.ENDPOINTS_FILE),
      token,
      metrics,
    );
    const store = new PgCashierStore(dataSource, naming);
    const accounts = new AccountDirectory(store, account, CURRENCY);
    const nowMs = (): number => Date.now();
    const driverOptions = {
      tryMarginMs: config.CASHIER_TRY_MARGIN_MS,
      exceptionWindowMs: config.CASHIER_EXCEPTION_WINDOW_MS,
      withdrawalHoldMs: config.CASHIER_WITHDRAWAL_HOLD_MS,
      nowMs,
    };
    const driversOn = (on: PgCashierStore): Drivers =>
      new Drivers({ store: on, accounts, account, storedValue, channel, logger, options: driverOptions });
    const drivers = driversOn(store);
    const cashier = new Cashier(store, accounts, account, channel, drivers, catalogue, logger, {
      orderTtlMs: config.CASHIER_ORDER_TTL_MS,
      nowMs,
      allowPrivateNotifyUrls: config.CASHIER_NOTIFY_ALLOW_PRIVATE_URLS,
    });
    grpc.addService(CashierServiceService, cashierHandlers(cashier), cashierScopes);

    // Channel events get connections of their own (ADR 0058): on the shared pool each event
    // queued behind the RPCs' transactions, twice (the inbox's and the handler's), and the
    // consumer fell behind the payments it was to finish. Two per handler in flight.
    const eventsConcurrency = config.CASHIER_CHANNEL_EVENTS_CONCURRENCY;
    const eventsDataSource = createDataSource({
      url: config.DATABASE_URL ?? '',
      schema: CASHIER_SCHEMA,
      applicationName: 'cashier-channel-events',
      poolSizeMax: 2 * eventsConcurrency,
    });
    await eventsDataSource.initialize();
    const eventsStore = new PgCashierStore(eventsDataSource, naming);
    // The flows an event decides are driven on that pool too: on the shared one each step's reads
    // and writes queued behind new payments. Any driver may run any step (drivers.ts), so a second
    // set of drivers racing the recovery worker's is answered as a replay.
    const eventDrivers = driversOn(eventsStore);
    const events = new ChannelEvents(eventsStore, eventDrivers, logger);
    const consumer = new InboxConsumer({
      dataSource: eventsDataSource,
      schema: CASHIER_SCHEMA,
      js: nats.js,
      jsm: nats.jsm,
      stream: naming.stream('channel'),
      durable: naming.durable('cashier', 'channel_txns'),
      filterSubjects: [naming.subject('channel', 'txn_updated')],
      handler: async (message) => {
        const event = TxnUpdated.decode(message.data);
        if (event.transaction !== undefined) await events.handle(event.transaction);
      },
      handlerConcurrencyMax: eventsConcurrency,
      // The updates of one channel transaction are applied in stream order.
      orderingKey: (message) => TxnUpdated.decode(message.data).transaction?.txnId,
      // Non-final updates (the announcement, PROCESSING) decide nothing: no transaction for them.
      ignore: (message) => {
        const txn = TxnUpdated.decode(message.data).transaction;
        return txn === undefined || !ChannelEvents.decides(txn);
      },
      maxDeliver: 10,
      backoffMs: [1_000, 5_000, 30_000],
      ackWaitMs: 30_000,
      batchSizeMax: 100,
      fetchExpiresMs: 2_000,
      isolation: 'READ COMMITTED',
      logger,
    });
    const recovery = new Recovery(store, drivers, cashier, logger, config.CASHIER_RECOVERY_IDLE_MS);
    const notifier = new Notifier(store, fetchPost, logger, {
      timeScale: config.CASHIER_NOTIFY_TIME_SCALE,
      batchMax: config.CASHIER_NOTIFY_BATCH_MAX,
      timeoutMs: config.CASHIER_NOTIFY_TIMEOUT_MS,
      nowMs,
    });
    const recoveryTicker = new Ticker(
      'recovery',
      config.CASHIER_RECOVERY_TICK_MS,
      () => recovery.pass(),
      logger,
    );
    const notifyLoop = new WakingLoop(
      'notifier',
      wakeups.wakeup(NOTIFY_WAKEUP, { backstopIntervalMs: config.CASHIER_NOTIFY_TICK_MS }),
      () => notifier.pass(),
      logger,
      nowMs,
    );
    logger.info({ recovery_idle_ms: config.CASHIER_RECOVERY_IDLE_MS }, 'cashier configured');
    return [
      {
        name: 'channel-events',
        start: () => consumer.start(),
        stop: async () => {
          await consumer.stop();
          if (eventsDataSource.isInitialized) await eventsDataSource.destroy();
        },
      },
      { name: 'recovery', start: () => recoveryTicker.start(), stop: () => recoveryTicker.stop() },
      { name: 'notifier', start: () => notifyLoop.start(), stop: () => notifyLoop.stop() },
    ];
  },
};
