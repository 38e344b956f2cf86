import type { HeaderBlock } from '../mime/header-block.js';
import { openReference, type RefKeys } from '../refs/reference-codec.js';
import { referenceHeader } from '../refs/stamp-reference.js';

export interface OwnCopyCheck {
  headers: HeaderBlock;
  messageId: string | null;
  /** The sender address (lower case), or null. */
  from: string | null;
  keys: RefKeys;
  kb: string;
  /** The KB's own addresses (lower case): the outbound from-address, the inbound logins. */
  ownAddresses: readonly string[];
  /** True when one of our outbound communications has this Message-ID. */
  isOurOutbound: (messageId: string) => boolean;
}

/**
 * True when the message is a copy of one we sent: a Bcc to our own mailbox, Gmail's "All
 * Mail", a server that files sent mail in the polled folder. Its own Message-ID is ours — our
 * stamped `mc.<reference>@host` that opens with our key for this KB, or the plain one of an
 * outbound communication (a reference too long for a Message-ID, compose-message.ts) — and it
 * carries our reference in its X-Mailctl-Ref header, or, where a server stripped that header
 * (Exchange does on internal mail), it is from one of our own addresses. A reply carries our
 * Message-ID only in In-Reply-To/References, never as its own; our notice sent back by a
 * forwarder that rewrote From and dropped our header is not a copy (it is our notice come
 * back, ingest-message.ts).
 */
export function isOwnCopy(check: OwnCopyCheck): boolean {
  const { messageId } = check;
  if (!messageId) return false;
  const ours = (token: string) => {
    const opened = openReference(token, check.keys);
    return opened.ok && opened.value.kb === check.kb;
  };
  const stamped = /^mc\.([A-Za-z0-9_-]+)@/.exec(messageId);
  const ourId = (stamped !== null && ours(stamped[1]!)) || check.isOurOutbound(messageId);
  if (!ourId) return false;
  const ourReference = check.headers.getAll(referenceHeader).some((value) => ours(value.replace(/\s+/g, '')));
  return ourReference || (check.from !== null && check.ownAddresses.includes(check.from));
}
