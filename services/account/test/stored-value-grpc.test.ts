/**
 * Proves StoredValueService as other teams see it: the account service runs
 * as a real process, generated clients call it over the network, and the test
 * reads status codes and ErrorInfo reasons out of `grpc-status-details-bin`.
 * Covers a purchase with its posting, the 200-across-two-lots consumption,
 * a try and its cancel, the list of lots with their buckets and totals, the
 * contract statement, a refusal with a declared reason, a missing scope, and
 * the reconciliation report's NOT_FOUND before any run.
 */
import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { createClient, decodeStatusDetails, unary } from '@paycore/platform';
import { OwnerType, Side } from '@paycore/proto/paycore/account/v1/account_service';
import {
  ConsumptionState,
  LotCategory,
  StoredValueServiceClient,
} from '@paycore/proto/paycore/account/v1/stored_value_service';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { clientFor, createTokenMinter, startServiceProcess, type ServiceProcess } from './process';

const BIZ_TOP_UP = { code: '10030103030000000000' };
const BIZ_CONSUME = { code: '10030103070003000000' };
const DAY_MS = 86_400_000;

async function failure(promise: Promise<unknown>): Promise<{ code: number; reason: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    return { code: e.code, reason: decodeStatusDetails(e).errorInfo?.reason };
  }
  throw new Error('expected the call to fail');
}

describe('stored value over gRPC', function () {
  this.timeout(240_000);
  let db: TestDatabase;
  let service: ServiceProcess;
  let sv: StoredValueServiceClient;
  let readOnly: StoredValueServiceClient;
  let bank = '';

  before(async () => {
    db = await createTestDatabase();
    const minter = await createTokenMinter();
    service = await startServiceProcess(db.url, minter);
    const accounts = await clientFor(service.address, minter);
    const opened = await unary(accounts.openAccount.bind(accounts), {
      requestId: 'open-bank',
      bizContext: BIZ_TOP_UP,
      ownerType: OwnerType.OWNER_TYPE_INTERNAL,
      ownerId: 'platform',
      subjectCode: '100201',
      currency: 'CNY',
      normalSide: Side.SIDE_DEBIT,
      allowOverdraft: true,
    });
    accounts.close();
    bank = opened.account?.accountId ?? '';
    const client = async (scopes: string[]): Promise<StoredValueServiceClient> => {
      const token = await minter.mint({ sub: 'sv-test', scopes, expiresInSeconds: 3600 });
      return createClient(StoredValueServiceClient, {
        address: service.address,
        token: () => token,
        defaultDeadlineMs: 30_000,
        retry: { maxAttempts: 1, initialBackoffMs: 100, maxBackoffMs: 100 },
      });
    };
    sv = await client(['account:read', 'account:write', 'account:admin']);
    readOnly = await client(['account:read']);
  });

  after(async () => {
    sv.close();
    readOnly.close();
    service.child.kill('SIGTERM');
    await service.child.exited;
    await db.drop();
  });

  const purchase = (contractId: string, paidMinor: bigint, expiresInDays: number) =>
    unary(sv.purchase.bind(sv), {
      requestId: `buy-${contractId}`,
      bizContext: BIZ_TOP_UP,
      contractId,
      ownerId: 'member-1',
      asset: 'ADCOIN',
      quantity: 1_000n,
      paid: { amountMinor: paidMinor, currency: 'CNY' },
      promotionalQuantity: 0n,
      consumptionType: '',
      effectiveTime: new Date(Date.now() - 60_000),
      expireTime: new Date(Date.now() + expiresInDays * DAY_MS),
      fundingAccountId: bank,
    });

  const consume = (consumptionId: string, quantity: bigint) =>
    unary(sv.consume.bind(sv), {
      requestId: `req-${consumptionId}`,
      bizContext: BIZ_CONSUME,
      consumptionId,
      ownerId: 'member-1',
      asset: 'ADCOIN',
      consumptionType: 'LISTING_BOOST',
      quantity,
    });

  it('purchases, then draws 200 as 10 and 190, each at its lot fair value', async () => {
    const first = await purchase('K-1', 50_000n, 10);
    expect(first.contract?.purchaseTransferId).to.match(/^[0-9a-f-]{36}$/);
    expect(first.lots.map((l) => [l.category, l.fairValuePerUnit])).to.deep.equal([
      [LotCategory.LOT_CATEGORY_PAID, '50.00000000'],
    ]);
    await purchase('K-2', 80_000n, 20);
    await consume('c-990', 990n);
    const c = await consume('c-200', 200n);
    expect(c.consumption?.draws.map((d) => [d.quantity, d.value?.amountMinor])).to.deep.equal([
      [10n, 500n],
      [190n, 15_200n],
    ]);
    expect(c.consumption?.state).to.equal(ConsumptionState.CONSUMPTION_STATE_CONFIRMED);
  });

  it('holds on try and releases on cancel; lists lots with their buckets and totals', async () => {
    const tried = await unary(sv.tryConsume.bind(sv), {
      requestId: 'try-1',
      bizContext: BIZ_CONSUME,
      consumptionId: 'two-1',
      ownerId: 'member-1',
      asset: 'ADCOIN',
      consumptionType: 'LISTING_BOOST',
      quantity: 30n,
      timeout: { seconds: 60n, nanos: 0 },
    });
    expect(tried.consumption?.state).to.equal(ConsumptionState.CONSUMPTION_STATE_TRIED);
    const held = await unary(sv.listLots.bind(sv), {
      ownerId: 'member-1',
      asset: 'ADCOIN',
      includeSpent: false,
      page: undefined,
    });
    // K-1 is spent, so only K-2 is listed without include_spent.
    expect(held.lots.map((l) => [l.contractId, l.available?.quantity, l.held?.quantity])).to.deep.equal([
      ['K-2', 780n, 30n],
    ]);
    const cancelled = await unary(sv.cancelConsume.bind(sv), {
      requestId: 'cancel-1',
      bizContext: BIZ_CONSUME,
      consumptionId: 'two-1',
    });
    expect(cancelled.consumption?.state).to.equal(ConsumptionState.CONSUMPTION_STATE_CANCELLED);
    const listed = await unary(sv.listLots.bind(sv), {
      ownerId: 'member-1',
      asset: 'ADCOIN',
      includeSpent: true,
      page: undefined,
    });
    expect(listed.lots.map((l) => l.contractId)).to.deep.equal(['K-1', 'K-2']);
    expect(listed.available).to.deep.equal({
      quantity: 810n,
      value: { amountMinor: 64_800n, currency: 'CNY' },
    });
    const statement = await unary(sv.getContractStatement.bind(sv), { contractId: 'K-2' });
    expect(statement.movements.map((m) => m.kind)).to.include.members([
      'PURCHASE',
      'CONSUME',
      'TRY',
      'CANCEL',
    ]);
  });

  it('refuses with declared reasons and scopes', async () => {
    expect(await failure(consume('c-big', 1_000_000n))).to.deep.equal({
      code: status.FAILED_PRECONDITION,
      reason: 'INSUFFICIENT_STORED_VALUE',
    });
    const denied = await failure(
      unary(readOnly.reactivate.bind(readOnly), {
        requestId: 'react-1',
        bizContext: BIZ_CONSUME,
        lotId: '00000000-0000-4000-8000-000000000000',
        expireTime: new Date(Date.now() + DAY_MS),
        operator: 'ops',
        reason: 'x',
      }),
    );
    expect(denied.code).to.equal(status.PERMISSION_DENIED);
    expect(
      await failure(unary(sv.getReconciliationReport.bind(sv), { accountingDate: '2001-01-01' })),
    ).to.deep.equal({ code: status.NOT_FOUND, reason: 'RECONCILIATION_NOT_FOUND' });
  });
});
