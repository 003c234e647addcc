import type { HttpModule } from '../pipeline/module.js';
import { AnonymousAuthenticationModule } from './anonymous-authentication-module.js';
import { CustomErrorModule } from './custom-error-module.js';
import { DefaultDocumentModule } from './default-document-module.js';
import { DirectoryListingModule } from './directory-listing-module.js';
import { HttpRedirectionModule } from './http-redirection-module.js';
import { ProtocolSupportModule } from './protocol-support-module.js';
import { StaticFileModule } from './static-file-module.js';

/** The built-in ("native") modules, by their IIS names: enabled in `<modules>` by name alone. */
export const BUILT_IN_MODULES: ReadonlyMap<string, HttpModule> = new Map<string, HttpModule>([
  ['AnonymousAuthenticationModule', AnonymousAuthenticationModule],
  ['CustomErrorModule', CustomErrorModule],
  ['DefaultDocumentModule', DefaultDocumentModule],
  ['DirectoryListingModule', DirectoryListingModule],
  ['HttpRedirectionModule', HttpRedirectionModule],
  ['ProtocolSupportModule', ProtocolSupportModule],
  ['StaticFileModule', StaticFileModule],
]);

import type { SectionReader } from '../config/config-hierarchy.js';
import { HANDLERS } from '../pipeline/handler-mapping.js';
import { ANONYMOUS_AUTHENTICATION } from './anonymous-authentication-module.js';
import { HTTP_ERRORS } from './custom-error-module.js';
import { DEFAULT_DOCUMENT } from './default-document-module.js';
import { DIRECTORY_BROWSE } from './directory-listing-module.js';
import { HTTP_REDIRECT } from './http-redirection-module.js';
import { HTTP_PROTOCOL } from './protocol-support-module.js';
import { STATIC_CONTENT } from './static-file-module.js';
import { REQUEST_FILTERING } from '../wasm/request-filtering.js';
import { CACHING, SERVER_RUNTIME } from '../cache/caching-config.js';

/** Every section reader of the built-in modules, for start-up validation. */
export const SECTION_READERS: readonly SectionReader<unknown>[] = [
  HANDLERS, ANONYMOUS_AUTHENTICATION, HTTP_ERRORS, DEFAULT_DOCUMENT, DIRECTORY_BROWSE, HTTP_REDIRECT,
  HTTP_PROTOCOL, REQUEST_FILTERING, STATIC_CONTENT, CACHING, SERVER_RUNTIME,
];
