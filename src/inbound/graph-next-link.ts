import { InboundFailure } from './inbound-failure.js';

/**
 * Where a Graph `@odata.nextLink` (or `@odata.deltaLink`: `name`) leads, checked before the bearer
 * token goes with it: only to the configured Graph origin (scheme, host and port of the base URL —
 * so https when the base is https, as graph.microsoft.com is). Anything else is refused with an
 * InboundFailure (phase "list"): a page that sends the client elsewhere would have the token sent
 * there, now or (a deltaLink is kept for the next poll) later. Relative links are read against the
 * page that gave them. Source: Microsoft Graph, "Paging Microsoft Graph data in your app" (the
 * nextLink is an absolute URL to the same service), "Use delta query to track changes".
 */
export function graphNextLinkTarget(nextLink: string, page: string, baseUrl: string, name: '@odata.nextLink' | '@odata.deltaLink' = '@odata.nextLink'): string {
  const base = new URL(baseUrl);
  let target: URL;
  try {
    target = new URL(nextLink, page);
  } catch {
    throw new InboundFailure('graph', 'list', `Graph's ${name} is not a URL ("${nextLink.slice(0, 200)}"): the listing stops there.`, { detailCode: 'E_GRAPH_NEXTLINK' });
  }
  if (target.origin !== base.origin || target.username || target.password) {
    const where = target.protocol === 'http:' || target.protocol === 'https:' ? `${target.protocol}//${target.host}` : target.protocol;
    throw new InboundFailure(
      'graph',
      'list',
      `Graph's ${name} leads to ${where}, not to the configured Graph origin ${base.origin}: it was not followed${name === '@odata.deltaLink' ? ' nor kept' : ''}, so the token was not sent there. Check the Graph URL of this account (a proxy or server that rewrites links?).`,
      { detailCode: 'E_GRAPH_NEXTLINK_ORIGIN', serverSaid: `${name} ${target.protocol}//${target.host}${target.pathname}`.slice(0, 500) },
    );
  }
  return target.href;
}
