/**
 * The channel-router service on the platform kit: store, adapters, use
 * cases, gRPC handlers, channel callbacks and the status sync worker, wired
 * once. main.ts runs it as a process; tests run it in-process with
 * runService(channelRouterSpec).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  createDataSource,
  ensureStream,
  EventNaming,
  type ServiceSpec,
  type Worker,
} from '@paycore/platform';
import { ChannelServiceService } from '@paycore/proto/paycore/channel/v1/channel_service';
import { channelHandlers, channelScopes } from './adapters/grpc/handlers';
import { CHANNEL_ADAPTERS } from './adapters/channels/factories';
import { CallbackHandler } from './adapters/http/callbacks';
import { createRouterMetrics, meteredFactories } from './adapters/metrics';
import { CredentialSealer } from './adapters/pg/sealing';
import { PgChannelStore, STATUS_SYNC_WAKEUP } from './adapters/pg/store';
import { ChannelRouter } from './application/channel-router';
import { seedFromSandbox } from './application/seed';
import { StatusSyncWorker } from './application/status-sync';
import { channelConfigSchema, channelDaysFrom, sandboxUrl } from './config';
import { BreakerBoard } from './domain/breaker';
import { registerChannelCollectors } from './adapters/metrics/collectors';

export const channelRouterSpec: ServiceSpec<typeof channelConfigSchema> = {
  name: 'channel-router',
  schema: 'channel',
  migrationsDir: join(__dirname, '..', 'migrations'),
  useNats: true,
  configSchema: channelConfigSchema,
  // eslint-disable-next-line max-lines-per-function -- the wiring of the service: one linear list of constructions
  async setup({
    config,
    dataSource,
    nats,
    grpc,
    http,
    catalogue,
    logger,
    metrics,
    wakeups,
  }): Promise<readonly Worker[]> {
    if (dataSource === undefined || nats === undefined || wakeups === undefined)
      throw new Error('channel-router needs Postgres and NATS');
    registerChannelCollectors(metrics, dataSource);
    const naming = new EventNaming(config.NATS_PREFIX);
    await ensureStream(nats.jsm, {
      name: naming.stream('channel'),
      subjects: [naming.contextSubjects('channel')],
    });
    let keyBase64 = config.CHANNEL_CREDENTIALS_KEY;
    if (keyBase64 === undefined) {
      // Without a key, credentials stored by an earlier process cannot be opened; fine for a demo that re-seeds.
      logger.warn('CHANNEL_CREDENTIALS_KEY is not set: using a key that dies with this process');
      keyBase64 = randomBytes(32).toString('base64');
    }
    const store = new PgChannelStore(dataSource, naming.subject('channel', 'txn_updated'));
    const breakers = new BreakerBoard({
      windowMs: config.CHANNEL_BREAKER_WINDOW_MS,
      minimumCalls: config.CHANNEL_BREAKER_MIN_CALLS,
      failureRateThreshold: config.CHANNEL_BREAKER_FAILURE_PERCENT / 100,
      openMs: config.CHANNEL_BREAKER_OPEN_MS,
      halfOpenProbesMax: 1,
      nowMs: Date.now,
    });
    const routerMetrics = createRouterMetrics(metrics.registry, breakers);
    const routerOptions = {
      adapters: meteredFactories(CHANNEL_ADAPTERS, routerMetrics),
      catalogue,
      sealer: new CredentialSealer(keyBase64),
      breakers,
      channelDays: channelDaysFrom(config.CHANNEL_DAY_RULES),
      unverifiedSample: {
        max: config.CHANNEL_UNVERIFIED_SAMPLE_MAX,
        windowMs: config.CHANNEL_UNVERIFIED_SAMPLE_WINDOW_MS,
      },
      logger,
      callbackBaseUrl: (config.CHANNEL_CALLBACK_BASE_URL ?? `http://127.0.0.1:${config.HTTP_PORT}`).replace(
        /\/$/,
        '',
      ),
      channelTimeoutMs: config.CHANNEL_CALL_TIMEOUT_MS,
      syncSchedule: {
        denseIntervalMs: config.CHANNEL_SYNC_DENSE_INTERVAL_MS,
        denseWindowMs: config.CHANNEL_SYNC_DENSE_WINDOW_MS,
        firstDelayMs: config.CHANNEL_SYNC_FIRST_DELAY_MS,
        backoffFactor: 2,
        delayMaxMs: config.CHANNEL_SYNC_DELAY_MAX_MS,
      },
    };
    const router = new ChannelRouter({ ...routerOptions, store });
    grpc.addService(ChannelServiceService, channelHandlers(router, catalogue), channelScopes);
    // Callbacks get connections of their own (ADR 0058): on the RPCs' pool each of their reads
    // queued behind new payments, and the payer's decision waited with them.
    const callbackDataSource = createDataSource({
      url: config.DATABASE_URL ?? '',
      schema: 'channel',
      applicationName: 'channel-router-callbacks',
      poolSizeMax: config.CHANNEL_CALLBACK_POOL_SIZE_MAX,
    });
    await callbackDataSource.initialize();
    const callbackRouter = new ChannelRouter({
      ...routerOptions,
      store: new PgChannelStore(callbackDataSource, naming.subject('channel', 'txn_updated')),
    });
    const callbacks = new CallbackHandler(callbackRouter, logger, metrics.registry, routerMetrics);
    // Routes are exact paths: one per channel number the catalogue knows, for both wallet protocols.
    const channelNos = new Set(catalogue.codes().map((code) => code.slice(14)));
    for (const channelNo of channelNos) {
      http.route('POST', `/callbacks/alipay/${channelNo}`, (req) =>
        callbacks.handle('alipay', channelNo, req),
      );
      http.route('POST', `/callbacks/wechat/${channelNo}`, (req) =>
        callbacks.handle('wechat', channelNo, req),
      );
    }
    if (config.CHANNEL_SEED_FROM_SANDBOX === '1') {
      const url = sandboxUrl(config.SANDBOX_URL, config.ENDPOINTS_FILE);
      await seedFromSandbox(router, url);
      logger.info({ sandbox_url: url }, 'demo channel registry seeded from the sandbox');
    }
    const sync = new StatusSyncWorker(
      router,
      wakeups.wakeup(STATUS_SYNC_WAKEUP, { backstopIntervalMs: config.CHANNEL_SYNC_TICK_MS }),
      {
        tickMs: config.CHANNEL_SYNC_TICK_MS,
        batchSizeMax: config.CHANNEL_SYNC_BATCH_MAX,
        concurrencyMax: config.CHANNEL_SYNC_CONCURRENCY,
        leaseMs: config.CHANNEL_SYNC_LEASE_MS,
      },
      logger,
    );
    return [
      {
        // Listed first, so stopped last of the workers; a callback still arriving after that
        // fails (500) and the channel sends it again, as it does for any unanswered notification.
        name: 'callback-pool',
        start: () => Promise.resolve(),
        stop: async () => {
          if (callbackDataSource.isInitialized) await callbackDataSource.destroy();
        },
      },
      { name: 'status-sync', start: () => sync.start(), stop: () => sync.stop() },
    ];
  },
};
