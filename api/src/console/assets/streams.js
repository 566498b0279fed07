// The first screen: the streams (projects) the signed-in user owns, each leading to its
// Webhooks tab. Only owners may manage webhooks, so other roles are not listed.

import { h, notice, route, time } from './dom.js';
import { gql } from './api.js';

// 25 a page keeps the query under the server's GraphQL cost limit: each stream's `webhooks`
// counts as its 100 possible webhooks, 25 × ~107 ≈ 2,700 of the 5,000 allowed.
const PAGE = 25;
const OWNED = `query ConsoleStreams($cursor: String, $limit: Int!) {
  activeUser { id projects(limit: $limit, cursor: $cursor, filter: { onlyWithRoles: ["stream:owner"] }) {
    totalCount cursor items { id name role updatedAt webhooks { totalCount } } } } }`;

function row(p) {
  const count = p.webhooks?.totalCount ?? 0;
  return h('li', { class: 'stream-row' },
    h('div', {},
      h('a', { href: route('streams', p.id) }, p.name || p.id),
      h('div', { class: 'muted small' }, `${count} webhook${count === 1 ? '' : 's'} · updated `, time(p.updatedAt))),
    h('span', { class: 'mono muted' }, p.id));
}

export async function streamsScreen(ctx) {
  const n = notice();
  const list = h('ul', { class: 'rows', id: 'streams' });
  const more = h('button', { type: 'button', class: 'button', hidden: true }, 'Show more');
  const count = h('p', { class: 'muted' });
  let cursor = null;
  let shown = 0;

  async function page() {
    const d = await gql(OWNED, { cursor, limit: PAGE });
    if (!ctx.alive()) return;
    const projects = d.activeUser?.projects;
    if (!projects) throw new Error('The server did not return your streams.');
    for (const p of projects.items) {
      if (p.role === 'stream:owner') {
        list.append(row(p));
        shown += 1;
      }
    }
    cursor = projects.cursor;
    more.hidden = !cursor || projects.items.length === 0;
    count.textContent = `${projects.totalCount} stream${projects.totalCount === 1 ? '' : 's'} you own.`;
  }

  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      await page();
    } catch (e) {
      n.error(e);
    } finally {
      more.disabled = false;
    }
  });

  await page();
  const body = shown === 0 && more.hidden
    ? h('p', { class: 'empty card', id: 'streams' },
      'You own no streams yet. Create one through the API (streamCreate or projectMutations.create) and it appears here.')
    : list;
  ctx.show('Your streams',
    h('div', { class: 'head' }, h('div', {}, h('h1', { tabindex: '-1' }, 'Your streams'), count)),
    n.el, body, h('div', { class: 'pager' }, more));
}
