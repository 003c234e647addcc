/**
 * The `security/requestFiltering` section reader: IIS attribute names and schema defaults,
 * stock entries, collection merging across levels (add/remove/clear, including the
 * filteringRules children), and ConfigError with file, line and attribute for bad values.
 */
import { describe, expect, it } from 'vitest';
import { mergeElement, nodeAt, type ConfigNode } from '../../dist/config/config-node.js';
import { defaultWebServer } from '../../dist/config/defaults.js';
import { parseXml } from '../../dist/config/xml.js';
import { readRequestFiltering, REQUEST_FILTERING } from '../../dist/wasm/request-filtering.js';
import { expectConfigError } from '../helpers/config-error.js';

function merge(...levels: (readonly [file: string, xml: string])[]): ConfigNode {
  let node: ConfigNode | undefined = mergeElement(undefined, defaultWebServer(), 'system.webServer');
  for (const [file, xml] of levels) node = mergeElement(node, parseXml(xml, file), 'system.webServer');
  return node!;
}

const read = (root: ConfigNode) => readRequestFiltering(nodeAt(root, REQUEST_FILTERING.section));
const rf = (inner: string, attrs = '') => `<system.webServer><security><requestFiltering ${attrs}>${inner}</requestFiltering></security></system.webServer>`;

describe('security/requestFiltering reader', () => {
  it('gives the schema defaults and the stock hidden segment', () => {
    const rules = read(merge());
    expect(rules).toMatchObject({
      allowDoubleEscaping: false, allowHighBitCharacters: true, unescapeQueryString: true, removeServerHeader: false,
      fileExtensions: { allowUnlisted: true, applyToWebDAV: true, entries: [] },
      verbs: { allowUnlisted: true, applyToWebDAV: true, entries: [] },
      hiddenSegments: { applyToWebDAV: true, segments: ['web.config'] },
      denyUrlSequences: [], alwaysAllowedUrls: [], denyQueryStringSequences: [], alwaysAllowedQueryStrings: [],
      requestLimits: { maxAllowedContentLength: 30000000, maxUrl: 4096, maxQueryString: 2048, headerLimits: [] },
      filteringRules: [],
    });
  });

  it('reads every child with IIS names', () => {
    const rules = read(merge(['/x/applicationHost.config', rf(`
      <fileExtensions allowUnlisted="false"><add fileExtension=".txt" allowed="true"/><add fileExtension=".cs" allowed="false"/></fileExtensions>
      <verbs allowUnlisted="false"><add verb="GET" allowed="true"/></verbs>
      <hiddenSegments><add segment="bin"/></hiddenSegments>
      <denyUrlSequences><add sequence=".."/></denyUrlSequences>
      <alwaysAllowedUrls><add url="/a..b"/></alwaysAllowedUrls>
      <denyQueryStringSequences><add sequence="&lt;script"/></denyQueryStringSequences>
      <alwaysAllowedQueryStrings><add queryString="q=1"/></alwaysAllowedQueryStrings>
      <requestLimits maxAllowedContentLength="10" maxUrl="20" maxQueryString="30">
        <headerLimits><add header="Content-Type" sizeLimit="100"/></headerLimits>
      </requestLimits>
      <filteringRules>
        <filteringRule name="sql" scanUrl="true" scanQueryString="true" scanAllRaw="true" denyUnescapedPercent="false">
          <scanHeaders><add requestHeader="User-Agent"/></scanHeaders>
          <appliesTo><add fileExtension=".asp"/></appliesTo>
          <denyStrings><add string="union"/><add string="select"/></denyStrings>
        </filteringRule>
      </filteringRules>`, 'allowDoubleEscaping="true" allowHighBitCharacters="false" unescapeQueryString="false"')]));
    expect(rules).toMatchObject({
      allowDoubleEscaping: true, allowHighBitCharacters: false, unescapeQueryString: false,
      fileExtensions: { allowUnlisted: false, entries: [{ fileExtension: '.txt', allowed: true }, { fileExtension: '.cs', allowed: false }] },
      verbs: { allowUnlisted: false, entries: [{ verb: 'GET', allowed: true }] },
      hiddenSegments: { segments: ['web.config', 'bin'] },
      denyUrlSequences: ['..'], alwaysAllowedUrls: ['/a..b'], denyQueryStringSequences: ['<script'], alwaysAllowedQueryStrings: ['q=1'],
      requestLimits: { maxAllowedContentLength: 10, maxUrl: 20, maxQueryString: 30, headerLimits: [{ header: 'Content-Type', sizeLimit: 100 }] },
      filteringRules: [{
        name: 'sql', scanUrl: true, scanQueryString: true, scanAllRaw: true, denyUnescapedPercent: false,
        scanHeaders: ['User-Agent'], appliesTo: ['.asp'], denyStrings: ['union', 'select'],
      }],
    });
  });

  it('merges the IIS 7.5 collections and filtering rules across levels with add, remove and clear', () => {
    const rules = read(merge(
      ['/x/applicationHost.config', rf(`
        <alwaysAllowedUrls><add url="/keep"/><add url="/drop"/></alwaysAllowedUrls>
        <denyQueryStringSequences><add sequence="a"/><add sequence="b"/></denyQueryStringSequences>
        <alwaysAllowedQueryStrings><add queryString="x"/></alwaysAllowedQueryStrings>
        <filteringRules>
          <filteringRule name="one" scanUrl="true"><denyStrings><add string="a"/></denyStrings></filteringRule>
          <filteringRule name="two" scanUrl="true"><denyStrings><add string="b"/></denyStrings></filteringRule>
        </filteringRules>`)],
      ['/x/site/web.config', rf(`
        <alwaysAllowedUrls><remove url="/DROP"/></alwaysAllowedUrls>
        <denyQueryStringSequences><clear/><add sequence="c"/></denyQueryStringSequences>
        <alwaysAllowedQueryStrings><remove queryString="X"/></alwaysAllowedQueryStrings>
        <filteringRules><remove name="one"/>
          <filteringRule name="three" scanQueryString="true"><scanHeaders><add requestHeader="Referer"/></scanHeaders></filteringRule>
        </filteringRules>`)],
    ));
    expect(rules.alwaysAllowedUrls).toEqual(['/keep']);
    expect(rules.denyQueryStringSequences).toEqual(['c']);
    expect(rules.alwaysAllowedQueryStrings).toEqual([]);
    expect(rules.filteringRules.map((r) => r.name)).toEqual(['two', 'three']);
    expect(rules.filteringRules[1]!.scanHeaders).toEqual(['Referer']);
  });

  it('refuses a duplicate filtering rule name and a duplicate deny string, naming the line', () => {
    expectConfigError(() => merge(['/x/web.config', rf(`<filteringRules>
      <filteringRule name="a"/>
      <filteringRule name="a"/></filteringRules>`)]), '/x/web.config', 3, 'name', /duplicate/);
    expectConfigError(() => merge(['/x/web.config', rf(`<filteringRules><filteringRule name="a"><denyStrings>
      <add string="x"/>
      <add string="x"/></denyStrings></filteringRule></filteringRules>`)]), '/x/web.config', 3, 'string', /duplicate/);
  });

  it.each([
    ['allowDoubleEscaping="maybe"', '', 'allowDoubleEscaping', /boolean/],
    ['', '<requestLimits maxUrl="-1"/>', 'maxUrl', /integer/],
    ['', '<requestLimits maxAllowedContentLength="4294967296"/>', 'maxAllowedContentLength', /integer/],
    ['', '<requestLimits><headerLimits><add header="X"/></headerLimits></requestLimits>', 'sizeLimit', /required/],
    ['', '<verbs><add verb="GET"/></verbs>', 'allowed', /required/],
    ['', '<denyUrlSequences><add sequence=""/></denyUrlSequences>', 'sequence', /empty/],
    ['', '<filteringRules><filteringRule name="r" scanUrl="yes"/></filteringRules>', 'scanUrl', /boolean/],
    ['', '<filteringRules><filteringRule name="r"><denyStrings><add string=""/></denyStrings></filteringRule></filteringRules>', 'string', /empty/],
  ])('reports %s%s as a ConfigError on attribute %s', (attrs, inner, attribute, detail) => {
    const root = merge(['/x/web.config', `<system.webServer><security>\n<requestFiltering ${attrs}>\n${inner}\n</requestFiltering></security></system.webServer>`]);
    const line = attrs ? 2 : 3;
    expectConfigError(() => read(root), '/x/web.config', line, attribute, detail);
  });
});
