/**
 * A test-only hook for crash tests: with SETTLEMENT_TEST_HOLD_FILE set (and
 * only then; production never sets it), the replica stops a batch for good
 * at a named point of its drive, so a test can SIGKILL it there. The file
 * holds the point's name (empty: hold nowhere); the test rewrites it
 * between scenarios. A batch is held once across every replica: the first
 * replica to reach the point creates `<file>.<key>.<point>` (exclusive
 * create) and holds; the replica that resumes the batch finds the marker
 * and goes on. Holding prints `settlement test hold: <key> at <point>` on
 * stderr, then waits forever while the batch queue's heartbeat keeps the
 * message.
 *
 * Points, in drive order (the ports a batch calls, decorated):
 *   post     before account Transfer of the settlement posting
 *   posted   after that Transfer (posting made, batch still CREATED)
 *   funded   after the payout's Transfer (funds at the bank's clearing, nothing sent)
 *   sent     after CreatePayout answered (payout at the bank, its txn id not recorded)
 *   polled   before QueryPayout (txn id recorded, outcome not yet known); keyed by txn id
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { AccountPort, PayoutPort, ResolvedLeg } from '../application/ports';

export const HOLD_POINTS = ['post', 'posted', 'funded', 'sent', 'polled'] as const;
export type HoldPoint = (typeof HOLD_POINTS)[number];

export class TestHold {
  constructor(private readonly file: string) {}

  async at(point: HoldPoint, key: string): Promise<void> {
    let wanted: string;
    try {
      wanted = readFileSync(this.file, 'utf8').trim();
    } catch {
      return;
    }
    if (wanted !== point) return;
    try {
      closeSync(openSync(`${this.file}.${key.replace(/[^A-Za-z0-9-]/g, '_')}.${point}`, 'wx'));
    } catch {
      return; // held once already (by this replica or another): go on
    }
    process.stderr.write(`settlement test hold: ${key} at ${point}\n`);
    await new Promise<never>(() => undefined);
  }
}

/** batch id of `settle-post:<batch>` / `settle-payout:<batch>:<attempt>`. */
const batchOf = (requestId: string): string => requestId.split(':')[1] ?? requestId;

export function holdAccount(port: AccountPort, hold: TestHold): AccountPort {
  return {
    find: (ref, currency) => port.find(ref, currency),
    open: (requestId, bizCode, ref, currency) => port.open(requestId, bizCode, ref, currency),
    async transfer(requestId: string, bizCode: string, legs: readonly ResolvedLeg[], currency, memo) {
      const posting = requestId.startsWith('settle-post:');
      if (posting) await hold.at('post', batchOf(requestId));
      await port.transfer(requestId, bizCode, legs, currency, memo);
      if (posting) await hold.at('posted', batchOf(requestId));
      if (requestId.startsWith('settle-payout:')) await hold.at('funded', batchOf(requestId));
    },
  };
}

export function holdPayouts(port: PayoutPort, hold: TestHold): PayoutPort {
  return {
    async createPayout(requestId, bizCode, amountMinor, bank) {
      const answer = await port.createPayout(requestId, bizCode, amountMinor, bank);
      await hold.at('sent', batchOf(requestId));
      return answer;
    },
    async queryPayout(txnId) {
      await hold.at('polled', txnId);
      return port.queryPayout(txnId);
    },
  };
}
