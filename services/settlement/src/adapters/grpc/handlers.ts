/**
 * gRPC handlers of paycore.settlement.v1.SettlementService: shape checks,
 * the use case, protobuf out. Errors are typed (SettlementError, the
 * calendar's CalendarYearMissingError, the kit's ApiError) and mapped by the
 * kit to a status with ErrorInfo.
 */
import { assertIsoDate } from '@paycore/calendar';
import { assertRequestId, type Handlers, type Specs } from '@paycore/platform';
import type { SettlementServiceService } from '@paycore/proto/paycore/settlement/v1/settlement_service';
import { SettlementError } from '../../domain/errors';
import type { Batches } from '../../application/batches';
import type { Settings } from '../../application/settings';
import type { SettlementStore } from '../../application/ports';
import {
  batchToPb,
  channelDayToPb,
  feeRuleFromPb,
  feeRuleToPb,
  lineToPb,
  profileFromPb,
  profileToPb,
  receiversFromPb,
  statementCsv,
} from './mapping';

type Definition = typeof SettlementServiceService;

const LIST_MAX = 500;
/** A statement lists every item of its batch; a batch with more is refused rather than cut. */
export const STATEMENT_LINES_MAX = 100_000;

export const SETTLEMENT_SCOPES: Specs<Definition> = {
  putFeeRule: { scope: 'settlement:write' },
  listFeeRules: { scope: 'settlement:read' },
  setSettlementProfile: { scope: 'settlement:write' },
  setShareReceivers: { scope: 'settlement:write' },
  splitPayment: { scope: 'settlement:write' },
  runSettlementDay: { scope: 'settlement:ops' },
  requestSettlement: { scope: 'settlement:write' },
  getBatch: { scope: 'settlement:read' },
  listBatches: { scope: 'settlement:read' },
  getStatement: { scope: 'settlement:read' },
  getChannelDay: { scope: 'settlement:read' },
};

function date(value: string, field: string): string {
  try {
    return assertIsoDate(value, field);
  } catch {
    throw new SettlementError('INVALID_FIELD', `${field}: a real day YYYY-MM-DD`, { field });
  }
}

async function batchOrThrow(store: SettlementStore, batchId: string) {
  const batch = batchId === '' ? null : await store.batch(batchId);
  if (batch === null) {
    throw new SettlementError('BATCH_NOT_FOUND', `no batch ${batchId}`, { field: 'batch_id' });
  }
  return batch;
}

async function channelDay(store: SettlementStore, channelNo: string, billDate: string) {
  if (!/^\d{6}$/.test(channelNo))
    throw new SettlementError('INVALID_FIELD', 'channel_no: 6 digits', { field: 'channel_no' });
  const report = await store.channelDayReport(channelNo, date(billDate, 'bill_date'));
  if (report === null) {
    throw new SettlementError(
      'CHANNEL_DAY_NOT_FOUND',
      `${channelNo} ${billDate} is not a confirmed channel day`,
      {
        field: 'bill_date',
      },
    );
  }
  return { day: channelDayToPb(report.day, report.feeIncomeMinor) };
}

export function settlementHandlers(
  settings: Settings,
  batches: Batches,
  store: SettlementStore,
): Handlers<Definition> {
  return {
    putFeeRule: async (req) => {
      assertRequestId(req.requestId);
      return { rule: feeRuleToPb(await settings.putFeeRule(req.requestId, feeRuleFromPb(req.rule))) };
    },
    listFeeRules: async (req) => ({ rules: (await store.feeRules(req.merchantId)).map(feeRuleToPb) }),
    setSettlementProfile: async (req) => {
      assertRequestId(req.requestId);
      return { profile: profileToPb(await settings.setProfile(req.requestId, profileFromPb(req.profile))) };
    },
    setShareReceivers: async (req) => {
      assertRequestId(req.requestId);
      const version = await settings.setReceivers(
        req.requestId,
        req.merchantId,
        receiversFromPb(req.receivers),
      );
      return { version };
    },
    splitPayment: async (req) => {
      assertRequestId(req.requestId);
      const made = await settings.splitPayment(req.requestId, req.merchantId, req.paymentId);
      return {
        baseMinor: made.baseMinor,
        shares: made.shares.map((s) => ({
          receiverId: s.receiverId,
          amountMinor: s.amountMinor,
          clawedBackMinor: 0n,
        })),
      };
    },
    runSettlementDay: async (req) => {
      assertRequestId(req.requestId);
      const result = await batches.runDay(req.requestId, date(req.settlementDate, 'settlement_date'));
      return { batchesCreated: result.created, batchesTotal: result.total };
    },
    requestSettlement: async (req) => {
      assertRequestId(req.requestId);
      const settlementDate = date(req.settlementDate, 'settlement_date');
      return {
        batch: batchToPb(await batches.requestSettlement(req.requestId, req.merchantId, settlementDate)),
      };
    },
    getBatch: async (req) => ({ batch: batchToPb(await batchOrThrow(store, req.batchId)) }),
    listBatches: async (req) => ({ batches: (await store.batches(req.merchantId, LIST_MAX)).map(batchToPb) }),
    getStatement: async (req) => {
      const batch = await batchOrThrow(store, req.batchId);
      const lines = await store.statementLines(batch.batchId, STATEMENT_LINES_MAX + 1);
      if (lines.length > STATEMENT_LINES_MAX) {
        throw new SettlementError(
          'INVALID_FIELD',
          `batch ${batch.batchId} has more than ${STATEMENT_LINES_MAX} lines`,
          {
            field: 'batch_id',
          },
        );
      }
      return { batch: batchToPb(batch), lines: lines.map(lineToPb), csv: statementCsv(batch, lines) };
    },
    getChannelDay: (req) => channelDay(store, req.channelNo, req.billDate),
  };
}
