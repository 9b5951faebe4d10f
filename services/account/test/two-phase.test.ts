/**
 * Proves two-phase transfers on real Postgres (must-show 3): try / confirm,
 * partial confirm, cancel, timeout, cancel-before-try (hanging protection) and
 * duplicate confirm, asserting available, frozen and total balances of both
 * sides after each step; and the events each resolution writes.
 */
import { expect } from 'chai';
import {
  BIZ_TRANSFER,
  invariantViolations,
  openAccount,
  reasonOf,
  rid,
  startHarness,
  type Harness,
} from './harness';
import type { Leg } from '../src/domain/types';

describe('two-phase transfers (Postgres)', function () {
  this.timeout(60_000);
  let h: Harness;
  let bank: string;
  let customer: string;
  let merchant: string;

  before(async () => {
    h = await startHarness({ expiryTickMs: 10 });
    bank = await openAccount(h, 'DEBIT', { allowOverdraft: true });
    customer = await openAccount(h, 'CREDIT');
    merchant = await openAccount(h, 'CREDIT', { subjectCode: '224102' });
    await h.service.transfer({
      requestId: rid('seed'),
      bizCode: BIZ_TRANSFER,
      legs: [
        { accountId: bank, side: 'DEBIT', amountMinor: 1_000n, currency: 'CNY' },
        { accountId: customer, side: 'CREDIT', amountMinor: 1_000n, currency: 'CNY' },
      ],
    });
  });
  after(async () => {
    expect(await invariantViolations(h)).to.deep.equal([]);
    await h.close();
  });

  const pay = (amountMinor: bigint): Leg[] => [
    { accountId: customer, side: 'DEBIT', amountMinor, currency: 'CNY' },
    { accountId: merchant, side: 'CREDIT', amountMinor, currency: 'CNY' },
  ];
  const balances = async (id: string): Promise<[bigint, bigint]> => {
    const a = await h.service.getAccount(id);
    return [a.available, a.frozen];
  };
  const tryPay = (
    pendingId: string,
    amountMinor: bigint,
    timeoutMs = 60_000,
  ): ReturnType<Harness['service']['tryTransfer']> =>
    h.service.tryTransfer({
      requestId: rid('try'),
      bizCode: BIZ_TRANSFER,
      pendingId,
      legs: pay(amountMinor),
      timeoutMs,
    });

  it('try freezes the debit; confirm posts it; a duplicate confirm returns the first result', async () => {
    const tried = await tryPay('p-confirm', 300n);
    expect(tried.state).to.equal('TRIED');
    expect(await balances(customer)).to.deep.equal([700n, 300n]);
    expect(await balances(merchant)).to.deep.equal([0n, 0n]);
    const confirmed = await h.service.confirmTransfer({
      requestId: rid('c'),
      bizCode: BIZ_TRANSFER,
      pendingId: 'p-confirm',
      legs: [],
    });
    expect(confirmed.state).to.equal('CONFIRMED');
    expect(await balances(customer)).to.deep.equal([700n, 0n]);
    expect(await balances(merchant)).to.deep.equal([300n, 0n]);
    const again = await h.service.confirmTransfer({
      requestId: rid('c'),
      bizCode: BIZ_TRANSFER,
      pendingId: 'p-confirm',
      legs: [],
    });
    expect(again.posted?.transferId).to.equal(confirmed.posted?.transferId);
    expect(await balances(customer)).to.deep.equal([700n, 0n]);
    expect(
      await reasonOf(
        h.service.cancelTransfer({ requestId: rid('x'), bizCode: BIZ_TRANSFER, pendingId: 'p-confirm' }),
      ),
    ).to.equal('TRANSFER_ALREADY_RESOLVED');
  });

  it('partial confirm posts the smaller amount and releases the rest', async () => {
    await tryPay('p-partial', 200n);
    expect(await balances(customer)).to.deep.equal([500n, 200n]);
    const confirmed = await h.service.confirmTransfer({
      requestId: rid('c'),
      bizCode: BIZ_TRANSFER,
      pendingId: 'p-partial',
      legs: pay(150n),
    });
    expect(confirmed.posted?.legs.map((l) => l.amountMinor)).to.deep.equal([150n, 150n]);
    expect(await balances(customer)).to.deep.equal([550n, 0n]);
    expect(await balances(merchant)).to.deep.equal([450n, 0n]);
    await tryPay('p-over', 10n);
    expect(
      await reasonOf(
        h.service.confirmTransfer({
          requestId: rid('c'),
          bizCode: BIZ_TRANSFER,
          pendingId: 'p-over',
          legs: pay(11n),
        }),
      ),
    ).to.equal('CONFIRM_EXCEEDS_TRY');
    await h.service.cancelTransfer({ requestId: rid('x'), bizCode: BIZ_TRANSFER, pendingId: 'p-over' });
  });

  it('cancel releases the hold; confirm after cancel is refused', async () => {
    await tryPay('p-cancel', 100n);
    expect(await balances(customer)).to.deep.equal([450n, 100n]);
    const cancelled = await h.service.cancelTransfer({
      requestId: rid('x'),
      bizCode: BIZ_TRANSFER,
      pendingId: 'p-cancel',
    });
    expect(cancelled.state).to.equal('CANCELLED');
    expect(await balances(customer)).to.deep.equal([550n, 0n]);
    expect(
      await reasonOf(
        h.service.confirmTransfer({
          requestId: rid('c'),
          bizCode: BIZ_TRANSFER,
          pendingId: 'p-cancel',
          legs: [],
        }),
      ),
    ).to.equal('TRANSFER_ALREADY_RESOLVED');
    const voided = await h.dataSource.query<
      {
        n: number;
      }[]
    >(`SELECT count(*)::int n FROM outbox WHERE subject = 'paycore.account.transfer_voided.v1'`);
    expect(voided[0]?.n).to.be.greaterThan(0);
  });

  it('a try that times out is expired by the sweeper and its hold released', async () => {
    await tryPay('p-timeout', 50n, 30);
    expect(await balances(customer)).to.deep.equal([500n, 50n]);
    for (let i = 0; i < 200 && (await h.store.pendingView('p-timeout')).state === 'TRIED'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await h.store.pendingView('p-timeout')).state).to.equal('EXPIRED');
    expect(await balances(customer)).to.deep.equal([550n, 0n]);
    expect(
      await reasonOf(
        h.service.confirmTransfer({
          requestId: rid('c'),
          bizCode: BIZ_TRANSFER,
          pendingId: 'p-timeout',
          legs: [],
        }),
      ),
    ).to.equal('TRANSFER_ALREADY_RESOLVED');
  });

  it('cancel before try is an empty rollback; the late try is refused (hanging protection)', async () => {
    const empty = await h.service.cancelTransfer({
      requestId: rid('x'),
      bizCode: BIZ_TRANSFER,
      pendingId: 'p-hanging',
    });
    expect(empty.state).to.equal('CANCELLED_EMPTY');
    expect(await reasonOf(tryPay('p-hanging', 10n))).to.equal('TRY_AFTER_CANCEL');
    expect(await balances(customer)).to.deep.equal([550n, 0n]);
    // A repeated cancel answers the same.
    const again = await h.service.cancelTransfer({
      requestId: rid('x'),
      bizCode: BIZ_TRANSFER,
      pendingId: 'p-hanging',
    });
    expect(again.state).to.equal('CANCELLED_EMPTY');
  });

  it('a try beyond available is refused and holds nothing', async () => {
    expect(await reasonOf(tryPay('p-big', 551n))).to.equal('INSUFFICIENT_BALANCE');
    expect(await balances(customer)).to.deep.equal([550n, 0n]);
    expect(await reasonOf(h.store.pendingView('p-big'))).to.equal('PENDING_TRANSFER_NOT_FOUND');
  });
});
