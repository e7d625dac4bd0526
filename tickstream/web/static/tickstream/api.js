// The REST API from the pages: JSON in and out, the session's CSRF token, errors as
// {code, message, details} (the API's error body) thrown as ApiError.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || { code: "error", message: `HTTP ${status}` };
    super(error.message);
    this.status = status;
    this.code = error.code;
    this.details = error.details;
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** fetch() an API path; resolves to the parsed JSON (null for 204), rejects with ApiError. */
export async function api(path, { method = "GET", body, form } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** One page of a paged list: its rows and the path of the next page (the `Link` header's
 * rel="next"), or null on the last. */
export async function apiPage(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  const link = (response.headers.get("Link") || "").match(/<([^>]+)>;\s*rel="next"/);
  const next = link ? new URL(link[1], location.href) : null;
  return { rows: data, next: next ? next.pathname + next.search : null };
}

/** An ApiError as one readable line (with the field it names). */
export function describeError(error) {
  const field = error.details && error.details.field;
  return field ? `${field}: ${error.message}` : error.message;
}
