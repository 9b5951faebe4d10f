/**
 * Proves the Kubernetes manifests are deployable as written, offline: every
 * overlay (deploy/k8s/overlays/*), the platform (deploy/k8s/platform) and the
 * monitoring objects (deploy/monitoring) render with `kubectl kustomize`, and
 * every rendered object validates against the Kubernetes API schema:
 *
 * - types, required fields, enums and formats with the OpenAPI validators
 *   that the npm package kubernetes-models ships (generated from the
 *   Kubernetes OpenAPI spec; ServiceMonitor and PrometheusRule from
 *   @kubernetes-models/prometheus-operator, generated from the operator's CRDs);
 * - unknown fields (a typo such as `imagee:`), which those validators allow,
 *   by type-checking every object as an object literal of the same package's
 *   TypeScript interfaces (excess-property checks) with tsc;
 * - kinds with no schema in any package here are listed in SKIPPED with the
 *   reason, and any other unknown kind fails.
 *
 * It also proves the checks can fail (a wrong type and an unknown field are
 * caught), that every service of deploy/services.json has an overlay, that the
 * platform deploys every production overlay, that peer addresses, service
 * tokens and the channel key reach the pods from Secrets only, and that the
 * PrometheusRule holds exactly the groups of deploy/monitoring/alerts.yaml.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = path.resolve(__dirname, '..');
const K8S = path.join(ROOT, 'deploy', 'k8s');
const OVERLAYS = path.join(K8S, 'overlays');

/** Kinds validated by no schema here, and why. Anything else unknown fails the test. */
const SKIPPED: Readonly<Record<string, string>> = {
  'postgresql.cnpg.io/v1/Cluster':
    "CloudNativePG's CRD schema ships in no npm or Debian package; its fields are checked by the operator's admission webhook at apply time",
};

interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [key: string]: unknown;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** Where kubernetes-models keeps the class of an apiVersion (ESM modules: loaded with import()). */
function modelModule(apiVersion: string): string | undefined {
  if (apiVersion.startsWith('monitoring.coreos.com/'))
    return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  if (apiVersion.includes('.cnpg.io/')) return undefined;
  return `kubernetes-models/${apiVersion}`;
}

/** The interface name and module of a kind, for the excess-property check. */
function modelType(object: K8sObject): { module: string; name: string } | undefined {
  const module = modelModule(object.apiVersion);
  return module === undefined ? undefined : { module: `${module}/${object.kind}`, name: `I${object.kind}` };
}

function render(directory: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', directory], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${directory} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((document) => document.toJSON() as K8sObject);
}

async function validateSchema(object: K8sObject): Promise<string | undefined> {
  const module = modelModule(object.apiVersion);
  const key = `${object.apiVersion}/${object.kind}`;
  if (module === undefined)
    return SKIPPED[key] !== undefined ? undefined : `${key}: no schema and not in SKIPPED`;
  const exported = (await import(module)) as Record<string, ModelClass | undefined>;
  const Model = exported[object.kind];
  if (Model === undefined) return `${key}: no such kind in ${module}`;
  try {
    new Model(object).validate();
    return undefined;
  } catch (error) {
    return `${key} ${object.metadata.name}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * Type-checks the objects as literals of their interfaces; returns tsc's
 * complaints, each naming the object. The file lives under test/ so that
 * module resolution finds node_modules.
 */
function excessPropertyErrors(objects: readonly { label: string; object: K8sObject }[]): string[] {
  const directory = mkdtempSync(path.join(__dirname, '.k8s-types-'));
  try {
    const lines: string[] = [];
    const imports = new Map<string, string>();
    const labels: string[] = [];
    objects.forEach(({ label, object }, index) => {
      const type = modelType(object);
      if (type === undefined) return;
      const alias = `T${imports.size}`;
      if (!imports.has(type.module)) imports.set(type.module, alias);
      labels.push(label);
      lines.push(
        `// object ${index}: ${label}\nexport const o${index}: ${imports.get(type.module) ?? ''}.${type.name} = ${JSON.stringify(object)};`,
      );
    });
    const header = [...imports].map(([module, alias]) => `import type * as ${alias} from '${module}';`);
    const file = path.join(directory, 'objects.ts');
    writeFileSync(file, `${header.join('\n')}\n${lines.join('\n')}\n`);
    writeFileSync(
      path.join(directory, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          types: [],
        },
        files: ['objects.ts'],
      }),
    );
    const tsc = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', directory], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (tsc.status === 0) return [];
    const source = readFileSync(file, 'utf8').split('\n');
    return tsc.stdout
      .split('\n')
      .filter((line) => line.includes('error TS'))
      .map((line) => {
        const match = /objects\.ts\((\d+),/.exec(line);
        const lineNo = match ? Number(match[1]) : 0;
        const objectComment = source[lineNo - 2] ?? '';
        return `${objectComment.replace('// ', '')}: ${line.replace(/^.*error /, '')}`;
      });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function kustomizationDirs(): string[] {
  const overlays = readdirSync(OVERLAYS).map((name) => path.join(OVERLAYS, name));
  return [...overlays, path.join(K8S, 'platform'), path.join(ROOT, 'deploy', 'monitoring')];
}

describe('Kubernetes manifests: every overlay renders and validates against the API schema, offline', function () {
  this.timeout(300_000);
  const rendered = new Map<string, K8sObject[]>();

  before(function () {
    if (spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0) {
      process.stdout.write('      skipped: kubectl is not on PATH\n');
      this.skip();
    }
    for (const directory of kustomizationDirs())
      rendered.set(path.relative(ROOT, directory), render(directory));
  });

  it('every service of deploy/services.json has an overlay, and the platform deploys each production one', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'deploy', 'services.json'), 'utf8')) as {
      services: { name: string }[];
    };
    const overlays = readdirSync(OVERLAYS);
    for (const { name } of manifest.services) expect(overlays, `overlay for ${name}`).to.include(name);
    const platform = rendered.get('deploy/k8s/platform') ?? [];
    const deployments = platform.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name);
    expect(deployments.sort()).to.deep.equal(
      [
        'paycore-account',
        'paycore-cashier',
        'paycore-channel-router',
        'paycore-ledger',
        'paycore-reconciliation',
        'paycore-settlement',
      ].sort(),
    );
    for (const object of platform) {
      if (object.kind === 'Namespace') continue;
      expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).to.equal('paycore');
    }
    // Each deployed service has its disruption budget, autoscaler, policy, monitor and migrations Job.
    for (const service of [
      'account',
      'ledger',
      'channel-router',
      'cashier',
      'reconciliation',
      'settlement',
    ]) {
      for (const kind of [
        'PodDisruptionBudget',
        'HorizontalPodAutoscaler',
        'NetworkPolicy',
        'ServiceMonitor',
        'Job',
      ])
        expect(
          platform.some((o) => o.kind === kind && o.metadata.name.endsWith(service)),
          `${kind} of ${service}`,
        ).to.equal(true);
    }
    expect(platform.some((o) => o.kind === 'Ingress')).to.equal(true);
  });

  it('peer addresses, service tokens and the channel key reach the pods from Secrets, never from a ConfigMap', () => {
    const platform = rendered.get('deploy/k8s/platform') ?? [];
    const secrets = new Set(platform.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name));
    // The platform generates the addresses' Secret itself; the tokens and the key are the operator's (the runbook).
    expect(secrets.has('paycore-endpoints')).to.equal(true);
    expect(platform.some((o) => o.kind === 'ConfigMap' && o.metadata.name === 'paycore-endpoints')).to.equal(
      false,
    );
    type Volume = { name: string; secret?: { secretName: string }; configMap?: { name: string } };
    type Container = { env?: { name: string; valueFrom?: { secretKeyRef?: { name: string } } }[] };
    type PodSpec = { volumes?: Volume[]; containers: Container[] };
    for (const deployment of platform.filter((o) => o.kind === 'Deployment')) {
      const name = deployment.metadata.name;
      const pod = (deployment as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
      const volumes = pod.volumes ?? [];
      const env = pod.containers.flatMap((c) => c.env ?? []);
      expect(volumes.find((v) => v.name === 'endpoints')?.secret?.secretName, `${name} addresses`).to.equal(
        'paycore-endpoints',
      );
      const token = volumes.find((v) => v.name === 'service-token');
      // Every service that calls another sends a token of its own, from its own Secret.
      if (!['paycore-account', 'paycore-channel-router'].includes(name)) {
        expect(token?.secret?.secretName, `${name} service token`).to.equal(
          `paycore-service-token-${name.replace(/^paycore-/, '')}`,
        );
      }
      const key = env.find((e) => e.name === 'CHANNEL_CREDENTIALS_KEY');
      if (name === 'paycore-channel-router') {
        expect(key?.valueFrom?.secretKeyRef?.name).to.equal('paycore-channel-key');
      } else {
        expect(key, `${name} must not see the channel key`).to.equal(undefined);
      }
      expect(volumes.filter((v) => v.configMap !== undefined).map((v) => v.configMap?.name)).to.deep.equal([
        'paycore-jwt',
      ]);
    }
  });

  it('every rendered object validates against its Kubernetes (or CRD) schema', async () => {
    const problems: string[] = [];
    let validated = 0;
    for (const [directory, objects] of rendered) {
      for (const object of objects) {
        const problem = await validateSchema(object);
        if (problem !== undefined) problems.push(`${directory}: ${problem}`);
        else if (modelModule(object.apiVersion) !== undefined) validated++;
      }
    }
    expect(problems).to.deep.equal([]);
    expect(validated).to.be.greaterThan(60);
  });

  it('no rendered object has a field its schema does not know, and a typo would be caught (tsc excess-property check)', async () => {
    const all = [...rendered].flatMap(([directory, objects]) =>
      objects.map((object) => ({ label: `${directory} ${object.kind} ${object.metadata.name}`, object })),
    );
    // One tsc run for everything, with one planted typo that must be the only complaint.
    const deployment = (rendered.get('deploy/k8s/overlays/account') ?? []).find(
      (o) => o.kind === 'Deployment',
    );
    expect(deployment).to.not.equal(undefined);
    const typo = JSON.parse(JSON.stringify(deployment)) as {
      spec: { template: { spec: { containers: Record<string, unknown>[] } } };
    };
    const container = typo.spec.template.spec.containers[0];
    if (container === undefined) throw new Error('no container');
    container['imagee'] = 'x';
    const errors = excessPropertyErrors([
      ...all,
      { label: 'planted typo', object: typo as unknown as K8sObject },
    ]);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/^object \d+: planted typo: .*imagee/);

    // The schema validators catch a wrong type.
    const base = JSON.parse(JSON.stringify(deployment)) as K8sObject & { spec: Record<string, unknown> };
    expect(await validateSchema({ ...base, spec: { ...base.spec, replicas: 'two' } })).to.match(
      /replicas must be integer/,
    );
  });

  it('the PrometheusRule holds exactly the rule groups of deploy/monitoring/alerts.yaml', () => {
    const alerts = parse(readFileSync(path.join(ROOT, 'deploy', 'monitoring', 'alerts.yaml'), 'utf8')) as {
      groups: unknown[];
    };
    const rule = (rendered.get('deploy/monitoring') ?? []).find((o) => o.kind === 'PrometheusRule') as
      (K8sObject & { spec: { groups: unknown[] } }) | undefined;
    expect(rule?.spec.groups).to.deep.equal(alerts.groups);
  });
});
