/**
 * Proves, by reading channel-router's production sources, that it keeps the
 * service template's shape:
 * - no SQL names a transaction state: no `SET state =`, no `state = 'X'`,
 *   `state IN (...)` or `<> 'X'` with a literal (state changes go through the
 *   unit of work's guarded transition, "still open" is the domain's
 *   OPEN_TXN_STATES passed as a parameter);
 * - no hand-written list of states outside the domain's transition table
 *   (domain/txn.ts);
 * - channel adapters are built only by the factory registry
 *   (adapters/channels/factories.ts), never with `new` in a use case;
 * - the router's own idempotency table and hash are gone.
 * ROUTER_SRC_DIR points the scan at another copy of src/ (to show it fails on
 * the code before the move).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const SRC = process.env['ROUTER_SRC_DIR'] ?? path.resolve(__dirname, '..', 'src');
const STATE = '(?:PROCESSING|SUCCESS|FAIL|CLOSED|UNKNOWN)';
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

describe('channel-router keeps the template: states, adapters, idempotency', () => {
  it('no SQL sets or compares a transaction state by a literal', () => {
    // domain/ holds no SQL (lint keeps drivers out of it); its breaker has states of its own.
    const sql = (file: string): boolean => file.startsWith('domain');
    expect(offenders(/\bSET\s+state\s*=/i, sql)).to.deep.equal([]);
    expect(offenders(new RegExp(`\\bstate\\s*(?:=|<>|!=)\\s*'${STATE}'`, 'i'), sql)).to.deep.equal([]);
    expect(offenders(/\bstate\s+(?:NOT\s+)?IN\s*\(/i, sql)).to.deep.equal([]);
    expect(offenders(new RegExp(`'${STATE}'\\s*\\)?\\s*(?:THEN|ELSE)\\b`), sql)).to.deep.equal([]);
  });

  it('no list of states is written by hand outside the transition table', () => {
    const list = new RegExp(`\\[\\s*'${STATE}'\\s*,\\s*'${STATE}'`);
    expect(offenders(list, (file) => file === path.join('domain', 'txn.ts'))).to.deep.equal([]);
  });

  it('adapters are built by the injected factory registry only', () => {
    expect(
      offenders(/new\s+(?:Alipay|Wechat|Bank)Adapter\s*\(/, (file) =>
        file.endsWith(path.join('channels', 'factories.ts')),
      ),
    ).to.deep.equal([]);
    expect(offenders(/from '\.\.\/adapters\//, (file) => !file.startsWith('application'))).to.deep.equal([]);
  });

  it("the router's own request table and request hash are gone", () => {
    expect(offenders(/\bFROM requests\b|\bINTO requests\b|requestHash\(/)).to.deep.equal([]);
  });
});
