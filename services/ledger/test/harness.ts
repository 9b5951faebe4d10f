/**
 * Runs the ledger in this process against a per-run database and NATS
 * prefix, and plays the account service's side of the wire: it publishes
 * real TransferPosted / DaySealed protobuf events to account's stream through
 * JetStream with a Nats-Msg-Id, exactly as account's outbox relay does.
 *
 * Unit-level harness: CloseDay's AccountDailyBalances port is a fake whose
 * rows the test sets. Tests with the real account service live in
 * with-account.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connectNats,
  createClient,
  createLogger,
  ensureStream,
  EventNaming,
  runService,
  type NatsConnections,
  type RunningService,
} from '@paycore/platform';
import {
  createTestDatabase,
  createTokenMinter,
  freePort,
  testPrefix,
  type TestDatabase,
  type TokenMinter,
} from '@paycore/testing';
import { DaySealed, TransferPosted } from '@paycore/proto/paycore/account/v1/events';
import { Side } from '@paycore/proto/paycore/account/v1/account_service';
import { LedgerServiceClient } from '@paycore/proto/paycore/ledger/v1/ledger_service';
import { Client } from 'pg';
import { ledgerSpec } from '../src/service';
import type { AccountDailyClosing } from '../src/domain/close-check';

export const ADJUST_CODE = '90010101080001000000';
export const PAY_CODE = '10010101011001100001';

export interface Leg {
  readonly accountId: string;
  readonly subjectCode: string;
  readonly side: 'DEBIT' | 'CREDIT';
  readonly amountMinor: bigint;
  readonly currency?: string;
}

interface DayTotal {
  readonly subjectCode: string;
  readonly currency: string;
  readonly n: bigint;
  readonly debit: bigint;
  readonly credit: bigint;
}

/** What account's books would say: the fake port's rows, kept in step with the published legs. */
export class FakeAccountBook {
  readonly normalSides = new Map<string, 'DEBIT' | 'CREDIT'>();
  private readonly balances = new Map<
    string,
    { subjectCode: string; currency: string; closingMinor: bigint }
  >();
  readonly snapshots = new Map<string, AccountDailyClosing[]>();
  /** Entry totals per date, as account's seal would count them. */
  readonly totals = new Map<
    string,
    Map<string, { subjectCode: string; currency: string; n: bigint; debit: bigint; credit: bigint }>
  >();

  apply(date: string, legs: readonly Leg[]): void {
    for (const leg of legs) {
      const currency = leg.currency ?? 'CNY';
      const normal = this.normalSides.get(leg.accountId) ?? 'DEBIT';
      const current = this.balances.get(leg.accountId) ?? {
        subjectCode: leg.subjectCode,
        currency,
        closingMinor: 0n,
      };
      const delta = leg.side === normal ? leg.amountMinor : -leg.amountMinor;
      this.balances.set(leg.accountId, { ...current, closingMinor: current.closingMinor + delta });
      const day = this.totals.get(date) ?? new Map<string, DayTotal>();
      const key = `${leg.subjectCode}|${currency}`;
      const t = day.get(key) ?? { subjectCode: leg.subjectCode, currency, n: 0n, debit: 0n, credit: 0n };
      day.set(key, {
        ...t,
        n: t.n + 1n,
        debit: t.debit + (leg.side === 'DEBIT' ? leg.amountMinor : 0n),
        credit: t.credit + (leg.side === 'CREDIT' ? leg.amountMinor : 0n),
      });
      this.totals.set(date, day);
    }
  }

  /** Freezes the daily rows of `date`, as account's SealDay does. */
  seal(date: string): void {
    this.snapshots.set(
      date,
      [...this.balances.entries()].map(([accountId, b]) => ({
        accountId,
        subjectCode: b.subjectCode,
        currency: b.currency,
        normalSide: this.normalSides.get(accountId) ?? 'DEBIT',
        closingMinor: b.closingMinor,
      })),
    );
  }
}

export interface LedgerHarness {
  readonly service: RunningService;
  readonly address: string;
  readonly database: TestDatabase;
  readonly naming: EventNaming;
  readonly nats: NatsConnections;
  readonly book: FakeAccountBook;
  readonly minter: TokenMinter;
  client(scopes?: readonly string[], sub?: string): Promise<LedgerServiceClient>;
  /** Publishes a TransferPosted with Nats-Msg-Id = msgId (default: one per transfer) and books it in the fake account. */
  postTransfer(
    transferId: string,
    date: string,
    legs: readonly Leg[],
    options?: { msgId?: string; book?: boolean },
  ): Promise<void>;
  /** Publishes the raw TransferPosted again under a chosen message id (a redelivery or a relay replay). */
  republish(transferId: string, date: string, legs: readonly Leg[], msgId: string): Promise<void>;
  /** Seals `date` in the fake account and publishes DaySealed. */
  sealDay(date: string): Promise<void>;
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
  /** Waits until the ledger has handled `count` inbox messages. */
  waitHandled(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function transferPosted(transferId: string, date: string, legs: readonly Leg[]): Uint8Array {
  return TransferPosted.encode({
    transferId,
    requestId: `req-${transferId}`,
    bizCode: PAY_CODE,
    accountingDate: date,
    legs: legs.map((leg) => ({
      accountId: leg.accountId,
      subjectCode: leg.subjectCode,
      side: leg.side === 'DEBIT' ? Side.SIDE_DEBIT : Side.SIDE_CREDIT,
      amount: { amountMinor: leg.amountMinor, currency: leg.currency ?? 'CNY' },
      entrySeq: 1n,
    })),
    postedAt: new Date(),
    pendingId: '',
  }).finish();
}

export async function startLedgerHarness(): Promise<LedgerHarness> {
  const database = await createTestDatabase();
  const minter = await createTokenMinter();
  const prefix = testPrefix();
  const naming = new EventNaming(prefix);
  const book = new FakeAccountBook();
  const natsUrl = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const nats = await connectNats({ servers: natsUrl, name: 'ledger-test-publisher' });
  // The account service provisions this stream in production; here the test plays account.
  await ensureStream(nats.jsm, {
    name: naming.stream('account'),
    subjects: [naming.contextSubjects('account')],
  });
  const service = await runService(
    ledgerSpec({
      accountDailyBalances: {
        dailyClosings: (date) => Promise.resolve(book.snapshots.get(date) ?? []),
      },
      consumerBackoffMs: [100, 200],
    }),
    {
      handleSignals: false,
      logger: createLogger({ service: 'ledger', level: 'warn' }),
      readinessIntervalMs: 200,
      env: {
        SERVICE_NAME: 'ledger',
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: String(await freePort()),
        HTTP_PORT: '0',
        DATABASE_URL: database.url,
        NATS_URL: natsUrl,
        NATS_PREFIX: prefix,
        AUTH_JWT_PUBLIC_KEY: minter.publicKeyPem,
        AUTH_JWT_ISSUER: minter.issuer,
        AUTH_JWT_AUDIENCE: minter.audience,
        SHUTDOWN_GRACE_MS: '1000',
      },
    },
  );
  await service.ready;
  const address = `127.0.0.1:${service.grpcPort}`;
  const pg = new Client({ connectionString: database.url });
  await pg.connect();
  await pg.query('SET search_path TO ledger');
  const clients: LedgerServiceClient[] = [];

  const publish = async (subject: string, data: Uint8Array, msgId: string): Promise<void> => {
    await nats.js.publish(subject, data, { msgID: msgId });
  };
  const harness: LedgerHarness = {
    service,
    address,
    database,
    naming,
    nats,
    book,
    minter,
    async client(scopes = ['ledger:read', 'ledger:adjust', 'ledger:admin'], sub = 'ledger-test') {
      const token = await minter.mint({ sub, scopes });
      const client = createClient(LedgerServiceClient, {
        address,
        token: () => token,
        defaultDeadlineMs: 10_000,
      });
      clients.push(client);
      return client;
    },
    async postTransfer(transferId, date, legs, options = {}) {
      if (options.book ?? true) book.apply(date, legs);
      await publish(
        naming.subject('account', 'transfer_posted'),
        transferPosted(transferId, date, legs),
        options.msgId ?? `tp-${transferId}`,
      );
    },
    async republish(transferId, date, legs, msgId) {
      await publish(
        naming.subject('account', 'transfer_posted'),
        transferPosted(transferId, date, legs),
        msgId,
      );
    },
    async sealDay(date) {
      book.seal(date);
      const totals = [...(book.totals.get(date)?.values() ?? [])].sort((a, b) =>
        a.subjectCode === b.subjectCode
          ? a.currency < b.currency
            ? -1
            : 1
          : a.subjectCode < b.subjectCode
            ? -1
            : 1,
      );
      const payload = DaySealed.encode({
        accountingDate: date,
        totals: totals.map((t) => ({
          subjectCode: t.subjectCode,
          currency: t.currency,
          entryCount: t.n,
          debitTotal: { amountMinor: t.debit, currency: t.currency },
          creditTotal: { amountMinor: t.credit, currency: t.currency },
        })),
        accountCount: BigInt(book.snapshots.get(date)?.length ?? 0),
        sealedAt: new Date(),
      }).finish();
      await publish(naming.subject('account', 'day_sealed'), payload, `ds-${date}`);
    },
    async sql<T>(text: string, params: unknown[] = []) {
      return (await pg.query(text, params)).rows as T[];
    },
    async waitHandled(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = (await pg.query(`SELECT count(*)::int AS n FROM inbox`)).rows as { n: number }[];
        if ((rows[0]?.n ?? 0) >= count) return;
        if (Date.now() > deadline)
          throw new Error(`ledger handled ${rows[0]?.n ?? 0} of ${count} events in ${timeoutMs} ms`);
        await sleep(25);
      }
    },
    async close() {
      for (const c of clients) c.close();
      await service.stop();
      await pg.end();
      await nats.jsm.streams.delete(naming.stream('account')).catch(() => false);
      await nats.jsm.streams.delete(naming.stream('ledger')).catch(() => false);
      await nats.nc.close();
      await database.drop();
    },
  };
  return harness;
}
