/** Where secrets live: never in the config file. Keys are opaque names such as "kb/refkey/k1". */
export interface SecretStore {
  readonly backend: 'keyring' | 'file';
  /** Human description of where the secrets are, for `secrets status`. */
  readonly location: string;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
}
