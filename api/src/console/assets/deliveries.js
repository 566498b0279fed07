// One webhook's Recent deliveries, after GitHub's: newest first, twenty to a page, each event's
// state, trigger, time, retries and statusInfo; opened, every attempt (status, duration, the
// response's headers and body, as text), the payload pretty-printed, and Redeliver.
// Ping sends a sample event of a chosen trigger. Events still queued or being retried refresh
// in place until they settle.
//
// Pages after the first are read by cursor (`history(cursor:)`, in the route), not by offset:
// events keep arriving at the top while someone reads, and an offset would then show an event
// twice or skip one. The cursors of the pages walked so far are kept for "Newer"; after a reload
// on a deep page they are gone, and "Newer" goes back to the newest events.

import { busy, h, notice, route, time } from './dom.js';
import { gql, Q, webhookTriggers } from './api.js';
import { classify, plainIcon, statusLabel } from './status.js';
import { redeliverFailedDialog } from './recover.js';

const PAGE = 20;
const POLL_MS = 1500;
// Per webhook, the pages walked so far: page k was read with `cursor` and handed out `next`.
const trails = new Map();
const MAX_POLLS = 200;

function parsePayload(text) {
  try {
    const value = JSON.parse(text);
    return { value, pretty: JSON.stringify(value, null, 2) };
  } catch {
    return { value: null, pretty: text };
  }
}

const OUTCOMES = {
  success: 'Delivered', http_error: 'HTTP error', timeout: 'Timed out', network: 'Network error',
  blocked: 'Blocked', interrupted: 'Interrupted',
};

/** One attempt, after GitHub's request/response view: what came back, headers and body as text. */
function attemptItem(a) {
  const failed = a.outcome !== 'success';
  const headline = [
    `Attempt ${a.number}`,
    a.statusCode ? `HTTP ${a.statusCode}` : OUTCOMES[a.outcome] ?? a.outcome,
    a.durationMs == null ? null : `${a.durationMs} ms`,
  ].filter(Boolean).join(' · ');
  return h('li', { 'data-attempt': a.number, 'data-outcome': a.outcome },
    h('details', { class: 'attempt' },
      h('summary', {},
        h('span', { class: `status-label ${failed ? 'failed' : 'sent'}` }, headline), ' ',
        h('span', { class: 'muted' }, time(a.startedAt), a.worker ? ` on ${a.worker}` : '')),
      h('div', { class: 'attempt-body' },
        a.error ? h('p', { class: 'attempt-error' }, a.error) : null,
        h('h4', {}, 'Response headers'),
        a.responseHeaders.length === 0
          ? h('p', { class: 'muted' }, 'None.')
          : h('table', { class: 'attempts' },
            h('tbody', {}, a.responseHeaders.map((x) => h('tr', {}, h('th', { class: 'mono' }, x.name), h('td', { class: 'mono' }, x.value))))),
        h('h4', {}, 'Response body'),
        a.responseBody == null || a.responseBody === ''
          ? h('p', { class: 'muted' }, a.responseBody == null ? 'No response.' : 'Empty.')
          : h('pre', { class: 'response-body', tabindex: '0' }, a.responseBody))));
}

function deliveryItem(e, open, redeliver) {
  const state = classify(e);
  const { value, pretty } = parsePayload(e.payload);
  const trigger = typeof value?.event?.event_name === 'string' ? value.event.event_name : 'unknown event';
  const retries = `${e.retryCount} retr${e.retryCount === 1 ? 'y' : 'ies'}`;
  const button = h('button', { type: 'button', class: 'button', 'data-action': 'redeliver' }, 'Redeliver');
  button.addEventListener('click', () => busy(button, () => redeliver(e)));
  const details = h('details', { class: 'delivery', open },
    h('summary', {},
      h('span', { class: 'actions' }, plainIcon(state), statusLabel(state)),
      h('span', { class: 'd-trigger' }, trigger),
      h('span', { class: 'd-info' }, e.statusInfo),
      h('span', { class: 'd-when' }, time(e.lastUpdate))),
    h('div', { class: 'd-body' },
      h('dl', {},
        h('dt', {}, 'Event'), h('dd', { class: 'mono' }, e.id),
        h('dt', {}, 'Status'), h('dd', {}, `${state.label} (status ${e.status}), ${retries}`),
        h('dt', {}, 'Trigger'), h('dd', { class: 'mono' }, trigger),
        h('dt', {}, 'Last update'), h('dd', {}, time(e.lastUpdate)),
        h('dt', {}, 'Last attempt'), h('dd', { class: 'status-info' }, e.statusInfo)),
      Array.isArray(e.attempts) ? [
        h('h3', {}, `Attempts (${e.attempts.length})`),
        e.attempts.length === 0
          ? h('p', { class: 'muted' }, 'None yet.')
          : h('ol', { class: 'attempt-list' }, e.attempts.map(attemptItem)),
      ] : null,
      h('h3', {}, 'Payload'),
      h('pre', { class: 'payload', tabindex: '0', 'aria-label': `Payload of event ${e.id}` }, pretty),
      h('div', { class: 'actions' }, button)));
  return h('li', { 'data-id': e.id, 'data-status': state.kind, 'data-event-status': e.status }, details);
}

/** The route of page `page` of a webhook's deliveries, read with `cursor`. */
function pageRoute(streamId, webhookId, page, cursor) {
  return page <= 1 || !cursor
    ? route('streams', streamId, 'webhooks', webhookId)
    : route('streams', streamId, 'webhooks', webhookId, 'page', String(page), cursor);
}

export async function deliveriesScreen(ctx, streamId, webhookId, requestedPage, requestedCursor) {
  const cursor = requestedCursor || null;
  const page = cursor ? Math.max(2, requestedPage || 2) : 1;
  // The walk so far, if this page is where its last page led; a walk of its own otherwise.
  const before = trails.get(webhookId) ?? [];
  const trail = page > 1 && before[page - 1]?.next === cursor ? before.slice(0, page) : [];
  const here = { cursor, next: null };
  trail[page] = here;
  trails.set(webhookId, trail);
  const n = notice();
  const list = h('ul', { class: 'deliveries', id: 'deliveries', 'aria-label': 'Recent deliveries' });
  const empty = h('p', { class: 'empty card', id: 'no-deliveries' }, 'Nothing has been sent yet. Ping the webhook to send a test event.');
  const pageInfo = h('span', { class: 'muted' });
  // The page before this one, if this walk came through it; else the newest events.
  const previous = trail[page - 1];
  const newerHref = previous ? pageRoute(streamId, webhookId, page - 1, previous.cursor) : pageRoute(streamId, webhookId, 1, null);
  const newer = h('a', { class: 'button', href: newerHref, id: 'newer' }, '← Newer');
  const older = h('a', { class: 'button', href: pageRoute(streamId, webhookId, 1, null), id: 'older' }, 'Older →');
  const items = new Map();
  let timer = null;
  let polls = 0;
  ctx.onLeave(() => clearTimeout(timer));

  async function redeliver(e) {
    try {
      const id = (await gql(Q.redeliver, { e: { id: e.id, webhookId, streamId } })).webhookEventRedeliver;
      n.ok(`Sent event ${e.id} again as event ${id}.`);
      await afterSend();
    } catch (err) {
      n.error(err);
    }
  }

  async function afterSend() {
    if (page !== 1) location.hash = route('streams', streamId, 'webhooks', webhookId);
    else await refresh();
  }

  async function refresh() {
    clearTimeout(timer);
    const d = await gql(Q.deliveries, { stream: streamId, id: webhookId, limit: PAGE, cursor });
    if (!ctx.alive()) return null;
    const w = d.stream?.webhooks?.items?.[0];
    if (!w) throw new Error(`There is no webhook ${webhookId} on stream ${streamId}.`);
    const total = w.history?.totalCount ?? 0;
    const events = (w.history?.items ?? []).filter(Boolean);
    const next = w.history?.cursor ?? null;
    here.next = next;
    const pages = Math.max(page, Math.ceil(total / PAGE));
    pageInfo.textContent = `Page ${page} of ${pages} · ${total} event${total === 1 ? '' : 's'}`;
    newer.hidden = page <= 1;
    older.hidden = !next;
    if (next) older.setAttribute('href', pageRoute(streamId, webhookId, page + 1, next));
    empty.hidden = events.length > 0;
    list.hidden = events.length === 0;
    const keep = new Set();
    let previous = null;
    for (const e of events) {
      const sig = JSON.stringify(e);
      let entry = items.get(e.id);
      if (!entry || entry.sig !== sig) {
        const li = deliveryItem(e, entry?.li.querySelector('details').open ?? false, redeliver);
        if (entry) entry.li.replaceWith(li);
        entry = { li, sig };
        items.set(e.id, entry);
      }
      if (entry.li.previousElementSibling !== previous || entry.li.parentNode !== list) {
        if (previous) previous.after(entry.li);
        else list.prepend(entry.li);
      }
      previous = entry.li;
      keep.add(e.id);
    }
    for (const [id, entry] of items) {
      if (!keep.has(id)) {
        entry.li.remove();
        items.delete(id);
      }
    }
    const waiting = events.some((e) => e.status === 0 || e.status === 1);
    if (waiting && polls < MAX_POLLS) {
      polls += 1;
      timer = setTimeout(() => refresh().catch((err) => n.error(err)), POLL_MS);
    } else if (!waiting) {
      polls = 0;
    }
    return w;
  }

  const [names, w] = await Promise.all([webhookTriggers(), refresh()]);
  if (!w) return;
  const select = h('select', { id: 'ping-trigger' },
    names.map((t) => h('option', { value: t, selected: t === (w.triggers[0] ?? names[0]) }, t)));
  const ping = h('button', { type: 'submit', class: 'button primary', id: 'ping' }, 'Ping');
  const pingForm = h('form', {
    class: 'ping', novalidate: true,
    on: {
      submit: (e) => {
        e.preventDefault();
        return busy(ping, async () => {
          try {
            const id = (await gql(Q.ping, { w: { id: webhookId, streamId, trigger: select.value } })).webhookPing;
            n.ok(`Ping sent as event ${id} (${select.value}).`);
            await afterSend();
          } catch (err) {
            n.error(err);
          }
        });
      },
    },
  }, h('div', { class: 'field' }, h('label', { for: select.id }, 'Send a test event'), select), ping);

  const disabledNote = w.enabled === false
    ? h('p', { id: 'webhook-disabled' }, h('span', { class: 'badge off' }, 'Disabled'), ' Pings and redeliveries are still sent.')
    : null;
  // After an outage: every delivery that failed for good since a time, sent again.
  const recover = h('button', {
    type: 'button', class: 'button', id: 'redeliver-failed',
    on: {
      click: async () => {
        const result = await redeliverFailedDialog(streamId, w);
        if (!result) return;
        const more = result.moreRemain ? ` More than ${result.limit} had failed: run it again for the rest.` : '';
        const enabled = result.enabled ? ' The webhook is enabled again.' : '';
        n.ok(`Queued ${result.queued} failed ${result.queued === 1 ? 'delivery' : 'deliveries'} again; they update below as they are sent.${enabled}${more}`);
        if (result.enabled) {
          w.enabled = true;
          if (disabledNote) disabledNote.hidden = true;
        }
        await afterSend();
      },
    },
  }, 'Redeliver failed…');

  const back = route('streams', streamId);
  ctx.show(`Recent deliveries · ${w.description || w.url}`,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/' }, 'Your streams'), ' › ', h('a', { href: back }, 'Webhooks'), ' › ', w.description || w.url),
    h('div', { class: 'head' },
      h('div', {},
        h('h1', { tabindex: '-1' }, 'Recent deliveries'),
        h('p', { class: 'break', id: 'webhook-title' }, h('strong', {}, w.description || w.url)),
        w.description ? h('p', { class: 'mono break muted', id: 'webhook-url' }, w.url) : null,
        disabledNote),
      h('div', { class: 'actions' },
        h('a', { class: 'button', href: route('streams', streamId, 'webhooks', webhookId, 'edit') }, 'Edit'),
        h('button', { type: 'button', class: 'button', id: 'refresh', on: { click: (e) => busy(e.target, () => refresh().catch((err) => n.error(err))) } }, 'Refresh'))),
    n.el,
    h('section', { class: 'panel', 'aria-label': 'Ping' }, pingForm),
    h('div', { class: 'actions recover' }, recover,
      h('span', { class: 'hint' }, 'After an outage: send again every delivery that failed for good since a time you choose.')),
    list, empty,
    h('div', { class: 'pager' }, newer, pageInfo, older));
}
