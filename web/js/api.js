// The API client: same-origin fetch with the session cookie, the CSRF
// token on every state-changing request, and errors turned into messages
// a person can read.

let csrfToken = null;

/** The logged-in user ({id, username, ...}) or null. */
export const session = { user: null };

export class ApiError extends Error {
  constructor(status, type, message, retryAfter = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.retryAfter = retryAfter;
  }
  /** The session is gone (logged out elsewhere, revoked, expired). */
  get isAuth() {
    return this.type === 'OAuthParameterException' || this.type === 'OAuthAccessTokenException';
  }
}

/** What to show for an error answer: the server's words, friendlier for 413, 429 and the like. */
export function friendlyMessage(status, type, serverMessage, retryAfter) {
  if (status === 429) {
    const wait = retryAfter ? ` Try again in ${formatWait(retryAfter)}.` : ' Please wait a little and try again.';
    return `You're doing that too often.${wait}`;
  }
  if (status === 413) return 'That file is too large to upload. Please choose a smaller photo.';
  if (status === 503) return 'picogram is busy right now. Please try again in a moment.';
  if (status >= 500) return `Something went wrong on our side (${status}). Please try again.`;
  if (type === 'OAuthParameterException' || type === 'OAuthAccessTokenException') return 'Your session has ended. Please log in again.';
  if (status === 403 && /CSRF/i.test(serverMessage || '')) return 'Your session has changed. Please reload the page.';
  if (!serverMessage) return `Request failed (${status}).`;
  // the API's messages are sentence fragments: "the photo is not a JPEG ..."
  const m = serverMessage.charAt(0).toUpperCase() + serverMessage.slice(1);
  return /[.!?]$/.test(m) ? m : `${m}.`;
}

function formatWait(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s <= 0) return 'a moment';
  if (s < 90) return `${Math.ceil(s)} seconds`;
  return `${Math.ceil(s / 60)} minutes`;
}

const NETWORK_MESSAGE = "Can't reach picogram. Check your connection and try again.";

function buildUrl(path, query) {
  if (!query) return path;
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') sp.append(k, String(v));
  const qs = sp.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

function errorFrom(status, body, retryAfter) {
  const meta = body && (body.meta || body);
  const type = meta && typeof meta.error_type === 'string' ? meta.error_type : null;
  const msg = meta && typeof meta.error_message === 'string' ? meta.error_message : null;
  const err = new ApiError(status, type, friendlyMessage(status, type, msg, retryAfter), retryAfter);
  err.serverMessage = msg;
  return err;
}

let authLost = () => {};
/** fn(err) runs when an API answer says the session is gone. */
export function onAuthLost(fn) {
  authLost = fn;
}

/**
 * request('GET', '/v1/users/self/feed', {query: {count: 10}}) → {data, pagination}
 * form: an object (sent as x-www-form-urlencoded). Throws ApiError.
 */
export async function request(method, path, { query, form } = {}) {
  const headers = {};
  const isWeb = path.startsWith('/web/');
  if (method !== 'GET') {
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
    if (isWeb) headers['X-Requested-With'] = 'picogram';
  }
  let body;
  if (form) {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) if (v !== undefined && v !== null) sp.append(k, String(v));
    body = sp;
  }
  let res;
  try {
    res = await fetch(buildUrl(path, query), { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'NetworkError', NETWORK_MESSAGE);
  }
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (!res.ok || !json || (json.meta && json.meta.code && json.meta.code !== 200)) {
    const err = errorFrom(res.status, json, res.headers.get('Retry-After'));
    if (err.isAuth && !isWeb) authLost(err);
    throw err;
  }
  return { data: json.data ?? null, pagination: json.pagination || {} };
}

export const get = (path, query) => request('GET', path, { query });
export const post = (path, form = {}) => request('POST', path, { form });
export const del = (path) => request('DELETE', path);

/**
 * Uploads a photo (multipart FormData) with XMLHttpRequest, which, unlike
 * fetch, reports upload progress: onProgress(fraction 0..1).
 * Resolves with the media object.
 */
export function uploadMedia(formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/media/upload');
    if (csrfToken) xhr.setRequestHeader('X-CSRF-Token', csrfToken);
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    });
    xhr.upload.addEventListener('load', () => onProgress && onProgress(1));
    xhr.addEventListener('load', () => {
      let json = null;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        json = null;
      }
      if (xhr.status === 200 && json && json.data) {
        resolve(json.data);
        return;
      }
      const err = errorFrom(xhr.status, json, xhr.getResponseHeader('Retry-After'));
      if (err.isAuth) authLost(err);
      reject(err);
    });
    xhr.addEventListener('error', () => {
      // h2o refuses a body over max_upload from its Content-Length and
      // closes the connection: the browser sees a network error, not a 413.
      reject(new ApiError(0, 'NetworkError',
        'The upload failed. The photo may be too large, or the connection dropped. Please try again.'));
    });
    xhr.addEventListener('timeout', () => reject(new ApiError(0, 'Timeout', 'The upload took too long. Please try again.')));
    xhr.send(formData);
  });
}

// ---- the browser session ----

function setSession(data) {
  session.user = data && data.user ? data.user : null;
  csrfToken = data && data.csrf_token ? data.csrf_token : null;
  return session.user;
}

/** GET /web/session: who is logged in (null if nobody). */
export async function loadSession() {
  const { data } = await get('/web/session');
  return setSession(data);
}

export async function login(username, password) {
  const { data } = await post('/web/session', { username, password });
  return setSession(data);
}

export async function signup(fields) {
  const { data } = await post('/web/accounts', fields);
  return setSession(data);
}

export async function logout() {
  try {
    await del('/web/session');
  } finally {
    setSession(null);
  }
}

/** Keeps session.user's counts and profile fresh after an edit. */
export function updateSessionUser(user) {
  if (user && session.user && user.id === session.user.id) session.user = { ...session.user, ...user };
}

/**
 * The session's CSRF token, for the one real form the client posts (the
 * consent page's, to /oauth/authorize), which carries it as a field.
 */
export function csrfTokenValue() {
  return csrfToken;
}

export function isSelf(id) {
  return Boolean(session.user && (id === 'self' || id === session.user.id));
}
