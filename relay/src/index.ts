// The Worker: the relay protocol's front door (docs/PROTOCOL.md, "Relay HTTP API" and
// "Relay WebSockets"). It refuses what it can without state (query-string credentials,
// malformed or forged credentials, unknown routes), applies the per-address limits, and
// hands everything about a device to that device's Durable Object. The phone client is
// served at /app from the Worker's static assets.

import { DeviceRelay } from "./device";
import { type Env, pepper as pepperOf, settings } from "./env";
import { ApiProblem, json, readBody, withSecurityHeaders } from "./http";
import { equalText, randomSecret, sha256Hex, type Pepper } from "./keys";
import { type Bucket, RateLimiter, WINDOW } from "./limiter";
import { PairIndex } from "./pairindex";
import { VERSION } from "./version";
import {
  b64url,
  offeredProtocols,
  parseAuth,
  ProtocolError,
  SUBPROTOCOL,
  type PresentedAuth,
} from "./wire";

export { DeviceRelay, PairIndex, RateLimiter };

const SECRET_NAMES =
  /(^|&)(token|secret|credential|key|auth|authorization|access_token|pair|password)=/i;
const SOCKET_ROUTES = new Set(["/v1/device/connect", "/v1/phone/connect", "/v1/pair/connect"]);
const DEVICE_ROUTES: Record<string, string[]> = {
  "/v1/device": ["GET"],
  "/v1/pairs": ["POST"],
  "/v1/phones": ["GET", "POST"],
};
const ITEM_ROUTE = /^\/v1\/(pairs|phones)\/([^/]*)$/;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      return withSecurityHeaders(await handle(request, env), path);
    } catch (error) {
      if (error instanceof ApiProblem) return withSecurityHeaders(error.response(), path);
      console.error("relay error", error instanceof Error ? error.stack : String(error));
      const problem = new ApiProblem(500, "internal", "internal relay error");
      return withSecurityHeaders(problem.response(), path);
    }
  },
} satisfies ExportedHandler<Env>;

async function handle(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  const query = url.search.slice(1);
  if (SECRET_NAMES.test(query)) {
    throw new ApiProblem(400, "bad_request", "credentials in the URL are refused", "send it in Sec-WebSocket-Protocol");
  }
  if (query && SOCKET_ROUTES.has(path)) {
    throw new ApiProblem(400, "bad_request", "relay WebSockets take no query string", "send it in Sec-WebSocket-Protocol");
  }
  if (path === "/") return json({ service: "loopsy-relay", app: "/app", health: "/v1/health" });
  if (path === "/app" || path.startsWith("/app/")) return serveApp(request, env, url);
  if (!path.startsWith("/v1/")) throw new ApiProblem(404, "not_found", "Not Found");

  const pepper = pepperOf(env);
  if (path === "/v1/health") return health(request, pepper !== null);
  if (pepper === null) throw unconfigured();
  const keys = await pepper;
  const client = new Client(request, env, keys);

  if (path === "/v1/devices") {
    allow(request, ["POST"]);
    return client.register();
  }
  if (SOCKET_ROUTES.has(path)) return client.socket(path);
  const item = ITEM_ROUTE.exec(path);
  const methods = DEVICE_ROUTES[path] ?? (item ? ["DELETE"] : null);
  if (methods === null) throw new ApiProblem(404, "not_found", "Not Found");
  allow(request, methods);
  return client.deviceRequest();
}

function allow(request: Request, methods: string[]): void {
  const method = request.method === "HEAD" ? "GET" : request.method;
  if (!methods.includes(method)) {
    throw new ApiProblem(405, "bad_request", "Method Not Allowed", undefined, 0, {
      allow: methods.join(", "),
    });
  }
}

function health(request: Request, configured: boolean): Response {
  allow(request, ["GET"]);
  const body = { ok: configured, service: "loopsy-relay", protocol: 1, version: VERSION, runtime: "cloudflare-worker" };
  if (configured) return json(body);
  return json({ ...body, error: errorBody(unconfigured()) }, 503);
}

function unconfigured(): ApiProblem {
  return new ApiProblem(
    503,
    "unavailable",
    "this relay has no PAIR_TOKEN_SECRET (or one shorter than 32 characters)",
    "run `loopsy relay deploy` again, or set it: `npx wrangler secret put PAIR_TOKEN_SECRET`",
  );
}

function errorBody(problem: ApiProblem): Record<string, string> {
  const body: Record<string, string> = { code: problem.code, message: problem.message };
  if (problem.hint) body.hint = problem.hint;
  return body;
}

/** The rate-limit key for a client: its address, or its /64 for IPv6. */
export function addressKey(address: string | null): string {
  if (!address) return "unknown";
  if (!address.includes(":")) return address;
  const [head = "", tail = ""] = address.toLowerCase().split("::", 2);
  const left = head ? head.split(":") : [];
  const right = address.includes("::") && tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":") + "::/64";
}

/** One request from one client address: the limits and the routing to Durable Objects. */
class Client {
  private readonly settings;
  private limiterStub: DurableObjectStub<RateLimiter> | null = null;

  constructor(
    private readonly request: Request,
    private readonly env: Env,
    private readonly pepper: Pepper,
  ) {
    this.settings = settings(env);
  }

  private async limiter(): Promise<DurableObjectStub<RateLimiter>> {
    if (this.limiterStub === null) {
      const key = addressKey(this.request.headers.get("cf-connecting-ip"));
      const name = await this.pepper.name("addr", key);
      this.limiterStub = this.env.LIMITS.get(this.env.LIMITS.idFromName(name));
    }
    return this.limiterStub;
  }

  private async hit(bucket: Bucket, limit: number): Promise<number> {
    return (await this.limiter()).hit(bucket, limit, WINDOW);
  }

  /** 429 now if this address has failed too many credentials lately. */
  private async checkFailures(): Promise<void> {
    const wait = await (await this.limiter()).wait("failure", this.settings.failedAuthRate, WINDOW);
    if (wait > 0) throw tooManyFailures(wait);
  }

  /** Count a failed credential; the refusal to give (401, or 429 past the limit). */
  private async refuse(message: string): Promise<ApiProblem> {
    const wait = await this.hit("failure", this.settings.failedAuthRate);
    if (wait > 0) return tooManyFailures(wait);
    return new ApiProblem(401, "unauthorized", message);
  }

  async register(): Promise<Response> {
    const expected = this.env.REGISTRATION_SECRET;
    if (expected) {
      const presented = this.request.headers.get("x-loopsy-registration") ?? "";
      if (!equalText(await sha256Hex(presented), await sha256Hex(expected))) {
        throw await this.refuse("wrong or missing registration secret");
      }
    }
    const wait = await this.hit("register", this.settings.registerRate);
    if (wait > 0) {
      throw new ApiProblem(429, "rate_limited", "too many registrations from here", undefined, wait);
    }
    await readBody(this.request);
    for (let attempt = 0; attempt < 8; attempt++) {
      const deviceId = await this.pepper.newDeviceId();
      const secret = randomSecret();
      const record = await this.pepper.record("device", await sha256Hex(secret));
      const stub = this.env.DEVICES.get(this.env.DEVICES.idFromName(deviceId));
      if (await stub.register(deviceId, record)) {
        return json({ device_id: deviceId, credential: `${deviceId}.${b64url(secret)}` }, 201);
      }
    }
    throw new ApiProblem(503, "unavailable", "could not allocate a device id; try again");
  }

  async deviceRequest(): Promise<Response> {
    await this.checkFailures();
    const header = this.request.headers.get("authorization");
    if (header === null) {
      throw new ApiProblem(401, "unauthorized", "missing device credential", "Authorization: Bearer <id>.<s>");
    }
    let auth: PresentedAuth;
    try {
      auth = parseAuth([], header);
    } catch (error) {
      throw await this.refuse(error instanceof ProtocolError ? error.message : "bad credential");
    }
    if (auth.kind !== "device" || !(await this.pepper.validDeviceId(auth.deviceId))) {
      throw await this.refuse("unknown device or wrong credential");
    }
    return this.toDevice(auth.deviceId, new Request(this.request));
  }

  async socket(path: string): Promise<Response> {
    allow(this.request, ["GET"]);
    if ((this.request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
      throw new ApiProblem(426, "bad_request", "this route takes a WebSocket upgrade", `offer the subprotocol ${SUBPROTOCOL}`);
    }
    await this.checkFailures();
    const protocols = offeredProtocols(this.request.headers.get("sec-websocket-protocol"));
    if (!protocols.includes(SUBPROTOCOL)) {
      throw new ApiProblem(400, "bad_request", `offer the subprotocol ${SUBPROTOCOL}`);
    }
    const kind = path === "/v1/device/connect" ? "device" : path === "/v1/phone/connect" ? "phone" : "pair";
    const authorization = kind === "device" ? this.request.headers.get("authorization") : null;
    let auth: PresentedAuth;
    try {
      auth = parseAuth(protocols, authorization);
    } catch (error) {
      throw await this.refuse(error instanceof ProtocolError ? error.message : "bad credential");
    }
    if (auth.kind !== kind) throw await this.refuse(`this route takes a ${kind} credential`);
    const forwarded = new Request(this.request);
    forwarded.headers.delete("x-loopsy-pair-id");
    if (auth.kind === "pair") {
      const tokenHash = await sha256Hex(auth.token);
      const index = this.env.PAIRS.get(this.env.PAIRS.idFromName(await this.pepper.name("pair", tokenHash)));
      const target = await index.lookup();
      if (target === null) {
        throw new ApiProblem(404, "not_found", "pair token unknown, used, expired or burned");
      }
      forwarded.headers.set("x-loopsy-pair-id", target.pairId);
      return this.toDevice(target.deviceId, forwarded);
    }
    if (!(await this.pepper.validDeviceId(auth.deviceId))) {
      throw await this.refuse(auth.kind === "device" ? "unknown device or wrong credential" : "unknown phone or wrong credential");
    }
    return this.toDevice(auth.deviceId, forwarded);
  }

  private async toDevice(deviceId: string, request: Request): Promise<Response> {
    const stub = this.env.DEVICES.get(this.env.DEVICES.idFromName(deviceId));
    const response = await stub.fetch(request);
    if (response.status === 401) {
      const problem = await this.refuse(await errorMessage(response));
      if (problem.status !== 401) return problem.response();
      return new ApiProblem(401, "unauthorized", problem.message).response();
    }
    return response;
  }
}

function tooManyFailures(wait: number): ApiProblem {
  return new ApiProblem(429, "rate_limited", "too many failed credentials", undefined, wait);
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? "unauthorized";
  } catch {
    return "unauthorized";
  }
}

// -- the phone client at /app ------------------------------------------------------------

const NOT_BUILT = `<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Loopsy relay</title></head><body style="font-family: sans-serif; margin: 2em">
<h1>Loopsy relay</h1>
<p>The relay is running, but the phone client was not built into this deployment.</p>
<p>Build it (<code>scripts/setup</code> builds <code>mobile_web/dist</code>), then run
<code>loopsy relay deploy</code> again.</p>
</body></html>`;

async function serveApp(request: Request, env: Env, url: URL): Promise<Response> {
  allow(request, ["GET"]);
  if (url.pathname === "/app") {
    // Relative URLs in the page resolve under /app/; the fragment (the pair link) survives.
    return new Response(null, { status: 307, headers: { location: "/app/" } });
  }
  if (env.ASSETS !== undefined) {
    const inner = new URL(url.pathname.slice("/app".length) || "/", url.origin);
    const response = await env.ASSETS.fetch(new Request(inner, request));
    const location = response.headers.get("location");
    if (location !== null && location.startsWith("/")) {
      // The assets live at the root of their own space; the page is at /app.
      const moved = new Response(response.body, response);
      moved.headers.set("location", `/app${location}`);
      return moved;
    }
    if (response.status !== 404) return response;
    if (inner.pathname !== "/" && inner.pathname !== "/index.html") {
      throw new ApiProblem(404, "not_found", "Not Found");
    }
  }
  return new Response(NOT_BUILT, {
    status: 503,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });
}
