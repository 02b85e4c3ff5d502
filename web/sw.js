// picogram's service worker: push notifications only. It shows the message
// the server sent (already decrypted by the browser: JSON {title, body,
// kind, media_id, url}) and, when the notification is clicked, brings a
// picogram window to its url (a path such as "/#/m/123") or opens one. It
// handles no fetch: pages load from the network as they would without it.
/* eslint-env serviceworker */

self.addEventListener('install', () => {
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

/** The message's url as an address on this origin (anything else: the home page). */
function target(url) {
  try {
    const u = new URL(String(url || '/'), self.location.origin);
    return u.origin === self.location.origin ? u.href : `${self.location.origin}/`;
  } catch {
    return `${self.location.origin}/`;
  }
}

self.addEventListener('push', (event) => {
  let msg = {};
  if (event.data) {
    try {
      msg = event.data.json() || {};
    } catch {
      msg = { body: event.data.text() };
    }
  }
  const title = typeof msg.title === 'string' && msg.title ? msg.title : 'picogram';
  const options = {
    body: typeof msg.body === 'string' ? msg.body : '',
    data: { url: target(msg.url) },
    icon: '/favicon.svg',
  };
  // one notification per kind and photo: a newer one replaces it
  if (msg.kind || msg.media_id) options.tag = `${msg.kind || ''}${msg.media_id || ''}`;
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = target(event.notification.data && event.notification.data.url);
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const win = windows.find((c) => new URL(c.url).origin === self.location.origin);
    if (win) {
      try {
        const focused = await win.focus();
        if (focused.url !== url && 'navigate' in focused) await focused.navigate(url);
        return;
      } catch {
        /* not ours to steer (not controlled yet): a new window instead */
      }
    }
    if (self.clients.openWindow) await self.clients.openWindow(url);
  })());
});
