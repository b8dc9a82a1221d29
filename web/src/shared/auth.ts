// Sign in with a token: pasted into a form, checked with GET /api/me, kept for this tab in
// sessionStorage only (never in a URL). A 401 anywhere brings the form back.

import { ApiError, api, clearToken, getToken, onUnauthorized, setToken, type User } from './client';
import { el } from './util';

let current: User | null = null;

export function currentUser(): User | null {
  return current;
}

async function check(): Promise<User | null> {
  if (!getToken()) return null;
  try {
    return await api.get('/api/me', {});
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) { clearToken(); return null; }
    throw error;
  }
}

function form(message: string, resolve: (user: User) => void): HTMLElement {
  const input = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, placeholder: 'Paste your token', 'aria-describedby': 'signin-note' });
  const note = el('p', { id: 'signin-note', class: 'note', role: 'status', 'aria-live': 'polite' }, message);
  const button = el('button', { type: 'submit', class: 'button primary', id: 'signin-submit' }, 'Sign in');
  const node = el('form', { id: 'signin', class: 'signin', 'aria-labelledby': 'signin-title' },
    el('h2', { id: 'signin-title' }, 'Sign in to the expert tools'),
    el('label', { for: 'token' }, 'Token'),
    input,
    el('p', { class: 'hint' }, 'Your token comes from ', el('code', {}, 'mcae users add'), ' or ',
      el('code', {}, 'mcae users token NAME'), '. It is kept for this tab only and never put in a link.'),
    el('div', { class: 'row' }, button),
    note);
  node.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    note.textContent = 'Checking…';
    setToken(token);
    check().then((user) => {
      if (!user) {
        note.textContent = 'This token is not valid (unknown, revoked or disabled).';
        input.select();
        return;
      }
      current = user;
      node.closest('.signin-screen')?.remove();
      resolve(user);
    }).catch((error: unknown) => {
      clearToken();
      note.textContent = `Could not check the token: ${error instanceof Error ? error.message : String(error)}`;
    }).finally(() => { button.disabled = false; });
  });
  window.setTimeout(() => input.focus(), 0);
  return node;
}

/** The signed-in user: the tab's token if it is still valid, else after the sign-in form. */
export async function requireUser(message = ''): Promise<User> {
  onUnauthorized(() => signOut('Your session ended (the token is no longer valid): sign in again.'));
  const user = await check().catch(() => null);
  if (user) { current = user; return user; }
  document.body.classList.add('signed-out');
  return new Promise<User>((resolve) => {
    const screen = el('div', { class: 'signin-screen' }, form(message, (u) => {
      document.body.classList.remove('signed-out');
      resolve(u);
    }));
    document.body.append(screen);
  });
}

/** Forget the token and show the sign-in form again (a reload keeps the page's place). */
export function signOut(message?: string): void {
  clearToken();
  current = null;
  if (message) window.sessionStorage.setItem('mcae-signin-message', message);
  window.location.reload();
}

/** A message left by signOut() for the next sign-in form. */
export function takeSignInMessage(): string {
  const message = window.sessionStorage.getItem('mcae-signin-message') ?? '';
  window.sessionStorage.removeItem('mcae-signin-message');
  return message;
}
