// Target `w3core-filter-reject`: GET /deny/x.txt, refused on the listener by the request
// filter (denyUrlSequences '/deny/' in fixtures/applicationHost.config → 404.5).
import { startW3core } from './w3core-common.js';

await startW3core({ modules: '' });
