import type { Deps } from '../../deps.js';
import { ContactsRepo } from '../../store/contacts-repo.js';

/** `mailctl contacts add EMAIL` */
export async function runContactsAdd(
  deps: Deps,
  email: string,
  options: { name?: string; guest?: boolean; canCreate?: string[] },
): Promise<number> {
  const contact = new ContactsRepo(await deps.db(), deps.clock).add({
    email,
    name: options.name ?? email,
    isGuest: Boolean(options.guest),
    canCreateIn: options.canCreate ?? [],
  });
  deps.out.success(`Added ${contact.isGuest ? 'guest ' : ''}contact ${contact.name} <${contact.email}>` +
    (contact.canCreateIn.length ? `; may create records in ${contact.canCreateIn.join(', ')}.` : '.'));
  deps.out.data({ ok: true, contact });
  return 0;
}

/** `mailctl contacts list` */
export async function runContactsList(deps: Deps): Promise<number> {
  const contacts = new ContactsRepo(await deps.db(), deps.clock).list();
  if (contacts.length === 0) deps.out.line('No contacts yet. Add one with: mailctl contacts add pat@acme.test --name "Pat Lee"');
  else deps.out.table(contacts, [
    { header: 'EMAIL', value: (c) => c.email },
    { header: 'NAME', value: (c) => c.name },
    { header: 'GUEST', value: (c) => (c.isGuest ? 'yes' : '') },
    { header: 'MAY CREATE IN', value: (c) => c.canCreateIn.join(', ') },
  ]);
  deps.out.data({ ok: true, contacts });
  return 0;
}
