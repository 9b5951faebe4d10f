/**
 * Settlement replicas die mid-batch. Every service is a real process
 * (platform.ts) and TWO settlement replicas pull from the one batch work
 * queue. For each scenario a fresh D0 merchant is paid through Alipay at the
 * sandbox, cleared, and settled on request; the replica that picks the batch
 * is held at a named point of its drive (SETTLEMENT_TEST_HOLD_FILE,
 * services/settlement/src/adapters/test-hold.ts) and killed there with
 * SIGKILL. The other replica gets the batch after the ack wait and finishes
 * it. Proves, per kill point:
 *   - the batch completes exactly once: one batch for the merchant and day,
 *     PAID, with one payout attempt;
 *   - the payout is sent exactly once: the sandbox's bank holds exactly one
 *     payout to the merchant's bank account, of the batch's amount;
 *   - postings are not doubled: account holds exactly the settlement
 *     posting and one payout transfer for the batch, the merchant's pending
 *     settlement is empty and its payable is back to zero.
 * The killed replica is started again before the next scenario, so two are
 * always on the queue. Kill points: a seeded choice (SETTLEMENT_CRASH_SEED,
 * printed) of SETTLEMENT_CRASH_KILLS (default 3) of the five points.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { unary } from '@paycore/platform';
import { PartKind } from '@paycore/proto/paycore/cashier/v1/cashier_service';
import { BatchState, CycleKind } from '@paycore/proto/paycore/settlement/v1/settlement_service';
import { HOLD_POINTS, type HoldPoint } from '../../services/settlement/src/adapters/test-hold';
import { payAtSandbox, startPlatform, waitFor, type Platform } from './platform';
import { chinaToday, createOrder, pay, part, registerMerchant, uid } from './helpers';

const SEED = Number(process.env['SETTLEMENT_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = Math.min(HOLD_POINTS.length, Number(process.env['SETTLEMENT_CRASH_KILLS'] ?? 3));
const REPLICAS = ['settlement', 'settlement-2'] as const;
const AMOUNT_MINOR = 10_000n;

/** A seeded choice of KILLS distinct points, in a seeded order (fast-check's shuffled subarray). */
function killPoints(): HoldPoint[] {
  const [points] = fc.sample(fc.shuffledSubarray([...HOLD_POINTS], { minLength: KILLS, maxLength: KILLS }), {
    seed: SEED,
    numRuns: 1,
  });
  return points ?? [];
}

interface SandboxPayout {
  readonly out_payout_no: string;
  readonly amount: string;
  readonly status: string;
  readonly requests: number;
}

async function payoutsAtBank(p: Platform, accountNo: string): Promise<SandboxPayout[]> {
  const res = await fetch(`${p.sandboxUrl}/sandbox/payouts?account_no=${accountNo}`);
  return ((await res.json()) as { payouts: SandboxPayout[] }).payouts;
}

describe('settlement: SIGKILL of a replica mid-batch, two replicas on the work queue', function () {
  this.timeout(900_000);
  const holdDir = mkdtempSync(path.join(tmpdir(), 'settle-hold-'));
  const holdFile = path.join(holdDir, 'point');
  const points = killPoints();
  let p: Platform;
  let victim: string | undefined;

  before(async () => {
    process.stdout.write(
      `    kill points ${points.join(', ')} (SETTLEMENT_CRASH_SEED=${SEED} SETTLEMENT_CRASH_KILLS=${KILLS})\n`,
    );
    writeFileSync(holdFile, '');
    p = await startPlatform({}, { SETTLEMENT_TEST_HOLD_FILE: holdFile }, { settlementReplicas: 2 });
  });
  afterEach(async () => {
    // Two replicas on the queue again for the next scenario, whatever became of this one.
    writeFileSync(holdFile, '');
    if (victim !== undefined && p.process(victim).hasExited()) await p.restart(victim);
    victim = undefined;
  });
  after(async () => {
    await p?.close();
    rmSync(holdDir, { recursive: true, force: true });
  });

  /** A D0 merchant with one cleared Alipay payment; returns its id and bank account number. */
  /** Settlement's API on a replica that is up. */
  const live = () => {
    const name = REPLICAS.find((r) => !p.process(r).hasExited()) ?? 'settlement';
    return p.settlementReplica(name);
  };

  async function paidMerchant(n: number): Promise<{ merchantId: string; accountNo: string }> {
    const merchantId = await registerMerchant(p);
    await waitFor(
      'merchant known to settlement',
      async () => {
        const rows = await p.query('SELECT 1 FROM settlement.merchants WHERE merchant_id = $1', [merchantId]);
        return rows.length === 1 ? true : undefined;
      },
      60_000,
    );
    const accountNo = `62220202${String(SEED % 100_000).padStart(5, '0')}${String(n).padStart(4, '0')}`;
    const settlement = live();
    await unary(settlement.setSettlementProfile.bind(settlement), {
      requestId: uid('prof'),
      profile: {
        merchantId,
        cycle: CycleKind.CYCLE_KIND_D0,
        offsetDays: 0,
        anchorDay: 0,
        minimumPayoutMinor: 0n,
        holdUnconfirmed: false,
        d0HoldRate: '0',
        autoShare: false,
        bankAccountNo: accountNo,
        bankAccountName: 'Crash Merchant Ltd',
        bankCode: 'ICBC',
      },
    });
    const created = await createOrder(p, merchantId, AMOUNT_MINOR, { notify: false });
    const paid = await pay(p, created.orderId, uid('payer'), [
      part(PartKind.PART_KIND_CHANNEL, AMOUNT_MINOR, { payChannel: '1001' }),
    ]);
    await payAtSandbox(p.sandboxUrl, 'alipay', paid.payment?.parts[0]?.channelTxnId ?? '');
    await waitFor(
      'payment cleared',
      async () => {
        const rows = await p.query("SELECT 1 FROM settlement.items WHERE order_id = $1 AND kind = 'PAY'", [
          created.orderId,
        ]);
        return rows.length === 1 ? true : undefined;
      },
      90_000,
    );
    return { merchantId, accountNo };
  }

  /** The replica that printed the hold line for `point` after `since` lines of each. */
  async function heldReplica(point: HoldPoint, since: ReadonlyMap<string, number>): Promise<string> {
    return waitFor(
      `a replica held at ${point}`,
      () => {
        for (const name of REPLICAS) {
          const lines = p.process(name).lines.slice(since.get(name) ?? 0);
          if (lines.some((l) => l.startsWith('settlement test hold:') && l.endsWith(` at ${point}`)))
            return Promise.resolve(name);
        }
        return Promise.resolve(undefined);
      },
      120_000,
    );
  }

  for (const [n, point] of points.entries()) {
    it(`kill at ${point}: the other replica finishes the batch; one payout at the bank, postings once`, async () => {
      const { merchantId, accountNo } = await paidMerchant(n);
      const since = new Map(REPLICAS.map((name) => [name, p.process(name).lines.length]));
      writeFileSync(holdFile, point);
      const day = chinaToday();
      const api = live();
      const requested = await unary(api.requestSettlement.bind(api), {
        requestId: uid('req'),
        merchantId,
        settlementDate: day,
      });
      const batchId = requested.batch?.batchId ?? '';
      expect(batchId).to.not.equal('');

      victim = await heldReplica(point, since);
      const child = p.process(victim);
      child.kill('SIGKILL');
      await child.exited;
      process.stdout.write(`      ${victim} killed at ${point}\n`);
      writeFileSync(holdFile, '');

      const batch = await waitFor(
        'batch paid by the surviving replica',
        async () => {
          const survivor = live();
          const list = await unary(survivor.listBatches.bind(survivor), { merchantId });
          const b = list.batches.find((x) => x.batchId === batchId);
          return b?.state === BatchState.BATCH_STATE_PAID ? b : undefined;
        },
        180_000,
      );
      // The batch: one for the merchant and day, one payout attempt.
      const batches = await p.query<{ n: string; attempts: number }>(
        'SELECT count(*) OVER () AS n, payout_attempts AS attempts FROM settlement.batches WHERE merchant_id = $1',
        [merchantId],
      );
      expect(batches.map((b) => [b.n, b.attempts])).to.deep.equal([['1', 1]]);
      expect(batch.payoutMinor > 0n).to.equal(true);

      // The payout: exactly one at the bank for the merchant's account, of the batch's amount.
      const atBank = await payoutsAtBank(p, accountNo);
      expect(atBank.map((x) => ({ amount: x.amount, status: x.status }))).to.deep.equal([
        { amount: batch.payoutMinor.toString(), status: 'SUCCESS' },
      ]);
      const routed = await p.query<{ n: string }>(
        "SELECT count(*) AS n FROM channel.transactions WHERE kind = 'PAYOUT' AND payee::text LIKE $1",
        [`%${accountNo}%`],
      );
      expect(routed[0]?.n).to.equal('1');

      // The postings: the settlement posting and one payout transfer, each once.
      const transfers = await p.query<{ memo: string }>(
        'SELECT memo FROM account.transfers WHERE memo LIKE $1 ORDER BY memo',
        [`%${batchId}%`],
      );
      expect(transfers.map((t) => t.memo)).to.deep.equal([
        `payout ${batchId}:1`,
        `settlement batch ${batchId}`,
      ]);
      const payable = await p.query<{ balance: string; entries: string }>(
        `SELECT (a.available + a.frozen)::text AS balance,
           (SELECT count(*) FROM account.entries e WHERE e.account_id = a.id)::text AS entries
         FROM account.accounts a WHERE a.owner_type = 'MERCHANT' AND a.owner_id = $1 AND a.subject_code = '224103'`,
        [merchantId],
      );
      // Payable: in once by the posting, out once by the payout.
      expect(payable).to.deep.equal([{ balance: '0', entries: '2' }]);
      // Pending settlement: credited by the payment, emptied once by the batch.
      const merchant = await unary(p.cashier.getMerchant.bind(p.cashier), { merchantId });
      expect(merchant.settlementBalance?.amountMinor).to.equal(0n);
    });
  }
});
