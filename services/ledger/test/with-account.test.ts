/**
 * Issue 4, must-show item 1, with the REAL account service: a scripted month
 * (30 accounting dates) of mixed activity — payments, refunds, top-ups,
 * balance transfers, fees, marketing costs, settlements to the bank — posted
 * through account's gRPC Transfer, plus a ledger-only manual adjustment each
 * day. Every day account seals the date (SealDay), the ledger closes it
 * (CloseDay, whose checks call account's GetDailyBalances over gRPC), the
 * trial balance holds, and the level-1 and level-2 rows equal the sums of the
 * leaves under them.
 *
 * Both services run in this process on one per-run database (each in its own
 * schema) and one NATS prefix. Account dates postings by the wall clock and
 * refuses to seal a future date, and its spec takes no clock, so the test
 * shifts this process's clock (global Date) day by day, starting 32 days in
 * the past; tokens are minted on the same shifted clock. Ask: accountSpec
 * should accept a clock (as PgAccountStore does) so this shim can go.
 */
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createClient,
  createLogger,
  decodeStatusDetails,
  runService,
  unary,
  type RunningService,
} from '@paycore/platform';
import {
  createTestDatabase,
  createTokenMinter,
  freePort,
  testPrefix,
  type TestDatabase,
} from '@paycore/testing';
import { accountSpec } from '@paycore/account';
import {
  AccountServiceClient,
  OwnerType,
  Side,
  type TransferLeg,
} from '@paycore/proto/paycore/account/v1/account_service';
import {
  BalanceDirection,
  EntrySide,
  LedgerServiceClient,
  type SubjectBalance,
} from '@paycore/proto/paycore/ledger/v1/ledger_service';
import { ledgerSpec } from '../src/service';

const DAYS = 30;
const DAY_MS = 24 * 3_600_000;
const CODES = {
  pay: '10010101011001100001',
  refund: '10010101021001100001',
  topUp: '10040101031001100001',
  transfer: '10040101050001000000',
  fee: '10010101090001000000',
  adjust: '90010101080001000000',
};

const RealDate = Date;
let clockOffsetMs = 0;
/** The process clock, shifted by clockOffsetMs: what `new Date()` and `Date.now()` return. */
class ShiftedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + clockOffsetMs);
    else super(...(args as [string | number | Date]));
  }
  static override now(): number {
    return RealDate.now() + clockOffsetMs;
  }
}

/** A deterministic pseudo-random source, so a failing month can be replayed. */
function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

function money(amountMinor: bigint): { amountMinor: bigint; currency: string } {
  return { amountMinor, currency: 'CNY' };
}

function closingNet(row: SubjectBalance): bigint {
  const amount = row.closing?.amountMinor ?? 0n;
  return row.closingDirection === BalanceDirection.BALANCE_DIRECTION_CREDIT ? -amount : amount;
}

describe('ledger with the account service: a scripted month', function () {
  this.timeout(240_000);
  let database: TestDatabase;
  let account: RunningService;
  let ledger: RunningService;
  let accountClient: AccountServiceClient;
  let ledgerClient: LedgerServiceClient;

  before(async () => {
    // Start 32 days back so that every scripted date, and the day after it, is in the past.
    (globalThis as { Date: DateConstructor }).Date = ShiftedDate as unknown as DateConstructor;
    clockOffsetMs = -32 * DAY_MS;
    database = await createTestDatabase();
    const minter = await createTokenMinter();
    const prefix = testPrefix();
    const common = {
      GRPC_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      DATABASE_URL: database.url,
      NATS_URL: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
      NATS_PREFIX: prefix,
      AUTH_JWT_PUBLIC_KEY: minter.publicKeyPem,
      AUTH_JWT_ISSUER: minter.issuer,
      AUTH_JWT_AUDIENCE: minter.audience,
      SHUTDOWN_GRACE_MS: '1000',
    };
    const longLived = { expiresInSeconds: 90 * 24 * 3_600 };
    account = await runService(accountSpec, {
      handleSignals: false,
      logger: createLogger({ service: 'account', level: 'warn' }),
      env: {
        ...common,
        SERVICE_NAME: 'account',
        GRPC_PORT: String(await freePort()),
        ACCOUNT_FLUSH_TICK_MS: '5',
      },
    });
    await account.ready;
    const accountAddress = `127.0.0.1:${account.grpcPort}`;
    const ledgerToAccount = await minter.mint({ sub: 'ledger', scopes: ['account:read'], ...longLived });
    ledger = await runService(ledgerSpec(), {
      handleSignals: false,
      logger: createLogger({ service: 'ledger', level: 'warn' }),
      env: {
        ...common,
        SERVICE_NAME: 'ledger',
        GRPC_PORT: String(await freePort()),
        ACCOUNT_ADDRESS: accountAddress,
        ACCOUNT_CLIENT_TOKEN: ledgerToAccount,
      },
    });
    await ledger.ready;
    const accountToken = await minter.mint({
      sub: 'month-script',
      scopes: ['account:read', 'account:write', 'account:admin'],
      ...longLived,
    });
    const ledgerToken = await minter.mint({
      sub: 'ops-month',
      scopes: ['ledger:read', 'ledger:adjust', 'ledger:admin'],
      ...longLived,
    });
    accountClient = createClient(AccountServiceClient, {
      address: accountAddress,
      token: () => accountToken,
      defaultDeadlineMs: 10_000,
    });
    ledgerClient = createClient(LedgerServiceClient, {
      address: `127.0.0.1:${ledger.grpcPort}`,
      token: () => ledgerToken,
      defaultDeadlineMs: 10_000,
    });
  });

  after(async () => {
    accountClient.close();
    ledgerClient.close();
    await ledger.stop();
    await account.stop();
    (globalThis as { Date: DateConstructor }).Date = RealDate;
    clockOffsetMs = 0;
    await database.drop();
  });

  it('seals and closes every day; the trial balance holds and roll-ups add up', async () => {
    let requestCounter = 0;
    const rid = (what: string): string => `${what}-${++requestCounter}`;
    const open = async (
      ownerType: OwnerType,
      ownerId: string,
      subjectCode: string,
      normalSide: Side,
    ): Promise<string> => {
      const res = await unary(accountClient.openAccount.bind(accountClient), {
        requestId: rid('open'),
        bizContext: { code: CODES.transfer },
        ownerType,
        ownerId,
        subjectCode,
        currency: 'CNY',
        normalSide,
        allowOverdraft: true,
      });
      return res.account?.accountId ?? '';
    };
    const a = {
      bank: await open(OwnerType.OWNER_TYPE_INTERNAL, 'platform', '100201', Side.SIDE_DEBIT),
      clearing: await open(OwnerType.OWNER_TYPE_INTERNAL, 'platform', '122101', Side.SIDE_DEBIT),
      customer: await open(OwnerType.OWNER_TYPE_CUSTOMER, 'c-1', '224101', Side.SIDE_CREDIT),
      merchant: await open(OwnerType.OWNER_TYPE_MERCHANT, 'm-1', '224102', Side.SIDE_CREDIT),
      fees: await open(OwnerType.OWNER_TYPE_INTERNAL, 'platform', '605101', Side.SIDE_CREDIT),
      marketing: await open(OwnerType.OWNER_TYPE_INTERNAL, 'platform', '660101', Side.SIDE_DEBIT),
    };
    const leg = (accountId: string, side: Side, amountMinor: bigint): TransferLeg => ({
      accountId,
      side,
      amount: money(amountMinor),
    });
    const transfer = async (
      code: string,
      debit: string,
      credit: string,
      amountMinor: bigint,
    ): Promise<string> => {
      const res = await unary(accountClient.transfer.bind(accountClient), {
        requestId: rid('t'),
        bizContext: { code },
        legs: [leg(debit, Side.SIDE_DEBIT, amountMinor), leg(credit, Side.SIDE_CREDIT, amountMinor)],
        memo: '',
      });
      return res.transfer?.accountingDate ?? '';
    };

    const random = lcg(20_260_301);
    const amount = (max: number): bigint => BigInt(1 + Math.floor(random() * max));
    let lastClosed = '';
    const closedDates: string[] = [];
    for (let day = 0; day < DAYS; day++) {
      const dates = new Set<string>();
      dates.add(await transfer(CODES.pay, a.clearing, a.merchant, amount(500_000)));
      dates.add(await transfer(CODES.topUp, a.clearing, a.customer, amount(200_000)));
      dates.add(await transfer(CODES.transfer, a.customer, a.merchant, amount(50_000)));
      dates.add(await transfer(CODES.refund, a.merchant, a.clearing, amount(20_000)));
      dates.add(await transfer(CODES.fee, a.merchant, a.fees, amount(3_000)));
      if (day % 3 === 0) dates.add(await transfer(CODES.pay, a.marketing, a.customer, amount(1_000)));
      if (day % 7 === 6) dates.add(await transfer(CODES.transfer, a.bank, a.clearing, amount(900_000)));
      expect(dates.size, 'all postings of a day share one accounting date').to.equal(1);
      const [date = ''] = [...dates];
      const adjustment = amount(100);
      await unary(ledgerClient.postManualVoucher.bind(ledgerClient), {
        requestId: rid('adj'),
        bizContext: { code: CODES.adjust },
        accountingDate: date,
        reason: `day ${day}: write off suspense short`,
        lines: [
          { subjectCode: '671101', side: EntrySide.ENTRY_SIDE_DEBIT, amount: money(adjustment) },
          { subjectCode: '4103', side: EntrySide.ENTRY_SIDE_CREDIT, amount: money(adjustment) },
        ],
      });

      // The day ends: the clock passes midnight, account seals, the ledger closes.
      clockOffsetMs += DAY_MS;
      await unary(accountClient.sealDay.bind(accountClient), {
        requestId: rid('seal'),
        bizContext: { code: CODES.adjust },
        accountingDate: date,
      });
      let closed = false;
      for (let attempt = 0; attempt < 200 && !closed; attempt++) {
        try {
          await unary(ledgerClient.closeDay.bind(ledgerClient), {
            requestId: rid('close'),
            bizContext: { code: CODES.adjust },
            accountingDate: date,
          });
          closed = true;
        } catch (err) {
          // The ledger has not consumed account's day_sealed yet; anything else is a failure.
          const reason = decodeStatusDetails(err as { code?: number }).errorInfo?.reason;
          if (reason !== 'DAY_NOT_SEALED') throw err;
          await sleep(50);
        }
      }
      expect(closed, `day ${date} closed`).to.equal(true);
      lastClosed = date;
      closedDates.push(date);

      const trial = await unary(ledgerClient.getTrialBalance.bind(ledgerClient), { accountingDate: date });
      expect(trial.balanced, `trial balance of ${date}`).to.equal(true);
      expect(trial.provisional).to.equal(false);
      const leaves = (
        await unary(ledgerClient.getSubjectBalances.bind(ledgerClient), { accountingDate: date, level: 0 })
      ).balances;
      for (const level of [1, 2]) {
        const rows = (
          await unary(ledgerClient.getSubjectBalances.bind(ledgerClient), { accountingDate: date, level })
        ).balances;
        for (const row of rows) {
          const under = leaves.filter(
            (l) => l.subjectCode.startsWith(row.subjectCode) && l.currency === row.currency,
          );
          const sum = (f: (b: SubjectBalance) => bigint): bigint => under.reduce((s, l) => s + f(l), 0n);
          expect(closingNet(row), `${date} ${row.subjectCode} closing`).to.equal(sum(closingNet));
          expect(row.debitTotal?.amountMinor, `${date} ${row.subjectCode} debits`).to.equal(
            sum((b) => b.debitTotal?.amountMinor ?? 0n),
          );
          expect(row.creditTotal?.amountMinor, `${date} ${row.subjectCode} credits`).to.equal(
            sum((b) => b.creditTotal?.amountMinor ?? 0n),
          );
        }
      }
    }

    expect(new Set(closedDates).size, 'distinct closed dates').to.equal(DAYS);
    const report = await unary(ledgerClient.getCheckReport.bind(ledgerClient), {
      accountingDate: lastClosed,
    });
    expect(report.report?.differences).to.deep.equal([]);
    expect(report.report?.accountBalanceCount).to.equal(6n);
    // Account's balances of record equal the ledger's leaf closings after the last day.
    const last = (
      await unary(ledgerClient.getSubjectBalances.bind(ledgerClient), {
        accountingDate: lastClosed,
        level: 0,
      })
    ).balances;
    for (const [subjectCode, accountId] of [
      ['224102', a.merchant],
      ['122101', a.clearing],
      ['224101', a.customer],
    ] as const) {
      const res = await unary(accountClient.getBalance.bind(accountClient), { accountId, asOf: undefined });
      const row = last.find((r) => r.subjectCode === subjectCode);
      expect(row === undefined ? 0n : closingNet(row), subjectCode).to.equal(
        (subjectCode === '122101' ? 1n : -1n) * (res.balance?.total?.amountMinor ?? 0n),
      );
    }
  });
});
