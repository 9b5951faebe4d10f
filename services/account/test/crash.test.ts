/**
 * Proves crash safety (must-show 2): the service runs as a real process and
 * is killed with SIGKILL while 32 clients post transfers over gRPC (so batches
 * are in flight). After a restart on the same database: every acknowledged
 * transfer is present with its entries, no transfer is half-applied (each has
 * exactly one entry per leg and balances), every ledger invariant holds, and
 * retrying the requests whose outcome was unknown applies each exactly once.
 */
import { expect } from 'chai';
import { DataSource } from 'typeorm';
import { unary } from '@paycore/platform';
import {
  OwnerType,
  Side,
  type AccountServiceClient,
} from '@paycore/proto/paycore/account/v1/account_service';
import { createTestDatabase, type TestDatabase } from '@paycore/testing';
import { BIZ_TRANSFER, invariantViolations } from './harness';
import { clientFor, createTokenMinter, startServiceProcess, type ServiceProcess } from './process';

describe('crash safety (SIGKILL during batches)', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let running: ServiceProcess | undefined;
  let dataSource: DataSource | undefined;

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    running?.child.kill('SIGKILL');
    await running?.child.exited;
    await dataSource?.destroy();
    await db.drop();
  });

  async function open(
    client: AccountServiceClient,
    normalSide: Side,
    allowOverdraft: boolean,
    n: number,
  ): Promise<string> {
    const res = await unary(client.openAccount.bind(client), {
      requestId: `open-${n}`,
      bizContext: { code: BIZ_TRANSFER },
      ownerType: OwnerType.OWNER_TYPE_INTERNAL,
      ownerId: 'crash',
      subjectCode: normalSide === Side.SIDE_DEBIT ? '122101' : '224101',
      currency: 'CNY',
      normalSide,
      allowOverdraft,
    });
    return res.account?.accountId ?? '';
  }

  const transferRequest = (
    requestId: string,
    from: string,
    to: string,
    amountMinor: bigint,
  ): Parameters<AccountServiceClient['transfer']>[0] => ({
    requestId,
    bizContext: { code: BIZ_TRANSFER },
    legs: [
      { accountId: from, side: Side.SIDE_DEBIT, amount: { amountMinor, currency: 'CNY' } },
      { accountId: to, side: Side.SIDE_CREDIT, amount: { amountMinor, currency: 'CNY' } },
    ],
    memo: '',
  });

  it('keeps every acknowledged transfer and never half-applies one', async () => {
    const minter = await createTokenMinter();
    running = await startServiceProcess(db.url, minter);
    let client = await clientFor(running.address, minter);
    const bank = await open(client, Side.SIDE_DEBIT, true, 0);
    const wallets: string[] = [];
    for (let i = 1; i <= 40; i++) wallets.push(await open(client, Side.SIDE_CREDIT, true, i));

    const acknowledged = new Set<string>();
    const unknown = new Map<string, Parameters<AccountServiceClient['transfer']>[0]>();
    let sent = 0;
    let killed = false;
    const clientLoop = async (c: number): Promise<void> => {
      while (!killed) {
        const n = sent++;
        const from = n % 3 === 0 ? bank : (wallets[(n * 7 + c) % wallets.length] ?? '');
        const to = wallets[(n * 13 + c + 1) % wallets.length] ?? '';
        if (from === to) continue;
        const request = transferRequest(`crash-${n}`, from, to, BigInt(1 + (n % 97)));
        try {
          await unary(client.transfer.bind(client), request);
          acknowledged.add(request.requestId);
        } catch {
          unknown.set(request.requestId, request);
          if (killed) return;
        }
      }
    };
    const loops = Array.from({ length: 32 }, (_, c) => clientLoop(c));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    // The loops keep sending until the process is gone: even when a whole batch was
    // answered just before the kill, the next calls go out and end unanswered, so
    // some outcomes are always unknown to the clients.
    running.child.kill('SIGKILL');
    await running.child.exited;
    killed = true;
    await Promise.all(loops);
    expect(acknowledged.size).to.be.greaterThan(100);
    expect(unknown.size).to.be.greaterThan(0);

    running = await startServiceProcess(db.url, minter);
    client = await clientFor(running.address, minter);
    dataSource = new DataSource({
      type: 'postgres',
      url: db.url,
      schema: 'account',
      extra: { options: '-c search_path=account,public' },
    });
    await dataSource.initialize();
    const ds = dataSource;

    const stored = new Set(
      (await ds.query<{ request_id: string }[]>('SELECT request_id FROM transfers')).map((r) => r.request_id),
    );
    const missing = [...acknowledged].filter((id) => !stored.has(id));
    expect(missing).to.deep.equal([]);
    const halfApplied = await ds.query<{ n: string }[]>(
      `SELECT count(*)::text n FROM transfers t
        WHERE (SELECT count(*) FROM entries e WHERE e.transfer_id = t.id) <> jsonb_array_length(t.result->'legs')`,
    );
    expect(halfApplied[0]?.n).to.equal('0');
    const orphanEntries = await ds.query<{ n: string }[]>(
      'SELECT count(*)::text n FROM entries e WHERE NOT EXISTS (SELECT 1 FROM transfers t WHERE t.id = e.transfer_id)',
    );
    expect(orphanEntries[0]?.n).to.equal('0');
    expect(await invariantViolations({ dataSource: ds })).to.deep.equal([]);

    // Retrying unknown outcomes: each is applied at most once, and all end up present.
    for (const request of unknown.values()) await unary(client.transfer.bind(client), request);
    const counts = await ds.query<{ n: string; d: string }[]>(
      `SELECT count(*)::text n, count(DISTINCT request_id)::text d FROM transfers WHERE request_id LIKE 'crash-%'`,
    );
    expect(counts[0]?.n).to.equal(counts[0]?.d);
    expect(Number(counts[0]?.n)).to.equal(acknowledged.size + unknown.size);
    expect(await invariantViolations({ dataSource: ds })).to.deep.equal([]);
    console.log(
      `      ${acknowledged.size} acknowledged, ${unknown.size} unknown at the kill, all accounted for`,
    );
  });
});
