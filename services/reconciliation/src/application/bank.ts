/**
 * Bank statement claims (认款): import a bank statement of offline transfers,
 * then claim a line, whole or in parts, against an account. A claim reserves
 * its amount on the line in the same transaction as its idempotency claim
 * (so over-claiming is refused with what remains), then posts
 * Dr bank deposit / Cr the claimed account through account Transfer keyed by
 * the request id; a replay re-reads the claim and finishes its posting if a
 * crash interrupted it.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULT_BANK_MAPPINGS, parseBankStatement, type BankCsvMapping } from '../domain/bank';
import { invalidField, ReconError } from '../domain/errors';
import type { AccountPort, BankLineRow, ReconStore } from './ports';

/** 备付金存款 at settlement bank A: where offline transfers land. */
export const BANK_DEPOSIT_SUBJECT = '100201';

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

  async claim(input: {
    requestId: string;
    lineId: string;
    amountMinor: bigint;
    accountId: string;
    operator: string;
    bizCode: string;
  }): Promise<{ line: BankLineRow; transferId: string }> {
    if (input.amountMinor <= 0n) throw invalidField('amount', 'must be positive');
    if (!/^.{1,64}$/.test(input.operator)) throw invalidField('operator', '1..64 characters');
    if (!/^\d{20}$/.test(input.bizCode)) throw invalidField('biz_code', 'must be 20 digits');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(input.accountId)) throw invalidField('account_id', 'malformed');
    // The payload names the request's fields as the proto does (amount, not amountMinor).
    const payload = {
      lineId: input.lineId,
      amount: input.amountMinor,
      accountId: input.accountId,
      operator: input.operator,
      bizCode: input.bizCode,
    };
    const request = { requestId: input.requestId, operation: 'reconciliation.ClaimBankLine', payload };
    const line = await this.store.transaction('reconciliation.claim', 'READ COMMITTED', async (tx) => {
      const claim = await tx.claim<{ lineId: string }>(request);
      const found = await tx.bank.lockLine(input.lineId);
      if (found === null)
        throw new ReconError('BANK_LINE_NOT_FOUND', `no bank line ${input.lineId}`, { field: 'line_id' });
      if (claim.kind === 'replay') return found;
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
      await tx.bank.addClaim(found.lineId, input);
      await tx.remember(request, { lineId: found.lineId });
      return { ...found, claimedMinor: found.claimedMinor + input.amountMinor };
    });
    const deposit = await this.account.internalAccount(
      BANK_DEPOSIT_SUBJECT,
      'DEBIT',
      this.currency,
      `recon-open:${BANK_DEPOSIT_SUBJECT}:${this.currency}`,
    );
    const transferId = await this.account.transfer(
      `recon-claim:${input.requestId}`,
      input.bizCode,
      [
        { accountId: deposit, side: 'DEBIT', amountMinor: input.amountMinor },
        { accountId: input.accountId, side: 'CREDIT', amountMinor: input.amountMinor },
      ],
      `bank claim ${line.bankSerial} by ${input.operator}`,
    );
    await this.store.transaction('reconciliation.claim_posted', 'READ COMMITTED', (tx) =>
      tx.bank.setClaimTransfer(input.requestId, transferId),
    );
    return { line, transferId };
  }
}
