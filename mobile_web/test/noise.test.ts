// The Noise specification's own vectors (cacophony format) through noise.ts, byte-exact.
import assert from "node:assert/strict";
import { test } from "node:test";
import { x25519 } from "@noble/curves/ed25519.js";
import { hex, unhex } from "../src/protocol/bytes.js";
import {
  CipherState,
  ChannelError,
  HandshakeState,
  IK,
  IKPSK1,
  KK,
  type Pattern,
} from "../src/protocol/noise.js";
import { vectors } from "./vectors.js";

const patterns: Record<string, Pattern> = {
  Noise_IK_25519_ChaChaPoly_SHA256: IK,
  Noise_IKpsk1_25519_ChaChaPoly_SHA256: IKPSK1,
  Noise_KK_25519_ChaChaPoly_SHA256: KK,
};

interface Cacophony {
  protocol_name: string;
  init_prologue: string;
  init_static: string;
  init_ephemeral: string;
  init_remote_static?: string;
  resp_prologue?: string;
  resp_static: string;
  resp_ephemeral: string;
  resp_remote_static?: string;
  psk: string | null;
  init_psks?: string[];
  resp_psks?: string[];
  handshake_hash: string;
  messages: { payload: string; ciphertext: string }[];
}

const file = vectors<{ vectors: Cacophony[] }>("noise_cacophony.json");

test("the cacophony file has vectors for both pairing patterns", () => {
  const names = new Set(file.vectors.map((v) => v.protocol_name));
  assert.ok(names.has("Noise_IK_25519_ChaChaPoly_SHA256"));
  assert.ok(names.has("Noise_IKpsk1_25519_ChaChaPoly_SHA256"));
});

for (const [i, v] of file.vectors.entries()) {
  test(`cacophony ${i}: ${v.protocol_name}`, () => {
    const pattern = patterns[v.protocol_name];
    assert.ok(pattern, `no pattern for ${v.protocol_name}`);
    const psk = v.psk ?? v.init_psks?.[0] ?? null;
    const respStatic = unhex(v.resp_static);
    const init = new HandshakeState(pattern, v.protocol_name, {
      initiator: true,
      prologue: unhex(v.init_prologue),
      staticKey: unhex(v.init_static),
      ephemeralKey: unhex(v.init_ephemeral),
      remoteStatic: v.init_remote_static ? unhex(v.init_remote_static) : x25519.getPublicKey(respStatic),
      ...(psk ? { psk: unhex(psk) } : {}),
    });
    const resp = new HandshakeState(pattern, v.protocol_name, {
      initiator: false,
      prologue: unhex(v.resp_prologue ?? v.init_prologue),
      staticKey: respStatic,
      ephemeralKey: unhex(v.resp_ephemeral),
      ...(pattern.initiatorPre.length
        ? { remoteStatic: x25519.getPublicKey(unhex(v.init_static)) }
        : {}),
      ...(psk ? { psk: unhex(psk) } : {}),
    });
    let sendI: CipherState | null = null;
    let sendR: CipherState | null = null;
    for (const [n, m] of v.messages.entries()) {
      const fromInit = n % 2 === 0;
      let ciphertext: Uint8Array;
      let payload: Uint8Array;
      if (n < pattern.messages.length) {
        const [w, r] = fromInit ? [init, resp] : [resp, init];
        ciphertext = w.writeMessage(unhex(m.payload));
        payload = r.readMessage(ciphertext);
        if (n === pattern.messages.length - 1) {
          assert.equal(hex(init.result!.handshakeHash), v.handshake_hash);
          assert.equal(hex(resp.result!.handshakeHash), v.handshake_hash);
          sendI = init.result!.send;
          sendR = resp.result!.send;
        }
      } else {
        const [w, r] = fromInit ? [sendI!, resp.result!.receive] : [sendR!, init.result!.receive];
        ciphertext = w.encryptWithAd(new Uint8Array(), unhex(m.payload));
        payload = r.decryptWithAd(new Uint8Array(), ciphertext);
      }
      assert.equal(hex(ciphertext), m.ciphertext, `message ${n}`);
      assert.equal(hex(payload), m.payload);
    }
  });
}

test("a flipped bit in a handshake message fails authentication", () => {
  const v = file.vectors.find((x) => x.protocol_name.includes("IKpsk1"))!;
  const resp = new HandshakeState(IKPSK1, v.protocol_name, {
    initiator: false,
    prologue: unhex(v.init_prologue),
    staticKey: unhex(v.resp_static),
    ephemeralKey: unhex(v.resp_ephemeral),
    psk: unhex(v.psk ?? v.init_psks![0]!),
  });
  const bad = unhex(v.messages[0]!.ciphertext);
  bad[bad.length - 1]! ^= 1;
  assert.throws(() => resp.readMessage(bad), ChannelError);
});

test("messages out of turn are refused", () => {
  const v = file.vectors[0]!;
  const init = new HandshakeState(IK, v.protocol_name, {
    initiator: true,
    prologue: unhex(v.init_prologue),
    staticKey: unhex(v.init_static),
    ephemeralKey: unhex(v.init_ephemeral),
    remoteStatic: x25519.getPublicKey(unhex(v.resp_static)),
  });
  assert.throws(() => init.readMessage(new Uint8Array(48)), /out of turn/);
});
