/**
 * @paycore/channel-protocols — the wire protocols of the payment channels, shared by
 * channel-router (the real client) and channel-sandbox (the test double):
 * Alipay openapi RSA2 signing, WeChat Pay v2 signing and XML, the bank payout
 * JSON envelope, and the Alipay / WeChat bill files. Pure: no I/O, no clock,
 * no randomness; amounts are bigint fen.
 */
export { ProtocolError, ProtocolErrorReason } from './errors';
export { fenToYuan, parseFen, yuanToFen } from './amount';
export { canonicalContent, definedParams } from './canonical';
export type { ChannelParams } from './canonical';
export { FORM_FIELDS_MAX, parseForm, toForm } from './form';
export {
  ALIPAY_RESPONSE_BYTES_MAX,
  alipayResponseKey,
  alipaySign,
  alipaySignContent,
  alipayVerify,
  rsa2Sign,
  rsa2Verify,
  signResponse,
  topLevelValueText,
  verifyResponse,
} from './alipay';
export type { AlipayVerifyOptions, VerifiedResponse } from './alipay';
export { isWechatSignType, wechatSign, wechatSignContent, wechatVerify } from './wechat';
export type { WechatSignType } from './wechat';
export { fromXml, toXml, XML_BYTES_MAX, XML_FIELDS_MAX } from './xml';
export type { XmlReadOptions } from './xml';
export { BANK_ENVELOPE_BYTES_MAX, bankPayload, bankSeal, bankVerify, parseBankEnvelope } from './bank';
export type {
  BankEnvelope,
  BankPayoutRequest,
  BankPayoutResult,
  BankPayoutStatus,
  BankSealOptions,
} from './bank';
export { readZip, writeZip, ZIP_ENTRIES_MAX, ZIP_INFLATED_BYTES_MAX } from './zip';
export type { ZipEntry, ZipNameEncoding, ZipTimestamp, ZipWriteOptions } from './zip';
export { dateTimeParts, nextDate } from './bill-dates';
export {
  ALIPAY_BILL_LINES_MAX,
  ALIPAY_DETAIL_COLUMNS,
  ALIPAY_SUMMARY_COLUMNS,
  alipayBillFileNames,
  alipayBillLine,
  alipayBillTotals,
  alipayDetailCsv,
  alipaySummaryCsv,
  buildAlipayBill,
  parseAlipayBill,
  parseAlipayDetailCsv,
} from './alipay-bill';
export type {
  AlipayBill,
  AlipayBillLine,
  AlipayBillLineInput,
  AlipayBillTotals,
  AlipayBusinessType,
  ParsedAlipayBill,
} from './alipay-bill';
export {
  buildWechatBill,
  parseWechatBill,
  WECHAT_BILL_COLUMNS,
  WECHAT_BILL_ROWS_MAX,
  WECHAT_SUMMARY_COLUMNS,
  wechatBillRow,
  wechatBillSummary,
} from './wechat-bill';
export type {
  ParsedWechatBill,
  WechatBill,
  WechatBillRow,
  WechatBillRowInput,
  WechatBillSummary,
  WechatBillType,
} from './wechat-bill';
export {
  AlipayBillStream,
  BILL_LINE_CHARS_MAX,
  STREAM_INFLATED_BYTES_MAX,
  WechatBillStream,
} from './bill-stream';
export type { AlipayStreamEnd, WechatStreamEnd } from './bill-stream';
