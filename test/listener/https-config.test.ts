/**
 * Start-up errors of https bindings: each names the file, line and attribute at fault, before
 * any socket opens. Certificates and keys come from a test CA made for this run.
 */
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../dist/index.js';
import { checkConfigError, startupError } from '../helpers/config-error.js';
import {
  TEST_PASSPHRASE, createTestPki, freePort, httpsConfig, httpsGet, lineOf, type TestBinding, type TestPki,
} from '../helpers/tls.js';

let pki: TestPki;
let root: string;
let file: string;

beforeAll(() => {
  pki = createTestPki(['www.example', 'other.example']);
  root = join(pki.dir, 'www');
  mkdirSync(root);
  writeFileSync(join(root, 'site.txt'), 'www');
  file = join(pki.dir, 'applicationHost.config');
});

afterAll(() => pki.cleanup());

const www = () => pki.certs['www.example']!;
const other = () => pki.certs['other.example']!;

/** The error start-up fails with for this configuration text. */
const startError = (text: string): Promise<Error> => startupError(file, text);

/** One site with these bindings; the error must point at the line holding `needle`. */
async function expectBindingError(
  bindings: readonly TestBinding[], needle: string, attribute: string, detail: RegExp,
): Promise<void> {
  const text = httpsConfig([{ name: 'S', id: 1, root, bindings }]);
  checkConfigError(await startError(text), file, lineOf(text, needle), attribute, detail);
}

const good = (over: Partial<TestBinding> = {}): TestBinding => ({
  bindingInformation: '127.0.0.1:0:', certificateFile: www().cert, keyFile: www().key, ...over,
});

describe('https binding attributes', () => {
  it('requires certificateFile', async () => {
    await expectBindingError([good({ certificateFile: undefined })], '<binding ', 'certificateFile', /required attribute is missing/);
  });

  it('requires keyFile', async () => {
    await expectBindingError([good({ keyFile: undefined })], '<binding ', 'keyFile', /required attribute is missing/);
  });

  it('explains that certificateHash cannot replace the files (no certificate store)', async () => {
    await expectBindingError(
      [good({ certificateFile: undefined, keyFile: undefined, extra: 'certificateHash="0a1b2c" certificateStoreName="My"' })],
      '<binding ', 'certificateFile', /no certificate store/);
  });

  it('refuses SNI (sslFlags 1) on a binding without a host name', async () => {
    await expectBindingError([good({ sslFlags: 1 })], '<binding ', 'sslFlags', /SNI \(1\) needs a host name/);
  });

  it('refuses the central certificate store (sslFlags 2)', async () => {
    await expectBindingError([good({ sslFlags: 2 })], '<binding ', 'sslFlags', /central certificate store/);
  });

  it('refuses to disable TLS 1.3 (sslFlags 32), which it cannot honour', async () => {
    await expectBindingError([good({ sslFlags: 33, bindingInformation: '127.0.0.1:0:www.example' })], '<binding ', 'sslFlags', /TLS 1\.3/);
  });

  it('refuses bits that are not sslFlags', async () => {
    await expectBindingError([good({ sslFlags: 128 })], '<binding ', 'sslFlags', /not sslFlags/);
    await expectBindingError([good({ sslFlags: 'SNI' })], '<binding ', 'sslFlags', /not an integer/);
  });

  it('refuses a certificate on an http binding', async () => {
    await expectBindingError([good({ protocol: 'http' })], '<binding ', 'certificateFile', /https bindings only/);
    await expectBindingError([{ protocol: 'http', bindingInformation: '127.0.0.1:0:a.example', sslFlags: 1 }],
      '<binding ', 'sslFlags', /https bindings only/);
  });
});

describe('https certificate and key files', () => {
  it('a certificate file that does not exist', async () => {
    await expectBindingError([good({ certificateFile: join(pki.dir, 'missing.pem') })], '<binding ', 'certificateFile', /missing\.pem' does not exist/);
  });

  it('a key file that does not exist, named as written and as resolved', async () => {
    await expectBindingError([good({ keyFile: 'keys/missing.pem' })], '<binding ', 'keyFile',
      new RegExp(`'keys/missing\\.pem' \\(${join(pki.dir, 'keys/missing.pem').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) does not exist`));
  });

  it('a directory instead of a file', async () => {
    await expectBindingError([good({ certificateFile: pki.dir })], '<binding ', 'certificateFile', /is a directory/);
  });

  it('a certificate file without a PEM certificate', async () => {
    const junk = join(pki.dir, 'junk.txt');
    writeFileSync(junk, 'not a certificate\n');
    await expectBindingError([good({ certificateFile: junk })], '<binding ', 'certificateFile', /holds no PEM certificate/);
  });

  it('a PEM certificate block that is not a certificate', async () => {
    const broken = join(pki.dir, 'broken.pem');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    await expectBindingError([good({ certificateFile: broken })], '<binding ', 'certificateFile', /not a valid X\.509 certificate/);
  });

  it('a key file without a private key', async () => {
    await expectBindingError([good({ keyFile: www().cert })], '<binding ', 'keyFile', /holds no PEM private key/);
  });

  it('a PEM private key block that is not a key', async () => {
    const broken = join(pki.dir, 'broken-key.pem');
    writeFileSync(broken, '-----BEGIN PRIVATE KEY-----\nTm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    await expectBindingError([good({ keyFile: broken })], '<binding ', 'keyFile', /holds no valid private key/);
  });

  it('a key that does not belong to the certificate', async () => {
    await expectBindingError([good({ keyFile: other().key })], '<binding ', 'keyFile', /does not belong to the certificate.*CN=www\.example/);
  });

  it('an encrypted key without a passphrase', async () => {
    await expectBindingError([good({ keyFile: www().encryptedKey })], '<binding ', 'passphrase', /is encrypted: give its passphrase/);
  });

  it('a passphrase that does not decrypt the key', async () => {
    await expectBindingError([good({ keyFile: www().encryptedKey, passphrase: 'wrong' })], '<binding ', 'passphrase', /does not decrypt the key/);
  });

  it('a key that Node reads but uWebSockets.js (BoringSSL) cannot (Camellia-encrypted)', async () => {
    const camellia = join(pki.dir, 'camellia-key.pem');
    writeFileSync(camellia, createPrivateKey(readFileSync(www().key)).export({
      type: 'pkcs8', format: 'pem', cipher: 'camellia-256-cbc', passphrase: TEST_PASSPHRASE,
    }));
    await expectBindingError([good({ keyFile: camellia, passphrase: TEST_PASSPHRASE })], '<binding ', 'keyFile',
      /BoringSSL\) cannot load .*re-encrypt the key with AES/);
  });

  it('names the binding at fault among several sites', async () => {
    const text = httpsConfig([
      { name: 'Good', id: 1, root, bindings: [good()] },
      { name: 'Bad', id: 2, root, bindings: [good({ bindingInformation: '127.0.0.1:0:bad.example', keyFile: other().key })] },
    ]);
    checkConfigError(await startError(text), file, lineOf(text, 'bad.example'), 'keyFile', /does not belong/);
  });
});

describe('https ports', () => {
  it('refuses http and https bindings on one port', async () => {
    const port = await freePort();
    const text = httpsConfig([
      { name: 'Plain', id: 1, root, bindings: [{ protocol: 'http', bindingInformation: `127.0.0.1:${port}:plain.example` }] },
      { name: 'Secure', id: 2, root, bindings: [good({ bindingInformation: `127.0.0.1:${port}:www.example` })] },
    ]);
    const err = await startError(text);
    expect(err.message).toMatch(
      new RegExp(`site 'Secure': binding https/127\\.0\\.0\\.1:${port}:www\\.example shares port ${port} with binding ` +
        `http/127\\.0\\.0\\.1:${port}:plain\\.example of site 'Plain'; a port serves either http or https`));
  });

  it('refuses two bindings without SNI on one port that name different certificates', async () => {
    const port = await freePort();
    const text = httpsConfig([
      { name: 'A', id: 1, root, bindings: [good({ bindingInformation: `127.0.0.1:${port}:` })] },
      {
        name: 'B', id: 2, root,
        bindings: [{ bindingInformation: `127.0.0.1:${port}:other.example`, certificateFile: other().cert, keyFile: other().key }],
      },
    ]);
    checkConfigError(await startError(text), file, lineOf(text, 'other.example'), 'certificateFile',
      /bindings without SNI on port \d+ share one certificate.*sslFlags="1"/);
  });

  it('lets bindings without SNI on one port share the same certificate files', async () => {
    const port = await freePort();
    writeFileSync(file, httpsConfig([
      { name: 'A', id: 1, root, bindings: [good({ bindingInformation: `127.0.0.1:${port}:` })] },
      { name: 'B', id: 2, root, bindings: [good({ bindingInformation: `127.0.0.1:${port}:b.example` })] },
    ]));
    const server = await startServer({ configFile: file });
    try {
      const r = await httpsGet({ port, path: '/site.txt', servername: 'www.example', host: 'b.example', ca: pki.caPem });
      expect([r.status, r.peerCommonName]).toEqual([200, 'www.example']);
    } finally {
      await server.stop();
    }
  });

  it('resolves relative certificate paths from the config directory and expands %VAR%', async () => {
    process.env.W3CORE_TEST_TLS_DIR = pki.dir;
    try {
      writeFileSync(file, httpsConfig([{
        name: 'S', id: 1, root,
        bindings: [{
          bindingInformation: '127.0.0.1:0:', certificateFile: '%W3CORE_TEST_TLS_DIR%/www.example/cert.pem',
          keyFile: 'www.example/key.encrypted.pem', passphrase: TEST_PASSPHRASE,
        }],
      }]));
      const server = await startServer({ configFile: file });
      try {
        const r = await httpsGet({ port: server.bindings[0]!.port, path: '/site.txt', servername: 'www.example', ca: pki.caPem });
        expect([r.status, r.body, r.peerCommonName]).toEqual([200, 'www', 'www.example']);
      } finally {
        await server.stop();
      }
    } finally {
      delete process.env.W3CORE_TEST_TLS_DIR;
    }
  });
});
