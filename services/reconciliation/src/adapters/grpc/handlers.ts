/**
 * gRPC handlers of paycore.reconciliation.v1.ReconciliationService: decode,
 * call one use case, encode. Authentication, scopes, deadlines and error
 * mapping are the platform kit's; validation is the application's.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import type { Handlers, Specs } from '@paycore/platform';
import { Resolution } from '@paycore/proto/paycore/reconciliation/v1/events';
import {
  type DayReport,
  type Difference,
  type BankClaim,
  type BankLine,
  type StoredValuePurchase,
  type UploadStatementRequest,
  BankClaimState,
} from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { ReconciliationServiceService } from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import type { BankClaims } from '../../application/bank';
import type { BankClaimRow, BankLineRow, DifferenceRow, ReconStore } from '../../application/ports';
import type { ClaimPurchase } from '../../domain/claim-purchase';
import type { Reconciliation, DayResult, StatementUpload } from '../../application/reconciliation';
import type { Check, DayChecks } from '../../application/report';
import { invalidField } from '../../domain/errors';
import { classValue, directionValue, kindValue, resolutionValue } from '../nats/events';

type Definition = typeof ReconciliationServiceService;

const PAGE_SIZE_DEFAULT = 100;
const PAGE_SIZE_MAX = 500;
const DECISIONS_CSV_BYTES_MAX = 1024 * 1024;

export function toReport(result: DayResult, checks: readonly Check[]): DayReport {
  const f = result.figures;
  return {
    channelNo: result.run.channelNo,
    billDate: result.run.billDate,
    runId: result.run.runId,
    checksumSha256: result.checksumSha256,
    lineCount: BigInt(result.lineCount),
    classes: f.classes.map((c) => ({
      differenceClass: classValue(c.differenceClass),
      count: c.count,
      channelAmount: c.channelAmountMinor,
      platformAmount: c.platformAmountMinor,
    })),
    heldCount: f.heldCount,
    openCount: f.openCount,
    rulesApplied: { ...f.rulesApplied },
    suspenseOpenAmount: f.suspenseOpenMinor,
    channelFeeTotal: f.feeMinor,
    netSettlementAmount: f.grossMinor - f.feeMinor,
    checks: checks.map((c) => ({ name: c.name, status: c.status, detail: c.detail })),
    reconciledAt: result.run.finishedAt ?? undefined,
  };
}

export function toDifference(d: DifferenceRow): Difference {
  return {
    differenceId: d.differenceId,
    channelNo: d.channelNo,
    billDate: d.billDate,
    differenceClass: classValue(d.differenceClass),
    direction: directionValue(d.direction),
    kind: kindValue(d.kind),
    merchantOrderNo: d.merchantOrderNo,
    channelTxnNo: d.channelTxnNo,
    platformTxnId: d.platformTxnId,
    platformAmount: d.platformAmountMinor,
    channelAmount: d.channelAmountMinor,
    currency: d.currency,
    state: d.state,
    suspenseAmount: d.suspenseMinor,
    resolution: resolutionValue(d.resolution),
    operator: d.operator ?? '',
    reason: d.reason ?? '',
    bizCode: d.bizCode,
  };
}

function toBankLine(line: BankLineRow): BankLine {
  return {
    lineId: line.lineId,
    bankSerial: line.bankSerial,
    payerName: line.payerName,
    amount: line.amountMinor,
    remaining: line.amountMinor - line.claimedMinor,
    currency: line.currency,
    valueDate: line.valueDate,
  };
}

const CLAIM_STATES: Readonly<Record<BankClaimRow['state'], BankClaimState>> = {
  PENDING: BankClaimState.BANK_CLAIM_STATE_PENDING,
  POSTED: BankClaimState.BANK_CLAIM_STATE_POSTED,
  REFUSED: BankClaimState.BANK_CLAIM_STATE_REFUSED,
};

function toBankClaim(claim: BankClaimRow): BankClaim {
  return {
    requestId: claim.requestId,
    lineId: claim.lineId,
    amount: claim.amountMinor,
    accountId: claim.accountId,
    operator: claim.operator,
    bizCode: claim.bizCode,
    state: CLAIM_STATES[claim.state],
    transferId: claim.transferId ?? '',
    contractId: claim.contractId ?? '',
    lotIds: [...claim.lotIds],
    refusedReason: claim.refusedReason ?? '',
    claimTime: claim.claimedAt,
  };
}

function fromPurchase(purchase: StoredValuePurchase | undefined): ClaimPurchase | null {
  if (purchase === undefined) return null;
  return {
    ownerId: purchase.ownerId,
    asset: purchase.asset,
    quantity: purchase.quantity,
    promotionalQuantity: purchase.promotionalQuantity,
    consumptionType: purchase.consumptionType,
    effectiveAt: purchase.effectiveTime,
    expiresAt: purchase.expireTime,
    contractId: purchase.contractId,
  };
}

/** The token of ListBankClaims: the last claim's request id. */
function claimsPageToken(token: string): string | null {
  if (token === '') return null;
  const requestId = Buffer.from(token, 'base64url').toString('utf8');
  if (!/^[\x20-\x7e]{1,128}$/.test(requestId)) throw invalidField('page_token', 'malformed');
  return requestId;
}

const RESOLUTION_NAMES: Readonly<Record<number, string>> = {
  [Resolution.RESOLUTION_CHANNEL_IS_RIGHT]: 'CHANNEL_IS_RIGHT',
  [Resolution.RESOLUTION_PLATFORM_IS_RIGHT]: 'PLATFORM_IS_RIGHT',
  [Resolution.RESOLUTION_WRITTEN_OFF]: 'WRITTEN_OFF',
};

/** Lines "difference_id,RESOLUTION,reason", no header. */
export function decisionsFromCsv(
  content: Uint8Array,
): { differenceId: string; resolution: string; reason: string }[] {
  if (content.length > DECISIONS_CSV_BYTES_MAX)
    throw invalidField('decisions_csv', `at most ${DECISIONS_CSV_BYTES_MAX} bytes`);
  let records: string[][];
  try {
    records = parseCsv(Buffer.from(content).toString('utf8'), {
      skip_empty_lines: true,
      trim: true,
      to: 1001,
    });
  } catch (err) {
    throw invalidField('decisions_csv', `not CSV: ${err instanceof Error ? err.message : String(err)}`);
  }
  return records.map((cells, index) => {
    if (cells.length !== 3) throw invalidField('decisions_csv', `line ${index + 1} must have 3 fields`);
    return { differenceId: cells[0] ?? '', resolution: cells[1] ?? '', reason: cells[2] ?? '' };
  });
}

function pageToken(token: string): { createdAt: Date; differenceId: string } | null {
  if (token === '') return null;
  const [micros, id] = Buffer.from(token, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(Number(micros));
  if (id === undefined || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(createdAt.getTime()))
    throw invalidField('page_token', 'malformed');
  return { createdAt, differenceId: id };
}

type DayHandlers = Pick<
  Handlers<Definition>,
  'reconcileDay' | 'importStatement' | 'uploadStatement' | 'getDayReport' | 'listDifferences'
>;

/**
 * UploadStatement's messages as the use case takes them: the first one's
 * metadata, then the chunks, read one message at a time as the import asks
 * for bytes (the unread rest of the stream waits at the peer).
 */
async function uploadOf(requests: AsyncIterable<UploadStatementRequest>): Promise<StatementUpload> {
  const iterator = requests[Symbol.asyncIterator]();
  const first = await iterator.next();
  const metadata = first.done === true ? undefined : first.value.metadata;
  if (metadata === undefined) throw invalidField('metadata', 'the first message carries the metadata');
  async function* chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) return;
      const chunk = next.value.chunk;
      if (chunk === undefined || chunk.length === 0)
        throw invalidField('chunk', 'every message after the first carries bytes');
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
  return {
    requestId: metadata.requestId,
    channelNo: metadata.channelNo,
    billDate: metadata.billDate,
    format: metadata.format,
    operator: metadata.operator,
    checksumSha256: metadata.checksumSha256,
    sizeBytes:
      metadata.sizeBytes > BigInt(Number.MAX_SAFE_INTEGER)
        ? Number.MAX_SAFE_INTEGER
        : Number(metadata.sizeBytes),
    chunks: chunks(),
  };
}
type OpsHandlers = Pick<
  Handlers<Definition>,
  'resolveDifferences' | 'importBankStatement' | 'claimBankLine' | 'listBankClaims'
>;

function dayHandlers(recon: Reconciliation, checks: DayChecks, store: ReconStore): DayHandlers {
  const report = async (result: DayResult): Promise<DayReport> =>
    toReport(result, await checks.checks(result));
  return {
    reconcileDay: async (req) => ({
      report: await report(
        await recon.reconcileDay({
          requestId: req.requestId,
          channelNo: req.channelNo,
          billDate: req.billDate,
        }),
      ),
    }),
    importStatement: async (req) => ({
      report: await report(
        await recon.importStatement({
          requestId: req.requestId,
          channelNo: req.channelNo,
          billDate: req.billDate,
          format: req.format,
          content: Buffer.from(req.content),
          operator: req.operator,
        }),
      ),
    }),
    uploadStatement: async (requests) => ({
      report: await report(await recon.uploadStatement(await uploadOf(requests))),
    }),
    getDayReport: async (req) => ({
      report: await report(await recon.dayByDate(req.channelNo, req.billDate)),
    }),
    listDifferences: async (req) => {
      recon.channelSettings(req.channelNo);
      if (req.pageSize < 0) throw invalidField('page_size', 'must not be negative');
      const limit = Math.min(req.pageSize === 0 ? PAGE_SIZE_DEFAULT : req.pageSize, PAGE_SIZE_MAX);
      const rows = await store.listDifferences({
        channelNo: req.channelNo,
        billDate: req.billDate,
        after: pageToken(req.pageToken),
        limit,
      });
      const last = rows[rows.length - 1];
      return {
        differences: rows.map(toDifference),
        nextPageToken:
          rows.length === limit && last !== undefined
            ? Buffer.from(`${last.createdAt.getTime()}|${last.differenceId}`).toString('base64url')
            : '',
      };
    },
  };
}

function opsHandlers(recon: Reconciliation, bank: BankClaims): OpsHandlers {
  return {
    resolveDifferences: async (req) => {
      const decisions =
        req.decisions.length > 0
          ? req.decisions.map((d) => ({
              differenceId: d.differenceId,
              resolution: RESOLUTION_NAMES[d.resolution] ?? 'UNSPECIFIED',
              reason: d.reason,
            }))
          : decisionsFromCsv(req.decisionsCsv);
      const rows = await recon.resolveDifferences({
        requestId: req.requestId,
        operator: req.operator,
        decisions,
      });
      return { differences: rows.map(toDifference) };
    },
    importBankStatement: async (req) => ({
      lines: (
        await bank.importStatement({
          requestId: req.requestId,
          bank: req.bank,
          content: Buffer.from(req.content),
        })
      ).map(toBankLine),
    }),
    claimBankLine: async (req) => {
      const claimed = await bank.claim({
        requestId: req.requestId,
        lineId: req.lineId,
        amountMinor: req.amount,
        accountId: req.accountId,
        operator: req.operator,
        bizCode: req.bizCode,
        purchase: fromPurchase(req.purchase),
      });
      return {
        line: toBankLine(claimed.line),
        transferId: claimed.claim.transferId ?? '',
        claim: toBankClaim(claimed.claim),
      };
    },
    listBankClaims: async (req) => {
      if (req.pageSize < 0) throw invalidField('page_size', 'must not be negative');
      const limit = Math.min(req.pageSize === 0 ? PAGE_SIZE_DEFAULT : req.pageSize, PAGE_SIZE_MAX);
      const claims = await bank.listClaims(req.lineId, claimsPageToken(req.pageToken), limit);
      const last = claims[claims.length - 1];
      return {
        claims: claims.map(toBankClaim),
        nextPageToken:
          claims.length === limit && last !== undefined
            ? Buffer.from(last.requestId).toString('base64url')
            : '',
      };
    },
  };
}

export function reconHandlers(
  recon: Reconciliation,
  bank: BankClaims,
  checks: DayChecks,
  store: ReconStore,
): Handlers<Definition> {
  return { ...dayHandlers(recon, checks, store), ...opsHandlers(recon, bank) };
}

export const reconScopes: Specs<Definition> = {
  reconcileDay: { scope: 'recon:write' },
  importStatement: { scope: 'recon:write' },
  uploadStatement: { scope: 'recon:write' },
  getDayReport: { scope: 'recon:read' },
  listDifferences: { scope: 'recon:read' },
  resolveDifferences: { scope: 'recon:ops' },
  importBankStatement: { scope: 'recon:write' },
  claimBankLine: { scope: 'recon:ops' },
  listBankClaims: { scope: 'recon:read' },
};
