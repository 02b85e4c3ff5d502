// #/developer: the apps you made (register one, its client ID, redirect
// URIs, a new secret, delete it) and the apps you allowed to use your
// account (take their access away). An app's secret is shown once: when it
// is registered and when a new one is made.
import { get, post, del, session } from './api.js';
import { h, spinner, errorBox, busy, toast, announce, field, safeUrl, timeEl, icon } from './dom.js';
import { scopeList } from './oauth.js';

const CLIENTS = '/v1/developer/clients';
const clientPath = (id) => `${CLIENTS}/${encodeURIComponent(id)}`;
const NAME_MAX = 50;
const DESCRIPTION_MAX = 300;

const chars = (s) => [...s].length;

/** The redirect URIs of a text: one or more, separated by whitespace or newlines. */
export function splitRedirects(text) {
  return String(text || '').split(/\s+/).filter(Boolean);
}

function isAbsoluteUri(s) {
  try {
    const u = new URL(s);
    return Boolean(u.protocol) && !/^(javascript|data|blob|file):$/i.test(u.protocol);
  } catch {
    return false;
  }
}

function uriList(app) {
  if (Array.isArray(app.redirect_uris)) return app.redirect_uris;
  return splitRedirects(app.redirect_uris);
}

/**
 * A copy button for the text of el: to the clipboard, or, where the
 * browser will not, the text is selected for the person to copy.
 */
function copyButton(el, what) {
  const btn = h('button', { type: 'button', class: 'btn btn-secondary btn-sm copy-btn', 'aria-label': `Copy ${what}` }, 'Copy');
  btn.addEventListener('click', async () => {
    const text = el.textContent;
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(text);
      toast(`${what.charAt(0).toUpperCase()}${what.slice(1)} copied`);
    } catch {
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.selectAllChildren(el);
      toast('Selected: copy it with your keyboard or menu');
    }
  });
  return btn;
}

/** A term and its value in a <dl>. */
const item = (term, ...value) => h('div', { class: 'dev-item' }, h('dt', null, term), h('dd', null, value));

/**
 * Asks before a step that cannot be undone: the row's buttons give way to
 * the question, a confirm button (focused) and Cancel (back as it was).
 * onConfirm() runs on the confirm button; it throws to stay asking, or
 * returns what should have the focus after it (else the row's button).
 */
function confirmStep(actions, { from, question, label, testid, danger, onConfirm }) {
  const qid = `q-${Math.random().toString(36).slice(2, 9)}`;
  const yes = h('button', { type: 'button', class: ['btn', 'btn-sm', danger ? 'btn-danger' : 'btn-primary'], 'aria-describedby': qid, 'data-testid': testid }, label);
  const no = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'dev-confirm-cancel' }, 'Cancel');
  const box = h('div', { class: 'dev-confirm', 'data-testid': 'dev-confirm' },
    h('p', { id: qid, class: 'dev-question' }, question), h('div', { class: 'row' }, yes, no));
  const buttons = [...actions.childNodes];
  const back = () => {
    actions.replaceChildren(...buttons);
    from.focus();
  };
  no.addEventListener('click', back);
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      back();
    }
  });
  yes.addEventListener('click', async () => {
    let focusTo;
    try {
      focusTo = await busy(yes, onConfirm);
    } catch (err) {
      toast(err.message, 'error');
      return;
    }
    if (box.isConnected) actions.replaceChildren(...buttons);
    const target = focusTo && focusTo.isConnected ? focusTo : from;
    if (target.isConnected) target.focus({ preventScroll: Boolean(focusTo) });
  });
  actions.replaceChildren(box);
  yes.focus();
}

/** The "Enforce signed requests" switch (a checkbox), for the register and edit forms. */
function signedSwitch(testid, checked = false) {
  const input = h('input', {
    type: 'checkbox', role: 'switch', class: 'switch-input', name: 'enforce_signed_requests', checked, 'data-testid': testid,
  });
  const label = h('label', { class: 'switch' },
    input, h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })),
    h('span', { class: 'switch-text' },
      h('strong', null, 'Enforce signed requests'),
      h('span', { class: 'muted' }, "Calls made with this app's tokens must be signed with its secret.")));
  return { input, label };
}

/** A website as the API wants it: http(s), "example.com" taken as https. */
function normalizeSite(text) {
  const site = String(text || '').trim();
  return site && !/^https?:\/\//i.test(site) ? `https://${site}` : site;
}

/** Checks a register or edit form's fields; returns [message, field] or null. */
function invalidFields({ name, description, website, uris, site }) {
  const n = name.value.trim();
  if (!n || chars(n) > NAME_MAX) return [`Give the app a name of 1 to ${NAME_MAX} characters.`, name];
  if (chars(description.value) > DESCRIPTION_MAX) return [`Keep the description to ${DESCRIPTION_MAX} characters.`, description];
  if (site && !safeUrl(site)) return ['The website must be an http or https address.', website];
  if (!uris.length) return ['Give at least one redirect URI.', null];
  return null;
}

// ---- real-time deliveries ----

const OUTCOMES = {
  delivered: { label: 'Delivered', cls: 'ok' },
  retrying: { label: 'Retrying', cls: 'wait' },
  failed: { label: 'Failed', cls: 'bad' },
  dropped: { label: 'Dropped', cls: 'bad' },
};

/** A log time (unix seconds) as a <time>: "Dec 4" over "10:00:03 AM". */
function logTime(seconds) {
  const t = Number(seconds) * 1000;
  if (!t) return h('span', { class: 'muted' }, '?');
  const d = new Date(t);
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() },
    h('span', { class: 'dlv-date' }, d.toLocaleDateString('en-US', { month: 'short', day: 'numeric' })), ' ',
    h('span', { class: 'dlv-clock' }, d.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit', second: '2-digit' })));
}

/** An empty table cell: a dash to see, "none" to hear. */
const nothing = () => [h('span', { 'aria-hidden': 'true' }, '—'), h('span', { class: 'sr-only' }, 'none')];

function deliveryRow(d) {
  const outcome = OUTCOMES[d.outcome] || { label: String(d.outcome || 'Unknown'), cls: 'wait' };
  const status = Number(d.http_status) || 0;
  return h('tr', { 'data-testid': 'dev-delivery-row', 'data-outcome': d.outcome, 'data-delivery-id': d.id },
    h('td', { class: 'dlv-time' }, logTime(d.time)),
    h('td', null, h('span', { class: `dlv-outcome dlv-${outcome.cls}`, 'data-testid': 'dev-delivery-outcome' }, outcome.label)),
    h('td', { class: 'dlv-url' }, h('code', null, d.callback_url || '')),
    h('td', { class: 'dlv-num' }, status ? String(status) : h('span', { class: 'muted' }, 'No answer')),
    h('td', { class: 'dlv-num' }, String(Number(d.updates) || 0)),
    h('td', { class: 'dlv-num' }, String(Number(d.attempt) || 0)),
    h('td', { class: 'dlv-error' }, d.error ? d.error : nothing()));
}

/**
 * The log of what became of an app's real-time updates (newest first, the
 * last 100): a disclosure button and its panel, loaded when opened, with a
 * refresh button.
 */
function deliveriesView(getApp) {
  const panelId = `dlv-${Math.random().toString(36).slice(2, 9)}`;
  const titleId = `${panelId}-t`;
  const toggle = h('button', {
    type: 'button', class: 'btn btn-secondary btn-sm', 'aria-expanded': 'false', 'aria-controls': panelId, 'data-testid': 'dev-deliveries-toggle',
  }, 'Real-time deliveries');
  const refresh = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'dev-deliveries-refresh' }, 'Refresh');
  const status = h('div', { class: 'dlv-status' });
  const body = h('div', { class: 'dlv-body' });
  const panel = h('section', {
    id: panelId, class: 'dev-deliveries', hidden: true, 'aria-labelledby': titleId, 'data-testid': 'dev-deliveries',
  },
  h('div', { class: 'dlv-head' },
    h('h4', { id: titleId, class: 'dlv-title' }, 'Real-time deliveries'),
    refresh),
  h('p', { class: 'hint' }, "The POSTs of updates to this app's subscription callbacks, newest first (the last 100)."),
  status, body);

  let loading = null;
  async function load() {
    if (loading) return loading;
    loading = (async () => {
      if (!body.childElementCount) status.replaceChildren(spinner('Loading deliveries…'));
      panel.setAttribute('aria-busy', 'true');
      try {
        const { data } = await busy(refresh, () => get(`${clientPath(getApp().client_id)}/deliveries`));
        const list = Array.isArray(data) ? data : [];
        status.replaceChildren();
        if (!list.length) {
          body.replaceChildren(h('p', { class: 'muted dev-empty', 'data-testid': 'dev-deliveries-empty' }, 'No real-time updates sent yet.'));
        } else {
          const wrapId = `${panelId}-c`;
          body.replaceChildren(h('div', {
            class: 'dlv-scroll', role: 'region', tabindex: '0', 'aria-labelledby': wrapId,
          },
          h('table', { class: 'dlv-table', 'data-testid': 'dev-deliveries-table' },
            h('caption', { id: wrapId, class: 'sr-only' }, `Real-time deliveries of ${getApp().name}, newest first`),
            h('thead', null, h('tr', null,
              ['Time', 'Outcome', 'Callback', 'HTTP status', 'Updates', 'Attempt', 'Error'].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', null, list.map(deliveryRow)))));
        }
        return list;
      } catch (err) {
        status.replaceChildren(errorBox(err.message, () => load()));
        return null;
      } finally {
        panel.removeAttribute('aria-busy');
        loading = null;
      }
    })();
    return loading;
  }

  toggle.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) load();
  });
  refresh.addEventListener('click', async () => {
    const list = await load();
    if (list) announce(list.length ? `${list.length} ${list.length === 1 ? 'delivery' : 'deliveries'}` : 'No real-time updates sent yet');
  });
  return { toggle, panel };
}

export async function developerPage(view, ctx) {
  ctx.setTitle('Developer');
  const me = session.user;

  // ---- the secret, shown once ----
  const revealSlot = h('div', { class: 'dev-reveal-slot' });
  function showSecret(app, secret, fresh) {
    const idEl = h('code', { class: 'secret', 'data-testid': 'dev-client-id' }, app.client_id);
    const secretEl = h('code', { class: 'secret', 'data-testid': 'dev-secret' }, secret);
    const done = h('button', { type: 'button', class: 'btn btn-primary btn-sm', 'data-testid': 'dev-secret-done' }, "I've copied it");
    const panel = h('section', {
      class: 'dev-reveal', tabindex: '-1', 'aria-labelledby': 'dev-reveal-title', 'data-testid': 'dev-secret-panel', 'data-client-id': app.client_id,
    },
    h('h3', { id: 'dev-reveal-title', class: 'dev-reveal-title' }, icon('key'),
      fresh ? `${app.name} is registered` : `A new secret for ${app.name}`),
    h('p', { class: 'dev-warning' }, 'Copy the client secret now: it will not be shown again.',
      fresh ? null : ' The old secret has stopped working.'),
    h('dl', { class: 'dev-meta' },
      item('Client ID', h('span', { class: 'secret-row' }, idEl, copyButton(idEl, 'client ID'))),
      item('Client secret', h('span', { class: 'secret-row' }, secretEl, copyButton(secretEl, 'client secret')))),
    h('p', { class: 'hint' }, 'Keep the secret on your server only; never put it in an app people download or in a web page.'),
    done);
    done.addEventListener('click', () => {
      panel.remove();
      announce('The secret is hidden');
      const row = appList.querySelector(`[data-client-id="${CSS.escape(app.client_id)}"] [data-testid="dev-app-reset"]`);
      if (row) row.focus();
      else view.focus();
    });
    revealSlot.replaceChildren(panel);
    panel.scrollIntoView({ block: 'nearest' });
    panel.focus({ preventScroll: true });
    return panel;
  }

  // ---- your apps ----
  const appList = h('ul', { class: 'dev-list', 'data-testid': 'dev-app-list' });
  const appsEmpty = h('p', { class: 'muted dev-empty', hidden: true, 'data-testid': 'dev-apps-empty' }, "You haven't registered an app yet.");
  const appsStatus = h('div');
  const refreshEmpty = () => { appsEmpty.hidden = appList.childElementCount > 0; };

  /** The edit form of an app, filled with what it has now. */
  function editForm(app, { onSaved, onCancel }) {
    const eName = h('input', { name: 'name', required: true, maxlength: String(NAME_MAX), autocomplete: 'off', value: app.name, 'data-testid': 'dev-edit-name' });
    const eDescription = h('textarea', { name: 'description', rows: '2', maxlength: String(DESCRIPTION_MAX), 'data-testid': 'dev-edit-description' });
    eDescription.value = app.description || '';
    const eWebsite = h('input', {
      name: 'website', type: 'url', placeholder: 'https://', autocomplete: 'off', value: app.website || '', 'data-testid': 'dev-edit-website',
    });
    const eRedirects = h('textarea', {
      name: 'redirect_uri', rows: String(Math.min(6, Math.max(2, uriList(app).length + 1))), required: true, autocapitalize: 'none', spellcheck: 'false',
      'data-testid': 'dev-edit-redirect',
    });
    eRedirects.value = uriList(app).join('\n');
    const eSigned = signedSwitch('dev-edit-signed', Boolean(app.enforce_signed_requests));
    const eError = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'dev-edit-error' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', 'data-testid': 'dev-edit-save' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'dev-edit-cancel' }, 'Cancel');
    const eForm = h('form', { class: 'form dev-edit', novalidate: true, 'aria-label': `Edit ${app.name}`, 'data-testid': 'dev-edit-form' },
      field('App name', eName, `Up to ${NAME_MAX} characters.`),
      field('Description (optional)', eDescription),
      field('Website (optional)', eWebsite),
      field('Redirect URIs', eRedirects, 'One per line.'),
      eSigned.label, eError, h('div', { class: 'row' }, save, cancel));
    const fail = (message, focusEl) => {
      eError.textContent = message;
      eError.hidden = false;
      if (focusEl) focusEl.focus();
    };
    cancel.addEventListener('click', onCancel);
    eForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      eError.hidden = true;
      const uris = splitRedirects(eRedirects.value);
      const site = normalizeSite(eWebsite.value);
      const bad = invalidFields({ name: eName, description: eDescription, website: eWebsite, uris, site });
      if (bad) return fail(bad[0], bad[1] || eRedirects);
      // the redirect URIs are checked by the server, whose words are shown
      let data;
      try {
        ({ data } = await busy(save, () => post(clientPath(app.client_id), {
          name: eName.value.trim(),
          description: eDescription.value.trim(),
          website: site,
          redirect_uri: uris.join('\n'),
          enforce_signed_requests: eSigned.input.checked ? 'true' : 'false',
        }), 'Saving…'));
      } catch (err) {
        // the field the server's message is about, if it names one
        const about = /redirect_uri/i.test(err.serverMessage || '') ? eRedirects
          : /website/i.test(err.serverMessage || '') ? eWebsite
            : /description/i.test(err.serverMessage || '') ? eDescription
              : /name/i.test(err.serverMessage || '') ? eName : null;
        fail(err.message, about);
        return undefined;
      }
      if (ctx.alive()) onSaved(data);
      return undefined;
    });
    return { form: eForm, first: eName };
  }

  function appRow(initial) {
    let app = initial;
    const cur = () => app;
    const edit = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'dev-app-edit' }, 'Edit');
    const reset = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'dev-app-reset' }, 'Reset secret');
    const remove = h('button', { type: 'button', class: 'btn btn-sm btn-outline-danger', 'data-testid': 'dev-app-delete' }, 'Delete');
    const deliveries = deliveriesView(cur);
    const actions = h('div', { class: 'row dev-actions' }, edit, deliveries.toggle, reset, remove);
    const idEl = h('code', { class: 'secret', 'data-testid': 'dev-app-client-id' }, app.client_id);
    const title = h('h3', { class: 'dev-app-name' });
    const info = h('div', { class: 'dev-app-info' });
    const editSlot = h('div', { class: 'dev-edit-slot' });
    const row = h('li', { class: 'dev-app', 'data-testid': 'dev-app-row', 'data-client-id': app.client_id },
      title, info, editSlot, actions, deliveries.panel);

    function paint() {
      const site = app.website ? safeUrl(app.website) : null;
      title.textContent = app.name;
      info.replaceChildren(
        app.description ? h('p', { class: 'dev-desc' }, app.description) : '',
        h('dl', { class: 'dev-meta' },
          item('Client ID', h('span', { class: 'secret-row' }, idEl, copyButton(idEl, 'client ID'))),
          item('Redirect URIs', h('ul', { class: 'dev-uris', 'data-testid': 'dev-app-redirects' },
            uriList(app).map((u) => h('li', null, h('code', null, u))))),
          site ? item('Website', h('a', { class: 'website', href: site, rel: 'nofollow noopener noreferrer', target: '_blank' }, app.website)) : null,
          item('Signed requests', h('span', { 'data-testid': 'dev-app-signed-state' }, app.enforce_signed_requests ? 'Required' : 'Not required')),
          app.created_time ? item('Registered', timeEl(app.created_time, 'dev-time')) : null));
    }
    paint();

    const closeEdit = () => {
      editSlot.replaceChildren();
      info.hidden = false;
      actions.hidden = false;
      edit.focus();
    };
    edit.addEventListener('click', () => {
      const { form: f, first } = editForm(app, {
        onCancel: closeEdit,
        onSaved: (data) => {
          app = { ...app, ...data };
          paint();
          closeEdit();
          toast(`${app.name} saved`);
          loadAuthorized(); // its name there too, if you allowed it
        },
      });
      editSlot.replaceChildren(f);
      info.hidden = true;
      actions.hidden = true;
      first.focus();
    });
    reset.addEventListener('click', () => confirmStep(actions, {
      from: reset,
      question: `Make a new secret for ${app.name}? The current one stops working at once.`,
      label: 'Make a new secret',
      testid: 'dev-app-reset-confirm',
      onConfirm: async () => {
        const { data } = await post(`${clientPath(app.client_id)}/secret`);
        return showSecret(app, data.client_secret, false);
      },
    }));
    remove.addEventListener('click', () => confirmStep(actions, {
      from: remove,
      question: `Delete ${app.name}? Everyone who allowed it loses it at once, and this cannot be undone.`,
      label: 'Delete app',
      testid: 'dev-app-delete-confirm',
      danger: true,
      onConfirm: async () => {
        await del(clientPath(app.client_id));
        const panel = revealSlot.querySelector(`[data-client-id="${CSS.escape(app.client_id)}"]`);
        if (panel) panel.remove();
        row.remove();
        refreshEmpty();
        toast(`${app.name} deleted`);
        loadAuthorized(); // it may have been one of yours
        return heading;
      },
    }));
    return row;
  }

  async function loadApps() {
    appsStatus.replaceChildren(spinner());
    try {
      const { data } = await get(CLIENTS);
      if (!ctx.alive()) return;
      appList.replaceChildren(...(data || []).map(appRow));
      appsStatus.replaceChildren();
      refreshEmpty();
    } catch (err) {
      if (ctx.alive()) appsStatus.replaceChildren(errorBox(err.message, () => loadApps()));
    }
  }

  // ---- register an app ----
  const name = h('input', { name: 'name', required: true, maxlength: String(NAME_MAX), autocomplete: 'off', 'data-testid': 'dev-app-name' });
  const description = h('textarea', { name: 'description', rows: '2', maxlength: String(DESCRIPTION_MAX), 'data-testid': 'dev-app-description' });
  const website = h('input', { name: 'website', type: 'url', placeholder: 'https://', autocomplete: 'off', 'data-testid': 'dev-app-website' });
  const redirects = h('textarea', {
    name: 'redirect_uri', rows: '3', required: true, autocapitalize: 'none', spellcheck: 'false', placeholder: 'https://example.com/callback', 'data-testid': 'dev-app-redirect',
  });
  const { input: signed, label: signedRow } = signedSwitch('dev-app-signed');
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'dev-app-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'dev-app-submit' }, 'Register app');
  const form = h('form', { class: 'form', 'data-testid': 'dev-app-form', novalidate: true, 'aria-labelledby': 'dev-new-title' },
    field('App name', name, `Shown to people when your app asks for access (up to ${NAME_MAX} characters).`),
    field('Description (optional)', description),
    field('Website (optional)', website),
    field('Redirect URIs', redirects, 'One per line: where people go back to after they allow or deny your app.'),
    signedRow, formError, h('div', { class: 'row' }, submit));
  const fail = (message, focusEl) => {
    formError.textContent = message;
    formError.hidden = false;
    if (focusEl) focusEl.focus();
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formError.hidden = true;
    const n = name.value.trim();
    const uris = splitRedirects(redirects.value);
    const site = normalizeSite(website.value);
    const wrong = invalidFields({ name, description, website, uris, site });
    if (wrong) return fail(wrong[0], wrong[1] || redirects);
    const bad = uris.find((u) => !isAbsoluteUri(u));
    if (bad) return fail(`"${bad}" is not an absolute URI (like https://example.com/callback).`, redirects);
    try {
      const { data } = await busy(submit, () => post(CLIENTS, {
        name: n,
        description: description.value.trim() || undefined,
        website: site || undefined,
        redirect_uri: uris.join('\n'),
        enforce_signed_requests: signed.checked ? 'true' : 'false',
      }), 'Registering…');
      if (!ctx.alive()) return undefined;
      form.reset();
      appList.prepend(appRow(data));
      refreshEmpty();
      showSecret(data, data.client_secret, true);
    } catch (err) {
      fail(err.message);
    }
    return undefined;
  });

  // ---- apps you've authorised ----
  const authList = h('ul', { class: 'dev-list', 'data-testid': 'authorized-app-list' });
  const authStatus = h('div');

  function authorizedRow(app) {
    const site = app.website ? safeUrl(app.website) : null;
    const revoke = h('button', { type: 'button', class: 'btn btn-sm btn-outline-danger', 'data-testid': 'authorized-app-revoke' }, 'Revoke access');
    const actions = h('div', { class: 'row dev-actions' }, revoke);
    const row = h('li', { class: 'dev-app', 'data-testid': 'authorized-app-row', 'data-client-id': app.client_id },
      h('h3', { class: 'dev-app-name' }, app.name),
      app.description ? h('p', { class: 'dev-desc' }, app.description) : null,
      site ? h('a', { class: 'website', href: site, rel: 'nofollow noopener noreferrer', target: '_blank' }, app.website) : null,
      h('p', { class: 'dev-can' }, 'It can:'),
      scopeList(app.scopes, 'authorized-app-scopes'),
      app.authorized_time ? h('p', { class: 'muted dev-since' }, 'Allowed ', timeEl(app.authorized_time, 'dev-time')) : null,
      actions);
    revoke.addEventListener('click', async () => {
      try {
        await busy(revoke, () => del(`/v1/users/self/apps/${encodeURIComponent(app.client_id)}`), 'Revoking…');
        const done = h('p', { class: 'muted', tabindex: '-1', 'data-testid': 'authorized-app-revoked' }, `${app.name} can no longer use your account.`);
        actions.replaceChildren(done);
        done.focus();
        announce(`Access revoked for ${app.name}`);
      } catch (err) {
        toast(err.message, 'error');
      }
    });
    return row;
  }

  async function loadAuthorized() {
    authStatus.replaceChildren(spinner());
    try {
      const { data } = await get('/v1/users/self/apps');
      if (!ctx.alive()) return;
      authList.replaceChildren(...(data || []).map(authorizedRow));
      authStatus.replaceChildren(authList.childElementCount ? ''
        : h('p', { class: 'muted dev-empty', 'data-testid': 'authorized-apps-empty' }, "You haven't allowed any app to use your account."));
    } catch (err) {
      if (ctx.alive()) authStatus.replaceChildren(errorBox(err.message, () => loadAuthorized()));
    }
  }

  const heading = h('h1', { class: 'page-title', tabindex: '-1' },
    me ? h('a', { href: `#/u/${me.id}`, class: 'back', 'aria-label': 'Back to profile' }, '‹') : null, 'Developer');
  const authorizeUrl = `${location.origin}/oauth/authorize/?client_id=CLIENT_ID&redirect_uri=REDIRECT_URI&response_type=code&scope=likes+comments&state=STATE`;
  view.append(h('div', { class: 'page page-narrow page-developer', 'data-testid': 'developer-page' },
    heading,
    h('section', { class: 'card card-pad dev-section', 'aria-labelledby': 'dev-apps-title' },
      h('h2', { class: 'dev-title', id: 'dev-apps-title' }, 'Your apps'),
      h('p', { class: 'muted' }, 'Apps you register can ask people to let them use picogram for them.'),
      revealSlot, appsStatus, appsEmpty, appList,
      h('details', { class: 'dev-howto' },
        h('summary', null, 'How an app asks for access'),
        h('p', null, 'Send people to this address; they log in, see what your app asks for, and allow or deny it:'),
        h('code', { class: 'dev-url' }, authorizeUrl),
        h('p', null, 'With response_type=code your redirect URI gets ?code=…&state=…: trade the code for a token with a POST to /oauth/access_token (client_id, client_secret, grant_type=authorization_code, redirect_uri, code). Scopes: basic, likes, comments, relationships.'))),
    h('section', { class: 'card card-pad dev-section', 'aria-labelledby': 'dev-new-title' },
      h('h2', { class: 'dev-title', id: 'dev-new-title' }, 'Register a new app'),
      form),
    h('section', { class: 'card card-pad dev-section', 'aria-labelledby': 'dev-auth-title', 'data-testid': 'authorized-apps' },
      h('h2', { class: 'dev-title', id: 'dev-auth-title' }, "Apps you've authorised"),
      h('p', { class: 'muted' }, 'These apps can use your account as listed. Revoking takes their access away at once.'),
      authStatus, authList)));
  await Promise.all([loadApps(), loadAuthorized()]);
}
