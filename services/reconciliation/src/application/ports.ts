/**
 * What reconciliation's use cases need from the outside world. The pg adapter
 * implements ReconStore / ReconTx (one repository per aggregate, no SQL
 * here); the gRPC adapters implement ChannelPort, AccountPort and LedgerPort.
 */
import type { IsolationLevel, TxPort } from '@paycore/platform';
import type {
  ChannelTxn,
  Direction,
  DifferenceClass,
  ItemKind,
  Leg,
  ParsedStatement,
  StatementLine,
  TxnState,
} from '../domain/model';
import type { ClaimPurchase } from '../domain/claim-purchase';
import type { BankClaimState, DifferenceState, RunState } from '../domain/states';

export interface StatementFileRow {
  readonly fileId: string;
  readonly channelNo: string;
  readonly billDate: string;
  readonly format: string;
  readonly checksumSha256: string;
  readonly sizeBytes: number;
  readonly lineCount: number;
  readonly statedAmountMinor: bigint;
  readonly statedFeeMinor: bigint;
  readonly source: 'DOWNLOAD' | 'UPLOAD';
  readonly operator: string;
}

export interface RunRow {
  readonly runId: string;
  readonly channelNo: string;
  readonly billDate: string;
  readonly fileId: string;
  readonly state: RunState;
  readonly finishedAt: Date | null;
}

export interface DifferenceRow {
  readonly differenceId: string;
  readonly runId: string;
  readonly channelNo: string;
  readonly billDate: string;
  readonly differenceClass: DifferenceClass;
  readonly direction: Direction;
  /** Channel's signed amount minus paycore's (what suspense parks). */
  readonly deltaMinor: bigint;
  readonly kind: ItemKind;
  readonly merchantOrderNo: string;
  readonly channelTxnNo: string;
  readonly platformTxnId: string;
  readonly platformAmountMinor: bigint;
  readonly channelAmountMinor: bigint;
  readonly currency: string;
  readonly bizCode: string;
  readonly state: DifferenceState;
  readonly holdUntil: string | null;
  readonly suspenseMinor: bigint;
  readonly resolution: string | null;
  readonly operator: string | null;
  readonly reason: string | null;
  readonly platformState: TxnState | null;
}

export interface HoldPolicy {
  /** Bills a held item waits for before it opens (0: never hold). */
  readonly holdDays: number;
  /** A line this close to the end of its day may belong to the next day's records. */
  readonly windowMinutes: number;
}

export interface MatchOutcome {
  /** Held items of earlier bills that this bill matched (now resolved). */
  readonly heldMatched: readonly DifferenceRow[];
  /** Held items of earlier bills whose hold ran out (now open). */
  readonly heldExpired: readonly DifferenceRow[];
  /** New differences of this bill. */
  readonly opened: readonly DifferenceRow[];
}

export interface ClassTotalRow {
  readonly differenceClass: string;
  readonly count: bigint;
  readonly channelAmountMinor: bigint;
  readonly platformAmountMinor: bigint;
}

export interface DayFigures {
  readonly classes: readonly ClassTotalRow[];
  readonly heldCount: bigint;
  readonly openCount: bigint;
  /** Every difference of the channel day, whatever its state (each had its DifferenceOpened). */
  readonly differenceCount: bigint;
  readonly suspenseOpenMinor: bigint;
  readonly rulesApplied: Readonly<Record<string, bigint>>;
  /** From the bill's SUCCESS lines: pay − refunds, and fees. */
  readonly grossMinor: bigint;
  readonly feeMinor: bigint;
  readonly matchedCount: bigint;
  readonly matchedAmountMinor: bigint;
  /** Over every line whatever its status (what the footer sums). */
  readonly linesAmountMinor: bigint;
  readonly linesFeeMinor: bigint;
  /** Σ delta of the bill's differences still explaining a gap (not closed by paycore catching up). */
  readonly reconcilingDeltaMinor: bigint;
  /** Signed amount of lines that matched items held from earlier bills (paycore booked them earlier). */
  readonly heldMatchedLinesMinor: bigint;
}

export interface RuleApplication {
  readonly runId: string;
  readonly differenceId: string | null;
  readonly rule: string;
  readonly outcome: string;
  readonly detail: string;
}

export interface SuspensePosting {
  readonly requestId: string;
  readonly differenceId: string;
  readonly kind: 'POST' | 'WRITE_OFF';
  readonly subjectCode: string;
  readonly amountMinor: bigint;
}

export interface BankLineRow {
  readonly lineId: string;
  readonly bank: string;
  readonly bankSerial: string;
  readonly payerName: string;
  readonly amountMinor: bigint;
  readonly claimedMinor: bigint;
  readonly currency: string;
  readonly valueDate: string;
}

export interface FilesRepo {
  byChecksum(channelNo: string, billDate: string, checksum: string): Promise<StatementFileRow | null>;
  byId(fileId: string): Promise<StatementFileRow | null>;
  insert(file: StatementFileRow): Promise<void>;
  /** COPY of the lines in bounded chunks, inside the transaction. */
  copyLines(file: StatementFileRow, statement: ParsedStatement): Promise<void>;
  /**
   * COPY of lines as they are read (batches from a streaming reader), in
   * bounded chunks inside the transaction; a batch source that throws aborts
   * the COPY (the transaction then rolls back). Returns the lines copied.
   */
  copyLineBatches(file: StatementFileRow, batches: AsyncIterable<readonly StatementLine[]>): Promise<number>;
  /** What is known of a streamed file once all of it was read. */
  complete(
    fileId: string,
    figures: { sizeBytes: number; lineCount: number; statedAmountMinor: bigint; statedFeeMinor: bigint },
  ): Promise<void>;
}

export interface LeaseState {
  readonly taken: boolean;
  /** When the current holder's lease ends (database clock). */
  readonly expiresAt: Date;
}

/** The run lease of a (channel number, date); each call is its own short transaction. */
export interface LeasePort {
  /** Takes the lease for `owner` (or renews it) until now + ttlMs, unless another owner holds an unexpired one. */
  take(channelNo: string, billDate: string, owner: string, ttlMs: number): Promise<LeaseState>;
  /** Gives the lease up if `owner` still holds it. */
  release(channelNo: string, billDate: string, owner: string): Promise<void>;
}

export interface RunsRepo {
  /** Serialises runs of one (channel number, date) until the transaction ends. */
  lockDay(channelNo: string, billDate: string): Promise<void>;
  byDay(channelNo: string, billDate: string): Promise<RunRow | null>;
  byId(runId: string): Promise<RunRow | null>;
  insert(run: Omit<RunRow, 'finishedAt' | 'state'>): Promise<void>;
  moveTo(runId: string, to: RunState): Promise<boolean>;
  /** Runs not yet REPORTED and started before `startedBefore` (a killed process leaves them), oldest first. */
  unfinished(startedBefore: Date, limit: number): Promise<RunRow[]>;
}

export interface MatchingRepo {
  /** Set-based: held items first, then the day's lines against paycore's transactions. */
  matchDay(run: RunRow, policy: HoldPolicy): Promise<MatchOutcome>;
  figures(run: RunRow): Promise<DayFigures>;
}

export interface DifferencesRepo {
  byId(differenceId: string): Promise<DifferenceRow | null>;
  /** Differences the run must still handle (rules, suspense). */
  toHandle(run: RunRow): Promise<DifferenceRow[]>;
  resolve(
    differenceId: string,
    resolution: string,
    operator: string,
    reason: string,
  ): Promise<DifferenceRow | null>;
  setSuspense(differenceId: string, suspenseMinor: bigint): Promise<void>;
  logRule(application: RuleApplication): Promise<void>;
  ruleApplied(differenceId: string, rule: string): Promise<boolean>;
}

export interface SuspenseRepo {
  record(posting: SuspensePosting, transferId: string): Promise<void>;
  byDifference(differenceId: string): Promise<SuspensePosting[]>;
}

export interface TxnsRepo {
  /** Newest version wins; older or equal versions are ignored. */
  upsert(txn: ChannelTxn): Promise<void>;
  byId(txnId: string): Promise<ChannelTxn | null>;
}

export interface AccountsRepo {
  accountId(key: string): Promise<string | null>;
  saveAccountId(key: string, accountId: string): Promise<void>;
}

/** A claim as recorded; `purchase` (with its contract id resolved) is set for an offline stored-value purchase. */
export interface BankClaimRow {
  readonly requestId: string;
  readonly lineId: string;
  /** The credited account of a plain claim; empty for a purchase. */
  readonly accountId: string;
  readonly amountMinor: bigint;
  readonly operator: string;
  readonly bizCode: string;
  readonly state: BankClaimState;
  readonly transferId: string | null;
  readonly purchase: ClaimPurchase | null;
  readonly contractId: string | null;
  readonly lotIds: readonly string[];
  readonly refusedReason: string | null;
  readonly claimedAt: Date;
}

export type NewBankClaim = Pick<
  BankClaimRow,
  'requestId' | 'accountId' | 'amountMinor' | 'operator' | 'bizCode' | 'purchase' | 'contractId'
>;

export interface BankRepo {
  insertLines(lines: readonly BankLineRow[]): Promise<BankLineRow[]>;
  lockLine(lineId: string): Promise<BankLineRow | null>;
  /** Records the claim (PENDING) and reserves its amount on the line. */
  addClaim(lineId: string, claim: NewBankClaim): Promise<void>;
  claimById(requestId: string): Promise<BankClaimRow | null>;
  /**
   * PENDING purchase claims recorded before `before`, oldest first, at most `limit`. Plain
   * claims are left to their replay: a Transfer account refuses would stay PENDING and, retried
   * every pass, hold the batch.
   */
  pendingClaims(before: Date, limit: number): Promise<BankClaimRow[]>;
  /** PENDING → POSTED with what account answered; false when the claim was not PENDING. */
  markPosted(
    requestId: string,
    posted: { transferId: string; contractId: string | null; lotIds: readonly string[] },
  ): Promise<boolean>;
  /** PENDING → REFUSED, and the claim's amount goes back to its line; false when the claim was not PENDING. */
  markRefused(requestId: string, reason: string): Promise<boolean>;
}

export interface ReconTx extends TxPort {
  readonly files: FilesRepo;
  readonly runs: RunsRepo;
  readonly matching: MatchingRepo;
  readonly differences: DifferencesRepo;
  readonly suspense: SuspenseRepo;
  readonly txns: TxnsRepo;
  readonly accounts: AccountsRepo;
  readonly bank: BankRepo;
}

export interface ListDifferencesQuery {
  readonly channelNo: string;
  readonly billDate: string;
  readonly after: { createdAt: Date; differenceId: string } | null;
  readonly limit: number;
}

export interface ReconStore {
  readonly leases: LeasePort;
  transaction<T>(name: string, isolation: IsolationLevel, fn: (tx: ReconTx) => Promise<T>): Promise<T>;
  listDifferences(query: ListDifferencesQuery): Promise<(DifferenceRow & { createdAt: Date })[]>;
  /** Row-level results of a run, in pages of at most `limit` rows after `afterSeq`. */
  results(runId: string, afterSeq: bigint, limit: number): Promise<ResultRow[]>;
  /** Per day and class, the number of differences over the window ending at `lastDate`. */
  differenceHistory(
    channelNo: string,
    lastDate: string,
    days: number,
  ): Promise<{ billDate: string; differenceClass: string; count: bigint }[]>;
  statementFile(fileId: string): Promise<StatementFileRow | null>;
  /** Claims of a bank line, oldest first (claimed_at, request_id), after the claim `afterRequestId`; null if no such line. */
  listBankClaims(
    lineId: string,
    afterRequestId: string | null,
    limit: number,
  ): Promise<BankClaimRow[] | null>;
  /** Suspense not written off, over all days: long (delta > 0) and short (delta < 0), minor units. */
  suspenseTotals(): Promise<{ longMinor: bigint; shortMinor: bigint }>;
}

export interface ResultRow {
  readonly seq: bigint;
  readonly resultClass: string;
  readonly direction: string;
  readonly kind: string;
  readonly merchantOrderNo: string;
  readonly channelTxnNo: string;
  readonly platformTxnId: string;
  readonly platformAmountMinor: bigint;
  readonly channelAmountMinor: bigint;
  readonly platformState: string;
  readonly channelStatus: string;
  readonly currency: string;
  readonly bizCode: string;
}

/** channel-router, as reconciliation uses it. */
export interface ChannelPort {
  /** The stored bill's bytes; undefined when the channel has none for the date yet. */
  downloadStatement(
    channelNo: string,
    billDate: string,
  ): Promise<{ format: string; content: Buffer } | undefined>;
  /** Asks the channel and applies its outcome (completing the cashier order through channel.txn_updated). */
  queryPayment(txnId: string): Promise<{ state: TxnState; amountMinor: bigint }>;
}

/** account, as reconciliation uses it. */
export interface AccountPort {
  /** The platform's account on a subject (found by listing, else opened with `openRequestId`). */
  internalAccount(
    subjectCode: string,
    normalSide: 'DEBIT' | 'CREDIT',
    currency: string,
    openRequestId: string,
  ): Promise<string>;
  transfer(requestId: string, bizCode: string, legs: readonly Leg[], memo: string): Promise<string>;
  /**
   * StoredValueService.Purchase: a contract and its lots, Dr `fundingAccountId` / Cr unearned
   * revenue for `paidMinor`. A refusal by account is a typed answer (its reason), not an error;
   * an unreachable account is ReconError DEPENDENCY_UNAVAILABLE.
   */
  purchase(command: PurchaseCommand): Promise<PurchaseOutcome>;
  /** Balance on the account's normal side, minor units. */
  balance(accountId: string): Promise<bigint>;
  /** Debits minus credits posted in [start, end), leaving out transfers whose code starts with `excludeCodePrefix`. */
  movement(accountId: string, start: Date, end: Date, excludeCodePrefix: string): Promise<bigint>;
}

export interface PurchaseCommand {
  readonly requestId: string;
  readonly bizCode: string;
  readonly contractId: string;
  readonly purchase: ClaimPurchase;
  readonly paidMinor: bigint;
  readonly currency: string;
  readonly fundingAccountId: string;
}

export type PurchaseOutcome =
  | {
      readonly kind: 'bought';
      readonly contractId: string;
      readonly transferId: string;
      readonly lotIds: string[];
    }
  | { readonly kind: 'refused'; readonly reason: string; readonly message: string };

/** ledger, as reconciliation uses it. */
export interface LedgerPort {
  checkReport(accountingDate: string): Promise<{ status: string; detail: string } | undefined>;
}

/** Facts reconciliation publishes, built by the NATS adapter (subject, protobuf payload, headers). */
export interface DayReconciledFact {
  readonly run: RunRow;
  readonly payChannel: string;
  readonly currency: string;
  readonly figures: DayFigures;
  readonly reconciledAt: Date;
}

export interface EventFactory<E> {
  dayReconciled(fact: DayReconciledFact): E;
  differenceOpened(difference: DifferenceRow): E;
  differenceResolved(difference: DifferenceRow, resolvedAt: Date): E;
}
