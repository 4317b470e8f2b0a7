// HTTP answers the way the Python relay gives them: JSON errors
// {"error":{"code","message","hint"?}}, Retry-After on 429, and the same security headers.

export const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly retryAfter = 0,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  response(): Response {
    const error: Record<string, string> = { code: this.code, message: this.message };
    if (this.hint) error.hint = this.hint;
    const headers: Record<string, string> = { ...this.headers };
    if (this.retryAfter > 0) headers["retry-after"] = String(Math.max(1, Math.round(this.retryAfter)));
    return json({ error }, this.status, headers);
  }
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function noContent(): Response {
  return new Response(null, { status: 204 });
}

// The phone client's policy, as loopsy/relay/app.py sends it: its own bundled script only,
// connections only to this relay's origin, no framing; 'unsafe-inline' styles because
// xterm.js writes <style> elements. Everything else gets the API's policy.
export const APP_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/** A copy of ``response`` with the relay's security headers (101 upgrades pass unchanged). */
export function withSecurityHeaders(response: Response, path: string): Response {
  if (response.status === 101 || response.webSocket) return response;
  const out = new Response(response.body, response);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) out.headers.set(name, value);
  const app = path === "/app" || path.startsWith("/app/");
  out.headers.set("content-security-policy", app ? APP_CSP : API_CSP);
  return out;
}

export const MAX_BODY = 16 * 1024;

/** The request's JSON object body (empty body = {}), at most MAX_BODY bytes. */
export async function readBody(request: Request): Promise<Record<string, unknown>> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY) throw new ApiProblem(413, "too_large", `request body over ${MAX_BODY} bytes`);
  const data = await readLimited(request, MAX_BODY);
  if (data.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(data));
  } catch {
    throw new ApiProblem(400, "bad_request", "request body is not JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ApiProblem(400, "bad_request", "request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new ApiProblem(413, "too_large", `request body over ${limit} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
