// The relay's wire format as a phone sees it (loopsy/protocol/relay.py): credentials as
// Sec-WebSocket-Protocol entries, text control messages and close codes.
import { b64url } from "./bytes.js";

export const SUBPROTOCOL = "loopsy.relay.1";

export const Close = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  TOO_BIG: 1009,
  PROTOCOL: 4400,
  UNAUTHORIZED: 4401,
  REVOKED: 4403,
  GONE: 4404,
  REPLACED: 4409,
  FLOOD: 4429,
  UNAVAILABLE: 4503,
} as const;

export function pairProtocols(token: Uint8Array): string[] {
  return [SUBPROTOCOL, `loopsy.pair.${b64url(token)}`];
}

export function phoneProtocols(deviceId: string, phoneId: string, secret: Uint8Array): string[] {
  return [SUBPROTOCOL, `loopsy.phone.${deviceId}.${phoneId}.${b64url(secret)}`];
}

export interface DeviceStatus {
  type: "device";
  online: boolean;
}

/** The relay's text messages to a phone; anything else is ignored by the caller. */
export function parseControl(text: string): DeviceStatus | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (v.type === "device" && typeof v.online === "boolean") return { type: "device", online: v.online };
  return null;
}

/** Relay base URL (http[s]://host/prefix) to the WebSocket URL of a route. */
export function socketUrl(relayUrl: string, route: string): string {
  return relayUrl.replace(/^http/, "ws") + route;
}
