// Building the page. Every string becomes a text node or an attribute value, never markup: the
// console shows what receivers and users wrote (URLs, descriptions, response bodies, payloads),
// so there is no innerHTML anywhere, and the server's Trusted Types policy makes it throw if a
// future change tries.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'open', 'selected', 'required']);

/** `h('button', {class: 'button', on: {click}}, 'Save')`: an element with text children. */
export function h(tag, props = {}, ...children) {
  return fill(document.createElement(tag), props, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The same for SVG elements (icons). */
export function svg(tag, props = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), props, children);
}

function fill(el, props, children) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'on') {
      for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    } else if (key.startsWith('on')) {
      throw new Error(`event handlers go in "on", not the attribute ${key}`);
    } else if (key === 'href' && !/^[#/]/.test(String(value))) {
      // Only the console's own routes: a user's URL must never become a javascript: link.
      throw new Error('links point inside the console only');
    } else if (PROPERTIES.has(key)) {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

let counter = 0;
/** A page-unique id for `for=` / `aria-describedby=`. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A `#/…` route from path segments, each one URL-encoded. */
export function route(...segments) {
  return `#/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}

/** Local date and time, with the exact UTC instant in `datetime` (and on hover). */
export function time(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', {}, String(iso));
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, d.toLocaleString());
}

/** A `role=status` line that says what happened (or `role=alert` for errors). */
export function notice() {
  const el = h('div', { class: 'notice', role: 'status', 'aria-live': 'polite' });
  return {
    el,
    ok(text) { el.className = 'notice ok'; el.setAttribute('role', 'status'); el.textContent = text; },
    error(err) {
      el.className = 'notice error';
      el.setAttribute('role', 'alert');
      el.textContent = err instanceof Error ? err.message : String(err);
    },
    info(text) { el.className = 'notice'; el.setAttribute('role', 'status'); el.textContent = text; },
    clear() { el.className = 'notice'; el.textContent = ''; },
  };
}

let flash = null;
/** A sentence for the next screen to show (e.g. "Saved" after a form sends the user back). */
export function setFlash(text) {
  flash = text;
}

export function takeFlash() {
  const text = flash;
  flash = null;
  return text;
}

/** Disables `button` while `work` runs, so a double click does not send a mutation twice. */
export async function busy(button, work) {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}
