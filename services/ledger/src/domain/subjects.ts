/**
 * The chart of subjects (科目表): codes, levels, categories, normal sides and
 * the leaf rule.
 *
 * Codes follow the account service's convention (services/account/src/domain/
 * chart.ts): 4 digits at level 1 and 2 more per level, up to 3 levels, so a
 * subject's parent is its code without the last two digits. The first digit
 * of a level-1 code names the category, as in the Chinese enterprise chart
 * (1 asset, 2 liability, 3 common, 4 equity, 5 cost, 6 profit and loss).
 * Only leaf subjects (no children) take voucher lines; the general ledger is
 * the level-1 subjects.
 */
import {
  CategoryMismatchError,
  InvalidFieldError,
  NonLeafSubjectError,
  NormalSideMismatchError,
  SubjectExistsError,
  UnknownParentSubjectError,
  UnknownSubjectError,
} from './errors';
import type { Category, NormalSide, Subject } from './types';

export const SUBJECT_CODE_PATTERN = /^\d{4}(\d{2}){0,2}$/;
export const SUBJECT_NAME_LENGTH_MAX = 128;
/** Bounds the chart held in memory and scanned by every roll-up. */
export const CHART_SUBJECTS_MAX = 10_000;
export const LEVEL_MAX = 3;

const CATEGORY_BY_DIGIT: Readonly<Record<string, Category>> = {
  '1': 'ASSET',
  '2': 'LIABILITY',
  '3': 'COMMON',
  '4': 'EQUITY',
  '5': 'COST',
  '6': 'PROFIT_AND_LOSS',
};

export function isSubjectCode(code: string): boolean {
  return SUBJECT_CODE_PATTERN.test(code);
}

/** 1 for 4 digits, 2 for 6, 3 for 8. Call only on a valid code. */
export function levelOf(code: string): number {
  return (code.length - 2) / 2;
}

/** The parent's code, or null at level 1. */
export function parentOf(code: string): string | null {
  return code.length > 4 ? code.slice(0, -2) : null;
}

/** The code's ancestors and itself, level 1 first. */
export function lineageOf(code: string): string[] {
  const out: string[] = [];
  for (let length = 4; length <= code.length; length += 2) out.push(code.slice(0, length));
  return out;
}

/** The category a level-1 code's first digit names, or undefined (digits 0, 7, 8, 9). */
export function categoryOfCode(code: string): Category | undefined {
  return CATEGORY_BY_DIGIT[code.charAt(0)];
}

/**
 * Which normal sides a category admits. Common-class subjects are BOTH and
 * nothing else; every other category stands on one side (a contra subject
 * such as an allowance may take the side opposite its category's usual one).
 */
export function normalSideFits(category: Category, side: NormalSide): boolean {
  return category === 'COMMON' ? side === 'BOTH' : side !== 'BOTH';
}

/** An immutable chart; adding a subject builds a new one. */
export class Chart {
  private readonly byCode: ReadonlyMap<string, Subject>;
  private readonly parents: ReadonlySet<string>;

  constructor(subjects: readonly Subject[]) {
    if (subjects.length > CHART_SUBJECTS_MAX) {
      throw new Error(`a chart holds at most ${CHART_SUBJECTS_MAX} subjects, got ${subjects.length}`);
    }
    const byCode = new Map<string, Subject>();
    const parents = new Set<string>();
    for (const subject of subjects) {
      if (!isSubjectCode(subject.code)) throw new Error(`subject code "${subject.code}" is malformed`);
      byCode.set(subject.code, subject);
      const parent = parentOf(subject.code);
      if (parent !== null) parents.add(parent);
    }
    for (const parent of parents) {
      if (!byCode.has(parent)) throw new Error(`subject ${parent} is missing but has children`);
    }
    this.byCode = byCode;
    this.parents = parents;
  }

  get size(): number {
    return this.byCode.size;
  }

  get(code: string): Subject | undefined {
    return this.byCode.get(code);
  }

  all(): Subject[] {
    return [...this.byCode.values()].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  }

  isLeaf(code: string): boolean {
    return this.byCode.has(code) && !this.parents.has(code);
  }

  /** Throws UNKNOWN_SUBJECT or NON_LEAF_SUBJECT unless `code` is a leaf of this chart. */
  assertLeaf(code: string, field: string): Subject {
    const subject = this.byCode.get(code);
    if (subject === undefined) {
      throw new UnknownSubjectError(`subject ${code.slice(0, 16)} is not in the chart`, { field });
    }
    if (this.parents.has(code)) {
      throw new NonLeafSubjectError(`subject ${code} has child subjects; only leaf subjects take postings`, {
        field,
        metadata: { subject_code: code },
      });
    }
    return subject;
  }

  with(subject: Subject): Chart {
    return new Chart([...this.byCode.values(), subject]);
  }
}

/**
 * Checks a new subject against the chart: well-formed, not present, parent
 * present, category and normal side consistent with the parent (or, at level
 * 1, with the code's first digit). Whether the parent already carries voucher
 * lines needs storage; the caller checks that.
 */
export function validateNewSubject(chart: Chart, subject: Subject): void {
  if (!isSubjectCode(subject.code)) {
    throw new InvalidFieldError('code must be 4, 6 or 8 digits', { field: 'code' });
  }
  const name = subject.name.trim();
  if (name.length === 0 || subject.name.length > SUBJECT_NAME_LENGTH_MAX) {
    throw new InvalidFieldError(`name must be 1 to ${SUBJECT_NAME_LENGTH_MAX} characters`, { field: 'name' });
  }
  if (chart.get(subject.code) !== undefined) {
    throw new SubjectExistsError(`subject ${subject.code} already exists`, { field: 'code' });
  }
  const parentCode = parentOf(subject.code);
  const parent = parentCode === null ? undefined : chart.get(parentCode);
  if (parentCode !== null && parent === undefined) {
    throw new UnknownParentSubjectError(`parent subject ${parentCode} is not in the chart`, {
      field: 'code',
    });
  }
  const expectedCategory = parent?.category ?? categoryOfCode(subject.code);
  if (expectedCategory !== subject.category) {
    throw new CategoryMismatchError(
      `subject ${subject.code} must be in category ${expectedCategory ?? 'none (first digit 1-6)'}, got ${subject.category}`,
      { field: 'category' },
    );
  }
  if (!normalSideFits(subject.category, subject.normalSide)) {
    throw new NormalSideMismatchError(
      `category ${subject.category} does not admit normal side ${subject.normalSide}`,
      { field: 'normal_side' },
    );
  }
  if (parent !== undefined && parent.normalSide !== subject.normalSide) {
    throw new NormalSideMismatchError(
      `subject ${subject.code} must have its parent's normal side ${parent.normalSide}`,
      { field: 'normal_side' },
    );
  }
}

function s(
  code: string,
  name: string,
  category: Category,
  normalSide: NormalSide,
  accountKept: boolean,
): Subject {
  return { code, name, category, normalSide, accountKept };
}

/**
 * The default chart of a payment institution, shipped as migrations
 * 0002_default_chart.sql and 0004_transit_subjects.sql (a test checks that
 * they agree). The leaf codes
 * the account service lists in its own chart keep their codes and meaning.
 * `accountKept` marks leaves whose balances of record live on accounts.
 */
export const DEFAULT_CHART: readonly Subject[] = [
  s('1002', '银行存款 bank deposits', 'ASSET', 'DEBIT', false),
  s('100201', '备付金存款 reserve funds, settlement bank A', 'ASSET', 'DEBIT', true),
  s('100202', '备付金存款 reserve funds, settlement bank B', 'ASSET', 'DEBIT', true),
  s('1221', '其他应收款 other receivables', 'ASSET', 'DEBIT', false),
  s('122101', '渠道待清算 channel pending-clearing (unassigned channel)', 'ASSET', 'DEBIT', true),
  s('122102', '短款挂账 suspense short', 'ASSET', 'DEBIT', true),
  s('2241', '其他应付款 other payables', 'LIABILITY', 'CREDIT', false),
  s('224101', '客户余额 customer balances', 'LIABILITY', 'CREDIT', true),
  s('224102', '商户待结算 merchant pending-settlement', 'LIABILITY', 'CREDIT', true),
  s('224103', '商户应付结算款 merchant settlement payable', 'LIABILITY', 'CREDIT', true),
  s('224104', '担保交易 escrow', 'LIABILITY', 'CREDIT', true),
  s('224105', '长款挂账 suspense long', 'LIABILITY', 'CREDIT', true),
  s('224106', '提现在途 withdrawals in transit', 'LIABILITY', 'CREDIT', true),
  s('2401', '递延收益 unearned revenue', 'LIABILITY', 'CREDIT', false),
  s('240101', '储值预收 stored-value unearned revenue', 'LIABILITY', 'CREDIT', true),
  s('3001', '清算资金往来 clearing funds', 'COMMON', 'BOTH', false),
  s('300101', '渠道待清算 channel pending-clearing', 'COMMON', 'BOTH', false),
  s('30010101', '渠道待清算 Alipay direct (100001)', 'COMMON', 'BOTH', true),
  s('30010102', '渠道待清算 WeChat direct (200001)', 'COMMON', 'BOTH', true),
  s('30010103', '渠道待清算 bank A (300001)', 'COMMON', 'BOTH', true),
  s('30010104', '渠道待清算 bank B (300002)', 'COMMON', 'BOTH', true),
  // Added by migration 0004: settlement's deposit move through a bank's transit account.
  s('300102', '资金在途 funds in transit to the reserve bank', 'COMMON', 'BOTH', false),
  s('30010201', '资金在途 settlement bank A (100201)', 'COMMON', 'BOTH', true),
  s('30010202', '资金在途 settlement bank B (100202)', 'COMMON', 'BOTH', true),
  s('4001', '实收资本 paid-in capital', 'EQUITY', 'CREDIT', false),
  s('4103', '本年利润 current-year profit', 'EQUITY', 'CREDIT', false),
  s('6051', '其他业务收入 other operating income', 'PROFIT_AND_LOSS', 'CREDIT', false),
  s('605101', '手续费收入 fee income', 'PROFIT_AND_LOSS', 'CREDIT', true),
  s('605102', '储值收入 stored-value revenue', 'PROFIT_AND_LOSS', 'CREDIT', true),
  s('605103', '沉淀收益 breakage', 'PROFIT_AND_LOSS', 'CREDIT', true),
  s('6301', '营业外收入 non-operating income', 'PROFIT_AND_LOSS', 'CREDIT', false),
  s('630101', '长款核销收益 suspense long written off', 'PROFIT_AND_LOSS', 'CREDIT', false),
  s('6601', '销售费用 selling expenses', 'PROFIT_AND_LOSS', 'DEBIT', false),
  s('660101', '营销费用 marketing cost', 'PROFIT_AND_LOSS', 'DEBIT', true),
  s('6603', '财务费用 financial expenses', 'PROFIT_AND_LOSS', 'DEBIT', false),
  s('660301', '渠道手续费 channel fee cost', 'PROFIT_AND_LOSS', 'DEBIT', true),
  s('6711', '营业外支出 non-operating expenses', 'PROFIT_AND_LOSS', 'DEBIT', false),
  s('671101', '短款核销损失 suspense short written off', 'PROFIT_AND_LOSS', 'DEBIT', false),
];
