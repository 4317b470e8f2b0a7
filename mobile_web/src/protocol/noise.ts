// The Noise Protocol Framework (revision 34) for the patterns Loopsy uses, mirroring
// loopsy/protocol/noise.py: IKpsk1 pairs a phone (the code is the PSK), KK reconnects it.
// The caller passes ephemeral keys in, so golden vectors can pin every byte.
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { x25519 } from "@noble/curves/ed25519.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ProtocolError, concat, utf8 } from "./bytes.js";

export const DHLEN = 32;
export const HASHLEN = 32;
export const TAGLEN = 16;
const MAX_MESSAGE = 65535;
// Nonces stay below 2^53 here (a connection would need 2^53 frames to get there).
const MAX_NONCE = Number.MAX_SAFE_INTEGER;

export const PAIRING_PROTOCOL = "Noise_IKpsk1_25519_ChaChaPoly_SHA256";
export const SESSION_PROTOCOL = "Noise_KK_25519_ChaChaPoly_SHA256";

type Token = "e" | "s" | "ee" | "es" | "se" | "ss" | "psk";

export interface Pattern {
  initiatorPre: readonly "s"[];
  responderPre: readonly "s"[];
  messages: readonly (readonly Token[])[];
}

export const IK: Pattern = {
  initiatorPre: [],
  responderPre: ["s"],
  messages: [
    ["e", "es", "s", "ss"],
    ["e", "ee", "se"],
  ],
};
export const IKPSK1: Pattern = {
  initiatorPre: [],
  responderPre: ["s"],
  messages: [
    ["e", "es", "s", "ss", "psk"],
    ["e", "ee", "se"],
  ],
};
export const KK: Pattern = {
  initiatorPre: ["s"],
  responderPre: ["s"],
  messages: [
    ["e", "es", "ss"],
    ["e", "ee", "se"],
  ],
};

export class ChannelError extends ProtocolError {
  override name = "ChannelError";
}

export function publicKey(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== DHLEN) throw new ChannelError("an X25519 private key is 32 bytes");
  return x25519.getPublicKey(privateKey);
}

export function dh(privateKey: Uint8Array, remote: Uint8Array): Uint8Array {
  if (remote.length !== DHLEN) throw new ChannelError("an X25519 public key is 32 bytes");
  try {
    return x25519.getSharedSecret(privateKey, remote);
  } catch {
    // low-order points give an all-zero secret: a forged key
    throw new ChannelError("the peer's public key is not a valid X25519 key");
  }
}

export function hkdf(chainingKey: Uint8Array, ikm: Uint8Array, outputs: 2 | 3): Uint8Array[] {
  const temp = hmac(sha256, chainingKey, ikm);
  const out1 = hmac(sha256, temp, Uint8Array.of(1));
  const out2 = hmac(sha256, temp, concat(out1, Uint8Array.of(2)));
  if (outputs === 2) return [out1, out2];
  return [out1, out2, hmac(sha256, temp, concat(out2, Uint8Array.of(3)))];
}

/** ChaChaPoly's 96-bit nonce: 32 zero bits, then the counter as u64 little-endian. */
export function nonceBytes(n: number): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  v.setUint32(4, n >>> 0, true);
  v.setUint32(8, Math.floor(n / 2 ** 32), true);
  return out;
}

export class CipherState {
  n = 0;
  constructor(private readonly key: Uint8Array | null = null) {}

  get hasKey(): boolean {
    return this.key !== null;
  }

  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.key === null) return plaintext;
    if (this.n >= MAX_NONCE) throw new ChannelError("nonce exhausted: reconnect for fresh keys");
    const out = chacha20poly1305(this.key, nonceBytes(this.n), ad).encrypt(plaintext);
    this.n += 1;
    return out;
  }

  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.key === null) return ciphertext;
    if (this.n >= MAX_NONCE) throw new ChannelError("nonce exhausted: reconnect for fresh keys");
    let out: Uint8Array;
    try {
      out = chacha20poly1305(this.key, nonceBytes(this.n), ad).decrypt(ciphertext);
    } catch {
      throw new ChannelError("message authentication failed");
    }
    this.n += 1;
    return out;
  }
}

class SymmetricState {
  h: Uint8Array;
  ck: Uint8Array;
  cipher = new CipherState();

  constructor(protocolName: string) {
    const name = utf8(protocolName);
    if (name.length <= HASHLEN) {
      this.h = new Uint8Array(HASHLEN);
      this.h.set(name);
    } else {
      this.h = sha256(name);
    }
    this.ck = this.h;
  }

  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = hkdf(this.ck, ikm, 2);
    this.ck = ck!;
    this.cipher = new CipherState(tempK!);
  }

  mixHash(data: Uint8Array): void {
    this.h = sha256(concat(this.h, data));
  }

  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, tempH, tempK] = hkdf(this.ck, ikm, 3);
    this.ck = ck!;
    this.mixHash(tempH!);
    this.cipher = new CipherState(tempK!);
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.cipher.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf(this.ck, new Uint8Array(0), 2);
    return [new CipherState(k1!), new CipherState(k2!)];
  }
}

export interface HandshakeResult {
  send: CipherState;
  receive: CipherState;
  handshakeHash: Uint8Array;
  remoteStatic: Uint8Array;
}

export interface HandshakeOptions {
  initiator: boolean;
  prologue: Uint8Array;
  staticKey: Uint8Array; // our static private key
  ephemeralKey: Uint8Array; // our ephemeral private key
  remoteStatic?: Uint8Array;
  psk?: Uint8Array;
}

export class HandshakeState {
  private readonly symmetric: SymmetricState;
  private readonly initiator: boolean;
  private readonly s: Uint8Array;
  private readonly e: Uint8Array;
  private rs: Uint8Array | null;
  private re: Uint8Array | null = null;
  private readonly psk: Uint8Array | null;
  private index = 0;
  result: HandshakeResult | null = null;

  constructor(
    private readonly pattern: Pattern,
    protocolName: string,
    options: HandshakeOptions,
  ) {
    const needsPsk = pattern.messages.some((m) => m.includes("psk"));
    if (needsPsk && options.psk?.length !== 32) {
      throw new ChannelError("this pattern needs a 32-byte PSK");
    }
    this.initiator = options.initiator;
    this.symmetric = new SymmetricState(protocolName);
    this.symmetric.mixHash(options.prologue);
    this.s = options.staticKey;
    this.e = options.ephemeralKey;
    this.rs = options.remoteStatic ?? null;
    this.psk = options.psk ?? null;
    for (const _ of pattern.initiatorPre) {
      this.symmetric.mixHash(this.initiator ? publicKey(this.s) : this.needRs());
    }
    for (const _ of pattern.responderPre) {
      this.symmetric.mixHash(this.initiator ? this.needRs() : publicKey(this.s));
    }
  }

  private needRs(): Uint8Array {
    if (this.rs === null) throw new ChannelError("this pattern needs the peer's static key");
    return this.rs;
  }

  get myTurnToWrite(): boolean {
    return (this.index % 2 === 0) === this.initiator;
  }

  get finished(): boolean {
    return this.result !== null;
  }

  get remoteStatic(): Uint8Array | null {
    return this.rs;
  }

  writeMessage(payload: Uint8Array): Uint8Array {
    if (this.finished || !this.myTurnToWrite) throw new ChannelError("handshake message out of turn");
    const sym = this.symmetric;
    const out: Uint8Array[] = [];
    for (const token of this.pattern.messages[this.index]!) {
      if (token === "e") {
        const pub = publicKey(this.e);
        out.push(pub);
        sym.mixHash(pub);
        if (this.psk !== null) sym.mixKey(pub);
      } else if (token === "s") {
        out.push(sym.encryptAndHash(publicKey(this.s)));
      } else if (token === "psk") {
        sym.mixKeyAndHash(this.psk!);
      } else {
        sym.mixKey(this.dhToken(token));
      }
    }
    out.push(sym.encryptAndHash(payload));
    this.advance();
    return concat(...out);
  }

  readMessage(message: Uint8Array): Uint8Array {
    if (this.finished || this.myTurnToWrite) throw new ChannelError("handshake message out of turn");
    if (message.length > MAX_MESSAGE) throw new ChannelError("handshake message too long");
    const sym = this.symmetric;
    let at = 0;
    for (const token of this.pattern.messages[this.index]!) {
      if (token === "e") {
        if (message.length - at < DHLEN) throw new ChannelError("handshake message truncated");
        this.re = message.slice(at, at + DHLEN);
        at += DHLEN;
        sym.mixHash(this.re);
        if (this.psk !== null) sym.mixKey(this.re);
      } else if (token === "s") {
        const size = DHLEN + (sym.cipher.hasKey ? TAGLEN : 0);
        if (message.length - at < size) throw new ChannelError("handshake message truncated");
        this.rs = sym.decryptAndHash(message.slice(at, at + size));
        at += size;
      } else if (token === "psk") {
        sym.mixKeyAndHash(this.psk!);
      } else {
        sym.mixKey(this.dhToken(token));
      }
    }
    if (sym.cipher.hasKey && message.length - at < TAGLEN) {
      throw new ChannelError("handshake message truncated");
    }
    const payload = sym.decryptAndHash(message.slice(at));
    this.advance();
    return payload;
  }

  private dhToken(token: Token): Uint8Array {
    // token "xy": x is the initiator's key, y the responder's
    const [mine, theirs] = this.initiator ? [token[0], token[1]] : [token[1], token[0]];
    const key = mine === "e" ? this.e : this.s;
    const remote = theirs === "e" ? this.re : this.rs;
    if (remote === null) throw new ChannelError(`handshake step ${token} before the peer's key`);
    return dh(key, remote);
  }

  private advance(): void {
    this.index += 1;
    if (this.index === this.pattern.messages.length) {
      const [c1, c2] = this.symmetric.split();
      const [send, receive] = this.initiator ? [c1, c2] : [c2, c1];
      this.result = {
        send,
        receive,
        handshakeHash: this.symmetric.h,
        remoteStatic: this.needRs(),
      };
    }
  }
}
