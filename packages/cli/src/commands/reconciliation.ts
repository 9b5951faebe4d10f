/**
 * Reconciliation commands (对账): `recon run <channel no> [date]` reconciles
 * the channel's bill of a date (downloaded through channel-router), `recon
 * report` prints the day's report (classes, rules applied, checks), `recon
 * differences` lists the day's differences, `recon resolve` records an
 * operator's decision on one difference (audited with --operator and
 * --reason), `recon claims` lists the claims of a bank statement line (认款)
 * with the contract and lots of those that were stored-value purchases, and
 * `recon upload` streams a bill file an operator holds (UploadStatement:
 * checksum and size computed first, then the bytes in chunks) and prints
 * the day's report.
 * Amounts are minor units on the wire and exact strings here.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { proto } from '@paycore/client';
import { enumName, type Row } from '../output';
import type { Runtime } from '../runtime';
import { chinaToday, minorText, newRequestId, parseCount, parseDate } from './common';

const { DifferenceClass, Direction, Resolution } = proto.reconciliationEvents;
const RECON = 'paycore.reconciliation.v1.ReconciliationService';
const DIFFERENCES_PAGE_MAX = 500;
const CHANNEL_NO_PATTERN = /^[0-9]{6}$/;
const RESOLUTIONS: Readonly<Record<string, proto.reconciliationEvents.Resolution>> = {
  'channel-is-right': Resolution.RESOLUTION_CHANNEL_IS_RIGHT,
  'platform-is-right': Resolution.RESOLUTION_PLATFORM_IS_RIGHT,
  'written-off': Resolution.RESOLUTION_WRITTEN_OFF,
};

type Runtimes = () => Runtime;

function channelNo(text: string): string {
  if (!CHANNEL_NO_PATTERN.test(text)) throw new Error(`channel number must be six digits, got "${text}"`);
  return text;
}

export function register(program: Command, runtime: Runtimes): void {
  const recon = program
    .command('recon')
    .description("reconciliation: a channel's bill of a day against paycore's transactions");
  run(recon, runtime);
  report(recon, runtime);
  differences(recon, runtime);
  resolve(recon, runtime);
  claims(recon, runtime);
  upload(recon, runtime);
}

const UPLOAD_FORMATS = ['ALIPAY_TRADE_ZIP', 'WECHAT_TRADE_ALL', 'GENERIC_CSV'];

/** SHA-256 (hex) and size of a file, read as a stream. */
async function fileDigest(file: string): Promise<{ sha256: string; size: bigint }> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file)) hash.update(piece as Buffer);
  return { sha256: hash.digest('hex'), size: BigInt((await stat(file)).size) };
}

function upload(recon: Command, runtime: Runtimes): void {
  recon
    .command('upload <channelNo> <date> <file>')
    .description(
      "import a bill file you hold for a channel's day and reconcile it (streamed, any size up to the service's bound)",
    )
    .addOption(new Option('--format <f>', 'the file format').choices(UPLOAD_FORMATS).makeOptionMandatory())
    .requiredOption('--operator <name>', 'who uploads it (recorded with the file)')
    .option('--request-id <id>', 'idempotency key (default: one per channel, date and file checksum)')
    .action(
      async (
        no: string,
        date: string,
        file: string,
        o: { format: string; operator: string; requestId?: string },
      ) => {
        const rt = runtime();
        const billDate = parseDate(date);
        const digest = await fileDigest(file);
        const res = await rt.client([`${RECON}/UploadStatement`]).reconciliation.uploadStatement({
          metadata: {
            requestId: o.requestId ?? `cli-upload-${channelNo(no)}-${billDate}-${digest.sha256.slice(0, 32)}`,
            channelNo: no,
            billDate,
            format: o.format,
            operator: o.operator,
            checksumSha256: digest.sha256,
            sizeBytes: digest.size,
          },
          source: createReadStream(file),
        });
        if (res.report) rt.print({ kind: 'record', record: reportRow(res.report) });
      },
    );
}

const CLAIMS_PAGE_MAX = 500;

function claims(recon: Command, runtime: Runtimes): void {
  recon
    .command('claims <lineId>')
    .description('the claims of a bank statement line, oldest first, with the contract and lots of purchases')
    .option('--limit <n>', `at most n (1..${CLAIMS_PAGE_MAX})`, parseCount(CLAIMS_PAGE_MAX), 100)
    .action(async (lineId: string, o: { limit: number }) => {
      const rt = runtime();
      const res = await rt.client([`${RECON}/ListBankClaims`]).reconciliation.listBankClaims({
        lineId,
        pageSize: o.limit,
        pageToken: '',
      });
      const rows: Row[] = res.claims.map((c) => ({
        request_id: c.requestId,
        amount: minorText(c.amount, 'CNY'),
        state: enumName(proto.reconciliation.BankClaimState, c.state, 'BANK_CLAIM_STATE_'),
        account_id: c.accountId,
        contract_id: c.contractId,
        lot_ids: c.lotIds.join(' '),
        transfer_id: c.transferId,
        refused_reason: c.refusedReason,
        operator: c.operator,
      }));
      rt.print({ kind: 'rows', rows });
    });
}

function run(recon: Command, runtime: Runtimes): void {
  recon
    .command('run <channelNo> [date]')
    .description('download and reconcile the bill of a date (default today, China time)')
    .option('--request-id <id>', 'idempotency key (default: one per channel and date)')
    .action(async (no: string, date: string | undefined, o: { requestId?: string }) => {
      const rt = runtime();
      const billDate = parseDate(date ?? chinaToday());
      const res = await rt.client([`${RECON}/ReconcileDay`]).reconciliation.reconcileDay({
        requestId: o.requestId ?? `cli-recon-${channelNo(no)}-${billDate}`,
        channelNo: no,
        billDate,
      });
      if (res.report) rt.print({ kind: 'record', record: reportRow(res.report) });
    });
}

function report(recon: Command, runtime: Runtimes): void {
  recon
    .command('report <channelNo> [date]')
    .description(
      "a reconciled day's report: classes, rules applied, checks (--checks, --classes for the lists)",
    )
    .option('--classes', 'one row per difference class instead of the summary')
    .option('--checks', 'one row per internal check instead of the summary')
    .action(async (no: string, date: string | undefined, o: { classes?: boolean; checks?: boolean }) => {
      const rt = runtime();
      const billDate = parseDate(date ?? chinaToday());
      const res = await rt
        .client([`${RECON}/GetDayReport`])
        .reconciliation.getDayReport({ channelNo: channelNo(no), billDate });
      const day = res.report;
      if (day === undefined) throw new Error(`no report for ${no} ${billDate}`);
      if (o.classes === true) {
        rt.print({
          kind: 'rows',
          rows: day.classes.map((c) => ({
            class: enumName(DifferenceClass, c.differenceClass, 'DIFFERENCE_CLASS_'),
            count: c.count,
            channel_amount: minorText(c.channelAmount, 'CNY'),
            platform_amount: minorText(c.platformAmount, 'CNY'),
          })),
        });
        return;
      }
      if (o.checks === true) {
        rt.print({
          kind: 'rows',
          rows: day.checks.map((c) => ({ check: c.name, status: c.status, detail: c.detail })),
        });
        if (day.checks.some((c) => c.status === 'FAILED')) process.exitCode = 1;
        return;
      }
      rt.print({ kind: 'record', record: reportRow(day) });
    });
}

function reportRow(day: proto.reconciliation.DayReport): Row {
  return {
    channel_no: day.channelNo,
    bill_date: day.billDate,
    run_id: day.runId,
    line_count: day.lineCount,
    open_count: day.openCount,
    held_count: day.heldCount,
    suspense_open: minorText(day.suspenseOpenAmount, 'CNY'),
    channel_fees: minorText(day.channelFeeTotal, 'CNY'),
    net_settlement: minorText(day.netSettlementAmount, 'CNY'),
    rules_applied: Object.entries(day.rulesApplied)
      .map(([rule, count]) => `${rule}=${count}`)
      .join(' '),
    checks: day.checks.map((c) => `${c.name}=${c.status}`).join(' '),
    reconciled_at: day.reconciledAt?.toISOString() ?? '',
  };
}

function differences(recon: Command, runtime: Runtimes): void {
  recon
    .command('differences <channelNo> [date]')
    .description("a day's differences, oldest first (--open for the unresolved ones only)")
    .option('--open', 'only differences still OPEN')
    .option('--limit <n>', `at most n (1..${DIFFERENCES_PAGE_MAX})`, parseCount(DIFFERENCES_PAGE_MAX), 100)
    .action(async (no: string, date: string | undefined, o: { open?: boolean; limit: number }) => {
      const rt = runtime();
      const billDate = parseDate(date ?? chinaToday());
      const res = await rt.client([`${RECON}/ListDifferences`]).reconciliation.listDifferences({
        channelNo: channelNo(no),
        billDate,
        pageSize: o.limit,
        pageToken: '',
      });
      const rows = res.differences.filter((d) => o.open !== true || d.state === 'OPEN').map(differenceRow);
      rt.print({ kind: 'rows', rows });
    });
}

function differenceRow(d: proto.reconciliation.Difference): Row {
  return {
    difference_id: d.differenceId,
    class: enumName(DifferenceClass, d.differenceClass, 'DIFFERENCE_CLASS_'),
    direction: enumName(Direction, d.direction, 'DIRECTION_'),
    merchant_order_no: d.merchantOrderNo,
    platform_txn_id: d.platformTxnId,
    platform_amount: minorText(d.platformAmount, d.currency),
    channel_amount: minorText(d.channelAmount, d.currency),
    suspense: minorText(d.suspenseAmount, d.currency),
    state: d.state,
    resolution:
      d.resolution === Resolution.RESOLUTION_UNSPECIFIED
        ? ''
        : enumName(Resolution, d.resolution, 'RESOLUTION_'),
    operator: d.operator,
    biz_code: d.bizCode,
  };
}

function resolve(recon: Command, runtime: Runtimes): void {
  recon
    .command('resolve <differenceId>')
    .description(
      'record a decision on one difference; one in suspense is written off by the opposite posting',
    )
    .addOption(
      new Option('--resolution <r>', 'who was right').choices(Object.keys(RESOLUTIONS)).makeOptionMandatory(),
    )
    .requiredOption('--reason <text>', 'the evidence, for the audit trail')
    .requiredOption('--operator <name>', 'who decides (recorded with the decision)')
    .option('--request-id <id>', 'idempotency key (default: generated)')
    .action(
      async (
        differenceId: string,
        o: { resolution: string; reason: string; operator: string; requestId?: string },
      ) => {
        const rt = runtime();
        const resolution = RESOLUTIONS[o.resolution] ?? Resolution.RESOLUTION_UNSPECIFIED;
        const res = await rt.client([`${RECON}/ResolveDifferences`]).reconciliation.resolveDifferences({
          requestId: o.requestId ?? newRequestId('recon-resolve'),
          operator: o.operator,
          decisions: [{ differenceId, resolution, reason: o.reason }],
          decisionsCsv: Buffer.alloc(0),
        });
        rt.print({ kind: 'rows', rows: res.differences.map(differenceRow) });
      },
    );
}
