// "Redeliver failed…" under Recent deliveries: after an outage, every delivery of this webhook
// that failed for good since a chosen time (24 hours ago unless changed) is sent again as itself
// (the same delivery id), through `webhookRedeliverFailed`. The dialog counts them first with a
// dry run of the same mutation, so its confirmation says how many; a disabled webhook is
// re-enabled only if its box is ticked (without it the server refuses, and says why).

import { h } from './dom.js';
import { gqlAnswer, Q } from './api.js';

const DAY_MS = 24 * 3600 * 1000;

/** `date` as a datetime-local input's value: local time, to the minute. */
function localValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function deliveries(n) {
  return `${n} ${n === 1 ? 'delivery' : 'deliveries'}`;
}

/** The answer's note on the call: `{queued, limit, moreRemain}`. */
function noteOf(answer) {
  return answer.extensions?.webhookRedeliverFailed?.[0] ?? {};
}

/**
 * Asks for a time and, with its count, for a confirmation; queues the failed deliveries of `w`
 * since then. Resolves with `{queued, moreRemain, limit, enabled}` once queued, or null if
 * cancelled.
 */
export function redeliverFailedDialog(streamId, w) {
  return new Promise((resolve) => {
    const since = h('input', {
      type: 'datetime-local', id: 'redeliver-since', required: true,
      value: localValue(new Date(Date.now() - DAY_MS)),
    });
    const enable = h('input', { type: 'checkbox', id: 'redeliver-enable' });
    const count = h('p', { id: 'redeliver-count', role: 'status', 'aria-live': 'polite' }, 'Counting…');
    const problem = h('p', { class: 'notice error', id: 'redeliver-error', role: 'alert', hidden: true });
    const yes = h('button', { type: 'button', class: 'button primary', id: 'redeliver-yes', disabled: true }, 'Redeliver');
    const no = h('button', { type: 'button', class: 'button', id: 'redeliver-no' }, 'Cancel');
    const disabled = w.enabled === false;
    const dialog = h('dialog', { 'aria-labelledby': 'redeliver-title', id: 'redeliver-dialog' },
      h('h2', { id: 'redeliver-title' }, 'Redeliver failed deliveries'),
      h('p', {}, 'Every delivery to this URL that failed for good since the time below is sent again as itself (the same delivery id, so receivers can tell), with a fresh retry schedule.'),
      h('div', { class: 'field' }, h('label', { for: since.id }, 'Failed since (your local time)'), since),
      disabled ? h('label', { class: 'check field', for: enable.id }, enable,
        'Re-enable this webhook: it is disabled, so without this nothing is sent (once enabled it sends new events again too)') : null,
      count, problem,
      h('div', { class: 'actions' }, yes, no));

    let asked = 0;
    const when = () => new Date(since.value);
    function showProblem(err) {
      problem.hidden = false;
      problem.textContent = err instanceof Error ? err.message : String(err);
    }
    async function recount() {
      asked += 1;
      const mine = asked;
      yes.disabled = true;
      problem.hidden = true;
      const t = when();
      if (Number.isNaN(t.getTime())) {
        count.textContent = 'Choose a date and time.';
        return;
      }
      count.textContent = 'Counting…';
      try {
        const answer = await gqlAnswer(Q.redeliverFailed, { w: { id: w.id, streamId, since: t.toISOString(), dryRun: true } });
        if (mine !== asked) return;
        const n = answer.data.webhookRedeliverFailed;
        const note = noteOf(answer);
        count.textContent = n === 0
          ? `No delivery failed for good since ${t.toLocaleString()}.`
          : `${deliveries(n)} failed for good since ${t.toLocaleString()} and will be sent again.` +
            (note.moreRemain ? ` More than ${note.limit} failed: this sends the oldest ${note.limit}; run it again for the rest.` : '');
        yes.textContent = n === 0 ? 'Redeliver' : `Redeliver ${deliveries(n)}`;
        yes.disabled = n === 0;
      } catch (err) {
        if (mine !== asked) return;
        count.textContent = '';
        showProblem(err);
      }
    }
    function done(result) {
      asked += 1;
      dialog.close();
      dialog.remove();
      resolve(result);
    }
    since.addEventListener('change', recount);
    no.addEventListener('click', () => done(null));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(null);
    });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      problem.hidden = true;
      try {
        const answer = await gqlAnswer(Q.redeliverFailed, {
          w: { id: w.id, streamId, since: when().toISOString(), enable: disabled && enable.checked },
        });
        const note = noteOf(answer);
        done({ queued: answer.data.webhookRedeliverFailed, moreRemain: Boolean(note.moreRemain), limit: note.limit, enabled: disabled && enable.checked });
      } catch (err) {
        showProblem(err);
        yes.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    since.focus();
    recount();
  });
}
