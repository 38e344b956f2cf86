import { ExitCode, UsageError, UserError } from '../errors.js';

export interface Choice<T extends string> {
  value: T;
  name: string;
  description?: string;
}

interface Base {
  message: string;
  /** The flag that answers this question in scripts, for the "needs --flag" error. */
  flag: string;
}

/**
 * Every question a command asks goes through this. Without a TTY (or with --yes) it
 * never waits on stdin: it fails at once, naming the flag that answers the question.
 */
export interface Prompter {
  readonly interactive: boolean;
  input(q: Base & { default?: string; validate?: (value: string) => string | true }): Promise<string>;
  secret(q: Base & { confirm?: boolean; validate?: (value: string) => string | true }): Promise<string>;
  select<T extends string>(q: Base & { choices: readonly Choice<T>[]; default?: T }): Promise<T>;
  confirm(q: Base & { default: boolean }): Promise<boolean>;
  /** Multi-line text in the admin's $EDITOR (custom configuration properties). */
  editText(q: Base & { default: string }): Promise<string>;
}

/**
 * For runs with no terminal: a question with a default takes it (as Enter would);
 * any other is an error that names its flag. Secrets never have a default.
 */
export const nonInteractivePrompter: Prompter = {
  interactive: false,
  input: (q) => (q.default !== undefined ? Promise.resolve(q.default) : Promise.reject(needsFlag(q))),
  secret: (q) => Promise.reject(needsFlag(q)),
  select: (q) => (q.default !== undefined ? Promise.resolve(q.default) : Promise.reject(needsFlag(q))),
  confirm: (q) => Promise.resolve(q.default),
  editText: (q) => Promise.reject(needsFlag(q)),
};

function needsFlag(q: Base): UsageError {
  return new UsageError('E_NEEDS_FLAG', `"${q.message}" needs an answer, and there is no terminal to ask: pass ${q.flag}.`);
}

/** Questions asked with @inquirer/prompts on the terminal. */
export async function createInquirerPrompter(): Promise<Prompter> {
  const prompts = await import('@inquirer/prompts');
  const cancelled = (error: unknown): never => {
    if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) {
      throw new UserError('E_CANCELLED', 'Cancelled; nothing was changed.', { exitCode: ExitCode.failure });
    }
    throw error;
  };
  return {
    interactive: true,
    input: (q) => prompts.input({ message: q.message, default: q.default, validate: q.validate }).catch(cancelled),
    secret: async (q) => {
      for (;;) {
        const first = await prompts.password({ message: q.message, mask: '*', validate: q.validate }).catch(cancelled);
        if (!q.confirm) return first;
        const second = await prompts.password({ message: 'Type it again to confirm', mask: '*' }).catch(cancelled);
        if (first === second) return first;
        process.stderr.write('The two entries differ; please type it again.\n');
      }
    },
    select: <T extends string>(q: Base & { choices: readonly Choice<T>[]; default?: T }) =>
      prompts.select<T>({ message: q.message, choices: q.choices.map((c) => ({ ...c })), default: q.default }).catch(cancelled),
    confirm: (q) => prompts.confirm({ message: q.message, default: q.default }).catch(cancelled),
    editText: (q) => prompts.editor({ message: q.message, default: q.default, postfix: '.properties', waitForUserInput: false }).catch(cancelled),
  };
}
