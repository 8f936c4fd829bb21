// deploy/: the image and the Kubernetes and KServe manifests. No Docker engine or cluster runs
// here, so they are checked statically, against the real CLI and the repository: the
// manifests parse, every flag they pass exists and is accepted, every file the Dockerfile
// copies exists and reaches the build, and ports agree across all of it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../src/cli/config.js';
import { execForm, isIgnored, parseCopy, parseDockerfile, parseDockerignore, stages, type Instruction } from './helpers/dockerfile.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');

interface Port {
  readonly name?: string;
  readonly containerPort: number;
}
interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: number | string };
  readonly grpc?: { readonly port: number | string; readonly service?: string };
}
interface SecurityContext {
  readonly runAsNonRoot?: boolean;
  readonly runAsUser?: number;
  readonly allowPrivilegeEscalation?: boolean;
  readonly privileged?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[] };
}
interface Container {
  readonly name: string;
  readonly args?: readonly string[];
  readonly ports?: readonly Port[];
  readonly startupProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly securityContext?: SecurityContext;
  readonly lifecycle?: { readonly preStop?: { readonly exec?: { readonly command: readonly string[] } } };
}
interface PodSpec {
  readonly containers: readonly Container[];
  readonly securityContext?: SecurityContext;
  readonly terminationGracePeriodSeconds?: number;
}
interface Metadata {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}
interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: Metadata;
  readonly spec: Readonly<Record<string, unknown>>;
}
interface ServingRuntimeSpec {
  readonly annotations?: Readonly<Record<string, string>>;
  readonly supportedModelFormats: readonly { readonly name: string; readonly version?: string; readonly autoSelect?: boolean }[];
  readonly protocolVersions: readonly string[];
  readonly containers: readonly Container[];
}
interface DeploymentSpec {
  readonly selector: { readonly matchLabels: Readonly<Record<string, string>> };
  readonly template: { readonly metadata: Omit<Metadata, 'name'>; readonly spec: PodSpec };
}
interface ServiceSpec {
  readonly selector: Readonly<Record<string, string>>;
  readonly ports: readonly { readonly name: string; readonly port: number; readonly targetPort: number | string }[];
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.ya?ml$/.test(file))
    .sort()
    .map((file) => join(dir, file));
}

/** Every document of every manifest under deploy/; a YAML error or warning fails here. */
function loadManifests(): Manifest[] {
  return yamlFiles(DEPLOY).flatMap((path) => {
    const file = relative(ROOT, path);
    return parseAllDocuments(readFileSync(path, 'utf8')).map((doc, index) => {
      const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
      assert.deepEqual(problems, [], `${file} document ${index + 1}`);
      return { ...(doc.toJS() as Omit<Manifest, 'file'>), file };
    });
  });
}

let manifests: Manifest[] | undefined;

/** Loaded when a test first needs them, so that a parse error fails tests rather than the file. */
function allManifests(): Manifest[] {
  manifests ??= loadManifests();
  return manifests;
}

const DOCKERFILE = parseDockerfile(readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8'));
const STAGES = stages(DOCKERFILE);
const RUNTIME_STAGE = STAGES.at(-1)!;

function only(kind: string): Manifest {
  const found = allManifests().filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `one ${kind} in deploy/`);
  return found[0]!;
}

const runtimeSpec = (): ServingRuntimeSpec => only('ClusterServingRuntime').spec as unknown as ServingRuntimeSpec;
const deploymentSpec = (): DeploymentSpec => only('Deployment').spec as unknown as DeploymentSpec;
const serviceSpec = (): ServiceSpec => only('Service').spec as unknown as ServiceSpec;

function containerNamed(containers: readonly Container[], name: string): Container {
  const container = containers.find((c) => c.name === name);
  assert.ok(container, `a container named ${name}`);
  return container;
}

/** Every container of the manifests, with where it is. */
function allContainers(): { readonly where: string; readonly container: Container; readonly pod: PodSpec | undefined }[] {
  return [
    ...runtimeSpec().containers.map((container) => ({ where: 'ClusterServingRuntime', container, pod: undefined })),
    ...deploymentSpec().template.spec.containers.map((container) => ({ where: 'Deployment', container, pod: deploymentSpec().template.spec })),
  ];
}

/** `--name=value` → [name, value]; a switch has no value. Anything else is not a flag. */
function splitFlag(arg: string): [string, string | undefined] {
  const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
  assert.ok(match, `'${arg}' is a --flag or --flag=value`);
  return [match[1]!, match[2]];
}

function flagValue(args: readonly string[], name: string): string | undefined {
  return args.map(splitFlag).find(([flag]) => flag === name)?.[1];
}

/** A port flag's value; the manifests name every port explicitly, so nothing hides in a default. */
function portFlag(args: readonly string[], name: string): number {
  const value = flagValue(args, name);
  assert.ok(value !== undefined, `--${name} is given in ${args.join(' ')}`);
  return Number(value);
}

/** The arguments the image passes to v2serve: the ENTRYPOINT after the script, then CMD. */
function imageArgs(): string[] {
  const last = (keyword: string): Instruction | undefined => RUNTIME_STAGE.instructions.filter((i) => i.keyword === keyword).at(-1);
  const entrypoint = last('ENTRYPOINT');
  const cmd = last('CMD');
  assert.ok(entrypoint && cmd, 'the runtime stage has an ENTRYPOINT and a CMD');
  // The shell form would run /bin/sh as PID 1, which does not pass SIGTERM on to v2serve.
  const entry = execForm(entrypoint);
  const defaults = execForm(cmd);
  assert.ok(entry && defaults, 'ENTRYPOINT and CMD are in exec (JSON) form');
  const script = entry.findIndex((word) => word.endsWith('bin/v2serve.js'));
  assert.ok(script >= 0, `the ENTRYPOINT runs bin/v2serve.js: ${entry.join(' ')}`);
  return [...entry.slice(script + 1), ...defaults];
}

/** Every list of v2serve arguments in deploy/, by where it is. */
function argumentLists(): { readonly where: string; readonly args: readonly string[] }[] {
  return [
    { where: 'Dockerfile CMD', args: imageArgs() },
    ...allContainers().map(({ where, container }) => ({ where: `${where} container ${container.name}`, args: container.args ?? [] })),
  ];
}

let helpCache: Map<string, string | undefined> | undefined;

/** The real CLI's --help: each flag with the default it states. Needs `npm run build`. */
function helpFlags(): Map<string, string | undefined> {
  if (helpCache) return helpCache;
  const help = execFileSync(process.execPath, [join(ROOT, 'bin', 'v2serve.js'), '--help'], { encoding: 'utf8' });
  const flags = new Map<string, string | undefined>();
  for (const line of help.split('\n')) {
    const match = /^\s+--([a-z0-9-]+)\S*\s.*?(?:\(default ([^)]*)\))?$/.exec(line);
    if (match) flags.set(match[1]!, match[2]);
  }
  helpCache = flags;
  return flags;
}

function numericPort(port: number | string | undefined, where: string): number {
  // Kubernetes' gRPC probe takes only a number; the HTTP ones take names too, but a number
  // is what the other files can be compared with.
  assert.equal(typeof port, 'number', `${where}: the port is a number, got ${String(port)}`);
  return port as number;
}

describe('deploy - manifests', () => {
  test('manifests - every file parses as YAML without errors or warnings', () => {
    assert.doesNotThrow(allManifests);
  });

  test('manifests - every document has apiVersion, kind and metadata.name', () => {
    assert.ok(allManifests().length > 0, 'deploy/ holds manifests');
    for (const m of allManifests()) {
      assert.ok(typeof m.apiVersion === 'string' && m.apiVersion !== '', `${m.file}: apiVersion`);
      assert.ok(typeof m.kind === 'string' && m.kind !== '', `${m.file}: kind`);
      assert.ok(typeof m.metadata?.name === 'string' && m.metadata.name !== '', `${m.file} ${m.kind}: metadata.name`);
    }
  });

  test('manifests - each kind has the API version that serves it', () => {
    const expected: Readonly<Record<string, string>> = {
      ClusterServingRuntime: 'serving.kserve.io/v1alpha1',
      InferenceService: 'serving.kserve.io/v1beta1',
      Deployment: 'apps/v1',
      Service: 'v1',
      HorizontalPodAutoscaler: 'autoscaling/v2',
    };
    assert.deepEqual(
      allManifests().map((m) => [m.kind, m.apiVersion]).sort(),
      Object.entries(expected).sort(),
      'exactly one document of each kind, with its API version',
    );
  });

  test('kserve runtime - protocols v2 and grpc-v2, container kserve-container, gRPC port named h2c, Prometheus annotations', () => {
    const spec = runtimeSpec();
    assert.deepEqual([...spec.protocolVersions].sort(), ['grpc-v2', 'v2']);
    const container = containerNamed(spec.containers, 'kserve-container');
    const args = container.args ?? [];
    assert.equal(flagValue(args, 'model-repository'), '/mnt/models', 'the storage initializer downloads into /mnt/models');
    // KServe's ports, as its Triton runtime has them.
    assert.equal(portFlag(args, 'http-port'), 8080);
    assert.equal(portFlag(args, 'grpc-port'), 9000);
    const h2c = (container.ports ?? []).find((p) => p.name === 'h2c');
    assert.ok(h2c, 'a port named h2c (Knative routes gRPC only on a port of that name)');
    assert.equal(h2c.containerPort, portFlag(args, 'grpc-port'), 'the h2c port is the gRPC port');
    assert.equal(container.ports?.length, 1, 'serverless mode routes one port');
    assert.equal(spec.annotations?.['prometheus.kserve.io/path'], '/metrics');
    assert.equal(Number(spec.annotations?.['prometheus.kserve.io/port']), portFlag(args, 'metrics-port'), 'the annotation names the metrics port');
  });

  test('kserve runtime - auto-selected only for its own format, not for formats other runtimes serve', () => {
    const formats = runtimeSpec().supportedModelFormats;
    assert.deepEqual(
      formats.filter((f) => f.autoSelect === true).map((f) => f.name),
      ['v2serve'],
    );
    for (const name of ['onnx', 'triton']) assert.ok(formats.some((f) => f.name === name), `${name} can be chosen explicitly`);
  });

  test('kserve - the InferenceService uses the runtime defined here, a format it supports, and a storageUri', () => {
    const isvc = only('InferenceService');
    const model = (isvc.spec as { predictor: { model: { runtime?: string; modelFormat: { name: string }; storageUri?: string } } }).predictor.model;
    assert.equal(model.runtime, only('ClusterServingRuntime').metadata.name);
    assert.ok(runtimeSpec().supportedModelFormats.some((f) => f.name === model.modelFormat.name), `format ${model.modelFormat.name} is supported`);
    assert.match(model.storageUri ?? '', /^[a-z0-9]+:\/\/\S+$/, 'storageUri is a URI');
  });

  test('kubernetes - gRPC readiness per model, HTTP liveness on /v2/health/live, a startup probe; ports are numbers', () => {
    const container = containerNamed(deploymentSpec().template.spec.containers, 'v2serve');
    const args = container.args ?? [];
    const readiness = container.readinessProbe?.grpc;
    assert.ok(readiness, 'a native gRPC readiness probe');
    assert.equal(numericPort(readiness.port, 'readinessProbe'), portFlag(args, 'grpc-port'));
    // v2serve's health service answers a model's name with that model's readiness.
    assert.match(readiness.service ?? '', /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'the probe names a model');
    const liveness = container.livenessProbe?.httpGet;
    assert.ok(liveness, 'an HTTP liveness probe');
    assert.equal(liveness.path, '/v2/health/live');
    assert.equal(numericPort(liveness.port, 'livenessProbe'), portFlag(args, 'http-port'));
    const startup = container.startupProbe;
    assert.ok(startup && (startup.httpGet ?? startup.grpc), 'a startup probe');
    if (startup.httpGet) assert.equal(numericPort(startup.httpGet.port, 'startupProbe'), portFlag(args, 'http-port'));
    if (startup.grpc) assert.equal(numericPort(startup.grpc.port, 'startupProbe'), portFlag(args, 'grpc-port'));
  });

  test('kubernetes - the grace period covers the preStop pause, --exit-timeout-secs and the second unloading may take', () => {
    const pod = deploymentSpec().template.spec;
    const container = containerNamed(pod.containers, 'v2serve');
    const exitTimeout = Number(flagValue(container.args ?? [], 'exit-timeout-secs') ?? helpFlags().get('exit-timeout-secs'));
    const [sleep, seconds] = container.lifecycle?.preStop?.exec?.command ?? [];
    const pause = sleep === 'sleep' ? Number(seconds) : 0;
    // Kubernetes' default grace period is 30 s.
    assert.ok((pod.terminationGracePeriodSeconds ?? 30) > pause + exitTimeout + 1, `grace ${pod.terminationGracePeriodSeconds} s > ${pause} + ${exitTimeout} + 1 s`);
  });

  test('kubernetes - the Service selects the pods and targets their ports by purpose; Prometheus annotations name the metrics port', () => {
    const deployment = deploymentSpec();
    const service = serviceSpec();
    const labels = deployment.template.metadata.labels ?? {};
    for (const [key, value] of Object.entries(service.selector)) assert.equal(labels[key], value, `the pods carry ${key}=${value}`);
    assert.deepEqual(deployment.selector.matchLabels, service.selector, 'Deployment and Service select the same pods');
    const container = containerNamed(deployment.template.spec.containers, 'v2serve');
    const args = container.args ?? [];
    const byPurpose: Readonly<Record<string, number>> = {
      http: portFlag(args, 'http-port'),
      grpc: portFlag(args, 'grpc-port'),
      metrics: portFlag(args, 'metrics-port'),
    };
    assert.deepEqual(
      (container.ports ?? []).map((p) => [p.name, p.containerPort]).sort(),
      Object.entries(byPurpose).sort(),
      'container ports, named by purpose, are the ports the args set',
    );
    assert.deepEqual(
      service.ports.map((p) => [p.name, p.targetPort]).sort(),
      Object.entries(byPurpose).sort(),
      'Service targetPorts are the container ports',
    );
    const annotations = deployment.template.metadata.annotations ?? {};
    assert.equal(annotations['prometheus.io/scrape'], 'true');
    assert.equal(annotations['prometheus.io/path'], '/metrics');
    assert.equal(Number(annotations['prometheus.io/port']), byPurpose['metrics']);
  });

  test('kubernetes - the Deployment uses the ports the image exposes', () => {
    const args = containerNamed(deploymentSpec().template.spec.containers, 'v2serve').args ?? [];
    const used = ['http-port', 'grpc-port', 'metrics-port'].map((flag) => portFlag(args, flag)).sort();
    assert.deepEqual(used, exposedPorts());
  });

  test('kubernetes - the replicas share endpoint records under the Deployment name', () => {
    const args = containerNamed(deploymentSpec().template.spec.containers, 'v2serve').args ?? [];
    assert.ok(flagValue(args, 'monitoring-nats'), 'the replicas send events to NATS');
    assert.equal(flagValue(args, 'monitoring-deployment'), only('Deployment').metadata.name);
  });

  test('hpa - scales the Deployment defined here on the pending-request gauge as a Pods metric', () => {
    const spec = only('HorizontalPodAutoscaler').spec as {
      scaleTargetRef: { apiVersion: string; kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: readonly { type: string; pods?: { metric: { name: string }; target: { type: string } } }[];
    };
    const deployment = only('Deployment');
    assert.deepEqual(spec.scaleTargetRef, { apiVersion: deployment.apiVersion, kind: 'Deployment', name: deployment.metadata.name });
    assert.ok(spec.minReplicas >= 1 && spec.maxReplicas > spec.minReplicas, `replicas ${spec.minReplicas}..${spec.maxReplicas}`);
    const metric = spec.metrics.find((m) => m.type === 'Pods');
    assert.equal(metric?.pods?.metric.name, 'nv_inference_pending_request_count');
    assert.equal(metric.pods.target.type, 'AverageValue');
  });

  test('security - every container runs as a non-root user, without privilege escalation, all capabilities dropped', () => {
    for (const { where, container, pod } of allContainers()) {
      const context = { ...pod?.securityContext, ...container.securityContext };
      assert.equal(context.runAsNonRoot, true, `${where}: runAsNonRoot`);
      assert.ok(context.runAsUser === undefined || context.runAsUser > 0, `${where}: runAsUser is not root`);
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
      assert.notEqual(container.securityContext?.privileged, true, `${where}: not privileged`);
      assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL'], `${where}: capabilities dropped`);
    }
  });
});

describe('deploy - flags', () => {
  test('flags - every flag passed in deploy/ is one the CLI lists in --help', () => {
    const known = helpFlags();
    assert.ok(known.has('grpc-port'), 'the help was read');
    for (const { where, args } of argumentLists()) {
      const unknown = args.map((arg) => splitFlag(arg)[0]).filter((flag) => !known.has(flag));
      assert.deepEqual(unknown, [], `${where}: flags missing from v2serve --help`);
    }
  });

  test('flags - every argument list is accepted by the CLI parser', () => {
    for (const { where, args } of argumentLists()) {
      assert.doesNotThrow(() => parseConfig(args), `${where}: ${args.join(' ')}`);
    }
  });
});

/** EXPOSE of the runtime stage, sorted. */
function exposedPorts(): number[] {
  return RUNTIME_STAGE.instructions
    .filter((i) => i.keyword === 'EXPOSE')
    .flatMap((i) => i.args.split(/\s+/))
    .map((port) => Number(port.replace(/\/tcp$/, '')))
    .sort();
}

/** Every file under `path` (relative to the repository), or the path itself for a file. */
function filesUnder(path: string): string[] {
  const full = join(ROOT, path);
  if (!statSync(full).isDirectory()) return [path];
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .map((file) => join(path, file).split('\\').join('/'))
    .filter((file) => !statSync(join(ROOT, file)).isDirectory());
}

describe('deploy - Dockerfile', () => {
  test('Dockerfile - a node:20 build stage runs npm ci and npm run build; the runtime stage installs production dependencies only', () => {
    assert.ok(STAGES.length >= 2, 'multi-stage');
    for (const stage of STAGES) assert.match(stage.image, /^node:20[.\w-]*$/, `${stage.name ?? 'runtime'} stage: a pinned node:20 tag`);
    const runs = (stage: (typeof STAGES)[number]): string[] => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const build = STAGES.find((s) => s.name === 'build');
    assert.ok(build, 'a stage named build');
    assert.ok(runs(build).some((r) => /\bnpm ci\b/.test(r)), 'the build stage runs npm ci');
    assert.ok(runs(build).some((r) => /\bnpm run build\b/.test(r)), 'the build stage runs npm run build');
    const install = runs(RUNTIME_STAGE).filter((r) => /\bnpm (ci|install)\b/.test(r));
    assert.ok(install.length > 0 && install.every((r) => /\bnpm ci\b[^&;|]*--omit=dev/.test(r)), `the runtime stage runs npm ci --omit=dev only: ${install.join('; ')}`);
  });

  test('Dockerfile - the runtime stage runs as a numeric non-root user and exposes HTTP, gRPC and metrics at their defaults', () => {
    const user = RUNTIME_STAGE.instructions.filter((i) => i.keyword === 'USER').at(-1);
    // Kubernetes' runAsNonRoot can verify a numeric user only.
    assert.match(user?.args ?? '', /^[1-9]\d*(:\d+)?$/, 'USER is a non-zero uid');
    const defaults = helpFlags();
    const expected = ['http-port', 'grpc-port', 'metrics-port']
      .map((flag) => {
        assert.ok(defaults.get(flag) !== undefined, `v2serve --help states a default for --${flag}`);
        return Number(defaults.get(flag));
      })
      .sort();
    assert.deepEqual(exposedPorts(), expected, 'EXPOSE lists the default ports of --help');
  });

  test('Dockerfile - the image serves the model repository at /mnt/models', () => {
    assert.equal(flagValue(imageArgs(), 'model-repository'), '/mnt/models');
  });

  test("Dockerfile - no node_modules is planted for the mounted repository: models get the server's v2serve from the server", () => {
    const runs = RUNTIME_STAGE.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.deepEqual(runs.filter((r) => /node_modules\/v2serve|\bln\b/.test(r)), []);
  });

  test('Dockerfile - every file it copies from the build context exists, and .dockerignore leaves none of it out', () => {
    const rules = parseDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    const copies = DOCKERFILE.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD').map(parseCopy);
    const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    assert.ok(fromContext.length > 0, 'something is copied from the context');
    for (const source of fromContext) {
      assert.ok(existsSync(join(ROOT, source)), `${source} exists in the repository`);
      const left = filesUnder(source).filter((file) => isIgnored(rules, file));
      assert.deepEqual(left, [], `.dockerignore leaves out files of ${source}`);
    }
  });

  test('Dockerfile - what it copies from another stage comes from a stage defined before, under its WORKDIR', () => {
    const names = STAGES.map((s) => s.name);
    STAGES.forEach((stage, index) => {
      for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY').map(parseCopy)) {
        if (copy.from === undefined) continue;
        const source = STAGES.findIndex((s) => s.name === copy.from);
        assert.ok(source >= 0 && source < index, `--from=${copy.from} names an earlier stage (${names.join(', ')})`);
        const workdir = STAGES[source]!.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args;
        for (const path of copy.sources) assert.ok(workdir && path.startsWith(`${workdir}/`), `${path} is under ${workdir}`);
      }
    });
  });

  test('Dockerfile - the runtime stage holds everything package.json ships (files)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    const workdir = RUNTIME_STAGE.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
    // Destinations as paths relative to the runtime WORKDIR, without trailing slashes.
    const copied = RUNTIME_STAGE.instructions
      .filter((i) => i.keyword === 'COPY')
      .map(parseCopy)
      .flatMap((c) => {
        const destination = c.destination.startsWith('/') ? relative(workdir, c.destination) : c.destination;
        const base = destination.replace(/^\.\/?/, '').replace(/\/$/, '');
        // `COPY a b dir/` puts each source in dir under its own name; `COPY a dst` puts it at dst.
        const intoDirectory = c.sources.length > 1 || c.destination.endsWith('/') || base === '';
        return intoDirectory ? c.sources.map((s) => (base === '' ? basename(s) : `${base}/${basename(s)}`)) : [base];
      });
    for (const entry of pkg.files) {
      const path = entry.replace(/\/$/, '');
      assert.ok(
        copied.some((c) => path === c || path.startsWith(`${c}/`)),
        `package.json files entry ${entry} is copied into the runtime stage (copied: ${copied.join(', ')})`,
      );
    }
  });
});
