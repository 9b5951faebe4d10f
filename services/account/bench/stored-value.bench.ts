/**
 * Stored-value consumption over gRPC beside the plain balance transfer, in
 * the same run on the same process (a benchmark, not a test).
 *
 * Starts the account service as a real process on a fresh database. Each of
 * N clients owns one member with five lots of two coins, each lot with its
 * own expiry and price, so every Consume of 10 coins spans five lots (five
 * lot rows locked and moved, five draws, five movements). A RefundConsumption
 * of the 10 coins follows each Consume, returning them to the same lots, so
 * the cycle can repeat; its latency is reported on its own line. Then the
 * same clients drive Transfer between random pairs of 2·N accounts for the
 * same time. Prints a table and one JSON line per operation.
 * Env: BENCH_CLIENTS (default 16), BENCH_SECONDS (default 5).
 */
import { unary } from '@paycore/platform';
import { OwnerType, Side } from '@paycore/proto/paycore/account/v1/account_service';
import { StoredValueServiceClient } from '@paycore/proto/paycore/account/v1/stored_value_service';
import { createClient } from '@paycore/platform';
import { createTestDatabase, deleteTestStreams, testPrefix } from '@paycore/testing';
import { clientFor, createTokenMinter, startServiceProcess } from '../test/process';

const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? '16');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? '5');
const LOTS_PER_CONSUMPTION = 5;
const BIZ_TOP_UP = { code: '10030103030000000000' };
const BIZ_CONSUME = { code: '10030103070003000000' };
const BIZ_TRANSFER = { code: '10010102050000000000' };
const DAY_MS = 86_400_000;

interface Figures {
  operation: string;
  clients: number;
  count: number;
  per_s: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function figures(operation: string, latencies: number[], errors: number, seconds: number): Figures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    operation,
    clients: CLIENTS,
    count: sorted.length,
    per_s: Math.round(sorted.length / seconds),
    p50_ms: Number(percentile(sorted, 50).toFixed(2)),
    p99_ms: Number(percentile(sorted, 99).toFixed(2)),
    errors,
  };
}

async function timed<T>(latencies: number[], call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const answer = await call();
  latencies.push(performance.now() - started);
  return answer;
}

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const minter = await createTokenMinter();
  const prefix = testPrefix();
  const service = await startServiceProcess(db.url, minter, { DATABASE_POOL_SIZE_MAX: '16' }, prefix);
  const accounts = await clientFor(service.address, minter);
  const token = await minter.mint({
    sub: 'bench',
    scopes: ['account:read', 'account:write'],
    expiresInSeconds: 3600,
  });
  const sv = createClient(StoredValueServiceClient, {
    address: service.address,
    token: () => token,
    defaultDeadlineMs: 30_000,
    retry: { maxAttempts: 1, initialBackoffMs: 100, maxBackoffMs: 100 },
  });
  try {
    const open = async (i: number, side: Side): Promise<string> => {
      const res = await unary(accounts.openAccount.bind(accounts), {
        requestId: `open-${i}`,
        bizContext: BIZ_TRANSFER,
        ownerType: OwnerType.OWNER_TYPE_INTERNAL,
        ownerId: `bench-${i}`,
        subjectCode: side === Side.SIDE_DEBIT ? '100201' : '224101',
        currency: 'CNY',
        normalSide: side,
        allowOverdraft: true,
      });
      return res.account?.accountId ?? '';
    };
    const bank = await open(0, Side.SIDE_DEBIT);
    const wallets = await Promise.all(
      Array.from({ length: 2 * CLIENTS }, (_, i) => open(i + 1, Side.SIDE_CREDIT)),
    );
    // Five lots per member: different expiries and prices, two coins each.
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let lot = 0; lot < LOTS_PER_CONSUMPTION; lot++) {
          await unary(sv.purchase.bind(sv), {
            requestId: `buy-${client}-${lot}`,
            bizContext: BIZ_TOP_UP,
            contractId: `K-${client}-${lot}`,
            ownerId: `member-${client}`,
            asset: 'ADCOIN',
            quantity: 2n,
            paid: { amountMinor: 101n + BigInt(lot), currency: 'CNY' },
            promotionalQuantity: 0n,
            consumptionType: '',
            effectiveTime: undefined,
            expireTime: new Date(Date.now() + (30 + lot) * DAY_MS),
            fundingAccountId: bank,
          });
        }
      }),
    );
    const consumes: number[] = [];
    const refunds: number[] = [];
    let svErrors = 0;
    let spanChecked = false;
    const svUntil = performance.now() + SECONDS * 1000;
    const svStart = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let round = 0; performance.now() < svUntil; round++) {
          const consumptionId = `c-${client}-${round}`;
          try {
            const consumed = await timed(consumes, () =>
              unary(sv.consume.bind(sv), {
                requestId: `consume-${client}-${round}`,
                bizContext: BIZ_CONSUME,
                consumptionId,
                ownerId: `member-${client}`,
                asset: 'ADCOIN',
                consumptionType: 'LISTING_BOOST',
                quantity: 2n * BigInt(LOTS_PER_CONSUMPTION),
              }),
            );
            if (!spanChecked && consumed.consumption?.draws.length !== LOTS_PER_CONSUMPTION)
              throw new Error('a consumption did not span five lots');
            spanChecked = true;
            await timed(refunds, () =>
              unary(sv.refundConsumption.bind(sv), {
                requestId: `refund-${client}-${round}`,
                bizContext: BIZ_CONSUME,
                consumptionId,
                quantity: 2n * BigInt(LOTS_PER_CONSUMPTION),
              }),
            );
          } catch (error) {
            svErrors++;
            if (svErrors === 1) console.error('stored-value error', error);
          }
        }
      }),
    );
    const svSeconds = (performance.now() - svStart) / 1000;
    const transfers: number[] = [];
    let transferErrors = 0;
    const tUntil = performance.now() + SECONDS * 1000;
    const tStart = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let round = 0; performance.now() < tUntil; round++) {
          const from = wallets[(client * 2 + round) % wallets.length] ?? '';
          const to = wallets[(client * 2 + round + 1) % wallets.length] ?? '';
          try {
            await timed(transfers, () =>
              unary(accounts.transfer.bind(accounts), {
                requestId: `t-${client}-${round}`,
                bizContext: BIZ_TRANSFER,
                memo: '',
                legs: [
                  { accountId: from, side: Side.SIDE_DEBIT, amount: { amountMinor: 1n, currency: 'CNY' } },
                  { accountId: to, side: Side.SIDE_CREDIT, amount: { amountMinor: 1n, currency: 'CNY' } },
                ],
              }),
            );
          } catch {
            transferErrors++;
          }
        }
      }),
    );
    const tSeconds = (performance.now() - tStart) / 1000;
    const rows = [
      figures(`Consume spanning ${LOTS_PER_CONSUMPTION} lots`, consumes, svErrors, svSeconds),
      figures(`RefundConsumption of the same (between consumes)`, refunds, 0, svSeconds),
      figures('Transfer (balance, 2 legs)', transfers, transferErrors, tSeconds),
    ];
    console.table(rows);
    for (const row of rows) console.log(JSON.stringify({ bench: 'stored-value', ...row }));
  } finally {
    sv.close();
    accounts.close();
    service.child.kill('SIGTERM');
    await service.child.exited;
    await deleteTestStreams(); // a benchmark, like a test, leaves no NATS streams behind
    await db.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
