/** What went wrong, as facts the catalog can match on. */
export interface FailureFacts {
  /** Where it happened: smtp, imap, pop3, graph, oauth, presend, config. */
  area: 'smtp' | 'imap' | 'pop3' | 'graph' | 'oauth' | 'presend' | 'config' | 'any';
  /** The phase within the area (connect, tls, greeting, auth, sender, …). */
  phase?: string;
  /** Everything the server or library said, concatenated: matched by the entries' patterns. */
  text: string;
  /** Library error class (ECONNECTION, EAUTH, …) and the system/TLS code under it. */
  kind?: string;
  detailCode?: string;
  responseCode?: number;
  /** How the account logs in: an OAuth token refused by the mail server is a reset-oauth case. */
  authMethod?: 'password' | 'oauth2' | 'none';
  /** The host and port, to name them in the cause. */
  host?: string;
  port?: number;
}

/** The catalog's answer: why, and what to do. */
export interface Diagnosis {
  id: string;
  cause: string;
  fix: string;
  /** The mailctl command that applies or checks the fix. */
  command?: string;
}

export interface CatalogEntry {
  id: string;
  /** Which areas the entry applies to ('any' for all). */
  areas: ReadonlyArray<FailureFacts['area']>;
  /** Regular expressions over `text`, codes, or a predicate: any one matching is enough. */
  pattern?: RegExp;
  codes?: readonly string[];
  when?: (facts: FailureFacts) => boolean;
  diagnose: (facts: FailureFacts) => Omit<Diagnosis, 'id'>;
}
