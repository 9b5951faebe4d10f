/**
 * Postgres side of stored value: the store (the platform's unit of work with
 * the lot and consumption repositories and the posting port attached) and
 * narrow SQL per aggregate. State changes go through `transition()` with the
 * domain tables; bucket writes are plain updates of a row locked earlier in
 * the same transaction, and the table's CHECKs repeat the lot invariant.
 */
import type { AccountingDayRule } from '@paycore/calendar';
import {
  createUnitOfWork,
  SQL_NOW,
  type EntityStates,
  type IsolationLevel,
  type SqlTx,
  type UnitOfWork,
} from '@paycore/platform';
import type { DataSource } from 'typeorm';
import { CONSUMPTION_TRANSITIONS, type ConsumptionState } from '../../domain/consumptions';
import {
  LOT_TRANSITIONS,
  type Lot,
  type LotCategory,
  type LotState,
  type RecordedDraw,
} from '../../domain/lots';
import type {
  ConsumptionRecordFull,
  ConsumptionRepo,
  ContractRecord,
  LotPage,
  LotRepo,
  MonthConsumption,
  MovementRecord,
  RecognitionRepo,
  MovementView,
  StoredValueStore,
  StoredValueTx,
} from '../../application/stored-value-ports';
import type { AccountEvents } from './events';
import { PgPostingPort } from './lots-postings';
import { PgReconRepo } from './lots-recon';
import { isUuid, sqlStates } from './sql';
import { fromStatesOf } from '@paycore/platform/domain';

/** Lots that can still expire are the live ones (partial indexes sv_lots_usable_idx, sv_lots_due_idx). */
const LIVE_LOT_STATES = sqlStates(fromStatesOf(LOT_TRANSITIONS, 'EXPIRED'));
/** Consumptions a timeout may end (partial index sv_consumptions_timeout_idx). */
const TIMEOUT_STATES = sqlStates(fromStatesOf(CONSUMPTION_TRANSITIONS, 'EXPIRED'));

const LOTS: EntityStates<LotState> = {
  name: 'lot',
  table: 'sv_lots',
  idColumn: 'lot_id',
  stateColumn: 'state',
  transitions: LOT_TRANSITIONS,
};
const CONSUMPTIONS: EntityStates<ConsumptionState> = {
  name: 'consumption',
  table: 'sv_consumptions',
  idColumn: 'consumption_id',
  stateColumn: 'state',
  transitions: CONSUMPTION_TRANSITIONS,
};

interface LotRow {
  lot_id: string;
  contract_id: string;
  owner_id: string;
  asset: string;
  currency: string;
  category: string;
  consumption_type: string | null;
  quantity: string;
  paid_minor: string;
  fair_value_per_unit: string;
  residual_minor: string;
  effective_at: Date;
  expires_at: Date;
  created_seq: string;
  state: string;
  available_quantity: string;
  available_value: string;
  held_quantity: string;
  held_value: string;
  frozen_quantity: string;
  frozen_value: string;
  consumed_quantity: string;
  consumed_value: string;
  expired_quantity: string;
  expired_value: string;
}

const LOT_COLUMNS = `lot_id, contract_id, owner_id, asset, currency, category, consumption_type, quantity, paid_minor,
  fair_value_per_unit::text AS fair_value_per_unit, residual_minor,
  effective_at, expires_at, created_seq, state,
  available_quantity, available_value, held_quantity, held_value, frozen_quantity, frozen_value,
  consumed_quantity, consumed_value, expired_quantity, expired_value`;

function portion(quantity: string, value: string): { quantity: bigint; valueMinor: bigint } {
  return { quantity: BigInt(quantity), valueMinor: BigInt(value) };
}

function lotOf(row: LotRow): Lot {
  return {
    lotId: row.lot_id,
    contractId: row.contract_id,
    ownerId: row.owner_id,
    asset: row.asset,
    currency: row.currency,
    category: row.category as LotCategory,
    consumptionType: row.consumption_type,
    quantity: BigInt(row.quantity),
    paidMinor: BigInt(row.paid_minor),
    fairValuePerUnit: row.fair_value_per_unit,
    residualMinor: BigInt(row.residual_minor),
    effectiveAt: row.effective_at,
    expiresAt: row.expires_at,
    createdSeq: BigInt(row.created_seq),
    state: row.state as LotState,
    available: portion(row.available_quantity, row.available_value),
    held: portion(row.held_quantity, row.held_value),
    frozen: portion(row.frozen_quantity, row.frozen_value),
    consumed: portion(row.consumed_quantity, row.consumed_value),
    expired: portion(row.expired_quantity, row.expired_value),
  };
}

function bucketColumns(
  lot: Pick<Lot, 'available' | 'held' | 'frozen' | 'consumed' | 'expired'>,
): Record<string, bigint> {
  return {
    available_quantity: lot.available.quantity,
    available_value: lot.available.valueMinor,
    held_quantity: lot.held.quantity,
    held_value: lot.held.valueMinor,
    frozen_quantity: lot.frozen.quantity,
    frozen_value: lot.frozen.valueMinor,
    consumed_quantity: lot.consumed.quantity,
    consumed_value: lot.consumed.valueMinor,
    expired_quantity: lot.expired.quantity,
    expired_value: lot.expired.valueMinor,
  };
}

const ZERO = { quantity: 0n, valueMinor: 0n };
/** For the column names only. */
const EXAMPLE_LOT_COLUMNS = { available: ZERO, held: ZERO, frozen: ZERO, consumed: ZERO, expired: ZERO };

interface ContractRow {
  contract_id: string;
  owner_id: string;
  asset: string;
  currency: string;
  paid_minor: string;
  funding_account_id: string | null;
  purchase_transfer_id: string | null;
  biz_code: string;
  created_at: Date;
}

export class PgLotRepo implements LotRepo {
  constructor(
    private readonly sql: SqlTx,
    private readonly accountingDate: () => Promise<string>,
  ) {}

  async insertContract(c: Omit<ContractRecord, 'createdAt'>): Promise<boolean> {
    const inserted = await this.sql.query(
      `INSERT INTO sv_contracts (contract_id, owner_id, asset, currency, paid_minor, funding_account_id,
                                 purchase_transfer_id, biz_code)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (contract_id) DO NOTHING RETURNING 1 AS inserted`,
      [
        c.contractId,
        c.ownerId,
        c.asset,
        c.currency,
        c.paidMinor,
        c.fundingAccountId,
        c.purchaseTransferId,
        c.bizCode,
      ],
    );
    return inserted.length === 1;
  }

  async findContract(contractId: string): Promise<ContractRecord | undefined> {
    const [row] = await this.sql.query<ContractRow>(
      `SELECT contract_id, owner_id, asset, currency, paid_minor, funding_account_id, purchase_transfer_id,
              biz_code, created_at FROM sv_contracts WHERE contract_id = $1`,
      [contractId],
    );
    if (row === undefined) return undefined;
    return {
      contractId: row.contract_id,
      ownerId: row.owner_id,
      asset: row.asset,
      currency: row.currency,
      paidMinor: BigInt(row.paid_minor),
      fundingAccountId: row.funding_account_id,
      purchaseTransferId: row.purchase_transfer_id,
      bizCode: row.biz_code,
      createdAt: row.created_at,
    };
  }

  async insertLots(lots: readonly Lot[]): Promise<Lot[]> {
    const out: Lot[] = [];
    for (const lot of lots) {
      // 'ACTIVE' is the initial state, which no transition produces.
      const [row] = await this.sql.query<LotRow>(
        `INSERT INTO sv_lots (lot_id, contract_id, owner_id, asset, currency, category, consumption_type, quantity,
                              paid_minor, fair_value_per_unit, fair_value_rounding, residual_minor, effective_at,
                              expires_at, state, available_quantity, available_value, held_quantity, held_value,
                              frozen_quantity, frozen_value, consumed_quantity, consumed_value, expired_quantity,
                              expired_value)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::numeric, 'ROUND_HALF_UP', $11, $12, $13, 'ACTIVE',
                 $14, $15, 0, 0, 0, 0, 0, 0, 0, 0)
         RETURNING ${LOT_COLUMNS}`,
        [
          lot.lotId,
          lot.contractId,
          lot.ownerId,
          lot.asset,
          lot.currency,
          lot.category,
          lot.consumptionType,
          lot.quantity,
          lot.paidMinor,
          lot.fairValuePerUnit,
          lot.residualMinor,
          lot.effectiveAt,
          lot.expiresAt,
          lot.available.quantity,
          lot.available.valueMinor,
        ],
      );
      if (row === undefined) throw new Error(`lot ${lot.lotId} was not inserted`);
      out.push(lotOf(row));
    }
    return out;
  }

  async lockUsable(ownerId: string, asset: string): Promise<Lot[]> {
    const found = await this.sql.query<LotRow>(
      `SELECT ${LOT_COLUMNS} FROM sv_lots
       WHERE owner_id = $1 AND asset = $2 AND state IN (${LIVE_LOT_STATES}) AND available_quantity > 0
       ORDER BY lot_id FOR UPDATE`,
      [ownerId, asset],
    );
    return found.map(lotOf);
  }

  async lockLots(lotIds: readonly string[]): Promise<Map<string, Lot>> {
    const ids = [...new Set(lotIds.filter(isUuid))];
    const lots = new Map<string, Lot>();
    if (ids.length === 0) return lots;
    const found = await this.sql.query<LotRow>(
      `SELECT ${LOT_COLUMNS} FROM sv_lots WHERE lot_id = ANY($1::uuid[]) ORDER BY lot_id FOR UPDATE`,
      [ids],
    );
    for (const row of found) lots.set(row.lot_id, lotOf(row));
    return lots;
  }

  async saveBuckets(lots: readonly Lot[]): Promise<void> {
    if (lots.length === 0) return;
    const names = Object.keys(bucketColumns(EXAMPLE_LOT_COLUMNS));
    const arrays = names.map((name) => lots.map((lot) => (bucketColumns(lot)[name] ?? 0n).toString()));
    // The state guard: a lot's buckets change only in the state they were planned in.
    const updated = await this.sql.query(
      `UPDATE sv_lots AS l SET ${names.map((name) => `${name} = u.${name}`).join(', ')}
         FROM unnest($1::uuid[], $2::text[], ${names.map((_, i) => `$${i + 3}::bigint[]`).join(', ')})
              AS u(lot_id, state, ${names.join(', ')})
        WHERE l.lot_id = u.lot_id AND l.state = u.state RETURNING 1 AS updated`,
      [lots.map((lot) => lot.lotId), lots.map((lot) => lot.state), ...arrays],
    );
    if (updated.length !== lots.length) throw new Error('a lot changed state under its row lock');
  }

  async moveState(lot: Lot, to: LotState): Promise<boolean> {
    const moved = await this.sql.transition(LOTS, lot.lotId, to, {
      ...bucketColumns(lot),
      expires_at: lot.expiresAt,
    });
    return moved.changed;
  }

  async listLots(query: {
    ownerId: string;
    asset: string;
    includeSpent: boolean;
    offset: number;
    limit: number;
  }): Promise<LotPage> {
    const spent = query.includeSpent
      ? ''
      : 'AND (available_quantity > 0 OR held_quantity > 0 OR frozen_quantity > 0)';
    const found = await this.sql.query<LotRow>(
      `SELECT ${LOT_COLUMNS} FROM sv_lots WHERE owner_id = $1 AND asset = $2 ${spent}
       ORDER BY expires_at, (category = 'PAID'), created_seq, lot_id OFFSET $3 LIMIT $4`,
      [query.ownerId, query.asset, query.offset, query.limit],
    );
    const [totals] = await this.sql.query<Record<string, string>>(
      `SELECT COALESCE(sum(available_quantity), 0)::text AS aq, COALESCE(sum(available_value), 0)::text AS av,
              COALESCE(sum(expired_quantity), 0)::text AS eq, COALESCE(sum(expired_value), 0)::text AS ev
       FROM sv_lots WHERE owner_id = $1 AND asset = $2 ${spent}`,
      [query.ownerId, query.asset],
    );
    return {
      lots: found.map(lotOf),
      available: portion(totals?.['aq'] ?? '0', totals?.['av'] ?? '0'),
      expired: portion(totals?.['eq'] ?? '0', totals?.['ev'] ?? '0'),
    };
  }

  async lotsOfContract(contractId: string): Promise<Lot[]> {
    const found = await this.sql.query<LotRow>(
      `SELECT ${LOT_COLUMNS} FROM sv_lots WHERE contract_id = $1 ORDER BY created_seq`,
      [contractId],
    );
    return found.map(lotOf);
  }

  async dueForExpiry(now: Date, limit: number): Promise<string[]> {
    const found = await this.sql.query<{ lot_id: string }>(
      `SELECT lot_id FROM sv_lots WHERE state IN (${LIVE_LOT_STATES}) AND expires_at <= $1
       ORDER BY expires_at, lot_id LIMIT $2`,
      [now, limit],
    );
    return found.map((row) => row.lot_id);
  }

  async recordMovements(movements: readonly MovementRecord[]): Promise<void> {
    if (movements.length === 0) return;
    const accountingDate = await this.accountingDate();
    await this.sql.query(
      `INSERT INTO sv_movements (lot_id, contract_id, kind, from_bucket, to_bucket, quantity, value_minor,
                                 consumption_id, transfer_id, request_id, accounting_date)
       SELECT *, $11::date FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                                       $7::bigint[], $8::text[], $9::uuid[], $10::text[])`,
      [
        movements.map((m) => m.lotId),
        movements.map((m) => m.contractId),
        movements.map((m) => m.kind),
        movements.map((m) => m.fromBucket),
        movements.map((m) => m.toBucket),
        movements.map((m) => m.part.quantity.toString()),
        movements.map((m) => m.part.valueMinor.toString()),
        movements.map((m) => m.consumptionId),
        movements.map((m) => m.transferId),
        movements.map((m) => m.requestId),
        accountingDate,
      ],
    );
  }

  async movementsOfContract(contractId: string, limit: number): Promise<MovementView[]> {
    const found = await this.sql.query<{
      movement_id: string;
      lot_id: string;
      contract_id: string;
      kind: MovementRecord['kind'];
      from_bucket: MovementRecord['fromBucket'];
      to_bucket: MovementRecord['toBucket'];
      quantity: string;
      value_minor: string;
      consumption_id: string | null;
      transfer_id: string | null;
      request_id: string | null;
      created_at: Date;
    }>(
      `SELECT movement_id, lot_id, contract_id, kind, from_bucket, to_bucket, quantity, value_minor, consumption_id,
              transfer_id, request_id, created_at
       FROM sv_movements WHERE contract_id = $1 ORDER BY movement_id LIMIT $2`,
      [contractId, limit],
    );
    return found.map((row) => ({
      movementId: BigInt(row.movement_id),
      lotId: row.lot_id,
      contractId: row.contract_id,
      kind: row.kind,
      fromBucket: row.from_bucket,
      toBucket: row.to_bucket,
      part: portion(row.quantity, row.value_minor),
      consumptionId: row.consumption_id,
      transferId: row.transfer_id,
      requestId: row.request_id,
      createdAt: row.created_at,
    }));
  }

  async audit(entry: {
    action: string;
    lotId: string;
    operator: string;
    reason: string;
    requestId: string;
    detail: Record<string, string>;
  }): Promise<void> {
    await this.sql.query(
      `INSERT INTO sv_audit (action, lot_id, operator, reason, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
      [
        entry.action,
        entry.lotId,
        entry.operator,
        entry.reason,
        entry.requestId,
        JSON.stringify(entry.detail),
      ],
    );
  }
}

/** Seed of the consumption id's advisory lock key (any constant; distinct from other keys by design). */
const CONSUMPTION_LOCK_SEED = 7_301_000_003;

interface ConsumptionRow {
  consumption_id: string;
  state: ConsumptionState;
  owner_id: string;
  asset: string;
  consumption_type: string;
  quantity: string;
  value_minor: string;
  currency: string;
  shape_hash: string;
  expires_at: Date | null;
}

export class PgConsumptionRepo implements ConsumptionRepo {
  constructor(private readonly sql: SqlTx) {}

  async find(consumptionId: string, lock: boolean): Promise<ConsumptionRecordFull | undefined> {
    // A row lock cannot hold an id that has no row yet: two first tries (or a
    // try and a cancel) of one id meet on this transaction-scoped key instead.
    if (lock) {
      await this.sql.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2))', [
        consumptionId,
        CONSUMPTION_LOCK_SEED,
      ]);
    }
    const [row] = await this.sql.query<ConsumptionRow>(
      `SELECT consumption_id, state, owner_id, asset, consumption_type, quantity, value_minor, currency, shape_hash,
              expires_at FROM sv_consumptions WHERE consumption_id = $1${lock ? ' FOR UPDATE' : ''}`,
      [consumptionId],
    );
    if (row === undefined) return undefined;
    const draws = await this.sql.query<{
      lot_id: string;
      quantity: string;
      value_minor: string;
      refunded_quantity: string;
      refunded_value: string;
    }>(
      `SELECT lot_id, quantity, value_minor, refunded_quantity, refunded_value FROM sv_draws
       WHERE consumption_id = $1 ORDER BY seq`,
      [consumptionId],
    );
    return {
      consumptionId: row.consumption_id,
      state: row.state,
      ownerId: row.owner_id,
      asset: row.asset,
      consumptionType: row.consumption_type,
      quantity: BigInt(row.quantity),
      valueMinor: BigInt(row.value_minor),
      currency: row.currency,
      shapeHash: row.shape_hash,
      expiresAt: row.expires_at,
      draws: draws.map((d): RecordedDraw => ({
        lotId: d.lot_id,
        quantity: BigInt(d.quantity),
        valueMinor: BigInt(d.value_minor),
        refunded: portion(d.refunded_quantity, d.refunded_value),
      })),
    };
  }

  async insert(record: ConsumptionRecordFull, bizCode: string): Promise<void> {
    // The initial state (CONFIRMED for a one-shot, TRIED, or CANCELLED_EMPTY)
    // is written by the insert; every later state comes from transition().
    await this.sql.query(
      `INSERT INTO sv_consumptions (consumption_id, state, owner_id, asset, consumption_type, quantity, value_minor,
                                    currency, shape_hash, expires_at, biz_code, resolved_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $2 = 'TRIED' THEN NULL ELSE now() END)`,
      [
        record.consumptionId,
        record.state,
        record.ownerId,
        record.asset,
        record.consumptionType,
        record.quantity,
        record.valueMinor,
        record.currency,
        record.shapeHash,
        record.expiresAt,
        bizCode,
      ],
    );
    if (record.draws.length === 0) return;
    await this.sql.query(
      `INSERT INTO sv_draws (consumption_id, seq, lot_id, quantity, value_minor)
       SELECT $1, s - 1, l, q, v FROM unnest($2::uuid[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS d(l, q, v, s)`,
      [
        record.consumptionId,
        record.draws.map((d) => d.lotId),
        record.draws.map((d) => d.quantity.toString()),
        record.draws.map((d) => d.valueMinor.toString()),
      ],
    );
  }

  async moveTo(consumptionId: string, to: ConsumptionState): Promise<boolean> {
    const moved = await this.sql.transition(CONSUMPTIONS, consumptionId, to, { resolved_at: SQL_NOW });
    return moved.changed;
  }

  async saveRefunds(consumptionId: string, draws: readonly RecordedDraw[]): Promise<void> {
    await this.sql.query(
      `UPDATE sv_draws AS d SET refunded_quantity = r.q, refunded_value = r.v
       FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS r(q, v, s)
       WHERE d.consumption_id = $1 AND d.seq = r.s - 1`,
      [
        consumptionId,
        draws.map((d) => d.refunded.quantity.toString()),
        draws.map((d) => d.refunded.valueMinor.toString()),
      ],
    );
  }

  async timedOut(now: Date, limit: number): Promise<string[]> {
    const found = await this.sql.query<{ consumption_id: string }>(
      `SELECT consumption_id FROM sv_consumptions WHERE state IN (${TIMEOUT_STATES}) AND expires_at <= $1
       ORDER BY expires_at, consumption_id LIMIT $2`,
      [now, limit],
    );
    return found.map((row) => row.consumption_id);
  }
}

export class PgRecognitionRepo implements RecognitionRepo {
  constructor(
    private readonly sql: SqlTx,
    readonly accountingDate: () => Promise<string>,
  ) {}

  async unrecognised(first: string, last: string, limit: number): Promise<MonthConsumption[]> {
    // Net consumed value per contract over the month's movements: into
    // consumed counts, out of consumed (refunds) counts negative.
    const found = await this.sql.query<{ contract_id: string; currency: string; value: string }>(
      `SELECT m.contract_id, c.currency,
              sum(CASE WHEN m.to_bucket = 'consumed' THEN m.value_minor
                       WHEN m.from_bucket = 'consumed' THEN -m.value_minor ELSE 0 END)::text AS value
         FROM sv_movements m JOIN sv_contracts c USING (contract_id)
        WHERE m.accounting_date BETWEEN $1::date AND $2::date
          AND NOT EXISTS (SELECT 1 FROM sv_recognitions r WHERE r.contract_id = m.contract_id AND r.period = $3)
        GROUP BY m.contract_id, c.currency ORDER BY m.contract_id LIMIT $4`,
      [first, last, first.slice(0, 7), limit],
    );
    return found.map((row) => ({
      contractId: row.contract_id,
      currency: row.currency,
      valueMinor: BigInt(row.value),
    }));
  }

  async insert(row: MonthConsumption & { period: string; transferId: string | null }): Promise<boolean> {
    const inserted = await this.sql.query(
      `INSERT INTO sv_recognitions (contract_id, period, value_minor, currency, transfer_id)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1 AS inserted`,
      [row.contractId, row.period, row.valueMinor, row.currency, row.transferId],
    );
    return inserted.length === 1;
  }

  async recognisedOf(contractId: string): Promise<bigint> {
    const [row] = await this.sql.query<{ value: string }>(
      'SELECT COALESCE(sum(value_minor), 0)::text AS value FROM sv_recognitions WHERE contract_id = $1',
      [contractId],
    );
    return BigInt(row?.value ?? '0');
  }
}

export interface PgStoredValueStoreOptions {
  readonly dataSource: DataSource;
  readonly events: AccountEvents;
  readonly calendar: AccountingDayRule;
  /** Prefix of event subjects (tests isolate streams with it); '' in production. */
  readonly natsPrefix?: string;
  readonly now?: () => Date;
}

export class PgStoredValueStore implements StoredValueStore {
  private readonly uow: UnitOfWork;
  private readonly now: () => Date;

  constructor(private readonly options: PgStoredValueStoreOptions) {
    this.uow = createUnitOfWork(options.dataSource);
    this.now = options.now ?? ((): Date => new Date());
  }

  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: StoredValueTx) => Promise<T>): Promise<T> {
    return this.uow.transaction(name, isolation, (sql) => {
      const postings = new PgPostingPort(sql, this.options.events, this.options.calendar, this.now);
      let date: Promise<string> | undefined;
      // One accounting date per transaction, the one account's postings get.
      const accountingDate = (): Promise<string> => (date ??= postings.accountingDate());
      return fn(
        Object.assign(sql, {
          lots: new PgLotRepo(sql, accountingDate),
          recognitions: new PgRecognitionRepo(sql, accountingDate),
          recon: new PgReconRepo(sql, this.options.natsPrefix ?? ''),
          consumptions: new PgConsumptionRepo(sql),
          postings,
        }),
      );
    });
  }
}
