/**
 * The little of oidc-provider (which ships no types) that the JWT tests use: a provider built from a
 * configuration, served through its node:http request listener.
 */
declare module 'oidc-provider' {
  import type { RequestListener } from 'node:http';

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): RequestListener;
  }
}
