// Discovery and news: hashtag pages, place pages, search (people, tags,
// places), popular, and the activity feed.
import { get } from './api.js';
import { h, replace, icon, avatar, userLink, userRow, photoImg, plural, timeEl, spinner, errorBox, richText } from './dom.js';
import { pager, photoGrid, emptyState } from './list.js';

const GRID_PAGE = 18;

function pageHead(badge, title, sub, testid) {
  return h('header', { class: 'disc-head', 'data-testid': testid },
    h('span', { class: 'disc-badge', 'aria-hidden': 'true' }, badge),
    h('div', null, h('h1', { class: 'disc-title' }, title), sub));
}

export async function tagPage(view, ctx, { name }) {
  const tag = name.toLowerCase();
  ctx.setTitle(`#${tag}`);
  const count = h('p', { class: 'muted', 'data-testid': 'tag-count' }, '');
  const grid = photoGrid(ctx, {
    testid: 'tag-grid',
    empty: emptyState('No photos yet', `Be the first to post with #${tag}.`, 'image'),
    load: async (cursor) => {
      const { data, pagination } = await get(`/v1/tags/${encodeURIComponent(tag)}/media/recent`, { count: GRID_PAGE, max_tag_id: cursor });
      return { items: data, next: pagination.next_max_tag_id || null };
    },
  });
  view.append(h('div', { class: 'page page-wide page-tag', 'data-testid': 'tag-page' },
    pageHead('#', `#${tag}`, count, 'tag-head'), grid.el));
  get(`/v1/tags/${encodeURIComponent(tag)}`).then(({ data }) => {
    count.textContent = plural(data.media_count, 'post');
  }).catch(() => { count.textContent = ''; });
  await grid.first;
}

function formatCoord(v, pos, neg) {
  const n = Number(v);
  if (!Number.isFinite(n)) return '';
  return `${Math.abs(n).toFixed(4)}° ${n >= 0 ? pos : neg}`;
}

export async function placePage(view, ctx, { id }) {
  ctx.setTitle('Place');
  const title = h('h1', { class: 'disc-title', 'data-testid': 'place-name' }, '…');
  const sub = h('p', { class: 'muted', 'data-testid': 'place-coords' });
  const head = h('header', { class: 'disc-head', 'data-testid': 'place-head' },
    h('span', { class: 'disc-badge', 'aria-hidden': 'true' }, icon('pin')), h('div', null, title, sub));
  const grid = photoGrid(ctx, {
    testid: 'place-grid',
    empty: emptyState('No photos here yet', null, 'pin'),
    load: async (cursor) => {
      const { data, pagination } = await get(`/v1/locations/${encodeURIComponent(id)}/media/recent`, { count: GRID_PAGE, max_id: cursor });
      return { items: data, next: pagination.next_max_id || null };
    },
  });
  view.append(h('div', { class: 'page page-wide page-place', 'data-testid': 'place-page' }, head, grid.el));
  try {
    const { data } = await get(`/v1/locations/${encodeURIComponent(id)}`);
    if (!ctx.alive()) return;
    ctx.setTitle(data.name || 'Place');
    title.textContent = data.name || 'Unnamed place';
    sub.textContent = `${formatCoord(data.latitude, 'N', 'S')}, ${formatCoord(data.longitude, 'E', 'W')}`;
  } catch (err) {
    if (!ctx.alive()) return;
    replace(view, errorBox(err.status === 404 ? 'This place does not exist.' : err.message));
    return;
  }
  await grid.first;
}

export function popularPage(view, ctx) {
  ctx.setTitle('Popular');
  const grid = photoGrid(ctx, {
    testid: 'popular-grid',
    empty: emptyState('Nothing popular yet', 'Popular photos of the last days show up here; the list refreshes every minute.', 'explore'),
    load: async () => {
      const { data } = await get('/v1/media/popular', { count: 60 });
      return { items: data, next: null };
    },
  });
  view.append(h('div', { class: 'page page-wide page-popular', 'data-testid': 'popular-page' },
    pageHead(icon('explore'), 'Popular', h('p', { class: 'muted' }, 'The most liked and talked-about photos right now.'), 'popular-head'),
    grid.el));
  return grid.first;
}

export function searchPage(view, ctx, { q = '' }) {
  ctx.setTitle('Search');
  const input = h('input', { type: 'search', class: 'search-input', placeholder: 'Search people, #tags and places', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', 'aria-label': 'Search', 'data-testid': 'search-input', value: q });
  const users = h('ul', { class: 'user-list', 'data-testid': 'user-results' });
  const tags = h('ul', { class: 'tag-list', 'data-testid': 'tag-results' });
  const places = h('ul', { class: 'tag-list', 'data-testid': 'place-results' });
  const usersSec = h('section', { class: 'card results', hidden: true }, h('h2', { class: 'section-title' }, 'Accounts'), users);
  const tagsSec = h('section', { class: 'card results', hidden: true }, h('h2', { class: 'section-title' }, 'Tags'), tags);
  const placesSec = h('section', { class: 'card results', hidden: true }, h('h2', { class: 'section-title' }, 'Places'), places);
  const status = h('div', { class: 'search-status', 'data-testid': 'search-status' });
  const hint = h('div', { class: 'search-hint' },
    emptyState('Find people and photos', 'Search by username, name, #tag or place.', 'search'),
    h('p', { class: 'center' }, h('a', { class: 'btn btn-secondary', href: '#/popular' }, 'See what’s popular')));
  const form = h('form', { class: 'search-bar', role: 'search' }, icon('search'), input);
  form.addEventListener('submit', (e) => { e.preventDefault(); run(); });
  view.append(h('div', { class: 'page page-narrow page-search', 'data-testid': 'search-page' }, form, status, hint, usersSec, tagsSec, placesSec));

  let timer = 0;
  let seq = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, 250);
  });
  ctx.onCleanup(() => clearTimeout(timer));

  async function run() {
    const raw = input.value.trim();
    history.replaceState(null, '', raw ? `#/search?q=${encodeURIComponent(raw)}` : '#/search');
    const mine = ++seq;
    if (!raw) {
      for (const s of [usersSec, tagsSec, placesSec]) s.hidden = true;
      hint.hidden = false;
      status.replaceChildren();
      return;
    }
    hint.hidden = true;
    status.replaceChildren(spinner('Searching…'));
    const onlyTags = raw.startsWith('#');
    const onlyUsers = raw.startsWith('@');
    const term = raw.replace(/^[#@]+/, '');
    if (!term) {
      status.replaceChildren();
      return;
    }
    const none = Promise.resolve({ data: [] });
    try {
      const [u, t, p] = await Promise.all([
        onlyTags ? none : get('/v1/users/search', { q: term, count: 20 }),
        onlyUsers ? none : get('/v1/tags/search', { q: term, count: 20 }),
        onlyTags || onlyUsers ? none : get('/v1/locations/search', { q: term, count: 10 }),
      ]);
      if (mine !== seq || !ctx.alive()) return;
      users.replaceChildren(...u.data.map((x) => userRow(x)));
      tags.replaceChildren(...t.data.map((x) => h('li', { 'data-testid': 'tag-row', 'data-tag': x.name },
        h('a', { class: 'tag-row', href: `#/tag/${encodeURIComponent(x.name)}` },
          h('span', { class: 'tag-badge', 'aria-hidden': 'true' }, '#'),
          h('span', { class: 'tag-row-names' }, h('strong', null, `#${x.name}`), h('span', { class: 'muted' }, plural(x.media_count, 'post')))))));
      places.replaceChildren(...p.data.map((x) => h('li', { 'data-testid': 'place-row' },
        h('a', { class: 'tag-row', href: `#/place/${encodeURIComponent(x.id)}` },
          h('span', { class: 'tag-badge', 'aria-hidden': 'true' }, icon('pin')),
          h('span', { class: 'tag-row-names' }, h('strong', null, x.name))))));
      usersSec.hidden = !u.data.length;
      tagsSec.hidden = !t.data.length;
      placesSec.hidden = !p.data.length;
      status.replaceChildren(u.data.length || t.data.length || p.data.length
        ? ''
        : h('p', { class: 'muted center', 'data-testid': 'no-results' }, `No results for “${raw}”.`));
    } catch (err) {
      if (mine === seq && ctx.alive()) status.replaceChildren(errorBox(err.message, run));
    }
  }
  if (q) run();
  else input.focus();
}

// ---- activity ----

function activityText(item) {
  switch (item.type) {
    case 'like': return ['liked your photo.'];
    case 'comment': return ['commented: ', h('span', { class: 'activity-quote' }, richText(item.text || ''))];
    case 'follow': return ['started following you.'];
    case 'request': return ['asked to follow you. ', h('a', { href: '#/requests', class: 'activity-action', 'data-testid': 'review-requests' }, 'Review')];
    case 'approved': return ['approved your follow request.'];
    case 'mention': return ['mentioned you: ', h('span', { class: 'activity-quote' }, richText(item.text || ''))];
    default: return [String(item.type || 'did something').replace(/_/g, ' '), '.'];
  }
}

export function activityItem(item) {
  const u = item.user || {};
  const thumb = item.media && item.media.images && item.media.images.thumbnail
    ? h('a', { class: 'activity-thumb', href: `#/m/${encodeURIComponent(item.media.id)}`, 'aria-label': 'Open the photo' },
      photoImg(item.media.images.thumbnail.url, { alt: '' }))
    : null;
  return h('li', { class: 'activity-item', 'data-testid': 'activity-item', 'data-type': item.type },
    h('a', { href: `#/u/${encodeURIComponent(u.id)}`, class: 'activity-avatar', 'aria-label': u.username }, avatar(u, 'md')),
    h('p', { class: 'activity-text' }, userLink(u), ' ', activityText(item), ' ', timeEl(item.created_time)),
    thumb);
}

export function activityPage(view, ctx) {
  ctx.setTitle('Activity');
  const list = h('ul', { class: 'activity-list', 'data-testid': 'activity-list' });
  const { footer, first } = pager(ctx, {
    list,
    empty: emptyState('No activity yet', 'When people like or comment on your photos, or follow you, you’ll see it here.', 'heart'),
    load: async (cursor) => {
      const { data, pagination } = await get('/v1/users/self/activity', { count: 20, max_id: cursor });
      return { items: data, next: pagination.next_max_id || null };
    },
    render: activityItem,
  });
  view.append(h('div', { class: 'page page-narrow', 'data-testid': 'activity-page' },
    h('div', { class: 'page-title-row' }, h('h1', { class: 'page-title' }, 'Activity'),
      h('a', { class: 'btn btn-secondary btn-sm', href: '#/requests', 'data-testid': 'requests-link' }, 'Follow requests')),
    h('div', { class: 'card' }, list, footer)));
  return first;
}
