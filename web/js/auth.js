// Log in and sign up.
import { login, signup } from './api.js';
import { h, busy, field } from './dom.js';

// note: what brought the person here, if anything (an app asking for access)
function authShell(title, form, switcher, note) {
  return h('div', { class: 'page page-auth' },
    h('div', { class: 'card auth-card' },
      h('h1', { class: 'logo' }, 'picogram'),
      h('p', { class: 'muted auth-tagline' }, title),
      note ? h('p', { class: 'auth-note', 'data-testid': 'auth-note' }, note) : null,
      form),
    h('div', { class: 'card auth-switch' }, switcher));
}

export function loginPage(view, ctx, params, { onLoggedIn, note }) {
  ctx.setTitle('Log in');
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false', 'data-testid': 'login-username' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'login-password' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'login-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'login-submit' }, 'Log in');
  const form = h('form', { class: 'form', 'data-testid': 'login-form', novalidate: true },
    field('Username', username), field('Password', password), error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!username.value.trim() || !password.value) {
      error.textContent = 'Enter your username and password.';
      error.hidden = false;
      return;
    }
    try {
      const user = await busy(submit, () => login(username.value.trim(), password.value), 'Logging in…');
      onLoggedIn(user);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      password.select();
    }
  });
  view.append(authShell('Share your photos with your friends.', form,
    h('p', null, "Don't have an account? ", h('a', { href: '#/signup', 'data-testid': 'to-signup' }, 'Sign up')), note));
  username.focus();
}

export function signupPage(view, ctx, params, { onLoggedIn, note }) {
  ctx.setTitle('Sign up');
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, maxlength: '30', pattern: '[A-Za-z0-9._]{1,30}', autocapitalize: 'none', spellcheck: 'false', 'data-testid': 'signup-username' });
  const fullName = h('input', { name: 'full_name', autocomplete: 'name', 'data-testid': 'signup-fullname' });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', 'data-testid': 'signup-email' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: '8', 'data-testid': 'signup-password' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'signup-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'signup-submit' }, 'Sign up');
  const form = h('form', { class: 'form', 'data-testid': 'signup-form', novalidate: true },
    field('Username', username, 'Letters, digits, . and _ (up to 30).'),
    field('Full name (optional)', fullName),
    field('Email (optional)', email),
    field('Password', password, 'At least 8 characters.'),
    error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const u = username.value.trim();
    let problem = null;
    if (!/^[A-Za-z0-9._]{1,30}$/.test(u)) problem = 'Choose a username of 1 to 30 letters, digits, dots or underscores.';
    else if (password.value.length < 8) problem = 'The password must be at least 8 characters.';
    if (problem) {
      error.textContent = problem;
      error.hidden = false;
      return;
    }
    try {
      const fields = { username: u, password: password.value };
      if (fullName.value.trim()) fields.full_name = fullName.value.trim();
      if (email.value.trim()) fields.email = email.value.trim();
      const user = await busy(submit, () => signup(fields), 'Signing up…');
      onLoggedIn(user);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  view.append(authShell('Sign up to see photos from your friends.', form,
    h('p', null, 'Have an account? ', h('a', { href: '#/login', 'data-testid': 'to-login' }, 'Log in')), note));
  username.focus();
}
