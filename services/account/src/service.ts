/**
 * The account service on the platform kit: store, use cases, gRPC handlers
 * and the background workers, wired once. main.ts runs it as a process;
 * tests and the bench can run it in-process with runService(accountSpec).
 */
import { join } from 'node:path';
import { ensureStream, EventNaming, type ServiceSpec, type Worker } from '@paycore/platform';
import { AccountServiceService } from '@paycore/proto/paycore/account/v1/account_service';
import { StoredValueServiceService } from '@paycore/proto/paycore/account/v1/stored_value_service';
import { StoredValueJobs, StoredValueService } from './application/stored-value';
import { PgStoredValueStore } from './adapters/pg/lots-store';
import { StoredValueReconciliation } from './application/stored-value-recon';
import { parseClassRules } from './domain/sv-reconciliation';
import { registerStoredValueCollectors } from './adapters/metrics/stored-value-collectors';
import { storedValueHandlers, storedValueScopes } from './adapters/grpc/stored-value-handlers';
import { AccountService } from './application/account-service';
import { AccountEvents, headersFor } from './adapters/pg/events';
import { PgAccountStore } from './adapters/pg/store';
import { accountHandlers, accountScopes } from './adapters/grpc/handlers';
import { withAccountFlowStates } from './adapters/grpc/flow-states';
import { accountingDayRuleFrom, validateDayRule } from '@paycore/calendar';
import { Chart, DEFAULT_SUBJECTS } from './domain/chart';
import { accountConfigSchema } from './config';
import { registerAccountCollectors } from './adapters/metrics/collectors';

export const accountSpec: ServiceSpec<typeof accountConfigSchema> = {
  name: 'account',
  schema: 'account',
  migrationsDir: join(__dirname, '..', 'migrations'),
  useNats: true,
  configSchema: accountConfigSchema,
  async setup({ config, dataSource, nats, grpc, catalogue, logger, metrics }): Promise<readonly Worker[]> {
    if (dataSource === undefined || nats === undefined)
      throw new Error('the account service needs Postgres and NATS');
    const naming = new EventNaming(config.NATS_PREFIX);
    await ensureStream(nats.jsm, {
      name: naming.stream('account'),
      subjects: [naming.contextSubjects('account')],
    });
    const calendar = validateDayRule(accountingDayRuleFrom(config));
    const subjects = config.ACCOUNT_SUBJECTS?.split(',').map((s) => s.trim()) ?? DEFAULT_SUBJECTS;
    const store = new PgAccountStore({ dataSource, events: new AccountEvents(config.NATS_PREFIX) });
    // Read at scrape time only, after `service` exists.
    const collectors = registerAccountCollectors(metrics, dataSource, () => service.transfersQueued);
    const service = new AccountService({
      store,
      calendar,
      chart: new Chart(subjects),
      catalogue,
      captureHeaders: (bizCode) => headersFor(bizCode),
      batcher: {
        batchSizeMax: config.ACCOUNT_BATCH_SIZE_MAX,
        concurrencyMax: config.ACCOUNT_BATCH_CONCURRENCY,
        queueLengthMax: config.ACCOUNT_BATCH_QUEUE_MAX,
        lingerMs: config.ACCOUNT_BATCH_LINGER_MS,
      },
      flushTickMs: config.ACCOUNT_FLUSH_TICK_MS,
      expiryTickMs: config.ACCOUNT_EXPIRY_TICK_MS,
      defaultFlushIntervalMs: config.ACCOUNT_FLUSH_INTERVAL_MS_DEFAULT,
      defaultFlushBatchMax: config.ACCOUNT_FLUSH_BATCH_MAX_DEFAULT,
      onTransferBatch: collectors.observeTransferBatch,
    });
    grpc.addService(AccountServiceService, accountHandlers(service), withAccountFlowStates(accountScopes));
    const storedValueStore = new PgStoredValueStore({
      dataSource,
      events: new AccountEvents(config.NATS_PREFIX),
      calendar,
      natsPrefix: config.NATS_PREFIX,
    });
    const storedValue = new StoredValueService({ store: storedValueStore, catalogue, now: () => new Date() });
    const storedValueRecon = new StoredValueReconciliation({
      store: storedValueStore,
      rules: parseClassRules(config.ACCOUNT_SV_DIFFERENCE_RULES),
      bizCode: config.ACCOUNT_SV_JOB_BIZ_CODE,
    });
    registerStoredValueCollectors(metrics, dataSource);
    grpc.addService(
      StoredValueServiceService,
      storedValueHandlers(storedValue, storedValueRecon),
      storedValueScopes,
    );
    // A code the catalogue does not know fails the start, not the first expiry.
    catalogue.validate(config.ACCOUNT_SV_JOB_BIZ_CODE, 'ACCOUNT_SV_JOB_BIZ_CODE');
    const storedValueJobs = new StoredValueJobs(storedValue, {
      tickMs: config.ACCOUNT_SV_JOB_TICK_MS,
      bizCode: config.ACCOUNT_SV_JOB_BIZ_CODE,
      recognitionDay: config.ACCOUNT_SV_RECOGNITION_DAY,
      accountingDate: () => storedValue.accountingDate(),
      reconcile: (date) => storedValueRecon.reconcile(date),
      onError: (error) => logger.error({ err: error }, 'stored-value job run failed'),
    });
    logger.info({ calendar, batch_size_max: config.ACCOUNT_BATCH_SIZE_MAX }, 'account service configured');
    return [
      { name: 'account-workers', start: () => service.start(), stop: () => service.stop() },
      { name: 'stored-value-jobs', start: () => storedValueJobs.start(), stop: () => storedValueJobs.stop() },
    ];
  },
};
