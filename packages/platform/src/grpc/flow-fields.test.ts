/**
 * Proves which business identity the per-RPC log line and span get from a
 * ts-proto request and response: ids (`…Id`, `…No`) at the top level and one
 * message down, amounts as decimal minor units, the request winning, bounded.
 */
import { expect } from 'chai';
import { flowAttributes, flowFields, withResponseFields } from './flow-fields';

describe('flow fields of an RPC', () => {
  it('takes ids and the amount from the request, and the created entity ids from the response', () => {
    const request = {
      requestId: 'r-1',
      orderId: 'o-1',
      payerId: 'p-1',
      parts: [{ channelTxnId: 'ignored: in a list' }],
      amount: { amountMinor: 9_007_199_254_740_993n, currency: 'CNY' },
      note: 'not an id',
      emptyId: '',
    };
    const response = {
      payment: { paymentId: 'pay-1', orderId: 'other', amount: { amountMinor: 5n, currency: 'CNY' } },
    };
    expect(flowFields(request, response)).to.deep.equal({
      request_id: 'r-1',
      order_id: 'o-1',
      payer_id: 'p-1',
      amount: '9007199254740993',
      currency: 'CNY',
      payment_id: 'pay-1',
    });
  });

  it('looks one message down (transfer legs, channel numbers) and names attributes paycore.*', () => {
    const fields = flowFields({
      transfer: { fromAccountId: 'a-1', toAccountId: 'a-2', inner: { deepId: 'x' } },
      channelNo: '100001',
    });
    expect(fields).to.deep.equal({ from_account_id: 'a-1', to_account_id: 'a-2', channel_no: '100001' });
    expect(flowAttributes(fields)).to.deep.equal({
      'paycore.from_account_id': 'a-1',
      'paycore.to_account_id': 'a-2',
      'paycore.channel_no': '100001',
    });
  });

  it('keeps at most 24 fields and 128 characters a value', () => {
    const request: Record<string, string> = {};
    for (let i = 0; i < 40; i++) request[`thing${i}Id`] = 'x'.repeat(300);
    const fields = flowFields(request);
    expect(Object.keys(fields)).to.have.length(24);
    for (const value of Object.values(fields)) expect(value).to.have.length(128);
  });

  it('adds a response to request fields read earlier as flowFields(request, response) does, leaving them as they were', () => {
    const request = { requestId: 'r-1', amount: { amountMinor: 5n, currency: 'CNY' } };
    const response = {
      transfer: { transferId: 't-1', requestId: 'other' },
      order: { amount: { amountMinor: 9n } },
    };
    const requestFields = flowFields(request);
    const before = { ...requestFields };
    expect(withResponseFields(requestFields, response)).to.deep.equal(flowFields(request, response));
    expect(withResponseFields(requestFields, response)).to.deep.equal({
      request_id: 'r-1',
      amount: '5',
      currency: 'CNY',
      transfer_id: 't-1',
    });
    expect(requestFields).to.deep.equal(before);
    const full: Record<string, string> = {};
    for (let i = 0; i < 24; i++) full[`thing${i}Id`] = 'x';
    expect(Object.keys(withResponseFields(flowFields(full), { extraId: 'y' }))).to.have.length(24);
  });
});
