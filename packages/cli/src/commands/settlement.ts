/**
 * Settlement commands (结算): `settlement run [date]` creates and queues the
 * batches of every merchant due on a settlement date, `settlement request
 * <merchant>` settles one merchant on demand, `settlement batches
 * <merchant>` lists a merchant's batches, `settlement batch <id>` shows one,
 * `settlement statement <batch id>` prints its statement lines (or, with
 * --csv, the CSV the merchant receives).
 */
import type { Command } from 'commander';
import { proto } from '@paycore/client';
import { enumName, type Row } from '../output';
import type { Runtime } from '../runtime';
import { chinaToday, iso, minorText, newRequestId, parseDate } from './common';

const { BatchState } = proto.settlement;
const SETTLEMENT = 'paycore.settlement.v1.SettlementService';

type Runtimes = () => Runtime;

function batchRow(b: proto.settlement.Batch): Row {
  return {
    batch_id: b.batchId,
    merchant_id: b.merchantId,
    settlement_date: b.settlementDate,
    state: enumName(BatchState, b.state, 'BATCH_STATE_'),
    item_count: b.itemCount,
    gross: minorText(b.grossMinor, b.currency),
    refunds: minorText(b.refundsMinor, b.currency),
    fees: minorText(b.feesMinor, b.currency),
    shares: minorText(b.sharesMinor, b.currency),
    carried_in: minorText(b.carriedInMinor, b.currency),
    payout: minorText(b.payoutMinor, b.currency),
    carried_out: minorText(b.carriedOutMinor, b.currency),
    payout_txn_id: b.payoutTxnId,
    payout_attempts: b.payoutAttempts,
    created_at: iso(b.createdAt),
  };
}

// eslint-disable-next-line max-lines-per-function -- a commander table of subcommands, one short entry each
export function register(program: Command, runtime: Runtimes): void {
  const settlement = program
    .command('settlement')
    .description('settlement: batches, payouts and merchant statements');
  settlement
    .command('run [date]')
    .description('create and queue the batch of every merchant due on a settlement date (default today)')
    .option('--request-id <id>', 'idempotency key (default: one per date)')
    .action(async (date: string | undefined, o: { requestId?: string }) => {
      const rt = runtime();
      const settlementDate = parseDate(date ?? chinaToday());
      const res = await rt.client([`${SETTLEMENT}/RunSettlementDay`]).settlement.runSettlementDay({
        requestId: o.requestId ?? `cli-settle-${settlementDate}`,
        settlementDate,
      });
      rt.print({
        kind: 'record',
        record: {
          settlement_date: settlementDate,
          batches_created: res.batchesCreated,
          batches_total: res.batchesTotal,
        },
      });
    });
  settlement
    .command('request <merchantId> [date]')
    .description('settle one merchant now: items cleared up to the date (default today)')
    .option('--request-id <id>', 'idempotency key (default: generated)')
    .action(async (merchantId: string, date: string | undefined, o: { requestId?: string }) => {
      const rt = runtime();
      const res = await rt.client([`${SETTLEMENT}/RequestSettlement`]).settlement.requestSettlement({
        requestId: o.requestId ?? newRequestId('settle'),
        merchantId,
        settlementDate: parseDate(date ?? chinaToday()),
      });
      if (res.batch) rt.print({ kind: 'record', record: batchRow(res.batch) });
    });
  settlement
    .command('batches <merchantId>')
    .description("a merchant's batches, newest first")
    .action(async (merchantId: string) => {
      const rt = runtime();
      const res = await rt.client([`${SETTLEMENT}/ListBatches`]).settlement.listBatches({ merchantId });
      rt.print({ kind: 'rows', rows: res.batches.map(batchRow) });
    });
  settlement
    .command('batch <batchId>')
    .description('one batch')
    .action(async (batchId: string) => {
      const rt = runtime();
      const res = await rt.client([`${SETTLEMENT}/GetBatch`]).settlement.getBatch({ batchId });
      if (res.batch) rt.print({ kind: 'record', record: batchRow(res.batch) });
    });
  settlement
    .command('statement <batchId>')
    .description("a batch's merchant statement: one row per payment or refund (--csv: the merchant's CSV)")
    .option('--csv', 'print the CSV the merchant receives')
    .action(async (batchId: string, o: { csv?: boolean }) => {
      const rt = runtime();
      const res = await rt.client([`${SETTLEMENT}/GetStatement`]).settlement.getStatement({ batchId });
      if (o.csv === true) {
        process.stdout.write(res.csv.endsWith('\n') ? res.csv : `${res.csv}\n`);
        return;
      }
      const currency = res.batch?.currency ?? 'CNY';
      rt.print({
        kind: 'rows',
        rows: res.lines.map((l) => ({
          type: l.type,
          merchant_order_no: l.merchantOrderNo,
          order_id: l.orderId,
          gross: minorText(l.grossMinor, currency),
          fee: minorText(l.feeMinor, currency),
          shares: minorText(l.sharesMinor, currency),
          net: minorText(l.netMinor, currency),
          booking_date: l.bookingDate,
        })),
      });
    });
}
