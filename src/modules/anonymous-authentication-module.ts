import { readBool, readString } from '../config/attributes.js';
import type { SectionReader } from '../config/config-hierarchy.js';
import { REQUEST_NOTIFICATION } from '../pipeline/events.js';
import type { HttpContext } from '../pipeline/http-context.js';
import type { HttpModule } from '../pipeline/module.js';

/** `security/authentication/anonymousAuthentication` (iis-reference.md §3.8). */
export interface AnonymousAuthenticationSection {
  readonly enabled: boolean;
  readonly userName: string;
}

export const ANONYMOUS_AUTHENTICATION: SectionReader<AnonymousAuthenticationSection> = {
  section: 'security/authentication/anonymousAuthentication',
  read: (node) => ({ enabled: readBool(node, 'enabled', true), userName: readString(node, 'userName', 'IUSR') }),
};

/**
 * Gives unauthenticated requests the anonymous user when enabled. Without any module
 * producing a user the server core answers 401.2 after AuthenticateRequest.
 */
export const AnonymousAuthenticationModule: HttpModule = {
  notifications: REQUEST_NOTIFICATION.AUTHENTICATE_REQUEST,
  priority: 'LAST',
  onAuthenticateRequest(ctx: HttpContext) {
    if (ctx.user) return;
    const section = ctx.getSection(ANONYMOUS_AUTHENTICATION);
    // LOGON_USER is empty for anonymous requests in IIS; the configured identity is informative.
    if (section.enabled) ctx.user = { name: '', authenticationType: 'Anonymous' };
  },
};
