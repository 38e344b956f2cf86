/** The steps of an SMTP conversation, in order; a failure names the one it stopped at. */
export const smtpPhases = ['connect', 'tls', 'greeting', 'auth', 'sender', 'recipient', 'data', 'after-data'] as const;
export type SmtpPhase = (typeof smtpPhases)[number];

/** Each phase's exit code for `test-send` (README "Exit codes"). */
export const smtpPhaseExitCode: Record<SmtpPhase, number> = {
  connect: 10,
  tls: 11,
  greeting: 12,
  auth: 13,
  sender: 14,
  recipient: 15,
  data: 16,
  'after-data': 17,
};

/** Exit code when a pre-send check stops a message before any connection. */
export const presendExitCode = 18;

/** What a person calls each phase. */
export const smtpPhaseLabel: Record<SmtpPhase, string> = {
  connect: 'connecting to the server',
  tls: 'setting up TLS',
  greeting: 'waiting for the server greeting',
  auth: 'logging in',
  sender: 'the sender (MAIL FROM)',
  recipient: 'the recipient (RCPT TO)',
  data: 'starting the message (DATA)',
  'after-data': 'the message itself (after DATA)',
};
