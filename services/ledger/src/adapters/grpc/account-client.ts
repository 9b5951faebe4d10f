/**
 * The AccountDailyBalances port over account's gRPC GetDailyBalances: every
 * page of a sealed date, with a deadline per call and a bound on the pages.
 */
import { readFileSync } from 'node:fs';
import { createClient, errorReason, unary, ApiError } from '@paycore/platform';
import { AccountServiceClient, Side } from '@paycore/proto/paycore/account/v1/account_service';
import type { AccountDailyBalances } from '../../application/ports';
import type { AccountDailyClosing } from '../../domain/close-check';

const PAGE_SIZE = 500;
/** 2,000 pages of 500 = one million accounts per date; beyond that the close needs a streaming design. */
const PAGES_MAX = 2_000;
const CALL_DEADLINE_MS = 10_000;

/** ACCOUNT_ADDRESS, else `account` in the ENDPOINTS_FILE json written by make up. */
export function accountAddress(address: string | undefined, endpointsFile: string | undefined): string {
  if (address !== undefined) return address;
  if (endpointsFile !== undefined) {
    const endpoints = JSON.parse(readFileSync(endpointsFile, 'utf8')) as Record<string, unknown>;
    const fromFile = endpoints['account'];
    if (typeof fromFile === 'string' && fromFile !== '') return fromFile;
  }
  throw new Error('the account service address is unknown: set ACCOUNT_ADDRESS or ENDPOINTS_FILE');
}

/** Unreachable account is retryable; a refusal by account (e.g. DAY_NOT_SEALED) is passed on by reason. */
function accountFailure(err: unknown): ApiError {
  const code = (err as { code?: number }).code;
  const text = err instanceof Error ? err.message : String(err);
  if (code === 14 || code === 4 || code === undefined) {
    return new ApiError('UNAVAILABLE', 'DEPENDENCY_UNAVAILABLE', `account GetDailyBalances failed: ${text}`);
  }
  const reason = errorReason(err) ?? 'UNKNOWN';
  return new ApiError('FAILED_PRECONDITION', 'ACCOUNT_REFUSED', `account GetDailyBalances refused: ${text}`, {
    metadata: { account_reason: reason },
  });
}

export class GrpcAccountDailyBalances implements AccountDailyBalances {
  private readonly client: AccountServiceClient;

  constructor(address: string, token: () => string | undefined) {
    this.client = createClient(AccountServiceClient, {
      address,
      token,
      defaultDeadlineMs: CALL_DEADLINE_MS,
      idempotent: ['getDailyBalances'],
    });
  }

  async dailyClosings(accountingDate: string): Promise<AccountDailyClosing[]> {
    const out: AccountDailyClosing[] = [];
    let pageToken = '';
    for (let page = 0; page < PAGES_MAX; page++) {
      const res = await unary(this.client.getDailyBalances.bind(this.client), {
        accountingDate,
        page: { pageSize: PAGE_SIZE, pageToken },
      }).catch((err: unknown) => {
        throw accountFailure(err);
      });
      for (const row of res.balances) {
        out.push({
          accountId: row.accountId,
          subjectCode: row.subjectCode,
          currency: row.closing?.currency ?? row.opening?.currency ?? '',
          normalSide: row.normalSide === Side.SIDE_CREDIT ? 'CREDIT' : 'DEBIT',
          closingMinor: row.closing?.amountMinor ?? 0n,
        });
      }
      pageToken = res.page?.nextPageToken ?? '';
      if (pageToken === '') return out;
    }
    throw new Error(`account returned more than ${PAGES_MAX} pages of daily balances for ${accountingDate}`);
  }

  close(): void {
    this.client.close();
  }
}
