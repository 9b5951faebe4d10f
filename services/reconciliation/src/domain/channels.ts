/**
 * Which channel numbers reconciliation knows and how: the bill format, the
 * pay channel used in adjustment codes, how many later bills a held item
 * waits for, and (GENERIC_CSV) the column mapping. Read from configuration
 * (RECON_CHANNELS, JSON) and validated at start-up; the defaults describe
 * the sandbox's channels, including bank A's payout file as a generic CSV.
 */
import { FORMATS, type GenericCsvMapping, type StatementFormat } from './statements';

export interface ChannelSettings {
  readonly channelNo: string;
  readonly format: StatementFormat;
  readonly payChannel: string;
  readonly holdDays: number;
  readonly mapping?: GenericCsvMapping;
}

export const HOLD_DAYS_MAX = 7;

/** Bank A's payout result file: UTF-8 CSV, amounts in fen, status words in Chinese. */
export const BANK_PAYOUT_MAPPING: GenericCsvMapping = {
  encoding: 'utf8',
  columns: {
    merchantOrderNo: 'out_payout_no',
    channelTxnNo: 'bank_serial',
    kind: 'type',
    status: 'status',
    amount: 'amount_fen',
    fee: 'fee_fen',
    currency: 'currency',
    finishedAt: 'finished_at',
  },
  ignoredColumns: ['account_no_masked', 'remark'],
  amountUnit: 'FEN',
  signConvention: 'ABSOLUTE',
  dateFormat: 'YYYYMMDDHHmmss',
  kindWords: { PAYOUT: ['代付'] },
  successWords: ['成功'],
};

export const DEFAULT_CHANNELS: readonly ChannelSettings[] = [
  { channelNo: '100001', format: 'ALIPAY_TRADE_ZIP', payChannel: '1001', holdDays: 1 },
  { channelNo: '200001', format: 'WECHAT_TRADE_ALL', payChannel: '2001', holdDays: 1 },
  {
    channelNo: '300001',
    format: 'GENERIC_CSV',
    payChannel: '4001',
    holdDays: 1,
    mapping: BANK_PAYOUT_MAPPING,
  },
];

function fail(message: string): never {
  throw new Error(`RECON_CHANNELS: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length > 32 || !value.every((v) => typeof v === 'string'))
    fail(`${what} must be a list of at most 32 strings`);
  return value;
}

function mappingOf(raw: unknown, channelNo: string): GenericCsvMapping {
  if (!isRecord(raw) || !isRecord(raw['columns'])) fail(`${channelNo}: mapping.columns is required`);
  const columns = raw['columns'];
  const column = (name: string): string => {
    const value = columns[name];
    if (typeof value !== 'string' || value === '') fail(`${channelNo}: mapping.columns.${name} is required`);
    return value;
  };
  const pick = <T extends string>(name: string, allowed: readonly T[]): T => {
    const value = raw[name];
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
      fail(`${channelNo}: mapping.${name} must be one of ${allowed.join(', ')}`);
    return value as T;
  };
  const words = isRecord(raw['kindWords']) ? raw['kindWords'] : fail(`${channelNo}: mapping.kindWords`);
  return {
    encoding: pick('encoding', ['utf8', 'gbk'] as const),
    columns: {
      merchantOrderNo: column('merchantOrderNo'),
      channelTxnNo: column('channelTxnNo'),
      kind: column('kind'),
      status: column('status'),
      amount: column('amount'),
      fee: column('fee'),
      currency: column('currency'),
      finishedAt: column('finishedAt'),
    },
    ignoredColumns: stringList(raw['ignoredColumns'] ?? [], 'ignoredColumns'),
    amountUnit: pick('amountUnit', ['YUAN', 'FEN'] as const),
    signConvention: pick('signConvention', ['SIGNED', 'ABSOLUTE'] as const),
    dateFormat: pick('dateFormat', ['YYYY-MM-DD HH:mm:ss', 'YYYYMMDDHHmmss'] as const),
    kindWords: {
      ...(words['PAY'] !== undefined ? { PAY: stringList(words['PAY'], 'kindWords.PAY') } : {}),
      ...(words['REFUND'] !== undefined ? { REFUND: stringList(words['REFUND'], 'kindWords.REFUND') } : {}),
      ...(words['PAYOUT'] !== undefined ? { PAYOUT: stringList(words['PAYOUT'], 'kindWords.PAYOUT') } : {}),
    },
    successWords: stringList(raw['successWords'], 'successWords'),
  };
}

/** Parses RECON_CHANNELS (a JSON list); an empty text means the defaults. */
export function parseChannels(text: string): readonly ChannelSettings[] {
  if (text.trim() === '') return DEFAULT_CHANNELS;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  if (!Array.isArray(raw) || raw.length > 64) fail('must be a JSON list of at most 64 channels');
  const seen = new Set<string>();
  return raw.map((item): ChannelSettings => {
    if (!isRecord(item)) fail('each channel is an object');
    const channelNo = item['channelNo'];
    if (typeof channelNo !== 'string' || !/^\d{6}$/.test(channelNo)) fail('channelNo must be 6 digits');
    if (seen.has(channelNo)) fail(`${channelNo} appears twice`);
    seen.add(channelNo);
    const format = item['format'];
    if (typeof format !== 'string' || !(FORMATS as readonly string[]).includes(format))
      fail(`${channelNo}: format must be one of ${FORMATS.join(', ')}`);
    const payChannel = item['payChannel'];
    if (typeof payChannel !== 'string' || !/^\d{4}$/.test(payChannel))
      fail(`${channelNo}: payChannel must be 4 digits`);
    const holdDays = item['holdDays'];
    if (
      typeof holdDays !== 'number' ||
      !Number.isInteger(holdDays) ||
      holdDays < 0 ||
      holdDays > HOLD_DAYS_MAX
    )
      fail(`${channelNo}: holdDays must be an integer in [0, ${HOLD_DAYS_MAX}]`);
    const settings: ChannelSettings = { channelNo, format: format as StatementFormat, payChannel, holdDays };
    if (format !== 'GENERIC_CSV') return settings;
    return { ...settings, mapping: mappingOf(item['mapping'], channelNo) };
  });
}
