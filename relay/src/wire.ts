// The relay's wire format (docs/PROTOCOL.md, "Relay HTTP API" and "Relay WebSockets"),
// mirrored from loopsy/protocol/relay.py: credentials in Sec-WebSocket-Protocol, the
// daemon link's 5-byte routing header, control messages and close codes. Pure functions.

export const PROTOCOL_VERSION = 1;
export const SUBPROTOCOL = "loopsy.relay.1";
export const DEVICE_PREFIX = "loopsy.device.";
export const PAIR_PREFIX = "loopsy.pair.";
export const PHONE_PREFIX = "loopsy.phone.";
export const LINK_HEADER = 5;
// One WebSocket message through the relay: a whole channel frame (256 KiB + 24) plus slack.
export const MAX_MESSAGE = 256 * 1024 + 64;
export const MAX_CONN_ID = 0xffffffff;
export const SECRET_LEN = 32;
// The relay buffers at most this much per phone connection in each direction.
export const QUEUE_LIMIT = 4 * 1024 * 1024;

export const Close = {
  NORMAL: 1000,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  PROTOCOL: 4400,
  UNAUTHORIZED: 4401,
  REVOKED: 4403,
  GONE: 4404,
  REPLACED: 4409,
  FLOOD: 4429,
  UNAVAILABLE: 4503,
} as const;

export const LinkType = { OPEN: 0x01, DATA: 0x02, CLOSE: 0x03 } as const;

export class ProtocolError extends Error {}

const ID_PATTERN = /^[0-9a-f]{12,32}$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

export function checkId(value: unknown, what = "id"): string {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw new ProtocolError(`${what} must be 12 to 32 lowercase hex digits`);
  }
  return value;
}

export function b64url(data: Uint8Array): string {
  let text = "";
  for (const byte of data) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Unpadded base64url to bytes; like Python's decoder, unused trailing bits are ignored. */
export function unb64url(text: string, length: number | null, what: string): Uint8Array {
  if (!B64URL.test(text) || text.length % 4 === 1) {
    throw new ProtocolError(`${what} is not unpadded base64url`);
  }
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const raw = atob(padded);
  const data = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
  if (length !== null && data.length !== length) {
    throw new ProtocolError(`${what} must be ${length} bytes, not ${data.length}`);
  }
  return data;
}

export interface Credential {
  id: string;
  secret: Uint8Array;
}

export function parseCredential(text: string, what: string): Credential {
  const dot = text.indexOf(".");
  if (dot < 0) throw new ProtocolError(`${what} must be '<id>.<secret>'`);
  return {
    id: checkId(text.slice(0, dot), `${what} id`),
    secret: unb64url(text.slice(dot + 1), SECRET_LEN, what),
  };
}

export type PresentedAuth =
  | { kind: "device"; deviceId: string; credential: Credential }
  | { kind: "pair"; token: Uint8Array }
  | { kind: "phone"; deviceId: string; credential: Credential };

/** Every entry of every Sec-WebSocket-Protocol header, trimmed. */
export function offeredProtocols(header: string | null): string[] {
  if (header === null) return [];
  return header
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** The one credential a request presents (a device may use Authorization instead). */
export function parseAuth(protocols: string[], authorization: string | null): PresentedAuth {
  const found = protocols.filter(
    (p) => p.startsWith(DEVICE_PREFIX) || p.startsWith(PAIR_PREFIX) || p.startsWith(PHONE_PREFIX),
  );
  if (authorization !== null) {
    const space = authorization.indexOf(" ");
    const scheme = space < 0 ? authorization : authorization.slice(0, space);
    const value = space < 0 ? "" : authorization.slice(space + 1).trim();
    if (scheme.toLowerCase() !== "bearer" || !value) {
      throw new ProtocolError("Authorization must be 'Bearer <device_id>.<secret>'");
    }
    found.push(DEVICE_PREFIX + value);
  }
  if (found.length !== 1) throw new ProtocolError("present exactly one credential");
  const entry = found[0] as string;
  if (entry.startsWith(DEVICE_PREFIX)) {
    const credential = parseCredential(entry.slice(DEVICE_PREFIX.length), "device credential");
    return { kind: "device", deviceId: credential.id, credential };
  }
  if (entry.startsWith(PAIR_PREFIX)) {
    return { kind: "pair", token: unb64url(entry.slice(PAIR_PREFIX.length), SECRET_LEN, "pair token") };
  }
  const rest = entry.slice(PHONE_PREFIX.length);
  const dot = rest.indexOf(".");
  if (dot < 0) throw new ProtocolError("phone credential must be '<device_id>.<phone_id>.<secret>'");
  const credential = parseCredential(rest.slice(dot + 1), "phone credential");
  return { kind: "phone", deviceId: checkId(rest.slice(0, dot), "device id"), credential };
}

// -- link frames: type u8, conn u32 BE, body ------------------------------------------------

export interface LinkFrame {
  type: number;
  conn: number;
  body: Uint8Array;
}

export function encodeLink(type: number, conn: number, body: Uint8Array = new Uint8Array()): Uint8Array {
  const out = new Uint8Array(LINK_HEADER + body.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, type);
  view.setUint32(1, conn >>> 0, false);
  out.set(body, LINK_HEADER);
  return out;
}

export function decodeLink(data: Uint8Array): LinkFrame {
  if (data.length < LINK_HEADER) throw new ProtocolError("link frame shorter than its 5-byte header");
  if (data.length > MAX_MESSAGE + LINK_HEADER) throw new ProtocolError("link frame too large");
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = view.getUint8(0);
  if (type !== LinkType.OPEN && type !== LinkType.DATA && type !== LinkType.CLOSE) {
    throw new ProtocolError(`unknown link frame type 0x${type.toString(16).padStart(2, "0")}`);
  }
  return { type, conn: view.getUint32(1, false), body: data.subarray(LINK_HEADER) };
}

const encoder = new TextEncoder();

export function openFrame(conn: number, kind: "phone" | "pair", ident: string): Uint8Array {
  const body = kind === "phone" ? { kind, phone_id: ident } : { kind, pair_id: ident };
  return encodeLink(LinkType.OPEN, conn, encoder.encode(JSON.stringify(body)));
}

/** A close reason fits in a close frame (123 bytes) without splitting a UTF-8 sequence. */
export function clipReason(reason: string, limit = 123): string {
  let bytes = encoder.encode(reason);
  if (bytes.length <= limit) return reason;
  bytes = bytes.subarray(0, limit);
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: false }).decode(bytes).replace(/\uFFFD+$/, "");
}

export function closeFrame(conn: number, code: number, reason = ""): Uint8Array {
  const text = encoder.encode(clipReason(reason));
  const body = new Uint8Array(2 + text.length);
  new DataView(body.buffer).setUint16(0, code, false);
  body.set(text, 2);
  return encodeLink(LinkType.CLOSE, conn, body);
}

export function decodeClose(body: Uint8Array): { code: number; reason: string } {
  if (body.length < 2) throw new ProtocolError("CLOSE body must start with a 2-byte code");
  const code = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint16(0, false);
  return { code, reason: new TextDecoder("utf-8", { fatal: false, ignoreBOM: false }).decode(body.subarray(2)) };
}

/** The code a phone is closed with when the daemon closes its connection. */
export function phoneCloseCode(code: number): number {
  return code >= 4000 && code <= 4999 ? code : Close.INTERNAL;
}

export function control(message: Record<string, unknown>): string {
  return JSON.stringify(message);
}
