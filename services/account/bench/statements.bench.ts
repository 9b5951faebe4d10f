/**
 * SQL statements per Transfer (a benchmark, not a test): runs the account
 * service in-process on a fresh database and counts the statements its pg
 * driver sent (BEGIN and COMMIT included) for
 *   single       transfers one after another (each its own batch of one)
 *   batched      concurrent transfers over 40 accounts (the batcher groups them)
 *   hot-buffered concurrent credits to one BUFFERED account, then one flush
 *   replay       the single transfers sent again under their request ids
 *   two-phase    try + confirm, one after another
 * The background workers tick once an hour here, so only the measured calls
 * are counted. Prints one JSON line per scenario.
 * Env: BENCH_TRANSFERS (default 400).
 */
import { dbStatementsSent } from '@paycore/platform';
import { BIZ_TRANSFER, openAccount, rid, startHarness, type Harness } from '../test/harness';
import type { Leg } from '../src/domain/types';

const TRANSFERS = Number(process.env['BENCH_TRANSFERS'] ?? '400');
const SEQUENTIAL = 40;
const HOUR_MS = 3_600_000;

function pair(from: string, to: string, amountMinor: bigint): Leg[] {
  return [
    { accountId: from, side: 'DEBIT', amountMinor, currency: 'CNY' },
    { accountId: to, side: 'CREDIT', amountMinor, currency: 'CNY' },
  ];
}

async function counted(name: string, operations: number, work: () => Promise<unknown>): Promise<void> {
  const before = dbStatementsSent();
  await work();
  const statements = dbStatementsSent() - before;
  console.log(
    JSON.stringify({
      scenario: name,
      operations,
      statements,
      statements_per_operation: Number((statements / operations).toFixed(3)),
    }),
  );
}

async function main(): Promise<void> {
  const h: Harness = await startHarness({ flushTickMs: HOUR_MS, expiryTickMs: HOUR_MS });
  try {
    const bank = await openAccount(h, 'DEBIT', { allowOverdraft: true });
    const wallets: string[] = [];
    for (let i = 0; i < 40; i++) wallets.push(await openAccount(h, 'CREDIT'));
    const hot = await openAccount(h, 'CREDIT', { ownerId: 'hot' });
    await h.service.setPostingMode({
      requestId: rid('mode'),
      bizCode: BIZ_TRANSFER,
      accountId: hot,
      postingMode: 'BUFFERED',
    });
    const singles = Array.from({ length: SEQUENTIAL }, (_, i) => ({
      requestId: rid('single'),
      bizCode: BIZ_TRANSFER,
      legs: pair(bank, wallets[i % wallets.length] ?? bank, 1n),
    }));
    await counted('single', SEQUENTIAL, async () => {
      for (const request of singles) await h.service.transfer(request);
    });
    await counted('batched', TRANSFERS, () =>
      Promise.all(
        Array.from({ length: TRANSFERS }, (_, i) =>
          h.service.transfer({
            requestId: rid('batch'),
            bizCode: BIZ_TRANSFER,
            legs: pair(bank, wallets[i % wallets.length] ?? bank, 1n),
          }),
        ),
      ),
    );
    await counted('hot-buffered', TRANSFERS, async () => {
      await Promise.all(
        Array.from({ length: TRANSFERS }, () =>
          h.service.transfer({ requestId: rid('hot'), bizCode: BIZ_TRANSFER, legs: pair(bank, hot, 1n) }),
        ),
      );
      await h.service.flushNow();
    });
    await counted('replay', SEQUENTIAL, async () => {
      for (const request of singles) await h.service.transfer(request);
    });
    await counted('two-phase', SEQUENTIAL, async () => {
      for (let i = 0; i < SEQUENTIAL; i++) {
        const pendingId = rid('pending');
        const legs = pair(bank, wallets[i % wallets.length] ?? bank, 1n);
        await h.service.tryTransfer({
          requestId: rid('try'),
          bizCode: BIZ_TRANSFER,
          pendingId,
          legs,
          timeoutMs: HOUR_MS,
        });
        await h.service.confirmTransfer({
          requestId: rid('confirm'),
          bizCode: BIZ_TRANSFER,
          pendingId,
          legs: [],
        });
      }
    });
  } finally {
    await h.close();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
