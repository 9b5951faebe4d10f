/**
 * The channel-router service on the platform kit: store, adapters, use
 * cases, gRPC handlers, channel callbacks and the status sync worker, wired
 * once. main.ts runs it as a process; tests run it in-process with
 * runService(channelRouterSpec).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ensureStream, EventNaming, type ServiceSpec, type Worker } from '@paycore/platform';
import { ChannelServiceService } from '@paycore/proto/paycore/channel/v1/channel_service';
import { channelHandlers, channelScopes } from './adapters/grpc/handlers';
import { CallbackHandler } from './adapters/http/callbacks';
import { CredentialSealer } from './adapters/pg/sealing';
import { PgChannelStore } from './adapters/pg/store';
import { ChannelRouter } from './application/channel-router';
import { seedFromSandbox } from './application/seed';
import { StatusSyncWorker } from './application/status-sync';
import { channelConfigSchema, sandboxUrl } from './config';
import { BreakerBoard } from './domain/breaker';

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
  }): Promise<readonly Worker[]> {
    if (dataSource === undefined || nats === undefined)
      throw new Error('channel-router needs Postgres and NATS');
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
    const router = new ChannelRouter({
      store,
      catalogue,
      sealer: new CredentialSealer(keyBase64),
      breakers: new BreakerBoard({
        windowMs: config.CHANNEL_BREAKER_WINDOW_MS,
        minimumCalls: config.CHANNEL_BREAKER_MIN_CALLS,
        failureRateThreshold: config.CHANNEL_BREAKER_FAILURE_PERCENT / 100,
        openMs: config.CHANNEL_BREAKER_OPEN_MS,
        halfOpenProbesMax: 1,
        nowMs: Date.now,
      }),
      logger,
      callbackBaseUrl: (config.CHANNEL_CALLBACK_BASE_URL ?? `http://127.0.0.1:${config.HTTP_PORT}`).replace(
        /\/$/,
        '',
      ),
      channelTimeoutMs: config.CHANNEL_CALL_TIMEOUT_MS,
      syncSchedule: {
        firstDelayMs: config.CHANNEL_SYNC_FIRST_DELAY_MS,
        backoffFactor: 2,
        delayMaxMs: config.CHANNEL_SYNC_DELAY_MAX_MS,
      },
    });
    grpc.addService(ChannelServiceService, channelHandlers(router, catalogue), channelScopes);
    const callbacks = new CallbackHandler(router, logger, metrics.registry);
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
      {
        tickMs: config.CHANNEL_SYNC_TICK_MS,
        batchSizeMax: config.CHANNEL_SYNC_BATCH_MAX,
        concurrencyMax: config.CHANNEL_SYNC_CONCURRENCY,
        leaseMs: config.CHANNEL_SYNC_LEASE_MS,
      },
      logger,
    );
    return [{ name: 'status-sync', start: () => sync.start(), stop: () => sync.stop() }];
  },
};
