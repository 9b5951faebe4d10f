/**
 * ReconStore over Postgres: the unit of work with one repository per
 * aggregate (files, runs, matching, differences, suspense, transactions,
 * accounts, bank lines), and the reads that need no transaction.
 */
import type { DataSource } from 'typeorm';
import { createUnitOfWork, type IsolationLevel, type SqlTx, type UnitOfWork } from '@paycore/platform';
import type {
  AccountsRepo,
  BankClaimRow,
  BankLineRow,
  BankRepo,
  DifferenceRow,
  DifferencesRepo,
  ListDifferencesQuery,
  NewBankClaim,
  ReconStore,
  ReconTx,
  ResultRow,
  RuleApplication,
  RunRow,
  RunsRepo,
  StatementFileRow,
  SuspensePosting,
  SuspenseRepo,
  TxnsRepo,
} from '../../application/ports';
import type { ChannelTxn, ItemKind, TxnState } from '../../domain/model';
import type { ClaimPurchase } from '../../domain/claim-purchase';
import {
  BANK_CLAIM_TRANSITIONS,
  RUN_TRANSITIONS,
  type BankClaimState,
  type RunState,
} from '../../domain/states';
import { fileRow, PgFiles } from './files';
import { PgLeases } from './leases';
import { DIFFERENCE_ENTITY, PgMatching } from './matching';
import { big, DIFFERENCE_COLUMNS, differenceRow, RUN_COLUMNS, runRow, text, type Row } from './rows';

const RUN_ENTITY = {
  name: 'run',
  table: 'runs',
  idColumn: 'run_id',
  stateColumn: 'state',
  transitions: RUN_TRANSITIONS,
} as const;

class PgRuns implements RunsRepo {
  constructor(private readonly sql: SqlTx) {}

  async lockDay(channelNo: string, billDate: string): Promise<void> {
    await this.sql.query(`SELECT pg_advisory_xact_lock(hashtext('recon-day:' || $1 || ':' || $2))`, [
      channelNo,
      billDate,
    ]);
  }

  async byDay(channelNo: string, billDate: string): Promise<RunRow | null> {
    const rows = await this.sql.query<Row>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE channel_no = $1 AND bill_date = $2`,
      [channelNo, billDate],
    );
    return rows[0] === undefined ? null : runRow(rows[0]);
  }

  async byId(runId: string): Promise<RunRow | null> {
    const rows = await this.sql.query<Row>(`SELECT ${RUN_COLUMNS} FROM runs WHERE run_id = $1`, [runId]);
    return rows[0] === undefined ? null : runRow(rows[0]);
  }

  async insert(run: Omit<RunRow, 'finishedAt' | 'state'>): Promise<void> {
    await this.sql.query(
      `INSERT INTO runs (run_id, channel_no, bill_date, file_id, state) VALUES ($1, $2, $3, $4, 'MATCHED')`,
      [run.runId, run.channelNo, run.billDate, run.fileId],
    );
  }

  async moveTo(runId: string, to: RunState): Promise<boolean> {
    const result = await this.sql.transition(
      RUN_ENTITY,
      runId,
      to,
      to === 'REPORTED' ? { finished_at: new Date() } : {},
    );
    return result.changed;
  }

  async unfinished(startedBefore: Date, limit: number): Promise<RunRow[]> {
    const rows = await this.sql.query<Row>(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE state <> 'REPORTED' AND started_at < $1 ORDER BY started_at LIMIT $2`,
      [startedBefore, limit],
    );
    return rows.map(runRow);
  }
}

class PgDifferences implements DifferencesRepo {
  constructor(private readonly sql: SqlTx) {}

  async byId(differenceId: string): Promise<DifferenceRow | null> {
    if (!/^[0-9a-f-]{36}$/i.test(differenceId)) return null;
    const rows = await this.sql.query<Row>(
      `SELECT ${DIFFERENCE_COLUMNS} FROM differences d WHERE d.difference_id = $1`,
      [differenceId],
    );
    return rows[0] === undefined ? null : differenceRow(rows[0]);
  }

  async toHandle(run: RunRow): Promise<DifferenceRow[]> {
    // This bill's differences plus earlier held items this run opened (hold ran out).
    const rows = await this.sql.query<Row>(
      `SELECT ${DIFFERENCE_COLUMNS} FROM differences d
        WHERE d.channel_no = $1 AND d.state <> 'RESOLVED' AND (d.run_id = $2 OR (d.bill_date < $3 AND d.state = 'OPEN'))
        ORDER BY d.created_at, d.difference_id LIMIT 200000`,
      [run.channelNo, run.runId, run.billDate],
    );
    return rows.map(differenceRow);
  }

  async resolve(
    differenceId: string,
    resolution: string,
    operator: string,
    reason: string,
  ): Promise<DifferenceRow | null> {
    const result = await this.sql.transition(DIFFERENCE_ENTITY, differenceId, 'RESOLVED', {
      resolution,
      operator,
      reason,
      resolved_at: new Date(),
    });
    return result.changed ? this.byId(differenceId) : null;
  }

  async setSuspense(differenceId: string, suspenseMinor: bigint): Promise<void> {
    await this.sql.query('UPDATE differences SET suspense_minor = $2 WHERE difference_id = $1', [
      differenceId,
      suspenseMinor.toString(),
    ]);
  }

  async logRule(application: RuleApplication): Promise<void> {
    await this.sql.query(
      'INSERT INTO rule_applications (run_id, difference_id, rule, outcome, detail) VALUES ($1, $2, $3, $4, $5)',
      [
        application.runId,
        application.differenceId,
        application.rule,
        application.outcome,
        application.detail.slice(0, 500),
      ],
    );
  }

  async ruleApplied(differenceId: string, rule: string): Promise<boolean> {
    const rows = await this.sql.query(
      'SELECT 1 FROM rule_applications WHERE difference_id = $1 AND rule = $2 LIMIT 1',
      [differenceId, rule],
    );
    return rows.length > 0;
  }
}

class PgSuspense implements SuspenseRepo {
  constructor(private readonly sql: SqlTx) {}

  async record(posting: SuspensePosting, transferId: string): Promise<void> {
    await this.sql.query(
      `INSERT INTO suspense_postings (request_id, difference_id, kind, subject_code, amount_minor, transfer_id, posted_at)
       VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT (request_id) DO NOTHING`,
      [
        posting.requestId,
        posting.differenceId,
        posting.kind,
        posting.subjectCode,
        posting.amountMinor.toString(),
        transferId,
      ],
    );
  }

  async byDifference(differenceId: string): Promise<SuspensePosting[]> {
    const rows = await this.sql.query<Row>(
      `SELECT request_id, difference_id::text AS difference_id, kind, subject_code, amount_minor
         FROM suspense_postings WHERE difference_id = $1 ORDER BY posted_at`,
      [differenceId],
    );
    return rows.map((row) => ({
      requestId: text(row['request_id']),
      differenceId: text(row['difference_id']),
      kind: text(row['kind']) === 'POST' ? 'POST' : 'WRITE_OFF',
      subjectCode: text(row['subject_code']),
      amountMinor: big(row['amount_minor']),
    }));
  }
}

/** What the transaction repository needs: one statement at a time (the inbox hands over a bare manager). */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

export class PgTxns implements TxnsRepo {
  constructor(private readonly sql: Queryable) {}

  async upsert(txn: ChannelTxn): Promise<void> {
    await this.sql.query(
      `INSERT INTO channel_txns (txn_id, kind, state, channel_no, pay_channel, biz_code, amount_minor, fee_minor,
         currency, channel_txn_no, original_txn_id, channel_day, finish_time, version, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
       ON CONFLICT (txn_id) DO UPDATE SET state = EXCLUDED.state, biz_code = EXCLUDED.biz_code,
         amount_minor = EXCLUDED.amount_minor, fee_minor = EXCLUDED.fee_minor,
         channel_txn_no = EXCLUDED.channel_txn_no, channel_day = EXCLUDED.channel_day,
         finish_time = EXCLUDED.finish_time, version = EXCLUDED.version, updated_at = now()
       WHERE channel_txns.version < EXCLUDED.version`,
      [
        txn.txnId,
        txn.kind,
        txn.state,
        txn.channelNo,
        txn.payChannel,
        txn.bizCode,
        txn.amountMinor.toString(),
        txn.feeMinor.toString(),
        txn.currency,
        txn.channelTxnNo,
        txn.originalTxnId,
        txn.channelDay,
        txn.finishTime,
        txn.version.toString(),
      ],
    );
  }

  async byId(txnId: string): Promise<ChannelTxn | null> {
    const rows = await this.sql.query<Row>(
      `SELECT txn_id, kind, state, channel_no, pay_channel, biz_code, amount_minor, fee_minor, currency,
              channel_txn_no, original_txn_id, channel_day::text AS channel_day, finish_time, version
         FROM channel_txns WHERE txn_id = $1`,
      [txnId],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      txnId: text(row['txn_id']),
      kind: text(row['kind']) as ItemKind,
      state: text(row['state']) as TxnState,
      channelNo: text(row['channel_no']),
      payChannel: text(row['pay_channel']),
      bizCode: text(row['biz_code']),
      amountMinor: big(row['amount_minor']),
      feeMinor: big(row['fee_minor']),
      currency: text(row['currency']),
      channelTxnNo: text(row['channel_txn_no']),
      originalTxnId: text(row['original_txn_id']),
      channelDay: text(row['channel_day']),
      finishTime: row['finish_time'] instanceof Date ? row['finish_time'] : null,
      version: big(row['version']),
    };
  }
}

class PgAccounts implements AccountsRepo {
  constructor(private readonly sql: SqlTx) {}

  async accountId(key: string): Promise<string | null> {
    const rows = await this.sql.query<Row>('SELECT account_id FROM ledger_accounts WHERE account_key = $1', [
      key,
    ]);
    return rows[0] === undefined ? null : text(rows[0]['account_id']);
  }

  async saveAccountId(key: string, accountId: string): Promise<void> {
    await this.sql.query(
      'INSERT INTO ledger_accounts (account_key, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [key, accountId],
    );
  }
}

function bankRow(row: Row): BankLineRow {
  return {
    lineId: text(row['line_id']),
    bank: text(row['bank']),
    bankSerial: text(row['bank_serial']),
    payerName: text(row['payer_name']),
    amountMinor: big(row['amount_minor']),
    claimedMinor: big(row['claimed_minor']),
    currency: text(row['currency']),
    valueDate: text(row['value_date']),
  };
}

const BANK_COLUMNS = `line_id::text AS line_id, bank, bank_serial, payer_name, amount_minor, claimed_minor, currency,
  value_date::text AS value_date`;

class PgBank implements BankRepo {
  constructor(private readonly sql: SqlTx) {}

  async insertLines(lines: readonly BankLineRow[]): Promise<BankLineRow[]> {
    const out: BankLineRow[] = [];
    for (const line of lines) {
      // A line already imported (same bank serial) is kept as it is, with its claims.
      const rows = await this.sql.query<Row>(
        `WITH inserted AS (
           INSERT INTO bank_lines (line_id, bank, bank_serial, payer_name, amount_minor, currency, value_date)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (bank, bank_serial) DO NOTHING RETURNING *)
         SELECT ${BANK_COLUMNS} FROM inserted
         UNION ALL SELECT ${BANK_COLUMNS} FROM bank_lines WHERE bank = $2 AND bank_serial = $3
           AND NOT EXISTS (SELECT 1 FROM inserted)`,
        [
          line.lineId,
          line.bank,
          line.bankSerial,
          line.payerName,
          line.amountMinor.toString(),
          line.currency,
          line.valueDate,
        ],
      );
      if (rows[0] !== undefined) out.push(bankRow(rows[0]));
    }
    return out;
  }

  async lockLine(lineId: string): Promise<BankLineRow | null> {
    if (!/^[0-9a-f-]{36}$/i.test(lineId)) return null;
    const rows = await this.sql.query<Row>(
      `SELECT ${BANK_COLUMNS} FROM bank_lines WHERE line_id = $1 FOR UPDATE`,
      [lineId],
    );
    return rows[0] === undefined ? null : bankRow(rows[0]);
  }

  async addClaim(lineId: string, claim: NewBankClaim): Promise<void> {
    await this.sql.query(
      `INSERT INTO bank_claims (request_id, line_id, account_id, amount_minor, operator, biz_code, purchase, contract_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        claim.requestId,
        lineId,
        claim.accountId,
        claim.amountMinor.toString(),
        claim.operator,
        claim.bizCode,
        claim.purchase === null ? null : JSON.stringify(purchaseJson(claim.purchase)),
        claim.contractId,
      ],
    );
    await this.sql.query('UPDATE bank_lines SET claimed_minor = claimed_minor + $2 WHERE line_id = $1', [
      lineId,
      claim.amountMinor.toString(),
    ]);
  }

  async claimById(requestId: string): Promise<BankClaimRow | null> {
    const rows = await this.sql.query<Row>(`SELECT ${CLAIM_COLUMNS} FROM bank_claims WHERE request_id = $1`, [
      requestId,
    ]);
    return rows[0] === undefined ? null : claimRow(rows[0]);
  }

  async pendingClaims(before: Date, limit: number): Promise<BankClaimRow[]> {
    const rows = await this.sql.query<Row>(
      `SELECT ${CLAIM_COLUMNS} FROM bank_claims
        WHERE state = 'PENDING' AND purchase IS NOT NULL AND claimed_at < $1
        ORDER BY claimed_at, request_id LIMIT $2`,
      [before, limit],
    );
    return rows.map(claimRow);
  }

  async markPosted(
    requestId: string,
    posted: { transferId: string; contractId: string | null; lotIds: readonly string[] },
  ): Promise<boolean> {
    const result = await this.sql.transition(CLAIM_ENTITY, requestId, 'POSTED', {
      transfer_id: posted.transferId,
      lot_ids: [...posted.lotIds],
      ...(posted.contractId === null ? {} : { contract_id: posted.contractId }),
    });
    return result.changed;
  }

  async markRefused(requestId: string, reason: string): Promise<boolean> {
    const result = await this.sql.transition(CLAIM_ENTITY, requestId, 'REFUSED', { refused_reason: reason });
    if (!result.changed) return false;
    // The refused claim gives its amount back to the line, in the same transaction as its state.
    await this.sql.query(
      `UPDATE bank_lines l SET claimed_minor = l.claimed_minor - c.amount_minor
         FROM bank_claims c WHERE c.request_id = $1 AND l.line_id = c.line_id`,
      [requestId],
    );
    return true;
  }
}

const CLAIM_ENTITY = {
  name: 'bank claim',
  table: 'bank_claims',
  idColumn: 'request_id',
  stateColumn: 'state',
  transitions: BANK_CLAIM_TRANSITIONS,
} as const;

const CLAIM_COLUMNS = `request_id, line_id::text AS line_id, account_id, amount_minor, operator, biz_code, state,
  transfer_id, purchase, contract_id, lot_ids, refused_reason, claimed_at`;

/** The purchase as jsonb: quantities as decimal strings, times as ISO text (or null). */
function purchaseJson(purchase: ClaimPurchase): Record<string, string | null> {
  return {
    ownerId: purchase.ownerId,
    asset: purchase.asset,
    quantity: purchase.quantity.toString(),
    promotionalQuantity: purchase.promotionalQuantity.toString(),
    consumptionType: purchase.consumptionType,
    effectiveAt: purchase.effectiveAt?.toISOString() ?? null,
    expiresAt: purchase.expiresAt?.toISOString() ?? null,
    contractId: purchase.contractId,
  };
}

function purchaseFromJson(value: unknown): ClaimPurchase | null {
  if (value === null || value === undefined) return null;
  const json = value as Record<string, string | null>;
  const date = (field: string | null | undefined) =>
    field === null || field === undefined ? undefined : new Date(field);
  return {
    ownerId: json['ownerId'] ?? '',
    asset: json['asset'] ?? '',
    quantity: BigInt(json['quantity'] ?? '0'),
    promotionalQuantity: BigInt(json['promotionalQuantity'] ?? '0'),
    consumptionType: json['consumptionType'] ?? '',
    effectiveAt: date(json['effectiveAt']),
    expiresAt: date(json['expiresAt']),
    contractId: json['contractId'] ?? '',
  };
}

function claimRow(row: Row): BankClaimRow {
  const nullable = (value: unknown) => (value === null || value === undefined ? null : text(value));
  return {
    requestId: text(row['request_id']),
    lineId: text(row['line_id']),
    accountId: text(row['account_id']),
    amountMinor: big(row['amount_minor']),
    operator: text(row['operator']),
    bizCode: text(row['biz_code']),
    state: text(row['state']) as BankClaimState,
    transferId: nullable(row['transfer_id']),
    purchase: purchaseFromJson(row['purchase']),
    contractId: nullable(row['contract_id']),
    lotIds: (row['lot_ids'] as string[] | null) ?? [],
    refusedReason: nullable(row['refused_reason']),
    claimedAt: row['claimed_at'] as Date,
  };
}

class PgReconTx implements ReconTx {
  readonly files: PgFiles;
  readonly runs: PgRuns;
  readonly matching: PgMatching;
  readonly differences: PgDifferences;
  readonly suspense: PgSuspense;
  readonly txns: PgTxns;
  readonly accounts: PgAccounts;
  readonly bank: PgBank;

  constructor(private readonly sql: SqlTx) {
    this.files = new PgFiles(sql);
    this.runs = new PgRuns(sql);
    this.matching = new PgMatching(sql);
    this.differences = new PgDifferences(sql);
    this.suspense = new PgSuspense(sql);
    this.txns = new PgTxns(sql);
    this.accounts = new PgAccounts(sql);
    this.bank = new PgBank(sql);
  }

  claim: SqlTx['claim'] = (request) => this.sql.claim(request);
  remember: SqlTx['remember'] = (request, response) => this.sql.remember(request, response);
  publish: SqlTx['publish'] = (event) => this.sql.publish(event);
}

export class PgReconStore implements ReconStore {
  private readonly uow: UnitOfWork;
  readonly leases: PgLeases;

  constructor(private readonly dataSource: DataSource) {
    this.uow = createUnitOfWork(dataSource);
    this.leases = new PgLeases(dataSource);
  }

  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: ReconTx) => Promise<T>): Promise<T> {
    return this.uow.transaction(name, isolation, (sql) => fn(new PgReconTx(sql)));
  }

  async listDifferences(query: ListDifferencesQuery): Promise<(DifferenceRow & { createdAt: Date })[]> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT ${DIFFERENCE_COLUMNS} FROM differences d
        WHERE d.channel_no = $1 AND d.bill_date = $2
          AND ($3::timestamptz IS NULL OR (d.created_at, d.difference_id) > ($3::timestamptz, $4::uuid))
        ORDER BY d.created_at, d.difference_id LIMIT $5`,
      [
        query.channelNo,
        query.billDate,
        query.after?.createdAt ?? null,
        query.after?.differenceId ?? null,
        query.limit,
      ],
    );
    return rows.map(differenceRow);
  }

  async results(runId: string, afterSeq: bigint, limit: number): Promise<ResultRow[]> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT seq, class, direction, kind, merchant_order_no, channel_txn_no, platform_txn_id, platform_amount_minor,
              channel_amount_minor, platform_state, channel_status, currency, biz_code
         FROM results WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [runId, afterSeq.toString(), limit],
    );
    return rows.map((row) => ({
      seq: big(row['seq']),
      resultClass: text(row['class']),
      direction: text(row['direction']),
      kind: text(row['kind']),
      merchantOrderNo: text(row['merchant_order_no']),
      channelTxnNo: text(row['channel_txn_no']),
      platformTxnId: text(row['platform_txn_id']),
      platformAmountMinor: big(row['platform_amount_minor']),
      channelAmountMinor: big(row['channel_amount_minor']),
      platformState: text(row['platform_state']),
      channelStatus: text(row['channel_status']),
      currency: text(row['currency']),
      bizCode: text(row['biz_code']),
    }));
  }

  async differenceHistory(
    channelNo: string,
    lastDate: string,
    days: number,
  ): Promise<{ billDate: string; differenceClass: string; count: bigint }[]> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT bill_date::text AS bill_date, class, count(*) AS count FROM differences
        WHERE channel_no = $1 AND bill_date > $2::date - $3::integer AND bill_date <= $2::date
        GROUP BY 1, 2 ORDER BY 1, 2`,
      [channelNo, lastDate, days],
    );
    return rows.map((row) => ({
      billDate: text(row['bill_date']),
      differenceClass: text(row['class']),
      count: big(row['count']),
    }));
  }

  async suspenseTotals(): Promise<{ longMinor: bigint; shortMinor: bigint }> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT COALESCE(sum(suspense_minor) FILTER (WHERE delta_minor > 0), 0) AS long,
              COALESCE(sum(suspense_minor) FILTER (WHERE delta_minor < 0), 0) AS short
         FROM differences WHERE suspense_minor > 0`,
    );
    return { longMinor: big(rows[0]?.['long']), shortMinor: big(rows[0]?.['short']) };
  }

  async listBankClaims(
    lineId: string,
    afterRequestId: string | null,
    limit: number,
  ): Promise<BankClaimRow[] | null> {
    if (!/^[0-9a-f-]{36}$/i.test(lineId)) return null;
    const lines = await this.dataSource.query<Row[]>('SELECT 1 FROM bank_lines WHERE line_id = $1', [lineId]);
    if (lines.length === 0) return null;
    const rows = await this.dataSource.query<Row[]>(
      `SELECT ${CLAIM_COLUMNS} FROM bank_claims
        WHERE line_id = $1
          AND ($2::text IS NULL OR (claimed_at, request_id) >
               (SELECT a.claimed_at, a.request_id FROM bank_claims a WHERE a.request_id = $2))
        ORDER BY claimed_at, request_id LIMIT $3`,
      [lineId, afterRequestId, limit],
    );
    return rows.map(claimRow);
  }

  async statementFile(fileId: string): Promise<StatementFileRow | null> {
    const rows = await this.dataSource.query<Row[]>(
      `SELECT file_id::text AS file_id, channel_no, bill_date::text AS bill_date, format, checksum_sha256, size_bytes,
              line_count, stated_amount_minor, stated_fee_minor, source, operator
         FROM statement_files WHERE file_id = $1`,
      [fileId],
    );
    return rows[0] === undefined ? null : fileRow(rows[0]);
  }
}
