/** Account commands: accounts (list, get, balance) and entries (the journal of one account). */
import { Option, type Command } from 'commander';
import { proto } from '@paycore/client';
import { enumName, type Row } from '../output';
import type { Runtime } from '../runtime';
import { amountText, iso, parseCount } from './common';

const { OwnerType, Side, AccountStatus, PostingMode } = proto.account;
const ACCOUNT = 'paycore.account.v1.AccountService';
const PAGE_MAX = 500;
const OWNER_TYPES: Record<string, proto.account.OwnerType> = {
  customer: OwnerType.OWNER_TYPE_CUSTOMER,
  merchant: OwnerType.OWNER_TYPE_MERCHANT,
  internal: OwnerType.OWNER_TYPE_INTERNAL,
};

function accountRow(a: proto.account.Account): Row {
  return {
    account_id: a.accountId,
    owner: `${enumName(OwnerType, a.ownerType, 'OWNER_TYPE_').toLowerCase()}:${a.ownerId}`,
    subject: a.subjectCode,
    side: enumName(Side, a.normalSide, 'SIDE_'),
    status: enumName(AccountStatus, a.status, 'ACCOUNT_STATUS_'),
    posting: enumName(PostingMode, a.postingMode, 'POSTING_MODE_'),
    available: amountText(a.balance?.available),
    frozen: amountText(a.balance?.frozen),
    last_entry_seq: a.lastEntrySeq,
  };
}

// eslint-disable-next-line max-lines-per-function -- a commander table of subcommands, one short entry each
export function register(program: Command, runtime: () => Runtime): void {
  const accounts = program.command('accounts').description('accounts of record (account service)');
  accounts
    .command('list')
    .description("an owner's accounts")
    .addOption(
      new Option('--owner-type <type>', 'owner type').choices(Object.keys(OWNER_TYPES)).makeOptionMandatory(),
    )
    .requiredOption('--owner <ownerId>', 'owner id (payer, merchant, or internal name)')
    .option('--limit <n>', `page size (1..${PAGE_MAX})`, parseCount(PAGE_MAX), 50)
    .action(async (o: { ownerType: string; owner: string; limit: number }) => {
      const rt = runtime();
      const res = await rt.client([`${ACCOUNT}/ListAccounts`]).account.listAccounts({
        ownerType: OWNER_TYPES[o.ownerType] ?? OwnerType.OWNER_TYPE_UNSPECIFIED,
        ownerId: o.owner,
        page: { pageSize: o.limit, pageToken: '' },
      });
      rt.print({ kind: 'rows', rows: res.accounts.map(accountRow) });
    });
  accounts
    .command('get <accountId>')
    .description('one account with its balance')
    .action(async (accountId: string) => {
      const rt = runtime();
      const res = await rt.client([`${ACCOUNT}/GetAccount`]).account.getAccount({ accountId });
      if (res.account) rt.print({ kind: 'record', record: accountRow(res.account) });
    });
  accounts
    .command('balance <accountId>')
    .description('the balance now, or at a point in time')
    .option('--as-of <iso>', 'point in time (ISO 8601)')
    .action(async (accountId: string, o: { asOf?: string }) => {
      const rt = runtime();
      const res = await rt
        .client([`${ACCOUNT}/GetBalance`])
        .account.getBalance({ accountId, asOf: o.asOf === undefined ? undefined : new Date(o.asOf) });
      rt.print({
        kind: 'record',
        record: {
          account_id: accountId,
          available: amountText(res.balance?.available),
          frozen: amountText(res.balance?.frozen),
          total: amountText(res.balance?.total),
          pending_buffered: amountText(res.balance?.pendingBuffered),
          last_entry_seq: res.lastEntrySeq,
        },
      });
    });

  program
    .command('entries <accountId>')
    .description("an account's journal: entries with balance_after, oldest first")
    .option('--biz-code <code>', 'only entries of this context code', '')
    .option('--limit <n>', `page size (1..${PAGE_MAX})`, parseCount(PAGE_MAX), 50)
    .option('--page-token <token>', 'continue from a previous page', '')
    .action(async (accountId: string, o: { bizCode: string; limit: number; pageToken: string }) => {
      const rt = runtime();
      const res = await rt.client([`${ACCOUNT}/ListEntries`]).account.listEntries({
        accountId,
        bizCode: o.bizCode,
        page: { pageSize: o.limit, pageToken: o.pageToken },
      });
      rt.print({
        kind: 'rows',
        rows: res.entries.map((e) => ({
          seq: e.seq,
          side: enumName(Side, e.side, 'SIDE_'),
          amount: amountText(e.amount),
          balance_after: amountText(e.balanceAfter),
          transfer_id: e.transferId,
          biz_code: e.bizCode,
          accounting_date: e.accountingDate,
          created_at: iso(e.createdAt),
        })),
      });
      const next = res.page?.nextPageToken ?? '';
      if (next !== '' && rt.settings.output === 'text')
        process.stdout.write(`next page: --page-token ${next}\n`);
    });
}
