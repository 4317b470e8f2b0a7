// The phone's tunnel multiplexer against a scripted daemon side: requests, WebSockets,
// flow-control windows both ways, and failure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { utf8 } from "../src/protocol/bytes.js";
import * as t from "../src/protocol/tunnel.js";
import { ApiError, TunnelMux } from "../src/net/mux.js";

function harness() {
  const sent: t.Frame[] = [];
  const mux = new TunnelMux((plaintext) => sent.push(...t.decodeFrames(plaintext)));
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const deliver = (...frames: t.Frame[]) => mux.receive(t.encodeFrames(frames));
  return { mux, sent, tick, deliver };
}

test("an HTTP exchange: head, body, END; JSON errors become ApiError", async () => {
  const { mux, sent, tick, deliver } = harness();
  const answer = mux.call<{ ok: boolean }>("POST", "/api/v1/sessions", { agent: "shell" });
  await tick();
  assert.deepEqual(sent.map((f) => f.kind), [t.Kind.HTTP_REQUEST, t.Kind.DATA, t.Kind.END]);
  const head = JSON.parse(new TextDecoder().decode(sent[0]!.payload));
  assert.equal(head.path, "/api/v1/sessions");
  assert.equal(head.method, "POST");
  const stream = sent[0]!.stream;
  deliver(
    { kind: t.Kind.HTTP_RESPONSE, stream, payload: t.encodeHead({ status: 201, headers: [] }) },
    { kind: t.Kind.DATA, stream, payload: utf8('{"ok":true}') },
    { kind: t.Kind.END, stream, payload: new Uint8Array() },
  );
  assert.deepEqual(await answer, { ok: true });

  const failing = mux.call("GET", "/api/v1/sessions/nope");
  await tick();
  const s2 = sent.at(-2)!.stream;
  assert.ok(s2 > stream, "stream ids increase");
  deliver(
    { kind: t.Kind.HTTP_RESPONSE, stream: s2, payload: t.encodeHead({ status: 404, headers: [] }) },
    { kind: t.Kind.DATA, stream: s2, payload: utf8('{"error":{"code":"not_found","message":"no such session","hint":"loopsy session list"}}') },
    { kind: t.Kind.END, stream: s2, payload: new Uint8Array() },
  );
  await assert.rejects(failing, (err: ApiError) => err.status === 404 && err.message === "no such session" && err.hint === "loopsy session list");
  assert.equal(mux.openStreams, 0);
});

test("a WebSocket: accept, messages, window grants only as the page consumes", async () => {
  const { mux, sent, tick, deliver } = harness();
  const socket = mux.openSocket("/api/v1/sessions/s1/attach");
  const got: number[] = [];
  let opened = false;
  socket.onopen = () => (opened = true);
  socket.onmessage = (data, size) => got.push(size);
  await tick();
  assert.equal(sent[0]!.kind, t.Kind.WS_OPEN);
  const stream = sent[0]!.stream;
  deliver({ kind: t.Kind.WS_ACCEPT, stream, payload: t.encodeHead({ subprotocol: null }) });
  assert.ok(opened);
  const chunk = new Uint8Array(64 * 1024 - 1); // + the 1-byte binary marker = 64 KiB counted
  for (let i = 0; i < 4; i++) deliver(...t.messageFrames(stream, chunk));
  assert.equal(got.length, 4);
  // the daemon has now used the whole stream window: one more byte is an overrun
  assert.throws(() => deliver(...t.messageFrames(stream, new Uint8Array(1))), /overran/);
  sent.length = 0;
  socket.consumed(got[0]! + got[1]!);
  await tick();
  const grants = sent.filter((f) => f.kind === t.Kind.WINDOW && f.stream === stream);
  assert.equal(grants.length, 1);
  assert.equal(t.decodeWindow(grants[0]!.payload), got[0]! + got[1]!);
});

test("sending waits for the daemon's window and resumes on WINDOW", async () => {
  const { mux, sent, tick, deliver } = harness();
  const socket = mux.openSocket("/x");
  await tick();
  const stream = sent[0]!.stream;
  deliver({ kind: t.Kind.WS_ACCEPT, stream, payload: t.encodeHead({ subprotocol: null }) });
  sent.length = 0;
  const big = new Uint8Array(100 * 1024);
  const sentBytes = () =>
    sent.filter((f) => f.kind === t.Kind.WS_MESSAGE).reduce((n, f) => n + f.payload.length, 0);
  socket.send(big);
  socket.send(big);
  socket.send(big); // 300 KiB (+ flag bytes) > the 256 KiB window: the rest waits
  await tick();
  assert.ok(sentBytes() <= t.STREAM_WINDOW);
  assert.ok(sentBytes() >= 200 * 1024);
  deliver(t.windowFrame(stream, 200 * 1024));
  await tick();
  assert.equal(sentBytes(), 3 * (100 * 1024 + 2)); // two fragments each, one flag byte apiece
});

test("PING is answered with PONG; a daemon-opened stream is refused", async () => {
  const { mux, sent, tick, deliver } = harness();
  deliver({ kind: t.Kind.PING, stream: 0, payload: utf8("12345678") });
  await tick();
  assert.equal(sent[0]!.kind, t.Kind.PONG);
  assert.equal(new TextDecoder().decode(sent[0]!.payload), "12345678");
  assert.throws(() => deliver(t.requestFrame(2, "GET", "/", [])), /may not open/);
});

test("a failed channel rejects requests and closes sockets with 1006", async () => {
  const { mux } = harness();
  const pending = mux.request("GET", "/api/v1/status");
  const socket = mux.openSocket("/y");
  let closed = 0;
  socket.onclose = (code) => (closed = code);
  mux.fail(new Error("relay gone"));
  await assert.rejects(pending, /relay gone/);
  assert.equal(closed, 1006);
  assert.throws(() => mux.openSocket("/z"), /relay gone/);
});

test("a message in fragments is joined; earlier fragments' credit returns at once", async () => {
  const { mux, sent, tick, deliver } = harness();
  const socket = mux.openSocket("/z");
  const got: [number, number][] = [];
  socket.onmessage = (data, size) => got.push([(data as Uint8Array).length, size]);
  await tick();
  const stream = sent[0]!.stream;
  deliver({ kind: t.Kind.WS_ACCEPT, stream, payload: t.encodeHead({ subprotocol: null }) });
  sent.length = 0;
  // a 400 KiB message is larger than the 256 KiB window: it flows only because the
  // earlier fragments are credited as they arrive
  const message = new Uint8Array(400 * 1024).fill(7);
  for (const fragment of t.messageFrames(stream, message)) deliver(fragment), await tick();
  assert.equal(got.length, 1);
  assert.equal(got[0]![0], message.length);
  assert.equal(got[0]![1], 1 + (message.length % t.PIECE || t.PIECE));
  assert.ok(sent.some((f) => f.kind === t.Kind.WINDOW && f.stream === stream));
});

test("outgoing messages over 64 KiB go out as fragments", async () => {
  const { mux, sent, tick, deliver } = harness();
  const socket = mux.openSocket("/w");
  await tick();
  const stream = sent[0]!.stream;
  deliver({ kind: t.Kind.WS_ACCEPT, stream, payload: t.encodeHead({ subprotocol: null }) });
  sent.length = 0;
  socket.send(new Uint8Array(65537));
  await tick();
  const flags = sent.filter((f) => f.kind === t.Kind.WS_MESSAGE).map((f) => f.payload[0]);
  assert.deepEqual(flags, [t.MORE, 0]);
});
