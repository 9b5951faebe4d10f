/**
 * Proves the monitoring that ships in deploy/monitoring works against the real
 * platform: Debian's `prometheus` scrapes every service that `make up`
 * (scripts/up.sh, deploy/services.json) started, each target is up, every
 * query of the Grafana dashboard (grafana-dashboard.json) returns data once a
 * channel payment and a refund have gone through, the alert rules load into
 * that Prometheus, and `promtool check rules` accepts them.
 *
 * How: a fresh platform (own run directory, database, NATS prefix), one
 * Alipay payment + refund through the public APIs, a Prometheus with a 1 s
 * scrape interval and the rule file, queried over its HTTP API.
 *
 * It installs nothing: `make test` runs scripts/ensure-tools.sh first. Without
 * `prometheus` / `promtool` on PATH the suite skips and says so.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { freePort } from '@paycore/testing';
import { startMadeUpPlatform, type MadeUpPlatform } from './made-up-platform';
import { channelPaymentAndRefund, runningPlatform } from './running-platform';

const ROOT = path.resolve(__dirname, '..');
const RULES_FILE = path.join(ROOT, 'deploy', 'monitoring', 'alerts.yaml');
const DASHBOARD_FILE = path.join(ROOT, 'deploy', 'monitoring', 'grafana-dashboard.json');
const WAIT_MS_MAX = 90_000;
const POLL_MS = 500;
/** Services that serve no /metrics (the sandbox stands in for an outside party). */
const NOT_SCRAPED = new Set(['channel-sandbox']);

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

interface Panel {
  readonly title: string;
  readonly targets: readonly { readonly expr: string }[];
}

interface PromResponse<T> {
  readonly status: string;
  readonly data: T;
  readonly error?: string;
}

interface TargetsData {
  readonly activeTargets: readonly { readonly labels: Record<string, string>; readonly health: string }[];
}

interface QueryData {
  readonly resultType: string;
  readonly result: readonly unknown[];
}

interface RulesData {
  readonly groups: readonly { readonly name: string; readonly rules: readonly unknown[] }[];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS_MAX;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}: ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

describe('monitoring: Prometheus scrapes the platform, the dashboard has data, the alert rules load', function () {
  this.timeout(600_000);
  let platform: MadeUpPlatform | undefined;
  let prometheus: ChildProcess | undefined;
  let prometheusLog = '';
  let api = '';

  before(async function () {
    const absent = ['prometheus', 'promtool'].filter((tool) => !onPath(tool));
    if (absent.length > 0) {
      process.stdout.write(
        `      skipped: ${absent.join(' and ')} not on PATH (scripts/ensure-tools.sh installs Debian's prometheus; make test runs it)\n`,
      );
      this.skip();
    }
    platform = await startMadeUpPlatform('monitoring');
    await channelPaymentAndRefund(runningPlatform(platform.runDir));

    const httpEndpoints = JSON.parse(
      readFileSync(path.join(platform.runDir, 'http-endpoints.json'), 'utf8'),
    ) as Record<string, string>;
    const targets = Object.entries(httpEndpoints).filter(([name]) => !NOT_SCRAPED.has(name));
    const directory = path.join(platform.root, 'prometheus');
    mkdirSync(directory);
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES_FILE],
      scrape_configs: [
        {
          job_name: 'paycore',
          static_configs: targets.map(([name, address]) => ({
            targets: [address],
            labels: { target: name },
          })),
        },
      ],
    };
    // JSON is YAML: no YAML writer needed.
    writeFileSync(path.join(directory, 'prometheus.yml'), JSON.stringify(config, null, 2));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${path.join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const collect = (chunk: Buffer): void => {
      prometheusLog = (prometheusLog + chunk.toString('utf8')).slice(-20_000);
    };
    prometheus.stdout?.on('data', collect);
    prometheus.stderr?.on('data', collect);
    await waitFor('prometheus ready', async () => {
      if (prometheus?.exitCode !== null) throw new Error(`prometheus exited:\n${prometheusLog}`);
      const res = await fetch(`${api}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      return res.status === 200 ? true : undefined;
    });
  });

  after(async () => {
    prometheus?.kill('SIGTERM');
    await platform?.stop();
  });

  async function get<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${api}${pathAndQuery}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as PromResponse<T>;
    if (body.status !== 'success') throw new Error(`${pathAndQuery}: ${body.error ?? res.status}`);
    return body.data;
  }

  it('promtool check rules accepts deploy/monitoring/alerts.yaml', () => {
    const result = spawnSync('promtool', ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
    expect(result.status, `${result.stdout}\n${result.stderr}`).to.equal(0);
    expect(result.stdout).to.match(/SUCCESS: \d+ rules found/);
  });

  it('every service started by make up is a target, and every target is up', async () => {
    const endpoints = JSON.parse(
      readFileSync(path.join(platform?.runDir ?? '', 'http-endpoints.json'), 'utf8'),
    ) as Record<string, string>;
    const expected = Object.keys(endpoints)
      .filter((name) => !NOT_SCRAPED.has(name))
      .sort();
    expect(expected).to.include.members(['account', 'ledger', 'channel-router', 'cashier']);
    const healthy = await waitFor('every target up', async () => {
      const data = await get<TargetsData>('/api/v1/targets?state=active');
      const up = data.activeTargets.filter((t) => t.health === 'up').map((t) => t.labels['target'] ?? '');
      return up.length === expected.length ? up.sort() : undefined;
    });
    expect(healthy).to.deep.equal(expected);
  });

  it('every query of the Grafana dashboard returns data', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels: Panel[] };
    const exprs = dashboard.panels.flatMap((panel) =>
      panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })),
    );
    expect(exprs.length).to.be.greaterThan(15);
    const empty: string[] = [];
    for (const { panel, expr } of exprs) {
      // rate() needs two samples in its window: wait (bounded) rather than sleep a guess.
      const result = await waitFor(`data for "${panel}"`, async () => {
        const data = await get<QueryData>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
        return data.result.length > 0 ? data.result : undefined;
      }).catch(() => undefined);
      if (result === undefined) empty.push(`${panel}: ${expr}`);
    }
    expect(empty, 'dashboard queries without data').to.deep.equal([]);
  });

  it('the alert rules load into that Prometheus, every group and rule of the file', async () => {
    const rulesText = readFileSync(RULES_FILE, 'utf8');
    const fileRules = (rulesText.match(/^\s+- alert: /gm) ?? []).length;
    const data = await waitFor('rules loaded', async () => {
      const got = await get<RulesData>('/api/v1/rules');
      return got.groups.length > 0 ? got : undefined;
    });
    const loaded = data.groups.reduce((sum, group) => sum + group.rules.length, 0);
    expect(loaded).to.equal(fileRules);
    expect(data.groups.map((group) => group.name)).to.include('paycore-business');
  });
});
