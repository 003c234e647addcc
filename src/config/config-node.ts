import { ConfigError } from '../errors.js';
import type { SourcePosition, XmlAttribute, XmlElement } from './xml.js';

/**
 * A configuration element after inheritance: attributes of deeper levels override inherited
 * ones, child elements merge recursively, and collections apply their `add`/`remove`/`clear`
 * directives in order (iis-reference.md §2.3). Nodes are frozen; a change builds new ones.
 */
export interface ConfigNode {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, XmlAttribute>;
  readonly children: ReadonlyMap<string, ConfigNode>;
  /** Collection entries in effective order (the `add` elements that survived). */
  readonly entries: readonly ConfigNode[];
  /** Where this node was last defined. */
  readonly position: SourcePosition;
}

/** How one collection behaves: directive names, key attributes, merge order. */
export interface CollectionRule {
  readonly add: string;
  readonly remove: string;
  readonly clear: string;
  readonly key: readonly string[];
  /** `false`: deeper entries go before inherited ones (handlers, defaultDocument/files, caching/profiles). */
  readonly mergeAppend: boolean;
  readonly caseInsensitiveKey: boolean;
  /** Key attributes an entry may leave out, with the schema default they then stand for. */
  readonly keyDefaults: Readonly<Record<string, string>>;
}

function rule(key: string[], options: Partial<CollectionRule> = {}): CollectionRule {
  return {
    add: 'add', remove: 'remove', clear: 'clear', key, mergeAppend: true,
    caseInsensitiveKey: false, keyDefaults: {}, ...options,
  };
}

/** Collections we know, by path below the configuration root (IIS_schema.xml keys). */
export const COLLECTION_RULES: ReadonlyMap<string, CollectionRule> = new Map([
  ['system.webServer/globalModules', rule(['name'])],
  ['system.webServer/modules', rule(['name'])],
  ['system.webServer/handlers', rule(['name'], { mergeAppend: false })],
  ['system.webServer/defaultDocument/files', rule(['value'], { mergeAppend: false, caseInsensitiveKey: true })],
  ['system.webServer/staticContent', rule(['fileExtension'], { add: 'mimeMap', caseInsensitiveKey: true })],
  ['system.webServer/httpErrors', rule(['statusCode', 'subStatusCode'], { add: 'error', keyDefaults: { subStatusCode: '-1' } })],
  ['system.webServer/httpProtocol/customHeaders', rule(['name'], { caseInsensitiveKey: true })],
  ['system.webServer/httpProtocol/redirectHeaders', rule(['name'], { caseInsensitiveKey: true })],
  ['system.webServer/httpRedirect', rule(['wildcard'])],
  ['system.webServer/caching/profiles', rule(['extension'], { mergeAppend: false })],
  ['system.webServer/security/requestFiltering/hiddenSegments', rule(['segment'], { caseInsensitiveKey: true })],
  ['system.webServer/security/requestFiltering/fileExtensions', rule(['fileExtension'], { caseInsensitiveKey: true })],
  ['system.webServer/security/requestFiltering/verbs', rule(['verb'])],
  ['system.webServer/security/requestFiltering/denyUrlSequences', rule(['sequence'])],
  ['system.webServer/security/requestFiltering/requestLimits/headerLimits', rule(['header'], { caseInsensitiveKey: true })],
  ['system.webServer/security/requestFiltering/alwaysAllowedUrls', rule(['url'], { caseInsensitiveKey: true })],
  ['system.webServer/security/requestFiltering/denyQueryStringSequences', rule(['sequence'])],
  ['system.webServer/security/requestFiltering/alwaysAllowedQueryStrings', rule(['queryString'], { caseInsensitiveKey: true })],
  ['system.webServer/security/requestFiltering/filteringRules', rule(['name'], { add: 'filteringRule' })],
  ['system.webServer/security/requestFiltering/filteringRules/filteringRule/scanHeaders', rule(['requestHeader'], { caseInsensitiveKey: true })],
  ['system.webServer/security/requestFiltering/filteringRules/filteringRule/appliesTo', rule(['fileExtension'], { caseInsensitiveKey: true })],
  ['system.webServer/security/requestFiltering/filteringRules/filteringRule/denyStrings', rule(['string'])],
  ['system.webServer/security/ipSecurity', rule(['ipAddress', 'subnetMask', 'domainName'], { keyDefaults: { subnetMask: '255.255.255.255', domainName: '' } })],
]);

const EMPTY_ATTRIBUTES: ReadonlyMap<string, XmlAttribute> = new Map();
const EMPTY_CHILDREN: ReadonlyMap<string, ConfigNode> = new Map();

/** Merges `element` (a deeper level) over `inherited`. `path` is e.g. `system.webServer/staticContent`. */
export function mergeElement(inherited: ConfigNode | undefined, element: XmlElement, path: string): ConfigNode {
  const attributes = new Map(inherited?.attributes ?? EMPTY_ATTRIBUTES);
  for (const [name, attr] of element.attributes) {
    if (name === 'lockAttributes' || name === 'lockElements' || name === 'lockItem' || name.startsWith('xmlns')) continue;
    attributes.set(name, attr);
  }
  const children = new Map(inherited?.children ?? EMPTY_CHILDREN);
  const collection = COLLECTION_RULES.get(path) ?? inferCollection(element);
  let entries: readonly ConfigNode[] = inherited?.entries ?? [];
  if (collection) {
    entries = applyDirectives(entries, element, path, collection, children);
  } else {
    for (const c of element.children) {
      children.set(c.name, mergeElement(children.get(c.name), c, `${path}/${c.name}`));
    }
  }
  return Object.freeze({
    name: element.name,
    attributes,
    children,
    entries: Object.freeze(entries),
    position: { file: element.file, line: element.line },
  });
}

/** Unknown collections (e.g. a custom section) are recognised by their `add` children. */
function inferCollection(element: XmlElement): CollectionRule | undefined {
  if (!element.children.some((c) => c.name === 'add' || c.name === 'clear' || c.name === 'remove')) return undefined;
  const first = element.children.find((c) => c.name === 'add');
  const key = first?.attributes.has('name') ? 'name' : first ? [...first.attributes.keys()][0] ?? 'name' : 'name';
  return rule([key]);
}

function applyDirectives(
  inherited: readonly ConfigNode[],
  element: XmlElement,
  path: string,
  collection: CollectionRule,
  children: Map<string, ConfigNode>,
): readonly ConfigNode[] {
  let kept = [...inherited];
  const local: ConfigNode[] = [];
  const keyOf = (node: { attributes: ReadonlyMap<string, XmlAttribute> }): string =>
    collection.key
      .map((k) => {
        const v = node.attributes.get(k)?.value ?? collection.keyDefaults[k] ?? '';
        return collection.caseInsensitiveKey ? v.toLowerCase() : v;
      })
      .join('\u0000');
  for (const c of element.children) {
    if (c.name === collection.clear) {
      kept = [];
      local.length = 0;
    } else if (c.name === collection.remove) {
      const key = keyOf(c);
      kept = kept.filter((e) => keyOf(e) !== key);
      const i = local.findIndex((e) => keyOf(e) === key);
      if (i >= 0) local.splice(i, 1);
    } else if (c.name === collection.add) {
      const missing = collection.key.find((k) => collection.keyDefaults[k] === undefined && !c.attributes.has(k));
      if (missing) throw new ConfigError(c.file, c.line, missing, `required attribute is missing in <${c.name}>`);
      const key = keyOf(c);
      if (kept.some((e) => keyOf(e) === key) || local.some((e) => keyOf(e) === key)) {
        const shown = collection.key.map((k) => c.attributes.get(k)?.value ?? '').join(', ');
        throw new ConfigError(
          c.file, c.line, collection.key[0],
          `cannot add duplicate collection entry '${shown}' to ${path}; <remove> the inherited entry first`,
        );
      }
      local.push(mergeElement(undefined, c, `${path}/${c.name}`));
    } else {
      children.set(c.name, mergeElement(children.get(c.name), c, `${path}/${c.name}`));
    }
  }
  return collection.mergeAppend ? [...kept, ...local] : [...local, ...kept];
}

/** The node at a slash path below `root`, e.g. `security/requestFiltering`. */
export function nodeAt(root: ConfigNode | undefined, path: string): ConfigNode | undefined {
  let node = root;
  for (const part of path.split('/')) {
    if (!node) return undefined;
    node = node.children.get(part);
  }
  return node;
}
