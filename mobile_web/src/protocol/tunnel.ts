// The tunnel inside the channel (loopsy/protocol/tunnel.py): HTTP-like exchanges and
// WebSocket-like streams multiplexed over one channel, with per-stream and per-connection
// windows in each direction.
import { concat, fromUtf8, utf8, view } from "./bytes.js";
import { ChannelError } from "./noise.js";

export const HEADER_LEN = 9;
export const STREAM_WINDOW = 256 * 1024;
export const CONNECTION_WINDOW = 1024 * 1024;
export const MAX_STREAMS = 64;
export const MAX_HEAD = 64 * 1024;

export const Kind = {
  HTTP_REQUEST: 0x01,
  HTTP_RESPONSE: 0x02,
  DATA: 0x03,
  END: 0x04,
  WS_OPEN: 0x05,
  WS_ACCEPT: 0x06,
  WS_MESSAGE: 0x07,
  WS_CLOSE: 0x08,
  WINDOW: 0x09,
  RESET: 0x0a,
  PING: 0x0b,
  PONG: 0x0c,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
const KINDS = new Set<number>(Object.values(Kind));

export interface Frame {
  kind: Kind;
  stream: number;
  payload: Uint8Array;
}

export function encodeFrame(frame: Frame): Uint8Array {
  const out = new Uint8Array(HEADER_LEN + frame.payload.length);
  const v = view(out);
  v.setUint8(0, frame.kind);
  v.setUint32(1, frame.stream);
  v.setUint32(5, frame.payload.length);
  out.set(frame.payload, HEADER_LEN);
  return out;
}

export function encodeFrames(frames: Frame[]): Uint8Array {
  return concat(...frames.map(encodeFrame));
}

export function decodeFrames(plaintext: Uint8Array): Frame[] {
  if (plaintext.length === 0) throw new ChannelError("empty tunnel message");
  const frames: Frame[] = [];
  const v = view(plaintext);
  let at = 0;
  while (at < plaintext.length) {
    if (plaintext.length - at < HEADER_LEN) throw new ChannelError("truncated tunnel frame header");
    const kind = v.getUint8(at);
    const stream = v.getUint32(at + 1);
    const length = v.getUint32(at + 5);
    at += HEADER_LEN;
    if (length > plaintext.length - at) throw new ChannelError("tunnel frame longer than its message");
    if (!KINDS.has(kind)) {
      throw new ChannelError(`unknown tunnel frame kind 0x${kind.toString(16).padStart(2, "0")}`);
    }
    frames.push({ kind: kind as Kind, stream, payload: plaintext.subarray(at, at + length) });
    at += length;
  }
  return frames;
}

// -- heads ------------------------------------------------------------------------------

export type Headers = [string, string][];

export function encodeHead(value: object): Uint8Array {
  return utf8(JSON.stringify(value));
}

export function decodeHead(payload: Uint8Array, what: string): Record<string, unknown> {
  if (payload.length > MAX_HEAD) throw new ChannelError(`${what} head over ${MAX_HEAD} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(payload, what));
  } catch {
    throw new ChannelError(`${what} head is not UTF-8 JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ChannelError(`${what} head is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function headersOf(value: unknown, what: string): Headers {
  if (value === undefined || value === null) return [];
  if (
    !Array.isArray(value) ||
    !value.every((h) => Array.isArray(h) && h.length === 2 && h.every((x) => typeof x === "string"))
  ) {
    throw new ChannelError(`${what}: headers must be a list of [name, value] strings`);
  }
  return value as Headers;
}

export function requestFrame(stream: number, method: string, path: string, headers: Headers): Frame {
  return { kind: Kind.HTTP_REQUEST, stream, payload: encodeHead({ method, path, headers }) };
}

export interface ResponseHead {
  status: number;
  headers: Headers;
}

export function decodeResponse(payload: Uint8Array): ResponseHead {
  const value = decodeHead(payload, "response");
  const status = value.status;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new ChannelError("response: status must be 100..599");
  }
  return { status, headers: headersOf(value.headers, "response") };
}

export function openFrame(stream: number, path: string, headers: Headers, subprotocols: string[]): Frame {
  return { kind: Kind.WS_OPEN, stream, payload: encodeHead({ path, headers, subprotocols }) };
}

export function decodeAccept(payload: Uint8Array): string | null {
  const value = decodeHead(payload, "websocket accept").subprotocol;
  if (value !== null && value !== undefined && typeof value !== "string") {
    throw new ChannelError("websocket accept: subprotocol must be a string or null");
  }
  return (value as string | null | undefined) ?? null;
}

export const TEXT = 0x01;
export const MORE = 0x80; // more fragments of this message follow
export const PIECE = 64 * 1024; // a fragment's data: small enough to share a window
export const MAX_MESSAGE = 16 << 20; // a reassembled message from the daemon

/** A WebSocket message as WS_MESSAGE fragments of at most `piece` data bytes each: every
 * fragment but the last has the MORE bit, all carry the message's text bit. */
export function messageFrames(stream: number, message: Uint8Array | string, piece = PIECE): Frame[] {
  const text = typeof message === "string";
  const data = text ? utf8(message) : message;
  const frames: Frame[] = [];
  let at = 0;
  do {
    const end = Math.min(data.length, at + piece);
    const payload = new Uint8Array(1 + end - at);
    payload[0] = (text ? TEXT : 0) | (end < data.length ? MORE : 0);
    payload.set(data.subarray(at, end), 1);
    frames.push({ kind: Kind.WS_MESSAGE, stream, payload });
    at = end;
  } while (at < data.length);
  return frames;
}

/** Joins one stream's WS_MESSAGE fragments back into messages. */
export class MessageAssembler {
  private parts: Uint8Array[] = [];
  private size = 0;
  private text: boolean | null = null;

  constructor(private readonly limit = MAX_MESSAGE) {}

  /** A fragment's payload: the whole message once its last fragment came, else null. */
  feed(payload: Uint8Array): Uint8Array | string | null {
    const flags = payload[0];
    if (flags === undefined || (flags & ~(TEXT | MORE)) !== 0) {
      throw new ChannelError("websocket message: flag byte must be 0x00/0x01, +0x80 for MORE");
    }
    const text = (flags & TEXT) !== 0;
    if (this.text !== null && text !== this.text) {
      throw new ChannelError("websocket message: fragments disagree on text or binary");
    }
    this.text = text;
    this.size += payload.length - 1;
    if (this.size > this.limit) throw new ChannelError(`websocket message over ${this.limit} bytes`);
    this.parts.push(payload.slice(1));
    if (flags & MORE) return null;
    const data = this.parts.length === 1 ? this.parts[0]! : concat(...this.parts);
    this.parts = [];
    this.size = 0;
    this.text = null;
    return text ? fromUtf8(data, "websocket text message") : data;
  }
}

/** A message that came in one fragment (see MessageAssembler for the general case). */
export function decodeMessage(payload: Uint8Array): Uint8Array | string {
  const message = new MessageAssembler().feed(payload);
  if (message === null) throw new ChannelError("websocket message: a fragment, not a whole message");
  return message;
}

export function closeFrame(kind: Kind, stream: number, code: number, reason = ""): Frame {
  const text = utf8(reason).subarray(0, 123);
  const payload = new Uint8Array(2 + text.length);
  view(payload).setUint16(0, code);
  payload.set(text, 2);
  return { kind, stream, payload };
}

export function decodeClose(payload: Uint8Array): [number, string] {
  if (payload.length < 2) throw new ChannelError("close frame without a code");
  return [view(payload).getUint16(0), new TextDecoder().decode(payload.subarray(2))];
}

export function windowFrame(stream: number, increment: number): Frame {
  const payload = new Uint8Array(4);
  view(payload).setUint32(0, increment);
  return { kind: Kind.WINDOW, stream, payload };
}

export function decodeWindow(payload: Uint8Array): number {
  if (payload.length !== 4) throw new ChannelError("window frame must carry 4 bytes");
  const increment = view(payload).getUint32(0);
  if (increment === 0) throw new ChannelError("window increment of 0");
  return increment;
}

// -- flow control -----------------------------------------------------------------------

/** Both directions' windows for one connection (mirrors FlowControl in tunnel.py). */
export class FlowControl {
  sendConnection: number;
  receiveConnection: number;
  private connectionConsumed = 0;
  private readonly send = new Map<number, number>();
  private readonly receive = new Map<number, number>();
  private readonly consumedBytes = new Map<number, number>();

  constructor(
    readonly streamWindow = STREAM_WINDOW,
    private readonly connectionWindow = CONNECTION_WINDOW,
  ) {
    this.sendConnection = connectionWindow;
    this.receiveConnection = connectionWindow;
  }

  open(stream: number): void {
    if (this.send.has(stream)) throw new ChannelError(`stream ${stream} is already open`);
    if (this.send.size >= MAX_STREAMS) throw new ChannelError(`more than ${MAX_STREAMS} streams at once`);
    this.send.set(stream, this.streamWindow);
    this.receive.set(stream, this.streamWindow);
    this.consumedBytes.set(stream, 0);
  }

  close(stream: number): void {
    this.send.delete(stream);
    this.receive.delete(stream);
    this.consumedBytes.delete(stream);
  }

  isOpen(stream: number): boolean {
    return this.send.has(stream);
  }

  get openStreams(): number {
    return this.send.size;
  }

  sendable(stream: number): number {
    return Math.max(0, Math.min(this.sendConnection, this.send.get(stream) ?? 0));
  }

  sent(stream: number, size: number): void {
    if (size > this.sendable(stream)) throw new ChannelError("sending beyond the peer's window");
    this.sendConnection -= size;
    this.send.set(stream, this.send.get(stream)! - size);
  }

  granted(stream: number, increment: number): void {
    if (stream === 0) this.sendConnection += increment;
    else if (this.send.has(stream)) this.send.set(stream, this.send.get(stream)! + increment);
    if (this.sendConnection > 2 ** 31 || (this.send.get(stream) ?? 0) > 2 ** 31) {
      throw new ChannelError("window grown beyond 2 GiB");
    }
  }

  /** A counted frame arrived. False when the stream is closed here (drop, still consume). */
  received(stream: number, size: number): boolean {
    if (size > this.receiveConnection) {
      throw new ChannelError("the peer overran the connection's flow-control window");
    }
    const window = this.receive.get(stream);
    if (window !== undefined && size > window) {
      throw new ChannelError(`the peer overran stream ${stream}'s flow-control window`);
    }
    this.receiveConnection -= size;
    if (window === undefined) return false;
    this.receive.set(stream, window - size);
    return true;
  }

  /** The application took `size` bytes: the WINDOW frames to send now (batched). */
  consumed(stream: number, size: number): Frame[] {
    const frames: Frame[] = [];
    const used = this.consumedBytes.get(stream);
    if (used !== undefined) {
      const total = used + size;
      if (total >= this.streamWindow / 2) {
        this.consumedBytes.set(stream, 0);
        this.receive.set(stream, this.receive.get(stream)! + total);
        frames.push(windowFrame(stream, total));
      } else {
        this.consumedBytes.set(stream, total);
      }
    }
    this.connectionConsumed += size;
    if (this.connectionConsumed >= this.connectionWindow / 2) {
      const grant = this.connectionConsumed;
      this.connectionConsumed = 0;
      this.receiveConnection += grant;
      frames.push(windowFrame(0, grant));
    }
    return frames;
  }
}
