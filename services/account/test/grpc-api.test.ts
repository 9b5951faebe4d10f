/**
 * Proves the account service's gRPC surface as other teams see it: the
 * service runs as a real process, a generated client calls it over the
 * network, and the test reads gRPC status codes and ErrorInfo reasons out of
 * `grpc-status-details-bin` — insufficient balance, a reused request id with
 * another payload, a missing scope, cursor paging and a forged page token.
 */
import { expect } from 'chai';
import { status, type ServiceError } from '@grpc/grpc-js';
import { createClient, decodeStatusDetails, unary } from '@paycore/platform';
import {
  AccountServiceClient,
  OwnerType,
  Side,
  type TransferRequest,
} from '@paycore/proto/paycore/account/v1/account_service';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { clientFor, createTokenMinter, startServiceProcess, type ServiceProcess } from './process';

const BIZ = '10010102050000000000';

async function failure(promise: Promise<unknown>): Promise<{ code: number; reason: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as ServiceError;
    return { code: e.code, reason: decodeStatusDetails(e).errorInfo?.reason };
  }
  throw new Error('expected the call to fail');
}

describe('account service over gRPC: errors, scopes and paging', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let service: ServiceProcess;
  let client: AccountServiceClient;
  let minter: Awaited<ReturnType<typeof createTokenMinter>>;
  const accounts: string[] = [];

  before(async () => {
    db = await createTestDatabase();
    minter = await createTokenMinter();
    service = await startServiceProcess(db.url, minter);
    client = await clientFor(service.address, minter);
    for (const [i, side] of [Side.SIDE_DEBIT, Side.SIDE_CREDIT, Side.SIDE_CREDIT].entries()) {
      const res = await unary(client.openAccount.bind(client), {
        requestId: `open-${i}`,
        bizContext: { code: BIZ },
        ownerType: OwnerType.OWNER_TYPE_CUSTOMER,
        ownerId: 'payer-1',
        subjectCode: side === Side.SIDE_DEBIT ? '122101' : '224101',
        currency: 'CNY',
        normalSide: side,
        allowOverdraft: i === 0,
      });
      accounts.push(res.account?.accountId ?? '');
    }
  });

  after(async () => {
    client.close();
    service.child.kill('SIGTERM');
    await service.child.exited;
    await db.drop();
  });

  const transfer = (requestId: string, from: string, to: string, amountMinor: bigint): TransferRequest => ({
    requestId,
    bizContext: { code: BIZ },
    memo: '',
    legs: [
      { accountId: from, side: Side.SIDE_DEBIT, amount: { amountMinor, currency: 'CNY' } },
      { accountId: to, side: Side.SIDE_CREDIT, amount: { amountMinor, currency: 'CNY' } },
    ],
  });

  it('answers an overdraft with FAILED_PRECONDITION / INSUFFICIENT_BALANCE', async () => {
    const [clearing = '', walletA = '', walletB = ''] = accounts;
    await unary(client.transfer.bind(client), transfer('fund-a', clearing, walletA, 500n));
    // walletA (credit-normal, no overdraft) pays walletB more than it holds: a debit on walletA.
    const refused = await failure(
      unary(client.transfer.bind(client), transfer('too-much', walletA, walletB, 501n)),
    );
    expect(refused).to.deep.equal({ code: status.FAILED_PRECONDITION, reason: 'INSUFFICIENT_BALANCE' });
    const balance = await unary(client.getBalance.bind(client), { accountId: walletA, asOf: undefined });
    expect(balance.balance?.available?.amountMinor).to.equal(500n);
  });

  it('replays a request id with its first answer and refuses another payload under it', async () => {
    const [clearing = '', walletA = ''] = accounts;
    const first = await unary(client.transfer.bind(client), transfer('pay-once', clearing, walletA, 7n));
    const again = await unary(client.transfer.bind(client), transfer('pay-once', clearing, walletA, 7n));
    expect(again.transfer?.transferId).to.equal(first.transfer?.transferId);
    const reused = await failure(
      unary(client.transfer.bind(client), transfer('pay-once', clearing, walletA, 8n)),
    );
    expect(reused).to.deep.equal({ code: status.ALREADY_EXISTS, reason: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('refuses a caller without account:write with PERMISSION_DENIED', async () => {
    const token = await minter.mint({ sub: 'reader', scopes: ['account:read'] });
    const reader = createClient(AccountServiceClient, { address: service.address, token: () => token });
    try {
      const [clearing = '', walletA = ''] = accounts;
      const denied = await failure(
        unary(reader.transfer.bind(reader), transfer('reader-try', clearing, walletA, 1n)),
      );
      expect(denied).to.deep.equal({ code: status.PERMISSION_DENIED, reason: 'MISSING_SCOPE' });
      const read = await unary(reader.getAccount.bind(reader), { accountId: clearing });
      expect(read.account?.accountId).to.equal(clearing);
    } finally {
      reader.close();
    }
  });

  it('pages ListAccounts with cursor tokens and refuses a forged token', async () => {
    const seen: string[] = [];
    let pageToken = '';
    for (let i = 0; i < 5; i++) {
      const page = await unary(client.listAccounts.bind(client), {
        ownerType: OwnerType.OWNER_TYPE_CUSTOMER,
        ownerId: 'payer-1',
        page: { pageSize: 2, pageToken },
      });
      expect(page.accounts.length).to.be.at.most(2);
      seen.push(...page.accounts.map((a) => a.accountId));
      pageToken = page.page?.nextPageToken ?? '';
      if (pageToken === '') break;
    }
    expect([...seen].sort()).to.deep.equal([...accounts].sort());
    const forged = await failure(
      unary(client.listAccounts.bind(client), {
        ownerType: OwnerType.OWNER_TYPE_CUSTOMER,
        ownerId: 'payer-1',
        page: { pageSize: 2, pageToken: 'bm90LWEtdG9rZW4' },
      }),
    );
    expect(forged).to.deep.equal({ code: status.INVALID_ARGUMENT, reason: 'INVALID_PAGE_TOKEN' });
  });
});
