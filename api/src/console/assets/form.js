// Creating and editing a webhook: the fields of seed 001 (URL, description, secret, triggers,
// enabled). The secret is write-only, as in the API: the form says whether one is set and offers
// to set a new one or clear it, never showing it. Trigger boxes come from the server's list.

import { busy, h, notice, route, setFlash, uid } from './dom.js';
import { gql, Q, webhookTriggers } from './api.js';

const STREAM = 'query ConsoleStream($stream: String!) { stream(id: $stream) { id name } }';

function field(label, input, hint) {
  const hintId = hint ? uid('hint') : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h('div', { class: 'field' },
    h('label', { for: input.id }, label), input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

function triggerBoxes(names, chosen) {
  const boxes = names.map((t) => h('input', { type: 'checkbox', value: t, id: `trigger-${t}`, checked: chosen.has(t) }));
  const all = (on) => () => boxes.forEach((b) => { b.checked = on; });
  const fieldset = h('fieldset', { id: 'wh-triggers' },
    h('legend', {}, 'Triggers'),
    h('p', { class: 'hint' }, 'The events on this stream that send a request.'),
    h('div', { class: 'checks' }, boxes.map((b) => h('label', { class: 'check', for: b.id }, b, h('span', {}, b.value)))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'button', on: { click: all(true) } }, 'Select all'),
      h('button', { type: 'button', class: 'button', on: { click: all(false) } }, 'Clear all')));
  return { fieldset, chosen: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

export async function formScreen(ctx, streamId, webhookId) {
  const editing = webhookId !== null;
  const [names, d] = await Promise.all([
    webhookTriggers(),
    editing ? gql(Q.webhook, { stream: streamId, id: webhookId }) : gql(STREAM, { stream: streamId }),
  ]);
  if (!ctx.alive()) return;
  const stream = d.stream;
  if (!stream) throw new Error(`There is no stream ${streamId}.`);
  const w = editing ? stream.webhooks.items[0] : null;
  if (editing && !w) throw new Error(`Stream ${stream.name} has no webhook ${webhookId}.`);

  const n = notice();
  const url = h('input', { type: 'url', id: 'wh-url', required: true, value: w?.url ?? '', placeholder: 'https://example.com/webhook', autocomplete: 'off' });
  const description = h('textarea', { id: 'wh-description', maxlength: '1024' });
  description.value = w?.description ?? '';
  const secret = h('input', { type: 'password', id: 'wh-secret', autocomplete: 'new-password', maxlength: '256' });
  const clear = h('input', { type: 'checkbox', id: 'wh-clear-secret', on: { change: () => { secret.disabled = clear.checked; } } });
  const enabled = h('input', { type: 'checkbox', id: 'wh-enabled', checked: w ? w.enabled !== false : true });
  // A stored trigger the server no longer lists stays visible, so saving does not drop it silently.
  const all = [...names, ...(w?.triggers ?? []).filter((t) => !names.includes(t))];
  const triggers = triggerBoxes(all, new Set(w?.triggers ?? []));

  const secretPart = editing
    ? h('fieldset', { id: 'wh-secret-set' },
      h('legend', {}, 'Secret'),
      h('p', { class: 'secret-state', id: 'wh-secret-state' },
        w.hasSecret ? 'A secret is set. It is never shown again.' : 'No secret is set.'),
      field(w.hasSecret ? 'Replace it with' : 'Set a secret', secret, 'Leave empty to keep things as they are.'),
      w.hasSecret ? h('label', { class: 'check', for: clear.id }, clear, 'Clear the secret (requests are then signed with an empty key)') : null)
    : field('Secret (optional)', secret,
      'Requests carry X-WEBHOOK-SIGNATURE, an HMAC-SHA256 of the payload with this secret, so your receiver can check they came from here.');

  const save = h('button', { type: 'submit', class: 'button primary', id: 'wh-save' }, editing ? 'Save changes' : 'Create webhook');
  const back = route('streams', streamId);

  async function submit(e) {
    e.preventDefault();
    const chosen = triggers.chosen();
    if (!url.value.trim()) return n.error('The URL is required.');
    if (chosen.length === 0) return n.error('Choose at least one trigger.');
    const input = { streamId, url: url.value.trim(), description: description.value, triggers: chosen, enabled: enabled.checked };
    if (editing) {
      input.id = w.id;
      if (clear.checked) input.secret = '';
      else if (secret.value) input.secret = secret.value;
    } else {
      if (!input.description) input.description = null;
      if (secret.value) input.secret = secret.value;
    }
    await busy(save, async () => {
      try {
        await gql(editing ? Q.update : Q.create, { w: input });
        setFlash(editing ? 'Saved the webhook.' : `Created a webhook for ${input.url}.`);
        location.hash = back;
      } catch (err) {
        n.error(err);
      }
    });
  }

  const title = editing ? 'Edit webhook' : 'New webhook';
  ctx.show(`${title} · ${stream.name}`,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/' }, 'Your streams'), ' › ', h('a', { href: back }, stream.name), ' › ', title),
    h('form', { class: 'card form', id: 'webhook-form', novalidate: true, on: { submit } },
      h('h1', { tabindex: '-1' }, title),
      n.el,
      field('URL', url, 'Where the POST requests go (http or https).'),
      field('Description', description, 'Optional; shown in the list of webhooks.'),
      secretPart,
      triggers.fieldset,
      h('div', { class: 'field' }, h('label', { class: 'check', for: enabled.id }, enabled, 'Enabled (send requests when a trigger happens)')),
      h('div', { class: 'actions' }, save, h('a', { class: 'button', href: back }, 'Cancel'))));
}
