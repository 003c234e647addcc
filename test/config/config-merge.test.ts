import { describe, expect, it } from 'vitest';
import { mergeElement, nodeAt, type ConfigNode } from '../../dist/config/config-node.js';
import { parseXml } from '../../dist/config/xml.js';
import { ConfigError } from '../../dist/errors.js';
import { expectConfigError } from '../helpers/config-error.js';

/**
 * Inheritance of configuration elements (iis-reference.md §2.3): attributes of deeper levels
 * override, collections apply add/remove/clear in order, `mergeAppend="false"` collections
 * prepend, duplicate keys are errors naming file and line.
 */

const PARENT = '/site/applicationHost.config';
const CHILD = '/site/sub/web.config';

/** Merges the `system.webServer` texts in order, each as its own file. */
function merge(...levels: (readonly [file: string, xml: string])[]): ConfigNode {
  let node: ConfigNode | undefined;
  for (const [file, xml] of levels) node = mergeElement(node, parseXml(xml, file), 'system.webServer');
  return node!;
}

const ws = (inner: string) => `<system.webServer>${inner}</system.webServer>`;
const values = (node: ConfigNode | undefined, attr: string) => node?.entries.map((e) => e.attributes.get(attr)?.value);

describe('attributes', () => {
  it('a deeper level overrides an attribute and inherits the others', () => {
    const root = merge(
      [PARENT, ws('<directoryBrowse enabled="false" showFlags="Date"/>')],
      [CHILD, ws('\n<directoryBrowse enabled="true"/>')],
    );
    const db = nodeAt(root, 'directoryBrowse')!;
    expect(db.attributes.get('enabled')).toEqual({ value: 'true', file: CHILD, line: 2 });
    expect(db.attributes.get('showFlags')).toEqual({ value: 'Date', file: PARENT, line: 1 });
    expect(db.position).toEqual({ file: CHILD, line: 2 });
  });

  it('merges nested elements recursively and keeps untouched siblings', () => {
    const root = merge(
      [PARENT, ws('<security><requestFiltering allowDoubleEscaping="false"><requestLimits maxUrl="100"/></requestFiltering></security><directoryBrowse enabled="true"/>')],
      [CHILD, ws('<security><requestFiltering><requestLimits maxQueryString="50"/></requestFiltering></security>')],
    );
    const limits = nodeAt(root, 'security/requestFiltering/requestLimits')!;
    expect(limits.attributes.get('maxUrl')?.value).toBe('100');
    expect(limits.attributes.get('maxQueryString')?.value).toBe('50');
    expect(nodeAt(root, 'security/requestFiltering')!.attributes.get('allowDoubleEscaping')?.value).toBe('false');
    expect(nodeAt(root, 'directoryBrowse')!.attributes.get('enabled')?.value).toBe('true');
  });

  it('ignores lock attributes and xmlns', () => {
    const root = merge([PARENT, ws('<directoryBrowse enabled="true" lockAttributes="enabled" xmlns:x="urn:x"/>')]);
    expect([...nodeAt(root, 'directoryBrowse')!.attributes.keys()]).toEqual(['enabled']);
  });

  it('does not change the inherited node (frozen snapshots)', () => {
    const parent = merge([PARENT, ws('<directoryBrowse enabled="false"/><httpProtocol><customHeaders><add name="A" value="1"/></customHeaders></httpProtocol>')]);
    const child = mergeElement(parent, parseXml(ws('<directoryBrowse enabled="true"/><httpProtocol><customHeaders><clear/></customHeaders></httpProtocol>'), CHILD), 'system.webServer');
    expect(nodeAt(parent, 'directoryBrowse')!.attributes.get('enabled')?.value).toBe('false');
    expect(values(nodeAt(parent, 'httpProtocol/customHeaders'), 'name')).toEqual(['A']);
    expect(nodeAt(child, 'directoryBrowse')!.attributes.get('enabled')?.value).toBe('true');
    expect(values(nodeAt(child, 'httpProtocol/customHeaders'), 'name')).toEqual([]);
    expect(Object.isFrozen(child)).toBe(true);
    expect(Object.isFrozen(nodeAt(child, 'httpProtocol/customHeaders')!.entries)).toBe(true);
  });
});

describe('collections: add, remove, clear', () => {
  const headers = (...levels: string[]) =>
    nodeAt(
      merge(...levels.map((l, i) => [i === 0 ? PARENT : CHILD, ws(`<httpProtocol><customHeaders>${l}</customHeaders></httpProtocol>`)] as const)),
      'httpProtocol/customHeaders',
    );

  it('appends deeper entries after inherited ones', () => {
    expect(values(headers('<add name="A" value="1"/><add name="B" value="2"/>', '<add name="C" value="3"/>'), 'name'))
      .toEqual(['A', 'B', 'C']);
  });

  it('remove drops an inherited entry (key case-insensitive for customHeaders)', () => {
    const node = headers('<add name="A" value="1"/><add name="B" value="2"/>', '<remove name="a"/><add name="C" value="3"/>');
    expect(values(node, 'name')).toEqual(['B', 'C']);
  });

  it('remove drops an entry added earlier at the same level', () => {
    expect(values(headers('<add name="A" value="1"/><add name="B" value="2"/><remove name="A"/>'), 'name')).toEqual(['B']);
  });

  it('clear drops inherited and earlier entries; later ones stay', () => {
    const node = headers('<add name="A" value="1"/>', '<add name="B" value="2"/><clear/><add name="C" value="3"/>');
    expect(values(node, 'name')).toEqual(['C']);
  });

  it('removing an entry that does not exist is not an error', () => {
    expect(values(headers('<add name="A" value="1"/>', '<remove name="Nope"/>'), 'name')).toEqual(['A']);
  });

  it('renamed add directive: staticContent/mimeMap, case-insensitive key', () => {
    const root = merge(
      [PARENT, ws('<staticContent><mimeMap fileExtension=".a" mimeType="x/a"/><mimeMap fileExtension=".b" mimeType="x/b"/></staticContent>')],
      [CHILD, ws('<staticContent><remove fileExtension=".A"/><mimeMap fileExtension=".c" mimeType="x/c"/><clientCache cacheControlMode="UseMaxAge"/></staticContent>')],
    );
    const sc = nodeAt(root, 'staticContent')!;
    expect(values(sc, 'fileExtension')).toEqual(['.b', '.c']);
    // Non-directive children of a collection element still merge as elements.
    expect(nodeAt(root, 'staticContent/clientCache')!.attributes.get('cacheControlMode')?.value).toBe('UseMaxAge');
  });

  it('a collection entry remembers its file and line', () => {
    const node = headers('<add name="A" value="1"/>', '\n\n<add name="B" value="2"/>');
    expect(node!.entries.map((e) => e.position)).toEqual([{ file: PARENT, line: 1 }, { file: CHILD, line: 3 }]);
  });

  it('an add without its key attribute names the key', () => {
    expectConfigError(
      () => merge([PARENT, ws('<httpProtocol><customHeaders>\n<add value="1"/></customHeaders></httpProtocol>')]),
      PARENT, 2, 'name', /required attribute is missing/,
    );
  });
});

describe('mergeAppend="false" collections prepend deeper entries', () => {
  it('defaultDocument/files', () => {
    const root = merge(
      [PARENT, ws('<defaultDocument><files><add value="a.htm"/><add value="b.htm"/></files></defaultDocument>')],
      [CHILD, ws('<defaultDocument><files><add value="c.htm"/><add value="d.htm"/></files></defaultDocument>')],
    );
    expect(values(nodeAt(root, 'defaultDocument/files'), 'value')).toEqual(['c.htm', 'd.htm', 'a.htm', 'b.htm']);
  });

  it('handlers', () => {
    const root = merge(
      [PARENT, ws('<handlers><add name="StaticFile" path="*" verb="*" modules="StaticFileModule"/></handlers>')],
      [CHILD, ws('<handlers><add name="Mine" path="*.x" verb="GET" modules="M"/></handlers>')],
    );
    expect(values(nodeAt(root, 'handlers'), 'name')).toEqual(['Mine', 'StaticFile']);
  });

  it('caching/profiles', () => {
    const root = merge(
      [PARENT, ws('<caching><profiles><add extension=".a"/></profiles></caching>')],
      [CHILD, ws('<caching><profiles><add extension=".b"/></profiles></caching>')],
    );
    expect(values(nodeAt(root, 'caching/profiles'), 'extension')).toEqual(['.b', '.a']);
  });

  it('while modules (mergeAppend default) append', () => {
    const root = merge(
      [PARENT, ws('<modules><add name="A"/></modules>')],
      [CHILD, ws('<modules><add name="B"/></modules>')],
    );
    expect(values(nodeAt(root, 'modules'), 'name')).toEqual(['A', 'B']);
  });

  it('defaultDocument/files keys are case-insensitive', () => {
    expectConfigError(
      () => merge(
        [PARENT, ws('<defaultDocument><files><add value="Default.htm"/></files></defaultDocument>')],
        [CHILD, ws('<defaultDocument><files>\n<add value="default.HTM"/></files></defaultDocument>')],
      ),
      CHILD, 2, 'value', /duplicate/,
    );
  });
});

describe('duplicates', () => {
  it('adding an inherited key again is a ConfigError at the line of the duplicate', () => {
    expectConfigError(
      () => merge(
        [PARENT, ws('<staticContent><mimeMap fileExtension=".html" mimeType="text/html"/></staticContent>')],
        [CHILD, ws('<staticContent>\n\n  <mimeMap fileExtension=".HTML" mimeType="text/plain"/>\n</staticContent>')],
      ),
      CHILD, 3, 'fileExtension', /cannot add duplicate collection entry '\.HTML'/,
    );
  });

  it('adding the same key twice at one level is a ConfigError', () => {
    expectConfigError(
      () => merge([PARENT, ws('<modules>\n<add name="A"/>\n<add name="A" type="./a.ts"/>\n</modules>')]),
      PARENT, 3, 'name', /duplicate/,
    );
  });

  it('keys are case-sensitive where the schema says so (modules)', () => {
    const root = merge([PARENT, ws('<modules><add name="A"/><add name="a"/></modules>')]);
    expect(values(nodeAt(root, 'modules'), 'name')).toEqual(['A', 'a']);
  });

  it('remove then re-add is allowed, with the new values', () => {
    const root = merge(
      [PARENT, ws('<httpProtocol><customHeaders><add name="A" value="old"/><add name="B" value="b"/></customHeaders></httpProtocol>')],
      [CHILD, ws('<httpProtocol><customHeaders><remove name="A"/><add name="A" value="new"/></customHeaders></httpProtocol>')],
    );
    const entries = nodeAt(root, 'httpProtocol/customHeaders')!.entries;
    expect(entries.map((e) => [e.attributes.get('name')?.value, e.attributes.get('value')?.value]))
      .toEqual([['B', 'b'], ['A', 'new']]);
  });

  it('clear then re-add is allowed', () => {
    const root = merge(
      [PARENT, ws('<defaultDocument><files><add value="a.htm"/><add value="b.htm"/></files></defaultDocument>')],
      [CHILD, ws('<defaultDocument><files><clear/><add value="b.htm"/></files></defaultDocument>')],
    );
    expect(values(nodeAt(root, 'defaultDocument/files'), 'value')).toEqual(['b.htm']);
  });
});

describe('httpErrors: combined key statusCode + subStatusCode', () => {
  const errors = (...levels: string[]) =>
    nodeAt(
      merge(...levels.map((l, i) => [i === 0 ? PARENT : CHILD, ws(`<httpErrors errorMode="Custom">${l}</httpErrors>`)] as const)),
      'httpErrors',
    );
  const keys = (node: ConfigNode | undefined) =>
    node!.entries.map((e) => `${e.attributes.get('statusCode')?.value}.${e.attributes.get('subStatusCode')?.value ?? '-1'}`);

  it('the same statusCode with different subStatusCode are different entries', () => {
    const node = errors('<error statusCode="404" path="a.html"/><error statusCode="404" subStatusCode="2" path="b.html"/>',
      '<error statusCode="404" subStatusCode="3" path="c.html"/>');
    expect(keys(node)).toEqual(['404.-1', '404.2', '404.3']);
    expect(node!.attributes.get('errorMode')?.value).toBe('Custom');
  });

  it('a missing subStatusCode is -1: subStatusCode="-1" duplicates it', () => {
    expectConfigError(
      () => errors('<error statusCode="404" path="a.html"/>', '<error statusCode="404" subStatusCode="-1" path="b.html"/>'),
      CHILD, 1, 'statusCode', /duplicate collection entry '404, -1'/,
    );
  });

  it('the same pair twice is a duplicate', () => {
    expectConfigError(
      () => errors('<error statusCode="500" subStatusCode="19" path="a.html"/>', '<error statusCode="500" subStatusCode="19" path="b.html"/>'),
      CHILD, 1, 'statusCode', /duplicate/,
    );
  });

  it('remove matches both parts of the key', () => {
    const node = errors(
      '<error statusCode="404" path="a.html"/><error statusCode="404" subStatusCode="2" path="b.html"/><error statusCode="500" path="c.html"/>',
      '<remove statusCode="404"/><remove statusCode="500" subStatusCode="13"/><error statusCode="404" path="new.html"/>',
    );
    expect(keys(node)).toEqual(['404.2', '500.-1', '404.-1']);
    expect(node!.entries[2]!.attributes.get('path')?.value).toBe('new.html');
  });

  it('statusCode is required, subStatusCode is not', () => {
    expectConfigError(() => errors('<error subStatusCode="2" path="x.html"/>'), PARENT, 1, 'statusCode', /required/);
  });
});

describe('unknown collections and nodeAt', () => {
  it('recognises a custom section as a collection by its add children, keyed by name', () => {
    const root = merge(
      [PARENT, ws('<mySection><add name="one" v="1"/></mySection>')],
      [CHILD, ws('<mySection><add name="two" v="2"/><remove name="one"/></mySection>')],
    );
    expect(values(nodeAt(root, 'mySection'), 'name')).toEqual(['two']);
    expect(() => merge([PARENT, ws('<mySection><add name="x"/>\n<add name="x"/></mySection>')])).toThrow(ConfigError);
  });

  it('nodeAt walks slash paths and returns undefined for missing parts', () => {
    const root = merge([PARENT, ws('<security><requestFiltering><hiddenSegments><add segment="bin"/></hiddenSegments></requestFiltering></security>')]);
    expect(values(nodeAt(root, 'security/requestFiltering/hiddenSegments'), 'segment')).toEqual(['bin']);
    expect(nodeAt(root, 'security/nothing/hiddenSegments')).toBeUndefined();
    expect(nodeAt(root, 'nothing')).toBeUndefined();
    expect(nodeAt(undefined, 'security')).toBeUndefined();
  });
});
