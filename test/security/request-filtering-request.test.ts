/**
 * security/requestFiltering on the rest of the request, end to end: verbs (404.6), query string
 * length and sequences (404.15, 404.18) with alwaysAllowedQueryStrings and
 * unescapeQueryString, header limits (431), filtering rules (404.19: scanUrl,
 * scanQueryString, scanHeaders, scanAllRaw, appliesTo, denyUnescapedPercent) and
 * maxAllowedContentLength (413.1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, subStatusOf, webConfig, type TestServer } from '../helpers/server.js';
import { rawRequest } from '../filter/raw-request.js';

const securityConfig = (security: string): string => webConfig(`<security>${security}</security>`);

let s: TestServer;

beforeAll(async () => {
  s = await startTestServer({
    webServer: `<security><requestFiltering>
      <verbs><add verb="DELETE" allowed="false"/></verbs>
      <denyQueryStringSequences><add sequence="&lt;script"/><add sequence="drop table"/></denyQueryStringSequences>
      <alwaysAllowedQueryStrings><add queryString="q=%3Cscript%3E"/></alwaysAllowedQueryStrings>
      <requestLimits maxQueryString="60" maxAllowedContentLength="1000">
        <headerLimits><add header="X-Big" sizeLimit="10"/></headerLimits>
      </requestLimits>
      <filteringRules>
        <filteringRule name="bots" denyUnescapedPercent="false">
          <scanHeaders><add requestHeader="User-Agent"/></scanHeaders>
          <denyStrings><add string="evilbot"/></denyStrings>
        </filteringRule>
        <filteringRule name="sql" scanUrl="true" scanQueryString="true">
          <appliesTo><add fileExtension=".html"/></appliesTo>
          <denyStrings><add string="union select"/></denyStrings>
        </filteringRule>
        <filteringRule name="raw" scanAllRaw="true" denyUnescapedPercent="false">
          <denyStrings><add string="x-smuggle"/></denyStrings>
        </filteringRule>
      </filteringRules>
    </requestFiltering></security>`,
    files: {
      'a.txt': 'a',
      'index.html': 'index',
      'verbs/a.txt': 'verbs a',
      'verbs/web.config': securityConfig('<requestFiltering><verbs allowUnlisted="false"><add verb="GET" allowed="true"/></verbs></requestFiltering>'),
      'raw/a.txt': 'raw a',
      'raw/web.config': securityConfig('<requestFiltering unescapeQueryString="false"/>'),
    },
  });
});
afterAll(() => s.stop());

type Options = Parameters<typeof rawRequest>[2];

async function expectAnswer(target: string, expected: string, options: Options = {}) {
  const r = await rawRequest(s.url, target, options);
  expect(r.status, target).toBe(Number(expected.split('.')[0]));
  if (expected.includes('.')) expect(subStatusOf(r.body), target).toBe(expected);
  return r;
}

describe('request filtering of verbs', () => {
  it('answers a denied verb with 404.6', () => expectAnswer('/a.txt', '404.6', { method: 'DELETE' }));
  it('lets other verbs through to the handler (POST on a static file is 405)', () => expectAnswer('/a.txt', '405', { method: 'POST' }));
  it('answers unlisted verbs with 404.6 where allowUnlisted is false', async () => {
    await expectAnswer('/verbs/a.txt', '200');
    await expectAnswer('/verbs/a.txt', '404.6', { method: 'POST' });
    await expectAnswer('/verbs/a.txt', '404.6', { method: 'PUT' });
  });
});

describe('request filtering of the query string', () => {
  it.each(['/a.txt?x=<script>', '/a.txt?x=%3Cscript%3E', '/a.txt?x=%3cSCRIPT', '/a.txt?x=drop%20table'])(
    'answers %s (a denied sequence, raw or unescaped) with 404.18', (target) => expectAnswer(target, '404.18'));

  it('lets an always-allowed query string through', () => expectAnswer('/a.txt?q=%3Cscript%3E', '200'));

  it('does not read + as a space', () => expectAnswer('/a.txt?x=drop+table', '200'));

  it('scans only the raw query string where unescapeQueryString is false', async () => {
    await expectAnswer('/raw/a.txt?x=%3Cscript%3E', '200');
    await expectAnswer('/raw/a.txt?x=<script', '404.18');
  });

  it('answers a query string longer than maxQueryString with 404.15', async () => {
    await expectAnswer(`/a.txt?${'q'.repeat(61)}`, '404.15');
    await expectAnswer(`/a.txt?${'q'.repeat(60)}`, '200');
  });
});

describe('request filtering of headers', () => {
  it('answers a header over its sizeLimit with 431', async () => {
    await expectAnswer('/a.txt', '431.0', { headers: [['X-Big', '12345678901']] });
    await expectAnswer('/a.txt', '200', { headers: [['X-Big', '1234567890']] });
  });
});

describe('filtering rules', () => {
  it('scans a named header, ignoring case (404.19)', async () => {
    const r = await expectAnswer('/a.txt', '404.19', { headers: [['User-Agent', 'Mozilla/5.0 (EvilBot)']] });
    expect(r.body).toContain("denied by the filtering rule 'bots'");
    await expectAnswer('/a.txt', '200', { headers: [['User-Agent', 'Mozilla/5.0']] });
  });

  it('scans the URL and the unescaped query string of the extensions it applies to', async () => {
    await expectAnswer('/index.html?q=union%20select', '404.19');
    await expectAnswer('/union%20select.html', '404.19');
    await expectAnswer('/a.txt?q=union%20select', '200');
  });

  it('denies an unescaped percent where it scans (denyUnescapedPercent defaults to true)', async () => {
    await expectAnswer('/index.html?q=100%', '404.19');
    await expectAnswer('/index.html?q=100%25', '200');
    await expectAnswer('/a.txt?q=100%', '200');
  });

  it('scans every header line with scanAllRaw', async () => {
    await expectAnswer('/a.txt', '404.19', { headers: [['X-Smuggle', '1']] });
    await expectAnswer('/a.txt', '404.19', { headers: [['Referer', 'http://x/?x-smuggle']] });
  });
});

describe('maxAllowedContentLength', () => {
  it('answers an entity over the limit with 413.1', async () => {
    await expectAnswer('/a.txt', '413.1', { method: 'POST', body: 'x'.repeat(1001) });
    await expectAnswer('/a.txt', '405', { method: 'POST', body: 'x'.repeat(1000) });
  });
});
