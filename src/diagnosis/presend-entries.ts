import type { CatalogEntry } from './diagnosis.js';

/** Problems found before anything is sent. */
export const presendEntries: CatalogEntry[] = [
  {
    id: 'from-missing', areas: ['presend', 'config'], codes: ['E_FROM_MISSING', 'E_FROM_INVALID'],
    diagnose: () => ({
      cause: 'The message has no valid from-address, so it cannot be sent. This happens when the from-address comes from a field that can be empty.',
      fix: 'Use an explicit from-address, or make sure the field it comes from always has a value.',
      command: 'mailctl configure server --from ADDRESS',
    }),
  },
  {
    id: 'attachments-too-large', areas: ['presend'], codes: ['E_ATTACHMENTS_TOO_LARGE'],
    diagnose: () => ({ cause: 'All attachments together are larger than max_attachment_size.', fix: 'Send fewer or smaller attachments, or raise the limit (up to what the server accepts).', command: 'mailctl config set max_attachment_size 20MB' }),
  },
  {
    id: 'body-too-large', areas: ['presend'], codes: ['E_BODY_TOO_LARGE'],
    diagnose: () => ({ cause: 'The body (without attachments) is larger than max_body_size.', fix: 'Shorten the body, or raise the limit.', command: 'mailctl config set max_body_size 2MB' }),
  },
  {
    id: 'server-size-limit', areas: ['presend', 'smtp'], codes: ['E_SERVER_SIZE'],
    diagnose: () => ({ cause: 'The whole message is larger than the SIZE limit the server advertises, though body and attachments are each within mailctl\'s limits.', fix: 'Send smaller attachments, and set max_attachment_size below the server\'s limit.', command: 'mailctl config set max_attachment_size 10MB' }),
  },
];
