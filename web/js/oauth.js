// The consent page of third-party apps (OAuth2). An app sends the browser
// to /oauth/authorize?client_id=..&redirect_uri=..&response_type=..&scope=..
// &state=..; the server checks the app and its redirect URI and answers
// this client, which (once someone is logged in) asks the server what the
// app wants (GET /web/oauth/app with the same query) and shows it. Allow and
// Deny are a real form posted to /oauth/authorize (not fetch): the server
// answers with a redirect to the app, which the browser follows.
import { get, session, csrfTokenValue } from './api.js';
import { h, replace, spinner, errorBox, safeUrl, busy, icon } from './dom.js';

/** What each scope lets an app do, as "<app> wants to …". */
export const SCOPE_TEXT = {
  basic: 'see your profile, photos, follows and followers',
  comments: 'post and delete comments as you',
  relationships: 'follow and unfollow people as you',
  likes: 'like and unlike photos as you',
};

const SCOPE_ORDER = ['basic', 'likes', 'comments', 'relationships'];

const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** The scopes in a stable order (the ones this client does not know last). */
export function sortScopes(scopes) {
  const list = Array.isArray(scopes) ? [...new Set(scopes.map(String))] : [];
  const rank = (s) => {
    const i = SCOPE_ORDER.indexOf(s);
    return i < 0 ? SCOPE_ORDER.length : i;
  };
  return list.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** A list of what the scopes allow, one item a scope. */
export function scopeList(scopes, testid) {
  return h('ul', { class: 'scope-list', 'data-testid': testid },
    sortScopes(scopes).map((s) => h('li', { class: 'scope', 'data-scope': s },
      icon('check'), h('span', null, capitalize(SCOPE_TEXT[s] || `use the "${s}" permission`)))));
}

/** Whether this page was opened as the consent page (/oauth/authorize or /oauth/authorize/). */
export const isConsentPath = () => /^\/oauth\/authorize\/?$/.test(location.pathname);

/** Where a redirect URI leads, for people: its host, or its scheme for an app's own ("myapp:"). */
function destination(uri) {
  try {
    const u = new URL(uri);
    return u.host || u.protocol;
  } catch {
    return '';
  }
}

export async function consentPage(view, ctx, params, { onLogout }) {
  ctx.setTitle('Authorize an app');
  const query = new URLSearchParams(location.search);
  view.append(spinner());
  let info;
  try {
    // the server checks the same parameters again, and says what the app is and asks
    ({ data: info } = await get(`/web/oauth/app${location.search}`));
  } catch (err) {
    if (!ctx.alive()) return;
    replace(view, h('div', { class: 'page page-narrow page-consent', 'data-testid': 'consent-page' },
      h('h1', { class: 'page-title' }, 'This app cannot be authorized'),
      errorBox(err.message, err.status === 0 || err.status >= 500
        ? () => { view.replaceChildren(); consentPage(view, ctx, params, { onLogout }); }
        : null)));
    return;
  }
  if (!ctx.alive()) return;
  const client = (info && info.client) || {};
  const appName = client.name || 'An app';
  ctx.setTitle(`Authorize ${appName}`);

  const redirectUri = info.redirect_uri || query.get('redirect_uri') || '';
  const hidden = (name, value) => h('input', { type: 'hidden', name, value: value ?? '' });
  const allow = h('button', {
    type: 'submit', name: 'decision', value: 'allow', class: 'btn btn-primary', 'data-testid': 'consent-allow',
  }, 'Allow');
  const deny = h('button', {
    type: 'submit', name: 'decision', value: 'deny', class: 'btn btn-secondary', 'data-testid': 'consent-deny',
  }, 'Deny');
  const where = destination(redirectUri);
  const form = h('form', { method: 'post', action: '/oauth/authorize', class: 'consent-form', 'data-testid': 'consent-form' },
    hidden('client_id', client.client_id || query.get('client_id')),
    hidden('redirect_uri', redirectUri),
    hidden('response_type', info.response_type || query.get('response_type')),
    // what was asked, as asked: the server reads it as it read it for the list shown
    hidden('scope', query.has('scope') ? query.get('scope') : sortScopes(info.scopes).join(' ')),
    hidden('state', query.get('state')),
    hidden('csrf_token', csrfTokenValue()),
    h('div', { class: 'consent-buttons' }, deny, allow));
  // one answer only: a second press while the browser is on its way is dropped
  // (the buttons are not disabled here: a disabled button would not send its decision)
  let sent = false;
  form.addEventListener('submit', (e) => {
    if (sent) {
      e.preventDefault();
      return;
    }
    sent = true;
    const pressed = e.submitter || allow;
    pressed.classList.add('is-busy');
    pressed.setAttribute('aria-busy', 'true');
  });

  const site = client.website ? safeUrl(client.website) : null;
  const logout = h('button', { type: 'button', class: 'btn-link consent-logout', 'data-testid': 'consent-logout' }, 'Not you? Log out');
  logout.addEventListener('click', () => busy(logout, onLogout, 'Logging out…'));
  const me = session.user || {};

  replace(view, h('div', { class: 'page page-consent', 'data-testid': 'consent-page' },
    h('section', { class: 'card consent-card', 'data-testid': 'consent-card', 'aria-labelledby': 'consent-title' },
      h('p', { class: 'logo consent-logo', 'aria-hidden': 'true' }, 'picogram'),
      h('h1', { class: 'consent-title', id: 'consent-title' },
        h('span', { class: 'consent-app', 'data-testid': 'consent-app' }, appName),
        ' would like to use your account'),
      client.description ? h('p', { class: 'consent-desc', 'data-testid': 'consent-description' }, client.description) : null,
      site ? h('a', { class: 'website consent-site', href: site, rel: 'nofollow noopener noreferrer', target: '_blank', 'data-testid': 'consent-website' },
        client.website.replace(/^https?:\/\//, '').replace(/\/$/, '')) : null,
      h('p', { class: 'consent-who', 'data-testid': 'consent-user' },
        'Logged in as ', h('strong', null, me.username || ''), '. ', logout),
      h('h2', { class: 'consent-wants' }, `${appName} wants to:`),
      scopeList(info.scopes, 'consent-scopes'),
      form,
      h('p', { class: 'hint consent-note' },
        where ? ['Either way you go back to ', h('strong', { 'data-testid': 'consent-destination' }, where), '. '] : null,
        "You can take this app's access away at any time under Apps on your profile."))));
}
