/** An email before it is built: what the sender asked for. */
export interface OutboundDraft {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html?: string;
  attachments?: Array<{ filename: string; content: Buffer; contentType?: string }>;
  /** Extra headers (e.g. X-Mailctl-Original-To on redirected test-KB mail). */
  headers?: Record<string, string>;
}
