// The relay connection against a scripted relay and daemon: the KK handshake on "online",
// the channel void on "offline", a fresh handshake on every reconnect, and refusals.
import assert from "node:assert/strict";
import { test } from "node:test";
import { x25519 } from "@noble/curves/ed25519.js";
import { SecureChannel } from "../src/protocol/channel.js";
import { HandshakeState, KK, SESSION_PROTOCOL } from "../src/protocol/noise.js";
import { sessionPrologue } from "../src/protocol/pairing.js";
import * as t from "../src/protocol/tunnel.js";
import { Connection, type LinkState } from "../src/net/connection.js";
import { closeError } from "../src/net/pair.js";
import type { Identity } from "../src/store.js";

class FakeSocket {
  readyState = 0;
  sent: (Uint8Array | string)[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string, readonly protocols: string[]) {}
  send(data: Uint8Array | string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  text(value: object): void {
    this.onmessage?.({ data: JSON.stringify(value) });
  }
  binary(data: Uint8Array): void {
    this.onmessage?.({ data: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) });
  }
  closeFromRelay(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const daemonKey = new Uint8Array(32).fill(7);
const phoneKey = new Uint8Array(32).fill(9);
const identity: Identity = {
  relayUrl: "http://127.0.0.1:9",
  deviceId: "0123456789abcdef",
  phoneId: "a1b2c3d4e5f6",
  credential: new Uint8Array(32).fill(1),
  staticKey: phoneKey,
  staticPublic: x25519.getPublicKey(phoneKey),
  daemonPublic: x25519.getPublicKey(daemonKey),
  nodeName: "laptop",
  pairedAt: 0,
};

function harness() {
  const sockets: FakeSocket[] = [];
  const states: LinkState["kind"][] = [];
  const connection = new Connection(identity, {
    socket: (url, protocols) => {
      const s = new FakeSocket(url, protocols);
      sockets.push(s);
      return s as unknown as WebSocket;
    },
  });
  connection.onState((s) => states.push(s.kind));
  return { connection, sockets, states };
}

/** The daemon's side of one KK handshake: reads message 1, answers message 2. */
function daemonAnswer(message1: Uint8Array, ephemeral: number): { reply: Uint8Array; channel: SecureChannel } {
  const daemon = new HandshakeState(KK, SESSION_PROTOCOL, {
    initiator: false,
    prologue: sessionPrologue(identity.deviceId, identity.phoneId),
    staticKey: daemonKey,
    ephemeralKey: new Uint8Array(32).fill(ephemeral),
    remoteStatic: identity.staticPublic,
  });
  daemon.readMessage(message1);
  const reply = daemon.writeMessage(new Uint8Array());
  return { reply, channel: new SecureChannel(daemon) };
}

test("online → KK handshake → tunnel; offline voids it; online again is a new handshake", async () => {
  const { connection, sockets, states } = harness();
  connection.start();
  const ws = sockets[0]!;
  assert.equal(ws.url, "ws://127.0.0.1:9/v1/phone/connect");
  assert.deepEqual(ws.protocols.slice(0, 1), ["loopsy.relay.1"]);
  ws.open();
  ws.text({ type: "device", online: true });
  const first = ws.sent.at(-1) as Uint8Array;
  const { reply, channel } = daemonAnswer(first, 3);
  ws.binary(reply);
  assert.equal(connection.state.kind, "online");

  // the phone's request reaches the daemon sealed, and its answer comes back
  const mux = (connection.state as { mux: import("../src/net/mux.js").TunnelMux }).mux;
  const answer = mux.call<{ ok: boolean }>("GET", "/api/v1/status");
  await new Promise((r) => setTimeout(r, 0));
  const frames = t.decodeFrames(channel.open(ws.sent.at(-1) as Uint8Array));
  assert.equal(frames[0]!.kind, t.Kind.HTTP_REQUEST);
  const stream = frames[0]!.stream;
  ws.binary(
    channel.seal(
      t.encodeFrames([
        { kind: t.Kind.HTTP_RESPONSE, stream, payload: t.encodeHead({ status: 200, headers: [] }) },
        { kind: t.Kind.DATA, stream, payload: new TextEncoder().encode('{"ok":true}') },
        { kind: t.Kind.END, stream, payload: new Uint8Array() },
      ]),
    ),
  );
  assert.deepEqual(await answer, { ok: true });

  ws.text({ type: "device", online: false });
  assert.equal(connection.state.kind, "laptop-offline");
  await assert.rejects(mux.call("GET", "/api/v1/status"), /offline/);

  ws.text({ type: "device", online: true });
  const again = ws.sent.at(-1) as Uint8Array;
  assert.notDeepEqual(again, first, "fresh ephemeral keys on every handshake");
  ws.binary(daemonAnswer(again, 4).reply);
  assert.equal((connection.state as LinkState).kind, "online"); // (TS narrowed it above)
  // the first "connecting" is onState's call with the state at subscription
  assert.deepEqual(states, ["connecting", "connecting", "online", "laptop-offline", "online"]);
  connection.stop();
});

test("a frame that does not verify voids the connection; a revoke stops retrying", () => {
  const { connection, sockets } = harness();
  connection.start();
  const ws = sockets[0]!;
  ws.open();
  ws.text({ type: "device", online: true });
  ws.binary(daemonAnswer(ws.sent.at(-1) as Uint8Array, 5).reply);
  ws.binary(new Uint8Array(40)); // counter 0, garbage: fails its tag
  assert.equal(connection.lastClose?.code, 4400);
  assert.equal(connection.state.kind, "relay-down"); // will reconnect with backoff
  connection.stop();

  const second = harness();
  second.connection.start();
  const ws2 = second.sockets[0]!;
  ws2.open();
  ws2.closeFromRelay(4403, "revoked");
  assert.equal(second.connection.state.kind, "refused");
  assert.match((second.connection.state as { message: string }).message, /revoked/);
  second.connection.stop();
});

test("pairing close codes become clear messages", () => {
  const wrong = closeError(4403, "wrong code (3 left)");
  assert.equal(wrong.message, "wrong code (3 left)");
  assert.equal(wrong.retry, true);
  assert.equal(closeError(4403, "wrong code; pairing burned").retry, false);
  assert.match(closeError(4404, "this pairing is over").message, /loopsy mobile pair/);
  assert.equal(closeError(4503, "relay stopping").retry, true);
  assert.match(closeError(1011, "").message, /1011/);
});
