/**
 * The Node flags on the first line of the built `main.js` (`#!/usr/bin/env -S node …`): how operators run the
 * sidecar (the image runs main.js through that line). Whatever else starts it as a process (the tests, the local
 * mesh, the benchmark) starts it with these, so that memory and CPU are measured as operators will see them.
 */
import { readFileSync } from 'node:fs';

export function binLineFlags(main: string): string[] {
  const first = readFileSync(main, 'utf8').split('\n', 1)[0];
  const match = /^#!.*\bnode((?: -\S+)*)\s*$/.exec(first);
  // A bin line this cannot read would quietly run every test and benchmark without the operators' flags.
  if (!match) throw new Error(`${main}: cannot read the Node flags of its first line ${JSON.stringify(first)}`);
  return match[1].split(' ').filter(Boolean);
}
