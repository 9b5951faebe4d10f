/**
 * Runs reconciliation in this process against a per-run database and NATS
 * prefix, and plays channel-router's side of the event wire: it publishes
 * real `channel.txn_updated` protobuf events to channel-router's stream with
 * a Nats-Msg-Id, as its outbox relay does. Engine-level harness: the peers
 * (channel-router's query, account's transfers, ledger's check) are
 * recording fakes; the end-to-end test (test/e2e/reconciliation.test.ts)
 * runs the real ones.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connectNats,
  createClient,
  createLogger,
  ensureStream,
  EventNaming,
  runService,
  type NatsConnections,
  type RunningService,
} from '@paycore/platform';
import {
  createTestDatabase,
  createTokenMinter,
  freePort,
  testPrefix,
  type TestDatabase,
} from '@paycore/testing';
import { TxnUpdated } from '@paycore/proto/paycore/channel/v1/events';
import { TxnKind, TxnState } from '@paycore/proto/paycore/channel/v1/types';
import { ReconciliationServiceClient } from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { Client } from 'pg';
import type { AccountPort, ChannelPort, LedgerPort, PurchaseCommand } from '../src/application/ports';
import { ReconError } from '../src/domain/errors';
import type { Leg, TxnState as TxnStateName } from '../src/domain/model';
import { reconciliationSpec } from '../src/service';

export interface PublishedTxn {
  readonly txnId: string;
  readonly kind?: 'PAY' | 'REFUND';
  readonly state: TxnStateName;
  readonly amountMinor: bigint;
  readonly feeMinor: bigint;
  readonly currency?: string;
  readonly channelNo: string;
  readonly finishTime: Date;
  readonly version?: bigint;
}

export class FakePeers {
  readonly transfers = new Map<string, { bizCode: string; legs: readonly Leg[] }>();
  readonly queried: string[] = [];
  readonly states = new Map<string, TxnStateName>();
  /** Purchases by account request id, as account keeps them: a repeated id answers the first. */
  readonly purchases = new Map<string, PurchaseCommand & { lotIds: string[] }>();
  /** Calls of purchase, repeated ones included. */
  purchaseCalls = 0;
  /** The next purchase calls that fail as an unreachable account would (after doing nothing). */
  purchaseOutages = 0;
  /** The next purchase calls whose answer is lost after account did the purchase (a crash before the record). */
  purchaseAnswersLost = 0;
  /** Contract ids account already holds (a purchase naming one is refused CONTRACT_ID_IN_USE). */
  readonly contractsInUse = new Set<string>();

  readonly channel: ChannelPort = {
    downloadStatement: () => Promise.resolve(undefined),
    queryPayment: (txnId) => {
      this.queried.push(txnId);
      return Promise.resolve({ state: this.states.get(txnId) ?? 'PROCESSING', amountMinor: 0n });
    },
  };

  readonly account: AccountPort = {
    internalAccount: (subject) => Promise.resolve(`acct-${subject}`),
    transfer: (requestId, bizCode, legs) => {
      this.transfers.set(requestId, { bizCode, legs });
      return Promise.resolve(`tr-${requestId}`);
    },
    balance: (accountId) => {
      let total = 0n;
      for (const t of this.transfers.values())
        for (const leg of t.legs)
          if (leg.accountId === accountId) total += leg.side === 'DEBIT' ? leg.amountMinor : -leg.amountMinor;
      return Promise.resolve(accountId === 'acct-224105' ? -total : total);
    },
    movement: () => Promise.resolve(0n),
    purchase: (command) => {
      this.purchaseCalls += 1;
      if (this.purchaseOutages > 0) {
        this.purchaseOutages -= 1;
        return Promise.reject(
          new ReconError('DEPENDENCY_UNAVAILABLE', 'account Purchase failed: unavailable'),
        );
      }
      const first = this.purchases.get(command.requestId);
      if (first === undefined && this.contractsInUse.has(command.contractId))
        return Promise.resolve({ kind: 'refused', reason: 'CONTRACT_ID_IN_USE', message: 'contract exists' });
      const bought = first ?? { ...command, lotIds: [`lot-${this.purchases.size + 1}`] };
      this.purchases.set(command.requestId, bought);
      this.contractsInUse.add(command.contractId);
      if (this.purchaseAnswersLost > 0) {
        this.purchaseAnswersLost -= 1;
        return Promise.reject(
          new ReconError('DEPENDENCY_UNAVAILABLE', 'account Purchase failed: deadline exceeded'),
        );
      }
      return Promise.resolve({
        kind: 'bought',
        contractId: bought.contractId,
        transferId: `tr-${command.requestId}`,
        lotIds: bought.lotIds,
      });
    },
  };

  readonly ledger: LedgerPort = { checkReport: () => Promise.resolve(undefined) };
}

export interface ReconHarness {
  readonly service: RunningService;
  readonly client: ReconciliationServiceClient;
  /** A bearer token with recon:read, recon:write and recon:ops, for other clients of the service. */
  readonly token: string;
  readonly peers: FakePeers;
  readonly database: TestDatabase;
  publishTxn(txn: PublishedTxn): Promise<void>;
  /** Waits until reconciliation's copy has `count` transactions. */
  waitTxns(count: number, timeoutMs?: number): Promise<void>;
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

const STATES: Readonly<Record<TxnStateName, TxnState>> = {
  PROCESSING: TxnState.TXN_STATE_PROCESSING,
  SUCCESS: TxnState.TXN_STATE_SUCCESS,
  FAIL: TxnState.TXN_STATE_FAIL,
  CLOSED: TxnState.TXN_STATE_CLOSED,
  UNKNOWN: TxnState.TXN_STATE_UNKNOWN,
};

export async function startReconHarness(env: Record<string, string> = {}): Promise<ReconHarness> {
  const database = await createTestDatabase();
  const minter = await createTokenMinter();
  const prefix = testPrefix();
  const naming = new EventNaming(prefix);
  const natsUrl = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const nats: NatsConnections = await connectNats({ servers: natsUrl, name: 'recon-test-publisher' });
  await ensureStream(nats.jsm, {
    name: naming.stream('channel'),
    subjects: [naming.contextSubjects('channel')],
  });
  const peers = new FakePeers();
  const service = await runService(reconciliationSpec({ peers, consumerBackoffMs: [100, 200] }), {
    handleSignals: false,
    logger: createLogger({ service: 'reconciliation', level: 'warn' }),
    readinessIntervalMs: 200,
    env: {
      SERVICE_NAME: 'reconciliation',
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(await freePort()),
      HTTP_PORT: '0',
      DATABASE_URL: database.url,
      NATS_URL: natsUrl,
      NATS_PREFIX: prefix,
      AUTH_JWT_PUBLIC_KEY: minter.publicKeyPem,
      AUTH_JWT_ISSUER: minter.issuer,
      AUTH_JWT_AUDIENCE: minter.audience,
      SHUTDOWN_GRACE_MS: '1000',
      RECON_SCHEDULE_ENABLED: 'false',
      ...env,
    },
  });
  await service.ready;
  const token = await minter.mint({ sub: 'recon-test', scopes: ['recon:read', 'recon:write', 'recon:ops'] });
  const client = createClient(ReconciliationServiceClient, {
    address: `127.0.0.1:${service.grpcPort}`,
    token: () => token,
    defaultDeadlineMs: 120_000,
  });
  const pg = new Client({ connectionString: database.url });
  await pg.connect();
  return {
    service,
    client,
    token,
    peers,
    database,
    async publishTxn(txn) {
      const data = TxnUpdated.encode({
        transaction: {
          txnId: txn.txnId,
          kind: txn.kind === 'REFUND' ? TxnKind.TXN_KIND_REFUND : TxnKind.TXN_KIND_PAYMENT,
          state: STATES[txn.state],
          bizCode: '10010101012001200001',
          payChannel: '2001',
          channelNo: txn.channelNo,
          amount: { amountMinor: txn.amountMinor, currency: txn.currency ?? 'CNY' },
          channelTxnNo: `CH-${txn.txnId}`,
          originalTxnId: '',
          failureCode: '',
          failureMessage: '',
          retryableElsewhere: false,
          payUrl: '',
          fee: { amountMinor: txn.feeMinor, currency: txn.currency ?? 'CNY' },
          createTime: txn.finishTime,
          updateTime: txn.finishTime,
          finishTime: txn.state === 'SUCCESS' ? txn.finishTime : undefined,
          version: txn.version ?? 2n,
        },
        previousState: TxnState.TXN_STATE_PROCESSING,
        source: 'test',
      }).finish();
      await nats.js.publish(naming.subject('channel', 'txn_updated'), data, { msgID: randomUUID() });
    },
    async waitTxns(count, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await pg.query<{ n: string }>('SELECT count(*) AS n FROM recon.channel_txns');
        if (Number(rows.rows[0]?.n) >= count) return;
        if (Date.now() > deadline) throw new Error(`only ${rows.rows[0]?.n} of ${count} transactions copied`);
        await sleep(100);
      }
    },
    async sql<T>(text: string, params: unknown[] = []) {
      return (await pg.query(text, params)).rows as T[];
    },
    async close() {
      client.close();
      await pg.end();
      await service.stop();
      for await (const stream of nats.jsm.streams.list())
        if (stream.config.name.startsWith(`${prefix.toUpperCase()}_`))
          await nats.jsm.streams.delete(stream.config.name);
      await nats.nc.close();
      await database.drop();
    },
  };
}
