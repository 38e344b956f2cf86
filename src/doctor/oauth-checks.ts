import type { MailctlConfig } from '../config/config-schema.js';
import type { OAuthAccountFields } from '../auth/oauth-account.js';
import { isDelegated, type TokenPurpose } from '../auth/oauth-settings.js';
import { OAuthFailure } from '../auth/oauth-failure.js';
import { resetCommandFor } from '../auth/oauth-token-provider.js';
import { oauthSettingsOf, tokenProviderFor } from '../auth/token-provider-for.js';
import { readTokens } from '../auth/token-cache.js';
import { diagnose } from '../diagnosis/diagnose.js';
import type { DoctorCheck } from './finding.js';

const dayMs = 86_400_000;
/** Microsoft drops a refresh token unused for 90 days; warn a month before. */
const refreshLimitDays = 90;
const refreshWarnDays = 60;

/** Every place that logs in with OAuth: "outbound", "inbound/<table>". */
export function oauthPlaces(config: MailctlConfig): Array<{ place: string; label: string; auth: OAuthAccountFields; properties: string | undefined; purpose: TokenPurpose }> {
  const places: ReturnType<typeof oauthPlaces> = [];
  if (config.outbound?.auth?.type === 'oauth2') places.push({ place: 'outbound', label: 'the outbound server', auth: config.outbound.auth, properties: config.outbound.properties, purpose: 'smtp' });
  for (const a of Object.values(config.inbound ?? {})) {
    if (a.auth.type === 'oauth2') places.push({ place: `inbound/${a.table}`, label: `the inbound account of ${a.table}`, auth: a.auth, properties: a.properties, purpose: a.protocol });
  }
  return places;
}

/** The OAuth section: per account, the token, its expiry, the refresh token's age, the last refresh. */
export const oauthChecks: DoctorCheck[] = [
  {
    // Renews what is due, as the daemon would; a failure is recorded in the token cache and
    // reported by oauth.tokens with its diagnosis. A valid cached token costs no request.
    id: 'oauth.renew',
    symptom: 'oauth',
    areas: ['oauth'],
    network: true,
    async run({ config, secrets, clock }) {
      for (const p of oauthPlaces(config)) {
        const tokens = await readTokens(secrets.store, p.place);
        if (isDelegated(oauthSettingsOf(p.auth, p.properties)) && !tokens.refreshToken && !tokens.msalCache) continue; // needs a person: oauth.tokens says so
        try {
          await tokenProviderFor(p.place, p.auth, p.purpose, { secrets: secrets.store, clock }, p.properties).getToken();
        } catch (error) {
          if (!(error instanceof OAuthFailure)) throw error;
        }
      }
    },
  },
  {
    id: 'oauth.tokens',
    symptom: 'oauth',
    areas: ['oauth'],
    network: false,
    async run({ config, secrets, clock }, report) {
      const now = clock.now().getTime();
      for (const p of oauthPlaces(config)) {
        const tokens = await readTokens(secrets.store, p.place);
        const delegated = isDelegated(oauthSettingsOf(p.auth, p.properties));
        const reset = resetCommandFor(p.place);
        const flow = delegated ? 'delegated sign-in' : 'client credentials';
        const base = { check: this.id, symptom: this.symptom } as const;
        let bad = false;

        if (delegated && !tokens.refreshToken && !tokens.msalCache) {
          report.finding({
            ...base, severity: 'error',
            title: `${cap(p.label)} has no OAuth sign-in`,
            seen: `${flow}, no refresh token stored`,
            cause: 'Nobody has signed in for this mailbox yet, or the tokens were reset: no token can be got without a person.',
            fix: 'Sign in as the mailbox user on a terminal.',
            command: reset,
          });
          bad = true;
        } else if (tokens.lastRefresh && !tokens.lastRefresh.ok) {
          const d = diagnose({ area: 'oauth', text: tokens.lastRefresh.error ?? '' });
          report.finding({
            ...base, severity: 'error',
            title: `Getting a token for ${p.label} failed at ${tokens.lastRefresh.at}`,
            seen: tokens.lastRefresh.error ?? '(no words recorded)',
            cause: d.cause, fix: d.fix, command: d.command ?? reset,
          });
          bad = true;
        } else if (!delegated && !tokens.accessToken && !tokens.lastRefresh) {
          report.finding({
            ...base, severity: 'warning',
            title: `${cap(p.label)} has never got a token`,
            seen: `${flow}, nothing stored yet`,
            cause: 'The account was saved without a verified token: its client id, secret, tenant and permissions are unproven.',
            fix: 'Get a token and verify the account now.',
            command: reset,
          });
          bad = true;
        }

        const issued = tokens.refreshTokenIssuedAt ? Date.parse(tokens.refreshTokenIssuedAt) : undefined;
        const ageDays = issued !== undefined ? Math.floor((now - issued) / dayMs) : undefined;
        if (delegated && ageDays !== undefined && ageDays >= refreshWarnDays) {
          const expired = ageDays >= refreshLimitDays;
          report.finding({
            ...base, severity: expired ? 'error' : 'warning',
            title: `The refresh token of ${p.label} is ${ageDays} days old`,
            seen: `issued ${tokens.refreshTokenIssuedAt}; the provider drops one unused for ${refreshLimitDays} days`,
            cause: expired ? 'It has most likely expired (AADSTS700082): the next refresh will fail and a person must sign in.' : 'It is renewed each time the daemon uses it; one this old means the account is not being polled or sending, and it will expire.',
            fix: expired ? 'Sign in again now, then keep the daemon running.' : 'Make sure the daemon runs and uses this account, or sign in again before it expires.',
            command: reset,
          });
          bad = true;
        }
        if (!bad) {
          const expiry = tokens.expiresAt ? (Date.parse(tokens.expiresAt) > now ? `access token valid until ${tokens.expiresAt}` : `access token expired ${tokens.expiresAt}, renewed at next use`) : 'no access token cached, got at next use';
          const refreshed = tokens.lastRefresh ? `, last refresh ${tokens.lastRefresh.at} ok` : '';
          const age = ageDays !== undefined ? `, refresh token ${ageDays} day(s) old` : '';
          report.passed({ ...base, summary: `${p.place} (${flow}): ${expiry}${refreshed}${age}` });
        }
      }
    },
  },
];

function cap(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
