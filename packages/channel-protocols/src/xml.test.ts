/**
 * Proves the WeChat XML codec: values with every XML-special character
 * (including a literal `]]>`, which must be split across CDATA sections)
 * survive toXml → fromXml; plain-text values with entities are decoded; and
 * the reader refuses what it must — DOCTYPE and entity declarations (XXE),
 * unknown entities, comments, nested elements, attributes, duplicates,
 * trailing content and oversized input.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { fromXml, ProtocolError, ProtocolErrorReason, toXml } from './index';

function expectInvalid(text: string, options = {}): void {
  expect(() => fromXml(text, options))
    .to.throw(ProtocolError)
    .with.property('reason', ProtocolErrorReason.INVALID_XML);
}

describe('wechat XML', () => {
  it('round-trips special characters', () => {
    const params = {
      return_code: 'SUCCESS',
      body: '<a href="x">&amp; \'q\' ]]> ]] > 中文 😀',
      total_fee: '1',
      attach: ']]>]]>',
    };
    const xml = toXml(params);
    expect(xml.startsWith('<xml><return_code><![CDATA[SUCCESS]]></return_code>')).to.equal(true);
    expect(fromXml(xml)).to.deep.equal(params);
  });

  it('round-trips arbitrary strings (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (value) => {
        expect(fromXml(toXml({ v: value }))).to.deep.equal({ v: value });
      }),
      { numRuns: 300 },
    );
  });

  it('reads WeChat-style mixed plain text, CDATA, empty elements and a declaration', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n  <total_fee>100</total_fee>\n  <a>x &lt;&amp;&#65;&#x42; y</a>' +
      '<b/><c></c><d><![CDATA[p]]>q</d>\n</xml>\n';
    expect(fromXml(xml)).to.deep.equal({ total_fee: '100', a: 'x <&AB y', b: '', c: '', d: 'pq' });
  });

  it('rejects XXE, entities, comments, nesting, attributes, duplicates and trailing content', () => {
    expectInvalid('<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><a>&x;</a></xml>');
    expectInvalid('<?xml version="1.0"?><!DOCTYPE xml><xml><a>1</a></xml>');
    expectInvalid('<xml><a>&x;</a></xml>');
    expectInvalid('<xml><a>a & b</a></xml>');
    expectInvalid('<xml><!-- c --><a>1</a></xml>');
    expectInvalid('<xml><a><b>1</b></a></xml>');
    expectInvalid('<xml><a x="1">1</a></xml>');
    expectInvalid('<xml><a>1</a><a>2</a></xml>');
    expectInvalid('<xml><a>1</b></xml>');
    expectInvalid('<xml><a>1</a></xml><xml></xml>');
    expectInvalid('<root><a>1</a></root>');
    expectInvalid('<xml><a><![CDATA[1</a></xml>');
    expectInvalid('<xml><a>1</a>');
    expectInvalid(`<xml><a>${'x'.repeat(100)}</a></xml>`, { bytesMax: 64 });
  });

  it('refuses element names it cannot write', () => {
    expect(() => toXml({ 'a b': '1' })).to.throw(ProtocolError);
    expect(() => toXml({ '<x>': '1' })).to.throw(ProtocolError);
  });
});
