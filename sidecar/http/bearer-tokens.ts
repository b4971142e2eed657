/**
 * The tokens of --auth bearer: read from --auth-token-file, re-read when the file changes (so tokens rotate
 * without a restart), and compared in constant time. Only SHA-256 digests are kept: they have one length, so
 * `timingSafeEqual` applies to any token, and every accepted digest is compared on every check, so the time a
 * check takes says nothing about which token came closest. A token is never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Logger } from '../log.js';
import { tokensIn } from '../options/auth-options.js';

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

export class BearerTokens {
  private digests: Buffer[];
  private readonly onChange = (now: Stats, before: Stats) => {
    if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) this.reload();
  };

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    /** How often the file's mtime is polled (fs.watchFile: also sees a file replaced by rename, as secrets are). */
    pollMs = 1000,
  ) {
    this.digests = this.read().map(digest);
    watchFile(path, { interval: pollMs, persistent: false }, this.onChange);
  }

  get count(): number {
    return this.digests.length;
  }

  accepts(token: string): boolean {
    const presented = digest(token);
    let match = false;
    for (const accepted of this.digests) match = timingSafeEqual(presented, accepted) || match;
    return match;
  }

  close(): void {
    unwatchFile(this.path, this.onChange);
  }

  private read(): string[] {
    return tokensIn(readFileSync(this.path, 'utf8'), `--auth-token-file ${this.path}`);
  }

  private reload(): void {
    let tokens: string[];
    try {
      tokens = this.read();
    } catch (err) {
      // Mid-rotation (removed before its replacement is in place) or a bad line: the last good tokens stay.
      this.log.error(
        { file: this.path, err: (err as Error).message },
        '--auth-token-file could not be re-read; the tokens read before stay accepted until it can',
      );
      return;
    }
    this.digests = tokens.map(digest);
    if (tokens.length === 0)
      this.log.warn({ file: this.path }, '--auth-token-file now holds no token: every call is refused (401)');
    else this.log.info({ file: this.path, tokens: tokens.length }, '--auth-token-file re-read');
  }
}
