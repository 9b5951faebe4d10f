/**
 * Proves, by reading the account service's production sources, that it keeps
 * the service template's shape:
 * - no SQL sets or compares an account status, pending-transfer state or
 *   freeze status by a literal (`SET status = 'CLOSED'`, `state = 'TRIED'`,
 *   `status IN ('ACTIVE', …)`): changes go through the unit of work's
 *   transition() along the domain tables (domain/states.ts), and state lists
 *   SQL needs are rendered from those tables (adapters/pg/sql.ts). Inserts of
 *   an initial state (`VALUES (…, 'ACTIVE', …)`) are what no transition makes;
 * - no hand-written list of these states outside the transition tables;
 * - the account's own idempotency is gone: no `idempotency` table, no
 *   request hash of its own, no `request_hash` column written;
 * - application/ imports no adapter.
 * ACCOUNT_SRC_DIR points the scan at another copy of src/ (to see it fail on
 * the code before the move).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const SRC = process.env['ACCOUNT_SRC_DIR'] ?? path.resolve(__dirname, '..', 'src');
const STATE = `(?:ACTIVE|FROZEN|CLOSED|TRIED|CONFIRMED|CANCELLED|CANCELLED_EMPTY|EXPIRED|RELEASED)`;
const FILES_MAX = 500;

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) sources(full, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(full);
    if (out.length > FILES_MAX) throw new Error(`more than ${FILES_MAX} source files under ${SRC}`);
  }
  return out;
}

/** Every `file:line: text` of the sources whose text matches. */
function offenders(pattern: RegExp, except: (file: string) => boolean = () => false): string[] {
  const found: string[] = [];
  for (const file of sources(SRC)) {
    const relative = path.relative(SRC, file);
    if (except(relative)) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, index) => {
        if (pattern.test(line)) found.push(`${relative}:${index + 1}: ${line.trim()}`);
      });
  }
  return found;
}

const RULES: readonly { name: string; pattern: RegExp }[] = [
  { name: 'state set by a literal', pattern: /\bSET\s+(?:[a-z_]+\s*=[^,]*,\s*)*(?:state|status)\s*=/i },
  {
    name: 'state compared with a literal',
    pattern: new RegExp(`\\b(?:state|status)\\s*(?:=|<>|!=)\\s*'${STATE}'`, 'i'),
  },
  {
    name: 'literal state list',
    pattern: new RegExp(`\\b(?:state|status)\\s+(?:NOT\\s+)?IN\\s*\\(\\s*'`, 'i'),
  },
];

describe('account keeps the template: states, idempotency, layers', () => {
  it('no SQL sets or compares a state by a literal', () => {
    // domain/ holds no SQL (lint keeps drivers out of it).
    const found = RULES.flatMap((rule) =>
      offenders(rule.pattern, (file) => file.startsWith('domain')).map((line) => `${rule.name}: ${line}`),
    );
    expect(found).to.deep.equal([]);
  });

  it('no list of states is written by hand outside the transition tables', () => {
    const list = new RegExp(`\\[\\s*'${STATE}'\\s*,\\s*'${STATE}'`);
    expect(offenders(list, (file) => file === path.join('domain', 'states.ts'))).to.deep.equal([]);
  });

  it("the account's own idempotency table and request hash are gone", () => {
    expect(
      offenders(
        /\b(?:FROM|INTO|UPDATE)\s+idempotency\b(?!_claims)|requestHash\(|request_hash|domain\/idempotency/,
      ),
    ).to.deep.equal([]);
  });

  it('application/ imports no adapter', () => {
    expect(offenders(/from '\.\.\/adapters\//, (file) => !file.startsWith('application'))).to.deep.equal([]);
  });

  it('the checks catch what they are meant to catch', () => {
    const samples = [
      `UPDATE accounts SET status = 'CLOSED', closed_at = now() WHERE id = $1`,
      `UPDATE pending_transfers SET state = $2, resolved_at = now()`,
      `UPDATE accounts SET version = version + 1, status = 'FROZEN' WHERE id = $1`,
      `SELECT pending_id FROM pending_transfers WHERE state = 'TRIED' AND expires_at <= $1`,
      `AND f.status = 'ACTIVE' AND f.id <> $2`,
      `WHERE state IN ('TRIED', 'CONFIRMED')`,
    ];
    for (const sample of samples)
      expect(
        RULES.some((r) => r.pattern.test(sample)),
        sample,
      ).to.equal(true);
    expect(RULES.some((r) => r.pattern.test(`VALUES ($1, 'TRIED', $2)`))).to.equal(false);
  });
});
