// The last-request icon of seed 001: a green check (sent), a grey circle with "!" (nothing sent
// yet) and a red cross (failed, the error on hover). The icon is a button, so the tooltip also
// opens on keyboard focus and on a tap, and Escape hides it (WCAG 1.4.13).

import { h, svg, uid } from './dom.js';

/** Whether an attempt was made for a queued (status 0) event. A queued row that was never tried
 * carries the server's "Queued; …" sentence; after a failed attempt statusInfo describes that
 * attempt and when the next is due. With the attempts record, it is simply whether one exists. */
function attempted(event) {
  if (Array.isArray(event.attempts)) return event.attempts.length > 0;
  return !String(event.statusInfo ?? '').startsWith('Queued');
}

/** `{kind, label}` of one event: kind is sent, failed, pending or none. */
export function classify(event) {
  if (!event) return { kind: 'none', label: 'No requests sent yet' };
  switch (event.status) {
    case 2:
      return { kind: 'sent', label: 'Delivered' };
    case 3:
      return { kind: 'failed', label: 'Failed' };
    case 1:
      return { kind: 'pending', label: 'Being delivered' };
    default:
      return attempted(event)
        ? { kind: 'failed', label: 'Failed; will retry' }
        : { kind: 'pending', label: 'Queued; not sent yet' };
  }
}

function glyph(kind) {
  const mark = {
    sent: svg('path', { d: 'M7 12.5l3.2 3.2L17 9', fill: 'none', stroke: '#fff', 'stroke-width': '2.4', 'stroke-linecap': 'round', 'stroke-linejoin': 'round' }),
    failed: svg('path', { d: 'M8.5 8.5l7 7M15.5 8.5l-7 7', fill: 'none', stroke: '#fff', 'stroke-width': '2.4', 'stroke-linecap': 'round' }),
  }[kind] ?? [
    svg('rect', { x: '10.8', y: '6', width: '2.4', height: '8', rx: '1.2', fill: '#fff' }),
    svg('circle', { cx: '12', cy: '17.3', r: '1.4', fill: '#fff' }),
  ];
  return svg('svg', { viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' },
    svg('circle', { class: 'disc', cx: '12', cy: '12', r: '11' }), mark);
}

/** The icon with its tooltip: `title` is the state in words, `detail` the server's statusInfo. */
export function statusIcon({ kind, label }, detail, context) {
  const tipId = uid('tip');
  const wrap = h('span', { class: `status status-${kind}`, 'data-kind': kind });
  const button = h('button', {
    type: 'button',
    class: 'status-btn',
    'aria-label': context ? `${label}: ${context}` : label,
    'aria-describedby': tipId,
    'aria-expanded': 'false',
    on: {
      click: (e) => {
        e.preventDefault();
        e.stopPropagation();
        const open = wrap.classList.toggle('open');
        button.setAttribute('aria-expanded', String(open));
      },
      keydown: (e) => {
        if (e.key === 'Escape') {
          wrap.classList.remove('open');
          wrap.classList.add('dismissed');
          button.setAttribute('aria-expanded', 'false');
        }
      },
      blur: () => {
        wrap.classList.remove('open', 'dismissed');
        button.setAttribute('aria-expanded', 'false');
      },
    },
  }, glyph(kind));
  const tip = h('span', { class: 'tip', role: 'tooltip', id: tipId }, h('strong', {}, label), detail ? String(detail) : null);
  wrap.addEventListener('mouseleave', () => wrap.classList.remove('dismissed'));
  wrap.append(button, tip);
  return wrap;
}

/** The icon alone, for places that show the words beside it (inside a delivery's summary,
 * where a button would be a control nested in a control). */
export function plainIcon({ kind, label }) {
  return h('span', { class: `status status-${kind}`, 'data-kind': kind, role: 'img', 'aria-label': label },
    glyph(kind));
}

/** The state in words beside an icon, for lists where the words matter as much as the colour. */
export function statusLabel({ kind, label }) {
  return h('span', { class: `status-label ${kind}` }, label);
}
