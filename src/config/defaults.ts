import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseXml, type XmlElement } from './xml.js';

/**
 * The stock `system.webServer` of a base IIS 10 install (iis-reference.md §2.7, §3): the base
 * layer every configuration merges over, with the usual collection rules (re-adding an entry
 * that is already here is a duplicate: `<remove>` it first, or start the collection with
 * `<clear/>`).
 */
export const DEFAULTS_FILE = '<built-in defaults>';

export const DEFAULT_MODULES = [
  'DefaultDocumentModule',
  'DirectoryListingModule',
  'ProtocolSupportModule',
  'StaticFileModule',
  'AnonymousAuthenticationModule',
  'CustomErrorModule',
  'HttpRedirectionModule',
] as const;

const MIME_MAP_FILE = fileURLToPath(new URL('../../data/iis-default-mimemap.tsv', import.meta.url));

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function defaultsXml(): string {
  const mime = readFileSync(MIME_MAP_FILE, 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('\t'))
    .filter((cols) => cols.length === 2)
    .map(([ext, type]) => `<mimeMap fileExtension="${escapeXml(ext!)}" mimeType="${escapeXml(type!.trim())}"/>`)
    .join('');
  return `<system.webServer>
  <modules>${DEFAULT_MODULES.map((m) => `<add name="${m}"/>`).join('')}</modules>
  <handlers accessPolicy="Read, Script">
    <add name="TRACEVerbHandler" path="*" verb="TRACE" modules="ProtocolSupportModule" requireAccess="None"/>
    <add name="OPTIONSVerbHandler" path="*" verb="OPTIONS" modules="ProtocolSupportModule" requireAccess="None"/>
    <add name="StaticFile" path="*" verb="*" modules="StaticFileModule,DefaultDocumentModule,DirectoryListingModule" resourceType="Either" requireAccess="Read"/>
  </handlers>
  <defaultDocument enabled="true"><files>
    <add value="Default.htm"/><add value="Default.asp"/><add value="index.htm"/><add value="index.html"/><add value="iisstart.htm"/>
  </files></defaultDocument>
  <staticContent>${mime}</staticContent>
  <httpProtocol><customHeaders><add name="X-Powered-By" value="w3core"/></customHeaders></httpProtocol>
  <security><requestFiltering><fileExtensions allowUnlisted="true" applyToWebDAV="true"/><verbs allowUnlisted="true" applyToWebDAV="true"/><hiddenSegments applyToWebDAV="true"><add segment="web.config"/></hiddenSegments></requestFiltering></security>
</system.webServer>`;
}

let cached: XmlElement | undefined;

/** The parsed base layer (parsed once per thread). */
export function defaultWebServer(): XmlElement {
  cached ??= parseXml(defaultsXml(), DEFAULTS_FILE);
  return cached;
}
