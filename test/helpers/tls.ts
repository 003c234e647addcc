/**
 * Test PKI and clients for https bindings: a throw-away CA and server certificates made at run
 * time with node-forge (no key is ever committed), `node:https` requests that trust only that
 * CA, and a small applicationHost.config builder for https bindings (which
 * `test/helpers/server.ts` cannot express).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import forge from 'node-forge';

/** Files of one server certificate made by {@link createTestPki}. */
export interface TestCertificate {
  /** PEM certificate (leaf only). */
  readonly cert: string;
  /** PEM private key, unencrypted. */
  readonly key: string;
  /** The same key, encrypted (PKCS#8, AES-256) with {@link TEST_PASSPHRASE}. */
  readonly encryptedKey: string;
  /** Leaf followed by the CA certificate (a chain file). */
  readonly chain: string;
}

export interface TestPki {
  readonly dir: string;
  /** PEM of the test CA, the only certificate the clients trust. */
  readonly caPem: string;
  /** Certificates by name (the name is also the CN and the DNS subjectAltName). */
  readonly certs: Readonly<Record<string, TestCertificate>>;
  cleanup(): void;
}

export const TEST_PASSPHRASE = 'correct horse battery staple';

function keyPair(): forge.pki.rsa.KeyPair {
  // forge uses Node's native RSA key generation when it can: a few ms per key.
  return forge.pki.rsa.generateKeyPair({ bits: 2048 });
}

let serial = 1;

function makeCertificate(
  subject: string, publicKey: forge.pki.PublicKey, issuer: forge.pki.CertificateField[], signer: forge.pki.rsa.PrivateKey,
  extensions: object[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = (serial++).toString(16).padStart(2, '0');
  cert.validity.notBefore = new Date(Date.now() - 3600_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer(issuer);
  cert.setExtensions(extensions);
  cert.sign(signer, forge.md.sha256.create());
  return cert;
}

/**
 * A CA and one server certificate per name, in a new temporary directory. Each name is the
 * certificate's CN and DNS subjectAltName; `ipNames` also get an IP subjectAltName 127.0.0.1,
 * so a client connecting to the address (which sends no server name) can verify them.
 */
export function createTestPki(names: readonly string[], ipNames: readonly string[] = []): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'w3core-tls-'));
  const caKeys = keyPair();
  const caSubject: forge.pki.CertificateField[] = [{ name: 'commonName', value: 'w3core test CA' }];
  const ca = makeCertificate('w3core test CA', caKeys.publicKey, caSubject, caKeys.privateKey, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  const caPem = forge.pki.certificateToPem(ca);
  writeFileSync(join(dir, 'ca.pem'), caPem);
  const certs: Record<string, TestCertificate> = {};
  for (const name of names) {
    const keys = keyPair();
    const altNames: object[] = [{ type: 2, value: name }];
    if (ipNames.includes(name)) altNames.push({ type: 7, ip: '127.0.0.1' });
    const cert = makeCertificate(name, keys.publicKey, caSubject, caKeys.privateKey, [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ]);
    const sub = join(dir, name);
    mkdirSync(sub);
    const certPem = forge.pki.certificateToPem(cert);
    const files: TestCertificate = {
      cert: join(sub, 'cert.pem'),
      key: join(sub, 'key.pem'),
      encryptedKey: join(sub, 'key.encrypted.pem'),
      chain: join(sub, 'chain.pem'),
    };
    writeFileSync(files.cert, certPem);
    writeFileSync(files.key, forge.pki.privateKeyToPem(keys.privateKey));
    writeFileSync(files.encryptedKey, forge.pki.encryptRsaPrivateKey(keys.privateKey, TEST_PASSPHRASE, { algorithm: 'aes256' }));
    writeFileSync(files.chain, certPem + caPem);
    certs[name] = files;
  }
  return { dir, caPem, certs, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What an https client saw: the response, and the certificate the server presented. */
export interface TlsResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** CN of the server certificate. */
  readonly peerCommonName: string;
  /** subjectAltName of the server certificate, as Node prints it (`DNS:a.example`). */
  readonly peerAltNames: string;
  readonly protocol: string | null;
}

export interface HttpsGetOptions {
  readonly port: number;
  readonly path?: string;
  /** TLS server name (SNI); undefined sends none (the client connects to 127.0.0.1). */
  readonly servername?: string;
  /** Host header; defaults to the server name, else 127.0.0.1:port. */
  readonly host?: string;
  /** PEM of the only CA the client trusts. */
  readonly ca: string;
  /** Verify the chain and the name (default true); false still reports the certificate. */
  readonly verify?: boolean;
}

/**
 * One GET over `node:https` to 127.0.0.1, trusting only `ca`, on a fresh connection (no agent).
 * The certificate is verified against the server name, or against 127.0.0.1 without one.
 */
export function httpsGet(options: HttpsGetOptions): Promise<TlsResponse> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: options.port,
      path: options.path ?? '/',
      method: 'GET',
      agent: false,
      ca: options.ca,
      // '' sends no server name; Node would otherwise take it from the Host header.
      servername: options.servername ?? '',
      rejectUnauthorized: options.verify ?? true,
      headers: { host: options.host ?? options.servername ?? `127.0.0.1:${options.port}`, connection: 'close' },
    }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate();
      const protocol = (res.socket as TLSSocket).getProtocol();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        peerCommonName: String(peer.subject?.CN ?? ''),
        peerAltNames: peer.subjectaltname ?? '',
        protocol,
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A port that was free a moment ago on 127.0.0.1 (for bindings that must share one port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** One `<binding>` of {@link httpsConfig}; attributes left out are not written. */
export interface TestBinding {
  readonly protocol?: 'http' | 'https';
  readonly bindingInformation: string;
  readonly certificateFile?: string;
  readonly keyFile?: string;
  readonly passphrase?: string;
  readonly sslFlags?: string | number;
  /** Any further attributes, written as they are. */
  readonly extra?: string;
}

export interface TestHttpsSite {
  readonly name: string;
  readonly id: number;
  /** Physical path of the root virtual directory. */
  readonly root: string;
  readonly bindings: readonly TestBinding[];
}

/**
 * applicationHost.config text for https tests: one line per `<binding>`, so an error's line
 * can be found with {@link lineOf}. `webServer` goes inside the root `<system.webServer>`.
 */
export function httpsConfig(sites: readonly TestHttpsSite[], webServer = ''): string {
  const attr = (name: string, value: string | number | undefined) =>
    value === undefined ? '' : ` ${name}="${String(value).replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"`;
  const sitesXml = sites.map((s) => [
    `    <site name="${s.name}" id="${s.id}">`,
    '      <bindings>',
    ...s.bindings.map((b) =>
      `        <binding protocol="${b.protocol ?? 'https'}"${attr('bindingInformation', b.bindingInformation)}` +
      `${attr('certificateFile', b.certificateFile)}${attr('keyFile', b.keyFile)}${attr('passphrase', b.passphrase)}` +
      `${attr('sslFlags', b.sslFlags)}${b.extra ? ` ${b.extra}` : ''}/>`),
    '      </bindings>',
    `      <application path="/"><virtualDirectory path="/" physicalPath="${s.root}"/></application>`,
    '    </site>',
  ].join('\n')).join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<configuration>',
    '  <system.applicationHost>',
    '    <applicationPools><add name="DefaultAppPool"/></applicationPools>',
    '    <sites>',
    sitesXml,
    '    </sites>',
    '  </system.applicationHost>',
    `  <system.webServer>${webServer}</system.webServer>`,
    '</configuration>',
  ].join('\n');
}

/** 1-based line of the first line of `text` containing `needle`. */
export function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`'${needle}' is not in the configuration`);
  return index + 1;
}
