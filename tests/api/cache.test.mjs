// The object cache must never show stale objects: an edit is visible on the
// next read of every object that embeds the user, for every viewer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, signup, uniqueName, uploadPhoto } from './lib.mjs';

let srv;
before(async () => { srv = await startServer(['--access-log', 'off']); });
after(async () => { await srv.stop(); });

test('a profile edit shows at once in media, likes, comments, lists and activity', async () => {
  const url = srv.url;
  const a = await signup(url, uniqueName('cacha'), 'password123', { full_name: 'Before' });
  const b = await signup(url, uniqueName('cachb'));
  const up = await uploadPhoto(url, { token: a.token, photo: 'tiny-1x1.jpg', fields: { caption: 'hello' } });
  assert.equal(up.status, 200, up.text);
  const media = up.body.data;
  assert.equal((await api(url, 'POST', `/v1/users/${a.user.id}/relationship`, { token: b.token, form: { action: 'follow' } })).status, 200);
  assert.equal((await api(url, 'POST', `/v1/media/${media.id}/likes`, { token: a.token })).status, 200);
  assert.equal((await api(url, 'POST', `/v1/media/${media.id}/comments`, { token: a.token, form: { text: 'mine' } })).status, 200);
  const views = async () => {
    const m = (await api(url, 'GET', `/v1/media/${media.id}`, { token: b.token })).body.data;
    const likes = (await api(url, 'GET', `/v1/media/${media.id}/likes`, { token: b.token })).body.data;
    const comments = (await api(url, 'GET', `/v1/media/${media.id}/comments`, { token: b.token })).body.data;
    const followers = (await api(url, 'GET', `/v1/users/${b.user.id}/follows`, { token: b.token })).body.data;
    return [m.user.full_name, m.caption.from.full_name, m.likes.data[0].full_name, m.comments.data[0].from.full_name,
      likes[0].full_name, comments[0].from.full_name, followers[0].full_name];
  };
  assert.deepEqual(await views(), Array(7).fill('Before')); // now cached
  const e = await api(url, 'POST', '/v1/users/self', { token: a.token, form: { full_name: 'After' } });
  assert.equal(e.status, 200);
  assert.deepEqual(await views(), Array(7).fill('After'));
  // privacy flips are seen at once too (the cached entry carries the flag)
  assert.equal((await api(url, 'POST', `/v1/users/${a.user.id}/relationship`, { token: b.token, form: { action: 'unfollow' } })).status, 200);
  assert.equal((await api(url, 'POST', '/v1/users/self', { token: a.token, form: { is_private: 'true' } })).status, 200);
  const hidden = await api(url, 'GET', `/v1/media/${media.id}`, { token: b.token });
  assert.equal(hidden.status, 400);
  assert.equal(hidden.body.meta.error_type, 'APINotAllowedError');
});
