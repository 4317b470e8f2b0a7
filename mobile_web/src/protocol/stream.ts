// The session stream (loopsy/protocol/stream.py; docs/PROTOCOL.md "Session stream"):
// binary frames on a session's attach WebSocket. Byte 0 is the type; integers are
// fixed-width big-endian. Output is numbered by byte offset since the session began.
import { ProtocolError, readU64, utf8, view, writeU64 } from "./bytes.js";

export const OUTPUT = 0x01;
export const SNAPSHOT = 0x02;
export const ATTACHED = 0x03;
export const RESIZED = 0x04;
export const EXIT = 0x05;
export const ERROR = 0x06;
export const ATTACH = 0x81;
export const INPUT = 0x82;
export const RESIZE = 0x83;
export const SIGNAL = 0x84;
export const ACK = 0x85;

const CLIENT_TYPES = new Set([ATTACH, INPUT, RESIZE, SIGNAL, ACK]);
export const STREAM_SUBPROTOCOL = "loopsy.stream.1";
export const MAX_INPUT = 64 * 1024;
export const MAX_COLS = 1000;
export const MAX_ROWS = 500;
export const SIGNAL_NAMES = new Set([
  "INT", "TERM", "HUP", "QUIT", "KILL", "TSTP", "STOP", "CONT", "WINCH", "USR1", "USR2",
]);

export const EXITED = 0;
export const SIGNALLED = 1;
export const LOST = 2;

export type ServerFrame =
  | { type: "output"; offset: number; data: Uint8Array }
  | { type: "snapshot"; offset: number; cols: number; rows: number; data: Uint8Array }
  | { type: "attached"; start: number; end: number; cols: number; rows: number; window: number; ackEvery: number }
  | { type: "resized"; cols: number; rows: number }
  | { type: "exit"; offset: number; kind: number; value: number }
  | { type: "error"; code: number; message: string };

function exactly(frame: Uint8Array, size: number, name: string): void {
  if (frame.length !== size) {
    throw new ProtocolError(`${name} frame is ${frame.length} bytes; it must be ${size}`);
  }
}

function atLeast(frame: Uint8Array, size: number, name: string): void {
  if (frame.length < size) {
    throw new ProtocolError(`${name} frame is ${frame.length} bytes; it needs at least ${size}`);
  }
}

function checkSize(cols: number, rows: number): void {
  if (!(cols >= 1 && cols <= MAX_COLS && rows >= 1 && rows <= MAX_ROWS)) {
    throw new ProtocolError(`terminal size ${cols}x${rows} is out of range`);
  }
}

/** Decode a frame the server sent; client-bound types only. */
export function decodeServer(frame: Uint8Array): ServerFrame {
  if (frame.length === 0) throw new ProtocolError("empty frame: a frame starts with its type byte");
  const v = view(frame);
  switch (frame[0]) {
    case OUTPUT:
      atLeast(frame, 9, "OUTPUT");
      return { type: "output", offset: readU64(frame, 1), data: frame.subarray(9) };
    case SNAPSHOT:
      atLeast(frame, 13, "SNAPSHOT");
      return {
        type: "snapshot",
        offset: readU64(frame, 1),
        cols: v.getUint16(9),
        rows: v.getUint16(11),
        data: frame.subarray(13),
      };
    case ATTACHED:
      exactly(frame, 29, "ATTACHED");
      return {
        type: "attached",
        start: readU64(frame, 1),
        end: readU64(frame, 9),
        cols: v.getUint16(17),
        rows: v.getUint16(19),
        window: v.getUint32(21),
        ackEvery: v.getUint32(25),
      };
    case RESIZED: {
      exactly(frame, 5, "RESIZED");
      const cols = v.getUint16(1);
      const rows = v.getUint16(3);
      checkSize(cols, rows);
      return { type: "resized", cols, rows };
    }
    case EXIT:
      exactly(frame, 14, "EXIT");
      return { type: "exit", offset: readU64(frame, 1), kind: v.getUint8(9), value: v.getInt32(10) };
    case ERROR:
      atLeast(frame, 3, "ERROR");
      return { type: "error", code: v.getUint16(1), message: new TextDecoder().decode(frame.subarray(3)) };
    default: {
      const type = `0x${frame[0]!.toString(16).padStart(2, "0")}`;
      if (CLIENT_TYPES.has(frame[0]!)) throw new ProtocolError(`frame type ${type} is not sent to clients`);
      throw new ProtocolError(`unknown frame type ${type}`);
    }
  }
}

export function encodeAttach(offset: number, cols = 0, rows = 0, fresh = false): Uint8Array {
  if (cols !== 0 || rows !== 0) checkSize(cols, rows);
  const out = new Uint8Array(14);
  out[0] = ATTACH;
  writeU64(out, 1, offset);
  view(out).setUint16(9, cols);
  view(out).setUint16(11, rows);
  out[13] = fresh ? 1 : 0;
  return out;
}

/** One or more INPUT frames: input longer than MAX_INPUT is split (never inside a char). */
export function encodeInput(data: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let at = 0;
  do {
    let end = Math.min(data.length, at + MAX_INPUT);
    // do not cut a UTF-8 sequence: back off continuation bytes
    while (end < data.length && end > at && (data[end]! & 0xc0) === 0x80) end -= 1;
    const frame = new Uint8Array(1 + end - at);
    frame[0] = INPUT;
    frame.set(data.subarray(at, end), 1);
    frames.push(frame);
    at = end;
  } while (at < data.length);
  return frames;
}

export function encodeResize(cols: number, rows: number): Uint8Array {
  checkSize(cols, rows);
  const out = new Uint8Array(5);
  out[0] = RESIZE;
  view(out).setUint16(1, cols);
  view(out).setUint16(3, rows);
  return out;
}

export function encodeSignal(name: string): Uint8Array {
  if (!SIGNAL_NAMES.has(name)) throw new ProtocolError(`signal ${name} is not allowed`);
  const body = utf8(name);
  const out = new Uint8Array(1 + body.length);
  out[0] = SIGNAL;
  out.set(body, 1);
  return out;
}

export function encodeAck(offset: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = ACK;
  writeU64(out, 1, offset);
  return out;
}

/**
 * The client's bookkeeping for one session (StreamTracker in attach.py): the next offset
 * it expects, what it has acknowledged, and which bytes of an OUTPUT frame are new.
 */
export class StreamTracker {
  offset: number | null = null; // next expected output offset
  acked = 0;
  ackEvery = 32 * 1024;
  exit: { offset: number; kind: number; value: number } | null = null;

  /** Start (or restart after a reconnect) holding everything before `offset`. */
  resumeFrom(offset: number | null): void {
    this.offset = offset;
    if (offset !== null) this.acked = offset;
  }

  attached(ackEvery: number): void {
    this.ackEvery = Math.max(1, ackEvery);
  }

  snapshot(offset: number): void {
    this.offset = offset;
    this.acked = offset;
  }

  /**
   * An OUTPUT frame: returns the part not held yet (a frame overlapping what we hold is
   * trimmed, so nothing is ever written twice); a gap is a protocol error.
   */
  output(offset: number, data: Uint8Array): Uint8Array {
    if (this.offset === null) {
      this.offset = offset + data.length;
      this.acked = offset;
      return data;
    }
    if (offset > this.offset) {
      throw new ProtocolError(`output at offset ${offset}, expected ${this.offset}: bytes were lost`);
    }
    const skip = this.offset - offset;
    if (skip >= data.length) return data.subarray(data.length);
    this.offset = offset + data.length;
    return data.subarray(skip);
  }

  /** Rendered up to `offset`: the offset to ACK now, or null while under ackEvery. */
  rendered(offset: number): number | null {
    if (offset - this.acked < this.ackEvery) return null;
    this.acked = offset;
    return offset;
  }

  /** ACK whatever is rendered and not yet acknowledged (when output idles). */
  flush(rendered: number): number | null {
    if (rendered <= this.acked) return null;
    this.acked = rendered;
    return rendered;
  }
}
