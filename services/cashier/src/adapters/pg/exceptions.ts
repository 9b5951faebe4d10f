/**
 * The exception queue: flows that people must decide. One OPEN exception per
 * flow at a time (a partial unique index); a flow may get a new one after an
 * earlier one was resolved.
 */
import { randomUUID } from 'node:crypto';
import { SQL_NOW, type SqlTx } from '@paycore/platform';
import type { ExceptionStateName } from '../../domain/states';
import type { ExceptionRepo } from '../../application/ports';
import type { ExceptionRecord } from '../../application/records';
import { EXCEPTION_COLUMNS, exceptionOf } from './rows';
import { EXCEPTIONS, stateList } from './sql';

const OPEN: ExceptionStateName = 'OPEN';

export class PgExceptions implements ExceptionRepo {
  constructor(private readonly sql: SqlTx) {}

  async open(e: {
    flowKind: ExceptionRecord['flowKind'];
    flowId: string;
    bizCode: string;
    detail: string;
  }): Promise<boolean> {
    const rows = await this.sql.query(
      `INSERT INTO exceptions (exception_id, flow_kind, flow_id, biz_code, detail, state) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (flow_kind, flow_id) WHERE state IN ${stateList([OPEN])} DO NOTHING RETURNING exception_id`,
      [randomUUID(), e.flowKind, e.flowId, e.bizCode, e.detail.slice(0, 1000), OPEN],
    );
    return rows.length > 0;
  }

  async byId(exceptionId: string, lock?: 'FOR UPDATE'): Promise<ExceptionRecord | undefined> {
    const rows = await this.sql.query(
      `SELECT ${EXCEPTION_COLUMNS} FROM exceptions WHERE exception_id = $1 ${lock ?? ''}`,
      [exceptionId],
    );
    return rows[0] ? exceptionOf(rows[0]) : undefined;
  }

  async resolve(
    exceptionId: string,
    to: ExceptionStateName,
    decision: { resolution: 'SUCCEEDED' | 'FAILED'; operator: string; reason: string },
  ): Promise<ExceptionRecord | undefined> {
    const moved = await this.sql.transition(EXCEPTIONS, exceptionId, to, {
      resolution: decision.resolution,
      operator: decision.operator,
      reason: decision.reason,
      resolved_at: SQL_NOW,
    });
    return moved.changed ? this.byId(exceptionId) : undefined;
  }
}
