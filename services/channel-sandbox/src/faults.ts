/**
 * Scriptable faults. A fault is posted as JSON to `/sandbox/faults` and
 * applies to one merchant order (`out_trade_no`, also matched against a
 * payout's `out_payout_no`) or, without it, to every order; it can be narrowed
 * to a channel and an operation and limited to a number of uses (`times`).
 *
 * | kind               | effect                                                                                      |
 * |--------------------|---------------------------------------------------------------------------------------------|
 * | decline            | the operation fails with the channel's business error (`code` overrides the default)        |
 * | timeout            | the answer is held `ms` (default 30 s) — the operation is still applied, like a lost answer |
 * | slow               | the answer is held `ms` and then given normally                                             |
 * | unknown            | the channel answers SYSTEM_ERROR; the operation is applied unless `applied` is false        |
 * | notify_drop        | notifications for the order are never sent                                                 |
 * | notify_duplicate   | each notification is delivered `copies` (default 2) times, independently                    |
 * | notify_delay       | the first attempt waits `ms` more                                                           |
 * | notify_reorder     | a notification is held until the order's next one has been sent (or `ms`, default 5 s, passes) |
 * | query_stale        | queries answer the state before the order's latest change                                   |
 * | bill_missing       | the order's lines are left out of the bill                                                   |
 * | bill_extra         | a line for a trade the sandbox never saw is added (`out_trade_no` names it)                  |
 * | bill_wrong_amount  | the order's lines show `delta_fen` (default 1) more                                          |
 * | bill_wrong_status  | Alipay: the trade line shows 退款; WeChat: the row shows REVOKED                              |
 */
export const FAULT_KINDS = [
  'decline',
  'timeout',
  'slow',
  'unknown',
  'notify_drop',
  'notify_duplicate',
  'notify_delay',
  'notify_reorder',
  'query_stale',
  'bill_missing',
  'bill_extra',
  'bill_wrong_amount',
  'bill_wrong_status',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const CHANNELS = ['alipay', 'wechat', 'bank'] as const;
export type SandboxChannel = (typeof CHANNELS)[number];

export const OPERATIONS = [
  'create',
  'pay',
  'query',
  'close',
  'refund',
  'refund_query',
  'bill',
  'payout',
  'payout_query',
] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface Fault {
  readonly id: number;
  readonly kind: FaultKind;
  readonly outTradeNo?: string;
  readonly channel?: SandboxChannel;
  readonly operation?: Operation;
  /** Remaining uses; undefined = unlimited. */
  remaining?: number;
  readonly ms?: number;
  readonly code?: string;
  readonly message?: string;
  readonly copies?: number;
  readonly deltaFen?: bigint;
  readonly applied?: boolean;
}

export const FAULTS_MAX = 1000;
const DURATION_MS_MAX = 3_600_000;
const COPIES_MAX = 10;

export class FaultError extends Error {}

function pick<T extends string>(value: unknown, allowed: readonly T[], name: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new FaultError(`${name} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function boundedInt(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new FaultError(`${name} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

function text(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '' || value.length > 64)
    throw new FaultError(`${name} must be 1..64 chars`);
  return value;
}

export class FaultBook {
  private faults: Fault[] = [];
  private nextId = 1;

  /** Validates one JSON fault description and stores it; throws FaultError on anything unexpected. */
  add(input: unknown): Fault {
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      throw new FaultError('a fault is a JSON object');
    const raw = input as Record<string, unknown>;
    const known = new Set([
      'kind',
      'out_trade_no',
      'channel',
      'operation',
      'times',
      'ms',
      'code',
      'message',
      'copies',
      'delta_fen',
      'applied',
    ]);
    for (const key of Object.keys(raw))
      if (!known.has(key)) throw new FaultError(`unknown fault field "${key}"`);
    if (this.faults.length >= FAULTS_MAX) throw new FaultError(`at most ${FAULTS_MAX} faults`);
    const kind = pick(raw.kind, FAULT_KINDS, 'kind');
    if (kind === undefined) throw new FaultError('kind is required');
    const outTradeNo = text(raw.out_trade_no, 'out_trade_no');
    const channel = pick(raw.channel, CHANNELS, 'channel');
    const operation = pick(raw.operation, OPERATIONS, 'operation');
    const times = boundedInt(raw.times, 'times', 1, 1_000_000);
    const ms = boundedInt(raw.ms, 'ms', 0, DURATION_MS_MAX);
    const copies = boundedInt(raw.copies, 'copies', 2, COPIES_MAX);
    const code = text(raw.code, 'code');
    const message = text(raw.message, 'message');
    let deltaFen: bigint | undefined;
    if (raw.delta_fen !== undefined) {
      if (typeof raw.delta_fen !== 'string' || !/^-?[1-9]\d{0,15}$/.test(raw.delta_fen)) {
        throw new FaultError('delta_fen must be a non-zero integer string');
      }
      deltaFen = BigInt(raw.delta_fen);
    }
    if (raw.applied !== undefined && typeof raw.applied !== 'boolean')
      throw new FaultError('applied must be a boolean');
    const fault: Fault = {
      id: this.nextId++,
      kind,
      ...(outTradeNo !== undefined ? { outTradeNo } : {}),
      ...(channel !== undefined ? { channel } : {}),
      ...(operation !== undefined ? { operation } : {}),
      ...(times !== undefined ? { remaining: times } : {}),
      ...(ms !== undefined ? { ms } : {}),
      ...(code !== undefined ? { code } : {}),
      ...(message !== undefined ? { message } : {}),
      ...(copies !== undefined ? { copies } : {}),
      ...(deltaFen !== undefined ? { deltaFen } : {}),
      ...(typeof raw.applied === 'boolean' ? { applied: raw.applied } : {}),
    };
    this.faults.push(fault);
    return fault;
  }

  reset(): void {
    this.faults = [];
  }

  list(): readonly Fault[] {
    return this.faults;
  }

  /**
   * The first matching fault of `kind`, consuming one use. Order-specific
   * faults win over global ones, so a test can script one order inside a
   * globally faulty sandbox.
   */
  take(
    kind: FaultKind,
    channel: SandboxChannel,
    operation: Operation | undefined,
    outTradeNo: string | undefined,
  ): Fault | undefined {
    const matches = this.faults.filter(
      (fault) =>
        fault.kind === kind &&
        (fault.channel === undefined || fault.channel === channel) &&
        (fault.operation === undefined || fault.operation === operation) &&
        (fault.outTradeNo === undefined || fault.outTradeNo === outTradeNo),
    );
    const fault = matches.find((candidate) => candidate.outTradeNo !== undefined) ?? matches[0];
    if (fault === undefined) return undefined;
    if (fault.remaining !== undefined) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    }
    return fault;
  }

  /** All faults of `kind` for the channel (bill faults apply to many lines at once; they are not consumed). */
  all(kind: FaultKind, channel: SandboxChannel): Fault[] {
    return this.faults.filter(
      (fault) => fault.kind === kind && (fault.channel === undefined || fault.channel === channel),
    );
  }
}
