/**
 * gRPC handlers of paycore.account.v1.AccountService: decode, call one use
 * case, encode. Authentication, scopes, deadlines, context-code propagation
 * and error mapping are the platform kit's; validation is the application's.
 */
import type { Handlers, RpcContext, Specs } from '@paycore/platform';
import { AccountServiceService } from '@paycore/proto/paycore/account/v1/account_service';
import type { AccountService } from '../../application/account-service';
import {
  accountToProto,
  dailyToProto,
  durationMs,
  entryToProto,
  legsFromProto,
  ownerTypeFromProto,
  pendingToProto,
  postedToProto,
  postingModeFromProto,
  sideFromProto,
} from './mapping';

type Definition = typeof AccountServiceService;

/** The request's context code, or the one the call carried in metadata. */
function bizOf(request: { bizContext?: { code: string } | undefined }, ctx: RpcContext): string {
  return request.bizContext?.code ?? ctx.bizCode ?? '';
}

// eslint-disable-next-line max-lines-per-function -- a table of thin RPC handlers, one entry each
export function accountHandlers(service: AccountService): Handlers<Definition> {
  return {
    openAccount: async (req, ctx) => ({
      account: accountToProto(
        await service.openAccount({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          ownerType: ownerTypeFromProto(req.ownerType),
          ownerId: req.ownerId,
          subjectCode: req.subjectCode,
          currency: req.currency,
          normalSide: sideFromProto(req.normalSide, 'normal_side'),
          allowOverdraft: req.allowOverdraft,
        }),
      ),
    }),
    getAccount: async (req) => ({ account: accountToProto(await service.getAccount(req.accountId)) }),
    listAccounts: async (req) => {
      const page = await service.listAccounts(
        ownerTypeFromProto(req.ownerType),
        req.ownerId,
        req.page?.pageSize ?? 0,
        req.page?.pageToken ?? '',
      );
      return { accounts: page.items.map(accountToProto), page: { nextPageToken: page.nextPageToken } };
    },
    closeAccount: async (req, ctx) => ({
      account: accountToProto(
        await service.closeAccount({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          accountId: req.accountId,
        }),
      ),
    }),
    getBalance: async (req) => {
      const balance = await service.getBalance(req.accountId, req.asOf);
      const m = (v: bigint | undefined): { amountMinor: bigint; currency: string } | undefined =>
        v === undefined ? undefined : { amountMinor: v, currency: balance.currency };
      return {
        balance: {
          available: m(balance.available),
          frozen: m(balance.frozen),
          total: m(balance.total),
          pendingBuffered: m(balance.pendingBuffered),
        },
        lastEntrySeq: balance.lastSeq,
      };
    },
    listEntries: async (req) => {
      const page = await service.listEntries({
        accountId: req.accountId,
        ...(req.startTime !== undefined ? { startTime: req.startTime } : {}),
        ...(req.endTime !== undefined ? { endTime: req.endTime } : {}),
        ...(req.bizCode !== '' ? { bizCode: req.bizCode } : {}),
        pageSize: req.page?.pageSize ?? 0,
        pageToken: req.page?.pageToken ?? '',
      });
      return { entries: page.items.map(entryToProto), page: { nextPageToken: page.nextPageToken } };
    },
    transfer: async (req, ctx) => ({
      transfer: postedToProto(
        await service.transfer({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          legs: legsFromProto(req.legs),
          memo: req.memo,
        }),
      ),
    }),
    tryTransfer: async (req, ctx) => ({
      pending: pendingToProto(
        await service.tryTransfer({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          pendingId: req.pendingId,
          legs: legsFromProto(req.legs),
          timeoutMs: durationMs(req.timeout, 'timeout') ?? 0,
        }),
      ),
    }),
    confirmTransfer: async (req, ctx) => ({
      pending: pendingToProto(
        await service.confirmTransfer({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          pendingId: req.pendingId,
          legs: legsFromProto(req.legs),
        }),
      ),
    }),
    cancelTransfer: async (req, ctx) => ({
      pending: pendingToProto(
        await service.cancelTransfer({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          pendingId: req.pendingId,
        }),
      ),
    }),
    freeze: async (req, ctx) => {
      const result = await service.freeze({
        requestId: req.requestId,
        bizCode: bizOf(req, ctx),
        accountId: req.accountId,
        wholeAccount: req.wholeAccount,
        amountMinor: req.amount?.amountMinor ?? 0n,
        currency: req.amount?.currency ?? '',
        reason: req.reason,
      });
      return { freezeId: result.freezeId, account: accountToProto(result.account) };
    },
    unfreeze: async (req, ctx) => ({
      account: accountToProto(
        await service.unfreeze({
          requestId: req.requestId,
          bizCode: bizOf(req, ctx),
          freezeId: req.freezeId,
        }),
      ),
    }),
    setPostingMode: async (req, ctx) => {
      const flushIntervalMs = durationMs(req.flushInterval, 'flush_interval');
      return {
        account: accountToProto(
          await service.setPostingMode({
            requestId: req.requestId,
            bizCode: bizOf(req, ctx),
            accountId: req.accountId,
            postingMode: postingModeFromProto(req.postingMode),
            ...(flushIntervalMs !== undefined ? { flushIntervalMs } : {}),
            ...(req.flushBatchMax !== 0 ? { flushBatchMax: req.flushBatchMax } : {}),
          }),
        ),
      };
    },
    sealDay: async (req, ctx) => {
      const result = await service.sealDay({
        requestId: req.requestId,
        bizCode: bizOf(req, ctx),
        accountingDate: req.accountingDate,
      });
      return {
        accountingDate: result.accountingDate,
        totals: result.totals.map((t) => ({
          subjectCode: t.subjectCode,
          currency: t.currency,
          entryCount: t.entryCount,
          debitTotal: { amountMinor: t.debitTotal, currency: t.currency },
          creditTotal: { amountMinor: t.creditTotal, currency: t.currency },
        })),
        accountCount: result.accountCount,
        sealedAt: result.sealedAt,
      };
    },
    getDailyBalances: async (req) => {
      const page = await service.getDailyBalances(
        req.accountingDate,
        req.page?.pageSize ?? 0,
        req.page?.pageToken ?? '',
      );
      return { balances: page.items.map(dailyToProto), page: { nextPageToken: page.nextPageToken } };
    },
  };
}

const READ = { scope: 'account:read' };
const WRITE = { scope: 'account:write' };
const ADMIN = { scope: 'account:admin' };

export const accountScopes: Specs<Definition> = {
  openAccount: WRITE,
  getAccount: READ,
  listAccounts: READ,
  closeAccount: WRITE,
  getBalance: READ,
  listEntries: READ,
  transfer: WRITE,
  tryTransfer: WRITE,
  confirmTransfer: WRITE,
  cancelTransfer: WRITE,
  freeze: WRITE,
  unfreeze: WRITE,
  setPostingMode: ADMIN,
  sealDay: ADMIN,
  getDailyBalances: READ,
};
