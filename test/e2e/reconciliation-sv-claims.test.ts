/**
 * Offline stored-value purchases from bank statement claims (ADR 0054), end
 * to end: every service a real process (platform.ts), reconciliation calling
 * the real account StoredValueService.Purchase, ledger deriving vouchers.
 *
 * One bank line of 300.00 funds three purchases through three claims of
 * 100.00, 120.00 and 80.00: each creates its own contract and paid lot
 * (paid = the claimed amount, quantity as described), visible through
 * account ListLots and GetContractStatement, funded by the bank deposit
 * account; account and ledger agree on bank deposits (100201) and unearned
 * revenue (240101), which moved by exactly 300.00, and the trial balance
 * holds. A fourth claim is refused CLAIM_EXCEEDS_REMAINING with the remaining
 * amount; a replayed claim answers the same contract and lot and the owner
 * still has three lots; a purchase account refuses (a contract id already in
 * use) is PURCHASE_REFUSED and claims nothing. A reconciliation killed by
 * SIGKILL between the claim's record and account's answer (account paused
 * with SIGSTOP while the Purchase is in flight, so the kill lands in that
 * window) leaves the claim PENDING with its amount reserved; after the
 * restart the replay posts it, and the owner has exactly one lot whether
 * account had done the purchase or not. The CLI's `recon claims`
 * (a subprocess) prints the line's claims with their contracts and lots.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import iconv from 'iconv-lite';
import { reasonOf as clientReasonOf, ReconciliationErrorReason } from '@paycore/client';
import { OwnerType } from '@paycore/proto/paycore/account/v1/account_service';
import { LotCategory } from '@paycore/proto/paycore/account/v1/stored_value_service';
import {
  BankClaimState,
  type StoredValuePurchase,
} from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { startPlatform, waitFor, type Platform } from './platform';
import { chinaToday, uid } from './helpers';

const DAY_MS = 86_400_000;
const ASSET = 'ADCOIN';
/** Ad-credit coins (100301), prepaid (03), top-up (03), bank (3001), bank A (300001). */
const PURCHASE_CODE = '10030103033001300001';
const OPERATOR = 'ops-alice';
const PAYCORE_BIN = path.resolve(__dirname, '../../packages/cli/bin/paycore.js');
const runFile = promisify(execFile);

describe('bank claims as offline stored-value purchases (every service a real process)', function () {
  this.timeout(300_000);
  let p: Platform;
  const today = chinaToday();

  /** Imports a bank statement (GBK CSV by the bank's mapping) of one offline transfer of `yuan`; returns its line. */
  async function bankLine(yuan: string) {
    const csv = `流水号,付款人,金额,币种,起息日\r\n${uid('SV')},某某广告有限公司,${yuan},CNY,${today}\r\n`;
    const imported = await p.paycore.reconciliation.importBankStatement({
      requestId: uid('bank'),
      bank: 'bankA',
      content: iconv.encode(csv, 'gbk'),
    });
    const line = imported.lines[0];
    if (!line) throw new Error('no bank line');
    return line;
  }

  before(async function () {
    // Six processes start on a shared machine: allow for a slow start.
    this.timeout(900_000);
    p = await startPlatform();
  });
  after(async () => {
    await p?.close();
  });

  const ledgerNet = async (code: string) => {
    const res = await p.paycore.ledger.getSubjectBalances({ accountingDate: today, level: 2 });
    const row = res.balances.find((b) => b.subjectCode === code && b.currency === 'CNY');
    return (row?.debitTotal?.amountMinor ?? 0n) - (row?.creditTotal?.amountMinor ?? 0n);
  };
  /**
   * Sum of the internal accounts on a subject, on their normal side: the
   * platform's (bank deposits, opened by reconciliation) and stored value's
   * (unearned revenue, opened by account's purchase posting).
   */
  const accountNet = async (code: string) => {
    let total = 0n;
    for (const ownerId of ['platform', 'stored-value']) {
      const listed = await p.paycore.account.listAccounts({
        ownerType: OwnerType.OWNER_TYPE_INTERNAL,
        ownerId,
        page: { pageSize: 500, pageToken: '' },
      });
      for (const account of listed.accounts.filter((a) => a.subjectCode === code))
        total += account.balance?.total?.amountMinor ?? 0n;
    }
    return total;
  };

  it('one 300.00 line funds three purchases, each its own contract and lot; over-claim and replay', async () => {
    const ownerId = uid('member');
    const expireTime = new Date(Date.now() + 180 * DAY_MS);
    const line = await bankLine('300.00');
    const depositBefore = await accountNet('100201');
    const unearnedBefore = await accountNet('240101');

    const purchase = (quantity: bigint, contractId = ''): StoredValuePurchase => ({
      ownerId,
      asset: ASSET,
      quantity,
      promotionalQuantity: 0n,
      consumptionType: '',
      effectiveTime: undefined,
      expireTime,
      contractId,
    });
    const claim = (requestId: string, amount: bigint, quantity: bigint, contractId = '') =>
      p.paycore.reconciliation.claimBankLine({
        requestId,
        lineId: line.lineId,
        amount,
        accountId: '',
        operator: OPERATOR,
        bizCode: PURCHASE_CODE,
        purchase: purchase(quantity, contractId),
      });
    const second = uid('claim');
    const answers = [
      await claim(uid('claim'), 100_00n, 1_000n),
      await claim(second, 120_00n, 1_200n),
      await claim(uid('claim'), 80_00n, 800n),
    ];
    expect(answers.map((a) => a.line?.remaining)).to.deep.equal([200_00n, 80_00n, 0n]);
    expect(answers.map((a) => a.claim?.state)).to.deep.equal(
      Array(3).fill(BankClaimState.BANK_CLAIM_STATE_POSTED),
    );

    // Each claim: its own contract, one paid lot of the claimed amount, funded by the bank deposit account.
    const deposit = (
      await p.paycore.account.listAccounts({
        ownerType: OwnerType.OWNER_TYPE_INTERNAL,
        ownerId: 'platform',
        page: { pageSize: 500, pageToken: '' },
      })
    ).accounts.find((a) => a.subjectCode === '100201' && a.currency === 'CNY')?.accountId;
    for (const [index, answer] of answers.entries()) {
      const statement = await p.paycore.storedValue.getContractStatement({
        contractId: answer.claim?.contractId ?? '',
      });
      expect(statement.contract?.paid?.amountMinor).to.equal([100_00n, 120_00n, 80_00n][index]);
      expect(statement.contract?.fundingAccountId).to.equal(deposit);
      expect(statement.contract?.purchaseTransferId).to.equal(answer.transferId);
      expect(statement.lots.map((l) => [l.lotId, l.category, l.quantity, l.paid?.amountMinor])).to.deep.equal(
        [
          [
            answer.claim?.lotIds[0],
            LotCategory.LOT_CATEGORY_PAID,
            [1_000n, 1_200n, 800n][index],
            statement.contract?.paid?.amountMinor,
          ],
        ],
      );
    }
    const lots = async () =>
      (
        await p.paycore.storedValue.listLots({
          ownerId,
          asset: ASSET,
          includeSpent: true,
          page: { pageSize: 100, pageToken: '' },
        })
      ).lots;
    expect((await lots()).map((l) => l.paid?.amountMinor).sort()).to.deep.equal(
      [100_00n, 120_00n, 80_00n].sort(),
    );

    // A fourth claim: refused with what remains, nothing bought.
    let refusal: unknown;
    try {
      await claim(uid('claim'), 1n, 1n);
    } catch (err) {
      refusal = err;
    }
    expect(clientReasonOf(refusal)).to.equal(ReconciliationErrorReason.CLAIM_EXCEEDS_REMAINING);
    expect(String(refusal)).to.match(/only 0 minor units are left/);

    // The same claim again: the same contract and lot, no fourth lot.
    const replay = await claim(second, 120_00n, 1_200n);
    expect([replay.claim?.contractId, replay.claim?.lotIds, replay.transferId]).to.deep.equal([
      answers[1]?.claim?.contractId,
      answers[1]?.claim?.lotIds,
      answers[1]?.transferId,
    ]);
    expect(await lots()).to.have.length(3);

    // Dr bank deposit / Cr unearned revenue, 300.00, and both books agree.
    expect((await accountNet('100201')) - depositBefore).to.equal(300_00n);
    expect((await accountNet('240101')) - unearnedBefore).to.equal(300_00n);
    await waitFor(
      'the ledger agrees with account on bank deposits and unearned revenue',
      async () =>
        (await ledgerNet('100201')) === (await accountNet('100201')) &&
        -(await ledgerNet('240101')) === (await accountNet('240101'))
          ? true
          : undefined,
      120_000,
    );
    const trial = await p.paycore.ledger.getTrialBalance({ accountingDate: today });
    expect(trial.balanced).to.equal(true);

    const listed = await p.paycore.reconciliation.listBankClaims({
      lineId: line.lineId,
      pageSize: 0,
      pageToken: '',
    });
    expect(listed.claims.map((c) => c.contractId)).to.deep.equal(answers.map((a) => a.claim?.contractId));

    // The operator's view: `paycore recon claims <line>`.
    const work = mkdtempSync(path.join(tmpdir(), 'paycore-sv-claims-'));
    try {
      writeFileSync(path.join(work, 'config.toml'), '');
      const out = await runFile('node', [PAYCORE_BIN, 'recon', 'claims', line.lineId, '-o', 'json'], {
        cwd: work,
        timeout: 60_000,
        env: {
          PATH: process.env['PATH'],
          HOME: work,
          PAYCORE_CONFIG_FILE: path.join(work, 'config.toml'),
          PAYCORE_RUN_DIR: path.join(work, 'run'),
          PAYCORE_ENDPOINTS_FILE: p.endpointsFile,
          PAYCORE_PRIVATE_KEY_FILE: p.privateKeyFile,
          PAYCORE_ISSUER: p.tokenIssuer,
          PAYCORE_DEADLINE_MS: '30000',
        },
      });
      const rows = JSON.parse(out.stdout) as {
        amount: string;
        state: string;
        contract_id: string;
        lot_ids: string;
      }[];
      expect(rows.map((r) => [r.amount, r.state, r.contract_id, r.lot_ids])).to.deep.equal(
        answers.map((a, index) => [
          ['100.00 CNY', '120.00 CNY', '80.00 CNY'][index],
          'POSTED',
          a.claim?.contractId,
          a.claim?.lotIds.join(' '),
        ]),
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('a purchase account refuses is PURCHASE_REFUSED and claims nothing', async () => {
    const line = await bankLine('50.00');
    const contractId = uid('K');
    const claim = (amount: bigint) =>
      p.paycore.reconciliation.claimBankLine({
        requestId: uid('claim'),
        lineId: line.lineId,
        amount,
        accountId: '',
        operator: OPERATOR,
        bizCode: PURCHASE_CODE,
        purchase: {
          ownerId: uid('member'),
          asset: ASSET,
          quantity: 100n,
          promotionalQuantity: 0n,
          consumptionType: '',
          effectiveTime: undefined,
          expireTime: new Date(Date.now() + 30 * DAY_MS),
          contractId,
        },
      });
    await claim(20_00n);
    let refusal: unknown;
    try {
      await claim(10_00n);
    } catch (err) {
      refusal = err;
    }
    expect(clientReasonOf(refusal)).to.equal(ReconciliationErrorReason.PURCHASE_REFUSED);
    expect(String(refusal)).to.match(/CONTRACT_ID_IN_USE/);
    const listed = await p.paycore.reconciliation.listBankClaims({
      lineId: line.lineId,
      pageSize: 0,
      pageToken: '',
    });
    expect(listed.claims.map((c) => c.state)).to.deep.equal([
      BankClaimState.BANK_CLAIM_STATE_POSTED,
      BankClaimState.BANK_CLAIM_STATE_REFUSED,
    ]);
    const rest = await p.paycore.reconciliation.claimBankLine({
      requestId: uid('claim'),
      lineId: line.lineId,
      amount: 30_00n,
      accountId: '',
      operator: OPERATOR,
      bizCode: PURCHASE_CODE,
      purchase: {
        ownerId: uid('member'),
        asset: ASSET,
        quantity: 300n,
        promotionalQuantity: 0n,
        consumptionType: '',
        effectiveTime: undefined,
        expireTime: new Date(Date.now() + 30 * DAY_MS),
        contractId: '',
      },
    });
    expect(rest.line?.remaining, 'the refused 10.00 went back to the line').to.equal(0n);
  });

  it('a reconciliation killed between the claim record and the Purchase answer converges on replay, one lot', async () => {
    const line = await bankLine('60.00');
    const ownerId = uid('member');
    const request = {
      requestId: uid('claim'),
      lineId: line.lineId,
      amount: 60_00n,
      accountId: '',
      operator: OPERATOR,
      bizCode: PURCHASE_CODE,
      purchase: {
        ownerId,
        asset: ASSET,
        quantity: 600n,
        promotionalQuantity: 0n,
        consumptionType: '',
        effectiveTime: undefined,
        expireTime: new Date(Date.now() + 30 * DAY_MS),
        contractId: '',
      },
    };
    const claimState = async () =>
      (
        await p.query<{ state: string; claimed: string }>(
          `SELECT c.state, l.claimed_minor::text AS claimed FROM recon.bank_claims c
             JOIN recon.bank_lines l ON l.line_id = c.line_id WHERE c.request_id = $1`,
          [request.requestId],
        )
      )[0];
    const account = p.process('account');
    account.kill('SIGSTOP');
    let call: Promise<unknown> | undefined;
    try {
      // No retry: the call dies with the server it was sent to.
      call = p.paycore.reconciliation.claimBankLine(request, { retry: false }).catch((err: unknown) => err);
      await waitFor('the claim recorded PENDING', async () =>
        (await claimState())?.state === 'PENDING' ? true : undefined,
      );
      p.process('reconciliation').kill('SIGKILL');
      await p.process('reconciliation').exited;
    } finally {
      account.kill('SIGCONT');
    }
    await call;
    expect(await claimState(), 'recorded, amount reserved, not posted').to.deep.equal({
      state: 'PENDING',
      claimed: '6000',
    });
    await p.restart('reconciliation');
    const replay = await p.paycore.reconciliation.claimBankLine(request);
    expect(replay.claim?.state).to.equal(BankClaimState.BANK_CLAIM_STATE_POSTED);
    expect(replay.line?.remaining).to.equal(0n);
    const again = await p.paycore.reconciliation.claimBankLine(request);
    expect(again.claim).to.deep.equal(replay.claim);
    const lots = (
      await p.paycore.storedValue.listLots({
        ownerId,
        asset: ASSET,
        includeSpent: true,
        page: { pageSize: 100, pageToken: '' },
      })
    ).lots;
    expect(lots.map((l) => [l.lotId, l.contractId, l.paid?.amountMinor])).to.deep.equal([
      [replay.claim?.lotIds[0], replay.claim?.contractId, 60_00n],
    ]);
  });
});
