/**
 * Proves that log lines carry trace and context ids and never carry secrets:
 * credential-like keys are redacted at any of the first levels and card
 * numbers (Luhn-valid) are masked, while 20-digit context codes stay readable.
 */
import { expect } from 'chai';
import { runWithBizCode } from '@paycore/context';
import { createLogger, maskCardNumbers } from './logger';

function capture(): { lines: Record<string, unknown>[]; destination: { write(s: string): void } } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  };
}

describe('logger', () => {
  it('masks Luhn-valid card numbers but not context codes or other ids', () => {
    expect(maskCardNumbers('card 4111111111111111 paid')).to.equal('card 411111******1111 paid');
    expect(maskCardNumbers('code 10010101011001100001')).to.equal('code 10010101011001100001');
    expect(maskCardNumbers('order 1234567890123')).to.equal('order 1234567890123');
  });

  it('redacts secrets and masks card numbers in fields and messages', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 't', destination });
    log.info(
      {
        token: 'abc',
        nested: { apiKey: 'k', privateKey: 'p' },
        req: { cardNo: '4111111111111111' },
        note: 'pan 5500005555555559',
      },
      'paid with 4111111111111111',
    );
    const line = lines[0] ?? {};
    expect(line['token']).to.equal('[REDACTED]');
    expect(line['nested']).to.deep.equal({ apiKey: '[REDACTED]', privateKey: '[REDACTED]' });
    expect(line['req']).to.deep.equal({ cardNo: '[REDACTED]' });
    expect(line['note']).to.equal('pan 550000******5559');
    expect(line['msg']).to.equal('paid with 411111******1111');
    expect(JSON.stringify(line)).not.to.contain('4111111111111111');
  });

  it('redacts secrets two levels deep, in arrays and in child bindings, without changing the caller object', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 't', destination });
    const fields = {
      outer: { inner: { signature: 's', keep: 'visible' } },
      parts: [{ password: 'p', amount: '100' }],
      authorization: null,
    };
    log
      .child({ apiKey: 'bound-secret', peer: 'bank' })
      .child({ token: 'grandchild-secret' })
      .info(fields, 'sent');
    const line = lines[0] ?? {};
    expect(line['outer']).to.deep.equal({ inner: { signature: '[REDACTED]', keep: 'visible' } });
    expect(line['parts']).to.deep.equal([{ password: '[REDACTED]', amount: '100' }]);
    expect(line['authorization']).to.equal('[REDACTED]');
    expect(line['apiKey']).to.equal('[REDACTED]');
    expect(line['peer']).to.equal('bank');
    expect(line['token']).to.equal('[REDACTED]');
    expect(fields.outer.inner.signature).to.equal('s');
    expect(JSON.stringify(line)).not.to.contain('bound-secret');
    expect(JSON.stringify(line)).not.to.contain('grandchild-secret');
  });

  it('keeps the message and stack of logged errors', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 't', destination });
    log.error({ err: new RangeError('card 4111111111111111 refused') }, 'failed');
    const err = lines[0]?.['err'] as Record<string, unknown>;
    expect(err['type']).to.equal('RangeError');
    expect(err['message']).to.equal('card 411111******1111 refused');
    expect(err['stack']).to.be.a('string');
  });

  it('adds biz_code from the current context', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 't', destination });
    runWithBizCode('10010101011001100001', () => log.info('inside'));
    log.info('outside');
    expect(lines[0]?.['biz_code']).to.equal('10010101011001100001');
    expect(lines[1]?.['biz_code']).to.equal(undefined);
    expect(lines[0]?.['service']).to.equal('t');
  });
});
