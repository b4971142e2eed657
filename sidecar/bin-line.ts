/**
 * The Node flags on the first line of the built `main.js` (`#!/usr/bin/env -S node …`): how operators run the
 * sidecar (the image runs main.js through that line). Whatever else starts it as a process (the tests, the local
 * mesh, the benchmark) starts it with these, so that memory and CPU are measured as operators will see them.
 */
import { readFileSync } from 'node:fs';

export function binLineFlags(main: string): string[] {
  const first = readFileSync(main, 'utf8').split('\n', 1)[0];
  return (/^#!.*\bnode((?: -\S+)*)\s*$/.exec(first)?.[1] ?? '').split(' ').filter(Boolean);
}
