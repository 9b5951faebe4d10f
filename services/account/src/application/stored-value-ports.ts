/**
 * The store port of stored value: one unit of work (the platform's, with
 * claim / remember / publish) carrying narrow repositories for lots and
 * consumptions and the posting port into account's balances. No SQL here.
 */
import type { IsolationLevel, TxPort } from '@paycore/platform';
import type { Side } from '@paycore/money';
import type { ConsumptionState } from '../domain/consumptions';
import type { Bucket, Lot, LotState, Portion, RecordedDraw } from '../domain/lots';
import type {
  DifferenceAction,
  DifferenceClass,
  ReconFigures,
  ReconLevel,
} from '../domain/sv-reconciliation';

export interface ContractRecord {
  readonly contractId: string;
  readonly ownerId: string;
  readonly asset: string;
  readonly currency: string;
  readonly paidMinor: bigint;
  readonly fundingAccountId: string | null;
  readonly purchaseTransferId: string | null;
  readonly bizCode: string;
  readonly createdAt: Date;
}

export type MovementKind =
  | 'PURCHASE'
  | 'CONSUME'
  | 'TRY'
  | 'CONFIRM'
  | 'CANCEL'
  | 'TIMEOUT'
  | 'REFUND'
  | 'EXPIRE'
  | 'REACTIVATE'
  | 'FREEZE'
  | 'UNFREEZE';

export interface MovementRecord {
  readonly lotId: string;
  readonly contractId: string;
  readonly kind: MovementKind;
  /** '' for the purchase, which creates the units. */
  readonly fromBucket: Bucket | '';
  readonly toBucket: Bucket;
  readonly part: Portion;
  readonly consumptionId: string | null;
  readonly transferId: string | null;
  readonly requestId: string | null;
}

export interface MovementView extends MovementRecord {
  readonly movementId: bigint;
  readonly createdAt: Date;
}

export interface ConsumptionRecordFull {
  readonly consumptionId: string;
  readonly state: ConsumptionState;
  readonly ownerId: string;
  readonly asset: string;
  readonly consumptionType: string;
  readonly quantity: bigint;
  readonly valueMinor: bigint;
  readonly currency: string;
  readonly shapeHash: string;
  readonly expiresAt: Date | null;
  readonly draws: readonly RecordedDraw[];
}

export interface LotPage {
  readonly lots: readonly Lot[];
  readonly available: Portion;
  readonly expired: Portion;
}

export interface LotRepo {
  /** False when the contract id exists already. */
  insertContract(contract: Omit<ContractRecord, 'createdAt'>): Promise<boolean>;
  findContract(contractId: string): Promise<ContractRecord | undefined>;
  /** Inserts lots; returns them with their creation order filled in. */
  insertLots(lots: readonly Lot[]): Promise<Lot[]>;
  /** The owner's active lots of an asset with available units, locked in lot id order. */
  lockUsable(ownerId: string, asset: string): Promise<Lot[]>;
  /** These lots, locked in lot id order. */
  lockLots(lotIds: readonly string[]): Promise<Map<string, Lot>>;
  /** Writes the buckets of locked lots (not their state), in one statement. */
  saveBuckets(lots: readonly Lot[]): Promise<void>;
  /** Moves a lot's state through the domain table, writing its buckets and expiry in the same statement. */
  moveState(lot: Lot, to: LotState): Promise<boolean>;
  listLots(query: {
    ownerId: string;
    asset: string;
    includeSpent: boolean;
    offset: number;
    limit: number;
  }): Promise<LotPage>;
  lotsOfContract(contractId: string): Promise<Lot[]>;
  /** Ids of active lots whose expiry is at or before `now`, oldest expiry first. */
  dueForExpiry(now: Date, limit: number): Promise<string[]>;
  recordMovements(movements: readonly MovementRecord[]): Promise<void>;
  movementsOfContract(contractId: string, limit: number): Promise<MovementView[]>;
  audit(entry: {
    action: string;
    lotId: string;
    operator: string;
    reason: string;
    requestId: string;
    detail: Record<string, string>;
  }): Promise<void>;
}

export interface ConsumptionRepo {
  /** With `lock`, the id is locked for the transaction (present or not) and the row FOR UPDATE. */
  find(consumptionId: string, lock: boolean): Promise<ConsumptionRecordFull | undefined>;
  insert(record: ConsumptionRecordFull, bizCode: string): Promise<void>;
  /** Moves the state through the domain table; false if the table did not allow it from the current state. */
  moveTo(consumptionId: string, to: ConsumptionState): Promise<boolean>;
  saveRefunds(consumptionId: string, draws: readonly RecordedDraw[]): Promise<void>;
  /** Ids of TRIED consumptions whose timeout passed. */
  timedOut(now: Date, limit: number): Promise<string[]>;
}

export interface MonthConsumption {
  readonly contractId: string;
  readonly currency: string;
  /** Net consumed value (consumptions minus refunds); may be negative. */
  readonly valueMinor: bigint;
}

export interface RecognitionRepo {
  /** The accounting date postings get now (YYYY-MM-DD). */
  accountingDate(): Promise<string>;
  /** Contracts with movements dated first..last (inclusive) and no recognition for that month yet. */
  unrecognised(first: string, last: string, limit: number): Promise<MonthConsumption[]>;
  /** False when the contract's month was recognised already. */
  insert(row: MonthConsumption & { period: string; transferId: string | null }): Promise<boolean>;
  /** Σ recognised over every month of a contract. */
  recognisedOf(contractId: string): Promise<bigint>;
}

export interface ReconRow {
  readonly accountingDate: string;
  readonly level: ReconLevel;
  readonly scopeKey: string;
  readonly currency: string;
  readonly figures: ReconFigures;
  readonly difference: Portion;
  readonly klass: DifferenceClass;
  readonly action: DifferenceAction | null;
  readonly transferId: string | null;
}

export interface ReconRepo {
  /** True when the platform rows of the date exist (the date was reconciled). */
  isReconciled(accountingDate: string): Promise<boolean>;
  /**
   * Figures of up to `limit` scopes of a level after `after`, in (key,
   * currency) order: total sold less what earlier BALANCE actions explained, and the
   * lots' buckets now.
   */
  figures(
    level: ReconLevel,
    accountingDate: string,
    after: { scopeKey: string; currency: string } | null,
    limit: number,
  ): Promise<{ scopeKey: string; currency: string; figures: ReconFigures }[]>;
  insertRows(rows: readonly ReconRow[]): Promise<void>;
  /** Writes the difference event to the outbox. */
  publishDifference(row: ReconRow): Promise<void>;
  report(
    accountingDate: string,
    limit: number,
  ): Promise<{ rows: ReconRow[]; classCounts: Record<string, bigint> }>;
}

export interface PostingLeg {
  readonly accountId: string;
  readonly side: Side;
  readonly amountMinor: bigint;
  readonly currency: string;
}

export interface PostingPort {
  /** The platform's internal account on a leaf subject in a currency, opened on first use (credit-normal unless said). */
  internalAccount(subjectCode: string, currency: string, normalSide?: Side): Promise<string>;
  /** Posts balanced legs through account's posting in this transaction; returns the transfer id. */
  post(posting: {
    requestId: string;
    bizCode: string;
    memo: string;
    legs: readonly PostingLeg[];
  }): Promise<string>;
}

export interface StoredValueTx extends TxPort {
  readonly lots: LotRepo;
  readonly consumptions: ConsumptionRepo;
  readonly recognitions: RecognitionRepo;
  readonly recon: ReconRepo;
  readonly postings: PostingPort;
}

export interface StoredValueStore {
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: StoredValueTx) => Promise<T>): Promise<T>;
}
