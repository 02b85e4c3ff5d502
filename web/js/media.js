// A photo as a card (the feed, the photo page): likes (button or double
// tap; the button is the keyboard's way), comments (add, delete your
// own), caption with links, and for its owner, caption editing and
// deletion. Likes and new comments are announced to screen readers.
import { get, post, del, session } from './api.js';
import { h, replace, icon, avatar, userLink, userRow, richText, photoImg, photoAlt, plural, timeEl, toast, announce, busy, errorBox, spinner } from './dom.js';
import { photoShares } from './shares.js';

const mediaPath = (id) => `/v1/media/${encodeURIComponent(id)}`;

function isMine(userId) {
  return Boolean(session.user && userId && session.user.id === userId);
}

/** The photo itself with a srcset of its renditions. */
function photoElement(media) {
  const im = media.images || {};
  const std = im.standard_resolution || im.low_resolution || im.thumbnail || {};
  const srcset = [im.low_resolution, im.standard_resolution, im.high_resolution]
    .filter((r) => r && r.url && r.width)
    .map((r) => `${r.url} ${r.width}w`)
    .join(', ');
  return photoImg(std.url, {
    class: 'photo',
    alt: photoAlt(media),
    width: std.width || undefined,
    height: std.height || undefined,
    srcset: srcset || undefined,
    sizes: '(max-width: 640px) 100vw, 614px',
    draggable: 'false',
  });
}

/**
 * A media card. full: the photo page (all comments, likers, owner menu).
 * onDeleted(): called after the owner deleted the photo.
 */
export function mediaCard(ctx, media, { full = false, onDeleted } = {}) {
  const id = media.id;
  const owner = media.user || {};
  let liked = Boolean(media.user_has_liked);
  let likeCount = media.likes ? media.likes.count : 0;
  let commentCount = media.comments ? media.comments.count : 0;
  let likePending = false;

  const card = h('article', { class: ['card', 'media-card', full && 'media-card-full'], 'data-testid': 'media-card', 'data-media-id': id });

  // header: who, where, and the owner's menu
  const place = media.location && media.location.name
    ? (media.location.id
      ? h('a', { class: 'place-link', href: `#/place/${encodeURIComponent(media.location.id)}`, 'data-testid': 'place-link' }, media.location.name)
      : h('span', { class: 'place-link' }, media.location.name))
    : null;
  const head = h('header', { class: 'card-head' },
    h('a', { href: `#/u/${encodeURIComponent(owner.id)}`, class: 'card-avatar', 'aria-label': owner.username }, avatar(owner, 'sm')),
    h('div', { class: 'card-head-text' }, userLink(owner), place));
  if (isMine(owner.id)) head.append(ownerMenu());
  card.append(head);

  // the photo, double-tap to like
  const heart = h('span', { class: 'heart-burst', 'aria-hidden': 'true' }, icon('heart'));
  const wrap = h('div', { class: 'photo-wrap', 'data-testid': 'photo' }, photoElement(media), heart);
  let lastTap = 0;
  wrap.addEventListener('click', () => {
    const now = Date.now();
    if (now - lastTap < 400) {
      lastTap = 0;
      heart.classList.remove('show');
      void heart.offsetWidth; // restart the animation
      heart.classList.add('show');
      setLiked(true);
    } else {
      lastTap = now;
    }
  });
  wrap.addEventListener('dblclick', (e) => e.preventDefault());
  card.append(wrap);

  // actions
  const likeBtn = h('button', { type: 'button', class: 'icon-btn like-btn', 'data-testid': 'like-button', onclick: () => setLiked(!liked) }, icon('heart'));
  const commentLink = h('a', { class: 'icon-btn', href: `#/m/${encodeURIComponent(id)}`, 'aria-label': 'Comment', 'data-testid': 'comment-link' }, icon('comment'));
  const actions = h('div', { class: 'card-actions' }, likeBtn, commentLink);
  card.append(actions);

  const likesLine = h('button', { type: 'button', class: 'likes-line', 'data-testid': 'like-count' });
  const likers = h('ul', { class: 'user-list likers', hidden: true, 'data-testid': 'likers' });
  likesLine.addEventListener('click', () => (full ? toggleLikers() : (location.hash = `#/m/${encodeURIComponent(id)}`)));
  const body = h('div', { class: 'card-body' }, likesLine, likers);
  card.append(body);

  const captionEl = h('div', { class: 'caption', 'data-testid': 'caption' });
  body.append(captionEl);
  paintCaption(media.caption);

  const moreComments = h('a', { class: 'muted view-comments', href: `#/m/${encodeURIComponent(id)}`, 'data-testid': 'view-comments' });
  const commentList = h('ul', { class: 'comments', 'data-testid': 'comments' });
  body.append(moreComments, commentList, timeEl(media.created_time));
  paintComments(media.comments ? media.comments.data || [] : []);

  // add a comment
  const input = h('input', { type: 'text', name: 'text', maxlength: '2200', placeholder: 'Add a comment…', autocomplete: 'off', 'aria-label': 'Add a comment', 'data-testid': 'comment-input' });
  const postBtn = h('button', { type: 'submit', class: 'btn-link post-btn', disabled: true, 'data-testid': 'comment-submit' }, 'Post');
  const commentErr = h('p', { class: 'form-error', role: 'alert', hidden: true });
  input.addEventListener('input', () => { postBtn.disabled = !input.value.trim(); });
  const form = h('form', { class: 'comment-form', 'data-testid': 'comment-form' }, input, postBtn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    commentErr.hidden = true;
    try {
      await busy(postBtn, async () => {
        input.disabled = true;
        try {
          await post(`${mediaPath(id)}/comments`, { text });
        } finally {
          input.disabled = false;
        }
      });
      input.value = '';
      postBtn.disabled = true;
      commentCount++;
      await reloadComments();
      announce(`Comment posted. ${plural(commentCount, 'comment')}.`);
    } catch (err) {
      commentErr.textContent = err.message;
      commentErr.hidden = false;
    }
    if (ctx.alive()) input.focus(); // it was disabled while posting, which took focus away
  });
  card.append(h('div', { class: 'card-foot' }, form, commentErr));

  paintLikes();
  if (full) reloadComments();
  return card;

  // ---- helpers ----

  function paintLikes() {
    likeBtn.classList.toggle('liked', liked);
    likeBtn.setAttribute('aria-pressed', String(liked));
    likeBtn.setAttribute('aria-label', liked ? 'Unlike' : 'Like');
    likesLine.textContent = plural(likeCount, 'like');
    card.dataset.liked = String(liked);
  }

  async function setLiked(want) {
    if (liked === want || likePending) return;
    likePending = true;
    likeBtn.setAttribute('aria-busy', 'true');
    liked = want;
    likeCount += want ? 1 : -1;
    paintLikes();
    try {
      if (want) await post(`${mediaPath(id)}/likes`);
      else await del(`${mediaPath(id)}/likes`);
      announce(`${want ? 'Liked' : 'Unliked'}. ${plural(likeCount, 'like')}.`);
      if (!likers.hidden) loadLikers();
    } catch (err) {
      liked = !want;
      likeCount += want ? -1 : 1;
      paintLikes();
      toast(err.message, 'error');
    } finally {
      likePending = false;
      likeBtn.removeAttribute('aria-busy');
    }
  }

  function toggleLikers() {
    likers.hidden = !likers.hidden;
    if (!likers.hidden) loadLikers();
  }

  async function loadLikers() {
    replace(likers, spinner());
    try {
      const { data } = await get(`${mediaPath(id)}/likes`);
      replace(likers, data.length ? data.map((u) => userRow(u)) : h('li', { class: 'muted' }, 'No likes yet.'));
    } catch (err) {
      replace(likers, errorBox(err.message));
    }
  }

  function paintCaption(caption) {
    captionEl.replaceChildren();
    if (caption && caption.text) {
      captionEl.append(userLink(caption.from || owner), ' ', h('span', { class: 'caption-text', 'data-testid': 'caption-text' }, richText(caption.text)));
    }
    captionEl.hidden = !(caption && caption.text);
  }

  function paintComments(list) {
    const shown = full ? list : list.slice(-2);
    commentList.replaceChildren(...shown.map(commentItem));
    const hiddenCount = commentCount - shown.length;
    moreComments.hidden = full || hiddenCount <= 0;
    moreComments.textContent = commentCount > 1 ? `View all ${commentCount} comments` : 'View 1 comment';
  }

  async function reloadComments() {
    try {
      const { data } = await get(`${mediaPath(id)}/comments`);
      if (!ctx.alive()) return;
      paintComments(data);
    } catch (err) {
      if (ctx.alive()) commentList.replaceChildren(h('li', null, errorBox(err.message, reloadComments)));
    }
  }

  function commentItem(c) {
    const from = c.from || {};
    const li = h('li', { class: 'comment', 'data-testid': 'comment', 'data-comment-id': c.id },
      h('span', { class: 'comment-text' }, userLink(from), ' ', richText(c.text)));
    if (isMine(from.id) || isMine(owner.id)) {
      const delBtn = h('button', { type: 'button', class: 'icon-btn comment-delete', 'aria-label': 'Delete comment', title: 'Delete comment', 'data-testid': 'comment-delete' }, icon('trash'));
      delBtn.addEventListener('click', async () => {
        try {
          await busy(delBtn, () => del(`${mediaPath(id)}/comments/${encodeURIComponent(c.id)}`));
          commentCount = Math.max(0, commentCount - 1);
          li.remove();
          if (!full) reloadComments();
          toast('Comment deleted');
        } catch (err) {
          toast(err.message, 'error');
        }
      });
      li.append(delBtn);
    }
    return li;
  }

  /*
   * The owner's menu, as the ARIA menu button pattern: opening it moves
   * focus to its first item, the arrow keys (and Home, End) move between
   * the items, Escape closes it and gives focus back to its button, and
   * focus leaving it (Tab, a click elsewhere) closes it.
   */
  function ownerMenu() {
    const menu = h('div', { class: 'menu', hidden: true, role: 'menu', id: `menu-${id}`, 'aria-label': 'Photo options' });
    const toggle = h('button', { type: 'button', class: 'icon-btn menu-toggle', 'aria-label': 'More options', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': menu.id, 'data-testid': 'media-menu' }, '⋯');
    const editBtn = h('button', { type: 'button', role: 'menuitem', tabindex: '-1', 'data-testid': 'edit-caption' }, 'Edit caption');
    const delBtn = h('button', { type: 'button', role: 'menuitem', tabindex: '-1', class: 'danger', 'data-testid': 'delete-media' }, 'Delete');
    const items = [editBtn, delBtn];
    const setOpen = (open, focusTo) => {
      menu.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      if (focusTo) focusTo.focus();
    };
    toggle.addEventListener('click', () => setOpen(menu.hidden, menu.hidden ? editBtn : null));
    toggle.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      e.preventDefault();
      setOpen(true, e.key === 'ArrowDown' ? editBtn : delBtn);
    });
    menu.addEventListener('keydown', (e) => {
      const at = items.indexOf(document.activeElement);
      const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[e.key];
      if (e.key === 'Escape') {
        e.preventDefault();
        setOpen(false, toggle);
      } else if (to !== undefined) {
        e.preventDefault();
        items[(to + items.length) % items.length].focus();
      }
    });
    menu.addEventListener('focusout', (e) => { if (!menu.contains(e.relatedTarget) && e.relatedTarget !== toggle) setOpen(false); });
    editBtn.addEventListener('click', () => { setOpen(false); editCaption(); });
    let armed = false;
    delBtn.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        delBtn.textContent = 'Tap again to delete';
        return;
      }
      try {
        await busy(delBtn, () => del(mediaPath(id)), 'Deleting…');
        toast('Photo deleted');
        card.remove();
        if (onDeleted) onDeleted();
      } catch (err) {
        toast(err.message, 'error');
      }
    });
    menu.append(editBtn, delBtn);
    const wrapEl = h('div', { class: 'menu-wrap' }, toggle, menu);
    const close = (e) => { if (!wrapEl.contains(e.target)) setOpen(false); };
    document.addEventListener('click', close);
    ctx.onCleanup(() => document.removeEventListener('click', close));
    return wrapEl;
  }

  function editCaption() {
    const ta = h('textarea', { maxlength: '2200', rows: '3', 'data-testid': 'caption-edit' });
    ta.value = media.caption ? media.caption.text : '';
    const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'btn btn-secondary btn-sm' }, 'Cancel');
    const f = h('form', { class: 'caption-form' }, ta, err, h('div', { class: 'row' }, save, cancel));
    cancel.addEventListener('click', () => { f.remove(); captionEl.hidden = !(media.caption && media.caption.text); });
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const { data } = await busy(save, () => post(mediaPath(id), { caption: ta.value }), 'Saving…');
        media.caption = data.caption;
        paintCaption(data.caption);
        f.remove();
      } catch (ex) {
        err.textContent = ex.message;
        err.hidden = false;
      }
    });
    captionEl.hidden = true;
    captionEl.after(f);
    ta.focus();
  }
}

/** The photo page: by ID (#/m/ID) or by the short code of its link (/p/CODE/). */
export async function photoPage(view, ctx, { id, code }) {
  ctx.setTitle('Photo');
  view.append(spinner());
  try {
    const path = code ? `/v1/media/shortcode/${encodeURIComponent(code)}` : mediaPath(id);
    const { data } = await get(path);
    if (!ctx.alive()) return;
    ctx.setTitle(`${data.user.username}${data.caption ? `: “${data.caption.text.slice(0, 60)}”` : ''}`);
    replace(view, h('div', { class: 'page page-photo', 'data-testid': 'photo-page' },
      mediaCard(ctx, data, { full: true, onDeleted: () => { location.hash = `#/u/${encodeURIComponent(data.user.id)}`; } }),
      // where the owner also posted it (Mastodon-API servers)
      isMine(data.user.id) ? photoShares(ctx, data.id) : null));
  } catch (err) {
    if (!ctx.alive()) return;
    replace(view, errorBox(err.status === 404 ? 'This photo is gone, or the link is wrong.' : err.message,
      () => { view.replaceChildren(); photoPage(view, ctx, { id, code }); }));
  }
}
