// Users: profiles, profile edits, search, and the v1 conventions around them
// (.json suffix, where the token may come from, _method=DELETE).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api, signup, uniqueName, show, uploadPhoto,
  assertOk, assertV1Error, assertFullUser, assertShortUser,
} from './lib.mjs';

let srv;
let url;

before(async () => {
  srv = await startServer();
  url = srv.url;
});

after(async () => {
  await srv?.stop();
});

const getSelf = (token) => api(url, 'GET', '/v1/users/self', { token });
const edit = (token, form) => api(url, 'POST', '/v1/users/self', { token, form });

describe('GET /v1/users/{id|self}', () => {
  let a;
  let b;
  before(async () => {
    a = await signup(url, uniqueName('showa'), 'password123', { full_name: 'Show A' });
    b = await signup(url, uniqueName('showb'), 'password123', { full_name: 'Show B' });
  });

  it('returns the viewer for self', async () => {
    const r = await getSelf(a.token);
    const u = assertOk(r);
    assertFullUser(u, { id: a.user.id, username: a.user.username, full_name: 'Show A' });
    assert.deepEqual(u, a.user);
    assert.equal(r.body.pagination, undefined);
  });

  it('returns any user by id', async () => {
    const r = await api(url, 'GET', `/v1/users/${b.user.id}`, { token: a.token });
    const u = assertOk(r);
    assertFullUser(u, { id: b.user.id, username: b.user.username, full_name: 'Show B' });
    const own = assertOk(await api(url, 'GET', `/v1/users/${a.user.id}`, { token: a.token }));
    assert.deepEqual(own, a.user);
  });

  it('answers 404 for unknown or malformed ids', async () => {
    const unknown = [
      String(BigInt(a.user.id) + 7n),
      '1',
      '0',
      '-1',
      'abc',
      'SELF',
      '12abc',
      '99999999999999999999999',
      '9223372036854775808',
      encodeURIComponent("1' OR '1'='1"),
    ];
    for (const id of unknown) {
      const r = await api(url, 'GET', `/v1/users/${id}`, { token: a.token });
      assertV1Error(r, 404, 'APINotFoundError');
    }
  });

  it('needs a valid token', async () => {
    assertV1Error(await api(url, 'GET', '/v1/users/self'), 400, 'OAuthParameterException');
    assertV1Error(await api(url, 'GET', `/v1/users/${a.user.id}`), 400, 'OAuthParameterException');
    assertV1Error(await getSelf('123.abc'), 400, 'OAuthAccessTokenException');
    assertV1Error(await api(url, 'GET', '/v1/users/self', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
      400, 'OAuthParameterException');
  });
});

describe('a profile read right after a change shows it (the full object is cached)', () => {
  it('counts and fields follow every write, read as the viewer and as another user', async () => {
    const a = await signup(url, uniqueName('fresha'));
    const b = await signup(url, uniqueName('freshb'));
    const c3 = await signup(url, uniqueName('freshc'));
    const counts = async (who, reader) => assertOk(await api(url, 'GET', `/v1/users/${who.user.id}`,
      { token: reader.token })).counts;
    const expect = async (what, c) => {
      for (let i = 0; i < 3; i++) { // read repeatedly: the second read onward is from the cache
        assert.deepEqual(await counts(a, a), c, `${what}: a reading a`);
        assert.deepEqual(await counts(a, c3), c, `${what}: another user reading a`);
      }
    };
    await expect('new', { media: 0, follows: 0, followed_by: 0 });
    const up = await uploadPhoto(url, { token: a.token, photo: 'landscape.jpg' });
    assert.equal(up.status, 200, show(up));
    await expect('after a post', { media: 1, follows: 0, followed_by: 0 });
    let r = await api(url, 'POST', `/v1/users/${a.user.id}/relationship`, { token: b.token, form: { action: 'follow' } });
    assert.equal(r.status, 200, show(r));
    await expect('after b follows a', { media: 1, follows: 0, followed_by: 1 });
    r = await api(url, 'POST', `/v1/users/${b.user.id}/relationship`, { token: a.token, form: { action: 'follow' } });
    assert.equal(r.status, 200, show(r));
    await expect('after a follows b', { media: 1, follows: 1, followed_by: 1 });
    r = await api(url, 'POST', `/v1/users/${b.user.id}/relationship`, { token: a.token, form: { action: 'block' } });
    assert.equal(r.status, 200, show(r));
    await expect('after a blocks b', { media: 1, follows: 0, followed_by: 0 });
    r = await api(url, 'DELETE', `/v1/media/${up.body.data.id}`, { token: a.token });
    assert.equal(r.status, 200, show(r));
    await expect('after the post is deleted', { media: 0, follows: 0, followed_by: 0 });
    assert.equal(assertOk(await getSelf(a.token)).full_name, '');
    assertOk(await edit(a.token, { full_name: 'Fresh Name' }));
    assert.equal(assertOk(await getSelf(a.token)).full_name, 'Fresh Name');
    assert.equal(assertOk(await api(url, 'GET', `/v1/users/${a.user.id}`, { token: c3.token })).full_name,
      'Fresh Name');
    // b, whom a blocks, does not see a at all
    const r2 = await api(url, 'GET', `/v1/users/${a.user.id}`, { token: b.token });
    assert.equal(r2.status, 404, show(r2));
  });
});

describe('POST /v1/users/self (profile edit)', () => {
  it('edits each field and keeps the others', async () => {
    const { token, user } = await signup(url, uniqueName('edit'), 'password123', { full_name: 'Before' });

    let u = assertOk(await edit(token, { full_name: 'After Name' }));
    assertFullUser(u, { id: user.id, username: user.username, full_name: 'After Name', bio: '', website: '', is_private: false });

    u = assertOk(await edit(token, { bio: 'line one\nline two \u{1F4F7}' }));
    assertFullUser(u, { full_name: 'After Name', bio: 'line one\nline two \u{1F4F7}', website: '' });

    u = assertOk(await edit(token, { website: 'https://example.com/~me?a=1&b=<2>' }));
    assertFullUser(u, { full_name: 'After Name', bio: 'line one\nline two \u{1F4F7}', website: 'https://example.com/~me?a=1&b=<2>' });

    u = assertOk(await edit(token, { website: 'HTTP://EXAMPLE.ORG' }));
    assert.equal(u.website, 'HTTP://EXAMPLE.ORG');

    u = assertOk(await edit(token, { email: 'new.address@example.com' }));
    assert.equal('email' in u, false, 'email is not shown');
    assert.equal(u.full_name, 'After Name');

    u = assertOk(await edit(token, { is_private: 'true' }));
    assertFullUser(u, { is_private: true, full_name: 'After Name', website: 'HTTP://EXAMPLE.ORG' });

    // several at once
    u = assertOk(await edit(token, { full_name: 'Both', bio: 'b', website: 'http://x.y', is_private: 'false' }));
    assertFullUser(u, { full_name: 'Both', bio: 'b', website: 'http://x.y', is_private: false });

    // a GET shows what the edit returned
    const got = assertOk(await getSelf(token));
    assert.deepEqual(got, u, 'GET after edit must show the edit');

    // empty values clear
    u = assertOk(await edit(token, { full_name: '', bio: '', website: '', email: '' }));
    assertFullUser(u, { full_name: '', bio: '', website: '', is_private: false });
    assert.deepEqual(assertOk(await getSelf(token)), u);

    // an edit with no fields changes nothing
    u = assertOk(await edit(token, {}));
    assert.deepEqual(u, assertOk(await getSelf(token)));
    assert.equal(u.username, user.username);
  });

  it('accepts the longest allowed values', async () => {
    const { token } = await signup(url, uniqueName('long'));
    const fields = {
      full_name: '\u{1F600}'.repeat(100), // 100 characters, 400 bytes
      bio: ('\u00e9\n').repeat(75), // 150 characters with newlines
      website: 'https://' + 'w'.repeat(192), // 200 characters
      email: 'e'.repeat(240) + '@example.com', // 252 characters
    };
    const u = assertOk(await edit(token, fields));
    assertFullUser(u, { full_name: fields.full_name, bio: fields.bio, website: fields.website });
    assert.deepEqual(assertOk(await getSelf(token)), u);
    const other = assertOk(await edit(token, { full_name: 'n'.repeat(100), bio: 'b'.repeat(150) }));
    assertFullUser(other, { full_name: 'n'.repeat(100), bio: 'b'.repeat(150), website: fields.website });
  });

  it('refuses invalid values and then changes nothing', async () => {
    const { token } = await signup(url, uniqueName('inval'));
    const base = assertOk(await edit(token, {
      full_name: 'Stable Name', bio: 'stable bio', website: 'https://stable.example', is_private: 'false',
    }));
    const invalid = [
      { full_name: 'n'.repeat(101) },
      { full_name: '\u{1F600}'.repeat(101) },
      { full_name: 'tab\there' },
      { full_name: 'new\nline' },
      { full_name: 'del\u007f' },
      { full_name: 'esc\u001b[31m' },
      { bio: 'b'.repeat(151) },
      { bio: 'bell\u0007' },
      { website: 'ftp://example.com' },
      { website: 'javascript:alert(1)' },
      { website: 'example.com' },
      { website: 'http://' },
      { website: 'https://' },
      { website: 'http:///path' },
      { website: 'http://exa mple.com' },
      { website: 'https://' + 'w'.repeat(193) },
      { website: 'http://x\ny' },
      { email: 'nope' },
      { email: '@example.com' },
      { email: 'a@' },
      { email: 'a b@example.com' },
      { email: 'e'.repeat(250) + '@example.com' },
      { is_private: 'maybe' },
      { is_private: '2' },
      { is_private: '' },
      { private: 'nah' },
    ];
    for (const bad of invalid) {
      // a valid change rides along with the invalid one: it must not land either
      const ride = { full_name: 'Changed', bio: 'changed' };
      if (!('is_private' in bad) && !('private' in bad)) ride.is_private = 'true';
      const r = await edit(token, { ...ride, ...bad });
      assertV1Error(r, 400, 'APIInvalidParametersError');
      const now = assertOk(await getSelf(token));
      assert.deepEqual(now, base, `after refused edit ${JSON.stringify(bad).slice(0, 80)}`);
    }
  });

  it('toggles is_private with every boolean spelling and the private alias', async () => {
    const { token } = await signup(url, uniqueName('priv'));
    const steps = [
      [{ is_private: 'true' }, true], [{ is_private: 'false' }, false],
      [{ is_private: '1' }, true], [{ is_private: '0' }, false],
      [{ is_private: 'yes' }, true], [{ is_private: 'no' }, false],
      [{ is_private: 'on' }, true], [{ is_private: 'off' }, false],
      [{ is_private: 'TRUE' }, true], [{ is_private: 'False' }, false],
      [{ private: 'true' }, true], [{ private: 'off' }, false],
    ];
    for (const [form, want] of steps) {
      const u = assertOk(await edit(token, form));
      assert.equal(u.is_private, want, JSON.stringify(form));
      assert.equal(assertOk(await getSelf(token)).is_private, want, `GET after ${JSON.stringify(form)}`);
    }
    // JSON booleans and numbers
    let r = await api(url, 'POST', '/v1/users/self', { token, json: { is_private: true } });
    assert.equal(assertOk(r).is_private, true);
    r = await api(url, 'POST', '/v1/users/self', { token, json: { is_private: 0 } });
    assert.equal(assertOk(r).is_private, false);
    // a profile edit that does not mention it leaves it alone
    assertOk(await edit(token, { is_private: 'yes' }));
    assert.equal(assertOk(await edit(token, { bio: 'x' })).is_private, true);
    assert.equal(assertOk(await getSelf(token)).is_private, true);
  });

  it('edits only the viewer', async () => {
    const a = await signup(url, uniqueName('onlya'), 'password123', { full_name: 'A' });
    const b = await signup(url, uniqueName('onlyb'), 'password123', { full_name: 'B' });
    assertOk(await edit(a.token, { full_name: 'A2' }));
    const bNow = assertOk(await api(url, 'GET', `/v1/users/${b.user.id}`, { token: a.token }));
    assert.equal(bNow.full_name, 'B');
    // POST to another user's id is not an edit route
    const r = await api(url, 'POST', `/v1/users/${b.user.id}`, { token: a.token, form: { full_name: 'hacked' } });
    assert.equal(r.status, 405, show(r));
    assert.equal(assertOk(await getSelf(b.token)).full_name, 'B');
  });

  it('needs a token', async () => {
    assertV1Error(await edit(undefined, { full_name: 'x' }), 400, 'OAuthParameterException');
    assertV1Error(await edit('1.x', { full_name: 'x' }), 400, 'OAuthAccessTokenException');
  });
});

describe('GET /v1/users/search', () => {
  let viewer;
  let P;
  let exact;
  let upperA;
  let b;
  let byFullName;
  before(async () => {
    viewer = await signup(url, uniqueName('searcher'));
    P = uniqueName('s').slice(0, 20); // 's_' + random
    // created out of order, so insertion order cannot pass for sorting
    b = (await signup(url, P + 'b')).user;
    byFullName = (await signup(url, 'a' + uniqueName('f').slice(0, 20), 'password123', {
      full_name: P.toUpperCase() + ' Person',
    })).user;
    exact = (await signup(url, P)).user;
    upperA = (await signup(url, (P + 'a').toUpperCase())).user;
    // not prefix matches
    await signup(url, 'x' + P.slice(0, 25));
    await signup(url, uniqueName('mr'), 'password123', { full_name: 'Mr ' + P });
  });

  const search = (query, token = viewer.token) => api(url, 'GET', '/v1/users/search', { token, query });

  // Ranking: the exact username, then usernames that start with q, then
  // full names that do; within a group the most followed first (all have
  // none here), then by username. Follower-count ordering is in
  // discovery.test.mjs.
  it('matches name and full-name prefixes: exact, then username prefix, then full-name prefix', async () => {
    for (const q of [P, P.toUpperCase()]) {
      const r = await search({ q });
      const list = assertOk(r);
      assert.ok(Array.isArray(list), show(r));
      for (const u of list) {
        assertShortUser(u);
        assert.deepEqual(Object.keys(u).sort(), ['full_name', 'id', 'profile_picture', 'username']);
      }
      assert.deepEqual(list.map((u) => u.username), [exact.username, upperA.username, b.username, byFullName.username],
        `q=${q}`);
      assert.deepEqual(list.map((u) => u.id), [exact.id, upperA.id, b.id, byFullName.id]);
    }
  });

  it('matches full names case-insensitively beyond ASCII', async () => {
    const tag = uniqueName('u').slice(-8); // unique in the full names below
    const emileAcct = await signup(url, uniqueName('em'), 'password123', { full_name: `Émile Ödön ${tag}` });
    const emile = emileAcct.user;
    const ivan = (await signup(url, uniqueName('iv'), 'password123', { full_name: `ИВАН Ёлкин ${tag}` })).user;
    for (const q of ['émile', 'ÉMILE', 'Émile ödön', `ÉMILE ÖDÖN ${tag.toUpperCase()}`]) {
      assert.deepEqual(assertOk(await search({ q })).filter((u) => u.full_name.endsWith(tag)).map((u) => u.id), [emile.id], q);
    }
    for (const q of ['иван', 'Иван ёлкин', 'ИВАН ЁЛКИН']) {
      assert.deepEqual(assertOk(await search({ q })).filter((u) => u.full_name.endsWith(tag)).map((u) => u.id), [ivan.id], q);
    }
    // an edit is searched the same way
    assertOk(await api(url, 'POST', '/v1/users/self', { token: emileAcct.token, form: { full_name: `Ærøskøbing ${tag}` } }));
    assert.deepEqual(assertOk(await search({ q: `ærøskøbing ${tag}` })).map((u) => u.id), [emile.id]);
    assert.deepEqual(assertOk(await search({ q: `Émile Ödön ${tag}` })), []);
  });

  it('honours count', async () => {
    let list = assertOk(await search({ q: P, count: 2 }));
    assert.deepEqual(list.map((u) => u.id), [exact.id, upperA.id]);
    list = assertOk(await search({ q: P, count: 1 }));
    assert.deepEqual(list.map((u) => u.id), [exact.id], 'the exact match comes first even when others sort before it');
    list = assertOk(await search({ q: P, count: 100 }));
    assert.equal(list.length, 4);
    list = assertOk(await search({ q: P, count: '' }));
    assert.equal(list.length, 4, 'empty count means the default');
    for (const count of ['0', '101', '-1', 'abc', '1.5', '1e2', ' 5', '99999999999999999999']) {
      assertV1Error(await search({ q: P, count }), 400, 'APIInvalidParametersError');
    }
  });

  it('returns 20 results by default', async () => {
    const Q = uniqueName('m').slice(0, 16);
    const names = Array.from({ length: 22 }, (_, i) => `${Q}${String(i).padStart(2, '0')}`);
    for (let i = 0; i < names.length; i += 4) {
      await Promise.all(names.slice(i, i + 4).map((n) => signup(url, n)));
    }
    let list = assertOk(await search({ q: Q }));
    assert.deepEqual(list.map((u) => u.username), names.slice(0, 20));
    list = assertOk(await search({ q: Q, count: 21 }));
    assert.deepEqual(list.map((u) => u.username), names.slice(0, 21));
    list = assertOk(await search({ q: `${Q}1` }));
    assert.deepEqual(list.map((u) => u.username), names.slice(10, 20));
  });

  it('treats an exact match case-insensitively and narrows with longer prefixes', async () => {
    let list = assertOk(await search({ q: (P + 'A').toLowerCase() }));
    assert.deepEqual(list.map((u) => u.id), [upperA.id]);
    list = assertOk(await search({ q: P + 'b' }));
    assert.deepEqual(list.map((u) => u.id), [b.id]);
    list = assertOk(await search({ q: P.toUpperCase() + ' PERS' }));
    assert.deepEqual(list.map((u) => u.id), [byFullName.id]);
    list = assertOk(await search({ q: P + 'zzz' }));
    assert.deepEqual(list, []);
  });

  it('treats wildcard characters literally', async () => {
    assert.deepEqual(assertOk(await search({ q: P + '%' })), []);
    assert.deepEqual(assertOk(await search({ q: P.slice(0, -1) + '_' })), []);
    assert.deepEqual(assertOk(await search({ q: P.slice(0, -1) + '*' })), []);
    assert.deepEqual(assertOk(await search({ q: P.slice(0, -1) + '?' })), []);
  });

  it('needs q and a token', async () => {
    assertV1Error(await search({}), 400, 'APIInvalidParametersError');
    assertV1Error(await search({ q: '' }), 400, 'APIInvalidParametersError');
    assertV1Error(await search({ q: P }, null), 400, 'OAuthParameterException');
  });
});

describe('v1 conventions', () => {
  let a;
  before(async () => {
    a = await signup(url, uniqueName('conv'), 'password123', { full_name: 'Conv' });
  });

  it('accepts an optional .json suffix on any path', async () => {
    assert.deepEqual(assertOk(await api(url, 'GET', '/v1/users/self.json', { token: a.token })), a.user);
    assert.deepEqual(assertOk(await api(url, 'GET', `/v1/users/${a.user.id}.json`, { token: a.token })), a.user);
    const s = assertOk(await api(url, 'GET', '/v1/users/search.json', { token: a.token, query: { q: a.user.username } }));
    assert.equal(s[0]?.id, a.user.id);
    const e = assertOk(await api(url, 'POST', '/v1/users/self.json', { token: a.token, form: { bio: 'via json suffix' } }));
    assert.equal(e.bio, 'via json suffix');
    const name = uniqueName('sfx');
    const su = assertOk(await api(url, 'POST', '/v1/accounts.json', { form: { username: name, password: 'password123' } }));
    assert.equal(su.user.username, name);
    const li = await api(url, 'POST', '/oauth/access_token.json', {
      form: { grant_type: 'password', username: name, password: 'password123' },
    });
    assert.equal(li.status, 200, show(li));
    assert.equal(li.body.user.id, su.user.id);
    const lo = await api(url, 'POST', '/v1/accounts/logout.json', { token: li.body.access_token });
    assert.equal(assertOk(lo), null);
    assertV1Error(await api(url, 'GET', '/v1/nope.json', { token: a.token }), 404, 'APINotFoundError');
  });

  it('takes the token from the query, a form body, a JSON body or a Bearer header', async () => {
    const viaQuery = await api(url, 'GET', '/v1/users/self', { query: { access_token: a.token } });
    assert.equal(assertOk(viaQuery).id, a.user.id);
    const viaBearer = await api(url, 'GET', '/v1/users/self', { token: a.token });
    assert.equal(assertOk(viaBearer).id, a.user.id);
    const lowerBearer = await api(url, 'GET', '/v1/users/self', { headers: { authorization: `bearer ${a.token}` } });
    assert.equal(assertOk(lowerBearer).id, a.user.id);
    const viaForm = await api(url, 'POST', '/v1/users/self', { form: { access_token: a.token, website: 'http://form.example' } });
    assert.equal(assertOk(viaForm).website, 'http://form.example');
    const viaJson = await api(url, 'POST', '/v1/users/self', { json: { access_token: a.token, website: 'http://json.example' } });
    assert.equal(assertOk(viaJson).website, 'http://json.example');
    const queryOnPost = await api(url, 'POST', '/v1/users/self', {
      query: { access_token: a.token }, form: { website: 'http://query.example' },
    });
    assert.equal(assertOk(queryOnPost).website, 'http://query.example');
    const searchQuery = await api(url, 'GET', '/v1/users/search', { query: { q: a.user.username, access_token: a.token } });
    assert.equal(assertOk(searchQuery)[0]?.id, a.user.id);
  });

  it('treats POST with _method=DELETE as DELETE (405 where there is no DELETE)', async () => {
    const cases = [
      ['/v1/users/self', { access_token: a.token, _method: 'DELETE' }, ['GET', 'POST']],
      ['/v1/users/self', { access_token: a.token, _method: 'delete', full_name: 'deleted?' }, ['GET', 'POST']],
      [`/v1/users/${a.user.id}`, { access_token: a.token, _method: 'DELETE' }, ['GET']],
      ['/v1/users/search', { access_token: a.token, _method: 'DELETE', q: 'x' }, ['GET']],
      ['/v1/accounts', { _method: 'DELETE', username: uniqueName('del'), password: 'password123' }, ['POST']],
      ['/v1/accounts/logout', { access_token: a.token, _method: 'DELETE' }, ['POST']],
    ];
    for (const [p, form, allow] of cases) {
      const r = await api(url, 'POST', p, { form });
      assertV1Error(r, 405);
      const got = (r.headers.get('allow') || '').split(',').map((s) => s.trim()).filter(Boolean).sort();
      assert.deepEqual(got, allow, `allow header for ${p}`);
    }
    // in the query string too
    const q = await api(url, 'POST', '/v1/users/self', { query: { _method: 'DELETE' }, form: { access_token: a.token, full_name: 'deleted?' } });
    assertV1Error(q, 405);
    // on an unknown path it is still a 404
    assertV1Error(await api(url, 'POST', '/v1/nothing/here', { form: { _method: 'DELETE' } }), 404, 'APINotFoundError');
    // nothing was changed or revoked by any of that
    const me = assertOk(await api(url, 'GET', '/v1/users/self', { token: a.token }));
    assert.equal(me.full_name, 'Conv');
    // other _method values are ignored: a POST stays a POST
    const put = await api(url, 'POST', '/v1/users/self', { form: { access_token: a.token, _method: 'PUT', bio: 'still post' } });
    assert.equal(assertOk(put).bio, 'still post');
  });
});
