/**
 * The domain transition tables are the only specification of the cashier's
 * state changes: this reads every source file under services/cashier/src and
 * fails on SQL that names a state by hand — a literal state in SET, WHERE,
 * IN/NOT IN lists, or a hand-written `from` array passed to a move. State
 * lists in SQL are rendered from the tables (adapters/pg/sql.ts) or passed
 * as parameters read out of them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';

// CASHIER_SRC_DIR points the check at another tree (e.g. main's, to see it fail there).
const SRC = process.env.CASHIER_SRC_DIR ?? join(__dirname, '..', 'src');
const STATES = [
  'WAIT_PAY',
  'PAID',
  'CLOSED',
  'REFUNDED',
  'TRYING',
  'PROCESSING',
  'CONFIRMING',
  'CANCELLING',
  'SUCCEEDED',
  'FAILED',
  'PLANNED',
  'TRIED',
  'CONFIRMED',
  'CANCELLED',
  'AVAILABLE',
  'RESERVED',
  'USED',
  'PENDING',
  'DELIVERED',
  'GAVE_UP',
  'OPEN',
  'RESOLVED',
  'NONE',
  'SUCCESS',
  'FAIL',
].join('|');
const FORBIDDEN: readonly { name: string; pattern: RegExp }[] = [
  { name: 'literal state in SQL', pattern: new RegExp(`state\\s*(=|<>|!=)\\s*'(${STATES})'`) },
  {
    name: 'literal state list in SQL',
    pattern: new RegExp(`state\\s+(NOT\\s+)?IN\\s*\\(\\s*'(${STATES})'`, 'i'),
  },
  {
    name: 'hand-written from list',
    pattern: new RegExp(`\\[\\s*'(${STATES})'(\\s*,\\s*'(${STATES})')*\\s*\\]\\s*,\\s*'(${STATES})'`),
  },
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

describe('cashier state changes go through the domain tables', () => {
  it('no source file names a state in SQL or hand-writes a from list', () => {
    const found: string[] = [];
    for (const file of sources(SRC)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const rule of FORBIDDEN)
            if (rule.pattern.test(line)) found.push(`${file}:${i + 1} ${rule.name}: ${line.trim()}`);
        });
    }
    expect(found).to.deep.equal([]);
  });

  it('the forbidden patterns match a hand-written state update, a state list and a state-moving call, so the scan can fail', () => {
    const samples = [
      `UPDATE payments SET state = 'FAILED' WHERE state = 'CANCELLING'`,
      `WHERE state NOT IN ('SUCCEEDED', 'FAILED')`,
      `movePayment(id, ['TRYING', 'PROCESSING'], 'CONFIRMING')`,
    ];
    for (const sample of samples)
      expect(
        FORBIDDEN.some((r) => r.pattern.test(sample)),
        sample,
      ).to.equal(true);
  });
});
