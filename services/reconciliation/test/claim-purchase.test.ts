/**
 * Bank claims that are offline stored-value purchases (ADR 0054), against
 * real Postgres and NATS with account as a recording fake (harness.ts) that
 * keeps purchases by request id as account does:
 * - one 300.00 line funds three purchases through three claims, each its own
 *   contract and lot, paid = the claimed amount, funded by the bank deposit
 *   account; a fourth claim is refused CLAIM_EXCEEDS_REMAINING with the
 *   remaining amount; a replayed claim buys once; ListBankClaims shows each
 *   claim's contract and lots;
 * - a malformed purchase (unknown asset code, zero quantity, an account id
 *   beside the purchase, no expiry) is refused INVALID_FIELD naming the field
 *   and claims nothing;
 * - a purchase account refuses (its contract id in use) is answered
 *   PURCHASE_REFUSED with account's reason, gives its amount back to the line,
 *   and a replay answers the same without asking account again;
 * - account unreachable after the claim was recorded (a crash between record
 *   and Purchase looks the same to the line): the claim stays PENDING with its
 *   amount reserved, and the replay finishes it with one purchase under the
 *   same account key; and when account bought but its answer was lost (a
 *   crash after Purchase, before the claim's record), the replay records the
 *   contract and lot account already made, and nothing is bought twice;
 * - with no replay at all, the resume pass (a second service with a resume
 *   age of 200 ms and a tick of 100 ms) posts a claim left PENDING.
 */
import { expect } from 'chai';
import iconv from 'iconv-lite';
import { decodeStatusDetails, errorReason, unary } from '@paycore/platform';
import {
  BankClaimState,
  type ClaimBankLineRequest,
  type StoredValuePurchase,
} from '@paycore/proto/paycore/reconciliation/v1/reconciliation_service';
import { startReconHarness, type ReconHarness } from './harness';

const DAY_MS = 86_400_000;
const PURCHASE_CODE = '10030103033001300001';
/** One expiry for every claim of the run: a replay must describe the same purchase. */
const EXPIRES_AT = new Date(Date.now() + 365 * DAY_MS);

describe('bank claims as stored-value purchases (real Postgres and NATS, fake account)', function () {
  this.timeout(120_000);
  let h: ReconHarness;
  let serial = 0;

  before(async () => {
    h = await startReconHarness();
  });
  after(async () => {
    await h?.close();
  });

  /** Imports a one-line bankA statement of `yuan` and returns the line id. */
  const importLine = async (yuan: string): Promise<string> => {
    serial += 1;
    const csv = `流水号,付款人,金额,币种,起息日\r\nSV${Date.now()}${serial},某某广告有限公司,${yuan},CNY,2026-12-01\r\n`;
    const res = await unary(h.client.importBankStatement.bind(h.client), {
      requestId: `bank-${Date.now()}-${serial}`,
      bank: 'bankA',
      content: iconv.encode(csv, 'gbk'),
    });
    const line = res.lines[0];
    if (line === undefined) throw new Error('no line imported');
    return line.lineId;
  };
  const purchase = (extra: Partial<StoredValuePurchase> = {}): StoredValuePurchase => ({
    ownerId: 'member-7',
    asset: 'ADCOIN',
    quantity: 1_000n,
    promotionalQuantity: 0n,
    consumptionType: '',
    effectiveTime: undefined,
    expireTime: EXPIRES_AT,
    contractId: '',
    ...extra,
  });
  const claim = (request: Partial<ClaimBankLineRequest> & { requestId: string; lineId: string }) =>
    unary(h.client.claimBankLine.bind(h.client), {
      amount: 10_000n,
      accountId: '',
      operator: 'ops-alice',
      bizCode: PURCHASE_CODE,
      purchase: purchase(),
      ...request,
    });
  const refusalOf = async (call: Promise<unknown>): Promise<unknown> => {
    try {
      await call;
    } catch (err) {
      return err;
    }
    throw new Error('expected a refusal');
  };
  const remaining = async (lineId: string): Promise<bigint> =>
    BigInt(
      (
        await h.sql<{ left: string }>(
          'SELECT amount_minor - claimed_minor AS left FROM recon.bank_lines WHERE line_id = $1',
          [lineId],
        )
      )[0]?.left ?? '-1',
    );
  const claims = async (lineId: string) =>
    (await unary(h.client.listBankClaims.bind(h.client), { lineId, pageSize: 0, pageToken: '' })).claims;

  it('one line of 300.00 funds three purchases, each its own contract and lot; a fourth is refused with what remains', async () => {
    const lineId = await importLine('300.00');
    const before = h.peers.purchases.size;
    const replayed = `sv-${lineId}-2`;
    const answers = [];
    for (const [index, amount] of [100_00n, 120_00n, 80_00n].entries()) {
      answers.push(
        await claim({
          requestId: `sv-${lineId}-${index + 1}`,
          lineId,
          amount,
          purchase: purchase({ quantity: amount / 10n }),
        }),
      );
    }
    expect(answers.map((a) => a.line?.remaining)).to.deep.equal([200_00n, 80_00n, 0n]);
    const contracts = answers.map((a) => a.claim?.contractId);
    expect(new Set(contracts).size).to.equal(3);
    for (const a of answers) {
      expect(a.claim?.state).to.equal(BankClaimState.BANK_CLAIM_STATE_POSTED);
      expect(a.claim?.lotIds).to.have.length(1);
      expect(a.claim?.accountId).to.equal('');
      expect(a.transferId).to.equal(a.claim?.transferId).and.not.equal('');
    }
    // account was asked once per claim, funded by the bank deposit account, paid = the claimed amount.
    const bought = [...h.peers.purchases.values()].slice(before);
    expect(
      bought.map((p) => [p.paidMinor, p.purchase.quantity, p.fundingAccountId, p.contractId]),
    ).to.deep.equal([
      [100_00n, 1_000n, 'acct-100201', contracts[0]],
      [120_00n, 1_200n, 'acct-100201', contracts[1]],
      [80_00n, 800n, 'acct-100201', contracts[2]],
    ]);

    const over = await refusalOf(claim({ requestId: `sv-${lineId}-4`, lineId, amount: 1n }));
    expect(errorReason(over)).to.equal('CLAIM_EXCEEDS_REMAINING');
    expect(decodeStatusDetails(over as object).errorInfo?.metadata['remaining_minor']).to.equal('0');

    const calls = h.peers.purchaseCalls;
    const again = await claim({
      requestId: replayed,
      lineId,
      amount: 120_00n,
      purchase: purchase({ quantity: 1_200n }),
    });
    expect(again.claim).to.deep.equal(answers[1]?.claim);
    expect(h.peers.purchaseCalls, 'a posted claim is answered without asking account').to.equal(calls);
    expect(h.peers.purchases.size - before).to.equal(3);

    const listed = await claims(lineId);
    expect(listed.map((c) => [c.requestId, c.amount, c.contractId, c.lotIds.length])).to.deep.equal([
      [`sv-${lineId}-1`, 100_00n, contracts[0], 1],
      [`sv-${lineId}-2`, 120_00n, contracts[1], 1],
      [`sv-${lineId}-3`, 80_00n, contracts[2], 1],
    ]);
  });

  it('a malformed purchase is refused naming its field and claims nothing', async () => {
    const lineId = await importLine('50.00');
    const cases: [Partial<ClaimBankLineRequest>, string][] = [
      [{ purchase: purchase({ asset: 'coins' }) }, 'purchase.asset'],
      [{ purchase: purchase({ quantity: 0n }) }, 'purchase.quantity'],
      [{ purchase: purchase({ expireTime: undefined }) }, 'purchase.expire_time'],
      [{ purchase: purchase({ expireTime: new Date(Date.now() - DAY_MS) }) }, 'purchase.expire_time'],
      [{ accountId: 'acct-merchant-1' }, 'account_id'],
    ];
    for (const [index, [request, field]] of cases.entries()) {
      const refusal = await refusalOf(claim({ requestId: `bad-${lineId}-${index}`, lineId, ...request }));
      expect(errorReason(refusal), field).to.equal('INVALID_FIELD');
      expect(
        decodeStatusDetails(refusal as object).badRequest?.fieldViolations.map((v) => v.field),
      ).to.deep.equal([field]);
    }
    expect(await remaining(lineId)).to.equal(50_00n);
    expect(await claims(lineId)).to.deep.equal([]);
  });

  it('a purchase account refuses is PURCHASE_REFUSED, gives the amount back, and a replay answers the same', async () => {
    const lineId = await importLine('80.00');
    h.peers.contractsInUse.add('K-TAKEN');
    const request = {
      requestId: `taken-${lineId}`,
      lineId,
      amount: 30_00n,
      purchase: purchase({ contractId: 'K-TAKEN' }),
    };
    const refusal = await refusalOf(claim(request));
    expect(errorReason(refusal)).to.equal('PURCHASE_REFUSED');
    expect(decodeStatusDetails(refusal as object).errorInfo?.metadata['account_reason']).to.equal(
      'CONTRACT_ID_IN_USE',
    );
    expect(await remaining(lineId)).to.equal(80_00n);
    const calls = h.peers.purchaseCalls;
    expect(errorReason(await refusalOf(claim(request)))).to.equal('PURCHASE_REFUSED');
    expect(h.peers.purchaseCalls).to.equal(calls);
    const [listed] = await claims(lineId);
    expect([listed?.state, listed?.refusedReason, listed?.lotIds]).to.deep.equal([
      BankClaimState.BANK_CLAIM_STATE_REFUSED,
      'CONTRACT_ID_IN_USE',
      [],
    ]);
    // The whole line is still there to claim.
    const whole = await claim({ requestId: `whole-${lineId}`, lineId, amount: 80_00n });
    expect(whole.line?.remaining).to.equal(0n);
  });

  it('account unreachable after the claim is recorded: the claim stays PENDING and its replay buys once', async () => {
    const lineId = await importLine('40.00');
    const request = { requestId: `outage-${lineId}`, lineId, amount: 40_00n };
    h.peers.purchaseOutages = 1;
    const refusal = await refusalOf(claim(request));
    expect(errorReason(refusal)).to.equal('DEPENDENCY_UNAVAILABLE');
    expect(await remaining(lineId), 'the amount stays reserved').to.equal(0n);
    const [pending] = await claims(lineId);
    expect([pending?.state, pending?.transferId]).to.deep.equal([
      BankClaimState.BANK_CLAIM_STATE_PENDING,
      '',
    ]);
    const before = h.peers.purchases.size;
    const finished = await claim(request);
    expect(finished.claim?.state).to.equal(BankClaimState.BANK_CLAIM_STATE_POSTED);
    expect(finished.claim?.lotIds).to.have.length(1);
    await claim(request);
    expect(h.peers.purchases.size - before).to.equal(1);
    const [posted] = await claims(lineId);
    expect(posted?.contractId)
      .to.equal(finished.claim?.contractId)
      .and.match(/^recon-claim-[0-9a-f]{40}$/);
  });

  it('account bought but the answer was lost: the replay records the same contract and lot, bought once', async () => {
    const lineId = await importLine('25.00');
    const request = { requestId: `lost-${lineId}`, lineId, amount: 25_00n };
    h.peers.purchaseAnswersLost = 1;
    const before = h.peers.purchases.size;
    expect(errorReason(await refusalOf(claim(request)))).to.equal('DEPENDENCY_UNAVAILABLE');
    expect(h.peers.purchases.size - before, 'account did buy').to.equal(1);
    const [pending] = await claims(lineId);
    expect(pending?.state).to.equal(BankClaimState.BANK_CLAIM_STATE_PENDING);
    const finished = await claim(request);
    expect(h.peers.purchases.size - before).to.equal(1);
    const bought = [...h.peers.purchases.values()].at(-1);
    expect([finished.claim?.contractId, finished.claim?.lotIds]).to.deep.equal([
      bought?.contractId,
      bought?.lotIds,
    ]);
  });

  it('the resume pass posts a claim left PENDING without any replay', async () => {
    const resuming = await startReconHarness({ RECON_RESUME_AFTER_MS: '200', RECON_SCHEDULE_TICK_MS: '100' });
    try {
      const csv = `流水号,付款人,金额,币种,起息日\r\nSV-RESUME-1,某某广告有限公司,15.00,CNY,2026-12-01\r\n`;
      const lineId =
        (
          await unary(resuming.client.importBankStatement.bind(resuming.client), {
            requestId: 'bank-resume-1',
            bank: 'bankA',
            content: iconv.encode(csv, 'gbk'),
          })
        ).lines[0]?.lineId ?? '';
      resuming.peers.purchaseOutages = 1;
      const refusal = await refusalOf(
        unary(resuming.client.claimBankLine.bind(resuming.client), {
          requestId: 'resume-1',
          lineId,
          amount: 15_00n,
          accountId: '',
          operator: 'ops-alice',
          bizCode: PURCHASE_CODE,
          purchase: purchase(),
        }),
      );
      expect(errorReason(refusal)).to.equal('DEPENDENCY_UNAVAILABLE');
      const deadline = Date.now() + 30_000;
      let state = '';
      while (Date.now() < deadline) {
        state =
          (
            await resuming.sql<{ state: string }>(
              "SELECT state FROM recon.bank_claims WHERE request_id = 'resume-1'",
            )
          )[0]?.state ?? '';
        if (state === 'POSTED') break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(state).to.equal('POSTED');
      expect(resuming.peers.purchases.size).to.equal(1);
      const [posted] = (
        await unary(resuming.client.listBankClaims.bind(resuming.client), {
          lineId,
          pageSize: 0,
          pageToken: '',
        })
      ).claims;
      expect(posted?.lotIds).to.have.length(1);
    } finally {
      await resuming.close();
    }
  });
});
