import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AppOptions, TemplatedApp } from 'uWebSockets.js';
import type { BindingConfig, BindingTlsConfig, SiteConfig } from '../config/application-host.js';
import { ConfigError } from '../errors.js';
import type { Uws } from './native.js';

/**
 * TLS for https bindings: what HTTP.sys's SSL configuration does for IIS (`netsh http add
 * sslcert` binds a certificate to ip:port, or to hostname:port with SNI; iis-reference.md §2.4).
 *
 * Certificates come from PEM files named on the binding (`certificateFile`, `keyFile`,
 * `passphrase`), read and checked once at start-up: every problem fails start-up with a
 * ConfigError naming file, line and attribute, before any socket opens. The checks matter
 * beyond good messages: uWebSockets.js's `addServerName` crashes the process (SIGSEGV) when it
 * cannot load a certificate, so nothing reaches it that uWS itself has not loaded once.
 */

/** A certificate and its key, checked at start-up, in the form uWS reads them (file names). */
export interface ServerCertificate {
  readonly certificateFile: string;
  readonly keyFile: string;
  readonly passphrase: string | undefined;
  /** Subject of the leaf certificate, e.g. `CN=www.example.com`, for messages. */
  readonly subject: string;
  /** SHA-256 fingerprint of the leaf certificate (colon-separated hex). */
  readonly fingerprint256: string;
}

/**
 * The TLS side of one listening port.
 *
 * `defaultCertificate` answers every handshake whose server name matches no SNI binding, and
 * handshakes without a server name: it is the certificate of the bindings without the SNI bit
 * (IIS's ip:port certificate), or, when all of the port's bindings use SNI, the first binding's.
 */
export interface PortTls {
  readonly defaultCertificate: ServerCertificate;
  /** Lower-case host name → certificate, one per binding with the SNI bit of `sslFlags`. */
  readonly serverNames: ReadonlyMap<string, ServerCertificate>;
}

/** A binding of a port group, with the site it belongs to (for messages). */
export interface TlsRoute {
  readonly site: SiteConfig;
  readonly binding: BindingConfig;
}

/**
 * Reads and checks the certificates of one https port's bindings and decides which certificate
 * answers which server name. Bindings without SNI share the port's certificate, as in HTTP.sys,
 * where it belongs to ip:port, not to a binding: they must all name the same files.
 *
 * @throws ConfigError naming the file, line and attribute at fault.
 * @example
 * ```ts
 * const tls = loadPortTls(uws, 443, routes);
 * const app = createSslApp(uws, tls, (app) => app.any('/*', handler));
 * ```
 */
export function loadPortTls(uws: Uws, port: number, routes: readonly TlsRoute[]): PortTls {
  const loaded = new Map<string, ServerCertificate>();
  const load = (tls: BindingTlsConfig): ServerCertificate => {
    const key = `${tls.certificateFile}\0${tls.keyFile}\0${tls.passphrase ?? ''}`;
    let cert = loaded.get(key);
    if (!cert) loaded.set(key, (cert = loadCertificate(uws, tls)));
    return cert;
  };
  let portCertificate: { route: TlsRoute; cert: ServerCertificate } | undefined;
  const serverNames = new Map<string, ServerCertificate>();
  for (const route of routes) {
    const tls = tlsOf(route);
    const cert = load(tls);
    if (tls.sni) {
      serverNames.set(route.binding.host, cert);
      continue;
    }
    if (!portCertificate) {
      portCertificate = { route, cert };
      continue;
    }
    const first = tlsOf(portCertificate.route);
    if (first.certificateFile !== tls.certificateFile || first.keyFile !== tls.keyFile) {
      const at = tls.source.attributes.get('certificateFile')!;
      throw new ConfigError(at.file, at.line, 'certificateFile',
        `bindings without SNI on port ${port} share one certificate (HTTP.sys binds it to ip:port): ` +
        `https/${route.binding.bindingInformation} of site '${route.site.name}' names ${tls.certificateFile} and ${tls.keyFile}, ` +
        `https/${portCertificate.route.binding.bindingInformation} of site '${portCertificate.route.site.name}' names ` +
        `${first.certificateFile} and ${first.keyFile}; name the same files, or give this binding sslFlags="1" (SNI)`);
    }
  }
  const defaultCertificate = portCertificate?.cert ?? load(tlsOf(routes[0]!));
  return { defaultCertificate, serverNames };
}

/**
 * Creates the uWS SSL app of a port: the default certificate, then one server name per SNI
 * binding. `addRoutes` is called once per router: uWS gives every server name added with
 * `addServerName` a router of its own (chosen by the handshake's server name, not by the Host
 * header), and a connection whose router has no route is closed without an answer; so the same
 * routes go on the default router and, through `domain(name)`, on each server name's.
 *
 * uWS v20.30 prints two lines on stdout per server name here (`finding <name>`, `Browsed to
 * SNI: <name>`), from native code: nothing on the JavaScript side can silence them.
 */
export function createSslApp(uws: Uws, tls: PortTls, addRoutes: (app: TemplatedApp) => void): TemplatedApp {
  const app = uws.SSLApp(appOptions(tls.defaultCertificate));
  addRoutes(app);
  for (const [name, cert] of tls.serverNames) {
    app.addServerName(name, appOptions(cert));
    app.domain(name);
    addRoutes(app);
  }
  // An unknown server name (uWS `missingServerName`) is left to uWS's default: the handshake
  // goes on with the default certificate, and the Host header routes the request as on http.
  return app;
}

function tlsOf(route: TlsRoute): BindingTlsConfig {
  const tls = route.binding.tls;
  if (!tls) throw new Error(`site '${route.site.name}': https binding ${route.binding.bindingInformation} has no certificate`);
  return tls;
}

function appOptions(cert: ServerCertificate): AppOptions {
  // `passphrase` only when given: uWS would read `undefined` as the string "undefined".
  return cert.passphrase === undefined
    ? { cert_file_name: cert.certificateFile, key_file_name: cert.keyFile }
    : { cert_file_name: cert.certificateFile, key_file_name: cert.keyFile, passphrase: cert.passphrase };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PEM_PRIVATE_KEY = /-----BEGIN (?:(?:RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY-----/;

/**
 * Reads a binding's certificate and key and checks them the way a handshake would need them:
 * PEM certificate(s), a PEM private key that decrypts with the passphrase, the key belonging to
 * the leaf certificate, and finally uWS (BoringSSL) loading the pair itself.
 */
export function loadCertificate(uws: Uws, tls: BindingTlsConfig): ServerCertificate {
  const source = tls.source;
  const fail = (attribute: 'certificateFile' | 'keyFile' | 'passphrase', detail: string): never => {
    const at = source.attributes.get(attribute) ?? source;
    throw new ConfigError(at.file, at.line, attribute, detail);
  };
  const required = (attribute: 'certificateFile' | 'keyFile', path: string | undefined): string => {
    if (path !== undefined) return path;
    const store = source.attributes.has('certificateHash') || source.attributes.has('certificateStoreName');
    return fail(attribute, `required attribute is ${source.attributes.has(attribute) ? 'empty' : 'missing'} in <binding protocol="https">` +
      (store ? '; certificateHash and certificateStoreName cannot be used (there is no certificate store): ' +
        'name PEM files with certificateFile and keyFile' : ''));
  };
  const certificateFile = required('certificateFile', tls.certificateFile);
  const keyFile = required('keyFile', tls.keyFile);
  const describe = (attribute: 'certificateFile' | 'keyFile', path: string): string => {
    const raw = source.attributes.get(attribute)!.value;
    return raw === path ? `'${raw}'` : `'${raw}' (${path})`;
  };

  const certText = readPem(certificateFile, (detail) => fail('certificateFile', `${describe('certificateFile', certificateFile)} ${detail}`));
  const blocks = certText.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    fail('certificateFile', `${describe('certificateFile', certificateFile)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  const chain = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      return fail('certificateFile',
        `certificate ${i + 1} in ${describe('certificateFile', certificateFile)} is not a valid X.509 certificate: ${(err as Error).message}`);
    }
  });
  const leaf = chain[0]!;

  const keyText = keyFile === certificateFile
    ? certText
    : readPem(keyFile, (detail) => fail('keyFile', `${describe('keyFile', keyFile)} ${detail}`));
  if (!PEM_PRIVATE_KEY.test(keyText)) {
    fail('keyFile', `${describe('keyFile', keyFile)} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
  }
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(keyText);
  let key: KeyObject;
  try {
    key = createPrivateKey(tls.passphrase === undefined
      ? { key: keyText, format: 'pem' }
      : { key: keyText, format: 'pem', passphrase: tls.passphrase });
  } catch (err) {
    if (encrypted && tls.passphrase === undefined) {
      return fail('passphrase', `the key in ${describe('keyFile', keyFile)} is encrypted: give its passphrase`);
    }
    if (encrypted) return fail('passphrase', `does not decrypt the key in ${describe('keyFile', keyFile)}`);
    return fail('keyFile', `${describe('keyFile', keyFile)} holds no valid private key: ${(err as Error).message}`);
  }
  if (!leaf.checkPrivateKey(key)) {
    fail('keyFile',
      `the key in ${describe('keyFile', keyFile)} does not belong to the certificate in ` +
      `${describe('certificateFile', certificateFile)} (${oneLine(leaf.subject)})`);
  }

  const cert: ServerCertificate = {
    certificateFile,
    keyFile,
    passphrase: tls.passphrase,
    subject: oneLine(leaf.subject),
    fingerprint256: leaf.fingerprint256,
  };
  // Last, uWS itself: its TLS library (BoringSSL) may refuse what Node's OpenSSL accepted (a
  // key cipher, a curve), and a refusal inside `addServerName` would end the process. An app
  // that is never listened on costs one SSL context.
  try {
    uws.SSLApp(appOptions(cert));
  } catch {
    // The likelier culprit of an encrypted key is its cipher (BoringSSL has no Camellia, for one).
    fail(encrypted ? 'keyFile' : 'certificateFile',
      `uWebSockets.js (BoringSSL) cannot load the certificate ${describe('certificateFile', certificateFile)} ` +
      `with the key ${describe('keyFile', keyFile)}, although Node's OpenSSL reads them and they match` +
      (encrypted ? '; re-encrypt the key with AES (e.g. openssl pkcs8 -topk8 -v2 aes-256-cbc)' : ''));
  }
  return cert;
}

function readPem(path: string, fail: (detail: string) => never): string {
  try {
    return readFileSync(path, 'latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail('does not exist');
    if (code === 'EISDIR') return fail('is a directory, not a PEM file');
    if (code === 'EACCES' || code === 'EPERM') return fail('cannot be read (permission denied)');
    return fail(`cannot be read: ${(err as Error).message}`);
  }
}

function oneLine(subject: string): string {
  return subject.split('\n').filter(Boolean).join(', ');
}
