// Profiles (photo grid, counts, follow / unfollow / requested), editing
// your profile and the private switch, follow requests, and the lists of
// followers and followings.
import { get, post, session, updateSessionUser, isSelf } from './api.js';
import { h, replace, avatar, userRow, safeUrl, spinner, errorBox, busy, toast, announce, field, icon } from './dom.js';
import { pager, photoGrid, emptyState } from './list.js';

const userPath = (id) => `/v1/users/${encodeURIComponent(id)}`;

/** The follow button's words for an outgoing status. */
function followLabel(status) {
  return status === 'follows' ? 'Following' : status === 'requested' ? 'Requested' : 'Follow';
}

export async function profilePage(view, ctx, { id, tab }, { onLogout }) {
  const uid = id === 'self' && session.user ? session.user.id : id;
  const self = isSelf(uid);
  view.append(spinner());
  let user;
  let rel = null;
  try {
    [user, rel] = await Promise.all([
      get(userPath(uid)).then((r) => r.data),
      self ? Promise.resolve(null) : get(`${userPath(uid)}/relationship`).then((r) => r.data),
    ]);
  } catch (err) {
    if (!ctx.alive()) return;
    replace(view, errorBox(err.status === 404 ? 'This account does not exist.' : err.message,
      () => { view.replaceChildren(); profilePage(view, ctx, { id, tab }, { onLogout }); }));
    return;
  }
  if (!ctx.alive()) return;
  if (self) updateSessionUser(user);
  ctx.setTitle(`${user.full_name || user.username} (@${user.username})`);
  const rerender = () => { view.replaceChildren(); return profilePage(view, ctx, { id: uid, tab }, { onLogout }); };

  const outgoing = rel ? rel.outgoing_status : null;
  const incoming = rel ? rel.incoming_status : null;
  const canSee = self || !user.is_private || outgoing === 'follows';

  // buttons
  const buttons = h('div', { class: 'profile-buttons' });
  if (self) {
    const logoutBtn = h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'logout' }, 'Log out');
    logoutBtn.addEventListener('click', () => busy(logoutBtn, onLogout, 'Logging out…'));
    // the whole account as a zip (GET /v1/users/self/export, on the session cookie)
    const exportLink = h('a', {
      class: 'btn btn-secondary', href: '/v1/users/self/export', download: '', 'data-testid': 'export',
    }, 'Download your data');
    buttons.append(
      h('a', { class: 'btn btn-secondary', href: '#/edit', 'data-testid': 'edit-profile' }, 'Edit profile'),
      exportLink,
      // apps you allowed, and apps you made (#/developer)
      h('a', { class: 'btn btn-secondary', href: '#/developer', 'data-testid': 'developer-link' }, 'Apps'),
      // connected accounts and notifications (#/settings)
      h('a', { class: 'btn btn-secondary', href: '#/settings', 'data-testid': 'settings-link' }, 'Settings'),
      logoutBtn);
  } else if (incoming === 'blocked_by_you') {
    const unblock = h('button', { type: 'button', class: 'btn btn-secondary', 'data-testid': 'unblock' }, 'Unblock');
    unblock.addEventListener('click', async () => {
      try {
        await busy(unblock, () => post(`${userPath(uid)}/relationship`, { action: 'unblock' }));
        rerender();
      } catch (err) {
        toast(err.message, 'error');
      }
    });
    buttons.append(unblock);
  } else {
    const follow = h('button', {
      type: 'button',
      class: ['btn', outgoing === 'none' ? 'btn-primary' : 'btn-secondary', 'follow-btn'],
      'data-testid': 'follow-button',
      'data-status': outgoing,
    }, followLabel(outgoing));
    follow.addEventListener('click', async () => {
      const action = outgoing === 'none' ? 'follow' : 'unfollow';
      const refocus = document.activeElement === follow; // the button is painted anew: focus goes to the new one
      try {
        const { data } = await busy(follow, () => post(`${userPath(uid)}/relationship`, { action }));
        follow.textContent = followLabel(data.outgoing_status);
        follow.dataset.status = data.outgoing_status;
        if (data.outgoing_status === 'requested') toast(`Requested to follow ${user.username}`);
        else announce(data.outgoing_status === 'follows' ? `Following ${user.username}` : `Unfollowed ${user.username}`);
        await rerender();
        if (refocus) view.querySelector('[data-testid="follow-button"]')?.focus();
      } catch (err) {
        toast(err.message, 'error');
      }
    });
    buttons.append(follow);
  }

  // counts
  const count = (n, one, many, href) => {
    const inner = [h('strong', null, Number(n || 0).toLocaleString('en-US')), ' ', Number(n) === 1 ? one : many];
    return href && canSee
      ? h('a', { class: 'count', href }, inner)
      : h('span', { class: 'count' }, inner);
  };
  const counts = h('ul', { class: 'counts', 'data-testid': 'counts' },
    h('li', { 'data-testid': 'count-media' }, count(user.counts.media, 'post', 'posts')),
    h('li', { 'data-testid': 'count-followers' }, count(user.counts.followed_by, 'follower', 'followers', `#/u/${uid}/followers`)),
    h('li', { 'data-testid': 'count-follows' }, count(user.counts.follows, 'following', 'following', `#/u/${uid}/following`)));

  const site = user.website ? safeUrl(user.website) : null;
  const bio = h('div', { class: 'profile-bio' },
    user.full_name ? h('p', { class: 'full-name', 'data-testid': 'full-name' }, user.full_name) : null,
    user.bio ? h('p', { class: 'bio', 'data-testid': 'bio' }, user.bio) : null,
    site ? h('a', { class: 'website', href: site, rel: 'nofollow noopener noreferrer', target: '_blank' }, user.website.replace(/^https?:\/\//, '')) : null,
    self && user.is_private ? h('a', { class: 'banner-link', href: '#/requests', 'data-testid': 'requests-link' }, 'Follow requests ›') : null);

  const header = h('header', { class: 'profile-head' },
    h('div', { class: 'profile-avatar' }, avatar(user, 'xl')),
    h('div', { class: 'profile-main' },
      h('div', { class: 'profile-title' },
        h('h1', { class: 'profile-username', 'data-testid': 'profile-username' }, user.username),
        user.is_private ? h('span', { class: 'private-badge', title: 'Private account', 'data-testid': 'private-badge' }, icon('lock'), 'Private') : null,
        incoming === 'followed_by' ? h('span', { class: 'chip' }, 'Follows you') : null),
      buttons, counts, bio));

  const page = h('div', { class: 'page page-profile', 'data-testid': 'profile', 'data-user-id': uid }, header);

  if (incoming === 'requested_by') page.append(requestBanner(user, rerender));

  if (!canSee) {
    page.append(h('div', { class: 'private-note', 'data-testid': 'private-note' },
      h('span', { class: 'empty-icon' }, icon('lock')),
      h('p', { class: 'empty-title' }, 'This account is private'),
      h('p', { class: 'muted' }, outgoing === 'requested'
        ? 'Your request is waiting for approval.'
        : 'Follow this account to see their photos.')));
    replace(view, page);
    return;
  }

  // tabs on your own profile: your posts, the photos you liked
  const current = self && tab === 'liked' ? 'liked' : 'posts';
  if (self) {
    page.append(h('nav', { class: 'tabs' },
      h('a', { href: `#/u/${uid}`, class: ['tab', current === 'posts' && 'active'], 'data-testid': 'tab-posts' }, 'Posts'),
      h('a', { href: `#/u/${uid}/liked`, class: ['tab', current === 'liked' && 'active'], 'data-testid': 'tab-liked' }, 'Liked')));
  }
  const grid = current === 'liked'
    ? photoGrid(ctx, {
      testid: 'liked-grid',
      empty: emptyState('No likes yet', 'Photos you like show up here.', 'heart'),
      load: async (cursor) => {
        const { data, pagination } = await get('/v1/users/self/media/liked', { count: 18, max_like_id: cursor });
        return { items: data, next: pagination.next_max_like_id || null };
      },
    })
    : photoGrid(ctx, {
      testid: 'profile-grid',
      empty: emptyState(self ? 'Share your first photo' : 'No posts yet', self ? 'Photos you share appear on your profile.' : null, 'image'),
      load: async (cursor) => {
        const { data, pagination } = await get(`${userPath(uid)}/media/recent`, { count: 18, max_id: cursor });
        return { items: data, next: pagination.next_max_id || null };
      },
    });
  page.append(grid.el);
  replace(view, page);
  await grid.first;
}

function requestBanner(user, done) {
  const approve = h('button', { type: 'button', class: 'btn btn-primary btn-sm' }, 'Approve');
  const ignore = h('button', { type: 'button', class: 'btn btn-secondary btn-sm' }, 'Ignore');
  const act = (btn, action) => async () => {
    try {
      await busy(btn, () => post(`${userPath(user.id)}/relationship`, { action }));
      done();
    } catch (err) {
      toast(err.message, 'error');
    }
  };
  approve.addEventListener('click', act(approve, 'approve'));
  ignore.addEventListener('click', act(ignore, 'ignore'));
  return h('div', { class: 'banner' }, h('span', null, `${user.username} wants to follow you.`), h('span', { class: 'row' }, approve, ignore));
}

/** #/@name: a mention's link; finds the user by exact username. */
export async function mentionPage(view, ctx, { username }, opts) {
  view.append(spinner());
  try {
    const { data } = await get('/v1/users/search', { q: username, count: 20 });
    if (!ctx.alive()) return;
    const u = data.find((x) => x.username.toLowerCase() === username.toLowerCase());
    if (!u) {
      replace(view, emptyState(`No one is called @${username}`, 'The account may have been renamed or removed.', 'user'));
      return;
    }
    view.replaceChildren();
    await profilePage(view, ctx, { id: u.id }, opts);
  } catch (err) {
    if (ctx.alive()) replace(view, errorBox(err.message));
  }
}

export async function editPage(view, ctx) {
  ctx.setTitle('Edit profile');
  view.append(spinner());
  let user;
  try {
    user = (await get('/v1/users/self')).data;
  } catch (err) {
    if (ctx.alive()) replace(view, errorBox(err.message, () => { view.replaceChildren(); editPage(view, ctx); }));
    return;
  }
  if (!ctx.alive()) return;
  const fullName = h('input', { name: 'full_name', value: user.full_name, maxlength: '100', autocomplete: 'name', 'data-testid': 'edit-fullname' });
  const bio = h('textarea', { name: 'bio', rows: '3', maxlength: '500', 'data-testid': 'edit-bio' });
  bio.value = user.bio;
  const website = h('input', { name: 'website', type: 'url', value: user.website, placeholder: 'https://', autocomplete: 'url', 'data-testid': 'edit-website' });
  const email = h('input', { name: 'email', type: 'email', placeholder: 'Leave empty to keep it', autocomplete: 'email', 'data-testid': 'edit-email' });
  const priv = h('input', { type: 'checkbox', role: 'switch', class: 'switch-input', checked: user.is_private, 'data-testid': 'private-switch' });
  const privRow = h('label', { class: 'switch' },
    priv, h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })),
    h('span', { class: 'switch-text' },
      h('strong', null, 'Private account'),
      h('span', { class: 'muted' }, 'Only people you approve can see your photos and lists.')));
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'edit-error' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'edit-save' }, 'Save');
  const form = h('form', { class: 'form', 'data-testid': 'edit-form', novalidate: true },
    h('div', { class: 'edit-who' }, avatar(user, 'md'), h('strong', null, user.username)),
    field('Name', fullName), field('Bio', bio), field('Website', website), field('Email', email),
    privRow, error,
    h('div', { class: 'row' }, save, h('a', { class: 'btn btn-secondary', href: `#/u/${user.id}` }, 'Cancel')),
    h('p', { class: 'hint' }, 'Apps you allowed to use your account, and apps you made: ',
      h('a', { class: 'text-link', href: '#/developer', 'data-testid': 'edit-developer-link' }, 'Apps and developer settings'), '.'),
    h('p', { class: 'hint' }, 'Accounts on other servers your photos can also go to, and notifications: ',
      h('a', { class: 'text-link', href: '#/settings', 'data-testid': 'edit-settings-link' }, 'Connected accounts and notifications'), '.'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    let site = website.value.trim();
    if (site && !/^https?:\/\//i.test(site)) site = `https://${site}`;
    const fields = { full_name: fullName.value.trim(), bio: bio.value, website: site, is_private: priv.checked ? 'true' : 'false' };
    if (email.value.trim()) fields.email = email.value.trim();
    try {
      const { data } = await busy(save, () => post('/v1/users/self', fields), 'Saving…');
      updateSessionUser(data);
      toast('Profile saved');
      location.hash = `#/u/${data.id}`;
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  replace(view, h('div', { class: 'page page-narrow' }, h('div', { class: 'card card-pad' }, h('h1', { class: 'page-title' }, 'Edit profile'), form)));
}

export async function requestsPage(view, ctx) {
  ctx.setTitle('Follow requests');
  view.append(spinner());
  try {
    const { data } = await get('/v1/users/self/requested-by');
    if (!ctx.alive()) return;
    const list = h('ul', { class: 'user-list', 'data-testid': 'request-list' });
    for (const u of data) {
      const approve = h('button', { type: 'button', class: 'btn btn-primary btn-sm', 'data-testid': 'approve' }, 'Approve');
      const ignore = h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-testid': 'ignore' }, 'Ignore');
      const row = userRow(u, approve, ignore);
      const act = (btn, action, doneText) => async () => {
        try {
          await busy(btn, () => post(`${userPath(u.id)}/relationship`, { action }));
          row.querySelector('.user-row-actions').replaceChildren(h('span', { class: 'muted', 'data-testid': 'request-done' }, doneText));
        } catch (err) {
          toast(err.message, 'error');
        }
      };
      approve.addEventListener('click', act(approve, 'approve', 'Approved'));
      ignore.addEventListener('click', act(ignore, 'ignore', 'Ignored'));
      list.append(row);
    }
    replace(view, h('div', { class: 'page page-narrow', 'data-testid': 'requests-page' },
      h('h1', { class: 'page-title' }, 'Follow requests'),
      data.length ? h('div', { class: 'card' }, list)
        : emptyState('No requests', 'When someone asks to follow your private account, you can approve them here.', 'user')));
  } catch (err) {
    if (ctx.alive()) replace(view, errorBox(err.message, () => { view.replaceChildren(); requestsPage(view, ctx); }));
  }
}

/** #/u/ID/followers and #/u/ID/following */
export function followListPage(view, ctx, { id, kind }) {
  const followers = kind === 'followers';
  ctx.setTitle(followers ? 'Followers' : 'Following');
  const list = h('ul', { class: 'user-list', 'data-testid': 'user-list' });
  const { footer, first } = pager(ctx, {
    list,
    empty: emptyState(followers ? 'No followers yet' : 'Not following anyone yet', null, 'user'),
    load: async (cursor) => {
      const { data, pagination } = await get(`${userPath(id)}/${followers ? 'followed-by' : 'follows'}`, { count: 50, cursor });
      return { items: data, next: pagination.next_cursor || null };
    },
    render: (u) => userRow(u),
  });
  view.append(h('div', { class: 'page page-narrow' },
    h('h1', { class: 'page-title' }, h('a', { href: `#/u/${id}`, class: 'back', 'aria-label': 'Back to profile' }, '‹'), followers ? 'Followers' : 'Following'),
    h('div', { class: 'card' }, list, footer)));
  return first;
}
