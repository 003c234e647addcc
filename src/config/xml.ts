import { SaxesParser } from 'saxes';
import { ConfigError } from '../errors.js';

/** Where a configuration value came from, for error messages and relative paths. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
}

export interface XmlAttribute extends SourcePosition {
  readonly value: string;
}

/** An element of a configuration file, with the line of each attribute. */
export interface XmlElement extends SourcePosition {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, XmlAttribute>;
  readonly children: readonly XmlElement[];
}

interface MutableElement extends SourcePosition {
  name: string;
  attributes: Map<string, XmlAttribute>;
  children: MutableElement[];
}

/**
 * Parses an XML configuration file into an element tree that remembers the line of every
 * element and attribute, so that bad configuration can be reported as `file:line attribute`.
 */
export function parseXml(text: string, file: string): XmlElement {
  const parser = new SaxesParser({ position: true });
  const stack: MutableElement[] = [];
  let root: MutableElement | undefined;
  let pending = new Map<string, XmlAttribute>();
  let openLine = 1;

  parser.on('opentagstart', () => {
    openLine = parser.line;
    pending = new Map();
  });
  parser.on('attribute', (attr) => {
    if (pending.has(attr.name)) {
      throw new ConfigError(file, parser.line, attr.name, 'the attribute appears twice');
    }
    pending.set(attr.name, { value: attr.value, file, line: parser.line });
  });
  parser.on('opentag', (tag) => {
    const element: MutableElement = {
      name: tag.name,
      attributes: pending,
      children: [],
      file,
      line: openLine,
    };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else root = element;
    if (!tag.isSelfClosing) stack.push(element);
  });
  parser.on('closetag', (tag) => {
    if (!tag.isSelfClosing) stack.pop();
  });
  parser.on('error', (err) => {
    throw new ConfigError(file, parser.line, undefined, `malformed XML: ${stripPosition(err.message)}`);
  });
  try {
    parser.write(text).close();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(file, parser.line, undefined, `malformed XML: ${stripPosition(String(err))}`);
  }
  if (!root) throw new ConfigError(file, 1, undefined, 'the file has no root element');
  return root;
}

function stripPosition(message: string): string {
  // saxes prefixes "file:line:col: "; we print our own position.
  return message.replace(/^[^:]*:\d+:\d+: /, '');
}

/** The first child element with this name. */
export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name);
}
