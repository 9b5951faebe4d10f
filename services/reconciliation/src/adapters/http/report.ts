/**
 * HTTP on the service's metrics port (internal, like /metrics):
 * - GET /reconciliation/results.csv?channel_no=&bill_date= — the run's
 *   row-level results as CSV (csv-stringify; cells that look like formulas
 *   are prefixed with a quote so a spreadsheet shows them as text);
 * - GET /reconciliation/report.html?channel_no=&bill_date= — the day's
 *   report with an SVG chart of differences by class over the last 30 days.
 */
import { stringify } from 'csv-stringify/sync';
import type { HttpHandler, HttpResponse } from '@paycore/platform';
import type { ReconStore, ResultRow } from '../../application/ports';
import type { DayResult, Reconciliation } from '../../application/reconciliation';
import type { Check, DayChecks } from '../../application/report';
import { ReconError } from '../../domain/errors';
import { CLASSES } from '../../domain/model';

const RESULT_PAGE_ROWS = 10_000;
export const EXPORT_ROWS_MAX = 2_000_000;
export const CHART_DAYS = 30;
const CLASS_COLOURS: Readonly<Record<string, string>> = {
  PLATFORM_MISSING: '#d62728',
  CHANNEL_MISSING: '#1f77b4',
  STATUS_MISMATCH: '#ff7f0e',
  AMOUNT_MISMATCH: '#9467bd',
  FEE_MISMATCH: '#8c564b',
  DUPLICATE: '#e377c2',
  CURRENCY_MISMATCH: '#7f7f7f',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function safeCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) && !/^-\d/.test(value) ? `'${value}` : value;
}

function text(status: number, body: string): HttpResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body };
}

async function dayOf(recon: Reconciliation, query: URLSearchParams): Promise<DayResult | HttpResponse> {
  try {
    return await recon.dayByDate(query.get('channel_no') ?? '', query.get('bill_date') ?? '');
  } catch (err) {
    if (err instanceof ReconError)
      return text(err.grpcCode === 'NOT_FOUND' ? 404 : 400, `${err.reason}: ${err.message}\n`);
    throw err;
  }
}

export async function resultsCsv(store: ReconStore, runId: string): Promise<string> {
  const header = [
    'seq',
    'class',
    'direction',
    'kind',
    'merchant_order_no',
    'channel_txn_no',
    'platform_txn_id',
    'platform_amount_minor',
    'channel_amount_minor',
    'platform_state',
    'channel_status',
    'currency',
    'biz_code',
  ];
  const parts = [stringify([header])];
  let after = 0n;
  for (let page = 0; page * RESULT_PAGE_ROWS < EXPORT_ROWS_MAX; page += 1) {
    const rows: ResultRow[] = await store.results(runId, after, RESULT_PAGE_ROWS);
    if (rows.length === 0) break;
    parts.push(
      stringify(
        rows.map((r) => [
          r.seq.toString(),
          r.resultClass,
          r.direction,
          r.kind,
          safeCell(r.merchantOrderNo),
          safeCell(r.channelTxnNo),
          r.platformTxnId,
          r.platformAmountMinor.toString(),
          r.channelAmountMinor.toString(),
          r.platformState,
          safeCell(r.channelStatus),
          r.currency,
          r.bizCode,
        ]),
      ),
    );
    after = rows[rows.length - 1]?.seq ?? after;
    if (rows.length < RESULT_PAGE_ROWS) break;
  }
  return parts.join('');
}

/** Stacked bars, one per day of the window, one colour per class. */
export function chartSvg(
  lastDate: string,
  history: readonly { billDate: string; differenceClass: string; count: bigint }[],
): string {
  const width = 720;
  const height = 220;
  const days: string[] = [];
  const end = Date.parse(`${lastDate}T00:00:00Z`);
  for (let i = CHART_DAYS - 1; i >= 0; i -= 1)
    days.push(new Date(end - i * 86_400_000).toISOString().slice(0, 10));
  const totals = days.map((day) =>
    history.filter((h) => h.billDate === day).reduce((sum, h) => sum + Number(h.count), 0),
  );
  const max = Math.max(1, ...totals);
  const barWidth = width / CHART_DAYS;
  const bars: string[] = [];
  days.forEach((day, index) => {
    let y = height - 20;
    for (const name of CLASSES) {
      const count = Number(
        history.find((h) => h.billDate === day && h.differenceClass === name)?.count ?? 0n,
      );
      if (count === 0) continue;
      const barHeight = ((height - 40) * count) / max;
      y -= barHeight;
      bars.push(
        `<rect x="${(index * barWidth + 2).toFixed(1)}" y="${y.toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${barHeight.toFixed(1)}" fill="${CLASS_COLOURS[name] ?? '#000'}"><title>${day} ${name}: ${count}</title></rect>`,
      );
    }
    if (index % 5 === 4 || index === CHART_DAYS - 1)
      bars.push(
        `<text x="${(index * barWidth).toFixed(1)}" y="${height - 4}" font-size="10">${day.slice(5)}</text>`,
      );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="differences by class, last ${CHART_DAYS} days">${bars.join('')}</svg>`;
}

export function reportHtml(result: DayResult, checks: readonly Check[], chart: string): string {
  const f = result.figures;
  const row = (cells: readonly string[]): string =>
    `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
  const legend = Object.entries(CLASS_COLOURS)
    .map(([name, colour]) => `<span style="color:${colour}">■</span> ${name}`)
    .join(' &nbsp; ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reconciliation ${escapeHtml(result.run.channelNo)} ${escapeHtml(result.run.billDate)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head>
<body><h1>对账 ${escapeHtml(result.run.channelNo)} · ${escapeHtml(result.run.billDate)}</h1>
<p>run ${escapeHtml(result.run.runId)} · file sha256 ${escapeHtml(result.checksumSha256.slice(0, 16))}… · ${result.lineCount} lines · state ${escapeHtml(result.run.state)}</p>
<h2>Classes</h2><table><tr><th>class</th><th>count</th><th>channel amount (minor)</th><th>paycore amount (minor)</th></tr>
${f.classes.map((c) => row([c.differenceClass, c.count.toString(), c.channelAmountMinor.toString(), c.platformAmountMinor.toString()])).join('\n')}
</table>
<p>held ${f.heldCount} · open ${f.openCount} · suspense open ${f.suspenseOpenMinor} · fees ${f.feeMinor} · net settlement ${f.grossMinor - f.feeMinor}</p>
<h2>Rules applied</h2><table>${Object.entries(f.rulesApplied)
    .map(([name, count]) => row([name, count.toString()]))
    .join('\n')}</table>
<h2>Checks</h2><table>${checks.map((c) => row([c.name, c.status, c.detail])).join('\n')}</table>
<h2>Differences by class, last ${CHART_DAYS} days</h2>${chart}<p>${legend}</p>
</body></html>`;
}

export function reportRoutes(
  recon: Reconciliation,
  store: ReconStore,
  checks: DayChecks,
): { path: string; handler: HttpHandler }[] {
  return [
    {
      path: '/reconciliation/results.csv',
      handler: async (req) => {
        const day = await dayOf(recon, req.query);
        if (!('run' in day)) return day;
        return {
          status: 200,
          headers: {
            'content-type': 'text/csv; charset=utf-8',
            'content-disposition': `attachment; filename="recon_${day.run.channelNo}_${day.run.billDate}.csv"`,
          },
          body: await resultsCsv(store, day.run.runId),
        };
      },
    },
    {
      path: '/reconciliation/report.html',
      handler: async (req) => {
        const day = await dayOf(recon, req.query);
        if (!('run' in day)) return day;
        const history = await store.differenceHistory(day.run.channelNo, day.run.billDate, CHART_DAYS);
        return {
          status: 200,
          headers: { 'content-type': 'text/html; charset=utf-8' },
          body: reportHtml(day, await checks.checks(day), chartSvg(day.run.billDate, history)),
        };
      },
    },
  ];
}
