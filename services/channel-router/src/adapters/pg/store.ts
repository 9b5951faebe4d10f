/**
 * Postgres storage of channel-router (schema `channel`). Every state change
 * of a transaction happens in one transaction with its `channel.txn_updated`
 * outbox row, under a row lock, after the pure state machine has agreed, so
 * an event is written exactly once per change whatever races (callback vs.
 * status sync vs. query) happen.
 */
import { createHash, randomBytes } from 'node:crypto';
import { inTransaction, traceHeadersForStorage, writeOutbox } from '@paycore/platform';
import { TxnUpdated } from '@paycore/proto/paycore/channel/v1/events';
import { TxnState as PbState } from '@paycore/proto/paycore/channel/v1/types';
import type { DataSource, EntityManager } from 'typeorm';
import type { ChangeSource, PayeeRecord, StatementRecord, Txn } from '../../application/model';
import { IdempotencyKeyReusedError } from '../../domain/errors';
import {
  chinaDate,
  type ChannelAction,
  type ChannelNumberConfig,
  type ChannelProtocol,
  type ChannelStatus,
  type MaintenanceWindow,
  type RouteConfig,
} from '../../domain/model';
import { usageKey } from '../../domain/routing';
import { isFinal, transition, type TxnKind, type TxnState } from '../../domain/txn';
import type { RoundingMode } from '@paycore/money';
import type { ChannelOutcome } from '../channels/types';
import { STATE_TO_PB, txnToProto } from '../mapping';

export const REGISTRY_ROWS_MAX = 1000;

/** TypeORM answers an UPDATE … RETURNING on Postgres with [rows, affectedCount]; a SELECT with rows. */
function returnedRows<T>(result: unknown): T[] {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[0] as T[];
  }
  return result as T[];
}

interface TxnRow {
  txn_id: string;
  kind: TxnKind;
  state: TxnState;
  biz_code: string;
  pay_channel: string;
  channel_no: string;
  currency: string;
  amount: string;
  fee: string;
  subject: string;
  payee: PayeeRecord | null;
  channel_txn_no: string;
  original_txn_id: string | null;
  failure_code: string;
  failure_message: string;
  retryable_elsewhere: boolean;
  pay_url: string;
  cap_date: string | null;
  version: string;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  close_deadline: Date;
  sync_attempts: number;
}

const TXN_COLUMNS = `txn_id, kind, state, biz_code, pay_channel, channel_no, currency, amount::text AS amount,
  fee::text AS fee, subject, payee, channel_txn_no, original_txn_id, failure_code, failure_message,
  retryable_elsewhere, pay_url, to_char(cap_date, 'YYYY-MM-DD') AS cap_date, version::text AS version,
  created_at, updated_at, finished_at, close_deadline, sync_attempts`;

function toTxn(row: TxnRow): Txn {
  return {
    txnId: row.txn_id,
    kind: row.kind,
    state: row.state,
    bizCode: row.biz_code,
    payChannel: row.pay_channel,
    channelNo: row.channel_no,
    currency: row.currency,
    amount: BigInt(row.amount),
    fee: BigInt(row.fee),
    subject: row.subject,
    payee: row.payee ?? undefined,
    channelTxnNo: row.channel_txn_no,
    originalTxnId: row.original_txn_id ?? '',
    failureCode: row.failure_code,
    failureMessage: row.failure_message,
    retryableElsewhere: row.retryable_elsewhere,
    payUrl: row.pay_url,
    version: BigInt(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at ?? undefined,
    closeDeadline: row.close_deadline,
    syncAttempts: row.sync_attempts,
  };
}

interface ChannelRow {
  channel_no: string;
  name: string;
  protocol: ChannelProtocol;
  status: ChannelStatus;
  base_url: string;
  close_after_seconds: number;
  has_credentials: boolean;
}

function toChannel(row: ChannelRow): ChannelNumberConfig {
  return {
    channelNo: row.channel_no,
    name: row.name,
    protocol: row.protocol,
    status: row.status,
    baseUrl: row.base_url,
    closeAfterSeconds: row.close_after_seconds,
    hasCredentials: row.has_credentials,
  };
}

interface RouteRow {
  pay_channel: string;
  channel_no: string;
  fee_rate: string;
  rounding_mode: RoundingMode;
  currency: string;
  min_amount: string;
  max_amount: string;
  daily_cap: string;
  weight: number;
  priority: number;
  status: ChannelStatus;
  maintenance_windows: MaintenanceWindow[];
  supported_actions: ChannelAction[];
}

function toRoute(row: RouteRow): RouteConfig {
  return {
    payChannel: row.pay_channel,
    channelNo: row.channel_no,
    feeRate: row.fee_rate,
    roundingMode: row.rounding_mode,
    currency: row.currency,
    minAmount: BigInt(row.min_amount),
    maxAmount: BigInt(row.max_amount),
    dailyCap: BigInt(row.daily_cap),
    weight: row.weight,
    priority: row.priority,
    status: row.status,
    maintenanceWindows: row.maintenance_windows,
    supportedActions: row.supported_actions,
  };
}

const ROUTE_COLUMNS = `pay_channel, channel_no, fee_rate, rounding_mode, currency, min_amount::text AS min_amount,
  max_amount::text AS max_amount, daily_cap::text AS daily_cap, weight, priority, status, maintenance_windows,
  supported_actions`;

export interface NewTxn {
  readonly requestId: string;
  readonly operation: string;
  readonly requestHash: string;
  readonly kind: TxnKind;
  readonly bizCode: string;
  readonly payChannel: string;
  readonly channelNo: string;
  readonly currency: string;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly subject: string;
  readonly payee?: PayeeRecord;
  readonly originalTxnId?: string;
  readonly closeDeadline: Date;
  readonly firstSyncAt: Date;
  /** Reserve the amount against this daily cap (0n = uncapped, nothing reserved). */
  readonly dailyCap: bigint;
}

export type InsertResult =
  | { readonly kind: 'CREATED'; readonly txn: Txn }
  | { readonly kind: 'REPLAY'; readonly txn: Txn }
  | { readonly kind: 'CAP_EXCEEDED' }
  | { readonly kind: 'REFUND_EXCEEDS' };

export interface ApplyResult {
  readonly txn: Txn;
  readonly changed: boolean;
}

/** Transaction ids are sent to channels as merchant order numbers: short, [A-Z0-9] only (WeChat allows 32). */
export function newTxnId(kind: TxnKind, nowMs: number): string {
  const prefix = kind === 'PAYMENT' ? 'P' : kind === 'REFUND' ? 'R' : 'O';
  return `${prefix}${chinaDate(nowMs).replace(/-/g, '')}${randomBytes(10).toString('hex').toUpperCase()}`;
}

export class PgChannelStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly subject: string,
    private readonly nowMs: () => number = Date.now,
  ) {}

  // ---- registry ------------------------------------------------------------

  async upsertChannelNumber(channel: ChannelNumberConfig): Promise<ChannelNumberConfig> {
    await this.dataSource.query(
      `INSERT INTO channel_numbers (channel_no, name, protocol, status, base_url, close_after_seconds)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (channel_no) DO UPDATE SET name = EXCLUDED.name, protocol = EXCLUDED.protocol,
         status = EXCLUDED.status, base_url = EXCLUDED.base_url,
         close_after_seconds = EXCLUDED.close_after_seconds, updated_at = now()`,
      [
        channel.channelNo,
        channel.name,
        channel.protocol,
        channel.status,
        channel.baseUrl,
        channel.closeAfterSeconds,
      ],
    );
    const stored = await this.channelNumber(channel.channelNo);
    if (stored === undefined) throw new Error('channel number vanished after upsert');
    return stored;
  }

  async setCredentials(channelNo: string, sealed: Buffer): Promise<boolean> {
    const rows = returnedRows<unknown>(
      await this.dataSource.query(
        `UPDATE channel_numbers SET credentials_sealed = $2, updated_at = now() WHERE channel_no = $1 RETURNING channel_no`,
        [channelNo, sealed],
      ),
    );
    return rows.length === 1;
  }

  async sealedCredentials(channelNo: string): Promise<Buffer | undefined> {
    const rows: { credentials_sealed: Buffer | null }[] = await this.dataSource.query(
      'SELECT credentials_sealed FROM channel_numbers WHERE channel_no = $1',
      [channelNo],
    );
    return rows[0]?.credentials_sealed ?? undefined;
  }

  async channelNumber(channelNo: string): Promise<ChannelNumberConfig | undefined> {
    const rows: ChannelRow[] = await this.dataSource.query(
      `SELECT channel_no, name, protocol, status, base_url, close_after_seconds,
              credentials_sealed IS NOT NULL AS has_credentials
       FROM channel_numbers WHERE channel_no = $1`,
      [channelNo],
    );
    return rows[0] === undefined ? undefined : toChannel(rows[0]);
  }

  async channelNumbers(): Promise<ChannelNumberConfig[]> {
    const rows: ChannelRow[] = await this.dataSource.query(
      `SELECT channel_no, name, protocol, status, base_url, close_after_seconds,
              credentials_sealed IS NOT NULL AS has_credentials
       FROM channel_numbers ORDER BY channel_no LIMIT ${REGISTRY_ROWS_MAX}`,
    );
    return rows.map(toChannel);
  }

  async upsertRoute(route: RouteConfig): Promise<RouteConfig> {
    await this.dataSource.query(
      `INSERT INTO routes (pay_channel, channel_no, fee_rate, rounding_mode, currency, min_amount, max_amount,
         daily_cap, weight, priority, status, maintenance_windows, supported_actions)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13)
       ON CONFLICT (pay_channel, channel_no) DO UPDATE SET fee_rate = EXCLUDED.fee_rate,
         rounding_mode = EXCLUDED.rounding_mode, currency = EXCLUDED.currency, min_amount = EXCLUDED.min_amount,
         max_amount = EXCLUDED.max_amount, daily_cap = EXCLUDED.daily_cap, weight = EXCLUDED.weight,
         priority = EXCLUDED.priority, status = EXCLUDED.status,
         maintenance_windows = EXCLUDED.maintenance_windows, supported_actions = EXCLUDED.supported_actions,
         updated_at = now()`,
      [
        route.payChannel,
        route.channelNo,
        route.feeRate,
        route.roundingMode,
        route.currency,
        route.minAmount.toString(),
        route.maxAmount.toString(),
        route.dailyCap.toString(),
        route.weight,
        route.priority,
        route.status,
        JSON.stringify(route.maintenanceWindows),
        route.supportedActions,
      ],
    );
    return route;
  }

  async routes(): Promise<RouteConfig[]> {
    const rows: RouteRow[] = await this.dataSource.query(
      `SELECT ${ROUTE_COLUMNS} FROM routes ORDER BY pay_channel, channel_no LIMIT ${REGISTRY_ROWS_MAX}`,
    );
    return rows.map(toRoute);
  }

  async route(payChannel: string, channelNo: string): Promise<RouteConfig | undefined> {
    const rows: RouteRow[] = await this.dataSource.query(
      `SELECT ${ROUTE_COLUMNS} FROM routes WHERE pay_channel = $1 AND channel_no = $2`,
      [payChannel, channelNo],
    );
    return rows[0] === undefined ? undefined : toRoute(rows[0]);
  }

  async usedOn(date: string): Promise<Map<string, bigint>> {
    const rows: { pay_channel: string; channel_no: string; used: string }[] = await this.dataSource.query(
      `SELECT pay_channel, channel_no, used_amount::text AS used FROM daily_usage WHERE usage_date = $1`,
      [date],
    );
    return new Map(rows.map((row) => [usageKey(row.pay_channel, row.channel_no), BigInt(row.used)]));
  }

  // ---- transactions --------------------------------------------------------

  async txn(txnId: string): Promise<Txn | undefined> {
    const rows: TxnRow[] = await this.dataSource.query(
      `SELECT ${TXN_COLUMNS} FROM transactions WHERE txn_id = $1`,
      [txnId],
    );
    return rows[0] === undefined ? undefined : toTxn(rows[0]);
  }

  /** The txn of an earlier request with this id, after checking it was the same request. */
  async replay(requestId: string, requestHash: string): Promise<Txn | undefined> {
    const rows: { request_hash: string; txn_id: string }[] = await this.dataSource.query(
      'SELECT request_hash, txn_id FROM requests WHERE request_id = $1',
      [requestId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    if (row.request_hash !== requestHash) {
      throw new IdempotencyKeyReusedError(
        `request_id "${requestId}" was used for a different request`,
        'request_id',
      );
    }
    return this.txn(row.txn_id);
  }

  /** Records a request that acts on an existing transaction (close) for idempotency. */
  async rememberRequest(
    requestId: string,
    operation: string,
    requestHash: string,
    txnId: string,
  ): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO requests (request_id, operation, request_hash, txn_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (request_id) DO NOTHING`,
      [requestId, operation, requestHash, txnId],
    );
  }

  /**
   * Creates a transaction in state UNKNOWN (version 0, nothing published yet:
   * the outcome of the channel call publishes the first event), with its
   * idempotency row, reserving the daily cap or refund headroom atomically.
   */
  async insertTxn(input: NewTxn): Promise<InsertResult> {
    const nowMs = this.nowMs();
    const txnId = newTxnId(input.kind, nowMs);
    return inTransaction(
      this.dataSource,
      async (m) => {
        const claimed: unknown[] = await m.query(
          `INSERT INTO requests (request_id, operation, request_hash, txn_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (request_id) DO NOTHING RETURNING request_id`,
          [input.requestId, input.operation, input.requestHash, txnId],
        );
        if (claimed.length === 0) {
          const replayed = await this.replayIn(m, input.requestId, input.requestHash);
          return { kind: 'REPLAY', txn: replayed } as const;
        }
        let capDate: string | null = null;
        if (input.dailyCap > 0n) {
          capDate = chinaDate(nowMs);
          if (
            !(await this.reserve(m, input.payChannel, input.channelNo, capDate, input.amount, input.dailyCap))
          ) {
            throw new CapExceeded();
          }
        }
        if (input.originalTxnId !== undefined) {
          // Lock the payment so concurrent refunds of it are serialised, then check the headroom.
          await m.query('SELECT txn_id FROM transactions WHERE txn_id = $1 FOR UPDATE', [
            input.originalTxnId,
          ]);
          const sums: { refunded: string; paid: string }[] = await m.query(
            `SELECT COALESCE(SUM(r.amount) FILTER (WHERE r.state <> 'FAIL'), 0)::text AS refunded, p.amount::text AS paid
             FROM transactions p LEFT JOIN transactions r ON r.original_txn_id = p.txn_id
             WHERE p.txn_id = $1 GROUP BY p.amount`,
            [input.originalTxnId],
          );
          const sum = sums[0];
          if (sum === undefined || BigInt(sum.refunded) + input.amount > BigInt(sum.paid))
            throw new RefundExceeds();
        }
        await m.query(
          `INSERT INTO transactions (txn_id, kind, state, biz_code, pay_channel, channel_no, currency, amount, fee,
             subject, payee, original_txn_id, cap_date, close_deadline, next_sync_at, trace_headers)
           VALUES ($1, $2, 'UNKNOWN', $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14, $15::jsonb)`,
          [
            txnId,
            input.kind,
            input.bizCode,
            input.payChannel,
            input.channelNo,
            input.currency,
            input.amount.toString(),
            input.fee.toString(),
            input.subject,
            input.payee === undefined ? null : JSON.stringify(input.payee),
            input.originalTxnId ?? null,
            capDate,
            input.closeDeadline,
            input.firstSyncAt,
            JSON.stringify(traceHeadersForStorage()),
          ],
        );
        const txn = await this.lockedTxn(m, txnId);
        return { kind: 'CREATED', txn } as const;
      },
      { isolation: 'READ COMMITTED', name: 'channel.insert_txn' },
    ).catch((err: unknown) => {
      if (err instanceof CapExceeded) return { kind: 'CAP_EXCEEDED' } as const;
      if (err instanceof RefundExceeds) return { kind: 'REFUND_EXCEEDS' } as const;
      throw err;
    });
  }

  private async replayIn(m: EntityManager, requestId: string, requestHash: string): Promise<Txn> {
    const rows: { request_hash: string; txn_id: string }[] = await m.query(
      'SELECT request_hash, txn_id FROM requests WHERE request_id = $1',
      [requestId],
    );
    const row = rows[0];
    if (row === undefined) throw new Error('request row vanished');
    if (row.request_hash !== requestHash) {
      throw new IdempotencyKeyReusedError(
        `request_id "${requestId}" was used for a different request`,
        'request_id',
      );
    }
    return this.lockedTxn(m, row.txn_id);
  }

  /** One guarded UPDATE: the counter moves only if the cap still holds, so concurrent reservations cannot overshoot. */
  private async reserve(
    m: EntityManager,
    payChannel: string,
    channelNo: string,
    date: string,
    amount: bigint,
    cap: bigint,
  ): Promise<boolean> {
    await m.query(
      `INSERT INTO daily_usage (pay_channel, channel_no, usage_date) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [payChannel, channelNo, date],
    );
    const rows = returnedRows<unknown>(
      await m.query(
        `UPDATE daily_usage SET used_amount = used_amount + $4
         WHERE pay_channel = $1 AND channel_no = $2 AND usage_date = $3 AND used_amount + $4 <= $5
         RETURNING used_amount`,
        [payChannel, channelNo, date, amount.toString(), cap.toString()],
      ),
    );
    return rows.length === 1;
  }

  private async lockedTxn(m: EntityManager, txnId: string): Promise<Txn> {
    const rows: TxnRow[] = await m.query(
      `SELECT ${TXN_COLUMNS} FROM transactions WHERE txn_id = $1 FOR UPDATE`,
      [txnId],
    );
    if (rows[0] === undefined) throw new Error(`transaction ${txnId} not found`);
    return toTxn(rows[0]);
  }

  /**
   * Applies what the channel said. The state moves only as the state machine
   * allows; the first outcome of a new transaction (version 0) is always
   * published, even if it stays UNKNOWN, so every transaction is announced.
   * Details (channel id, pay URL, failure) are kept with the change. A final
   * FAIL or CLOSED of a capped payment releases its reservation.
   */
  /** The trace context of the request that created the transaction ({} if none was active). */
  async traceHeaders(txnId: string): Promise<Record<string, string>> {
    const rows: { trace_headers: Record<string, string> }[] = await this.dataSource.query(
      'SELECT trace_headers FROM transactions WHERE txn_id = $1',
      [txnId],
    );
    return rows[0]?.trace_headers ?? {};
  }

  async apply(txnId: string, outcome: ChannelOutcome, source: ChangeSource): Promise<ApplyResult> {
    return inTransaction(
      this.dataSource,
      async (m) => {
        const before = await this.lockedTxn(m, txnId);
        const next = outcome.state ?? before.state;
        const move = transition(before.state, next);
        const announce = before.version === 0n;
        if (!move.change && !announce) {
          if (
            outcome.channelTxnNo !== undefined &&
            outcome.channelTxnNo !== '' &&
            before.channelTxnNo === ''
          ) {
            await m.query('UPDATE transactions SET channel_txn_no = $2 WHERE txn_id = $1', [
              txnId,
              outcome.channelTxnNo,
            ]);
          }
          return { txn: before, changed: false };
        }
        const final = isFinal(next);
        await m.query(
          `UPDATE transactions SET state = $2, version = version + 1, updated_at = now(),
             finished_at = CASE WHEN $3 THEN now() ELSE finished_at END,
             next_sync_at = CASE WHEN $3 THEN NULL ELSE next_sync_at END,
             exception_at = CASE WHEN $3 THEN NULL ELSE exception_at END,
             channel_txn_no = CASE WHEN $4 <> '' THEN $4 ELSE channel_txn_no END,
             pay_url = CASE WHEN $5 <> '' THEN $5 ELSE pay_url END,
             failure_code = CASE WHEN $6 <> '' THEN $6 ELSE failure_code END,
             failure_message = CASE WHEN $7 <> '' THEN $7 ELSE failure_message END,
             retryable_elsewhere = $8
           WHERE txn_id = $1`,
          [
            txnId,
            next,
            final,
            outcome.channelTxnNo ?? '',
            outcome.payUrl ?? '',
            outcome.failureCode ?? '',
            outcome.failureMessage ?? '',
            next === 'FAIL' && outcome.retryableElsewhere === true,
          ],
        );
        if ((next === 'FAIL' || next === 'CLOSED') && before.kind === 'PAYMENT')
          await this.release(m, before);
        const after = await this.lockedTxn(m, txnId);
        await writeOutbox(m, {
          subject: this.subject,
          payload: TxnUpdated.encode({
            transaction: txnToProto(after),
            previousState: announce ? PbState.TXN_STATE_UNSPECIFIED : STATE_TO_PB[before.state],
            source,
          }).finish(),
          headers: { 'Biz-Context': after.bizCode },
        });
        return { txn: after, changed: true };
      },
      { isolation: 'READ COMMITTED', name: 'channel.apply_outcome' },
    );
  }

  private async release(m: EntityManager, txn: Txn): Promise<void> {
    // The row is locked by the caller; read the reserved day, then clear it so a release happens once.
    const rows: { cap_date: string | null }[] = await m.query(
      `SELECT to_char(cap_date, 'YYYY-MM-DD') AS cap_date FROM transactions WHERE txn_id = $1`,
      [txn.txnId],
    );
    const capDate = rows[0]?.cap_date;
    if (capDate === undefined || capDate === null) return;
    await m.query('UPDATE transactions SET cap_date = NULL WHERE txn_id = $1', [txn.txnId]);
    await m.query(
      `UPDATE daily_usage SET used_amount = GREATEST(used_amount - $4, 0)
       WHERE pay_channel = $1 AND channel_no = $2 AND usage_date = $3`,
      [txn.payChannel, txn.channelNo, capDate, txn.amount.toString()],
    );
  }

  // ---- status sync -------------------------------------------------------

  /**
   * Claims up to `batchSizeMax` due transactions by pushing their next sync
   * `leaseMs` ahead (SKIP LOCKED: replicas never claim the same row).
   */
  async claimDue(batchSizeMax: number, leaseMs: number): Promise<Txn[]> {
    const result: unknown = await this.dataSource.query(
      `UPDATE transactions SET next_sync_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE txn_id IN (
         SELECT txn_id FROM transactions WHERE next_sync_at <= now() ORDER BY next_sync_at
         LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING ${TXN_COLUMNS}`,
      [batchSizeMax, leaseMs],
    );
    return returnedRows<TxnRow>(result).map(toTxn);
  }

  async scheduleSync(txnId: string, atMs: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE transactions SET next_sync_at = $2, sync_attempts = sync_attempts + 1
       WHERE txn_id = $1 AND state IN ('PROCESSING', 'UNKNOWN')`,
      [txnId, new Date(atMs)],
    );
  }

  async markException(txnId: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE transactions SET next_sync_at = NULL, exception_at = now()
       WHERE txn_id = $1 AND state IN ('PROCESSING', 'UNKNOWN')`,
      [txnId],
    );
  }

  async exceptions(limit: number): Promise<Txn[]> {
    const rows: TxnRow[] = await this.dataSource.query(
      `SELECT ${TXN_COLUMNS} FROM transactions WHERE exception_at IS NOT NULL ORDER BY exception_at LIMIT $1`,
      [limit],
    );
    return rows.map(toTxn);
  }

  // ---- notifications and statements --------------------------------------

  async recordNotification(
    channelNo: string,
    txnId: string | undefined,
    verified: boolean,
    outcome: string,
    body: string,
  ): Promise<void> {
    await this.dataSource.query(
      'INSERT INTO notifications (channel_no, txn_id, verified, outcome, body) VALUES ($1, $2, $3, $4, $5)',
      [channelNo, txnId ?? null, verified, outcome, body.slice(0, 64 * 1024)],
    );
  }

  async saveStatement(
    channelNo: string,
    billDate: string,
    format: string,
    content: Buffer,
    lineCount: number,
  ): Promise<StatementRecord> {
    const checksum = createHash('sha256').update(content).digest('hex');
    const statementId = `S${channelNo}${billDate.replace(/-/g, '')}`;
    await this.dataSource.query(
      `INSERT INTO statements (statement_id, channel_no, bill_date, format, checksum_sha256, line_count, size_bytes, content)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (channel_no, bill_date) DO UPDATE SET format = EXCLUDED.format,
         checksum_sha256 = EXCLUDED.checksum_sha256, line_count = EXCLUDED.line_count,
         size_bytes = EXCLUDED.size_bytes, content = EXCLUDED.content, downloaded_at = now()
       WHERE statements.checksum_sha256 <> EXCLUDED.checksum_sha256`,
      [statementId, channelNo, billDate, format, checksum, lineCount, content.length, content],
    );
    return {
      statementId,
      channelNo,
      billDate,
      format,
      checksumSha256: checksum,
      lineCount,
      sizeBytes: content.length,
    };
  }

  async statement(statementId: string): Promise<{ record: StatementRecord; content: Buffer } | undefined> {
    const rows: {
      statement_id: string;
      channel_no: string;
      bill_date: string;
      format: string;
      checksum_sha256: string;
      line_count: number;
      size_bytes: number;
      content: Buffer;
    }[] = await this.dataSource.query(
      `SELECT statement_id, channel_no, to_char(bill_date, 'YYYY-MM-DD') AS bill_date, format, checksum_sha256,
              line_count, size_bytes, content FROM statements WHERE statement_id = $1`,
      [statementId],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      record: {
        statementId: row.statement_id,
        channelNo: row.channel_no,
        billDate: row.bill_date,
        format: row.format,
        checksumSha256: row.checksum_sha256,
        lineCount: row.line_count,
        sizeBytes: row.size_bytes,
      },
      content: row.content,
    };
  }
}

class CapExceeded extends Error {}
class RefundExceeds extends Error {}
