import { graphNextLinkTarget } from './graph-next-link.js';
import { InboundFailure } from './inbound-failure.js';
import type { CarriedMessage, ChangeListingState, MessageRef } from './mail-source.js';

/** One page of a delta round, as Graph sends it. */
export interface DeltaPage {
  value?: unknown;
  '@odata.nextLink'?: unknown;
  '@odata.deltaLink'?: unknown;
}

export interface DeltaListingOptions {
  /** A new round's first request: `…/mailFolders/{folder}/messages/delta?$select=…`. */
  firstUrl: string;
  /** The configured Graph URL: every link followed or kept must lead to its origin. */
  baseUrl: string;
  /** What the saved place is for (Graph URL, mailbox, folder): ChangeListingState. */
  scope: string;
  state: ChangeListingState;
  /** Start a new round whatever place is saved (the periodic full sweep). */
  startOver: boolean;
  /** Pages read at most in this poll; the round goes on from there next poll. */
  maxPages: number;
  /** Messages listed at most in this poll (and returned at most, the newest). */
  maxItems: number;
  /** Reads one page (the source's bounded, authorised GET). */
  page(url: string): Promise<DeltaPage>;
}

/**
 * One poll's listing of a Graph folder by delta query (Microsoft Graph, "message: delta" and
 * "Get incremental changes to messages in a folder"): the saved link is called — the last
 * round's @odata.deltaLink, so a poll with nothing new is one request — or, with none, a new
 * round lists the whole folder. @odata.nextLink pages are followed to the round's deltaLink,
 * which is saved for the next poll (both only to the configured origin, graphNextLinkTarget);
 * a poll that reaches `maxPages` or `maxItems` saves the nextLink it stopped at instead, and the
 * round goes on from there next poll. A saved link Graph no longer knows (410 Gone,
 * syncStateNotFound, resyncRequired: tokens expire when Graph's cache drops them) starts a new
 * round at once, once per poll; messages taken before are known by their key, so nothing is
 * taken twice. `@removed` entries (a message moved or deleted from the folder) are not mail to
 * take: they only stop carrying that message.
 *
 * What is returned: the messages carried from earlier polls (listed then, not yet done — taken
 * and marked) and those this round lists, the newest `maxItems` of them, oldest first. The
 * delta will not list a message again unless it changes, so a message that failed, or that
 * the poll's cap or a stop left, is taken from the carried list instead; it leaves that list
 * when marked done (ChangeListingState.settle) or when the delta says it left the folder.
 * The saved link and the newly listed messages are saved together, before anything is taken.
 */
export async function listGraphDelta(o: DeltaListingOptions): Promise<MessageRef[]> {
  const saved = o.state.load(o.scope);
  const stored = o.startOver ? null : usableLink(saved.link, o.baseUrl);
  let url = stored ?? o.firstUrl;
  let restarted = false;
  /** By key: the message as last listed in this poll, or 'removed'. */
  const changes = new Map<string, CarriedMessage | 'removed'>();
  let listed = 0;
  let pages = 0;
  /** Pages read in this round: a link back to one of them ends the poll's listing there. */
  const read = new Set<string>();
  let place: string;
  for (;;) {
    if (pages >= o.maxPages || listed >= o.maxItems || read.has(url)) {
      place = url;
      break;
    }
    read.add(url);
    pages++;
    let page: DeltaPage;
    try {
      page = await o.page(url);
    } catch (error) {
      if (restarted || url === o.firstUrl || !syncStateLost(error)) throw error;
      // The link expired: a new round lists the folder whole (what is already taken is known by its key).
      restarted = true;
      read.clear();
      url = o.firstUrl;
      continue;
    }
    for (const item of Array.isArray(page.value) ? (page.value as unknown[]) : []) {
      const m = item as { id?: unknown; isRead?: unknown; receivedDateTime?: unknown; '@removed'?: unknown } | null;
      if (typeof m?.id !== 'string') continue;
      const key = `graph:${m.id}`;
      if (m['@removed'] !== undefined) {
        changes.set(key, 'removed');
        continue;
      }
      if (!changes.has(key) || changes.get(key) === 'removed') listed++;
      changes.set(key, { key, receivedAt: typeof m.receivedDateTime === 'string' ? m.receivedDateTime : null, seen: typeof m.isRead === 'boolean' ? m.isRead : null });
    }
    const next = page['@odata.nextLink'];
    const delta = page['@odata.deltaLink'];
    if (typeof next === 'string') {
      url = graphNextLinkTarget(next, url, o.baseUrl);
      continue;
    }
    if (typeof delta === 'string') {
      place = graphNextLinkTarget(delta, url, o.baseUrl, '@odata.deltaLink');
      break;
    }
    throw new InboundFailure('graph', 'list', 'Graph\'s delta answer has neither an @odata.nextLink nor an @odata.deltaLink: the round cannot go on. The same changes are asked for again next poll.', { detailCode: 'E_GRAPH_DELTA' });
  }

  const now: CarriedMessage[] = [];
  const removed: string[] = [];
  for (const [key, change] of changes) {
    if (change === 'removed') removed.push(key);
    else now.push(change);
  }
  o.state.save(o.scope, place, now, removed);

  const all = new Map(saved.carried.map((m) => [m.key, m]));
  for (const [key, change] of changes) {
    if (change === 'removed') all.delete(key);
    else all.set(key, change);
  }
  // ISO 8601 in UTC sorts as text; a message without a date goes first (it is not newer than any).
  const ordered = [...all.values()].sort((a, b) => (a.receivedAt ?? '').localeCompare(b.receivedAt ?? ''));
  return ordered.slice(-o.maxItems).map((m) => ({ key: m.key, size: 0, seen: m.seen }));
}

/** A saved link still leading to the configured origin (the database is not trusted to send the token elsewhere), else null. */
function usableLink(link: string | null, baseUrl: string): string | null {
  if (link === null) return null;
  try {
    return graphNextLinkTarget(link, baseUrl, baseUrl, '@odata.deltaLink');
  } catch {
    return null;
  }
}

/**
 * Whether Graph says the delta's state is gone and a new round must start: 410 Gone, or an
 * error code such as syncStateNotFound or resyncRequired (Microsoft Graph, "Use delta query to
 * track changes", synchronization reset).
 */
export function syncStateLost(error: unknown): boolean {
  if (!(error instanceof InboundFailure)) return false;
  return error.status === 410 || /syncstate|resyncrequired/i.test(error.detailCode ?? '');
}
