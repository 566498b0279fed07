// The console's entry point: the session (sign in with a personal access token, sign out) and a
// router over `#/…` routes. Routes live in the fragment so the server serves one page and a
// reload keeps the place; only ids ever appear in them, never the token.

import { h, notice } from './dom.js';
import * as api from './api.js';
import { streamsScreen } from './streams.js';
import { webhooksScreen } from './webhooks.js';
import { formScreen } from './form.js';
import { deliveriesScreen } from './deliveries.js';

const main = document.getElementById('main');
const session = document.getElementById('session');
const who = document.getElementById('who');
let me = null;
let generation = 0;
let leaving = [];

const ROUTES = [
  [/^\/?$/, (s) => streamsScreen(s)],
  [/^\/streams\/([^/]+)$/, (s, [stream]) => webhooksScreen(s, stream)],
  [/^\/streams\/([^/]+)\/new$/, (s, [stream]) => formScreen(s, stream, null)],
  [/^\/streams\/([^/]+)\/webhooks\/([^/]+)\/edit$/, (s, [stream, id]) => formScreen(s, stream, id)],
  [/^\/streams\/([^/]+)\/webhooks\/([^/]+)(?:\/page\/(\d+)\/([^/]+))?$/,
    (s, [stream, id, page, cursor]) => deliveriesScreen(s, stream, id, Number(page ?? 1), cursor ?? null)],
];

/** What a screen gets: where to draw, and whether it is still the current screen (a slow answer
 * must not draw over the page the user has moved on to). */
function screenContext() {
  generation += 1;
  const mine = generation;
  for (const fn of leaving) fn();
  leaving = [];
  return {
    me,
    alive: () => mine === generation,
    onLeave: (fn) => leaving.push(fn),
    show(title, ...nodes) {
      if (mine !== generation) return;
      document.title = `${title} · streamhooks console`;
      main.replaceChildren(...nodes);
      main.querySelector('h1')?.focus({ preventScroll: true });
    },
    reload: () => route(),
  };
}

async function route() {
  if (!me) return;
  const ctx = screenContext();
  const path = location.hash.replace(/^#/, '');
  for (const [pattern, screen] of ROUTES) {
    const m = pattern.exec(path);
    if (!m) continue;
    let args;
    try {
      args = m.slice(1).map((v) => (v === undefined ? undefined : decodeURIComponent(v)));
    } catch {
      break;
    }
    try {
      await screen(ctx, args);
    } catch (e) {
      failed(ctx, e);
    }
    return;
  }
  ctx.show('Not found', h('h1', { tabindex: '-1' }, 'Nothing here'),
    h('p', {}, 'This console page does not exist. ', h('a', { href: '#/' }, 'Back to your streams')));
}

/** A screen that could not load: the server's sentence, and a way back. */
function failed(ctx, e) {
  const n = notice();
  n.error(e);
  ctx.show('Error', h('h1', { tabindex: '-1' }, 'Could not load this page'), n.el,
    h('p', {}, h('a', { href: '#/' }, 'Back to your streams')));
}

function signInScreen(message) {
  screenContext();
  session.hidden = true;
  const n = notice();
  if (message) n.error(message);
  const input = h('input', {
    type: 'password', id: 'token', autocomplete: 'off', spellcheck: 'false', required: true,
    'aria-describedby': 'token-hint',
  });
  const button = h('button', { type: 'submit', class: 'button primary', id: 'sign-in' }, 'Sign in');
  const form = h('form', {
    class: 'card signin', 'aria-labelledby': 'signin-title', novalidate: true,
    on: {
      submit: async (e) => {
        e.preventDefault();
        const value = input.value.trim();
        if (!value) return n.error('Paste a personal access token first.');
        if (/[^\x21-\x7e]/.test(value)) return n.error('A token has letters and digits only; check what was pasted.');
        button.disabled = true;
        n.info('Checking the token…');
        try {
          const d = await api.gql(api.Q.me, {}, value);
          if (!d.activeUser) return n.error('The server does not know this token (or it has expired or been revoked).');
          api.signIn(value);
          startSession(d.activeUser);
        } catch (err) {
          n.error(err);
        } finally {
          button.disabled = false;
        }
      },
    },
  },
  h('h1', { id: 'signin-title', tabindex: '-1' }, 'Sign in'),
  h('p', { class: 'muted' }, 'Manage the webhooks of the streams you own. Sign in with a personal access token, e.g. the one ',
    h('code', {}, 'streamhooks user create'), ' printed, or one made with ', h('code', {}, 'apiTokenCreate'), '.'),
  n.el,
  h('div', { class: 'field' },
    h('label', { for: 'token' }, 'Personal access token'),
    input,
    h('p', { class: 'hint', id: 'token-hint' },
      'Kept in this browser tab only and sent in the Authorization header; signing out forgets it.')),
  button);
  document.title = 'Sign in · streamhooks console';
  main.replaceChildren(form);
  input.focus();
}

function startSession(user) {
  me = user;
  who.textContent = user.name;
  session.hidden = false;
  route();
}

function signOut(message) {
  api.signOut();
  me = null;
  signInScreen(message);
}

document.getElementById('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => route());

async function boot() {
  if (!api.token()) return signInScreen();
  try {
    const d = await api.gql(api.Q.me);
    if (!d.activeUser) return signOut('The saved token is no longer valid; sign in again.');
    startSession(d.activeUser);
  } catch (e) {
    signInScreen(e.message);
  }
}

boot();
