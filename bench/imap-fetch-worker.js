// The ingest benchmark's baseline, and its look at the mailbox: a raw imapflow client, in its
// own process so its time and RSS are its own. Opens the folder read-only (EXAMINE) and
// fetches with BODY.PEEK, so it never marks a message \Seen.
//   node imap-fetch-worker.js PORT USER PASS fetch  → every message's full source, in one FETCH
//   node imap-fetch-worker.js PORT USER PASS list   → sizes and flags only (warms Dovecot's index)
// Prints JSON: messages, bytes, unseen (list only).
import { ImapFlow } from 'imapflow';

const [port, user, pass, mode] = process.argv.slice(2);
const client = new ImapFlow({ host: '127.0.0.1', port: Number(port), secure: false, doSTARTTLS: false, auth: { user, pass }, logger: false, disableAutoIdle: true });
await client.connect();
await client.mailboxOpen('INBOX', { readOnly: true });
let messages = 0;
let bytes = 0;
let unseen;
if (mode === 'fetch') {
  for await (const message of client.fetch('1:*', { uid: true, source: true })) {
    messages++;
    bytes += message.source.length;
  }
} else {
  unseen = 0;
  for await (const message of client.fetch('1:*', { uid: true, size: true, flags: true })) {
    messages++;
    bytes += message.size;
    if (!message.flags.has('\\Seen')) unseen++;
  }
}
await client.logout();
console.log(JSON.stringify({ messages, bytes, unseen }));
