/**
 * `node dist/bench/profile-summary.js <file.cpuprofile>`: where a V8 CPU profile (node --cpu-prof) spent its
 * samples, by area (our files, each npm package, node internals, GC, idle) and by function (self time), plus
 * the inclusive time of the sidecar's own functions. Enough to find a hot spot without opening DevTools.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
}

function functionKey(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function areaOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native / builtin)';
  const ours = /\/dist\/(sidecar\/.+)$/.exec(url);
  if (ours) return ours[1];
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node ').replace(/\/[^/]*$/, '');
  return url;
}

function top(map: Map<string, number>, total: number, count: number): string[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`);
}

function summarize(profile: Profile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const selfUs = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
    total += us;
  });
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    areas.set(areaOf(frame), (areas.get(areaOf(frame)) ?? 0) + us);
    functions.set(functionKey(frame), (functions.get(functionKey(frame)) ?? 0) + us);
    // each function on the sample's stack gets the sample once, however deep the recursion
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
      const key = functionKey(byId.get(cur)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const ours = new Map([...inclusive].filter(([key]) => key.includes('dist/sidecar/')));
  return [
    `sampled ${(total / 1000).toFixed(0)} ms`,
    '',
    'self time by area:',
    ...top(areas, total, 20),
    '',
    'self time by function:',
    ...top(functions, total, 25),
    '',
    'inclusive time of sidecar functions:',
    ...top(ours, total, 20),
  ].join('\n');
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node dist/bench/profile-summary.js <file.cpuprofile>\n');
  process.exitCode = 2;
} else {
  process.stdout.write(summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile) + '\n');
}
