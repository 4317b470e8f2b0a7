// tests/vectors/e2e.json (the daemon's own golden vectors) through the phone's TypeScript:
// pairing, reconnect, transport frames, tunnel frames and relay credentials, byte-exact.
import assert from "node:assert/strict";
import { test } from "node:test";
import { x25519 } from "@noble/curves/ed25519.js";
import { b64url, hex, unb64url, unhex } from "../src/protocol/bytes.js";
import { SecureChannel, pairingHandshake, sessionHandshake } from "../src/protocol/channel.js";
import { HandshakeState, IKPSK1, KK, PAIRING_PROTOCOL, SESSION_PROTOCOL } from "../src/protocol/noise.js";
import {
  codePsk,
  decodePairGrant,
  normalizeCode,
  pairRequest,
  pairingPrologue,
  parseLink,
  sessionPrologue,
  tokenHash,
} from "../src/protocol/pairing.js";
import { pairProtocols, phoneProtocols } from "../src/protocol/relay.js";
import { MessageAssembler, decodeFrames, encodeFrame } from "../src/protocol/tunnel.js";
import { vectors } from "./vectors.js";

const e2e = vectors("e2e.json");
const P = e2e.pairing;
const S = e2e.session;

function daemonPairing(code: string) {
  return new HandshakeState(IKPSK1, PAIRING_PROTOCOL, {
    initiator: false,
    prologue: pairingPrologue(P.device_id),
    staticKey: unhex(P.daemon_static_private),
    ephemeralKey: unhex(P.daemon_ephemeral_private),
    psk: codePsk(unhex(P.token), code),
  });
}

function phonePairing(code: string) {
  return pairingHandshake({
    prologue: pairingPrologue(P.device_id),
    staticKey: unhex(P.phone_static_private),
    ephemeralKey: unhex(P.phone_ephemeral_private),
    daemonStatic: unhex(P.daemon_static_public),
    psk: codePsk(unhex(P.token), code),
  });
}

test("the pair link parses to the vector's fields", () => {
  const link = parseLink(P.url);
  assert.equal(link.relayUrl, "https://relay.example");
  assert.equal(link.deviceId, P.device_id);
  assert.equal(hex(link.token), P.token);
  assert.equal(hex(link.daemonPublic), P.daemon_static_public);
  assert.equal(hex(tokenHash(link.token)), P.token_hash);
  assert.equal(hex(x25519.getPublicKey(unhex(P.phone_static_private))), P.phone_static_public);
});

test("psk and prologue", () => {
  assert.equal(hex(codePsk(unhex(P.token), P.code)), P.psk);
  assert.equal(hex(pairingPrologue(P.device_id)), P.prologue);
  assert.equal(hex(sessionPrologue(S.device_id, S.phone_id)), S.prologue);
});

test("the phone's PairRequest is the vector's payload", () => {
  assert.equal(hex(pairRequest("Pixel 8")), P.message1_payload);
});

test("pairing handshake, both messages, byte-exact", () => {
  const phone = phonePairing(P.code);
  const m1 = phone.writeMessage(unhex(P.message1_payload));
  assert.equal(hex(m1), P.message1);
  assert.equal(hex(phonePairing("000000").writeMessage(unhex(P.message1_payload))), P.message1_with_code_000000);
  const daemon = daemonPairing(P.code);
  assert.equal(hex(daemon.readMessage(m1)), P.message1_payload);
  const m2 = daemon.writeMessage(unhex(P.message2_payload));
  assert.equal(hex(m2), P.message2);
  const grant = decodePairGrant(phone.readMessage(unhex(P.message2)));
  assert.equal(grant.deviceId, P.device_id);
  assert.equal(hex(phone.result!.handshakeHash), P.handshake_hash);
  const phoneChannel = new SecureChannel(phone);
  const daemonChannel = new SecureChannel(daemon);
  for (const t of P.transport) {
    const [from, to] = t.direction === "phone_to_daemon" ? [phoneChannel, daemonChannel] : [daemonChannel, phoneChannel];
    const frame = from.seal(unhex(t.plaintext));
    assert.equal(hex(frame), t.frame);
    assert.equal(hex(to.open(frame)), t.plaintext);
  }
});

test("a wrong code fails at the daemon on message 1", () => {
  const daemon = daemonPairing(P.code);
  assert.throws(() => daemon.readMessage(unhex(P.message1_with_code_000000)), /authentication/);
});

test("session (KK) handshake and transport, byte-exact", () => {
  const phone = sessionHandshake({
    prologue: sessionPrologue(S.device_id, S.phone_id),
    staticKey: unhex(S.phone_static_private),
    ephemeralKey: unhex(S.phone_ephemeral_private),
    daemonStatic: x25519.getPublicKey(unhex(S.daemon_static_private)),
  });
  const daemon = new HandshakeState(KK, SESSION_PROTOCOL, {
    initiator: false,
    prologue: sessionPrologue(S.device_id, S.phone_id),
    staticKey: unhex(S.daemon_static_private),
    ephemeralKey: unhex(S.daemon_ephemeral_private),
    remoteStatic: x25519.getPublicKey(unhex(S.phone_static_private)),
  });
  const m1 = phone.writeMessage(new Uint8Array());
  assert.equal(hex(m1), S.message1);
  daemon.readMessage(m1);
  const m2 = daemon.writeMessage(new Uint8Array());
  assert.equal(hex(m2), S.message2);
  phone.readMessage(m2);
  assert.equal(hex(phone.result!.handshakeHash), S.handshake_hash);
  const phoneChannel = new SecureChannel(phone);
  const daemonChannel = new SecureChannel(daemon);
  for (const t of S.transport) {
    const [from, to] = t.direction === "phone_to_daemon" ? [phoneChannel, daemonChannel] : [daemonChannel, phoneChannel];
    const frame = from.seal(unhex(t.plaintext));
    assert.equal(hex(frame), t.frame);
    assert.equal(hex(to.open(frame)), t.plaintext);
  }
});

test("replayed, reordered and tampered transport frames are refused", () => {
  const phone = sessionHandshake({
    prologue: sessionPrologue(S.device_id, S.phone_id),
    staticKey: unhex(S.phone_static_private),
    ephemeralKey: unhex(S.phone_ephemeral_private),
    daemonStatic: x25519.getPublicKey(unhex(S.daemon_static_private)),
  });
  phone.writeMessage(new Uint8Array());
  phone.readMessage(unhex(S.message2));
  const channel = new SecureChannel(phone);
  const fromDaemon = S.transport.filter((t: any) => t.direction === "daemon_to_phone");
  assert.ok(fromDaemon.length >= 1);
  const first = unhex(fromDaemon[0].frame);
  const tampered = first.slice();
  tampered[tampered.length - 1]! ^= 0x80;
  assert.throws(() => channel.open(tampered), /authentication/);
  channel.open(first);
  assert.throws(() => channel.open(first), /replayed/);
  const skipped = first.slice();
  skipped[7] = 5;
  assert.throws(() => channel.open(skipped), /out of order/);
  assert.throws(() => channel.open(new Uint8Array(10)), /too short/);
});

test("tunnel frames encode and decode byte-exact", () => {
  for (const f of e2e.tunnel_frames) {
    const frame = { kind: f.kind, stream: f.stream, payload: unhex(f.payload) };
    assert.equal(hex(encodeFrame(frame)), f.bytes, f.name);
    const [decoded] = decodeFrames(unhex(f.bytes));
    assert.equal(decoded!.kind, f.kind);
    assert.equal(decoded!.stream, f.stream);
    assert.equal(hex(decoded!.payload), f.payload);
  }
  const all = e2e.tunnel_frames.map((f: any) => f.bytes).join("");
  assert.equal(decodeFrames(unhex(all)).length, e2e.tunnel_frames.length);
});

test("websocket fragments from the vectors join into one message", () => {
  const fragments = e2e.tunnel_frames.filter((f: any) => f.name.startsWith("websocket fragment"));
  assert.equal(fragments.length, 2);
  const assembler = new MessageAssembler();
  const [first, last] = fragments.map((f: any) => decodeFrames(unhex(f.bytes))[0]!);
  assert.equal(assembler.feed(first!.payload), null);
  const message = assembler.feed(last!.payload);
  const expected = hex(first!.payload.subarray(1)) + hex(last!.payload.subarray(1));
  assert.equal(typeof message === "string" ? hex(new TextEncoder().encode(message)) : hex(message!), expected);
  assert.throws(() => new MessageAssembler().feed(Uint8Array.of(0x40)), /flag byte/);
});

test("relay credentials as WebSocket subprotocols", () => {
  const R = e2e.relay;
  assert.deepEqual(pairProtocols(unhex(P.token)), R.pair_protocols);
  const entry: string = R.phone_protocols[1];
  const [, , device, phone, secret] = entry.split(".");
  assert.deepEqual(phoneProtocols(device!, phone!, unb64url(secret!, 32)), R.phone_protocols);
  assert.equal(b64url(unb64url(secret!)), secret);
});

test("pair links: hostile input gets a clear error", () => {
  const good = P.url as string;
  const cases: [string, RegExp][] = [
    ["", /https/],
    ["ftp://x/app#pair=1.a.b.c", /https/],
    ["https://relay.example/app", /fragment/],
    [good.replace("#pair=1.", "#pair=2."), /version/],
    [good.replace("0123456789abcdef", "0123456789ABCDEF"), /device id/],
    [good.slice(0, -3), /daemon key/],
    [good + ".x", /version/],
    [good.replace(/\.([A-Za-z0-9_-]{43})\./, ".!!!."), /token/],
  ];
  for (const [url, error] of cases) assert.throws(() => parseLink(url), error, url);
});

test("codes: spaces and dashes are removed; anything else is refused", () => {
  assert.equal(normalizeCode(" 123 456 "), "123456");
  assert.equal(normalizeCode("123-456"), "123456");
  for (const bad of ["12345", "1234567", "12a456", "١٢٣٤٥٦", ""]) {
    assert.throws(() => normalizeCode(bad), /6 digits/, bad);
  }
});

test("the pair grant: hostile payloads are refused", () => {
  assert.throws(() => decodePairGrant(new TextEncoder().encode("{")), /JSON/);
  assert.throws(() => decodePairGrant(new TextEncoder().encode('{"v":2}')), /"v": 1/);
  assert.throws(
    () => decodePairGrant(new TextEncoder().encode('{"v":1,"device_id":"x","phone_id":"a1b2c3d4e5f6","credential":"","node_name":""}')),
    /device id/,
  );
});
