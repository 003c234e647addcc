import type { SiteConfig } from '../config/application-host.js';
import type { ConfigLookup, Rejection } from './admission.js';

/**
 * `security/ipSecurity` and `security/dynamicIpSecurity` on the listener thread: which client
 * addresses may reach a URL, and how many requests one client may have in progress or send per
 * interval. (Being built: allows everything for now.)
 */
export class IpGuard {
  readonly #config: ConfigLookup;

  constructor(config: ConfigLookup) {
    this.#config = config;
  }

  /** The refusal for this client at this (canonical) URL, or null when it may pass. */
  check(site: SiteConfig, path: string, remoteAddress: string, headers: readonly string[]): Rejection | null {
    void this.#config; void site; void path; void remoteAddress; void headers;
    return null;
  }

  /** A request `check` let pass is over (answered, failed or aborted). */
  finished(site: SiteConfig, remoteAddress: string): void {
    void site; void remoteAddress;
  }
}
