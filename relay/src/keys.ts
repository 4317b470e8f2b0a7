// What PAIR_TOKEN_SECRET does. It is the relay's pepper: a key that lives only in the
// Worker's secret store, never in Durable Object storage.
//
// - Stored hashes are keyed: a secret's record is HMAC(pepper, kind | sha256(secret)), not
//   sha256(secret) alone, so a copy of the Durable Objects' databases cannot even confirm
//   a guessed secret without the pepper.
// - Pair tokens are found by a keyed name: the PairIndex object for a token is named by
//   HMAC(pepper, "pair" | sha256(token)), so storage does not list token hashes either.
// - Device ids are signed: 4 random bytes then the first 4 bytes of HMAC(pepper, those
//   bytes). The Worker turns away a forged or mistyped device id without waking (or
//   creating) any Durable Object.
// - Rate-limit buckets are named by HMAC(pepper, client address), so no address is stored.
//
// Rotating the pepper therefore signs out every device and phone: their ids and hashes no
// longer verify, so each daemon registers again and each phone pairs again.

export const MIN_PEPPER_LENGTH = 32;

const encoder = new TextEncoder();

export class Pepper {
  private constructor(private readonly key: CryptoKey) {}

  static async from(secret: string): Promise<Pepper> {
    const key = await crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    return new Pepper(key);
  }

  async mac(message: string | Uint8Array): Promise<Uint8Array> {
    const data = typeof message === "string" ? encoder.encode(message) : message;
    return new Uint8Array(await crypto.subtle.sign("HMAC", this.key, data));
  }

  /** The stored form of a secret whose SHA-256 (lowercase hex) is ``sha256Hex``. */
  async record(kind: "device" | "phone" | "pair", sha256Hex: string): Promise<string> {
    return hex(await this.mac(`loopsy relay v1|${kind}|${sha256Hex}`));
  }

  async name(kind: "pair" | "addr", value: string): Promise<string> {
    return hex(await this.mac(`loopsy relay v1|name|${kind}|${value}`));
  }

  async newDeviceId(): Promise<string> {
    const nonce = crypto.getRandomValues(new Uint8Array(4));
    return hex(nonce) + (await this.deviceTag(hex(nonce)));
  }

  async validDeviceId(deviceId: string): Promise<boolean> {
    if (!/^[0-9a-f]{16}$/.test(deviceId)) return false;
    const expected = await this.deviceTag(deviceId.slice(0, 8));
    return equalBytes(encoder.encode(expected), encoder.encode(deviceId.slice(8)));
  }

  private async deviceTag(nonceHex: string): Promise<string> {
    return hex((await this.mac(`loopsy relay v1|device id|${nonceHex}`)).subarray(0, 4));
  }
}

export function hex(data: Uint8Array): string {
  let out = "";
  for (const byte of data) out += byte.toString(16).padStart(2, "0");
  return out;
}

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/** Constant-time equality (the lengths are not secret: both sides are fixed-size hashes). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const subtle = crypto.subtle as SubtleCrypto & {
    timingSafeEqual?: (x: ArrayBufferView, y: ArrayBufferView) => boolean;
  };
  if (typeof subtle.timingSafeEqual === "function") return subtle.timingSafeEqual(a, b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export function equalText(a: string, b: string): boolean {
  return equalBytes(encoder.encode(a), encoder.encode(b));
}

export function randomSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}
