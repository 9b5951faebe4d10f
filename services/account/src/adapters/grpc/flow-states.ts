/**
 * The state each of account's money-moving RPCs leaves its flow in, for the
 * SERVER span (`paycore.state`, `paycore.amount`): what `paycore trace`
 * shows per step. Read from the responses, so the handlers stay as they are.
 */
import { debitTotal, withFlowStates, type FlowState, type Specs } from '@paycore/platform';
import {
  AccountServiceService,
  PendingState,
  Side,
  type PendingTransfer,
  type PostedLeg,
  type TransferLeg,
} from '@paycore/proto/paycore/account/v1/account_service';

type Definition = typeof AccountServiceService;

function amountOf(legs: readonly (TransferLeg | PostedLeg)[]): { amountMinor?: bigint; currency?: string } {
  const total = debitTotal(
    legs.map((leg) => ({
      side: leg.side,
      amountMinor: leg.amount?.amountMinor ?? 0n,
      currency: leg.amount?.currency ?? '',
    })),
    Side.SIDE_DEBIT,
  );
  return total === undefined ? {} : total;
}

function pendingState(pending: PendingTransfer | undefined): FlowState | undefined {
  if (pending === undefined) return undefined;
  const name = (PendingState[pending.state] ?? '').replace('PENDING_STATE_', '');
  return { state: name, ...amountOf(pending.legs) };
}

export function withAccountFlowStates(specs: Specs<Definition>): Specs<Definition> {
  return withFlowStates<Definition>(specs, {
    transfer: (res) => (res.transfer ? { state: 'POSTED', ...amountOf(res.transfer.legs) } : undefined),
    tryTransfer: (res) => pendingState(res.pending),
    confirmTransfer: (res) => pendingState(res.pending),
    cancelTransfer: (res) => pendingState(res.pending),
    sealDay: (res) => (res.accountingDate === '' ? undefined : { state: 'DAY_SEALED' }),
  });
}
