/**
 * The flat XML of WeChat Pay v2: `<xml><key><![CDATA[value]]></key>…</xml>`.
 *
 * The reader is deliberately small and strict instead of a general XML parser:
 * one root named `xml`, children that are leaves (no nesting, no attributes),
 * text as CDATA or plain text with the five predefined entities and numeric
 * character references. DOCTYPE, entity declarations, comments and processing
 * instructions other than the leading `<?xml …?>` are refused outright, which
 * rules out XXE and entity expansion. Size and field count are bounded.
 */
import { definedParams, type ChannelParams } from './canonical';
import { ProtocolError, ProtocolErrorReason } from './errors';

export const XML_BYTES_MAX = 64 * 1024;
export const XML_FIELDS_MAX = 256;
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

export interface XmlReadOptions {
  readonly bytesMax?: number;
}

function fail(message: string): never {
  throw new ProtocolError(ProtocolErrorReason.INVALID_XML, message);
}

/** Every value goes in CDATA; a `]]>` inside a value is split across two sections. */
export function toXml(params: ChannelParams): string {
  const parts = Object.entries(definedParams(params)).map(([key, value]) => {
    if (!NAME_PATTERN.test(key)) {
      throw new ProtocolError(
        ProtocolErrorReason.INVALID_PARAMETER,
        `cannot write "${key}" as an XML element name`,
      );
    }
    return `<${key}><![CDATA[${value.split(']]>').join(']]]]><![CDATA[>')}]]></${key}>`;
  });
  return `<xml>${parts.join('')}</xml>`;
}

export function fromXml(text: string, options: XmlReadOptions = {}): Record<string, string> {
  const bytesMax = options.bytesMax ?? XML_BYTES_MAX;
  if (Buffer.byteLength(text, 'utf8') > bytesMax) fail(`XML larger than ${bytesMax} bytes`);
  const reader = new Reader(text);
  reader.skipSpace();
  if (reader.startsWith('<?xml')) {
    const end = text.indexOf('?>', reader.position);
    if (end < 0) fail('unterminated XML declaration');
    reader.position = end + 2;
  }
  reader.skipSpace();
  if (reader.startsWith('<!')) fail('DOCTYPE, entity declarations and comments are not accepted');
  reader.expect('<xml>');
  const out: Record<string, string> = {};
  let count = 0;
  for (;;) {
    reader.skipSpace();
    if (reader.startsWith('</xml>')) {
      reader.position += '</xml>'.length;
      break;
    }
    count += 1;
    if (count > XML_FIELDS_MAX) fail(`more than ${XML_FIELDS_MAX} fields`);
    const [name, value] = reader.readLeaf();
    if (Object.prototype.hasOwnProperty.call(out, name)) fail(`element <${name}> appears twice`);
    out[name] = value;
  }
  reader.skipSpace();
  if (reader.position !== text.length) fail('content after </xml>');
  return out;
}

class Reader {
  position = 0;

  constructor(private readonly text: string) {}

  startsWith(token: string): boolean {
    return this.text.startsWith(token, this.position);
  }

  expect(token: string): void {
    if (!this.startsWith(token)) fail(`expected ${token} at offset ${this.position}`);
    this.position += token.length;
  }

  skipSpace(): void {
    while (this.position < this.text.length && ' \t\r\n'.includes(this.text[this.position] ?? ''))
      this.position += 1;
  }

  readLeaf(): [string, string] {
    if (this.startsWith('<!') || this.startsWith('<?')) {
      fail('comments, declarations and processing instructions are not accepted');
    }
    this.expect('<');
    const close = this.text.indexOf('>', this.position);
    if (close < 0) fail('unterminated element');
    const tag = this.text.slice(this.position, close);
    this.position = close + 1;
    if (tag.endsWith('/')) {
      const name = tag.slice(0, -1).trim();
      if (!NAME_PATTERN.test(name)) fail(`bad element name "${name}"`);
      return [name, ''];
    }
    if (!NAME_PATTERN.test(tag)) fail(`bad element or attributes "${tag.slice(0, 40)}"`);
    let value = '';
    for (;;) {
      if (this.startsWith(`</${tag}>`)) {
        this.position += tag.length + 3;
        return [tag, value];
      }
      if (this.startsWith('<![CDATA[')) {
        const end = this.text.indexOf(']]>', this.position);
        if (end < 0) fail('unterminated CDATA');
        value += this.text.slice(this.position + 9, end);
        this.position = end + 3;
        continue;
      }
      const next = this.text.indexOf('<', this.position);
      if (next < 0) fail(`unterminated element <${tag}>`);
      if (next === this.position) fail(`nested or mismatched element inside <${tag}>`);
      value += decodeText(this.text.slice(this.position, next));
      this.position = next;
    }
  }
}

function decodeText(raw: string): string {
  return raw.replace(/&([^;]{0,10});?/g, (match, name: string) => {
    if (!match.endsWith(';')) fail('bare & in text');
    const known = PREDEFINED[name];
    if (known !== undefined) return known;
    const numeric = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (!numeric) fail(`entity &${name}; is not accepted`);
    const codePoint = numeric[1] !== undefined ? parseInt(numeric[1], 16) : Number(numeric[2]);
    if (codePoint > 0x10ffff) fail('character reference out of range');
    return String.fromCodePoint(codePoint);
  });
}
