/**
 * Which subject codes may own accounts. The ledger owns the chart of subjects
 * (科目); the account service keeps the list of codes it is configured with
 * only to refuse accounts on unknown or non-leaf subjects, because only leaf
 * subjects take postings.
 */
import { NonLeafSubjectError, UnknownSubjectError } from './errors';

/** Subject codes are 4 digits at level 1 and 2 more per level, up to 3 levels. */
const SUBJECT_PATTERN = /^\d{4}(\d{2}){0,2}$/;
export const CHART_SUBJECTS_MAX = 10_000;

/**
 * The default chart shipped with the platform (a subset of the Chinese
 * enterprise chart): level-1 subjects and the leaf subjects accounts use.
 */
export const DEFAULT_SUBJECTS: readonly string[] = [
  '1002', // 银行存款 bank deposits
  '100201', // bank deposits, settlement bank A
  '100202', // bank deposits, settlement bank B
  '1221', // 其他应收款 other receivables
  '122101', // channel pending-clearing (渠道待清算)
  '122102', // suspense short (短款挂账)
  '2241', // 其他应付款 other payables
  '224101', // customer balances (客户余额)
  '224102', // merchant pending-settlement (商户待结算)
  '224103', // merchant settlement payable (商户应付结算款)
  '224104', // escrow (担保交易)
  '224105', // suspense long (长款挂账)
  '224106', // withdrawals in transit (提现在途)
  '3001', // 清算资金往来 clearing funds (common class)
  '300101', // channel pending-clearing per channel number
  '30010101', // Alipay direct (100001)
  '30010102', // WeChat direct (200001)
  '30010103', // bank A (300001)
  '30010104', // bank B (300002)
  '300102', // funds in transit to the reserve bank (资金在途) per settlement bank
  '30010201', // transit, settlement bank A
  '30010202', // transit, settlement bank B
  '2401', // 递延收益 unearned revenue
  '240101', // stored-value unearned revenue
  '6051', // 其他业务收入 other income
  '605101', // fee income
  '605102', // stored-value revenue
  '605103', // breakage (沉淀收益)
  '6601', // 销售费用 selling expenses
  '660101', // marketing cost
  '6603', // 财务费用 financial expenses
  '660301', // channel fee cost
];

export class Chart {
  private readonly codes: ReadonlySet<string>;

  constructor(subjects: readonly string[]) {
    if (subjects.length > CHART_SUBJECTS_MAX)
      throw new Error(`a chart holds at most ${CHART_SUBJECTS_MAX} subjects`);
    for (const code of subjects) {
      if (!SUBJECT_PATTERN.test(code)) throw new Error(`subject code "${code}" is not 4, 6 or 8 digits`);
    }
    this.codes = new Set(subjects);
  }

  isLeaf(code: string): boolean {
    if (!this.codes.has(code)) return false;
    for (const other of this.codes) {
      if (other.length > code.length && other.startsWith(code)) return false;
    }
    return true;
  }

  /** Throws UNKNOWN_SUBJECT or NON_LEAF_SUBJECT unless the code is a leaf of this chart. */
  assertLeaf(code: string, field = 'subject_code'): void {
    if (!this.codes.has(code)) {
      throw new UnknownSubjectError(`subject ${code.slice(0, 16)} is not in the chart`, { field });
    }
    if (!this.isLeaf(code)) {
      throw new NonLeafSubjectError(`subject ${code} has child subjects; only leaf subjects take postings`, {
        field,
      });
    }
  }
}
