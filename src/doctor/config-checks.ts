import { existsSync, statSync } from 'node:fs';
import type { MailctlConfig } from '../config/config-schema.js';
import type { MailctlPaths } from '../config/paths.js';
import { parseProperties, valueOf } from '../config/properties.js';
import { isSecretKey, secretRefId, secretRefsIn } from '../config/property-secrets.js';
import { refKeySecretName } from '../refs/ref-keys.js';
import { findSecretOccurrences } from '../rotation/secret-occurrence.js';
import { planRotation } from '../rotation/rotation-plan.js';
import { maskSecret } from '../ui/mask.js';
import type { DoctorCheck } from './finding.js';

interface SecretUse { id: string; where: string }

/** Every secret the configuration refers to, and where. */
function secretUses(config: MailctlConfig): SecretUse[] {
  const uses: SecretUse[] = (config.kb?.refKeyIds ?? []).map((k) => ({ id: refKeySecretName(k), where: `reference key ${k}` }));
  const place = (name: string, auth: { type?: string; password?: string; clientSecret?: string } | undefined, properties: string | undefined) => {
    for (const ref of [auth?.password, auth?.clientSecret]) {
      const id = ref ? secretRefId(ref) : undefined;
      if (id) uses.push({ id, where: `${name} ${ref === auth?.password ? 'password' : 'client secret'}` });
    }
    for (const id of secretRefsIn(properties ?? '')) uses.push({ id, where: `${name} properties` });
  };
  if (config.outbound) place('outbound', config.outbound.auth as never, config.outbound.properties);
  for (const a of Object.values(config.inbound ?? {})) place(`inbound ${a.table}`, a.auth as never, a.properties);
  return uses;
}

/** Where a command fixes a place's secret. */
function reenterCommand(where: string): string {
  const table = /^inbound (\S+)/.exec(where)?.[1];
  return table ? `mailctl configure inbound ${table}` : where.startsWith('outbound properties') ? 'mailctl properties set outbound --file FILE' : 'mailctl configure server';
}

/** The files whose modes doctor checks, and whether they hold key material. */
export function modeCheckedFilesOf(paths: MailctlPaths, configPath: string): Array<{ path: string; holds: string; secret: boolean }> {
  return [
    { path: configPath, holds: 'the configuration', secret: false },
    { path: paths.secretKeyPath, holds: 'the master key of the secret file', secret: true },
    { path: paths.secretFilePath, holds: 'the encrypted secrets', secret: true },
    { path: paths.databasePath, holds: 'records and communications', secret: false },
  ];
}

/** The modes of those files now (before a store opens them). */
export function snapshotFileModes(paths: MailctlPaths, configPath: string): Map<string, number> {
  const modes = new Map<string, number>();
  for (const f of modeCheckedFilesOf(paths, configPath)) if (existsSync(f.path)) modes.set(f.path, statSync(f.path).mode & 0o777);
  return modes;
}

/** The Configuration section: half-done rotations, lost or clear secrets, file modes, TLS. */
export const configChecks: DoctorCheck[] = [
  {
    id: 'config.client-secrets',
    symptom: 'configuration',
    areas: ['config'],
    network: false,
    async run({ config, secrets }, report) {
      const plan = planRotation(await findSecretOccurrences(config, secrets.store));
      if (plan.occurrences.length === 0) return;
      // Another app's secret is meant to differ; the main app's copies must all agree.
      const differing = plan.differing.filter((o) => o.clientId === null || plan.mainClientId === null || o.clientId === plan.mainClientId);
      if (differing.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `all ${plan.occurrences.length} client_secret occurrence(s) of the app agree` });
        return;
      }
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'error',
        title: `${differing.length} of ${plan.occurrences.length} client_secret occurrences differ from the others`,
        seen: differing.map((o) => `${o.place} ${o.source === 'auth' ? 'OAuth client secret' : `properties line ${o.line} (${o.key})`}: ${maskSecret(o.value)}`).join('; ') + `; the others: ${maskSecret(plan.currentValue)}`,
        cause: 'A rotation was done by hand in some places and not others: the accounts with the old secret fail when their token is next renewed.',
        fix: 'Put the one current secret in every place at once (rotate-secret shows each place before it changes anything).',
        command: 'mailctl rotate-secret',
      });
    },
  },
  {
    id: 'config.secrets-stored',
    symptom: 'configuration',
    areas: ['config'],
    network: false,
    async run({ config, secrets }, report) {
      const uses = secretUses(config);
      const missing: SecretUse[] = [];
      for (const use of uses) if ((await secrets.store.get(use.id)) === undefined) missing.push(use);
      if (missing.length === 0) {
        if (uses.length > 0) report.passed({ check: this.id, symptom: this.symptom, summary: `all ${uses.length} secret(s) the configuration refers to are in the ${secrets.store.backend} store (${secrets.store.location})` });
        return;
      }
      const keyring = secrets.store.backend === 'keyring';
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'error',
        title: `${missing.length} of ${uses.length} secret(s) the configuration refers to are missing from the ${secrets.store.backend} store`,
        seen: missing.map((m) => `${m.where} (${m.id})`).join('; '),
        cause: keyring
          ? 'The keyring lost them: it does not persist (a session-only collection or a kernel keyring forgets at logout or reboot), or it was reset. Logins and reference decoding fail until they are entered again.'
          : 'The encrypted file store does not hold them: it was replaced, or restored from an older backup.',
        fix: keyring
          ? 'Enter the secrets again; to stop it recurring, keep secrets in the encrypted file store (MAILCTL_SECRET_BACKEND=file) or make the keyring persistent.'
          : 'Restore secrets.enc and master.key from the same backup, or enter the secrets again.',
        command: reenterCommand(missing.find((m) => !m.where.startsWith('reference key'))?.where ?? 'outbound'),
      });
    },
  },
  {
    id: 'config.secrets-in-clear',
    symptom: 'configuration',
    areas: ['config'],
    network: false,
    run({ config, configPath }, report) {
      const clear: string[] = [];
      const scan = (name: string, properties: string | undefined) => {
        parseProperties(properties ?? '').forEach((line, index) => {
          if (line.kind === 'entry' && isSecretKey(line.key!) && valueOf(line) !== '' && !secretRefId(valueOf(line))) clear.push(`${name} properties line ${index + 1} (${line.key})`);
        });
      };
      scan('outbound', config.outbound?.properties);
      for (const a of Object.values(config.inbound ?? {})) scan(`inbound ${a.table}`, a.properties);
      if (clear.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: `no secret in clear in ${configPath}` });
        return;
      }
      report.finding({
        check: this.id, symptom: this.symptom, severity: 'error',
        title: `${clear.length} secret value(s) are written in clear in the config file`,
        seen: clear.join('; '),
        cause: 'config.json was edited by hand: secrets belong in the secret store, referred to as ${secret:ID}.',
        fix: 'Set the properties again through mailctl, which moves each secret value into the secret store.',
        command: 'mailctl properties set outbound --file FILE',
      });
    },
  },
  {
    id: 'config.file-modes',
    symptom: 'configuration',
    areas: ['config'],
    network: false,
    run({ fileModes, paths, configPath }, report) {
      let checked = 0;
      for (const f of modeCheckedFilesOf(paths, configPath)) {
        const mode = fileModes.get(f.path);
        if (mode === undefined) continue;
        checked++;
        if ((mode & 0o077) === 0) continue;
        const shown = mode.toString(8).padStart(4, '0');
        report.finding({
          check: this.id, symptom: this.symptom, severity: f.secret ? 'error' : 'warning',
          title: `${f.path} can be read by other users (mode ${shown})`,
          seen: `${f.path} holds ${f.holds}; mode ${shown}, wider than 0600${f.path.endsWith('master.key') ? ' (mailctl set it back to 0600 when it read the key)' : ''}`,
          cause: 'Its mode was widened by hand, a restore, or a copy; mailctl writes it 0600. Anyone who could read it may have copied it.',
          fix: f.secret ? 'Make it readable by its owner only, and treat the secrets as exposed if others could log in here.' : 'Make it readable by its owner only.',
          command: `chmod 600 ${f.path}`,
        });
      }
      if (checked > 0) report.passed({ check: this.id, symptom: this.symptom, summary: `${checked} file(s) checked for modes wider than 0600` });
    },
  },
  {
    id: 'config.tls-verify',
    symptom: 'configuration',
    areas: ['config'],
    network: false,
    run({ config }, report) {
      const off: Array<{ name: string; command: string }> = [];
      if (config.outbound?.host && config.outbound.tlsSkipVerify) off.push({ name: `the outbound server ${config.outbound.host}:${config.outbound.port}`, command: 'mailctl configure server --tls-ca ca.pem' });
      for (const a of Object.values(config.inbound ?? {})) if (a.tlsSkipVerify) off.push({ name: `the inbound account of ${a.table} (${a.host}:${a.port})`, command: `mailctl configure inbound ${a.table}` });
      if (off.length === 0) {
        report.passed({ check: this.id, symptom: this.symptom, summary: 'TLS certificates are verified for every server' });
        return;
      }
      for (const o of off) {
        report.finding({
          check: this.id, symptom: this.symptom, severity: 'warning',
          title: `TLS certificate verification is off for ${o.name}`,
          seen: 'tlsSkipVerify = true (turned on by an admin for this server)',
          cause: 'Anyone between mailctl and the server can pose as it and read the password, tokens and mail.',
          fix: 'Trust the server\'s CA instead (--tls-ca FILE), or give the server a certificate from a trusted CA.',
          command: o.command,
        });
      }
    },
  },
];
