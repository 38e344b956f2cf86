import { messageIdsIn, parseHeaderBlock, type HeaderBlock } from '../mime/header-block.js';

/** The header fields of a returned message that name it: where our reference and Message-ID are. */
const namingField = /^(message-id|x-mailctl-ref|in-reply-to|references|subject)[ \t]*:/i;

/** Only this much text is read: a returned copy is cut by the mail system anyway, and a text body can be megabytes. */
const scanCap = 256 * 1024;

/**
 * The naming header fields (Message-ID, X-Mailctl-Ref, In-Reply-To, References, Subject) of
 * the message(s) a notice returns, wherever they sit in `text`: an attached message/rfc822 or
 * text/rfc822-headers part (after a message/delivery-status part, whose blank lines end a
 * plain header-block parse before it reaches them), or the copy that qmail ("--- Below this
 * line is a copy of the message."), Exim ("------ This is a copy of the message, including
 * all the headers. ------") and Postfix write inline in a text bounce. Folded lines are
 * unfolded. Linear: one pass over the lines.
 */
export function returnedHeaders(text: string): HeaderBlock {
  const lines = (text.length > scanCap ? text.slice(0, scanCap) : text).split(/\r?\n/);
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!namingField.test(lines[i]!)) continue;
    let field = lines[i]!;
    // The continuation lines of a folded field (a long References, a Message-ID on its own line).
    while (i + 1 < lines.length && /^[ \t]+\S/.test(lines[i + 1]!) && field.length < 16 * 1024) field += ` ${lines[++i]!.trim()}`;
    kept.push(field);
  }
  return parseHeaderBlock(`${kept.join('\r\n')}\r\n\r\n`);
}

/** The Message-IDs of the returned message(s) (without angle brackets), from `returnedHeaders`. */
export function returnedMessageIds(headers: HeaderBlock): string[] {
  return headers.getAll('message-id').flatMap((value) => messageIdsIn(value));
}
