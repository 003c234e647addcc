/**
 * security/requestFiltering on the URL, end to end: the listener canonicalises in Wasm and
 * refuses with IIS's substatus before a request reaches a pool — hidden segments (404.8), file
 * extensions (404.7), URL sequences (404.5) and alwaysAllowedUrls, double escapes (404.11),
 * high-bit characters (404.12), maxUrl (404.14) — with rules from applicationHost.config, a
 * folder's web.config and a `<location>`. Raw requests over node:net (a client library would
 * normalise the paths).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, webConfig, type TestServer } from '../helpers/server.js';
import { rawRequest } from '../filter/raw-request.js';

const securityConfig = (security: string): string => webConfig(`<security>${security}</security>`);

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({
    webServer: `<security><requestFiltering>
      <fileExtensions><add fileExtension=".cs" allowed="false"/></fileExtensions>
      <hiddenSegments><add segment="bin"/></hiddenSegments>
      <denyUrlSequences><add sequence="~"/></denyUrlSequences>
      <alwaysAllowedUrls><add url="/allowed~file.txt"/></alwaysAllowedUrls>
      <requestLimits maxUrl="100"/>
    </requestFiltering></security>`,
    rootXml: `<location path="Test/loc"><system.webServer><security><requestFiltering>
      <denyUrlSequences><add sequence="forbidden"/></denyUrlSequences>
    </requestFiltering></security></system.webServer></location>`,
    files: {
      'a.txt': 'a',
      'file.cs': 'source',
      'bin/x.txt': 'binary',
      'allowed~file.txt': 'allowed',
      'é.txt': 'accent',
      'forbidden.txt': 'fine here',
      'loc/forbidden.txt': 'refused here',
      'strict/a.txt': 'strict a',
      'strict/x.png': 'png',
      'strict/é.txt': 'strict accent',
      'strict/web.config': securityConfig(`<requestFiltering allowHighBitCharacters="false">
        <fileExtensions allowUnlisted="false"><add fileExtension=".txt" allowed="true"/></fileExtensions>
      </requestFiltering>`),
      'double/%41.txt': 'double',
      'double/web.config': securityConfig('<requestFiltering allowDoubleEscaping="true"/>'),
    },
  });
});
afterAll(() => s.stop());

async function expectAnswer(target: string, expected: string, body?: string) {
  const r = await rawRequest(s.url, target);
  const [status] = expected.split('.');
  expect(r.status, target).toBe(Number(status));
  if (expected.includes('.')) expect(subStatusOf(r.body), target).toBe(expected);
  if (body !== undefined) expect(r.body, target).toBe(body);
}

describe('request filtering of the URL', () => {
  it('serves an ordinary file (control)', () => expectAnswer('/a.txt', '200', 'a'));

  it.each(['/bin/x.txt', '/BIN/x.txt', '/a/Bin/', '/%62in/x.txt', '/bin./x.txt', '/web.config', '/Web.Config::$DATA'])(
    'answers %s (a hidden segment) with 404.8', (target) => expectAnswer(target, '404.8'));

  it('judges the canonical path: /bin/../a.txt is /a.txt', () => expectAnswer('/bin/../a.txt', '200', 'a'));

  it.each(['/file.cs', '/FILE.CS', '/file.cs.', '/dir/x.Cs'])('answers %s (a denied extension) with 404.7', (target) => expectAnswer(target, '404.7'));

  it('answers an unlisted extension with 404.7 where allowUnlisted is false, and serves a listed one', async () => {
    await expectAnswer('/strict/x.png', '404.7');
    await expectAnswer('/strict/', '404.7'); // a directory has the extension "."
    await expectAnswer('/strict/a.txt', '200', 'strict a');
  });

  it.each(['/a~b.txt', '/%7eroot/', '/x/~'])('answers %s (a denied URL sequence) with 404.5', (target) => expectAnswer(target, '404.5'));

  it('lets alwaysAllowedUrls override denyUrlSequences', () => expectAnswer('/allowed~file.txt', '200', 'allowed'));

  it('takes rules from a <location> for the URLs under it only', async () => {
    await expectAnswer('/loc/forbidden.txt', '404.5');
    await expectAnswer('/forbidden.txt', '200', 'fine here');
  });

  it('answers a double escape with 404.11, unless the folder allows double escaping', async () => {
    await expectAnswer('/%2541.txt', '404.11');
    await expectAnswer('/x/%252e%252e/a.txt', '404.11');
    await expectAnswer('/double/%2541.txt', '200', 'double');
  });

  it('answers high-bit characters with 404.12 where allowHighBitCharacters is false, raw or escaped', async () => {
    await expectAnswer('/strict/%C3%A9.txt', '404.12');
    await expectAnswer('/strict/\u00c3\u00a9.txt', '404.12'); // the UTF-8 bytes of é, unescaped
    await expectAnswer('/%C3%A9.txt', '200', 'accent');
    await expectAnswer('/\u00c3\u00a9.txt', '200', 'accent');
  });

  it('answers a path longer than maxUrl with 404.14', async () => {
    await expectAnswer(`/${'a'.repeat(100)}`, '404.14');
    await expectAnswer(`/${'a'.repeat(99)}`, '404.0');
  });

  it.each(['/../a.txt', '/%2e%2e/a.txt', '/a/..%5c..%5ca.txt', '/a%00.txt', '/%c0%ae%c0%ae/a.txt', '/%zz'])(
    'answers %s (cannot be canonicalised) with 400', (target) => expectAnswer(target, '400.0'));

  it('shows local clients which rule refused', async () => {
    const r = await rawRequest(s.url, '/bin/x.txt');
    expect(r.body).toContain("the URL contains the hidden segment 'bin'");
  });
});
