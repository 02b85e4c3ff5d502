// The home feed: your photos and those you follow, newest first, loaded
// page by page as you scroll.
import { get } from './api.js';
import { h } from './dom.js';
import { pager, emptyState } from './list.js';
import { mediaCard } from './media.js';

export const FEED_PAGE = 10;

export function feedPage(view, ctx) {
  ctx.setTitle('Home');
  const list = h('div', { class: 'feed', 'data-testid': 'feed' });
  const empty = h('div', null,
    emptyState('Welcome to picogram', 'Follow people to see their photos here, or share your first one.', 'home'),
    h('p', { class: 'center row-center' },
      h('a', { class: 'btn btn-primary', href: '#/upload' }, 'Share a photo'),
      h('a', { class: 'btn btn-secondary', href: '#/popular' }, 'Explore popular')));
  const { footer, first } = pager(ctx, {
    list,
    empty,
    load: async (maxId) => {
      const { data, pagination } = await get('/v1/users/self/feed', { count: FEED_PAGE, max_id: maxId });
      return { items: data, next: pagination.next_max_id || null };
    },
    render: (m) => mediaCard(ctx, m),
  });
  view.append(h('div', { class: 'page page-feed' }, list, footer));
  return first;
}
