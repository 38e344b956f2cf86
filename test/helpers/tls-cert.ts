import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './require-binary.js';

export interface TestCert {
  certPath: string;
  keyPath: string;
  cert: string;
  key: string;
}

/** A self-signed certificate for localhost/127.0.0.1, made with the openssl CLI. */
export function makeSelfSignedCert(dir: string, commonName = 'localhost'): TestCert {
  const openssl = requireBinary('openssl', 'openssl');
  const certPath = join(dir, `${commonName}.crt`);
  const keyPath = join(dir, `${commonName}.key`);
  execFileSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${commonName}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyPath, '-out', certPath], { stdio: 'ignore' });
  return { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}
