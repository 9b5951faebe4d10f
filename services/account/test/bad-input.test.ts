/**
 * Proves that every kind of bad input gets its precise reason and leaves no
 * row behind (must-show 7): for each case the row counts of every table of
 * the schema (and every balance) are the same before and after the refusal.
 */
import { expect } from 'chai';
import { INT64_MAX } from '@paycore/money';
import { BIZ_TRANSFER, openAccount, reasonOf, rid, startHarness, type Harness } from './harness';
import type { Leg } from '../src/domain/types';

describe('bad input (Postgres)', function () {
  this.timeout(60_000);
  let h: Harness;
  let bank: string;
  let wallet: string;
  let closed: string;
  let frozen: string;
  let usd: string;

  before(async () => {
    h = await startHarness();
    bank = await openAccount(h, 'DEBIT', { allowOverdraft: true });
    wallet = await openAccount(h, 'CREDIT');
    closed = await openAccount(h, 'CREDIT');
    frozen = await openAccount(h, 'CREDIT');
    usd = await openAccount(h, 'CREDIT', { currency: 'USD' });
    await h.service.closeAccount({ requestId: rid('close'), bizCode: BIZ_TRANSFER, accountId: closed });
    await h.service.freeze({
      requestId: rid('frz'),
      bizCode: BIZ_TRANSFER,
      accountId: frozen,
      wholeAccount: true,
      amountMinor: 0n,
      currency: 'CNY',
      reason: 'court order',
    });
    await h.service.transfer({
      requestId: rid('seed'),
      bizCode: BIZ_TRANSFER,
      legs: [
        { accountId: bank, side: 'DEBIT', amountMinor: 100n, currency: 'CNY' },
        { accountId: wallet, side: 'CREDIT', amountMinor: 100n, currency: 'CNY' },
      ],
    });
  });
  after(async () => {
    await h.close();
  });

  async function snapshot(): Promise<string> {
    const tables = [
      'accounts',
      'entries',
      'transfers',
      'pending_transfers',
      'buffered_credits',
      'freezes',
      'idempotency_claims',
      'outbox',
      'sealed_days',
    ];
    const counts: string[] = [];
    for (const table of tables) {
      const found = await h.dataSource.query<{ n: string }[]>(`SELECT count(*)::text n FROM ${table}`);
      counts.push(`${table}=${found[0]?.n}`);
    }
    const balances = await h.dataSource.query<unknown[]>(
      'SELECT id, available::text, frozen::text, status, last_seq::text FROM accounts ORDER BY id',
    );
    return JSON.stringify([counts, balances]);
  }

  const pair = (from: string, to: string, amountMinor: bigint, currency = 'CNY'): Leg[] => [
    { accountId: from, side: 'DEBIT', amountMinor, currency },
    { accountId: to, side: 'CREDIT', amountMinor, currency },
  ];

  const cases: [string, string, () => Promise<unknown>][] = [
    [
      'unbalanced legs',
      'UNBALANCED_TRANSFER',
      () =>
        h.service.transfer({
          requestId: rid(),
          bizCode: BIZ_TRANSFER,
          legs: [
            { accountId: bank, side: 'DEBIT', amountMinor: 10n, currency: 'CNY' },
            { accountId: wallet, side: 'CREDIT', amountMinor: 9n, currency: 'CNY' },
          ],
        }),
    ],
    [
      'mixed currencies in one balance',
      'CURRENCY_MISMATCH',
      () => h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(bank, usd, 10n) }),
    ],
    [
      'zero amount',
      'AMOUNT_OUT_OF_RANGE',
      () => h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(bank, wallet, 0n) }),
    ],
    [
      'negative amount',
      'AMOUNT_OUT_OF_RANGE',
      () => h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(bank, wallet, -1n) }),
    ],
    [
      'amount beyond int64',
      'AMOUNT_OUT_OF_RANGE',
      () =>
        h.service.transfer({
          requestId: rid(),
          bizCode: BIZ_TRANSFER,
          legs: pair(bank, wallet, INT64_MAX + 1n),
        }),
    ],
    [
      'balance beyond int64',
      'AMOUNT_OUT_OF_RANGE',
      () =>
        h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(bank, wallet, INT64_MAX) }),
    ],
    [
      'unknown account',
      'ACCOUNT_NOT_FOUND',
      () =>
        h.service.transfer({
          requestId: rid(),
          bizCode: BIZ_TRANSFER,
          legs: pair(bank, '00000000-0000-4000-8000-000000000000', 1n),
        }),
    ],
    [
      'malformed account id',
      'ACCOUNT_NOT_FOUND',
      () => h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(bank, 'nope', 1n) }),
    ],
    [
      'closed account',
      'ACCOUNT_CLOSED',
      () => h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(bank, closed, 1n) }),
    ],
    [
      'frozen account',
      'ACCOUNT_FROZEN',
      () => h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(bank, frozen, 1n) }),
    ],
    [
      'insufficient balance',
      'INSUFFICIENT_BALANCE',
      () => h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(wallet, bank, 101n) }),
    ],
    [
      'unknown context code',
      'UNKNOWN_BIZ_CODE',
      () =>
        h.service.transfer({
          requestId: rid(),
          bizCode: '99999999999999999999',
          legs: pair(bank, wallet, 1n),
        }),
    ],
    [
      'malformed context code',
      'INVALID_BIZ_CODE',
      () => h.service.transfer({ requestId: rid(), bizCode: 'abc', legs: pair(bank, wallet, 1n) }),
    ],
    [
      'duplicate account',
      'DUPLICATE_ACCOUNT',
      () => h.service.transfer({ requestId: rid(), bizCode: BIZ_TRANSFER, legs: pair(bank, bank, 1n) }),
    ],
    [
      'empty request id',
      'INVALID_FIELD',
      () => h.service.transfer({ requestId: '', bizCode: BIZ_TRANSFER, legs: pair(bank, wallet, 1n) }),
    ],
    [
      'non-leaf subject',
      'NON_LEAF_SUBJECT',
      () =>
        h.service.openAccount({
          requestId: rid(),
          bizCode: BIZ_TRANSFER,
          ownerType: 'MERCHANT',
          ownerId: 'm1',
          subjectCode: '2241',
          currency: 'CNY',
          normalSide: 'CREDIT',
          allowOverdraft: false,
        }),
    ],
    [
      'unknown subject',
      'UNKNOWN_SUBJECT',
      () =>
        h.service.openAccount({
          requestId: rid(),
          bizCode: BIZ_TRANSFER,
          ownerType: 'MERCHANT',
          ownerId: 'm1',
          subjectCode: '999999',
          currency: 'CNY',
          normalSide: 'CREDIT',
          allowOverdraft: false,
        }),
    ],
    [
      'closing a non-empty account',
      'ACCOUNT_NOT_EMPTY',
      () => h.service.closeAccount({ requestId: rid(), bizCode: BIZ_TRANSFER, accountId: wallet }),
    ],
    [
      'freezing more than available',
      'INSUFFICIENT_BALANCE',
      () =>
        h.service.freeze({
          requestId: rid(),
          bizCode: BIZ_TRANSFER,
          accountId: wallet,
          wholeAccount: false,
          amountMinor: 101n,
          currency: 'CNY',
          reason: '',
        }),
    ],
  ];

  for (const [name, reason, run] of cases) {
    it(`${name}: ${reason}, nothing written`, async () => {
      const before = await snapshot();
      expect(await reasonOf(Promise.resolve().then(run))).to.equal(reason);
      expect(await snapshot()).to.equal(before);
    });
  }

  it('a request id reused for another payload: ALREADY_EXISTS reason IDEMPOTENCY_KEY_REUSED, nothing written', async () => {
    const requestId = rid('reuse');
    await h.service.transfer({ requestId, bizCode: BIZ_TRANSFER, legs: pair(bank, wallet, 1n) });
    const before = await snapshot();
    try {
      await h.service.transfer({ requestId, bizCode: BIZ_TRANSFER, legs: pair(bank, wallet, 2n) });
      expect.fail('accepted');
    } catch (err) {
      expect(err).to.include({ reason: 'IDEMPOTENCY_KEY_REUSED', grpcCode: 'ALREADY_EXISTS' });
    }
    expect(await snapshot()).to.equal(before);
  });
});
