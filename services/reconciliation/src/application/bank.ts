/**
 * Bank statement claims (认款): import a bank statement of offline transfers,
 * then claim a line, whole or in parts. A claim reserves its amount on the
 * line in the same transaction as its idempotency claim (so over-claiming is
 * refused with what remains) and is recorded PENDING; then it posts through
 * account, keyed by an id derived from the request id:
 * - a plain claim: Dr bank deposit / Cr the claimed account (Transfer);
 * - a purchase claim (ADR 0054): StoredValueService.Purchase creates a
 *   contract and its lot paid by the claimed amount, Dr bank deposit /
 *   Cr unearned revenue. A refusal by account releases the claim (REFUSED,
 *   the amount back on the line) and is answered PURCHASE_REFUSED.
 * A replay re-reads the claim and finishes its posting if a crash
 * interrupted it (claim, then call, then record: account's idempotency makes
 * the call safe to repeat).
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { DEFAULT_BANK_MAPPINGS, parseBankStatement, type BankCsvMapping } from '../domain/bank';
import { checkClaimPurchase, claimPurchasePayload, type ClaimPurchase } from '../domain/claim-purchase';
import { invalidField, ReconError } from '../domain/errors';
import type { AccountPort, BankClaimRow, BankLineRow, ReconStore } from './ports';

/** 备付金存款 at settlement bank A: where offline transfers land. */
export const BANK_DEPOSIT_SUBJECT = '100201';

/** The largest page of ListBankClaims. */
export const CLAIMS_PAGE_MAX = 500;

export interface ClaimInput {
  readonly requestId: string;
  readonly lineId: string;
  readonly amountMinor: bigint;
  /** Empty for a purchase. */
  readonly accountId: string;
  readonly operator: string;
  readonly bizCode: string;
  readonly purchase: ClaimPurchase | null;
}

export interface ClaimResult {
  readonly line: BankLineRow;
  readonly claim: BankClaimRow;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * account's idempotency key of a claim's purchase: fixed length (78
 * characters) whatever the claim's request id (up to 128), so it always fits
 * account's bound, and one claim id gives one key.
 */
export function purchaseRequestId(claimRequestId: string): string {
  return `recon-claim-sv:${sha256Hex(claimRequestId)}`;
}

/** The contract id of a purchase claim that names none (52 characters, within account's 64). */
export function derivedContractId(claimRequestId: string): string {
  return `recon-claim-${sha256Hex(claimRequestId).slice(0, 40)}`;
}

function purchaseRefused(reason: string): ReconError {
  return new ReconError('PURCHASE_REFUSED', `account refused the purchase: ${reason}`, {
    metadata: { account_reason: reason },
  });
}

export class BankClaims {
  constructor(
    private readonly store: ReconStore,
    private readonly account: AccountPort,
    private readonly uploadBytesMax: number,
    private readonly currency: string,
    private readonly mappings: Readonly<Record<string, BankCsvMapping>> = DEFAULT_BANK_MAPPINGS,
  ) {}

  async importStatement(input: { requestId: string; bank: string; content: Buffer }): Promise<BankLineRow[]> {
    const mapping = this.mappings[input.bank];
    if (mapping === undefined) throw invalidField('bank', `no mapping for bank "${input.bank.slice(0, 32)}"`);
    if (input.content.length > this.uploadBytesMax)
      throw new ReconError('STATEMENT_TOO_LARGE', `files are at most ${this.uploadBytesMax} bytes`, {
        metadata: { size_bytes_max: String(this.uploadBytesMax) },
      });
    const parsed = parseBankStatement(`bank_${input.bank}`, input.content, mapping);
    const request = {
      requestId: input.requestId,
      operation: 'reconciliation.ImportBankStatement',
      payload: { bank: input.bank, content: input.content },
    };
    return this.store.transaction('reconciliation.bank_import', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<BankLineRow[]>(request);
      if (claim.kind === 'replay') return claim.response;
      const lines = await tx.bank.insertLines(
        parsed.map((line) => ({ ...line, lineId: randomUUID(), bank: input.bank, claimedMinor: 0n })),
      );
      await tx.remember(request, lines);
      return lines;
    });
  }

  /** A line's claims, oldest first, after the claim `afterRequestId` (null: from the first). */
  async listClaims(lineId: string, afterRequestId: string | null, limit: number): Promise<BankClaimRow[]> {
    assert.ok(limit > 0 && limit <= CLAIMS_PAGE_MAX, `a page holds 1..${CLAIMS_PAGE_MAX} claims`);
    const claims = await this.store.listBankClaims(lineId, afterRequestId, limit);
    if (claims === null)
      throw new ReconError('BANK_LINE_NOT_FOUND', `no bank line ${lineId.slice(0, 64)}`, {
        field: 'line_id',
      });
    return claims;
  }

  /** Checks a claim's form; nothing is read or written. */
  private checkClaim(input: ClaimInput): void {
    if (input.amountMinor <= 0n) throw invalidField('amount', 'must be positive');
    if (!/^.{1,64}$/.test(input.operator)) throw invalidField('operator', '1..64 characters');
    if (!/^\d{20}$/.test(input.bizCode)) throw invalidField('biz_code', 'must be 20 digits');
    if (input.purchase === null) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(input.accountId)) throw invalidField('account_id', 'malformed');
      return;
    }
    if (input.accountId !== '') throw invalidField('account_id', 'must be empty for a purchase');
    checkClaimPurchase(input.purchase, new Date());
  }

  async claim(input: ClaimInput): Promise<ClaimResult> {
    this.checkClaim(input);
    // The payload names the request's fields as the proto does (amount, not amountMinor);
    // `purchase` enters only when set, so plain claims keep the hash they always had.
    const payload = {
      lineId: input.lineId,
      amount: input.amountMinor,
      accountId: input.accountId,
      operator: input.operator,
      bizCode: input.bizCode,
      ...(input.purchase === null ? {} : { purchase: claimPurchasePayload(input.purchase) }),
    };
    const request = { requestId: input.requestId, operation: 'reconciliation.ClaimBankLine', payload };
    const recorded = await this.store.transaction('reconciliation.claim', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ lineId: string }>(request);
      const found = await tx.bank.lockLine(input.lineId);
      if (found === null)
        throw new ReconError('BANK_LINE_NOT_FOUND', `no bank line ${input.lineId}`, { field: 'line_id' });
      if (claim.kind === 'fresh') {
        const remaining = found.amountMinor - found.claimedMinor;
        if (input.amountMinor > remaining)
          throw new ReconError(
            'CLAIM_EXCEEDS_REMAINING',
            `only ${remaining} minor units are left on the line`,
            {
              field: 'amount',
              metadata: { remaining_minor: remaining.toString() },
            },
          );
        const purchase =
          input.purchase === null
            ? null
            : {
                ...input.purchase,
                contractId:
                  input.purchase.contractId === ''
                    ? derivedContractId(input.requestId)
                    : input.purchase.contractId,
              };
        await tx.bank.addClaim(found.lineId, {
          ...input,
          purchase,
          contractId: purchase?.contractId ?? null,
        });
        await tx.remember(request, { lineId: found.lineId });
      }
      const stored = await tx.bank.claimById(input.requestId);
      assert.ok(
        stored !== null && stored.lineId === found.lineId,
        `claim ${input.requestId} is not on its line`,
      );
      const line = await tx.bank.lockLine(found.lineId);
      assert.ok(
        line !== null && line.claimedMinor <= line.amountMinor,
        'a line is never claimed beyond its amount',
      );
      return { line, claim: stored };
    });
    return this.post(recorded);
  }

  /**
   * The resume pass: finishes claims a killed process (or a caller who gave
   * up) left PENDING since before `before`, as their replay would. Each is
   * keyed as its first call was, so a claim two replicas resume at once is
   * still posted once; a failure (account unreachable) is counted for the
   * scheduler's log and the claim is tried again on the next pass.
   */
  async resumePending(
    before: Date,
    limit: number,
  ): Promise<{ posted: number; refused: number; failed: number }> {
    const pending = await this.store.transaction('reconciliation.pending_claims', 'READ COMMITTED', (tx) =>
      tx.bank.pendingClaims(before, limit),
    );
    const counts = { posted: 0, refused: 0, failed: 0 };
    for (const claim of pending) {
      const line = await this.store.transaction('reconciliation.claim_line', 'READ COMMITTED', (tx) =>
        tx.bank.lockLine(claim.lineId),
      );
      assert.ok(line !== null, `claim ${claim.requestId} has its line`);
      try {
        await this.post({ line, claim });
        counts.posted += 1;
      } catch (err) {
        if (err instanceof ReconError && err.reason === 'PURCHASE_REFUSED') counts.refused += 1;
        else counts.failed += 1;
      }
    }
    return counts;
  }

  /** Finishes a recorded claim: a POSTED one is answered as it is, a REFUSED one refused again. */
  private async post(recorded: ClaimResult): Promise<ClaimResult> {
    const { claim } = recorded;
    if (claim.state === 'POSTED') return recorded;
    if (claim.state === 'REFUSED') throw purchaseRefused(claim.refusedReason ?? 'UNKNOWN');
    const deposit = await this.account.internalAccount(
      BANK_DEPOSIT_SUBJECT,
      'DEBIT',
      this.currency,
      `recon-open:${BANK_DEPOSIT_SUBJECT}:${this.currency}`,
    );
    if (claim.purchase === null) {
      const transferId = await this.account.transfer(
        `recon-claim:${claim.requestId}`,
        claim.bizCode,
        [
          { accountId: deposit, side: 'DEBIT', amountMinor: claim.amountMinor },
          { accountId: claim.accountId, side: 'CREDIT', amountMinor: claim.amountMinor },
        ],
        `bank claim ${recorded.line.bankSerial} by ${claim.operator}`,
      );
      return this.recordPosted(recorded, { transferId, contractId: null, lotIds: [] });
    }
    const outcome = await this.account.purchase({
      requestId: purchaseRequestId(claim.requestId),
      bizCode: claim.bizCode,
      contractId: claim.contractId ?? derivedContractId(claim.requestId),
      purchase: claim.purchase,
      paidMinor: claim.amountMinor,
      currency: this.currency,
      fundingAccountId: deposit,
    });
    if (outcome.kind === 'bought') {
      assert.equal(
        outcome.contractId,
        claim.contractId,
        'account answers with the contract it was asked for',
      );
      return this.recordPosted(recorded, outcome);
    }
    await this.store.transaction('reconciliation.claim_refused', 'READ COMMITTED', (tx) =>
      tx.bank.markRefused(claim.requestId, outcome.reason),
    );
    throw purchaseRefused(outcome.reason);
  }

  private async recordPosted(
    recorded: ClaimResult,
    posted: { transferId: string; contractId: string | null; lotIds: readonly string[] },
  ): Promise<ClaimResult> {
    return this.store.transaction('reconciliation.claim_posted', 'READ COMMITTED', async (tx) => {
      // A concurrent replay may have recorded it first: the same answer, so false is fine.
      await tx.bank.markPosted(recorded.claim.requestId, posted);
      const claim = await tx.bank.claimById(recorded.claim.requestId);
      assert.ok(claim !== null && claim.state === 'POSTED', 'a posted claim reads back POSTED');
      assert.equal(claim.transferId, posted.transferId, 'one claim, one posting');
      return { line: recorded.line, claim };
    });
  }
}
