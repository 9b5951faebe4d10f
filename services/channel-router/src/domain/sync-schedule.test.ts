/**
 * Proves the status-sync schedule: 5 s first, doubling, capped; never past
 * the channel's close deadline (the last query lands exactly on it), and an
 * exception once the deadline has been reached.
 */
import { expect } from 'chai';
import { DEFAULT_SYNC_SCHEDULE, nextSync, syncDelayMs } from './sync-schedule';

describe('status sync schedule', () => {
  it('starts at 5 s and backs off to the cap', () => {
    const delays = [0, 1, 2, 3, 4, 10, 1000].map((attempt) => syncDelayMs(DEFAULT_SYNC_SCHEDULE, attempt));
    expect(delays).to.deep.equal([5_000, 10_000, 20_000, 40_000, 80_000, 600_000, 600_000]);
  });

  it('clamps the next query to the close deadline, then hands over to the exception list', () => {
    const created = 1_000_000;
    const deadline = created + 12_000;
    expect(nextSync(DEFAULT_SYNC_SCHEDULE, created, 0, deadline)).to.deep.equal({
      kind: 'QUERY_AT',
      atMs: created + 5_000,
    });
    expect(nextSync(DEFAULT_SYNC_SCHEDULE, created + 5_000, 1, deadline)).to.deep.equal({
      kind: 'QUERY_AT',
      atMs: deadline,
    });
    expect(nextSync(DEFAULT_SYNC_SCHEDULE, deadline, 2, deadline)).to.deep.equal({ kind: 'EXCEPTION' });
  });
});
