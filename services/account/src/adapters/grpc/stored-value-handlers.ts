/**
 * gRPC handlers of paycore.account.v1.StoredValueService: decode, call one
 * stored-value use case, encode. Authentication, scopes, deadlines and error
 * mapping are the platform kit's; validation is the application's.
 */
import type { Handlers, RpcContext, Specs } from '@paycore/platform';
import {
  ConsumptionState as ProtoConsumptionState,
  LotCategory as ProtoLotCategory,
  LotState as ProtoLotState,
  StoredValueServiceService,
  type Consumption,
  type Contract,
  type Lot as ProtoLot,
  type LotMovement,
  type Portion as ProtoPortion,
} from '@paycore/proto/paycore/account/v1/stored_value_service';
import type { ConsumptionState } from '../../domain/consumptions';
import type { Lot, Portion } from '../../domain/lots';
import type { StoredValueService } from '../../application/stored-value';
import type { StoredValueReconciliation } from '../../application/stored-value-recon';
import type {
  ConsumptionRecordFull,
  ContractRecord,
  MovementRecord,
  MovementView,
} from '../../application/stored-value-ports';
import { durationMs } from './mapping';

type Definition = typeof StoredValueServiceService;

function bizOf(request: { bizContext?: { code: string } | undefined }, ctx: RpcContext): string {
  return request.bizContext?.code ?? ctx.bizCode ?? '';
}

function portionToProto(part: Portion, currency: string): ProtoPortion {
  return { quantity: part.quantity, value: { amountMinor: part.valueMinor, currency } };
}

const CONSUMPTION_STATES: Readonly<Record<ConsumptionState, ProtoConsumptionState>> = {
  TRIED: ProtoConsumptionState.CONSUMPTION_STATE_TRIED,
  CONFIRMED: ProtoConsumptionState.CONSUMPTION_STATE_CONFIRMED,
  CANCELLED: ProtoConsumptionState.CONSUMPTION_STATE_CANCELLED,
  CANCELLED_EMPTY: ProtoConsumptionState.CONSUMPTION_STATE_CANCELLED_EMPTY,
  EXPIRED: ProtoConsumptionState.CONSUMPTION_STATE_EXPIRED,
};

export function lotToProto(lot: Lot): ProtoLot {
  const m = (part: Portion): ProtoPortion => portionToProto(part, lot.currency);
  return {
    lotId: lot.lotId,
    contractId: lot.contractId,
    ownerId: lot.ownerId,
    asset: lot.asset,
    category:
      lot.category === 'PAID'
        ? ProtoLotCategory.LOT_CATEGORY_PAID
        : ProtoLotCategory.LOT_CATEGORY_PROMOTIONAL,
    consumptionType: lot.consumptionType ?? '',
    quantity: lot.quantity,
    paid: { amountMinor: lot.paidMinor, currency: lot.currency },
    fairValuePerUnit: lot.fairValuePerUnit,
    fairValueRounding: 'ROUND_HALF_UP',
    residual: { amountMinor: lot.residualMinor, currency: lot.currency },
    effectiveTime: lot.effectiveAt,
    expireTime: lot.expiresAt,
    state: lot.state === 'ACTIVE' ? ProtoLotState.LOT_STATE_ACTIVE : ProtoLotState.LOT_STATE_EXPIRED,
    available: m(lot.available),
    held: m(lot.held),
    frozen: m(lot.frozen),
    consumed: m(lot.consumed),
    expired: m(lot.expired),
  };
}

function contractToProto(c: ContractRecord): Contract {
  return {
    contractId: c.contractId,
    ownerId: c.ownerId,
    asset: c.asset,
    paid: { amountMinor: c.paidMinor, currency: c.currency },
    fundingAccountId: c.fundingAccountId ?? '',
    purchaseTransferId: c.purchaseTransferId ?? '',
    createTime: c.createdAt,
  };
}

export function consumptionToProto(c: ConsumptionRecordFull): Consumption {
  return {
    consumptionId: c.consumptionId,
    ownerId: c.ownerId,
    asset: c.asset,
    consumptionType: c.consumptionType,
    quantity: c.quantity,
    value: { amountMinor: c.valueMinor, currency: c.currency },
    state: CONSUMPTION_STATES[c.state],
    draws: c.draws.map((d) => ({
      lotId: d.lotId,
      quantity: d.quantity,
      value: { amountMinor: d.valueMinor, currency: c.currency },
      refundedQuantity: d.refunded.quantity,
      refundedValue: { amountMinor: d.refunded.valueMinor, currency: c.currency },
    })),
    expireTime: c.expiresAt ?? undefined,
  };
}

function movementToProto(m: MovementRecord | MovementView, currency: string): LotMovement {
  return {
    movementId: 'movementId' in m ? m.movementId : 0n,
    lotId: m.lotId,
    kind: m.kind,
    fromBucket: m.fromBucket,
    toBucket: m.toBucket,
    quantity: m.part.quantity,
    value: { amountMinor: m.part.valueMinor, currency },
    consumptionId: m.consumptionId ?? '',
    transferId: m.transferId ?? '',
    createTime: 'createdAt' in m ? m.createdAt : undefined,
  };
}

// eslint-disable-next-line max-lines-per-function -- a table of thin RPC handlers, one entry each
export function storedValueHandlers(
  service: StoredValueService,
  recon: StoredValueReconciliation,
): Handlers<Definition> {
  const consumeCommand = (
    req: {
      requestId: string;
      consumptionId: string;
      ownerId: string;
      asset: string;
      consumptionType: string;
      quantity: bigint;
    },
    ctx: RpcContext,
    bizContext: { code: string } | undefined,
  ): Parameters<StoredValueService['consume']>[0] => ({
    requestId: req.requestId,
    bizCode: bizOf({ bizContext }, ctx),
    consumptionId: req.consumptionId,
    ownerId: req.ownerId,
    asset: req.asset,
    consumptionType: req.consumptionType,
    quantity: req.quantity,
  });
  return {
    purchase: async (req, ctx) => {
      const result = await service.purchase({
        requestId: req.requestId,
        bizCode: bizOf(req, ctx),
        contractId: req.contractId,
        ownerId: req.ownerId,
        asset: req.asset,
        quantity: req.quantity,
        paidMinor: req.paid?.amountMinor ?? 0n,
        currency: req.paid?.currency ?? '',
        promotionalQuantity: req.promotionalQuantity,
        consumptionType: req.consumptionType,
        effectiveAt: req.effectiveTime,
        expiresAt: req.expireTime,
        fundingAccountId: req.fundingAccountId,
      });
      return { contract: contractToProto(result.contract), lots: result.lots.map(lotToProto) };
    },
    consume: async (req, ctx) => ({
      consumption: consumptionToProto(await service.consume(consumeCommand(req, ctx, req.bizContext))),
    }),
    tryConsume: async (req, ctx) => ({
      consumption: consumptionToProto(
        await service.tryConsume({
          ...consumeCommand(req, ctx, req.bizContext),
          timeoutMs: durationMs(req.timeout, 'timeout') ?? 0,
        }),
      ),
    }),
    confirmConsume: async (req, ctx) => ({
      consumption: consumptionToProto(
        await service.confirmConsume({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          consumptionId: req.consumptionId,
        }),
      ),
    }),
    cancelConsume: async (req, ctx) => ({
      consumption: consumptionToProto(
        await service.cancelConsume({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          consumptionId: req.consumptionId,
        }),
      ),
    }),
    refundConsumption: async (req, ctx) => {
      const result = await service.refundConsumption({
        requestId: req.requestId,
        bizCode: bizOf(req, ctx),
        consumptionId: req.consumptionId,
        quantity: req.quantity,
      });
      return {
        consumption: consumptionToProto(result.consumption),
        movements: result.movements.map((m) => movementToProto(m, result.consumption.currency)),
      };
    },
    listLots: async (req) => {
      const page = await service.listLots({
        ownerId: req.ownerId,
        asset: req.asset,
        includeSpent: req.includeSpent,
        pageSize: req.page?.pageSize ?? 0,
        pageToken: req.page?.pageToken ?? '',
      });
      const currency = page.lots[0]?.currency ?? '';
      return {
        lots: page.lots.map(lotToProto),
        available: portionToProto(page.available, currency),
        expired: portionToProto(page.expired, currency),
        page: { nextPageToken: page.nextPageToken },
      };
    },
    getContractStatement: async (req) => {
      const statement = await service.getContractStatement(req.contractId);
      return {
        contract: contractToProto(statement.contract),
        lots: statement.lots.map(lotToProto),
        movements: statement.movements.map((m) => movementToProto(m, statement.contract.currency)),
        truncated: statement.truncated,
      };
    },
    reactivate: async (req, ctx) => ({
      lot: lotToProto(
        await service.reactivate({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          lotId: req.lotId,
          expiresAt: req.expireTime,
          operator: req.operator,
          reason: req.reason,
        }),
      ),
    }),
    freezeLot: async (req, ctx) => ({
      lot: lotToProto(
        await service.freezeLot({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          lotId: req.lotId,
          quantity: req.quantity,
          reason: req.reason,
        }),
      ),
    }),
    unfreezeLot: async (req, ctx) => ({
      lot: lotToProto(
        await service.unfreezeLot({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          lotId: req.lotId,
          quantity: req.quantity,
          reason: '',
        }),
      ),
    }),
    getReconciliationReport: async (req) => {
      const report = await recon.report(req.accountingDate);
      return {
        accountingDate: report.accountingDate,
        rows: report.rows.map((row) => {
          const m = (part: Portion): ProtoPortion => portionToProto(part, row.currency);
          return {
            level: row.level,
            scopeKey: row.scopeKey,
            total: m(row.figures.total),
            consumed: m(row.figures.consumed),
            available: m(row.figures.available),
            held: m(row.figures.held),
            frozen: m(row.figures.frozen),
            expired: m(row.figures.expired),
            differenceQuantity: row.difference.quantity,
            differenceValue: { amountMinor: row.difference.valueMinor, currency: row.currency },
            differenceClass: row.klass,
            action: row.action ?? '',
            transferId: row.transferId ?? '',
          };
        }),
        classCounts: report.classCounts,
        truncated: report.truncated,
      };
    },
  };
}

const READ = { scope: 'account:read' };
const WRITE = { scope: 'account:write' };
const ADMIN = { scope: 'account:admin' };

export const storedValueScopes: Specs<Definition> = {
  purchase: WRITE,
  consume: WRITE,
  tryConsume: WRITE,
  confirmConsume: WRITE,
  cancelConsume: WRITE,
  refundConsumption: WRITE,
  listLots: READ,
  getContractStatement: READ,
  reactivate: ADMIN,
  freezeLot: WRITE,
  unfreezeLot: WRITE,
  getReconciliationReport: READ,
};
