/**
 * Writes deploy/monitoring/prometheusrule.yaml from deploy/monitoring/alerts.yaml:
 * the same rule groups, wrapped in a PrometheusRule for the prometheus-operator.
 * The rule file stays the one source (promtool checks it; a plain Prometheus
 * loads it); test/kubernetes.test.ts fails when the two disagree.
 *
 * Usage: tsx scripts/prometheus-rule.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

const MONITORING = path.resolve(__dirname, '..', 'deploy', 'monitoring');

export function prometheusRule(alertsYaml: string): object {
  const rules = parse(alertsYaml) as { groups?: unknown };
  if (!Array.isArray(rules.groups)) throw new Error('alerts.yaml: expected {groups: [...]}');
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'paycore', labels: { 'app.kubernetes.io/part-of': 'paycore' } },
    spec: { groups: rules.groups },
  };
}

if (require.main === module) {
  const rule = prometheusRule(readFileSync(path.join(MONITORING, 'alerts.yaml'), 'utf8'));
  const header =
    '# GENERATED from alerts.yaml (same groups, wrapped for the prometheus-operator);\n' +
    '# regenerate with: tsx scripts/prometheus-rule.ts && prettier --write deploy/monitoring\n' +
    '# test/kubernetes.test.ts fails when the two disagree.\n';
  writeFileSync(path.join(MONITORING, 'prometheusrule.yaml'), header + stringify(rule, { lineWidth: 120 }));
}
