// The web client (web/) end to end in Debian's chromium, driven by
// playwright-core: three people in three browser contexts (two phones, one
// desktop) sign up, share photos, follow (a private account too), like,
// comment, read their activity, search and browse tags, places and popular.
// Every page is watched for console errors, uncaught exceptions, CSP
// violations and dialogs. Every main screen, its error states included, is
// checked with axe-core against WCAG 2.1 A and AA, in the light theme and
// in the dark one; one person goes through the main flow with the
// keyboard alone. Full-page screenshots of the main pages go to
// $PICOGRAM_TEST_OUT/web/ (default build/test-output/web/).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { startServer, photosDir, uniqueName, login, uploadPhoto, external } from '../api/lib.mjs';
import {
  OUT, PASSWORD, WAIT, PHONE, DESKTOP, sleep, until, tid, text, waitText, visible, ready, go, signUp,
  screenshots, launchChromium, newPerson, expectingHttpErrors, assertClean,
} from './harness.mjs';

const PHOTOS = photosDir;
const GOLDEN_GATE = { latitude: 37.8199, longitude: -122.4783 };

let srv;
let url;
let browser;
const users = {}; // a, b, c: {name, id, page, context, problems, dialogs}
const state = {}; // ids shared between the steps
// a unique hashtag that is also a prefix of A's username, so one search finds both
const tagBase = uniqueName('pic');
const names = { a: `${tagBase}_a`.slice(0, 30), b: uniqueName('bee'), c: uniqueName('cee') };
const tag = tagBase.toLowerCase();
const placeName = `Golden Gate ${tagBase.slice(-6)}`;

// shot(): audit() and screenshots, light and dark, once the images are in
const { shot } = screenshots({ imagesFirst: true, imagesEach: true });

async function newUser(key, label, options) {
  const u = await newPerson(browser, url, key, label, options);
  u.name = names[key];
  users[key] = u;
  return u;
}

async function signUpThroughUi(u, { fullName } = {}) {
  u.id = await signUp(u.page, u.name, { fullName });
  assert.match(u.id, /^[1-9]\d*$/);
}

/** Picks a file, fills the form and shares; resolves with the new media ID. */
async function uploadThroughUi(u, file, { caption, place, beforeShare } = {}) {
  const { page } = u;
  await go(page, '#/upload', 'upload');
  await page.setInputFiles(tid('file-input'), path.join(PHOTOS, file));
  await visible(page, tid('preview'));
  if (caption !== undefined) await page.fill(tid('upload-caption'), caption);
  if (place) {
    await page.click(tid('use-location'));
    await waitText(page, tid('place-coords'), /37\.8199, -122\.4783/);
    await page.fill(tid('place-name'), place);
  }
  if (beforeShare) await beforeShare();
  await page.click(tid('upload-submit'));
  return page;
}

// ---- the keyboard alone ----

/**
 * What has focus now: its test ID (or tag), and whether the focus shows:
 * a 2px outline on it, or, for the inputs hidden behind other elements
 * (the file input behind its label, the private switch behind its track),
 * on what shows them.
 */
function focusState(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { id: 'body', shown: false };
    let shows = el;
    if (el.matches('.file-input')) shows = [...document.querySelectorAll(`label[for="${el.id}"]`)].find((l) => l.offsetParent);
    else if (el.matches('.switch-input')) shows = el.nextElementSibling;
    const cs = shows ? getComputedStyle(shows) : null;
    return {
      id: el.dataset.testid || el.getAttribute('aria-label') || el.tagName.toLowerCase(),
      shown: Boolean(cs && cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2),
    };
  });
}

/**
 * Presses Tab (Shift+Tab if back) until the element matching selector has
 * focus, checking at every stop that the focus shows; returns the stops.
 */
async function tabTo(page, selector, { back = false, max = 40 } = {}) {
  const stops = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const f = await focusState(page);
    if (f.id === 'body') continue;
    stops.push(f.id);
    assert.ok(f.shown, `the focus on ${f.id} shows (stops so far: ${stops.join(', ')})`);
    if (await page.evaluate((sel) => document.activeElement?.matches(sel), selector)) return stops;
  }
  assert.fail(`${selector} not reached in ${max} presses of ${back ? 'Shift+Tab' : 'Tab'} (stops: ${stops.join(', ')})`);
}

/**
 * The file chooser a key opens on the focused file input. Playwright turns
 * on the browser's chooser interception when a listener is added, without
 * waiting: a key pressed at once could open the chooser before (no event;
 * seen once on a loaded machine). So a round trip first, and the key again,
 * up to three times, while none came.
 */
async function chooserFromKey(page, key) {
  let got = null;
  const on = (c) => { got = got || c; };
  page.on('filechooser', on);
  try {
    await page.evaluate(() => 0);
    for (let i = 0; i < 3 && !got; i++) {
      await page.keyboard.press(key);
      for (const t0 = Date.now(); !got && Date.now() - t0 < WAIT / 3;) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    page.off('filechooser', on);
  }
  assert.ok(got, `${key} on the focused file input opened no file chooser`);
  return got;
}

/** The text screen readers were last told in the polite live region. */
async function announced(page, re) {
  return waitText(page, tid('live'), re);
}

before(async () => {
  await mkdir(OUT, { recursive: true });
  srv = await startServer(['--popular-interval', '1', '--access-log', 'off']);
  url = srv.url;
  browser = await launchChromium();
  await newUser('a', 'A (phone)', { ...PHONE, geolocation: GOLDEN_GATE, permissions: ['geolocation'] });
  await newUser('b', 'B (phone)', PHONE);
  await newUser('c', 'C (desktop)', DESKTOP);
});

after(async () => {
  await browser?.close().catch(() => {});
  await srv?.stop();
});

describe('web client', { timeout: 120_000 }, () => {
  it('serves the client at / with a strict CSP, and signs up three people through the UI', async () => {
    const res = await fetch(`${url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /text\/html/);
    assert.match(res.headers.get('content-security-policy') || '', /script-src 'self'/);
    const { a, b, c } = users;

    await a.page.goto('/');
    await visible(a.page, tid('login-form'));
    await shot(a.page, 'login');
    await signUpThroughUi(a, { fullName: 'Ada Photographer' });
    await signUpThroughUi(b);

    // a taken username shows the server's message
    await c.page.goto('/#/signup');
    await visible(c.page, tid('signup-form'));
    await c.page.fill(tid('signup-username'), a.name.toUpperCase());
    await c.page.fill(tid('signup-password'), PASSWORD);
    await expectingHttpErrors(c, async () => {
      await c.page.click(tid('signup-submit'));
      await visible(c.page, tid('signup-error'));
    });
    assert.match(await text(c.page, tid('signup-error')), /taken|exists|in use/i);
    // too short a password is caught before it is sent
    await c.page.fill(tid('signup-username'), c.name);
    await c.page.fill(tid('signup-password'), 'short');
    await c.page.click(tid('signup-submit'));
    await waitText(c.page, tid('signup-error'), /at least 8/);
    await shot(c.page, 'signup-error');
    await signUpThroughUi(c);
    for (const u of [a, b, c]) assertClean(u);
  });

  it('A shares a photo with a caption, a #hashtag and a place: preview, then progress', async () => {
    const { a } = users;
    const { page } = a;
    state.caption = `Fog over the bridge #${tag} with @${names.b}`;
    await uploadThroughUi(a, 'landscape.jpg', {
      caption: state.caption,
      place: placeName,
      beforeShare: async () => {
        // the preview is the chosen file (a blob: URL), decoded
        await visible(page, tid('upload-preview'));
        const src = await page.getAttribute(tid('upload-preview'), 'src');
        assert.match(src, /^blob:/);
        await page.waitForFunction((sel) => document.querySelector(sel)?.naturalWidth > 0, tid('upload-preview'), { timeout: WAIT });
        await shot(page, 'upload');
      },
    });
    // the progress bar shows, fills, and says so
    await visible(page, tid('upload-progress'));
    await page.waitForFunction(([bar, status]) => {
      const p = document.querySelector(bar);
      const t = document.querySelector(status);
      return p && p.value === 100 && !p.closest('[hidden]') && /Processing|Shared/.test(t.textContent);
    }, [tid('upload-progress'), tid('upload-status')], { timeout: WAIT, polling: 20 });
    await ready(page, 'photo');
    state.media1 = decodeURIComponent(new URL(page.url()).hash.replace('#/m/', ''));
    assert.match(state.media1, /^\d+_\d+$/);
    assert.equal(await text(page, tid('caption-text')), state.caption);
    assert.equal(await text(page, tid('place-link')), placeName);
    // the hashtag and the mention are links; the rest is text
    assert.equal(await page.getAttribute(`${tid('caption-text')} a.hashtag`, 'href'), `#/tag/${encodeURIComponent(tag)}`);
    assert.equal(await page.getAttribute(`${tid('caption-text')} a.mention`, 'href'), `#/@${names.b}`);
    assertClean(a);
  });

  it('B finds A by search, follows, sees the photo in the feed, double-taps to like, comments', async () => {
    const { b } = users;
    const { page } = b;
    await page.click(tid('nav-search'));
    await ready(page, 'search');
    await page.fill(tid('search-input'), names.a);
    await visible(page, `${tid('user-results')} [data-username="${names.a}"]`);
    await page.click(`${tid('user-results')} [data-username="${names.a}"] a`);
    await ready(page, 'profile');
    await waitText(page, tid('profile-username'), new RegExp(`^${names.a}$`));
    await waitText(page, tid('follow-button'), /^Follow$/);
    await page.click(tid('follow-button'));
    await waitText(page, tid('follow-button'), /^Following$/);
    await waitText(page, tid('count-followers'), /^1 follower$/);

    // the follow brings A's photo into B's feed (a background job: reload until it is there)
    const card = `${tid('media-card')}[data-media-id="${state.media1}"]`;
    await until(async () => {
      await go(page, `#/feed?t=${Date.now()}`, 'feed');
      return (await page.locator(card).count()) > 0;
    }, "A's photo in B's feed");
    assert.equal(await text(page, `${card} ${tid('caption-text')}`), state.caption);

    // double-tap the photo (two taps on a touch screen)
    const photo = page.locator(`${card} ${tid('photo')}`);
    await photo.scrollIntoViewIfNeeded();
    const box = await photo.boundingBox();
    const [x, y] = [box.x + box.width / 2, box.y + Math.min(box.height / 2, 150)];
    await page.touchscreen.tap(x, y);
    await page.touchscreen.tap(x, y);
    await waitText(page, `${card} ${tid('like-count')}`, /^1 like$/);
    assert.equal(await page.getAttribute(`${card} ${tid('like-button')}`, 'aria-pressed'), 'true');
    // the button unlikes and likes again
    await page.click(`${card} ${tid('like-button')}`);
    await waitText(page, `${card} ${tid('like-count')}`, /^0 likes$/);
    await until(async () => (await page.getAttribute(`${card} ${tid('like-button')}`, 'aria-busy')) === null
      && (await page.getAttribute(`${card} ${tid('like-button')}`, 'aria-pressed')) === 'false', 'unlike settled');
    await page.click(`${card} ${tid('like-button')}`);
    await waitText(page, `${card} ${tid('like-count')}`, /^1 like$/);

    // comment from the feed
    state.comment = `Beautiful light! #${tag}`;
    await page.fill(`${card} ${tid('comment-input')}`, state.comment);
    await page.click(`${card} ${tid('comment-submit')}`);
    await waitText(page, `${card} ${tid('comments')}`, new RegExp(state.comment.replace(/[.*+?^${}()|[\]\\!]/g, '\\$&')));
    await shot(page, 'feed');

    // the photo page: all comments, who liked it; a comment of one's own can be deleted
    await page.click(`${card} ${tid('comment-link')}`);
    await ready(page, 'photo');
    await page.fill(tid('comment-input'), 'a typo to delete');
    await page.click(tid('comment-submit'));
    const typo = page.locator(tid('comment'), { hasText: 'a typo to delete' });
    await typo.waitFor({ state: 'visible', timeout: WAIT });
    await typo.locator(tid('comment-delete')).click();
    await typo.waitFor({ state: 'detached', timeout: WAIT });
    assert.equal(await page.locator(tid('comment')).count(), 1);
    await page.click(tid('like-count'));
    await visible(page, `${tid('likers')} [data-username="${names.b}"]`);
    await shot(page, 'photo');

    // the photo's own link, /p/CODE/, opens the same page
    const link = await page.evaluate(async (id) => (await (await fetch(`/v1/media/${id}`)).json()).data.link, state.media1);
    await page.goto(new URL(link).pathname);
    await ready(page, 'photo');
    assert.equal(await page.getAttribute(tid('media-card'), 'data-media-id'), state.media1);
    assert.equal(await page.getAttribute(tid('like-button'), 'aria-pressed'), 'true');
    assertClean(b);
  });

  it("A sees B's follow, like, comment and mention in activity", async () => {
    const { a } = users;
    const { page } = a;
    await page.click(tid('nav-activity'));
    await ready(page, 'activity');
    const item = (type) => page.locator(`${tid('activity-item')}[data-type="${type}"]`, { hasText: names.b });
    await item('like').first().waitFor({ timeout: WAIT });
    await item('comment').filter({ hasText: 'commented: Beautiful light!' }).first().waitFor({ timeout: WAIT });
    await item('follow').first().waitFor({ timeout: WAIT });
    await shot(page, 'activity');
    // and B was told about the mention
    await go(users.b.page, '#/activity', 'activity');
    await users.b.page.locator(`${tid('activity-item')}[data-type="mention"]`, { hasText: names.a }).waitFor({ timeout: WAIT });
    assertClean(a);
    assertClean(users.b);
  });

  it('A downloads their data from the profile: the zip of their account, photos included', async () => {
    const { a } = users;
    const { page } = a;
    await page.click(tid('nav-profile'));
    await ready(page, 'profile');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(tid('export'))]);
    assert.match(download.suggestedFilename(), new RegExp(`^picogram-${a.name}-\\d{8}\\.zip$`));
    const file = path.join(OUT, `export-${a.name}.zip`);
    await download.saveAs(file);
    const bytes = await readFile(file);
    assert.equal(bytes.subarray(0, 4).toString('hex'), '504b0304', 'a zip');
    assert.ok(bytes.includes(Buffer.from('photos/')), 'with the photos');
    assertClean(a);
  });

  it('a private account: B requests ("Requested"), C approves, then B sees the photos', async () => {
    const { b, c } = users;
    // C goes private through "Edit profile" and shares a photo
    await c.page.click(tid('nav-profile'));
    await ready(c.page, 'profile');
    await c.page.click(tid('edit-profile'));
    await ready(c.page, 'edit');
    await c.page.fill(tid('edit-bio'), 'Photos for friends only.\nAsk me.');
    await c.page.click('label.switch');
    assert.equal(await c.page.isChecked(tid('private-switch')), true);
    await shot(c.page, 'edit-profile');
    await c.page.click(tid('edit-save'));
    await ready(c.page, 'profile');
    await visible(c.page, tid('private-badge'));
    await uploadThroughUi(c, 'square-1080.jpg', { caption: 'Just for friends' });
    await ready(c.page, 'photo');
    state.media3 = decodeURIComponent(new URL(c.page.url()).hash.replace('#/m/', ''));

    // B asks to follow
    await go(b.page, `#/u/${c.id}`, 'profile');
    await visible(b.page, tid('private-note'));
    assert.equal(await b.page.locator(tid('grid-item')).count(), 0);
    await waitText(b.page, tid('follow-button'), /^Follow$/);
    await b.page.click(tid('follow-button'));
    await waitText(b.page, tid('follow-button'), /^Requested$/);
    await waitText(b.page, tid('private-note'), /waiting for approval/);
    await shot(b.page, 'profile-requested');

    // C sees the request in activity and approves it on the requests page
    await go(c.page, '#/activity', 'activity');
    await c.page.locator(`${tid('activity-item')}[data-type="request"]`, { hasText: names.b }).waitFor({ timeout: WAIT });
    await c.page.click(tid('review-requests'));
    await ready(c.page, 'requests');
    const row = c.page.locator(`${tid('request-list')} [data-username="${names.b}"]`);
    await row.waitFor({ timeout: WAIT });
    await shot(c.page, 'requests');
    await row.locator(tid('approve')).click();
    await waitText(c.page, tid('request-done'), /^Approved$/);

    // B now follows C and sees the photo
    await go(b.page, `#/u/${c.id}?t=1`, 'profile');
    await waitText(b.page, tid('follow-button'), /^Following$/);
    await visible(b.page, `${tid('grid-item')}[data-media-id="${state.media3}"]`);
    await waitText(b.page, tid('bio'), /friends only/);
    await go(b.page, '#/activity', 'activity');
    await b.page.locator(`${tid('activity-item')}[data-type="approved"]`, { hasText: names.c }).waitFor({ timeout: WAIT });
    assertClean(b);
    assertClean(c);
  });

  it('markup in a caption or a comment is shown as text, never run', async () => {
    const { a, b } = users;
    const evil = `<script>alert(1)</script><img src=x onerror=alert(2)> #${tag}`;
    await uploadThroughUi(a, 'grayscale.jpg', { caption: evil });
    await ready(a.page, 'photo');
    state.media2 = decodeURIComponent(new URL(a.page.url()).hash.replace('#/m/', ''));
    assert.equal(await text(a.page, tid('caption-text')), evil);
    // the owner edits it, still markup
    const edited = `${evil} <b>edited</b>`;
    await a.page.click(tid('media-menu'));
    await a.page.click(tid('edit-caption'));
    await a.page.fill(tid('caption-edit'), edited);
    await a.page.click('.caption-form button[type="submit"]');
    await waitText(a.page, tid('caption-text'), /<b>edited<\/b>$/);

    // B comments with markup and sees both as text
    await go(b.page, `#/m/${state.media2}`, 'photo');
    const comment = '<b>bold</b><script>alert(3)</script><svg onload=alert(4)>';
    await b.page.fill(tid('comment-input'), comment);
    await b.page.click(tid('comment-submit'));
    await b.page.locator(tid('comment'), { hasText: '<script>alert(3)</script>' }).waitFor({ timeout: WAIT });
    assert.equal(await text(b.page, tid('caption-text')), edited);
    await go(b.page, `#/feed?t=${Date.now()}`, 'feed');
    await until(async () => {
      await go(b.page, `#/feed?t=${Date.now()}`, 'feed');
      return (await b.page.locator(`${tid('media-card')}[data-media-id="${state.media2}"]`).count()) > 0;
    }, 'the second photo in B\'s feed');
    for (const page of [a.page, b.page]) {
      const dom = await page.evaluate(() => ({
        scripts: [...document.scripts].map((s) => s.src),
        imgX: document.querySelectorAll('img[src="x"], img[onerror], svg[onload]').length,
        bold: document.querySelectorAll('#view b').length,
      }));
      assert.deepEqual(dom.scripts, [`${url}/js/app.js`], 'only the app script is in the page');
      assert.equal(dom.imgX, 0, 'no element made from user text');
      assert.equal(dom.bold, 0, 'no element made from user text');
    }
    await sleep(200);
    assertClean(a);
    assertClean(b);
  });

  it('log out, a wrong password shows the error, log in again', async () => {
    const { b } = users;
    const { page } = b;
    await page.click(tid('nav-profile'));
    await ready(page, 'profile');
    await page.click(tid('logout'));
    await ready(page, 'login');
    // the session is gone on the server too
    const s = await page.evaluate(async () => (await (await fetch('/web/session')).json()).data);
    assert.equal(s, null);
    await page.reload();
    await ready(page, 'login');
    await page.fill(tid('login-username'), b.name);
    await page.fill(tid('login-password'), 'not the password');
    await expectingHttpErrors(b, async () => {
      await page.click(tid('login-submit'));
      await waitText(page, tid('login-error'), /The username or password you entered is incorrect\./);
    });
    await shot(page, 'login-error');
    await page.fill(tid('login-password'), PASSWORD);
    await page.click(tid('login-submit'));
    await ready(page, 'feed');
    await visible(page, `${tid('media-card')}[data-media-id="${state.media1}"]`);
    assertClean(b);
  });

  it('a file that is not a photo, one too large, and rate limiting show clear errors', async () => {
    const { a } = users;
    const { page } = a;
    await expectingHttpErrors(a, async () => {
      await uploadThroughUi(a, 'not-an-image.jpg', { caption: 'not a photo' });
      await waitText(page, tid('preview-note'), /can't be previewed/);
      await waitText(page, tid('upload-error'), /not a JPEG, PNG, WebP, GIF or HEIC image/);
    });
    assert.equal(await page.isHidden(tid('upload-progress')), true);
    await shot(page, 'upload-error');

    // 413 and 429 get friendly words (the answers are made up here)
    const fake = (status, type, message, headers = {}) => (route) => route.fulfill({
      status,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ meta: { code: status, error_type: type, error_message: message } }),
    });
    await page.route('**/v1/media/upload', fake(413, 'APIInvalidParametersError', 'request body too large'));
    await expectingHttpErrors(a, async () => {
      await page.setInputFiles(tid('file-input'), path.join(PHOTOS, 'landscape.jpg'));
      await page.click(tid('upload-submit'));
      await waitText(page, tid('upload-error'), /too large to upload/);
    });
    await page.unroute('**/v1/media/upload');
    await page.route('**/v1/media/upload', fake(429, 'OAuthRateLimitException', 'The maximum number of requests per hour has been exceeded.', { 'retry-after': '30' }));
    await expectingHttpErrors(a, async () => {
      await page.click(tid('upload-submit'));
      await waitText(page, tid('upload-error'), /doing that too often\. Try again in 30 seconds/);
    });
    await page.unroute('**/v1/media/upload');
    assertClean(a);
  });

  it('hashtag page, search for people and tags, a place page and popular render', async () => {
    const { b } = users;
    const { page } = b;
    // the tag: A's two photos (the caption's tag) and B's comment does not tag
    await go(page, `#/tag/${encodeURIComponent(tag)}`, 'tag');
    await waitText(page, tid('tag-head'), new RegExp(`#${tag}`));
    await visible(page, `${tid('grid-item')}[data-media-id="${state.media1}"]`);
    await visible(page, `${tid('grid-item')}[data-media-id="${state.media2}"]`);
    await waitText(page, tid('tag-count'), /^2 posts$/);
    await shot(page, 'tag');

    // search: A's username starts with the tag, so both show
    await page.click(tid('nav-search'));
    await ready(page, 'search');
    await page.fill(tid('search-input'), tag);
    await visible(page, `${tid('user-results')} [data-username="${names.a}"]`);
    await visible(page, `${tid('tag-results')} [data-tag="${tag}"]`);
    await shot(page, 'search');
    await page.click(`${tid('tag-results')} [data-tag="${tag}"] a`);
    await ready(page, 'tag');

    // the place, from the photo page
    await go(page, `#/m/${state.media1}`, 'photo');
    await page.click(tid('place-link'));
    await ready(page, 'place');
    await waitText(page, `${tid('place-head')} ${tid('place-name')}`, new RegExp(`^${placeName}$`));
    await waitText(page, `${tid('place-head')} ${tid('place-coords')}`, /37\.8199° N, 122\.4783° W/);
    await visible(page, `${tid('grid-item')}[data-media-id="${state.media1}"]`);
    await shot(page, 'place');

    // popular: the ranking is refreshed every second here
    await go(page, '#/popular', 'popular');
    if (!external) {
      await until(async () => {
        await go(page, `#/popular?t=${Date.now()}`, 'popular');
        return (await page.locator(`${tid('grid-item')}[data-media-id="${state.media1}"]`).count()) > 0;
      }, 'the liked photo in popular');
    }
    await shot(page, 'popular');
    assertClean(b);
  });

  it('the feed loads more as you scroll (infinite scroll), and the profile grid', async () => {
    const { a, b } = users;
    // eleven more photos from A, through the API (fast); then B's feed holds 14
    const r = await login(url, a.name, PASSWORD);
    assert.equal(r.status, 200, r.text);
    const token = r.body.access_token;
    for (let i = 0; i < 11; i++) {
      const up = await uploadPhoto(url, { token, photo: i % 2 ? 'grayscale.jpg' : 'progressive.jpg', fields: { caption: `Roll ${i + 1} #${tag}` } });
      assert.equal(up.status, 200, up.text);
    }
    const { page } = b;
    await until(() => page.evaluate(async () => (await (await fetch('/v1/users/self/feed?count=100')).json()).data.length >= 14),
      "the new photos in B's feed");
    await go(page, `#/feed?t=${Date.now()}`, 'feed');
    const cards = page.locator(tid('media-card'));
    assert.equal(await cards.count(), 10, 'the first page');
    await page.locator(tid('pager')).scrollIntoViewIfNeeded();
    await until(async () => (await cards.count()) === 14, 'the second page after scrolling');
    await until(async () => (await page.getAttribute(tid('pager'), 'data-state')) === 'end', 'the end of the feed');
    const ids = await cards.evaluateAll((els) => els.map((e) => e.dataset.mediaId));
    assert.equal(new Set(ids).size, 14, 'no photo twice');

    // A's profile: 13 posts in the grid, 1 follower
    await go(a.page, `#/u/${a.id}`, 'profile');
    await waitText(a.page, tid('count-media'), /^13 posts$/);
    await waitText(a.page, tid('count-followers'), /^1 follower$/);
    await until(async () => (await a.page.locator(`${tid('profile-grid')} ${tid('grid-item')}`).count()) === 13, '13 photos in the grid');
    await shot(a.page, 'profile');
    // the desktop profile of C, seen by C
    await go(users.c.page, `#/u/${users.c.id}`, 'profile');
    await shot(users.c.page, 'profile-desktop');
    for (const u of [a, b, users.c]) assertClean(u);
  });
  it('the keyboard alone: sign up, post a photo, follow, like, comment, the menu, log out', async () => {
    const { a } = users;
    names.d = uniqueName('dee');
    const d = await newUser('d', 'D (keyboard)', DESKTOP);
    const { page } = d;
    const k = page.keyboard;
    await page.goto('/');
    await visible(page, tid('login-form'));
    // a failed log-in: the error is an alert
    await tabTo(page, tid('login-username'));
    await k.type(names.a);
    await tabTo(page, tid('login-password'));
    await k.type('not the password');
    await expectingHttpErrors(d, async () => {
      await k.press('Enter');
      await waitText(page, tid('login-error'), /incorrect/);
    });
    assert.equal(await page.getAttribute(tid('login-error'), 'role'), 'alert');

    // sign up: the fields in the order they are seen
    await tabTo(page, tid('to-signup'));
    await k.press('Enter');
    await visible(page, tid('signup-form'));
    assert.equal((await focusState(page)).id, 'signup-username', 'the form starts at its first field');
    await k.type(names.d);
    const order = await tabTo(page, tid('signup-submit'));
    assert.deepEqual(order, ['signup-fullname', 'signup-email', 'signup-password', 'signup-submit']);
    await tabTo(page, tid('signup-password'), { back: true });
    await k.type(PASSWORD);
    await k.press('Enter');
    await ready(page, 'feed');
    d.id = (await page.getAttribute(tid('nav-profile'), 'href')).replace('#/u/', '');

    // post a photo: the file input opens the chooser from the keyboard
    await tabTo(page, tid('nav-upload'), { back: true });
    await k.press('Enter');
    await ready(page, 'upload');
    await tabTo(page, tid('file-input'));
    const chooser = await chooserFromKey(page, 'Space');
    await chooser.setFiles(path.join(PHOTOS, 'square-1080.jpg'));
    await visible(page, tid('preview'));
    await tabTo(page, tid('upload-caption'));
    await k.type('Typed, not clicked');
    await tabTo(page, tid('upload-submit'));
    await k.press('Enter');
    await ready(page, 'photo');
    const mine = decodeURIComponent(new URL(page.url()).hash.replace('#/m/', ''));

    // the owner's menu: opens on its first item, arrows move, Escape closes it and gives focus back
    await tabTo(page, tid('media-menu'));
    await k.press('Enter');
    await until(async () => (await focusState(page)).id === 'edit-caption', 'focus on the first item of the menu');
    assert.equal(await page.getAttribute(tid('media-menu'), 'aria-expanded'), 'true');
    await k.press('ArrowDown');
    assert.equal((await focusState(page)).id, 'delete-media');
    await k.press('ArrowDown');
    assert.equal((await focusState(page)).id, 'edit-caption', 'the arrows wrap around');
    await k.press('Escape');
    assert.equal(await page.isHidden('.menu'), true, 'Escape closes the menu');
    assert.equal((await focusState(page)).id, 'media-menu', 'focus is back on the menu button');
    assert.equal(await page.getAttribute(tid('media-menu'), 'aria-expanded'), 'false');
    assert.equal(await page.locator(`${tid('media-card')}[data-media-id="${mine}"]`).count(), 1, 'nothing was deleted');

    // follow A, found by search
    await tabTo(page, tid('nav-search'), { back: true });
    await k.press('Enter');
    await ready(page, 'search');
    assert.equal((await focusState(page)).id, 'search-input');
    await k.type(names.a);
    const row = `${tid('user-results')} [data-username="${names.a}"] a`;
    await visible(page, row);
    await tabTo(page, row);
    await k.press('Enter');
    await ready(page, 'profile');
    await tabTo(page, tid('follow-button'));
    await k.press('Enter');
    await waitText(page, tid('follow-button'), /^Following$/);
    await until(async () => (await focusState(page)).id === 'follow-button', 'focus on the new follow button');
    await announced(page, new RegExp(`^Following ${names.a}$`));

    // like A's first photo (the like button is the double tap's keyboard equivalent), then comment
    const item = `${tid('profile-grid')} ${tid('grid-item')}[data-media-id="${state.media1}"]`;
    await visible(page, item);
    assert.match(await page.getAttribute(`${item} img`, 'alt'), new RegExp(`^Photo by ${names.a}: `));
    await tabTo(page, item, { max: 80 });
    await k.press('Enter');
    await ready(page, 'photo');
    assert.equal(await page.getAttribute(tid('photo') + ' img', 'alt'), `Photo by ${names.a}: ${state.caption}`);
    const likes = Number((await text(page, tid('like-count'))).split(' ')[0]);
    await tabTo(page, tid('like-button'));
    assert.equal(await page.getAttribute(tid('like-button'), 'aria-label'), 'Like');
    // a like that fails is taken back, and the error is said at once (the assertive region)
    const likesPath = `/v1/media/${encodeURIComponent(state.media1)}/likes`;
    const likesUrl = `**${likesPath}`;
    await page.route(likesUrl, (route) => route.fulfill({
      status: 500,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ meta: { code: 500, error_type: 'APIError', error_message: 'Something broke here' } }),
    }));
    await expectingHttpErrors(d, async () => {
      // page.route() can resolve before the page loads through the route:
      // Chromium answers Fetch.enable once it has sent the renderer its new
      // (intercepting) loaders, not once the renderer uses them, and a key
      // press can be handled first on a busy machine, so the like would reach
      // the server and succeed. A request of the page answered by the route
      // (a GET: the server's own answer to it changes nothing) shows it is in place.
      await until(() => page.evaluate((p) => fetch(p, { cache: 'no-store' }).then((r) => r.status === 500), likesPath),
        'the made-up answer in place in the page');
      await k.press('Enter');
      await waitText(page, tid('live-alert'), /\S/);
    });
    assert.equal(await text(page, tid('live-alert')), await text(page, '#toast'));
    await until(async () => (await page.getAttribute(tid('like-button'), 'aria-pressed')) === 'false'
      && (await page.getAttribute(tid('like-button'), 'aria-busy')) === null, 'the failed like taken back');
    await page.unroute(likesUrl);
    await k.press('Enter');
    await waitText(page, tid('like-count'), new RegExp(`^${likes + 1} likes?$`));
    assert.equal(await page.getAttribute(tid('like-button'), 'aria-pressed'), 'true');
    await announced(page, new RegExp(`^Liked\\. ${likes + 1} likes?\\.$`));
    await tabTo(page, tid('comment-input'));
    await k.type('Said with the keyboard');
    await k.press('Enter');
    await visible(page, `${tid('comment')}:has-text("Said with the keyboard")`);
    await announced(page, /^Comment posted\. \d+ comments?\.$/);
    await until(async () => (await focusState(page)).id === 'comment-input', 'focus back in the comment field');

    // log out
    await tabTo(page, tid('nav-profile'), { back: true, max: 60 });
    await k.press('Enter');
    await ready(page, 'profile');
    await tabTo(page, tid('logout'));
    await k.press('Enter');
    await ready(page, 'login');
    await announced(page, /^You are logged out$/);
    await shot(page, 'login-keyboard');

    // what the keyboard did is what the server has
    const r = await fetch(`${url}/v1/media/${state.media1}/likes`, { headers: { authorization: `Bearer ${(await login(url, a.name, PASSWORD)).body.access_token}` } });
    assert.ok((await r.json()).data.some((u) => u.username === names.d), "D's like is on the server");
    assertClean(d);
    assertClean(a);
  });

  it('asks for less motion: animations and transitions are off', async () => {
    const { page } = users.c;
    await go(page, `#/u/${users.c.id}`, 'profile');
    const durations = () => page.evaluate(() => {
      const s = getComputedStyle(document.querySelector('.btn'));
      return s.transitionDuration.split(',').map((x) => parseFloat(x));
    });
    assert.ok((await durations()).some((x) => x >= 0.1), 'buttons fade by default');
    await page.emulateMedia({ reducedMotion: 'reduce' });
    try {
      assert.ok((await durations()).every((x) => x < 0.001), 'and not when asked');
      const spin = await page.evaluate(() => {
        const el = document.createElement('span');
        el.className = 'spinner';
        document.body.append(el);
        const s = getComputedStyle(el);
        const r = [parseFloat(s.animationDuration), s.animationIterationCount];
        el.remove();
        return r;
      });
      assert.ok(spin[0] < 0.001 && spin[1] === '1', `the spinner stands still (${spin})`);
    } finally {
      await page.emulateMedia({ reducedMotion: 'no-preference' });
    }
  });
});
