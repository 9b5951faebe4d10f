/**
 * Proves the stored-value difference rules: the difference formula, the most
 * severe matching class winning under each comparison operator, NONE only
 * for no difference, and the refusal of malformed rule lists.
 */
import { expect } from 'chai';
import { classify, differenceOf, parseClassRules, DEFAULT_CLASS_RULES } from './sv-reconciliation';

const p = (quantity: bigint, valueMinor: bigint): { quantity: bigint; valueMinor: bigint } => ({
  quantity,
  valueMinor,
});

describe('stored-value reconciliation rules', () => {
  it('difference = total − consumed − available − held − frozen − expired, in quantity and value', () => {
    const d = differenceOf({
      total: p(1_000n, 80_000n),
      consumed: p(200n, 16_000n),
      available: p(500n, 40_000n),
      held: p(50n, 4_000n),
      frozen: p(40n, 3_200n),
      expired: p(205n, 16_000n),
    });
    expect(d).to.deep.equal(p(5n, 800n));
  });

  it('classes by the most severe matching rule, each operator as written', () => {
    const rules = parseClassRules(
      'GENERAL:VALUE:<:100:ALARM,LARGE:VALUE:>=:100:ALARM,EXTREME:VALUE:>:5000:BALANCE',
    );
    expect(classify(p(0n, 0n), rules)).to.deep.equal({ klass: 'NONE', action: null });
    expect(classify(p(1n, 99n), rules)).to.deep.equal({ klass: 'GENERAL', action: 'ALARM' });
    expect(classify(p(1n, -100n), rules)).to.deep.equal({ klass: 'LARGE', action: 'ALARM' });
    expect(classify(p(1n, 5_000n), rules)).to.deep.equal({ klass: 'LARGE', action: 'ALARM' });
    expect(classify(p(1n, 5_001n), rules)).to.deep.equal({ klass: 'EXTREME', action: 'BALANCE' });
    const quantity = parseClassRules('LARGE:QUANTITY:<=:10:BALANCE');
    expect(classify(p(10n, 0n), quantity)).to.deep.equal({ klass: 'LARGE', action: 'BALANCE' });
    // A difference no rule names is still classed, as the mildest class.
    expect(classify(p(11n, 0n), quantity)).to.deep.equal({ klass: 'GENERAL', action: 'ALARM' });
  });

  it('parses the shipped default and refuses malformed rules', () => {
    expect(parseClassRules(DEFAULT_CLASS_RULES)).to.have.length(4);
    expect(() => parseClassRules('HUGE:VALUE:>:1:ALARM')).to.throw(/not CLASS:METRIC/);
    expect(() => parseClassRules('GENERAL:VALUE:=:1:ALARM')).to.throw(/not CLASS:METRIC/);
    expect(() => parseClassRules('')).to.throw(/1 to 12/);
  });
});
