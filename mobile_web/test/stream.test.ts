// tests/vectors/stream.json through stream.ts: server frames decode to the vector's
// fields, client frames encode to the vector's bytes; hostile frames are refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hex, unhex } from "../src/protocol/bytes.js";
import * as s from "../src/protocol/stream.js";
import { vectors } from "./vectors.js";

interface Valid {
  name: string;
  type: string;
  hex: string;
  fields: Record<string, any>;
}
const file = vectors<{ valid: Valid[]; invalid: { name: string; hex: string; error: string }[] }>("stream.json");
const SERVER = new Set(["OUTPUT", "SNAPSHOT", "ATTACHED", "RESIZED", "EXIT", "ERROR"]);

function decoded(v: Valid): Record<string, unknown> {
  const f = s.decodeServer(unhex(v.hex)) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(f)) {
    if (key === "type") continue;
    if (key === "data") out.data_hex = hex(value as Uint8Array);
    else if (key === "ackEvery") out.ack_every = value;
    else out[key] = value;
  }
  return out;
}

function encoded(v: Valid): Uint8Array {
  const f = v.fields;
  switch (v.type) {
    case "ATTACH":
      return s.encodeAttach(f.offset, f.cols, f.rows, f.fresh);
    case "INPUT": {
      const frames = s.encodeInput(unhex(f.data_hex));
      assert.equal(frames.length, 1);
      return frames[0]!;
    }
    case "RESIZE":
      return s.encodeResize(f.cols, f.rows);
    case "SIGNAL":
      return s.encodeSignal(f.name);
    case "ACK":
      return s.encodeAck(f.offset);
  }
  throw new Error(`no encoder for ${v.type}`);
}

test("the vectors cover every frame type the phone reads or writes", () => {
  const types = new Set(file.valid.map((v) => v.type));
  for (const t of [...SERVER, "ATTACH", "INPUT", "RESIZE", "SIGNAL", "ACK"]) assert.ok(types.has(t), t);
});

for (const v of file.valid) {
  test(`valid ${v.name}`, () => {
    if (SERVER.has(v.type)) assert.deepEqual(decoded(v), v.fields);
    else assert.equal(hex(encoded(v)), v.hex);
  });
}

for (const v of file.invalid) {
  const type = v.hex.length >= 2 ? parseInt(v.hex.slice(0, 2), 16) : null;
  if (type !== null && type >= 0x80 && type <= 0xbf) {
    // a client frame: the phone never decodes one, and cannot encode a bad one
    if (v.name.startsWith("resize_")) {
      test(`invalid ${v.name}: the encoder refuses the size`, () => {
        const frame = unhex(v.hex);
        const view = new DataView(frame.buffer);
        assert.throws(() => s.encodeResize(view.getUint16(1), view.getUint16(3)), new RegExp(v.error));
      });
    } else if (v.name === "signal_unknown") {
      test(`invalid ${v.name}: the encoder refuses the name`, () => {
        assert.throws(() => s.encodeSignal(new TextDecoder().decode(unhex(v.hex).subarray(1))), new RegExp(v.error));
      });
    }
    continue;
  }
  test(`invalid ${v.name}`, () => {
    assert.throws(() => s.decodeServer(unhex(v.hex)), (err: Error) => err.message.includes(v.error));
  });
}

test("a client frame sent to the phone is refused", () => {
  assert.throws(() => s.decodeServer(unhex("850000000000010000")), /not sent to clients/);
});

test("long input is split under MAX_INPUT, never inside a UTF-8 sequence", () => {
  const text = new TextEncoder().encode("é".repeat(s.MAX_INPUT)); // 2 bytes each
  const frames = s.encodeInput(text);
  assert.ok(frames.length >= 2);
  let joined = "";
  for (const frame of frames) {
    assert.equal(frame[0], s.INPUT);
    assert.ok(frame.length - 1 <= s.MAX_INPUT);
    joined += new TextDecoder("utf-8", { fatal: true }).decode(frame.subarray(1));
  }
  assert.equal(joined, "é".repeat(s.MAX_INPUT));
});

test("tracker: resumed output is trimmed so nothing is written twice", () => {
  const t = new s.StreamTracker();
  t.resumeFrom(10);
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.equal(new TextDecoder().decode(t.output(5, bytes("0123456789"))), "56789");
  assert.equal(t.offset, 15);
  assert.equal(t.output(12, bytes("abc")).length, 0);
  assert.equal(t.offset, 15);
  assert.throws(() => t.output(20, bytes("x")), /bytes were lost/);
});

test("tracker: ACK every ackEvery rendered bytes, flush the rest when idle", () => {
  const t = new s.StreamTracker();
  t.attached(100);
  t.snapshot(1000);
  assert.equal(t.rendered(1050), null);
  assert.equal(t.rendered(1100), 1100);
  assert.equal(t.rendered(1150), null);
  assert.equal(t.flush(1150), 1150);
  assert.equal(t.flush(1150), null);
});
