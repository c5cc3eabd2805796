// The token lives in session storage: gone when the tab closes, never in a cookie the API
// would have to guard against cross-site requests.
const KEY = "heracles.token";

export function getToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
