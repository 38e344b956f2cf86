/** Exit codes shared by every command (README "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  secrets: 4,
  store: 5,
  bug: 70,
} as const;

export interface UserErrorOptions {
  /** What the admin can do about it, when we know. */
  fix?: string;
  /** The mailctl command that applies the fix, when there is one. */
  command?: string;
  exitCode?: number;
  cause?: unknown;
  /** Extra facts for --json output (never secrets). */
  details?: Record<string, unknown>;
}

/**
 * An expected failure: bad input, a broken file, a server that said no.
 * It is shown as a message (no stack) with a stable code and, where known, a fix.
 */
export class UserError extends Error {
  readonly code: string;
  readonly fix: string | undefined;
  readonly command: string | undefined;
  readonly exitCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: UserErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.code = code;
    this.fix = options.fix;
    this.command = options.command;
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.details = options.details;
  }
}

/** Bad flags or values given by the admin: exit 2, nothing changed. */
export class UsageError extends UserError {
  constructor(code: string, message: string, options: Omit<UserErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: ExitCode.usage });
    this.name = 'UsageError';
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
