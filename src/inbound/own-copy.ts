import type { HeaderBlock } from '../mime/header-block.js';
import { openReference, type RefKeys } from '../refs/reference-codec.js';
import { referenceHeader } from '../refs/stamp-reference.js';

/**
 * True when the message is a copy of one we sent: a Bcc to our own mailbox, Gmail's "All
 * Mail", a server that files sent mail in the polled folder. It carries our reference in
 * its own X-Mailctl-Ref header (sealed with our key, for this KB) and its Message-ID is
 * ours — our stamped `mc.<reference>@host`, or the plain one of an outbound communication
 * (a reference too long for a Message-ID, compose-message.ts). A reply carries our
 * Message-ID only in In-Reply-To/References, and never its own; a copy that a forwarder
 * stripped of our header is not recognised here (it is our own notice come back, or a reply).
 */
export function isOwnCopy(headers: HeaderBlock, messageId: string | null, keys: RefKeys, kb: string, isOurOutbound: (messageId: string) => boolean): boolean {
  if (!messageId) return false;
  const ours = (token: string) => {
    const opened = openReference(token, keys);
    return opened.ok && opened.value.kb === kb;
  };
  if (!headers.getAll(referenceHeader).some((value) => ours(value.replace(/\s+/g, '')))) return false;
  const stamped = /^mc\.([A-Za-z0-9_-]+)@/.exec(messageId);
  if (stamped && ours(stamped[1]!)) return true;
  return isOurOutbound(messageId);
}
