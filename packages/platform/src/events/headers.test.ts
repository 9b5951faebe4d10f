/**
 * Event header rules (pure): reserved and malformed headers are refused at
 * write time, so a bad header fails the writer's transaction instead of
 * every later publish; NATS header conversion keeps names and values.
 */
import { expect } from 'chai';
import {
  assertValidHeaders,
  bizCodeOf,
  fromNatsHeaders,
  InvalidEventHeaderError,
  toNatsHeaders,
} from './headers';

describe('event headers', () => {
  it('accepts ordinary headers', () => {
    expect(() =>
      assertValidHeaders({ traceparent: '00-abc-def-01', 'Biz-Context': '10010101010000000000' }),
    ).not.to.throw();
  });

  it('refuses headers the relay owns, bad names, line breaks and too many', () => {
    expect(() => assertValidHeaders({ 'Nats-Msg-Id': 'x' })).to.throw(InvalidEventHeaderError);
    expect(() => assertValidHeaders({ 'bad name': 'x' })).to.throw(InvalidEventHeaderError);
    expect(() => assertValidHeaders({ 'a:b': 'x' })).to.throw(InvalidEventHeaderError);
    expect(() => assertValidHeaders({ ok: 'line\r\nbreak' })).to.throw(InvalidEventHeaderError);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`h${i}`, 'v']));
    expect(() => assertValidHeaders(many)).to.throw(InvalidEventHeaderError);
  });

  it('round-trips through NATS headers and finds the biz code case-insensitively', () => {
    const back = fromNatsHeaders(toNatsHeaders({ traceparent: 't', 'Biz-Context': 'code' }));
    expect(back).to.include({ traceparent: 't', 'Biz-Context': 'code' });
    expect(bizCodeOf({ 'biz-context': 'lower' })).to.equal('lower');
    expect(bizCodeOf({})).to.equal(undefined);
  });
});
