// The typed API client: openapi-fetch over the generated schema, with the session's access
// token attached and one transparent refresh (token rotation) when the API answers 401.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type User = Schemas["UserDto"];

// Where an older dashboard kept the refresh token; removed on load.
const LEGACY_REFRESH_KEY = "infrence.refresh_token";
// Set beside the refresh cookie (readable, nothing secret): a refresh is worth trying on load.
const SIGNED_IN_COOKIE = "infrence_signed_in";
// Endpoints that never carry or refresh a session themselves.
const SESSIONLESS = /\/api\/auth\/(login|signup|refresh|logout|forgot-password|reset-password)$/;

type Tokens = { access_token: string };

/** The signed-in session: the access token in memory only. The refresh token is an HttpOnly
 * cookie the server sets at login and sends back only to /api/auth/refresh: script never
 * sees it, so an injected script cannot steal a long-lived session. */
class Session {
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private expiredListeners = new Set<() => void>();

  constructor() {
    try {
      localStorage.removeItem(LEGACY_REFRESH_KEY);
    } catch {
      // storage disabled: nothing was kept there either
    }
  }

  get token(): string | null {
    return this.accessToken;
  }

  /** Whether the browser holds a refresh cookie from an earlier sign-in. */
  get resumable(): boolean {
    return document.cookie.split("; ").some((c) => c.startsWith(`${SIGNED_IN_COOKIE}=`));
  }

  start(tokens: Tokens): void {
    this.accessToken = tokens.access_token;
  }

  clear(): void {
    this.accessToken = null;
  }

  onExpired(listener: () => void): () => void {
    this.expiredListeners.add(listener);
    return () => this.expiredListeners.delete(listener);
  }

  /** Rotate the refresh cookie once; concurrent 401s share the same attempt. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.rotate().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async rotate(): Promise<boolean> {
    let response: Response;
    try {
      response = await fetch("/api/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
        credentials: "same-origin",
      });
    } catch {
      return false; // offline: the cookie stays for a later try
    }
    if (!response.ok) {
      this.clear();
      document.cookie = `${SIGNED_IN_COOKIE}=; Max-Age=0; Path=/; Secure; SameSite=Strict`;
      this.expiredListeners.forEach((listener) => listener());
      return false;
    }
    this.start((await response.json()) as Tokens);
    return true;
  }
}

export const session = new Session();

function withToken(request: Request): Request {
  if (session.token) request.headers.set("Authorization", `Bearer ${session.token}`);
  return request;
}

/** fetch with the session: bearer token attached, one refresh-and-retry on 401. */
export async function sessionFetch(request: Request): Promise<Response> {
  const sessionless = SESSIONLESS.test(new URL(request.url).pathname);
  const retry = sessionless ? null : request.clone();
  const response = await fetch(sessionless ? request : withToken(request));
  if (response.status !== 401 || !retry || !session.token) return response;
  if (!(await session.refresh())) return response;
  return fetch(withToken(retry));
}

export const api = createClient<paths>({ baseUrl: window.location.origin, fetch: sessionFetch });

export type FieldErrors = Record<string, string>;

/** An API error as the server reports it: `{detail, code, errors: [{field, message}]}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly fields: FieldErrors = {},
  ) {
    super(detail);
  }
}

type ErrorBody = { detail?: unknown; code?: unknown; errors?: { field?: string; message?: string }[] };

export function toApiError(status: number, body: unknown): ApiError {
  const err = (body && typeof body === "object" ? body : {}) as ErrorBody;
  const fields: FieldErrors = {};
  for (const e of err.errors ?? []) if (e.field) fields[e.field] = e.message ?? "Invalid value";
  const detail = typeof err.detail === "string" ? err.detail : `Request failed (${status || "network"})`;
  return new ApiError(status, typeof err.code === "string" ? err.code : "error", detail, fields);
}

/** Await an openapi-fetch call and return its data, or throw an ApiError. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection and retry.");
  }
  if (!result.response.ok) throw toApiError(result.response.status, result.error);
  return result.data as T;
}
