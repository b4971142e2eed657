/**
 * The option part of --help, from the same table the parser reads: each section, each flag with its
 * placeholder, help, default and the environment names it can come from.
 */
import type { Options } from './option.js';
import { envName } from './parse.js';

export type Section = [title: string, options: Options];

export function optionHelp(sections: Section[], { withEnv }: { withEnv: boolean }): string[] {
  const lines: string[] = [];
  for (const [title, options] of sections) {
    lines.push(`${title}:`);
    for (const o of Object.values(options)) {
      // A switch that is on by default is turned off with --no-<flag>, so that form is the one to show.
      const flag = o.takes === 'switch' && o.default === 'true' ? `--[no-]${o.flag}` : `--${o.flag}`;
      const left = `  ${o.short ? `-${o.short}, ` : ''}${flag}${o.arg ? ` <${o.arg}>` : ''}`;
      const def = o.default !== undefined && o.takes !== 'switch' ? ` [default:${NBSP}${o.default}]` : '';
      const env = withEnv ? ` (env${NBSP}${envName(o.flag)}${o.env ? `${NBSP}or${NBSP}${o.env}` : ''})` : '';
      lines.push(...wrap(left.padEnd(COLUMN), `${o.help}${def}${env}`));
    }
  }
  return lines;
}

const COLUMN = 34;
/** Joins the words of a default or an environment note, so that wrapping keeps them on one line. */
const NBSP = '\u00a0';
const WIDTH = 120;

/** The help text beside the flag, wrapped at word boundaries and indented under its first line. */
function wrap(left: string, text: string): string[] {
  const lines: string[] = [];
  let line = left.length > COLUMN ? `${left}\n${' '.repeat(COLUMN)}` : left;
  for (const word of text.split(' ')) {
    const current = line.slice(line.lastIndexOf('\n') + 1);
    if (current.length + 1 + word.length > WIDTH && current.trim() !== '') {
      lines.push(line);
      line = ' '.repeat(COLUMN);
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines.flatMap((l) => l.replaceAll(NBSP, ' ').split('\n'));
}

/** The same sections as the README's configuration table (a test keeps the README equal to it). */
export function optionTable(sections: Section[]): string[] {
  const lines = ['| group | flag | environment | default | meaning |', '|---|---|---|---|---|'];
  for (const [title, options] of sections) {
    for (const o of Object.values(options)) {
      const flag = o.takes === 'switch' && o.default === 'true' ? `--[no-]${o.flag}` : `--${o.flag}`;
      const env = `\`${envName(o.flag)}\`${o.env ? ` / \`${o.env}\`` : ''}`;
      const def = o.default !== undefined && o.takes !== 'switch' ? `\`${o.default}\`` : '';
      lines.push(
        `| ${title} | \`${flag}${o.arg ? ` <${o.arg}>` : ''}\` | ${env} | ${def} | ${o.help.replaceAll('|', '\\|')} |`,
      );
    }
  }
  return lines;
}
