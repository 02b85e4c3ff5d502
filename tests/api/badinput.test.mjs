// Hostile and malformed input: nothing may produce a 5xx or stop the server.
// Every status this file sees is recorded; the last test checks that none
// was >= 500 and that the server still answers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, api as rawApi, signup, uniqueName, show, rawRequest, external, proxied,
  assertOk, assertV1Error, assertOAuthError, uploadPhoto,
} from './lib.mjs';

let srv;
let url;
let me; // {token, user}
const seen = []; // [status, description]

async function api(base, method, p, opts = {}) {
  const r = await rawApi(base, method, p, opts);
  seen.push([r.status, `${method} ${p} ${JSON.stringify(opts).slice(0, 160)} -> ${r.text.slice(0, 200)}`]);
  return r;
}

async function raw(data) {
  const r = await rawRequest(url, data);
  if (r.status !== null) seen.push([r.status, `raw ${JSON.stringify(String(data).slice(0, 80))} -> ${r.raw.slice(0, 200)}`]);
  return r;
}

async function alive() {
  const r = await api(url, 'GET', '/v1/users/self', { token: me.token });
  assert.equal(assertOk(r).id, me.user.id, `server still answers: ${show(r)}`);
  if (srv.exited) assert.equal(srv.exited(), null, 'server process is still running');
}

before(async () => {
  srv = await startServer();
  url = srv.url;
  me = await signup(url, uniqueName('bad'), 'password123', { full_name: 'Bad Input' });
});

after(async () => {
  await srv?.stop();
});

const form = (body, extraHeaders = {}) => ({
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...extraHeaders },
  body,
});

describe('malformed percent-encoding', () => {
  const bad = ['a=%G1', 'a=%', 'a=%4', 'a=abc%', 'a=%%', '%=x', 'a%=x', 'a=%zz', 'a=%4g', 'username=%G1&password=password123'];

  it('is refused with 400 in a form body', async () => {
    for (const body of bad) {
      const r = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form(body) });
      assertV1Error(r, 400, 'APIInvalidParametersError');
      const s = await api(url, 'POST', '/v1/accounts', form(`${body}&username=${uniqueName('pe')}&password=password123`));
      assertV1Error(s, 400, 'APIInvalidParametersError');
    }
    await alive();
  });

  it('is refused with 400 in a query string', async () => {
    for (const q of bad) {
      const r = await api(url, 'GET', '/v1/users/search', { token: me.token, query: q });
      assertV1Error(r, 400, 'APIInvalidParametersError');
      const s = await api(url, 'GET', `/v1/users/self?${q}`, { token: me.token });
      assertV1Error(s, 400, 'APIInvalidParametersError');
    }
    const t = await api(url, 'GET', '/v1/users/self?access_token=%G1');
    assertV1Error(t, 400);
    await alive();
  });

  it('is refused on the OAuth endpoint', async () => {
    const r = await api(url, 'POST', '/oauth/access_token', form('grant_type=password&username=%G1&password=x'));
    assert.equal(r.status, 400, show(r));
    assert.ok(r.body, 'JSON body');
  });
});

describe('invalid UTF-8', () => {
  const encodings = {
    'lone 0xFF': '%FF',
    'lone 0xFE': '%FE',
    'continuation byte': '%80',
    'overlong slash': '%C0%AF',
    'overlong NUL': '%C0%80',
    'overlong 3-byte': '%E0%80%AF',
    'surrogate': '%ED%A0%80',
    'beyond U+10FFFF': '%F4%90%80%80',
    'F5 lead': '%F5%80%80%80',
    'truncated 3-byte': '%E2%82',
    'truncated 4-byte': '%F0%9F%98',
    'latin-1 e-acute': '%E9',
  };

  it('is refused with 400 in form values and keys, and nothing changes', async () => {
    for (const [what, enc] of Object.entries(encodings)) {
      for (const body of [`full_name=abc${enc}def`, `bio=${enc}`, `full_name=ok&x${enc}=1`]) {
        const r = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form(body) });
        assertV1Error(r, 400, 'APIInvalidParametersError');
      }
      const s = await api(url, 'POST', '/v1/accounts', form(`username=${uniqueName('u8')}&password=pass${enc}word123`));
      assertV1Error(s, 400, 'APIInvalidParametersError');
      const q = await api(url, 'GET', '/v1/users/search', { token: me.token, query: `q=a${enc}` });
      assertV1Error(q, 400, 'APIInvalidParametersError');
      void what;
    }
    const now = assertOk(await api(url, 'GET', '/v1/users/self', { token: me.token }));
    assert.equal(now.full_name, 'Bad Input');
    assert.equal(now.bio, '');
  });

  it('is refused when sent as raw bytes', async () => {
    const bodies = [
      Buffer.concat([Buffer.from('full_name=raw'), Buffer.from([0xff, 0xfe]), Buffer.from('&bio=x')]),
      Buffer.concat([Buffer.from('bio='), Buffer.from([0xc0, 0xaf])]),
      Buffer.concat([Buffer.from('bio='), Buffer.from([0xed, 0xa0, 0x80])]),
    ];
    for (const body of bodies) {
      const r = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form(body) });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    const jsonBodies = [
      Buffer.concat([Buffer.from('{"bio":"'), Buffer.from([0xff]), Buffer.from('"}')]),
      Buffer.concat([Buffer.from('{"bio":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
      Buffer.concat([Buffer.from('{"'), Buffer.from([0xc3]), Buffer.from('":"x"}')]),
    ];
    for (const body of jsonBodies) {
      const r = await api(url, 'POST', '/v1/users/self', {
        token: me.token, headers: { 'content-type': 'application/json' }, body,
      });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: me.token })).bio, '');
  });

  it('accepts valid multi-byte text, including 4-byte characters', async () => {
    const text = 'Z\u00fcrich \u6771\u4eac \u{1F4F8}\u{1F30D} \u05e9\u05dc\u05d5\u05dd';
    const r = await api(url, 'POST', '/v1/users/self', { token: me.token, form: { bio: text } });
    assert.equal(assertOk(r).bio, text);
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: me.token })).bio, text);
    assertOk(await api(url, 'POST', '/v1/users/self', { token: me.token, form: { bio: '' } }));
  });
});

describe('NUL bytes', () => {
  it('are refused in form values, keys and the query', async () => {
    const cases = [
      form('full_name=a%00b'),
      form('bio=%00'),
      form('full%00name=x'),
      form(Buffer.from('bio=a\u0000b', 'latin1')),
      { query: 'bio=x%00' },
    ];
    for (const c of cases) {
      const r = await api(url, 'POST', '/v1/users/self', { token: me.token, ...c });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    const s = await api(url, 'POST', '/v1/accounts', form(`username=nul${'%00'}name&password=password123`));
    assertV1Error(s, 400, 'APIInvalidParametersError');
    const p = await api(url, 'POST', '/v1/accounts', form(`username=${uniqueName('nul')}&password=password%00123`));
    assertV1Error(p, 400, 'APIInvalidParametersError');
    const l = await api(url, 'POST', '/oauth/access_token', form(`grant_type=password&username=${me.user.username}%00&password=password123`));
    assert.equal(l.status, 400, show(l));
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: me.token })).full_name, 'Bad Input');
  });

  it('are refused in JSON strings and keys', async () => {
    const bodies = ['{"bio":"a\\u0000b"}', '{"bio\\u0000":"x"}', '{"full_name":"\\u0000"}'];
    for (const json of bodies) {
      const r = await api(url, 'POST', '/v1/users/self', { token: me.token, json });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    const raw0 = Buffer.concat([Buffer.from('{"bio":"a'), Buffer.from([0]), Buffer.from('b"}')]);
    const r = await api(url, 'POST', '/v1/users/self', { token: me.token, headers: { 'content-type': 'application/json' }, body: raw0 });
    assertV1Error(r, 400, 'APIInvalidParametersError');
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: me.token })).bio, '');
  });
});

describe('malformed JSON', () => {
  it('is refused with 400', async () => {
    const bodies = [
      '{', '}', '{"bio":}', "{'bio':'x'}", '{"bio":"x",}', '{"bio" "x"}', '{bio:"x"}',
      ' ', 'nul', 'tru', '{"bio":"x"} trailing', '{"bio":"x"}{"bio":"y"}', '{"bio":"\\ud800"}',
      '{"bio":"\\x41"}', '{"bio":"unterminated}', '{"bio":01}', '{"bio":NaN}', '{"bio":Infinity}',
      '/* c */ {"bio":"x"}', '[' .repeat(100000),
      '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
    ];
    for (const json of bodies) {
      const r = await api(url, 'POST', '/v1/users/self', { token: me.token, json });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    await alive();
  });

  it('refuses JSON that is not an object, or with values that are not scalars', async () => {
    const bodies = [
      '[]', '[{"bio":"x"}]', '"bio"', '123', '-1.5', 'true', 'false', 'null',
      '{"bio":{"a":"b"}}', '{"bio":["x"]}', '{"bio":[]}', '{"bio":{}}',
    ];
    for (const json of bodies) {
      const r = await api(url, 'POST', '/v1/users/self', { token: me.token, json });
      assertV1Error(r, 400, 'APIInvalidParametersError');
    }
    const s = await api(url, 'POST', '/v1/accounts', { json: '["username","password"]' });
    assertV1Error(s, 400, 'APIInvalidParametersError');
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: me.token })).bio, '');
  });

  it('handles odd but valid JSON without a 5xx', async () => {
    const bodies = [
      '{}', '{"bio":null}', '{"":"x"}', '{"bio":"a","bio":"b"}', '{"count":1e400}', '{"count":99999999999999999999999}',
      '{"is_private":1.0}', '\ufeff{"bio":"bom"}', '{"bio":"\\ud83d\\ude00"}', '{"bio":"tab\\tin bio"}', '{"x":-0}',
      JSON.stringify(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]))),
    ];
    for (const json of bodies) {
      const r = await api(url, 'POST', '/v1/users/self', { token: me.token, json });
      assert.ok(r.status === 200 || r.status === 400, `${json.slice(0, 60)} -> ${show(r)}`);
      assert.ok(r.body?.meta, show(r));
    }
    await alive();
  });
});

describe('overlong and odd fields', () => {
  it('refuses overlong values with 400', async () => {
    const long = (n, c = 'x') => c.repeat(n);
    const cases = [
      ['POST', '/v1/accounts', { form: { username: long(10000), password: 'password123' } }],
      ['POST', '/v1/accounts', { form: { username: uniqueName('ol'), password: long(100000) } }],
      ['POST', '/v1/accounts', { form: { username: uniqueName('ol'), password: 'password123', full_name: long(10000) } }],
      ['POST', '/v1/accounts', { form: { username: uniqueName('ol'), password: 'password123', email: long(300) + '@x.io' } }],
      ['POST', '/v1/users/self', { token: me.token, form: { full_name: long(5000, '\u00e9') } }],
      ['POST', '/v1/users/self', { token: me.token, form: { bio: long(100000) } }],
      ['POST', '/v1/users/self', { token: me.token, form: { website: 'https://' + long(100000) } }],
      ['GET', '/v1/users/search', { token: me.token, query: { q: long(101) } }],
      ['GET', '/v1/users/search', { token: me.token, query: { q: long(60000) } }],
      ['GET', '/v1/users/search', { token: me.token, query: { q: 'a', count: long(1000, '9') } }],
    ];
    for (const [m, p, o] of cases) assertV1Error(await api(url, m, p, o), 400, 'APIInvalidParametersError');
    const ok = await api(url, 'GET', '/v1/users/search', { token: me.token, query: { q: long(100) } });
    assert.deepEqual(assertOk(ok), []);
    const login = await api(url, 'POST', '/oauth/access_token', {
      form: { grant_type: 'password', username: long(100000), password: long(100000) },
    });
    assertOAuthError(login);
    await alive();
  });

  it('copes with many, empty and repeated parameters', async () => {
    const many = Array.from({ length: 2000 }, (_, i) => `p${i}=${i}`).join('&');
    const r1 = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form(many) });
    assert.ok(r1.status < 500 && r1.body?.meta, show(r1));
    const r2 = await api(url, 'GET', `/v1/users/self?${many}`, { token: me.token });
    assert.ok(r2.status < 500 && r2.body?.meta, show(r2));
    const r3 = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form('&&&=&==&bio=empties&&') });
    assert.equal(assertOk(r3).bio, 'empties');
    const r4 = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form('bio=first&bio=second') });
    assert.ok(['first', 'second'].includes(assertOk(r4).bio));
    const r5 = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form('bio') });
    assert.ok(r5.status === 200 || r5.status === 400, show(r5));
    const r6 = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form('bio=a+b%20c%2Bd') });
    assert.equal(assertOk(r6).bio, 'a b c+d', "'+' is a space, %2B a plus");
    const r7 = await api(url, 'POST', '/v1/users/self', { token: me.token, ...form(Buffer.alloc(0)) });
    assert.ok(r7.status === 200, show(r7));
    assertOk(await api(url, 'POST', '/v1/users/self', { token: me.token, form: { bio: '' } }));
    await alive();
  });
});

describe('unprintable characters, long searches in any script, fields sent as files', () => {
  it('refuses C1 controls everywhere, and line separators where newlines are not allowed; nothing changes', async () => {
    const self = async () => assertOk(await api(url, 'GET', '/v1/users/self', { token: me.token }));
    const before = await self();
    for (const form of [{ full_name: 'a\u0085b' }, { full_name: 'a\u2028b' }, { full_name: 'a\u2029b' },
      { bio: 'x\u009by' }, { bio: 'x\u0080' }, { website: 'https://x.io/\u0090' }]) {
      assertV1Error(await api(url, 'POST', '/v1/users/self', { token: me.token, form }), 400, 'APIInvalidParametersError');
    }
    const after = await self();
    assert.equal(after.full_name, before.full_name, 'nothing changed');
    assert.equal(after.bio, before.bio);
    // where newlines are allowed, so are Unicode's; letters next to C1 (U+00A0 on) are fine
    assert.equal(assertOk(await api(url, 'POST', '/v1/users/self', { token: me.token, form: { bio: 'a\u2028b' } })).bio, 'a\u2028b');
    assert.equal(assertOk(await api(url, 'POST', '/v1/users/self', { token: me.token, form: { full_name: '\u00a0\u00bfY\u00e9?' } })).full_name,
      '\u00a0\u00bfY\u00e9?');
    const up = await uploadPhoto(url, { token: me.token, photo: 'tiny-1x1.jpg', fields: { caption: 'c\u0085' } });
    assertV1Error(up, 400, 'APIInvalidParametersError');
    const filt = await uploadPhoto(url, { token: me.token, photo: 'tiny-1x1.jpg', fields: { filter: 'Lo\u009bfi' } });
    assertV1Error(filt, 400, 'APIInvalidParametersError');
    assertOk(await api(url, 'POST', '/v1/users/self', { token: me.token, form: { full_name: before.full_name, bio: before.bio } }));
    await alive();
  });

  it('takes a search of 100 characters in any script, not 100 bytes', async () => {
    for (const c of ['\u00e9', '\u4e2d', '\u{1F600}']) {
      const q = c.repeat(100); // (other tests' users may be found: their names start with it)
      for (const u of assertOk(await api(url, 'GET', '/v1/users/search', { token: me.token, query: { q } }))) {
        assert.ok(u.full_name.toLowerCase().startsWith(q), `found ${u.full_name}`);
      }
      assertV1Error(await api(url, 'GET', '/v1/users/search', { token: me.token, query: { q: c.repeat(101) } }), 400,
        'APIInvalidParametersError');
    }
  });

  it('reads a text field sent as a file part as the field (never drops it)', async () => {
    const caption = 'from a file #filepart \u00e9t\u00e9';
    const up = await uploadPhoto(url, { token: me.token, photo: 'tiny-1x1.jpg',
      fields: { caption: new Blob([Buffer.from(caption)], { type: 'text/plain' }) } });
    assert.equal(assertOk(up).caption.text, caption);
    const bin = await uploadPhoto(url, { token: me.token, photo: 'tiny-1x1.jpg',
      fields: { caption: new Blob([Buffer.from([0xff, 0xfe, 0x00, 0x41])]) } });
    assertV1Error(bin, 400, 'APIInvalidParametersError');
    await alive();
  });
});

describe('SQL metacharacters', () => {
  const nasty = [
    "Robert'); DROP TABLE users;--",
    "' OR '1'='1",
    '"; DELETE FROM tokens; --',
    "a\\'b\\\\c",
    '%_%',
    '`id`; SELECT 1',
    '$1 ?1 :name @p',
    "1'; UPDATE users SET is_private=1; --",
  ];

  it('are stored and returned literally', async () => {
    const { token, user } = await signup(url, uniqueName('sql'), 'password123', { full_name: nasty[0] });
    assert.equal(user.full_name, nasty[0]);
    for (const s of nasty) {
      const r = await api(url, 'POST', '/v1/users/self', { token, form: { full_name: s, bio: `${s}\n${s}` } });
      const u = assertOk(r);
      assert.equal(u.full_name, s);
      assert.equal(u.bio, `${s}\n${s}`);
      const g = assertOk(await api(url, 'GET', `/v1/users/${user.id}`, { token: me.token }));
      assert.equal(g.full_name, s);
      assert.equal(g.bio, `${s}\n${s}`);
      assert.equal(g.is_private, false);
    }
    // found by a full-name prefix containing quotes
    const f = assertOk(await api(url, 'POST', '/v1/users/self', { token, form: { full_name: "O'Brien \"Bob\" " + user.username } }));
    const list = assertOk(await api(url, 'GET', '/v1/users/search', { token: me.token, query: { q: "o'brien \"bob\" " + user.username } }));
    assert.deepEqual(list.map((u) => u.id), [user.id]);
    assert.equal(list[0].full_name, f.full_name);
  });

  it('do nothing in search, ids, names and tokens', async () => {
    for (const q of nasty) {
      const r = await api(url, 'GET', '/v1/users/search', { token: me.token, query: { q } });
      const list = assertOk(r);
      assert.ok(Array.isArray(list));
      for (const u of list) assert.ok(u.full_name.toLowerCase().startsWith(q.toLowerCase()), JSON.stringify(u));
    }
    for (const id of ["1 OR 1=1", "1;DROP TABLE users", "1'--"]) {
      assertV1Error(await api(url, 'GET', `/v1/users/${encodeURIComponent(id)}`, { token: me.token }), 404, 'APINotFoundError');
    }
    for (const username of ["admin' --", "' OR '1'='1", `${me.user.username}' --`]) {
      assertOAuthError(await api(url, 'POST', '/oauth/access_token', { form: { grant_type: 'password', username, password: "' OR '1'='1" } }));
    }
    assertV1Error(await api(url, 'POST', '/v1/accounts', { form: { username: "x'; DROP TABLE users;--", password: 'password123' } }),
      400, 'APIInvalidParametersError');
    for (const token of ["1' OR '1'='1", `${me.user.id}.' OR 1=1 --`, `${me.user.id}' OR '1'='1`]) {
      assertV1Error(await api(url, 'GET', '/v1/users/self', { query: { access_token: token } }), 400, 'OAuthAccessTokenException');
    }
    // the tables are all still there
    await alive();
    const l = await api(url, 'POST', '/oauth/access_token', { form: { grant_type: 'password', username: me.user.username, password: 'password123' } });
    assert.equal(l.status, 200, show(l));
    assert.equal(l.body.user.id, me.user.id);
  });
});

describe('forged and malformed tokens', () => {
  it('are refused with OAuthAccessTokenException wherever they come from', async () => {
    const other = await signup(url, uniqueName('victim'));
    const rnd = me.token.split('.')[1];
    const forged = [
      `${other.user.id}.${rnd}`,
      `${other.user.id}.${other.token.split('.')[1].slice(0, -2)}`,
      `${me.user.id}.${rnd}.${rnd}`,
      `${me.user.id}.${rnd}=`,
      `${me.user.id}.${rnd.replace(/[-_]/g, '+')}+/`,
      `${me.user.id}.\u00e9${rnd}`,
      '9223372036854775807.' + rnd,
      '9223372036854775808.' + rnd,
      '18446744073709551616.' + rnd,
      `${'9'.repeat(40)}.${rnd}`,
      `${me.user.id}.${'A'.repeat(10000)}`,
      '.',
      '..',
      ' ',
      `${me.token} `,
      `${me.token}\t`,
      me.token.toUpperCase(),
    ];
    for (const t of forged) {
      const q = await api(url, 'GET', '/v1/users/self', { query: { access_token: t } });
      assertV1Error(q, 400);
      assert.ok(['OAuthAccessTokenException', 'OAuthParameterException'].includes(q.body.meta.error_type), show(q));
      const f = await api(url, 'POST', '/v1/users/self', { form: { access_token: t, full_name: 'forged' } });
      assertV1Error(f, 400);
      const j = await api(url, 'POST', '/v1/users/self', { json: { access_token: t, full_name: 'forged' } });
      assertV1Error(j, 400);
    }
    for (const t of forged.filter((x) => /^[\x21-\x7e]+$/.test(x))) {
      assertV1Error(await api(url, 'GET', '/v1/users/self', { token: t }), 400, 'OAuthAccessTokenException');
    }
    assertV1Error(await api(url, 'GET', '/v1/users/self', { query: { access_token: '' } }), 400);
    assertV1Error(await api(url, 'POST', '/v1/users/self', { json: { access_token: 12345, bio: 'n' } }), 400);
    assertV1Error(await api(url, 'POST', '/v1/users/self', { json: { access_token: true, bio: 'b' } }), 400);
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: other.token })).full_name, '');
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: me.token })).full_name, 'Bad Input');
  });
});

describe('raw HTTP oddities', () => {
  it('never get a 5xx', { skip: proxied }, async (t) => {
    const cases = [
      'GARBAGE\r\n\r\n',
      'GET\r\n\r\n',
      'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
      'GET /v1/users/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n\r\n',
      `GET /v1/users/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'x'.repeat(60000)}\r\n\r\n`,
      `GET /v1/users/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${me.token}\r\nAuthorization: Bearer junk\r\n\r\n`,
      'GET /v1/users/%00self HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/users/%2e%2e/self HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/users/self.json.json HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /.json HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/users/.json HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/users/search?q HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /v1/users/search?& HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET ?q=x HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\nusername=a',
      'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n{',
      'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type:\r\nContent-Length: 3\r\n\r\na=b',
      'POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: ;;;\r\nContent-Length: 3\r\n\r\na=b',
      `POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 15\r\n\r\nusername=\xff\xfe&a=b`,
      'XYZZY /v1/users/self HTTP/1.1\r\nHost: x\r\n\r\n',
      `GET /v1/users/self HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 200 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
    ];
    for (const c of cases) {
      const r = await raw(c);
      if (r.status !== null) {
        assert.ok(r.status < 500, `${JSON.stringify(c.slice(0, 80))} -> ${r.raw.slice(0, 300)}`);
      }
    }
    void t;
    await alive();
  });

  it('survive a burst of bad requests in parallel', async () => {
    const bad = [
      () => api(url, 'POST', '/v1/users/self', { token: me.token, ...form('bio=%FF') }),
      () => api(url, 'POST', '/v1/users/self', { token: me.token, json: '{"bio":' }),
      () => api(url, 'POST', '/v1/accounts', { form: { username: 'bad name', password: 'x' } }),
      () => api(url, 'GET', '/v1/users/self', { token: 'junk' }),
      () => api(url, 'GET', '/v1/users/search', { token: me.token, query: 'q=%G1' }),
      () => api(url, 'POST', '/oauth/access_token', { form: { grant_type: 'nope' } }),
      () => api(url, 'DELETE', '/v1/users/self', { token: me.token }),
      () => api(url, 'POST', '/v1/users/self', { token: me.token, headers: { 'content-type': 'text/xml' }, body: '<x/>' }),
    ];
    const results = await Promise.all(Array.from({ length: 48 }, (_, i) => bad[i % bad.length]()));
    for (const r of results) assert.ok(r.status >= 400 && r.status < 500, show(r));
    await alive();
  });
});

describe('after all of that', () => {
  it('the server is alive and never answered with a 5xx', async () => {
    await alive();
    const l = await api(url, 'POST', '/oauth/access_token', {
      form: { grant_type: 'password', username: me.user.username, password: 'password123' },
    });
    assert.equal(l.status, 200, show(l));
    const fresh = await signup(url, uniqueName('last'));
    assert.equal(assertOk(await api(url, 'GET', '/v1/users/self', { token: fresh.token })).id, fresh.user.id);
    const fives = seen.filter(([s]) => s >= 500);
    assert.deepEqual(fives, [], `5xx responses seen in this file (${seen.length} requests)`);
    assert.ok(seen.length > 100, `recorded ${seen.length} statuses`);
    if (!external) {
      assert.doesNotMatch(srv.stderr(), /Assertion|Segmentation|AddressSanitizer|runtime error/, 'no crash reports in stderr');
    }
  });
});
