// Test PKI made at test time with openssl: a CA, server certificates with SANs, client certificates.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestCa extends CertFiles {
  dir: string;
  /** Issues a leaf certificate signed by this CA; `names` become DNS/IP SANs, the first is the CN. */
  issue(name: string, names: string[], usage: 'server' | 'client'): CertFiles;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeTestCa(label = 'hubble-ts test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-ts-pki-'));
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${label}`,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  const ca: TestCa = {
    dir,
    cert: join(dir, 'ca.crt'),
    key: join(dir, 'ca.key'),
    issue(name, names, usage) {
      const base = `${usage}-${name}`;
      const sans = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
      writeFileSync(
        join(dir, `${base}.ext`),
        `subjectAltName=${sans}\nextendedKeyUsage=${usage === 'server' ? 'serverAuth' : 'clientAuth'}\n`,
      );
      openssl(
        [
          'req',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-subj',
          `/CN=${names[0] ?? name}`,
          '-keyout',
          `${base}.key`,
          '-out',
          `${base}.csr`,
        ],
        dir,
      );
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${base}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-days',
          '2',
          '-extfile',
          `${base}.ext`,
          '-out',
          `${base}.crt`,
        ],
        dir,
      );
      return { cert: join(dir, `${base}.crt`), key: join(dir, `${base}.key`) };
    },
  };
  return ca;
}
