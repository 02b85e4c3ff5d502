// The app: start-up (who is logged in), the hash router, the navigation
// bars. Photo links (/p/CODE/) open the photo page; /oauth/authorize (the
// server answers it with this client) opens an app's consent page, after
// logging in or signing up if nobody is.
import { loadSession, logout, session, onAuthLost } from './api.js';
import { h, icon, avatar, errorBox, spinner, toast } from './dom.js';
import { loginPage, signupPage } from './auth.js';
import { feedPage } from './feed.js';
import { photoPage } from './media.js';
import { profilePage, mentionPage, editPage, requestsPage, followListPage } from './profile.js';
import { uploadPage } from './upload.js';
import { tagPage, placePage, popularPage, searchPage, activityPage } from './discover.js';
import { consentPage, isConsentPath } from './oauth.js';
import { developerPage } from './developer.js';
import { settingsPage } from './settings.js';

const view = document.getElementById('view');
const nav = document.getElementById('nav');

const dec = (s) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

// [pattern, name, page(view, ctx, params), public?]
const ROUTES = [
  [/^\/login$/, 'login', (v, c, p) => loginPage(v, c, p, { onLoggedIn, note: consentNote() }), true],
  [/^\/signup$/, 'signup', (v, c, p) => signupPage(v, c, p, { onLoggedIn, note: consentNote() }), true],
  [/^\/(?:feed)?$/, 'feed', feedPage],
  [/^\/u\/([^/]+)$/, 'profile', (v, c, p) => profilePage(v, c, p, { onLogout }), false, ['id']],
  [/^\/u\/([^/]+)\/liked$/, 'profile', (v, c, p) => profilePage(v, c, { ...p, tab: 'liked' }, { onLogout }), false, ['id']],
  [/^\/u\/([^/]+)\/(followers|following)$/, 'follows', followListPage, false, ['id', 'kind']],
  [/^\/@([^/]+)$/, 'profile', (v, c, p) => mentionPage(v, c, p, { onLogout }), false, ['username']],
  [/^\/m\/([^/]+)$/, 'photo', photoPage, false, ['id']],
  [/^\/tag\/([^/]+)$/, 'tag', tagPage, false, ['name']],
  [/^\/place\/([^/]+)$/, 'place', placePage, false, ['id']],
  [/^\/search$/, 'search', searchPage],
  [/^\/popular$/, 'popular', popularPage],
  [/^\/activity$/, 'activity', activityPage],
  [/^\/upload$/, 'upload', uploadPage],
  [/^\/requests$/, 'requests', requestsPage],
  [/^\/edit$/, 'edit', editPage],
  [/^\/developer$/, 'developer', developerPage],
  [/^\/settings$/, 'settings', settingsPage],
];

// the photo link this page was opened at, if any: /p/CODE/
const linkMatch = /^\/p\/([A-Za-z0-9_-]+)\/?$/.exec(location.pathname);
let shortcode = linkMatch ? linkMatch[1] : null;
// an app's consent page (/oauth/authorize?client_id=...): its query stays in location.search
const consent = isConsentPath();
let afterLogin = null;

/** What the log-in and sign-up pages say when an app sent the person here. */
function consentNote() {
  return consent ? 'Log in or sign up to continue: an app is asking to use your picogram account.' : null;
}

/** Back to the consent page: its own address, query and all, with no hash. */
function toConsent() {
  history.replaceState(null, '', location.pathname + location.search);
  route();
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '';
  const q = raw.indexOf('?');
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const query = Object.fromEntries(new URLSearchParams(q >= 0 ? raw.slice(q + 1) : ''));
  return { raw, path: path || '/', query };
}

let current = null;
function newContext() {
  if (current) {
    current.alive = false;
    for (const fn of current.cleanups) {
      try {
        fn();
      } catch {
        /* a cleanup failing must not stop the next page */
      }
    }
  }
  const state = { alive: true, cleanups: [] };
  current = state;
  return {
    alive: () => state.alive && current === state,
    onCleanup: (fn) => state.cleanups.push(fn),
    setTitle: (t) => { if (state.alive) document.title = t ? `${t} • picogram` : 'picogram'; },
  };
}

function route() {
  const { raw, path, query } = parseHash();
  let name;
  let page;
  let params = { ...query };
  let isPublic = false;
  if (consent && (raw === '' || raw === '/')) {
    name = 'consent';
    page = (v, c, p) => consentPage(v, c, p, { onLogout });
  } else if (shortcode && (raw === '' || raw === '/')) {
    name = 'photo';
    page = photoPage;
    params = { code: shortcode };
  } else {
    for (const [re, n, fn, pub, keys] of ROUTES) {
      const m = re.exec(path);
      if (!m) continue;
      name = n;
      page = fn;
      isPublic = Boolean(pub);
      (keys || []).forEach((k, i) => { params[k] = dec(m[i + 1]); });
      break;
    }
  }
  if (!page) {
    location.replace('#/feed');
    return;
  }
  if (!session.user && !isPublic) {
    afterLogin = raw && raw !== '/' ? `#${raw}` : (consent ? 'consent' : (shortcode ? 'shortcode' : null));
    location.replace('#/login');
    return;
  }
  if (session.user && isPublic) {
    if (consent) toConsent();
    else location.replace('#/feed');
    return;
  }
  render(name, page, params);
}

function render(name, page, params) {
  const ctx = newContext();
  // the consent page stands alone: no navigation bar to wander off by
  const bare = name === 'consent';
  document.body.dataset.route = name;
  document.body.classList.toggle('logged-in', Boolean(session.user) && !bare);
  paintNav(bare ? null : name, params);
  view.replaceChildren();
  view.dataset.ready = 'false';
  window.scrollTo(0, 0);
  // the link that led here was repainted away: focus goes to the page's
  // start, so the next Tab is the new page's first control, not the top
  // of the document (a page may then focus its own first field)
  if (!document.activeElement || document.activeElement === document.body) view.focus({ preventScroll: true });
  let result;
  try {
    result = page(view, ctx, params);
  } catch (err) {
    view.replaceChildren(errorBox(err.message || String(err)));
    return;
  }
  Promise.resolve(result).then(() => {
    if (ctx.alive()) view.dataset.ready = 'true';
  }, (err) => {
    if (!ctx.alive()) return;
    view.replaceChildren(errorBox(err && err.message ? err.message : String(err), () => route()));
  });
}

// ---- navigation ----

const NAV = [
  ['feed', '#/feed', 'home', 'Home'],
  ['search', '#/search', 'search', 'Search'],
  ['popular', '#/popular', 'explore', 'Popular'],
  ['upload', '#/upload', 'plus', 'New post'],
  ['activity', '#/activity', 'heart', 'Activity'],
];

function paintNav(name, params) {
  if (!session.user || !name) {
    nav.hidden = true;
    nav.replaceChildren();
    return;
  }
  const me = session.user;
  const items = NAV.map(([key, href, ic, label]) => h('a', {
    href,
    class: ['nav-item', key === name && 'active'],
    'aria-label': label,
    title: label,
    'data-testid': `nav-${key}`,
    'aria-current': key === name ? 'page' : undefined,
  }, icon(ic), h('span', { class: 'nav-label' }, label)));
  const onOwnProfile = name === 'profile' && (params.id === me.id || params.id === 'self');
  items.push(h('a', {
    href: `#/u/${me.id}`,
    class: ['nav-item', 'nav-me', onOwnProfile && 'active'],
    'aria-label': 'Profile',
    title: me.username,
    'data-testid': 'nav-profile',
  }, avatar(me, 'xs'), h('span', { class: 'nav-label' }, 'Profile')));
  nav.replaceChildren(...items);
  nav.hidden = false;
}

// ---- session ----

function onLoggedIn(user) {
  toast(`Welcome, ${user.username}`);
  // on the consent page (reloaded at #/login, say) logging in goes back to it
  const next = afterLogin || (consent ? 'consent' : null);
  afterLogin = null;
  if (next === 'consent') {
    toConsent();
  } else if (next === 'shortcode' && shortcode) {
    history.replaceState(null, '', location.pathname);
    route();
  } else if (next && next.startsWith('#/') && !/^#\/(login|signup)/.test(next)) {
    location.hash = next;
  } else if (location.hash === '#/feed') {
    route();
  } else {
    location.hash = '#/feed';
  }
}

async function onLogout() {
  try {
    await logout();
  } catch (err) {
    toast(err.message, 'error');
  }
  shortcode = null;
  afterLogin = null;
  toast('You are logged out');
  if (location.hash === '#/login') route();
  else location.hash = '#/login';
}

onAuthLost(() => {
  if (!session.user) return;
  session.user = null;
  toast('Your session has ended. Please log in again.', 'error');
  afterLogin = null;
  location.hash = '#/login';
});

async function start() {
  view.replaceChildren(spinner());
  try {
    await loadSession();
  } catch (err) {
    view.replaceChildren(errorBox(err.message, () => start()));
    return;
  }
  route();
}

window.addEventListener('hashchange', route);
start();
