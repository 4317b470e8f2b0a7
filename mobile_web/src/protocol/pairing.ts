// Pairing inputs and payloads (loopsy/protocol/pairing.py): the pair link from the QR
// code, the typed code, the PSK, the prologues, PairRequest and PairGrant.
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ProtocolError, b64url, fromUtf8, unb64url, utf8 } from "./bytes.js";
import { ChannelError } from "./noise.js";

export const LINK_VERSION = "1";
export const CODE_DIGITS = 6;
export const MAX_PHONE_NAME = 64;
const ID_PATTERN = /^[0-9a-f]{12,32}$/;

export function checkId(value: unknown, what = "id"): string {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw new ProtocolError(`${what} must be 12 to 32 lowercase hex digits`);
  }
  return value;
}

export interface PairLink {
  relayUrl: string; // scheme://host[:port][/prefix], no trailing slash
  deviceId: string;
  token: Uint8Array;
  daemonPublic: Uint8Array;
}

/** Parse the fragment alone ("pair=1.<device>.<token>.<key>", with or without '#'). */
export function parseFragment(fragment: string): Omit<PairLink, "relayUrl"> {
  const text = fragment.replace(/^#/, "");
  if (!text.startsWith("pair=")) {
    throw new ProtocolError("the pair link has no '#pair=' fragment; copy the whole URL");
  }
  const fields = text.slice("pair=".length).split(".");
  if (fields.length !== 4 || fields[0] !== LINK_VERSION) {
    throw new ProtocolError(`unsupported pair link (expected version ${LINK_VERSION})`);
  }
  return {
    deviceId: checkId(fields[1], "device id"),
    token: unb64url(fields[2]!, 32, "pair token"),
    daemonPublic: unb64url(fields[3]!, 32, "daemon key"),
  };
}

export function parseLink(url: string): PairLink {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new ProtocolError("a pair link starts with https:// (or http:// for a local relay)");
  }
  if (!["http:", "https:"].includes(parsed.protocol) || !parsed.host) {
    throw new ProtocolError("a pair link starts with https:// (or http:// for a local relay)");
  }
  const fields = parseFragment(parsed.hash);
  const path = parsed.pathname.replace(/\/$/, "").replace(/\/app$/, "");
  return { relayUrl: `${parsed.protocol}//${parsed.host}${path}`, ...fields };
}

export function linkFragment(link: Omit<PairLink, "relayUrl">): string {
  return `pair=${LINK_VERSION}.${link.deviceId}.${b64url(link.token)}.${b64url(link.daemonPublic)}`;
}

/** Accept "123 456" or "123-456" as typed; refuse anything that is not 6 digits. */
export function normalizeCode(text: string): string {
  const digits = text.replace(/[\s-]/g, "");
  if (!/^[0-9]{6}$/.test(digits)) throw new ProtocolError(`the pairing code is ${CODE_DIGITS} digits`);
  return digits;
}

export function codePsk(token: Uint8Array, code: string): Uint8Array {
  return hmac(sha256, token, utf8(`loopsy pair code v1|${code}`));
}

export function pairingPrologue(deviceId: string): Uint8Array {
  return utf8(`loopsy/1 pair\u0000${deviceId}`);
}

export function sessionPrologue(deviceId: string, phoneId: string): Uint8Array {
  return utf8(`loopsy/1 session\u0000${deviceId}\u0000${phoneId}`);
}

export function tokenHash(token: Uint8Array): Uint8Array {
  return sha256(token);
}

export function pairRequest(name: string): Uint8Array {
  const clean = [...name].filter((c) => c.charCodeAt(0) >= 32 && c.charCodeAt(0) !== 127).join("");
  const trimmed = [...clean.trim()].slice(0, MAX_PHONE_NAME).join("") || "phone";
  return utf8(JSON.stringify({ v: 1, name: trimmed }));
}

export interface PairGrant {
  deviceId: string;
  phoneId: string;
  credential: Uint8Array;
  nodeName: string;
}

export function decodePairGrant(data: Uint8Array): PairGrant {
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(data, "pair grant"));
  } catch {
    throw new ChannelError("pair grant is not UTF-8 JSON");
  }
  if (typeof value !== "object" || value === null || (value as { v?: unknown }).v !== 1) {
    throw new ChannelError('pair grant must be a JSON object with "v": 1');
  }
  const v = value as Record<string, unknown>;
  try {
    return {
      deviceId: checkId(v.device_id, "device id"),
      phoneId: checkId(v.phone_id, "phone id"),
      credential: unb64url(String(v.credential ?? ""), 32, "credential"),
      nodeName: String(v.node_name ?? "").slice(0, 64),
    };
  } catch (err) {
    throw new ChannelError(`pair grant: ${(err as Error).message}`);
  }
}
