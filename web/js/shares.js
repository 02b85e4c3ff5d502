// Sharing to Mastodon-API servers (Mastodon, Pixelfed, GoToSocial): the
// pieces the upload page and the photo page use. The accounts themselves
// are connected and disconnected on #/settings (settings.js).
//   - shareChoices(ctx): "Also post to alice@host" checkboxes for a new post
//   - photoShares(ctx, mediaId): where the owner's photo went, and how it went
import { get } from './api.js';
import { h, announce } from './dom.js';

export const SHARES = '/v1/users/self/shares';

/** "alice@mastodon.social" for a connected account (or a share of one). */
export function accountLabel(a) {
  const acct = String(a.acct || '');
  if (acct.includes('@')) return acct;
  let host = '';
  try {
    host = new URL(a.server_url).host;
  } catch {
    host = String(a.server_url || '');
  }
  return host ? `${acct}@${host}` : acct;
}

/**
 * The upload page's "Also post to" choices: one checkbox per connected
 * account, none (and no box at all) when there are none. Returns
 * {el, loaded, selected()}: loaded settles once the accounts are read
 * (a failure leaves the box empty: the photo can still be shared here).
 */
export function shareChoices(ctx) {
  const list = h('div', { class: 'share-choices-list' });
  const el = h('fieldset', { class: 'share-choices', hidden: true, 'data-testid': 'upload-shares' },
    h('legend', null, 'Share elsewhere'), list);
  const boxes = [];
  const loaded = get(SHARES).then(({ data }) => {
    if (!ctx.alive() || !Array.isArray(data) || !data.length) return;
    for (const a of data) {
      const box = h('input', { type: 'checkbox', name: 'share', value: a.id, id: `upload-share-${a.id}`, 'data-testid': `upload-share-${a.id}` });
      boxes.push(box);
      list.append(h('div', { class: 'check-row' }, box,
        h('label', { for: box.id }, 'Also post to ', h('span', { class: 'share-acct' }, accountLabel(a)))));
    }
    el.hidden = false;
  }, () => { /* no choices: sharing here still works */ });
  return { el, loaded, selected: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

const POLL_MS = 2000;
const POLL_MAX = 150; // five minutes of "Posting…" at most, then a reload shows more

function statusPart(s) {
  if (s.status === 'posted') {
    return s.url
      ? h('a', { class: 'text-link', href: s.url, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'photo-share-link' }, 'Posted: see the post')
      : h('span', null, 'Posted');
  }
  if (s.status === 'failed') {
    return h('span', { class: 'share-failed' }, s.error ? `Failed: ${s.error}` : 'Failed');
  }
  return h('span', { class: 'muted' }, s.attempts > 0 && s.error ? `Posting… (trying again after: ${s.error})` : 'Posting…');
}

/**
 * "Shared to alice@host: Posted" lines under the owner's photo, while any
 * is pending read again every 2 seconds; hidden when the photo was shared
 * nowhere else.
 */
export function photoShares(ctx, mediaId) {
  const list = h('ul', { class: 'photo-shares-list' });
  const el = h('section', { class: 'card card-pad photo-shares', hidden: true, 'aria-label': 'Shared to other servers', 'data-testid': 'photo-shares' }, list);
  let timer = 0;
  let polls = 0;
  const seen = new Map(); // account_id -> status, to announce a change
  ctx.onCleanup(() => clearTimeout(timer));

  async function load() {
    let data;
    try {
      ({ data } = await get(`/v1/media/${encodeURIComponent(mediaId)}/shares`));
    } catch {
      data = null; // not shown: the photo itself is what this page is for
    }
    if (!ctx.alive()) return;
    if (!Array.isArray(data)) {
      if (!el.hidden && polls < POLL_MAX) timer = setTimeout(load, POLL_MS * 2);
      return;
    }
    list.replaceChildren(...data.map((s) => {
      const who = accountLabel(s);
      const before = seen.get(s.account_id);
      if (before && before !== s.status && s.status !== 'pending') {
        announce(s.status === 'posted' ? `Posted to ${who}` : `Posting to ${who} failed`);
      }
      seen.set(s.account_id, s.status);
      return h('li', { class: 'photo-share-row', 'data-testid': 'photo-share-row', 'data-status': s.status, 'data-account-id': s.account_id },
        h('span', null, 'Shared to ', h('strong', { class: 'share-acct' }, who), ': '), statusPart(s));
    }));
    el.hidden = data.length === 0;
    if (data.some((s) => s.status === 'pending') && ++polls < POLL_MAX) timer = setTimeout(load, POLL_MS);
  }
  load();
  return el;
}
