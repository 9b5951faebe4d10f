/**
 * The ledger service on the platform kit: schema `ledger`, the voucher
 * consumer on account's stream, LedgerService over gRPC. Exported as a spec
 * so tests run it in-process; main.ts runs it as a process.
 */
import { join } from 'node:path';
import {
  ensureStream,
  EventNaming,
  type ServiceSpec,
  type Worker,
  serviceTokenFromFile,
  withFlowStates,
} from '@paycore/platform';
import { LedgerApp } from './application/ledger';
import type { AccountDailyBalances } from './application/ports';
import { accountEventsConsumer, LEDGER_SCHEMA } from './adapters/nats/account-events';
import { accountAddress, GrpcAccountDailyBalances } from './adapters/grpc/account-client';
import { LEDGER_SCOPES, ledgerHandlers } from './adapters/grpc/ledger-service';
import { PgLedgerStore } from './adapters/pg/store';
import { registerLedgerCollectors } from './adapters/metrics/collectors';
import { accountingDayRuleFrom, validateDayRule } from '@paycore/calendar';
import { ledgerConfigSchema } from './config';
import { LedgerServiceService as LedgerServiceDefinition } from '@paycore/proto/paycore/ledger/v1/ledger_service';

export interface LedgerSpecOptions {
  /**
   * Replaces the gRPC client of account's GetDailyBalances. Only unit-level
   * service tests pass one (a fake); production always asks account.
   */
  readonly accountDailyBalances?: AccountDailyBalances;
  /** nak backoff of the voucher consumer (tests shorten it). */
  readonly consumerBackoffMs?: readonly number[];
}

export function ledgerSpec(options: LedgerSpecOptions = {}): ServiceSpec<typeof ledgerConfigSchema> {
  return {
    name: 'ledger',
    schema: LEDGER_SCHEMA,
    migrationsDir: join(__dirname, '..', 'migrations'),
    useNats: true,
    configSchema: ledgerConfigSchema,
    async setup({ config, dataSource, nats, grpc, logger, metrics }) {
      if (!dataSource || !nats) throw new Error('the ledger needs Postgres and NATS');
      registerLedgerCollectors(metrics, dataSource);
      const naming = new EventNaming(config.NATS_PREFIX);
      // Both services may declare their streams; ensureStream is idempotent with the same config.
      await ensureStream(nats.jsm, {
        name: naming.stream('ledger'),
        subjects: [naming.contextSubjects('ledger')],
      });
      await ensureStream(nats.jsm, {
        name: naming.stream('account'),
        subjects: [naming.contextSubjects('account')],
      });
      const calendar = validateDayRule(accountingDayRuleFrom(config));
      const store = new PgLedgerStore(dataSource, naming);
      let grpcAccounts: GrpcAccountDailyBalances | undefined;
      const accounts: AccountDailyBalances = options.accountDailyBalances ?? {
        dailyClosings: (date) => {
          // Built on first use, so the ledger starts (and serves reads) before account is reachable.
          const token = config.ACCOUNT_CLIENT_TOKEN;
          const fromFile = serviceTokenFromFile(config.SERVICE_TOKEN_FILE);
          grpcAccounts ??= new GrpcAccountDailyBalances(
            accountAddress(config.ACCOUNT_ADDRESS, config.ENDPOINTS_FILE),
            () => token ?? fromFile(),
          );
          return grpcAccounts.dailyClosings(date);
        },
      };
      const app = new LedgerApp(store, accounts, calendar);
      grpc.addService(
        LedgerServiceDefinition,
        ledgerHandlers(app, store),
        withFlowStates<typeof LedgerServiceDefinition>(LEDGER_SCOPES, {
          closeDay: (res) => (res.accountingDate === '' ? undefined : { state: 'DAY_CLOSED' }),
          postManualVoucher: (res) => (res.voucher ? { state: 'VOUCHER_POSTED' } : undefined),
        }),
      );
      const consumer = accountEventsConsumer({
        dataSource,
        nats,
        naming,
        app,
        store,
        logger,
        ...(options.consumerBackoffMs !== undefined ? { backoffMs: options.consumerBackoffMs } : {}),
      });
      const workers: Worker[] = [
        { name: 'ledger-vouchers', start: () => consumer.start(), stop: () => consumer.stop() },
        {
          name: 'account-client',
          start: () => undefined,
          stop: () => {
            grpcAccounts?.close();
            return Promise.resolve();
          },
        },
      ];
      return workers;
    },
  };
}
