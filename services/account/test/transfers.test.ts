/**
 * Proves atomic transfers under concurrency on real Postgres (must-show 1):
 * 20,000 random transfers from 32 concurrent clients over 200 accounts, with
 * random overdraft attempts, through the batcher. Afterwards every invariant
 * holds (no negative non-overdraft balance, continuous seq and balance_after
 * chains, balances equal the last entry, each transfer balanced, and per
 * currency the debit-normal balances equal the credit-normal ones), every
 * acknowledged transfer is in the journal, every refused one left nothing, and
 * the outbox holds exactly one transfer_posted event per transfer. Also proves
 * idempotent replay and IDEMPOTENCY_KEY_REUSED.
 */
import { expect } from 'chai';
import { TransferPosted } from '@paycore/proto/paycore/account/v1/events';
import {
  BIZ_TRANSFER,
  invariantViolations,
  openAccount,
  reasonOf,
  rid,
  startHarness,
  type Harness,
} from './harness';
import { opposite, type Side } from '@paycore/money';
import type { Leg } from '../src/domain/types';

describe('account transfers (Postgres)', function () {
  this.timeout(240_000);
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('replays a request, refuses a reused key with another payload', async () => {
    const bank = await openAccount(h, 'DEBIT', { allowOverdraft: true });
    const customer = await openAccount(h, 'CREDIT');
    const legs: Leg[] = [
      { accountId: bank, side: 'DEBIT', amountMinor: 1000n, currency: 'CNY' },
      { accountId: customer, side: 'CREDIT', amountMinor: 1000n, currency: 'CNY' },
    ];
    const requestId = rid('t');
    const first = await h.service.transfer({ requestId, bizCode: BIZ_TRANSFER, legs });
    const again = await h.service.transfer({ requestId, bizCode: BIZ_TRANSFER, legs });
    expect(again.transferId).to.equal(first.transferId);
    expect(again.legs.map((l) => l.entrySeq)).to.deep.equal([1n, 1n]);
    const other = legs.map((l) => ({ ...l, amountMinor: 999n }));
    expect(await reasonOf(h.service.transfer({ requestId, bizCode: BIZ_TRANSFER, legs: other }))).to.equal(
      'IDEMPOTENCY_KEY_REUSED',
    );
    // Concurrent duplicates in one batch get one transfer.
    const dup = rid('dup');
    const answers = await Promise.all(
      [1, 2, 3].map(() => h.service.transfer({ requestId: dup, bizCode: BIZ_TRANSFER, legs })),
    );
    expect(new Set(answers.map((a) => a.transferId)).size).to.equal(1);
    expect((await h.service.getAccount(customer)).available).to.equal(2000n);
  });

  it('20,000 random transfers, 32 clients, 200 accounts: every invariant holds', async () => {
    const debitNormal = await Promise.all(
      Array.from({ length: 20 }, (_, i) => openAccount(h, 'DEBIT', { allowOverdraft: i < 5 })),
    );
    const creditNormal = await Promise.all(
      Array.from({ length: 180 }, (_, i) => openAccount(h, 'CREDIT', { allowOverdraft: i < 5 })),
    );
    const all = [...debitNormal, ...creditNormal];
    // Seed: Dr each debit-normal overdraft account / Cr every credit-normal account.
    for (const [i, account] of creditNormal.entries()) {
      await h.service.transfer({
        requestId: rid('seed'),
        bizCode: BIZ_TRANSFER,
        legs: [
          { accountId: debitNormal[i % 5] ?? '', side: 'DEBIT', amountMinor: 50_000n, currency: 'CNY' },
          { accountId: account, side: 'CREDIT', amountMinor: 50_000n, currency: 'CNY' },
        ],
      });
    }
    const total = 20_000;
    const clients = 32;
    let next = 0;
    const accepted: string[] = [];
    const refused = new Map<string, number>();
    const random = (n: number): number => Math.floor(Math.random() * n);
    const client = async (): Promise<void> => {
      for (;;) {
        const n = next++;
        if (n >= total) return;
        const a = all[random(all.length)] ?? '';
        let b = all[random(all.length)] ?? '';
        if (a === b) b = all[(all.indexOf(a) + 1) % all.length] ?? '';
        // Mostly small amounts; one in ten tries to move more than anyone holds.
        const amountMinor = random(10) === 0 ? 10_000_000n : BigInt(1 + random(2_000));
        const side: Side = random(2) === 0 ? 'DEBIT' : 'CREDIT';
        const requestId = `load-${n}`;
        try {
          await h.service.transfer({
            requestId,
            bizCode: BIZ_TRANSFER,
            legs: [
              { accountId: a, side, amountMinor, currency: 'CNY' },
              { accountId: b, side: opposite(side), amountMinor, currency: 'CNY' },
            ],
          });
          accepted.push(requestId);
        } catch (err) {
          const reason = (err as { reason?: string }).reason ?? String(err);
          refused.set(reason, (refused.get(reason) ?? 0) + 1);
        }
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: clients }, () => client()));
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `      ${total} transfers in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s); refused: ${JSON.stringify([...refused])}`,
    );
    expect([...refused.keys()]).to.deep.equal(refused.size === 0 ? [] : ['INSUFFICIENT_BALANCE']);
    expect(accepted.length + (refused.get('INSUFFICIENT_BALANCE') ?? 0)).to.equal(total);
    expect(refused.get('INSUFFICIENT_BALANCE') ?? 0).to.be.greaterThan(0);

    expect(await invariantViolations(h)).to.deep.equal([]);
    const stored = await h.dataSource.query<{ request_id: string }[]>(
      `SELECT request_id FROM transfers WHERE request_id LIKE 'load-%'`,
    );
    expect(new Set(stored.map((r) => r.request_id))).to.deep.equal(new Set(accepted));
    // Exactly one transfer_posted event per transfer, naming it.
    const events = await h.dataSource.query<
      {
        payload: Buffer;
      }[]
    >(`SELECT payload FROM outbox WHERE subject = 'paycore.account.transfer_posted.v1'`);
    const transferIds = await h.dataSource.query<{ id: string }[]>('SELECT id FROM transfers');
    const eventTransferIds = events.map((e) => TransferPosted.decode(e.payload).transferId);
    expect(eventTransferIds.length).to.equal(transferIds.length);
    expect(new Set(eventTransferIds)).to.deep.equal(new Set(transferIds.map((t) => t.id)));
  });
});
