// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per area
// of the code (grpc-js, ts-proto stubs, v2serve src/, models, node internals, GC).
//   node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top=25]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { round, table } from './stats.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface SelfTime {
  readonly name: string;
  readonly area: string;
  readonly ms: number;
  readonly pct: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  /** Time with the JS thread idle (waiting in the event loop), excluded from the percentages. */
  readonly idleMs: number;
  readonly top: readonly SelfTime[];
  /** Our code (src/, generated/, models/) by total time: the function and everything it called. */
  readonly topInclusive: readonly SelfTime[];
  readonly areas: readonly { readonly area: string; readonly ms: number; readonly pct: number }[];
}

/** Where a function lives, coarsely: what a reader needs to know which team owns the time. */
function areaOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) {
    if (frame.functionName === '(garbage collector)') return 'gc';
    if (frame.functionName.startsWith('(')) return frame.functionName;
    return 'native';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return 'node-internals';
  if (url.includes('/generated/')) return 'generated (ts-proto)';
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src) return `src/${src[1]}`;
  if (/\/src\/[^/]+\.ts/.test(url)) return 'src';
  if (url.includes('/models/')) return 'models';
  return url;
}

function shortUrl(url: string): string {
  const cut = url.search(/\/(node_modules|src|generated|models|bench)\//);
  return cut >= 0 ? url.slice(cut + 1) : url;
}

/** tsx emits each module on one line, so the column is what tells two functions apart. */
function frameName(frame: CallFrame): string {
  const where = frame.url ? ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}:${frame.columnNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'}${where}`;
}

const OURS = new Set(['generated (ts-proto)', 'models', 'src']);
const isOurs = (area: string): boolean => OURS.has(area) || area.startsWith('src/');

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; it is charged to the sample's node.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, { area: string; us: number }>();
  const byArea = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as ProfileNode).callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const area = areaOf(frame);
    const name = frameName(frame);
    const entry = byFunction.get(name) ?? { area, us: 0 };
    entry.us += us;
    byFunction.set(name, entry);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  // Total time: each sample counts once for every distinct function of ours on its stack.
  const inclusive = new Map<string, { area: string; us: number }>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = (byId.get(at) as ProfileNode).callFrame;
      const area = areaOf(frame);
      if (!isOurs(area)) continue;
      const name = frameName(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      const entry = inclusive.get(name) ?? { area, us: 0 };
      entry.us += us;
      inclusive.set(name, entry);
    }
  }
  const busyUs = totalUs - idleUs || 1;
  const ranked = (m: Map<string, { area: string; us: number }>): SelfTime[] =>
    [...m]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([name, { area, us }]) => ({ name, area, ms: round(us / 1000, 1), pct: round((us / busyUs) * 100, 1) }));
  return {
    file,
    totalMs: round(totalUs / 1000, 1),
    idleMs: round(idleUs / 1000, 1),
    top: ranked(byFunction),
    topInclusive: ranked(inclusive),
    areas: [...byArea]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: round(us / 1000, 1), pct: round((us / busyUs) * 100, 1) })),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const busy = summary.totalMs - summary.idleMs;
  return [
    `profile ${summary.file}: ${busy.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms (percentages of busy time)`,
    table([['self time by area', 'ms', '%'], ...summary.areas.map((a) => [a.area, a.ms.toFixed(0), a.pct.toFixed(1)])]),
    '',
    table([['top functions by self time', 'area', 'ms', '%'], ...summary.top.map((f) => [f.name, f.area, f.ms.toFixed(0), f.pct.toFixed(1)])]),
    ...(summary.topInclusive.length === 0
      ? []
      : [
          '',
          table([
            ['our functions by total time (self + callees)', 'area', 'ms', '%'],
            ...summary.topInclusive.map((f) => [f.name, f.area, f.ms.toFixed(0), f.pct.toFixed(1)]),
          ]),
        ]),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true });
  for (const file of positionals) process.stdout.write(`${formatProfile(summarizeProfile(file, Number(values.top)))}\n\n`);
}
