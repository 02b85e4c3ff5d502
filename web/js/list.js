// Lists that load page after page as you scroll (infinite scroll), and the
// square photo grid of profiles, tags, places and popular.
import { h, photoImg, photoAlt, errorBox, spinner, icon } from './dom.js';

/**
 * Fills `list` page by page.
 *   load(cursor) → Promise<{items: [...], next: cursor or null}> (cursor is null for the first page)
 *   render(item) → a node to append
 *   empty → a node shown when the first page is empty
 * Returns {footer, first}: put footer after the list; first settles after
 * the first page. The next page loads when the footer scrolls into view
 * (IntersectionObserver), or with the "Load more" button.
 */
export function pager(ctx, { list, load, render, empty }) {
  let cursor = null;
  let more = true;
  let loading = false;
  let count = 0;
  const status = h('div', { class: 'pager-status' });
  const moreBtn = h('button', { type: 'button', class: 'btn btn-link', hidden: true, 'data-testid': 'load-more' }, 'Load more');
  const footer = h('div', { class: 'pager', 'data-testid': 'pager' }, status, moreBtn);

  async function next() {
    if (loading || !more || !ctx.alive()) return;
    loading = true;
    footer.dataset.state = 'loading';
    moreBtn.hidden = true;
    status.replaceChildren(spinner());
    try {
      const page = await load(cursor);
      if (!ctx.alive()) return;
      for (const item of page.items) {
        const node = render(item);
        if (node) list.append(node);
        count++;
      }
      cursor = page.next;
      more = Boolean(page.next) && page.items.length > 0;
      status.replaceChildren();
      if (count === 0 && empty) status.replaceChildren(empty);
      footer.dataset.state = more ? 'more' : 'end';
      moreBtn.hidden = !more;
    } catch (err) {
      if (!ctx.alive()) return;
      footer.dataset.state = 'error';
      status.replaceChildren(errorBox(err.message, () => next()));
    } finally {
      loading = false;
    }
    // still on screen (a short page)? the observer will not fire again by itself
    if (more && ctx.alive() && observer) {
      observer.unobserve(footer);
      observer.observe(footer);
    }
  }

  moreBtn.addEventListener('click', () => next());
  let observer = null;
  if ('IntersectionObserver' in window) {
    observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) next();
    }, { rootMargin: '0px 0px 600px 0px' });
    ctx.onCleanup(() => observer.disconnect());
  }
  const first = next().then(() => {
    if (observer && ctx.alive()) observer.observe(footer);
  });
  return { footer, first };
}

/** A square thumbnail linking to the photo page. */
export function gridItem(media) {
  const img = media.images || {};
  const src = (img.low_resolution || img.thumbnail || img.standard_resolution || {}).url;
  const alt = photoAlt(media, 120);
  return h('a', { class: 'grid-item', href: `#/m/${encodeURIComponent(media.id)}`, 'data-testid': 'grid-item', 'data-media-id': media.id },
    photoImg(src, { alt }),
    h('span', { class: 'grid-overlay', 'aria-hidden': 'true' },
      h('span', null, icon('heart'), String(media.likes ? media.likes.count : 0)),
      h('span', null, icon('comment'), String(media.comments ? media.comments.count : 0))));
}

/** A 3-column grid filled by a pager. */
export function photoGrid(ctx, { load, empty, testid = 'photo-grid' }) {
  const grid = h('div', { class: 'grid', 'data-testid': testid });
  const { footer, first } = pager(ctx, { list: grid, load, render: gridItem, empty });
  return { el: h('div', { class: 'grid-wrap' }, grid, footer), first };
}

/** An empty-state block. */
export function emptyState(title, text, iconName = 'image') {
  return h('div', { class: 'empty', 'data-testid': 'empty' },
    h('span', { class: 'empty-icon' }, icon(iconName)),
    h('p', { class: 'empty-title' }, title),
    text ? h('p', { class: 'muted' }, text) : null);
}
