// A tiny element helper and the small widgets every page uses.
//
// Everything that comes from the server or a user goes into the page as
// text (textContent / text nodes), never as markup: no innerHTML anywhere.
// The Content-Security-Policy forbids inline styles, so nothing here sets
// a style attribute; looks are CSS classes in /app.css.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h('div', {class: 'x', 'data-testid': 'y', onclick: fn, hidden: true}, child, ...)
 * Children may be strings (made text nodes), nodes, arrays, or null/false (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'style') throw new Error('no inline styles (CSP)');
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'disabled' || k === 'selected') {
      el[k] = Boolean(v);
      if (v) el.setAttribute(k, '');
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Empties el and fills it with children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// ---- icons (inline SVG built with createElementNS) ----

const ICONS = {
  home: ['M3 10.5 12 3l9 7.5V21a1 1 0 0 1-1 1h-5v-7h-6v7H4a1 1 0 0 1-1-1z'],
  search: ['M10.5 3a7.5 7.5 0 1 0 0 15 7.5 7.5 0 0 0 0-15z', 'M16 16l5.5 5.5'],
  plus: ['M4 4h16v16H4z', 'M12 8v8', 'M8 12h8'],
  explore: ['M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z', 'M15.5 8.5 13.5 13.5 8.5 15.5 10.5 10.5z'],
  heart: ['M12 20.5S3 15 3 8.9A4.9 4.9 0 0 1 12 6.2a4.9 4.9 0 0 1 9 2.7C21 15 12 20.5 12 20.5z'],
  comment: ['M20.6 16.6A9 9 0 1 0 17 20.3L21.5 21.5z'],
  user: ['M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9z', 'M3.5 21.5a8.5 8.5 0 0 1 17 0'],
  pin: ['M12 21.5s-7-6.2-7-11.5a7 7 0 0 1 14 0c0 5.3-7 11.5-7 11.5z', 'M12 7.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z'],
  lock: ['M6 10.5h12v10H6z', 'M8.5 10.5V7a3.5 3.5 0 0 1 7 0v3.5'],
  image: ['M3.5 4.5h17v15h-17z', 'M3.5 16l5-5 4 4 3-3 5 5', 'M15.5 8.5a1 1 0 1 0 0 .1'],
  trash: ['M4 6.5h16', 'M9 6.5V4h6v2.5', 'M6 6.5l1 14h10l1-14'],
  check: ['M4.5 12.5l5 5L19.5 7'],
  key: ['M8 16a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M12 12h9', 'M18 12v3', 'M21 12v2'],
};

export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon icon-${name} ${cls}`.trim());
  for (const d of ICONS[name] || []) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

// ---- text ----

// #tags (letters, digits, _) and @mentions (letters, digits, _ and inner dots)
const TOKEN = /([#@])([\p{L}\p{N}_]+(?:\.[\p{L}\p{N}_]+)*)/gu;

/**
 * A caption or comment as a fragment of text nodes, with #tags and
 * @mentions made links. The text is never parsed as HTML.
 */
export function richText(text) {
  const frag = document.createDocumentFragment();
  const s = String(text ?? '');
  let last = 0;
  for (const m of s.matchAll(TOKEN)) {
    const before = m.index > 0 ? s[m.index - 1] : '';
    // "a#b" and "me@mail.com" are not tags or mentions
    if (before && /[\p{L}\p{N}_]/u.test(before)) continue;
    if (m.index > last) frag.append(document.createTextNode(s.slice(last, m.index)));
    const [whole, sigil, name] = m;
    const href = sigil === '#' ? `#/tag/${encodeURIComponent(name.toLowerCase())}` : `#/@${encodeURIComponent(name)}`;
    frag.append(h('a', { href, class: sigil === '#' ? 'hashtag' : 'mention' }, whole));
    last = m.index + whole.length;
  }
  if (last < s.length) frag.append(document.createTextNode(s.slice(last)));
  return frag;
}

/**
 * A photo's text alternative: its owner and caption ("Photo by ada:
 * Fog over the bridge"), or the owner alone.
 */
export function photoAlt(media, max = 200) {
  const who = media.user && media.user.username ? media.user.username : 'someone';
  const text = media.caption && media.caption.text ? media.caption.text.trim().slice(0, max) : '';
  return text ? `Photo by ${who}: ${text}` : `Photo by ${who}`;
}

/** Only http(s) URLs may become links or images (no javascript: or data:). */
export function safeUrl(url) {
  try {
    const u = new URL(String(url), location.href);
    return u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'blob:' ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * An <img> for a photo URL from the API. The URLs are absolute on the
 * server's public_url; if the page was opened under another host name the
 * same path on this origin is tried once.
 */
export function photoImg(url, attrs = {}) {
  const src = safeUrl(url);
  const img = h('img', { alt: '', decoding: 'async', ...attrs, src: src || undefined });
  img.addEventListener('error', () => {
    if (img.dataset.retried || !src) return;
    const u = new URL(src);
    if (u.origin === location.origin) return;
    img.dataset.retried = '1';
    img.src = u.pathname;
  }, { once: false });
  return img;
}

export function plural(n, one, many = `${one}s`) {
  const v = Number(n) || 0;
  return `${v.toLocaleString('en-US')} ${v === 1 ? one : many}`;
}

/** "just now", "5m", "3h", "2d", or a date. */
export function timeAgo(createdTime, long = false) {
  const t = Number(createdTime) * 1000;
  if (!t) return '';
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 45) return 'just now';
  const steps = [[3600, 60, 'm', 'minute'], [86400, 3600, 'h', 'hour'], [604800, 86400, 'd', 'day'], [4838400, 604800, 'w', 'week']];
  for (const [below, secs, short, word] of steps) {
    if (s < below) {
      const n = Math.max(1, Math.floor(s / secs));
      return long ? `${n} ${word}${n === 1 ? '' : 's'} ago` : `${n}${short}`;
    }
  }
  return new Date(t).toLocaleDateString('en-US', { month: 'short', day: 'numeric', year: 'numeric' });
}

export function timeEl(createdTime, cls = 'ago') {
  const t = Number(createdTime) * 1000;
  return h('time', { class: cls, datetime: t ? new Date(t).toISOString() : undefined }, timeAgo(createdTime, true));
}

// ---- users ----

function hashIndex(s, n) {
  let x = 0;
  for (const c of String(s)) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x % n;
}

/** A round avatar: the profile picture, or the first letter on a colour. */
export function avatar(user, size = 'sm') {
  const u = user || {};
  const pic = u.profile_picture ? safeUrl(u.profile_picture) : null;
  if (pic) return photoImg(pic, { class: `avatar avatar-${size}`, alt: '' });
  const letter = (String(u.username || '?').match(/[\p{L}\p{N}]/u) || ['?'])[0].toUpperCase();
  return h('span', { class: `avatar avatar-${size} av${hashIndex(u.id || u.username || '', 8)}`, 'aria-hidden': 'true' }, letter);
}

export function userLink(user, cls = 'username') {
  return h('a', { class: cls, href: `#/u/${encodeURIComponent(user.id)}` }, user.username);
}

/** A row for a user in a list: avatar, username, full name, and extra nodes at the end. */
export function userRow(user, ...extra) {
  return h('li', { class: 'user-row', 'data-testid': 'user-row', 'data-username': user.username },
    h('a', { class: 'user-row-main', href: `#/u/${encodeURIComponent(user.id)}` },
      avatar(user, 'md'),
      h('span', { class: 'user-row-names' },
        h('span', { class: 'username' }, user.username),
        user.full_name ? h('span', { class: 'muted' }, user.full_name) : null)),
    extra.length ? h('span', { class: 'user-row-actions' }, extra) : null);
}

// ---- feedback ----

const announced = {};
/**
 * Says message to screen readers: in the polite live region (#live), or,
 * if urgent (errors), the assertive one (#live-alert). The region is
 * emptied first, so the same message said twice is announced twice.
 */
export function announce(message, urgent = false) {
  const id = urgent ? 'live-alert' : 'live';
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = '';
  clearTimeout(announced[id]);
  announced[id] = setTimeout(() => { el.textContent = message; }, 50);
}

let toastTimer = 0;
/** A message shown for a moment (the toast is seen; announce() says it). */
export function toast(message, kind = 'info') {
  announce(message, kind === 'error');
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.className = `toast toast-${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 3500);
}

/** An error box (role=alert) with an optional retry button. */
export function errorBox(message, retry) {
  return h('div', { class: 'error-box', role: 'alert', 'data-testid': 'error' },
    h('p', null, message),
    retry ? h('button', { type: 'button', class: 'btn btn-secondary', onclick: retry }, 'Try again') : null);
}

export function spinner(label = 'Loading…') {
  return h('div', { class: 'spinner-wrap', 'data-testid': 'loading', role: 'status' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { class: 'sr-only' }, label));
}

/**
 * Runs fn() with the button disabled and showing a spinner (aria-busy),
 * then restores it. Returns what fn returns (or rethrows).
 */
export async function busy(button, fn, busyText) {
  const old = button.textContent;
  const focused = document.activeElement === button; // disabling it takes focus away: given back after
  button.disabled = true;
  button.classList.add('is-busy');
  button.setAttribute('aria-busy', 'true');
  if (busyText) button.textContent = busyText;
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.classList.remove('is-busy');
    button.removeAttribute('aria-busy');
    if (busyText) button.textContent = old;
    if (focused && button.isConnected) button.focus();
  }
}

/** A form field: label + input (or the given control). */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint ? h('p', { class: 'hint' }, hint) : null);
}
