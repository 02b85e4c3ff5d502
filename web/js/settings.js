// #/settings: the accounts on Mastodon-API servers (Mastodon, Pixelfed,
// GoToSocial) a new post may also go to (connect one with its server and
// an access token; disconnect it), and push notifications: turn them on or
// off in this browser (a service worker, /sw.js, and a Web Push
// subscription to the server's VAPID key), the kinds wanted, and the
// browsers and devices that get them.
import { get, post, del, session } from './api.js';
import { h, spinner, errorBox, busy, toast, announce, field, timeEl } from './dom.js';
import { SHARES, accountLabel } from './shares.js';

const DEVICES = '/v1/users/self/devices';
const NOTIFICATIONS = '/v1/users/self/notifications';
const SHARES_MAX = 5;
const BROWSER_WAIT_MS = 10_000; // the longest this page waits on the browser's push machinery

export async function settingsPage(view, ctx) {
  ctx.setTitle('Settings');
  view.append(spinner());
  let accounts;
  let kinds;
  let devices;
  try {
    [accounts, kinds, devices] = await Promise.all([get(SHARES), get(NOTIFICATIONS), get(DEVICES)].map((p) => p.then((r) => r.data)));
  } catch (err) {
    if (ctx.alive()) view.replaceChildren(errorBox(err.message, () => { view.replaceChildren(); settingsPage(view, ctx); }));
    return;
  }
  if (!ctx.alive()) return;
  const me = session.user;
  const notif = notificationsSection(ctx, kinds, devices);
  view.replaceChildren(h('div', { class: 'page page-narrow page-settings', 'data-testid': 'settings-page' },
    h('h1', { class: 'page-title' },
      h('a', { href: `#/u/${encodeURIComponent(me.id)}`, class: 'back', 'aria-label': 'Back to your profile' }, '‹'), 'Settings'),
    accountsSection(ctx, accounts),
    notif.el));
  await notif.ready;
}

// ---- connected accounts ----

function accountsSection(ctx, initial) {
  let accounts = initial;
  const list = h('ul', { class: 'settings-list', 'data-testid': 'share-account-list' });
  const empty = h('p', { class: 'muted settings-empty', 'data-testid': 'share-accounts-empty' }, 'No accounts connected yet.');

  const server = h('input', {
    type: 'url', name: 'server_url', placeholder: 'https://mastodon.social', autocomplete: 'url', inputmode: 'url',
    spellcheck: 'false', required: true, 'data-testid': 'share-server',
  });
  const token = h('input', {
    type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true, 'data-testid': 'share-token',
  });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'share-connect-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'share-connect-submit' }, 'Connect account');
  const full = h('p', { class: 'hint', hidden: true, 'data-testid': 'share-full' },
    `You can connect up to ${SHARES_MAX} accounts. Disconnect one to connect another.`);
  const form = h('form', { class: 'form settings-form', novalidate: true, 'aria-labelledby': 'share-connect-title', 'data-testid': 'share-connect-form' },
    h('h3', { id: 'share-connect-title', class: 'settings-subtitle' }, 'Connect an account'),
    field('Server', server, 'Its address, such as https://mastodon.social'),
    field('Access token', token, "Create an access token with write scope in your server's Development settings, and paste it here."),
    error, full, h('div', { class: 'row' }, submit));

  function paint() {
    list.replaceChildren(...accounts.map(row));
    list.hidden = accounts.length === 0;
    empty.hidden = accounts.length > 0;
    const isFull = accounts.length >= SHARES_MAX;
    full.hidden = !isFull;
    submit.disabled = isFull;
  }

  function row(a) {
    const label = accountLabel(a);
    const off = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'aria-label': `Disconnect ${label}`, 'data-testid': 'share-disconnect' }, 'Disconnect');
    off.addEventListener('click', async () => {
      try {
        await busy(off, () => del(`${SHARES}/${encodeURIComponent(a.id)}`), 'Disconnecting…');
      } catch (err) {
        if (err.status !== 404) {
          toast(err.message, 'error');
          return;
        }
      }
      if (!ctx.alive()) return;
      accounts = accounts.filter((x) => x.id !== a.id);
      paint();
      toast(`Disconnected ${label}`);
      server.focus();
    });
    return h('li', { class: 'settings-row', 'data-testid': 'share-account-row', 'data-account-id': a.id },
      h('span', { class: 'settings-row-main' },
        h('strong', { class: 'share-acct' }, label),
        h('span', { class: 'muted settings-row-sub' }, 'Connected ', timeEl(a.created_time, 'settings-time'))),
      off);
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    let url = server.value.trim().replace(/\/+$/, '');
    if (url && !/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) url = `https://${url}`;
    const tok = token.value.trim();
    let problem = null;
    if (!url) problem = "Enter your server's address.";
    else if (!tok) problem = 'Paste an access token of your account.';
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      (url ? token : server).focus();
      return;
    }
    let a;
    try {
      ({ data: a } = await busy(submit, () => post(SHARES, { server_url: url, token: tok }), 'Connecting…'));
    } catch (err) {
      if (!ctx.alive()) return;
      error.textContent = err.message;
      error.hidden = false;
      return;
    }
    if (!ctx.alive()) return;
    accounts = [...accounts.filter((x) => x.id !== a.id), a];
    paint();
    server.value = '';
    token.value = '';
    toast(`Connected ${accountLabel(a)}. Choose it when you share a photo.`);
  });

  paint();
  return h('section', { class: 'card card-pad settings-section', 'aria-labelledby': 'share-title', 'data-testid': 'share-accounts' },
    h('h2', { id: 'share-title', class: 'settings-title' }, 'Connected accounts'),
    h('p', { class: 'muted' }, 'Also post your photos to your accounts on Mastodon, Pixelfed or GoToSocial: '
      + 'connect an account here, then tick it when you share a photo.'),
    list, empty, form);
}

// ---- push notifications ----

const KINDS = [
  ['likes', 'Likes on your photos'],
  ['comments', 'Comments on your photos'],
  ['follows', 'New followers and follow requests'],
  ['mentions', 'Mentions of you'],
];

/** This browser's device ID for the logged-in user (kept to remove it when turned off). */
const deviceKey = () => `picogram.push-device.${session.user ? session.user.id : ''}`;
function storedDevice() {
  try {
    return localStorage.getItem(deviceKey());
  } catch {
    return null;
  }
}
function storeDevice(id) {
  try {
    if (id) localStorage.setItem(deviceKey(), id);
    else localStorage.removeItem(deviceKey());
  } catch { /* private mode: the device can still be removed from the list */ }
}

/** Why this browser cannot get push messages at all, or null if it can. */
function pushUnsupported() {
  if (!window.isSecureContext) return 'This page is not on a secure (https) connection, so your browser will not show notifications for it.';
  if (!('Notification' in window) || !('serviceWorker' in navigator) || !('PushManager' in window)) {
    return 'This browser cannot show notifications from websites.';
  }
  return null;
}

/** The VAPID key (base64url) as the bytes pushManager.subscribe() takes. */
function keyBytes(b64u) {
  const b64 = String(b64u).replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function sameKey(buf, bytes) {
  if (!buf) return false;
  const a = new Uint8Array(buf);
  return a.length === bytes.length && a.every((x, i) => x === bytes[i]);
}

/** p, or a rejection with `what` once ms have passed. */
function within(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  })]).finally(() => clearTimeout(timer));
}

const reason = (err) => {
  const m = err && (err.message || err.name) ? String(err.message || err.name) : String(err);
  return m.replace(/[.\s]+$/, '');
};

/** This browser's service worker registration at '/', or null (never throws). */
async function currentRegistration() {
  try {
    return (await navigator.serviceWorker.getRegistration('/')) || null;
  } catch {
    return null;
  }
}

async function currentSubscription() {
  const reg = await currentRegistration();
  if (!reg || !reg.pushManager) return null;
  try {
    return await reg.pushManager.getSubscription();
  } catch {
    return null;
  }
}

function notificationsSection(ctx, initialKinds, initialDevices) {
  let devices = initialDevices;
  const unsupported = pushUnsupported();

  // ---- this browser ----
  const status = h('p', { class: 'notif-status', role: 'status', 'data-testid': 'notif-status' });
  const enable = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'notif-enable' }, 'Turn on notifications in this browser');
  const disable = h('button', { type: 'button', class: 'btn btn-secondary', hidden: true, 'data-testid': 'notif-disable' }, 'Turn off in this browser');

  function setStatus(text, kind = 'info') {
    status.textContent = text;
    status.dataset.state = kind;
    status.classList.toggle('notif-status-error', kind === 'error');
    status.classList.toggle('notif-status-on', kind === 'on');
  }
  function showOn(on) {
    enable.hidden = on || Boolean(unsupported);
    disable.hidden = !on;
  }

  async function turnOn() {
    const why = pushUnsupported();
    if (why) {
      setStatus(why, 'error');
      return;
    }
    let permission;
    try {
      permission = await Notification.requestPermission();
    } catch (err) {
      setStatus(`This browser could not ask to show notifications: ${reason(err)}.`, 'error');
      return;
    }
    if (permission === 'denied') {
      setStatus("Notifications are blocked for this site. Allow them in your browser's site settings, then try again.", 'error');
      return;
    }
    if (permission !== 'granted') {
      setStatus('Notifications stay off: your browser was not told to allow them. Try again and choose Allow.', 'error');
      return;
    }
    let sub;
    try {
      const { data } = await get('/web/push/key');
      const key = keyBytes(data.vapid_public_key);
      await navigator.serviceWorker.register('/sw.js', { scope: '/' });
      const reg = await within(navigator.serviceWorker.ready, BROWSER_WAIT_MS, 'its service worker did not start');
      sub = await reg.pushManager.getSubscription();
      if (sub && !sameKey(sub.options && sub.options.applicationServerKey, key)) {
        await sub.unsubscribe(); // made for another key: it would never get our messages
        sub = null;
      }
      if (!sub) {
        sub = await within(reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
          BROWSER_WAIT_MS, 'its push service did not answer');
      }
    } catch (err) {
      if (err && err.name === 'ApiError') setStatus(err.message, 'error');
      else setStatus(`This browser could not subscribe to push messages: ${reason(err)}.`, 'error');
      return;
    }
    const json = sub.toJSON();
    const keys = json.keys || {};
    let d;
    try {
      ({ data: d } = await post(DEVICES, { platform: 'webpush', endpoint: json.endpoint || sub.endpoint, p256dh: keys.p256dh, auth: keys.auth }));
    } catch (err) {
      await sub.unsubscribe().catch(() => {});
      setStatus(`picogram could not add this browser: ${err.message}`, 'error');
      return;
    }
    const old = storedDevice();
    storeDevice(d.id);
    devices = [...devices.filter((x) => x.id !== d.id && x.id !== old), d];
    paintDevices();
    showOn(true);
    setStatus('Notifications are on in this browser.', 'on');
  }

  async function turnOff() {
    let problem = null;
    const sub = await currentSubscription();
    if (sub) {
      try {
        await sub.unsubscribe();
      } catch (err) {
        problem = `This browser could not unsubscribe: ${reason(err)}.`;
      }
    }
    const id = storedDevice();
    if (id) {
      try {
        await del(`${DEVICES}/${encodeURIComponent(id)}`);
      } catch (err) {
        if (err.status !== 404) problem = problem || err.message;
      }
      devices = devices.filter((x) => x.id !== id);
      paintDevices();
      storeDevice(null);
    }
    if (problem) {
      setStatus(problem, 'error');
      return;
    }
    showOn(false);
    setStatus('Notifications are off in this browser.');
  }

  enable.addEventListener('click', async () => {
    await busy(enable, () => turnOn().catch((err) => {
      setStatus(`This browser could not subscribe to push messages: ${reason(err)}.`, 'error');
    }), 'Turning on…');
    if (enable.hidden && ctx.alive()) disable.focus();
  });
  disable.addEventListener('click', async () => {
    await busy(disable, () => turnOff().catch((err) => setStatus(reason(err), 'error')), 'Turning off…');
    if (!disable.hidden) return;
    enable.focus();
  });

  // what this browser is doing now
  const ready = (async () => {
    showOn(false);
    if (unsupported) {
      setStatus(unsupported, 'error');
      return;
    }
    const sub = await within(currentSubscription(), BROWSER_WAIT_MS, 'timeout').catch(() => null);
    if (!ctx.alive()) return;
    const mine = storedDevice();
    if (sub && mine && devices.some((d) => d.id === mine)) {
      showOn(true);
      setStatus('Notifications are on in this browser.', 'on');
    } else if (Notification.permission === 'denied') {
      setStatus("Notifications are blocked for this site. Allow them in your browser's site settings to turn them on.", 'error');
    } else {
      setStatus('Notifications are off in this browser.');
    }
  })();

  // ---- what to be told about ----
  const kindsError = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'notif-kinds-error' });
  const boxes = KINDS.map(([kind, label]) => {
    const box = h('input', { type: 'checkbox', id: `notif-kind-${kind}`, name: kind, checked: initialKinds[kind] !== false, 'data-testid': `notif-kind-${kind}` });
    box.addEventListener('change', async () => {
      const want = box.checked;
      kindsError.hidden = true;
      box.setAttribute('aria-busy', 'true');
      try {
        const { data } = await post(NOTIFICATIONS, { [kind]: want ? 'true' : 'false' });
        for (const b of boxesByKind.values()) if (b.name in data) b.checked = data[b.name] !== false;
        announce(`${label}: ${want ? 'on' : 'off'}`);
      } catch (err) {
        box.checked = !want;
        kindsError.textContent = err.message;
        kindsError.hidden = false;
      } finally {
        box.removeAttribute('aria-busy');
      }
    });
    return [kind, box, label];
  });
  const boxesByKind = new Map(boxes.map(([kind, box]) => [kind, box]));
  const kindsBox = h('fieldset', { class: 'settings-kinds' },
    h('legend', null, 'Notify me about'),
    boxes.map(([, box, label]) => h('div', { class: 'check-row' }, box, h('label', { for: box.id }, label))),
    kindsError);

  // ---- the browsers and devices that get them ----
  const deviceList = h('ul', { class: 'settings-list', 'data-testid': 'device-list' });
  const noDevices = h('p', { class: 'muted settings-empty', 'data-testid': 'devices-empty' }, 'No browsers or devices get notifications yet.');
  function paintDevices() {
    const mine = storedDevice();
    deviceList.replaceChildren(...devices.map((d) => deviceRow(d, d.id === mine)));
    deviceList.hidden = devices.length === 0;
    noDevices.hidden = devices.length > 0;
  }
  function deviceRow(d, isThis) {
    const kind = d.platform === 'webpush' ? 'Web browser' : d.platform === 'apns' ? 'iPhone or iPad' : d.platform;
    const rm = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'aria-label': `Remove ${kind} ${d.hint}`, 'data-testid': 'device-remove' }, 'Remove');
    rm.addEventListener('click', async () => {
      try {
        await busy(rm, () => del(`${DEVICES}/${encodeURIComponent(d.id)}`), 'Removing…');
      } catch (err) {
        if (err.status !== 404) {
          toast(err.message, 'error');
          return;
        }
      }
      if (!ctx.alive()) return;
      devices = devices.filter((x) => x.id !== d.id);
      if (d.id === storedDevice()) {
        storeDevice(null);
        const sub = await currentSubscription();
        if (sub) await sub.unsubscribe().catch(() => {});
        showOn(false);
        setStatus('Notifications are off in this browser.');
      }
      paintDevices();
      toast(`Removed ${kind} ${d.hint}`);
      (enable.hidden ? disable : enable).focus();
    });
    return h('li', { class: 'settings-row', 'data-testid': 'device-row', 'data-device-id': d.id, 'data-platform': d.platform },
      h('span', { class: 'settings-row-main' },
        h('strong', null, kind, isThis ? ' (this browser)' : null),
        h('span', { class: 'muted settings-row-sub' }, h('span', { class: 'device-hint' }, d.hint), ' · added ', timeEl(d.created_time, 'settings-time'))),
      rm);
  }
  paintDevices();

  const el = h('section', { class: 'card card-pad settings-section', 'aria-labelledby': 'notif-title', 'data-testid': 'notif-settings' },
    h('h2', { id: 'notif-title', class: 'settings-title' }, 'Notifications'),
    h('p', { class: 'muted' }, 'Get a notification when people like or comment on your photos, follow you or mention you, '
      + 'even when picogram is closed.'),
    status,
    h('div', { class: 'row' }, enable, disable),
    kindsBox,
    h('h3', { class: 'settings-subtitle' }, 'Browsers and devices'),
    deviceList, noDevices);
  return { el, ready };
}
