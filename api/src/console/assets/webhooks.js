// A stream's Webhooks tab, as seed 001 describes Speckle's: each webhook with the icon of its
// last request (the error on hover), its URL, description and triggers, why the server disabled
// it (with a way to re-enable), and edit, delete and recent-deliveries actions. While a request is
// queued or being retried the list refreshes itself, so a ping turns green without a reload.

import { busy, h, notice, route, takeFlash } from './dom.js';
import { gql, Q } from './api.js';
import { classify, statusIcon } from './status.js';

const POLL_MS = 1500;
const MAX_POLLS = 200;

function lastRequestDetail(event) {
  if (!event) return 'Nothing has been sent to this URL yet. Ping it from its deliveries page to send a test event.';
  return `${event.statusInfo} (event ${event.id}, ${new Date(event.lastUpdate).toLocaleString()})`;
}

/** A confirmation dialog; resolves true if the user chose `action`. */
export function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-title', id: 'confirm' },
      h('h2', { id: 'confirm-title' }, title), h('p', {}, text));
    const done = (yes) => {
      dialog.close();
      dialog.remove();
      resolve(yes);
    };
    dialog.append(h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'button danger solid', id: 'confirm-yes', on: { click: () => done(true) } }, action),
      h('button', { type: 'button', class: 'button', id: 'confirm-no', on: { click: () => done(false) } }, 'Cancel')));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector('#confirm-no').focus();
  });
}

function webhookRow(streamId, w, n, refresh) {
  const last = w.history?.items?.[0] ?? null;
  const state = classify(last);
  const actions = h('div', { class: 'actions' },
    h('a', { class: 'button', href: route('streams', streamId, 'webhooks', w.id), 'data-action': 'deliveries' }, 'Recent deliveries'),
    h('a', { class: 'button', href: route('streams', streamId, 'webhooks', w.id, 'edit'), 'data-action': 'edit' }, 'Edit'),
    h('button', {
      type: 'button', class: 'button danger', 'data-action': 'delete',
      on: {
        click: async (e) => {
          const ok = await confirmDialog('Delete this webhook?',
            `${w.url} will get no more requests, and its delivery history is deleted with it.`, 'Delete webhook');
          if (!ok) return;
          await busy(e.target, async () => {
            try {
              await gql(Q.remove, { w: { id: w.id, streamId } });
              n.ok(`Deleted the webhook for ${w.url}.`);
              await refresh();
            } catch (err) {
              n.error(err);
            }
          });
        },
      },
    }, 'Delete'));
  const li = h('li', { class: 'hook', 'data-id': w.id, 'data-status': state.kind, 'data-last-status': last?.status ?? 'none' },
    statusIcon(state, lastRequestDetail(last), w.description || w.url),
    h('div', { class: 'hook-main' },
      h('div', { class: 'hook-title' }, w.description || w.url),
      w.description ? h('div', { class: 'hook-url mono' }, w.url) : null,
      h('ul', { class: 'chips', 'aria-label': 'Triggers' }, w.triggers.map((t) => h('li', { class: 'chip' }, t))),
      h('div', { class: 'chips' },
        w.enabled === false ? h('span', { class: 'badge off' }, 'Disabled') : h('span', { class: 'badge' }, 'Enabled'),
        h('span', { class: 'badge' }, w.hasSecret ? 'Secret set' : 'No secret'))),
    actions);
  if (w.disabledReason) {
    li.append(h('div', { class: 'disabled-reason', role: 'note' },
      h('p', {}, h('strong', {}, 'Disabled by the server: '), w.disabledReason),
      h('button', {
        type: 'button', class: 'button', 'data-action': 're-enable',
        on: {
          click: (e) => busy(e.target, async () => {
            try {
              await gql(Q.update, { w: { id: w.id, streamId, enabled: true } });
              n.ok('Re-enabled; new events will be sent again.');
              await refresh();
            } catch (err) {
              n.error(err);
            }
          }),
        },
      }, 'Re-enable')));
  }
  return li;
}

export async function webhooksScreen(ctx, streamId) {
  const n = notice();
  const flash = takeFlash();
  if (flash) n.ok(flash);
  const list = h('ul', { class: 'rows', id: 'webhooks', 'aria-label': 'Webhooks' });
  const empty = h('p', { class: 'empty', id: 'no-webhooks' },
    'No webhooks yet. A webhook POSTs a signed JSON payload to your URL whenever one of its triggers happens on this stream.');
  const count = h('p', { class: 'muted' });
  const rows = new Map();
  let timer = null;
  let polls = 0;
  ctx.onLeave(() => clearTimeout(timer));

  async function refresh() {
    clearTimeout(timer);
    const d = await gql(Q.streamWebhooks, { stream: streamId });
    if (!ctx.alive()) return null;
    const stream = d.stream;
    if (!stream) throw new Error(`There is no stream ${streamId}.`);
    const items = stream.webhooks.items;
    count.textContent = `${items.length} webhook${items.length === 1 ? '' : 's'} (at most 100 per stream).`;
    empty.hidden = items.length > 0;
    list.hidden = items.length === 0;
    // Keyed update: unchanged rows keep their nodes, so focus and an open tooltip survive a poll.
    const keep = new Set();
    let previous = null;
    for (const w of items) {
      const sig = JSON.stringify(w);
      let entry = rows.get(w.id);
      if (!entry || entry.sig !== sig) {
        const li = webhookRow(streamId, w, n, refresh);
        if (entry) entry.li.replaceWith(li);
        entry = { li, sig };
        rows.set(w.id, entry);
      }
      if (entry.li.previousElementSibling !== previous || entry.li.parentNode !== list) {
        if (previous) previous.after(entry.li);
        else list.prepend(entry.li);
      }
      previous = entry.li;
      keep.add(w.id);
    }
    for (const [id, entry] of rows) {
      if (!keep.has(id)) {
        entry.li.remove();
        rows.delete(id);
      }
    }
    const waiting = items.some((w) => [0, 1].includes(w.history?.items?.[0]?.status));
    if (waiting && polls < MAX_POLLS) {
      polls += 1;
      timer = setTimeout(() => refresh().catch((e) => n.error(e)), POLL_MS);
    } else if (!waiting) {
      polls = 0;
    }
    return stream;
  }

  const stream = await refresh();
  if (!stream) return;
  ctx.show(`Webhooks · ${stream.name}`,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Your streams'), ' › ', stream.name),
    h('div', { class: 'head' },
      h('div', {}, h('h1', { tabindex: '-1', class: 'break' }, stream.name), h('h2', {}, 'Webhooks'), count),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'button', id: 'refresh', on: { click: (e) => busy(e.target, () => refresh().catch((err) => n.error(err))) } }, 'Refresh'),
        h('a', { class: 'button primary', href: route('streams', streamId, 'new'), id: 'new-webhook' }, 'New webhook'))),
    n.el, list, empty,
    h('p', { class: 'hint' }, 'Beware of loops: a receiver that changes this stream in answer to its events triggers them again.'));
}
