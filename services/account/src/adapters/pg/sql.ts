/**
 * Small helpers shared by the pg adapter: a reader for statements outside a
 * transaction, the posting lock, row mapping, state lists rendered from the
 * domain tables, and the JSON form of results (bigints as decimal text, since
 * JSON numbers would lose them).
 */
import type { EntityStates, Queryable } from '@paycore/platform';
import { fromStatesOf, statesOf } from '@paycore/platform/domain';
import type { AccountView, PostedTransfer } from '../../application/model';
import type { Side } from '@paycore/money';
import type { PendingState } from '../../domain/pending';
import {
  ACCOUNT_STATUS_TRANSITIONS,
  FREEZE_TRANSITIONS,
  PENDING_TRANSITIONS,
  type FreezeStatus,
} from '../../domain/states';
import type { AccountState, AccountStatus, Leg, OwnerType, PostedLeg, PostingMode } from '../../domain/types';

export { poolReader, type Queryable } from '@paycore/platform';

export const ACCOUNTS: EntityStates<AccountStatus> = {
  name: 'account',
  table: 'accounts',
  idColumn: 'id',
  stateColumn: 'status',
  transitions: ACCOUNT_STATUS_TRANSITIONS,
};
export const PENDING_TRANSFERS: EntityStates<PendingState> = {
  name: 'pending transfer',
  table: 'pending_transfers',
  idColumn: 'pending_id',
  stateColumn: 'state',
  transitions: PENDING_TRANSITIONS,
};
export const FREEZES: EntityStates<FreezeStatus> = {
  name: 'freeze',
  table: 'freezes',
  idColumn: 'id',
  stateColumn: 'status',
  transitions: FREEZE_TRANSITIONS,
};

/** A state list as SQL literals, rendered from a domain table (never written by hand). */
export function sqlStates(states: readonly string[]): string {
  return states.map((state) => `'${state.replace(/'/g, "''")}'`).join(', ');
}

/** The states from which a pending transfer may expire (partial index pending_transfers_expiry_idx). */
export const EXPIRABLE_STATES = sqlStates(fromStatesOf(PENDING_TRANSITIONS, 'EXPIRED'));
/** Freezes still in force: every state that is not final (partial index freezes_account_idx). */
export const FREEZE_IN_FORCE_STATES = sqlStates(
  statesOf(FREEZE_TRANSITIONS).filter((state) => FREEZE_TRANSITIONS[state].length > 0),
);

/**
 * Serialises posting transactions against SealDay and SetPostingMode: every
 * posting transaction takes this key shared, they take it exclusive. Shared
 * advisory locks cost no row writes, so batches do not contend on it.
 */
export const POSTING_LOCK_KEY = '7300100200300400501';

export async function lockPostingShared(sql: Queryable): Promise<void> {
  await sql.query('SELECT pg_advisory_xact_lock_shared($1::bigint)', [POSTING_LOCK_KEY]);
}

export async function lockPostingExclusive(sql: Queryable): Promise<void> {
  await sql.query('SELECT pg_advisory_xact_lock($1::bigint)', [POSTING_LOCK_KEY]);
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Account ids are UUIDs; anything else cannot exist and must not reach a ::uuid cast. */
export function isUuid(text: string): boolean {
  return UUID_PATTERN.test(text);
}

export interface AccountRow {
  id: string;
  owner_type: string;
  owner_id: string;
  subject_code: string;
  currency: string;
  normal_side: string;
  allow_overdraft: boolean;
  status: string;
  posting_mode: string;
  flush_interval_ms: number;
  flush_batch_max: number;
  available: string;
  frozen: string;
  last_seq: string;
  created_at: Date;
}

export const ACCOUNT_COLUMNS =
  'id, owner_type, owner_id, subject_code, currency, normal_side, allow_overdraft, status, posting_mode, ' +
  'flush_interval_ms, flush_batch_max, available::text, frozen::text, last_seq::text, created_at';

export function stateOf(row: AccountRow): AccountState {
  return {
    id: row.id,
    subjectCode: row.subject_code,
    currency: row.currency,
    normalSide: row.normal_side as Side,
    allowOverdraft: row.allow_overdraft,
    status: row.status as AccountStatus,
    postingMode: row.posting_mode as PostingMode,
    available: BigInt(row.available),
    frozen: BigInt(row.frozen),
    lastSeq: BigInt(row.last_seq),
  };
}

export function viewOf(row: AccountRow, pendingBuffered: bigint): AccountView {
  const state = stateOf(row);
  return {
    id: row.id,
    ownerType: row.owner_type as OwnerType,
    ownerId: row.owner_id,
    subjectCode: state.subjectCode,
    currency: state.currency,
    normalSide: state.normalSide,
    allowOverdraft: state.allowOverdraft,
    status: state.status,
    postingMode: state.postingMode,
    flushIntervalMs: row.flush_interval_ms,
    flushBatchMax: row.flush_batch_max,
    available: state.available,
    frozen: state.frozen,
    pendingBuffered,
    lastSeq: state.lastSeq,
    createdAt: row.created_at,
  };
}

/** Writes changed account states back in one statement. */
export async function saveStates(sql: Queryable, states: Iterable<AccountState>): Promise<void> {
  const list = [...states];
  if (list.length === 0) return;
  await sql.query(
    `UPDATE accounts a SET available = u.available, frozen = u.frozen, last_seq = u.last_seq, version = a.version + 1
       FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(id, available, frozen, last_seq)
      WHERE a.id = u.id`,
    [
      list.map((s) => s.id),
      list.map((s) => s.available.toString()),
      list.map((s) => s.frozen.toString()),
      list.map((s) => s.lastSeq.toString()),
    ],
  );
}

/** Reads accounts; with `lock`, FOR UPDATE in id order — the one global lock order. */
export async function loadStates(
  sql: Queryable,
  ids: readonly string[],
  lock: boolean,
): Promise<Map<string, AccountState>> {
  const valid = [...new Set(ids.filter(isUuid))];
  const states = new Map<string, AccountState>();
  if (valid.length === 0) return states;
  const found = await sql.query<AccountRow>(
    `SELECT ${ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY id${lock ? ' FOR UPDATE' : ''}`,
    [valid],
  );
  for (const row of found) states.set(row.id, stateOf(row));
  return states;
}

// JSON forms: bigints as text.
export interface LegJson {
  accountId: string;
  side: Side;
  amountMinor: string;
  currency: string;
}
export interface PostedLegJson extends LegJson {
  subjectCode: string;
  entrySeq: string;
  buffered: boolean;
}
export interface PostedTransferJson {
  transferId: string;
  requestId: string;
  bizCode: string;
  accountingDate: string;
  legs: PostedLegJson[];
  postedAt: string;
  pendingId: string;
}

export function legToJson(leg: Leg): LegJson {
  return {
    accountId: leg.accountId,
    side: leg.side,
    amountMinor: leg.amountMinor.toString(),
    currency: leg.currency,
  };
}
export function legFromJson(json: LegJson): Leg {
  return {
    accountId: json.accountId,
    side: json.side,
    amountMinor: BigInt(json.amountMinor),
    currency: json.currency,
  };
}
export function postedToJson(posted: PostedTransfer): PostedTransferJson {
  return {
    transferId: posted.transferId,
    requestId: posted.requestId,
    bizCode: posted.bizCode,
    accountingDate: posted.accountingDate,
    legs: posted.legs.map((leg) => ({
      ...legToJson(leg),
      subjectCode: leg.subjectCode,
      entrySeq: leg.entrySeq.toString(),
      buffered: leg.buffered,
    })),
    postedAt: posted.postedAt.toISOString(),
    pendingId: posted.pendingId,
  };
}
export function postedFromJson(json: PostedTransferJson): PostedTransfer {
  return {
    transferId: json.transferId,
    requestId: json.requestId,
    bizCode: json.bizCode,
    accountingDate: json.accountingDate,
    legs: json.legs.map((leg): PostedLeg => ({
      ...legFromJson(leg),
      subjectCode: leg.subjectCode,
      entrySeq: BigInt(leg.entrySeq),
      buffered: leg.buffered,
    })),
    postedAt: new Date(json.postedAt),
    pendingId: json.pendingId,
  };
}
