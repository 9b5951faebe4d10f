/**
 * End of day (日切): `eod seal <date>` (account seals the date: buffered
 * postings flushed, daily balances written), `eod close <date>` (ledger checks
 * its vouchers against the seal and closes the date), `eod trial-balance
 * <date> [--level 1|2|3]` (the trial balance: level 1 is the general
 * ledger; 2 and 3 show the sub-subjects).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { proto } from '@paycore/client';
import { enumName } from '../output';
import type { Runtime } from '../runtime';
import { amountText, chinaToday, newRequestId, parseDate } from './common';

const { BalanceDirection, DayStatus } = proto.ledger;
const ACCOUNT = 'paycore.account.v1.AccountService';
const LEDGER = 'paycore.ledger.v1.LedgerService';
/** The context code of end-of-day operations (platform product 900101, adjust). */
const SEAL_CODE = '90010101080000000000';

function parseLevel(text: string): number {
  const level = Number(text);
  if (![1, 2, 3].includes(level)) throw new InvalidArgumentError('level must be 1, 2 or 3');
  return level;
}

// eslint-disable-next-line max-lines-per-function -- a commander table of subcommands, one short entry each
export function register(program: Command, runtime: () => Runtime): void {
  const eod = program.command('eod').description('end of day: seal (account), close (ledger), trial balance');
  eod
    .command('seal [date]')
    .description('seal an accounting date in the account service (default today, Asia/Shanghai)')
    .option('--code <bizCode>', 'context code of the seal', SEAL_CODE)
    .action(async (date: string | undefined, o: { code: string }) => {
      const rt = runtime();
      const accountingDate = parseDate(date ?? chinaToday());
      const res = await rt.client([`${ACCOUNT}/SealDay`]).account.sealDay({
        requestId: newRequestId(`seal-${accountingDate}`),
        bizContext: { code: o.code },
        accountingDate,
      });
      rt.print({
        kind: 'rows',
        rows: res.totals.map((t) => ({
          accounting_date: res.accountingDate,
          subject: t.subjectCode,
          currency: t.currency,
          debit: amountText(t.debitTotal),
          credit: amountText(t.creditTotal),
          entries: t.entryCount,
        })),
      });
    });
  eod
    .command('close [date]')
    .description('close a sealed date in the ledger (checks vouchers against the seal)')
    .option('--code <bizCode>', 'context code of the close', SEAL_CODE)
    .action(async (date: string | undefined, o: { code: string }) => {
      const rt = runtime();
      const accountingDate = parseDate(date ?? chinaToday());
      const res = await rt.client([`${LEDGER}/CloseDay`]).ledger.closeDay({
        requestId: newRequestId(`close-${accountingDate}`),
        bizContext: { code: o.code },
        accountingDate,
      });
      rt.print({
        kind: 'record',
        record: {
          accounting_date: res.accountingDate,
          status: enumName(DayStatus, res.status, 'DAY_STATUS_'),
          closed_at: res.closedAt?.toISOString() ?? '',
        },
      });
    });
  eod
    .command('trial-balance [date]')
    .description('trial balance of a date; --level 2 or 3 for sub-subjects')
    .option('--level <n>', 'subject level 1..3 (1 = general ledger)', parseLevel, 1)
    .action(async (date: string | undefined, o: { level: number }) => {
      const rt = runtime();
      const accountingDate = parseDate(date ?? chinaToday());
      const client = rt.client([`${LEDGER}/GetTrialBalance`, `${LEDGER}/GetSubjectBalances`]);
      const direction = (d: proto.ledger.BalanceDirection): string =>
        enumName(BalanceDirection, d, 'BALANCE_DIRECTION_');
      const trial = o.level === 1 ? await client.ledger.getTrialBalance({ accountingDate }) : undefined;
      const rows = trial
        ? trial.rows
        : (await client.ledger.getSubjectBalances({ accountingDate, level: o.level })).balances;
      rt.print({
        kind: 'rows',
        rows: rows.map((r) => ({
          subject: r.subjectCode,
          name: r.subjectName,
          level: r.level,
          opening: `${direction(r.openingDirection)} ${amountText(r.opening)}`,
          debit: amountText(r.debitTotal),
          credit: amountText(r.creditTotal),
          closing: `${direction(r.closingDirection)} ${amountText(r.closing)}`,
        })),
      });
      if (trial) {
        if (rt.settings.output === 'text') {
          process.stdout.write(
            `balanced: ${trial.balanced}${trial.provisional ? ' (provisional: date not closed)' : ''}\n`,
          );
        }
        if (!trial.balanced) process.exitCode = 1;
      }
    });
}
