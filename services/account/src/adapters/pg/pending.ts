/**
 * Two-phase transfers: the `pending_transfers` table. The state changes only
 * through the unit of work's transition() along PENDING_TRANSITIONS; the two
 * inserts write the initial states (TRIED, or CANCELLED_EMPTY for a cancel
 * that found no try).
 */
import { SQL_NOW, type SqlTx, type TransitionResult } from '@paycore/platform';
import type { LoadedPending, NewTriedPending, PendingRepo } from '../../application/ports';
import type { PendingState } from '../../domain/pending';
import type { Reservation } from '../../domain/posting';
import {
  legFromJson,
  legToJson,
  PENDING_TRANSFERS,
  postedFromJson,
  type LegJson,
  type PostedTransferJson,
  type Queryable,
} from './sql';

interface PendingRow {
  pending_id: string;
  state: string;
  biz_code: string;
  legs: LegJson[];
  reservations: { accountId: string; amountMinor: string }[];
  try_hash: string;
  confirm_hash: string | null;
  transfer_id: string | null;
  expires_at: Date | null;
  result: PostedTransferJson | null;
}

export async function readPending(sql: Queryable, pendingId: string): Promise<LoadedPending | undefined> {
  const [row] = await sql.query<PendingRow>(
    `SELECT p.pending_id, p.state, p.biz_code, p.legs, p.reservations, p.try_hash, p.confirm_hash, p.transfer_id,
            p.expires_at, t.result
       FROM pending_transfers p LEFT JOIN transfers t ON t.id = p.transfer_id
      WHERE p.pending_id = $1`,
    [pendingId],
  );
  if (row === undefined) return undefined;
  return {
    record: {
      pendingId: row.pending_id,
      state: row.state as PendingState,
      legs: row.legs.map(legFromJson),
      tryHash: row.try_hash,
      confirmHash: row.confirm_hash,
      expiresAt: row.expires_at,
    },
    bizCode: row.biz_code.trim(),
    reservations: row.reservations.map((r) => ({
      accountId: r.accountId,
      amountMinor: BigInt(r.amountMinor),
    })),
    posted: row.result === null ? null : postedFromJson(row.result),
  };
}

function reservationToJson(r: Reservation): { accountId: string; amountMinor: string } {
  return { accountId: r.accountId, amountMinor: r.amountMinor.toString() };
}

export class PgPendingRepo implements PendingRepo {
  constructor(private readonly sql: SqlTx) {}

  async lock(pendingId: string): Promise<void> {
    await this.sql.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`pending:${pendingId}`]);
  }

  find(pendingId: string): Promise<LoadedPending | undefined> {
    return readPending(this.sql, pendingId);
  }

  async insertTried(pending: NewTriedPending): Promise<void> {
    await this.sql.query(
      `INSERT INTO pending_transfers (pending_id, state, biz_code, legs, reservations, try_hash, expires_at)
       VALUES ($1, 'TRIED', $2, $3::jsonb, $4::jsonb, $5, $6)`,
      [
        pending.pendingId,
        pending.bizCode,
        JSON.stringify(pending.legs.map(legToJson)),
        JSON.stringify(pending.reservations.map(reservationToJson)),
        pending.tryHash,
        pending.expiresAt.toISOString(),
      ],
    );
  }

  async insertCancelledEmpty(pendingId: string, bizCode: string): Promise<void> {
    await this.sql.query(
      `INSERT INTO pending_transfers (pending_id, state, biz_code, legs, reservations, try_hash, resolved_at)
       VALUES ($1, 'CANCELLED_EMPTY', $2, '[]', '[]', '', now())`,
      [pendingId, bizCode],
    );
  }

  moveTo(
    pendingId: string,
    to: PendingState,
    confirmed?: { readonly confirmHash: string; readonly transferId: string },
  ): Promise<TransitionResult<PendingState>> {
    const set =
      confirmed === undefined
        ? { resolved_at: SQL_NOW }
        : { resolved_at: SQL_NOW, confirm_hash: confirmed.confirmHash, transfer_id: confirmed.transferId };
    return this.sql.transition(PENDING_TRANSFERS, pendingId, to, set);
  }
}
