/**
 * Chaos, end to end: TWO replicas of every service (account, ledger,
 * channel-router, cashier, reconciliation, settlement) on ONE database and
 * ONE NATS prefix, one channel sandbox, under mixed load for a bounded time;
 * a quarter to two fifths into the load ONE replica of EACH service is
 * SIGKILLed (which one and when drawn from the seed, a few seconds apart) and
 * started again a few seconds later, while the load goes on against the
 * survivors. Proves, once the load stops and within a bounded
 * wait:
 * - every flow reaches exactly one final state: payments, refunds,
 *   withdrawals, orders (an order whose every payment failed is closed by its
 *   merchant, as an abandoned order would be), channel transactions; anything
 *   not final has an OPEN exception for an operator (listed in the output);
 * - no step is done twice: the merchant webhook counts deliveries per
 *   notification id, the sandbox (`GET /sandbox/calls`) counts creates per
 *   out_trade_no, refunds per out_request_no and payouts per out_payout_no,
 *   and each platform flow owns exactly one channel transaction. What the
 *   platform guarantees where a kill lands between an effect and its record
 *   is asserted exactly as ADR 0042 states it;
 * - the money holds: account's invariants (Σ debit-normal = Σ credit-normal
 *   per currency, journal chains), no frozen funds or open two-phase
 *   transfers, each merchant's pending settlement is exactly its paid orders
 *   less its refunds (one credit entry per paid order, one debit per refund),
 *   each payer's balance is exactly top-ups less payments and withdrawals
 *   plus refunds, every acknowledged transfer stored once, the ledger has
 *   one voucher per account transfer with a balanced trial balance, and
 *   settlement cleared each succeeded payment and refund exactly once.
 *
 * Clients: PAYCORE_CHAOS_CLIENTS concurrent callers, each spreading its calls
 * round-robin over one gRPC client per replica and retrying a transient
 * failure with the same request id on the next replica. The seed
 * (PAYCORE_SEED, printed) draws the mix, the amounts, the replicas to kill
 * and the moment; interleaving under load still varies from run to run.
 * Knobs: PAYCORE_CHAOS_LOAD_MS (default 60 s), PAYCORE_CHAOS_CLIENTS (6),
 * PAYCORE_CHAOS_RESTART (1: restart the killed replicas; 0: leave them dead),
 * PAYCORE_CHAOS_SETTLE_MS (bound on the wait for final states, 150 s),
 * PAYCORE_CHAOS_LOG_DIR (write every process's last log lines there).
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { unary } from '@paycore/platform';
import { OwnerType, Side } from '@paycore/proto/paycore/account/v1/account_service';
import { seededRandom, seedFromEnv } from '@paycore/testing';
import { invariantViolations } from '../../services/account/test/harness';
import {
  BIZ_TRANSFER,
  emptyTallies,
  executeKills,
  fundPayer,
  FLOW_KINDS,
  planKills,
  runClient,
  SERVICES,
  Spread,
  type Kill,
  type TransientTally,
  type World,
} from './chaos';
import { chinaToday, cny, registerMerchant, uid } from './helpers';
import { startPlatform, waitFor, type Platform } from './platform';

const SEED = seedFromEnv('PAYCORE_SEED');
const LOAD_MS = Number(process.env['PAYCORE_CHAOS_LOAD_MS'] ?? 60_000);
const CLIENTS = Number(process.env['PAYCORE_CHAOS_CLIENTS'] ?? 6);
const RESTART = (process.env['PAYCORE_CHAOS_RESTART'] ?? '1') === '1';
const SETTLE_MS = Number(process.env['PAYCORE_CHAOS_SETTLE_MS'] ?? 150_000);
const REPLICAS = 2;
const PAYERS = 6;
const PAYER_FUNDS_MINOR = 500_000n;
const WALLETS = 6;
const WALLET_FUNDS_MINOR = 100_000n;
/** The cashier notifier's claim batch (CASHIER_NOTIFY_BATCH_MAX, set below): the most a crash can leave unrecorded. */
const NOTIFY_BATCH_MAX = 50;
const POOL_SIZE_MAX = 3;

type Row = Record<string, string>;

describe('replicas under chaos: two of every service, one of each killed midway', function () {
  this.timeout(LOAD_MS + SETTLE_MS + 420_000);
  let p: Platform;
  const transient: TransientTally = new Map();

  before(async () => {
    console.log(`      PAYCORE_SEED=${SEED} load ${LOAD_MS} ms, ${CLIENTS} clients, restart ${RESTART}`);
    // Twelve processes share one Postgres (with the other tests of the machine): small pools.
    p = await startPlatform(
      {
        // The finishing lanes' own pools (ADR 0058) are small here too.
        cashier: {
          CASHIER_NOTIFY_BATCH_MAX: String(NOTIFY_BATCH_MAX),
          CASHIER_CHANNEL_EVENTS_CONCURRENCY: '1',
        },
        'channel-router': { CHANNEL_CALLBACK_POOL_SIZE_MAX: '1' },
      },
      { DATABASE_POOL_SIZE_MAX: String(POOL_SIZE_MAX) },
      { replicas: REPLICAS },
    );
  });
  after(async () => {
    const logDir = process.env['PAYCORE_CHAOS_LOG_DIR'];
    if (logDir !== undefined && p !== undefined) {
      mkdirSync(logDir, { recursive: true });
      for (const service of ['channel-sandbox', ...SERVICES])
        for (const name of service === 'channel-sandbox' ? [service] : p.replicaNames(service))
          writeFileSync(path.join(logDir, `${name}.log`), p.process(name).lines.join('\n'));
    }
    await p?.close();
  });

  const rows = (sql: string, params: unknown[] = []): Promise<Row[]> => p.query<Row>(sql, params);

  async function openWallets(): Promise<string[]> {
    const open = async (side: Side, overdraft: boolean): Promise<string> => {
      const res = await unary(p.account.openAccount.bind(p.account), {
        requestId: uid('open'),
        bizContext: { code: BIZ_TRANSFER },
        ownerType: OwnerType.OWNER_TYPE_INTERNAL,
        ownerId: 'chaos',
        subjectCode: side === Side.SIDE_DEBIT ? '122101' : '224101',
        currency: 'CNY',
        normalSide: side,
        allowOverdraft: overdraft,
      });
      return res.account?.accountId ?? '';
    };
    const bank = await open(Side.SIDE_DEBIT, true);
    const wallets: string[] = [];
    for (let i = 0; i < WALLETS; i++) {
      const wallet = await open(Side.SIDE_CREDIT, false);
      await unary(p.account.transfer.bind(p.account), {
        requestId: uid('fund'),
        bizContext: { code: BIZ_TRANSFER },
        legs: [
          { accountId: bank, side: Side.SIDE_DEBIT, amount: cny(WALLET_FUNDS_MINOR) },
          { accountId: wallet, side: Side.SIDE_CREDIT, amount: cny(WALLET_FUNDS_MINOR) },
        ],
        memo: 'chaos funding',
      });
      wallets.push(wallet);
    }
    return wallets;
  }

  async function makeWorld(random: () => number): Promise<World> {
    const merchants = [await registerMerchant(p), await registerMerchant(p), await registerMerchant(p)];
    const payers = Array.from({ length: PAYERS }, () => uid('payer'));
    const cashier = new Spread(p.replicaClients.cashier, transient);
    await Promise.all(payers.map((payerId) => fundPayer(p, cashier, payerId, PAYER_FUNDS_MINOR)));
    return {
      p,
      random,
      cashier,
      account: new Spread(p.replicaClients.account, transient),
      merchants,
      payers,
      wallets: await openWallets(),
      orders: new Set(),
      paid: [],
      awaitingChannel: [],
      transfersAcknowledged: new Set(),
      tallies: emptyTallies(),
    };
  }

  /** Flows of the cashier and channel transactions not in a final state, less those with an OPEN exception. */
  async function unfinished(): Promise<Row[]> {
    return rows(
      `WITH open_flows AS (SELECT flow_kind, flow_id FROM cashier.exceptions WHERE state = 'OPEN'),
            flows AS (
              SELECT 'PAYMENT' AS kind, payment_id::text AS id, state FROM cashier.payments
               WHERE state NOT IN ('SUCCEEDED', 'FAILED')
              UNION ALL SELECT 'REFUND', refund_id::text, state FROM cashier.refunds WHERE state = 'PROCESSING'
              UNION ALL SELECT 'WITHDRAWAL', withdrawal_id::text, state FROM cashier.withdrawals
               WHERE state NOT IN ('SUCCEEDED', 'FAILED'))
       SELECT kind, id, state FROM flows f
        WHERE NOT EXISTS (SELECT 1 FROM open_flows o WHERE o.flow_kind = f.kind AND o.flow_id = f.id)
       UNION ALL
       SELECT 'CHANNEL_' || kind, txn_id, state FROM channel.transactions t
        WHERE state IN ('PROCESSING', 'UNKNOWN')
          AND NOT EXISTS (SELECT 1 FROM cashier.payment_parts pp JOIN open_flows o
                           ON o.flow_kind = 'PAYMENT' AND o.flow_id = pp.payment_id::text
                          WHERE pp.channel_txn_id = t.txn_id)
          AND NOT EXISTS (SELECT 1 FROM cashier.refund_parts rp JOIN open_flows o
                           ON o.flow_kind = 'REFUND' AND o.flow_id = rp.refund_id::text
                          WHERE rp.channel_txn_id = t.txn_id)
          AND NOT EXISTS (SELECT 1 FROM cashier.withdrawals w JOIN open_flows o
                           ON o.flow_kind = 'WITHDRAWAL' AND o.flow_id = w.withdrawal_id::text
                          WHERE w.channel_txn_id = t.txn_id)
       UNION ALL
       SELECT 'NOTIFICATION', notification_id::text, state FROM cashier.notifications WHERE state = 'PENDING'`,
    );
  }

  async function waitSettled(what: string, timeoutMs: number): Promise<void> {
    let last: Row[] = [];
    try {
      await waitFor(
        what,
        async () => {
          last = await unfinished();
          return last.length === 0 ? true : undefined;
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${String(err)}; still unfinished: ${JSON.stringify(last.slice(0, 20))}`);
    }
  }

  /** The merchant closes its orders that are still unpaid once every payment on them failed. */
  async function closeAbandoned(w: World): Promise<number> {
    const open = await rows(
      `SELECT o.order_id::text AS order_id FROM cashier.orders o
        WHERE o.state = 'WAIT_PAY' AND o.kind = 'PAYMENT' AND o.order_id = ANY($1::uuid[])`,
      [[...w.orders]],
    );
    for (const orderId of open.map((row) => row.order_id ?? '')) {
      const res = await w.cashier.call((c, deadlineMs) =>
        unary(c.closePaymentOrder.bind(c), { requestId: `close-${orderId}`, orderId }, { deadlineMs }),
      );
      if (!res.ok) throw new Error(`closing abandoned order ${orderId}: ${res.reason}`);
    }
    return open.length;
  }

  it('keeps every flow single, final and balanced', async () => {
    const random = seededRandom(SEED);
    const w = await makeWorld(random);
    const kills: Kill[] = planKills(random, LOAD_MS, REPLICAS);
    console.log(`      kills: ${kills.map((k) => `${k.process}@${k.atMs}ms`).join(', ')}`);
    const loadStartMs = Date.now();
    const killing = executeKills(
      p,
      kills,
      loadStartMs,
      RESTART ? 3_000 + Math.floor(random() * 4_000) : undefined,
    );
    await Promise.all(Array.from({ length: CLIENTS }, () => runClient(w, loadStartMs + LOAD_MS)));
    await killing;
    const loadEndMs = Date.now();

    await waitSettled(
      'payments, refunds, withdrawals, channel transactions and notifications final',
      SETTLE_MS,
    );
    const closed = await closeAbandoned(w);
    await waitSettled('everything final after closing abandoned orders', SETTLE_MS);
    const settledMs = Date.now() - loadEndMs;

    await assertOrdersFinal(w);
    const notifications = await assertNotificationsOnce(kills);
    const channelCalls = await assertChannelCallsOnce(kills);
    await assertMoney(w);
    console.log(
      `      figures: ${JSON.stringify({
        seed: SEED,
        loadMs: loadEndMs - loadStartMs,
        settleMs: settledMs,
        closedAbandoned: closed,
        flows: Object.fromEntries(
          FLOW_KINDS.map((kind) => {
            const t = w.tallies[kind];
            return [kind, { ...t, refused: Object.fromEntries(t.refused) }];
          }),
        ),
        states: await stateCounts(),
        openExceptions: await rows(
          "SELECT flow_kind, flow_id, detail FROM cashier.exceptions WHERE state = 'OPEN'",
        ),
        kills: kills.map((k) => ({
          process: k.process,
          atMs: k.atMs,
          downMs: (k.restartedAtMs ?? loadEndMs) - (k.diedAtMs ?? 0),
        })),
        transient: Object.fromEntries(transient),
        notifications,
        channelCalls,
      })}`,
    );
  });

  async function stateCounts(): Promise<Row[]> {
    return rows(
      `SELECT 'order' AS what, state, count(*)::text AS n FROM cashier.orders WHERE kind = 'PAYMENT' GROUP BY state
       UNION ALL SELECT 'payment', state, count(*)::text FROM cashier.payments GROUP BY state
       UNION ALL SELECT 'refund', state, count(*)::text FROM cashier.refunds GROUP BY state
       UNION ALL SELECT 'withdrawal', state, count(*)::text FROM cashier.withdrawals GROUP BY state
       UNION ALL SELECT 'channel ' || kind, state, count(*)::text FROM channel.transactions GROUP BY kind, state
       ORDER BY 1, 2`,
    );
  }

  async function assertOrdersFinal(w: World): Promise<void> {
    const notFinal = await rows(
      `SELECT order_id::text, state FROM cashier.orders WHERE order_id = ANY($1::uuid[]) AND state = 'WAIT_PAY'`,
      [[...w.orders]],
    );
    expect(notFinal, 'orders not final').to.deep.equal([]);
    // PAID / REFUNDED: exactly one succeeded payment, the one the order names; CLOSED: none.
    const wrong = await rows(
      `SELECT o.order_id::text, o.state, count(p.payment_id)::text AS succeeded
         FROM cashier.orders o
         LEFT JOIN cashier.payments p ON p.order_id = o.order_id AND p.state = 'SUCCEEDED'
        WHERE o.order_id = ANY($1::uuid[])
        GROUP BY o.order_id, o.state, o.paid_payment_id
       HAVING (o.state IN ('PAID', 'REFUNDED') AND (count(p.payment_id) <> 1
                OR bool_or(p.payment_id = o.paid_payment_id) IS NOT TRUE))
           OR (o.state = 'CLOSED' AND count(p.payment_id) <> 0)`,
      [[...w.orders]],
    );
    expect(wrong, 'orders whose payments disagree with their state').to.deep.equal([]);
  }

  /**
   * Every PAID order's notification is DELIVERED and reached the merchant; a
   * notification reaches it twice only when the cashier replica that sent it
   * died before recording the answer (ADR 0042): then it is the same id and
   * the same body, the first copy arrived before that replica died and the
   * second after, and there are at most as many as one claim batch.
   */
  async function assertNotificationsOnce(kills: readonly Kill[]): Promise<Record<string, number>> {
    const stored = await rows(
      `SELECT n.notification_id::text AS id, n.state, n.body FROM cashier.notifications n
         JOIN cashier.orders o ON o.order_id = n.order_id WHERE o.kind = 'PAYMENT'`,
    );
    const paidWithoutNotification = await rows(
      `SELECT o.order_id::text FROM cashier.orders o WHERE o.kind = 'PAYMENT' AND o.state IN ('PAID', 'REFUNDED')
          AND o.notify_url <> '' AND NOT EXISTS (SELECT 1 FROM cashier.notifications n WHERE n.order_id = o.order_id)`,
    );
    expect(paidWithoutNotification, 'paid orders without a notification').to.deep.equal([]);
    expect(stored.filter((n) => n.state !== 'DELIVERED')).to.deep.equal([]);
    const received = new Map<string, { body: string; atMs: number }[]>();
    for (const n of p.notifications) {
      expect(n.signatureValid, `signature of ${n.notificationId}`).to.equal(true);
      received.set(n.notificationId, [
        ...(received.get(n.notificationId) ?? []),
        { body: n.body, atMs: n.receivedAtMs },
      ]);
    }
    const storedIds = new Map(stored.map((n) => [n.id ?? '', n.body ?? '']));
    const cashierDeaths = kills.filter((k) => k.service === 'cashier').map((k) => k.diedAtMs ?? 0);
    let twice = 0;
    for (const [id, body] of storedIds) {
      const copies = received.get(id) ?? [];
      expect(copies.length, `deliveries of notification ${id}`).to.be.within(1, 2);
      expect(
        copies.every((c) => c.body === body),
        `bodies of ${id}`,
      ).to.equal(true);
      if (copies.length === 2) {
        twice += 1;
        const [first, second] = copies;
        const acrossDeath = cashierDeaths.some((d) => (first?.atMs ?? 0) <= d && (second?.atMs ?? 0) >= d);
        expect(acrossDeath, `notification ${id} delivered twice, not across a cashier death`).to.equal(true);
      }
    }
    expect(
      [...received.keys()].filter((id) => !storedIds.has(id)),
      'deliveries of unknown ids',
    ).to.deep.equal([]);
    expect(twice).to.be.at.most(NOTIFY_BATCH_MAX * cashierDeaths.length);
    return { notifications: storedIds.size, deliveries: p.notifications.length, deliveredTwice: twice };
  }

  /**
   * Each channel transaction belongs to one platform flow, each flow step has
   * one channel transaction, and the sandbox saw the merchant-side number of
   * each create, refund and payout as often as ADR 0042 allows.
   */
  async function assertChannelCallsOnce(kills: readonly Kill[]): Promise<Record<string, unknown>> {
    const response = await fetch(`${p.sandboxUrl}/sandbox/calls`);
    const tally = (await response.json()) as {
      calls: { channel: string; operation: string; key: string; count: number }[];
      overflow: number;
    };
    expect(tally.overflow).to.equal(0);
    const txns = await rows(
      'SELECT txn_id, kind, original_txn_id, (extract(epoch FROM created_at) * 1000)::bigint::text AS created_ms FROM channel.transactions',
    );
    const byKind = (kind: string) => new Set(txns.filter((t) => t.kind === kind).map((t) => t.txn_id ?? ''));
    const creates = tally.calls.filter((c) => c.operation === 'create' || c.operation === 'pay');
    const refunds = tally.calls.filter((c) => c.operation === 'refund');
    const payouts = tally.calls.filter((c) => c.channel === 'bank' && c.operation === 'payout');
    // Every number the sandbox saw is a transaction channel-router holds (no stray, no renamed retry).
    expect(creates.filter((c) => !byKind('PAYMENT').has(c.key)).map((c) => c.key)).to.deep.equal([]);
    expect(payouts.filter((c) => !byKind('PAYOUT').has(c.key)).map((c) => c.key)).to.deep.equal([]);
    const refundKeys = new Set(
      txns.filter((t) => t.kind === 'REFUND').map((t) => `${t.original_txn_id ?? ''}/${t.txn_id ?? ''}`),
    );
    expect(refunds.filter((c) => !refundKeys.has(c.key)).map((c) => c.key)).to.deep.equal([]);
    // One channel transaction per flow step, and none without a flow.
    const orphans = await rows(
      `SELECT t.txn_id, t.kind FROM channel.transactions t
        WHERE NOT EXISTS (SELECT 1 FROM cashier.payment_parts pp WHERE pp.channel_txn_id = t.txn_id)
          AND NOT EXISTS (SELECT 1 FROM cashier.refund_parts rp WHERE rp.channel_txn_id = t.txn_id)
          AND NOT EXISTS (SELECT 1 FROM cashier.withdrawals w WHERE w.channel_txn_id = t.txn_id)`,
    );
    expect(orphans, 'channel transactions no flow owns').to.deep.equal([]);
    const repeats = (calls: typeof creates) => calls.filter((c) => c.count > 1);
    const figures = {
      creates: creates.length,
      createsRepeated: repeats(creates).map((c) => [c.key, c.count]),
      refunds: refunds.length,
      refundsRepeated: repeats(refunds).map((c) => [c.key, c.count]),
      payouts: payouts.length,
      payoutsRepeated: repeats(payouts).map((c) => [c.key, c.count]),
    };
    // A number is sent at most twice, and twice only if its transaction was committed before a
    // cashier or channel-router replica died (ADR 0042).
    const callerDeaths = kills
      .filter((k) => k.service === 'cashier' || k.service === 'channel-router')
      .map((k) => k.diedAtMs ?? 0);
    const createdAtMs = new Map(txns.map((t) => [t.txn_id ?? '', Number(t.created_ms)]));
    for (const c of [...repeats(creates), ...repeats(refunds), ...repeats(payouts)]) {
      expect(c.count, `${c.operation} ${c.key} sent ${c.count} times`).to.equal(2);
      const txnId = c.operation === 'refund' ? (c.key.split('/')[1] ?? '') : c.key;
      const created = createdAtMs.get(txnId) ?? Number.NaN;
      expect(
        callerDeaths.some((d) => created <= d),
        `${c.operation} ${c.key} sent twice without a crash after its commit`,
      ).to.equal(true);
    }
    return figures;
  }

  async function assertMoney(w: World): Promise<void> {
    // account's own invariant checks (its test harness), on this test's one connection: no extra
    // connection to a Postgres the twelve processes and the machine's other tests already share.
    await rows('SET search_path TO account, public');
    const accountSql = { query: (sql: string) => rows(sql) } as Pick<DataSource, 'query'> as DataSource;
    expect(await invariantViolations({ dataSource: accountSql }), 'account invariants').to.deep.equal([]);
    expect(await rows('SELECT id::text, frozen::text FROM account.accounts WHERE frozen <> 0')).to.deep.equal(
      [],
    );
    expect(
      await rows("SELECT pending_id FROM account.pending_transfers WHERE state = 'TRIED'"),
    ).to.deep.equal([]);

    for (const merchantId of w.merchants) {
      const merchant = await unary(p.cashier.getMerchant.bind(p.cashier), { merchantId });
      const [expected] = await rows(
        `SELECT (COALESCE((SELECT sum(amount_minor) FROM cashier.orders WHERE merchant_id = $1
                   AND state IN ('PAID', 'REFUNDED')), 0)
               - COALESCE((SELECT sum(amount_minor) FROM cashier.refunds WHERE merchant_id = $1
                   AND state = 'SUCCEEDED'), 0))::text AS balance,
                ((SELECT count(*) FROM cashier.orders WHERE merchant_id = $1 AND state IN ('PAID', 'REFUNDED'))
               + (SELECT count(*) FROM cashier.refunds WHERE merchant_id = $1 AND state = 'SUCCEEDED'))::text AS entries`,
        [merchantId],
      );
      expect(merchant.settlementBalance?.amountMinor.toString(), `merchant ${merchantId}`).to.equal(
        expected?.balance,
      );
      expect(merchant.escrowBalance?.amountMinor).to.equal(0n);
      const [entries] = await rows(
        'SELECT count(*)::text AS n FROM account.entries WHERE account_id = $1::uuid',
        [merchant.merchant?.settlementAccountId ?? ''],
      );
      expect(entries?.n, `entries on merchant ${merchantId}'s pending settlement`).to.equal(
        expected?.entries,
      );
    }

    for (const payerId of w.payers) {
      const [got] = await rows(
        `SELECT (a.available + a.frozen)::text AS balance FROM account.accounts a
           JOIN cashier.ledger_accounts l ON l.account_id = a.id::text WHERE l.account_key = $1`,
        [`CUSTOMER:${payerId}:224101:CNY`],
      );
      const [expected] = await rows(
        `SELECT ($2::bigint
               - COALESCE((SELECT sum(p.amount_minor) FROM cashier.payments p
                    WHERE p.payer_id = $1 AND p.state = 'SUCCEEDED'
                      AND EXISTS (SELECT 1 FROM cashier.orders o WHERE o.order_id = p.order_id AND o.kind = 'PAYMENT')), 0)
               + COALESCE((SELECT sum(r.amount_minor) FROM cashier.refunds r JOIN cashier.payments p ON p.payment_id = r.payment_id
                    WHERE p.payer_id = $1 AND r.state = 'SUCCEEDED'), 0)
               - COALESCE((SELECT sum(amount_minor) FROM cashier.withdrawals WHERE payer_id = $1 AND state = 'SUCCEEDED'), 0)
               )::text AS balance`,
        [payerId, PAYER_FUNDS_MINOR.toString()],
      );
      expect(got?.balance, `payer ${payerId}`).to.equal(expected?.balance);
    }

    const stored = new Set(
      (await rows("SELECT request_id FROM account.transfers WHERE request_id LIKE 'tr-%'")).map(
        (r) => r.request_id,
      ),
    );
    expect(
      [...w.transfersAcknowledged].filter((id) => !stored.has(id)),
      'acknowledged transfers lost',
    ).to.deep.equal([]);

    // Ledger: one voucher per account transfer (once the consumers caught up), nothing set aside, balanced.
    await waitFor(
      'ledger caught up with account',
      async () => {
        const [n] = await rows(
          `SELECT (SELECT count(*) FROM account.transfers)::text AS transfers,
                  (SELECT count(*) FROM ledger.vouchers WHERE source = 'TRANSFER')::text AS vouchers,
                  (SELECT count(*) FROM ledger.voucher_exceptions)::text AS exceptions`,
        );
        return n !== undefined && n.transfers === n.vouchers ? n : undefined;
      },
      60_000,
    );
    expect(await rows('SELECT transfer_id FROM ledger.voucher_exceptions')).to.deep.equal([]);
    const missing = await rows(
      `SELECT t.id::text FROM account.transfers t
        WHERE NOT EXISTS (SELECT 1 FROM ledger.vouchers v WHERE v.transfer_id = t.id::text)`,
    );
    expect(missing, 'account transfers without a voucher').to.deep.equal([]);
    const trial = await unary(p.ledger.getTrialBalance.bind(p.ledger), { accountingDate: chinaToday() });
    expect(trial.balanced).to.equal(true);
    await assertClearedOnce(w);
  }

  /**
   * Settlement's replicas share one durable consumer of cashier's events: once caught up, each
   * succeeded payment and refund of the load's merchants is cleared exactly once, and the month
   * volume (the base of tiered fees) is the sum of the cleared payments, not more.
   */
  async function assertClearedOnce(w: World): Promise<void> {
    const merchants = [...w.merchants];
    await waitFor(
      'settlement cleared every payment and refund',
      async () => {
        const [n] = await rows(
          `SELECT (SELECT count(*) FROM cashier.payments p JOIN cashier.orders o ON o.order_id = p.order_id
                    WHERE p.state = 'SUCCEEDED' AND o.merchant_id = ANY($1))
                + (SELECT count(*) FROM cashier.refunds WHERE state = 'SUCCEEDED' AND merchant_id = ANY($1))
                - (SELECT count(*) FROM settlement.items WHERE merchant_id = ANY($1)) AS missing`,
          [merchants],
        );
        return n?.missing === '0' ? true : undefined;
      },
      60_000,
    );
    const wrong = await rows(
      `SELECT p.payment_id::text, count(i.item_id)::text AS items FROM cashier.payments p
         JOIN cashier.orders o ON o.order_id = p.order_id
         LEFT JOIN settlement.items i ON i.kind = 'PAY' AND i.payment_id = p.payment_id::text
        WHERE p.state = 'SUCCEEDED' AND o.merchant_id = ANY($1)
        GROUP BY p.payment_id HAVING count(i.item_id) <> 1`,
      [merchants],
    );
    expect(wrong, 'payments not cleared exactly once').to.deep.equal([]);
    const volumes = await rows(
      `SELECT v.merchant_id, v.volume_minor::text AS volume,
              (SELECT sum(amount_minor) FROM settlement.items i WHERE i.kind = 'PAY' AND i.merchant_id = v.merchant_id)::text AS cleared
         FROM settlement.month_volumes v WHERE v.merchant_id = ANY($1)`,
      [merchants],
    );
    expect(
      volumes.filter((v) => v.volume !== v.cleared),
      'month volumes',
    ).to.deep.equal([]);
  }
});
