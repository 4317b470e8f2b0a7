// The phone's side of the tunnel: opens streams (HTTP exchanges and WebSockets) over one
// secure channel, keeps both directions' windows, and batches outgoing frames per tick.
import { fromUtf8, utf8 } from "../protocol/bytes.js";
import { MAX_PLAINTEXT } from "../protocol/channel.js";
import { ChannelError } from "../protocol/noise.js";
import * as t from "../protocol/tunnel.js";

export interface HttpResponse {
  status: number;
  headers: t.Headers;
  body: Uint8Array;
  json<T = unknown>(): T;
}

export class ApiError extends Error {
  override name = "ApiError";
  constructor(readonly status: number, message: string, readonly hint?: string) {
    super(message);
  }
}

const MAX_OPEN = 32; // docs/PROTOCOL.md: phones keep to 32 of the daemon's 64

type Pending = {
  resolve(r: HttpResponse): void;
  reject(e: Error): void;
  head: t.ResponseHead | null;
  chunks: Uint8Array[];
};

/** A WebSocket carried by the tunnel. The owner calls consumed() once it has used a message. */
export class TunnelSocket {
  onopen: (() => void) | null = null;
  onmessage: ((data: Uint8Array | string, size: number) => void) | null = null;
  onclose: ((code: number, reason: string) => void) | null = null;
  open = false;
  closed = false;
  readonly assembler = new t.MessageAssembler();

  constructor(private readonly mux: TunnelMux, readonly stream: number) {}

  send(message: Uint8Array | string): void {
    if (this.closed) return;
    this.mux.sendMessage(this.stream, message);
  }

  /** Grant the daemon window for `size` payload bytes this side has finished with. */
  consumed(size: number): void {
    this.mux.consume(this.stream, size);
  }

  close(code = 1000, reason = ""): void {
    if (this.closed) return;
    this.mux.closeSocket(this, code, reason);
  }
}

export class TunnelMux {
  private readonly flow = new t.FlowControl();
  private nextStream = 1;
  private readonly requests = new Map<number, Pending>();
  private readonly sockets = new Map<number, TunnelSocket>();
  private readonly backlog = new Map<number, t.Frame[]>(); // counted frames waiting for window
  private outgoing: t.Frame[] = [];
  private scheduled = false;
  private dead: Error | null = null;

  constructor(private readonly sendPlaintext: (plaintext: Uint8Array) => void) {}

  get openStreams(): number {
    return this.flow.openStreams;
  }

  // -- opening --------------------------------------------------------------------------

  private allocate(): number {
    if (this.dead) throw this.dead;
    // the daemon counts a stream open until its handler returns, which can trail ours
    if (this.flow.openStreams >= MAX_OPEN) throw new ChannelError(`more than ${MAX_OPEN} streams at once`);
    const stream = this.nextStream;
    this.nextStream += 2; // odd ids, increasing: easy to tell apart in logs
    this.flow.open(stream);
    return stream;
  }

  request(method: string, path: string, body?: unknown): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      let stream: number;
      try {
        stream = this.allocate();
      } catch (err) {
        reject(err as Error);
        return;
      }
      const headers: t.Headers = [["accept", "application/json"]];
      const data = body === undefined ? null : utf8(JSON.stringify(body));
      if (data) headers.push(["content-type", "application/json"]);
      this.requests.set(stream, { resolve, reject, head: null, chunks: [] });
      this.queue(t.requestFrame(stream, method, path, headers));
      if (data && data.length) this.queueCounted({ kind: t.Kind.DATA, stream, payload: data });
      this.queue({ kind: t.Kind.END, stream, payload: new Uint8Array() });
    });
  }

  /** GET/POST/... returning parsed JSON; throws ApiError with the daemon's message. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body);
    if (response.status >= 400) {
      let message = `HTTP ${response.status}`;
      let hint: string | undefined;
      try {
        const error = response.json<{ error?: { message?: string; hint?: string } }>().error;
        message = error?.message ?? message;
        hint = error?.hint;
      } catch {
        /* not JSON: keep the status */
      }
      throw new ApiError(response.status, message, hint);
    }
    return (response.body.length ? response.json<T>() : (undefined as T));
  }

  openSocket(path: string, subprotocols: string[] = []): TunnelSocket {
    const stream = this.allocate();
    const socket = new TunnelSocket(this, stream);
    this.sockets.set(stream, socket);
    this.queue(t.openFrame(stream, path, [], subprotocols));
    return socket;
  }

  // -- sending --------------------------------------------------------------------------

  sendMessage(stream: number, message: Uint8Array | string): void {
    for (const fragment of t.messageFrames(stream, message)) this.queueCounted(fragment);
  }

  closeSocket(socket: TunnelSocket, code: number, reason: string): void {
    socket.closed = true;
    this.queue(t.closeFrame(t.Kind.WS_CLOSE, socket.stream, code, reason));
    this.finish(socket.stream);
  }

  consume(stream: number, size: number): void {
    for (const grant of this.flow.consumed(stream, size)) this.queue(grant);
  }

  ping(data: Uint8Array): void {
    this.queue({ kind: t.Kind.PING, stream: 0, payload: data.subarray(0, 64) });
  }

  private queueCounted(frame: t.Frame): void {
    const waiting = this.backlog.get(frame.stream);
    if (waiting) {
      waiting.push(frame);
      return;
    }
    if (this.flow.sendable(frame.stream) >= frame.payload.length) {
      this.flow.sent(frame.stream, frame.payload.length);
      this.queue(frame);
    } else {
      this.backlog.set(frame.stream, [frame]);
    }
  }

  private drainBacklog(): void {
    for (const [stream, frames] of this.backlog) {
      while (frames.length && this.flow.sendable(stream) >= frames[0]!.payload.length) {
        const frame = frames.shift()!;
        this.flow.sent(stream, frame.payload.length);
        this.queue(frame);
      }
      if (!frames.length) this.backlog.delete(stream);
    }
  }

  private queue(frame: t.Frame): void {
    if (this.dead) return;
    this.outgoing.push(frame);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const frames = this.outgoing;
    this.outgoing = [];
    let batch: Uint8Array[] = [];
    let size = 0;
    const emit = () => {
      if (!batch.length) return;
      const out = new Uint8Array(size);
      let at = 0;
      for (const part of batch) {
        out.set(part, at);
        at += part.length;
      }
      batch = [];
      size = 0;
      this.sendPlaintext(out);
    };
    for (const frame of frames) {
      const bytes = t.encodeFrame(frame);
      if (size + bytes.length > MAX_PLAINTEXT) emit();
      batch.push(bytes);
      size += bytes.length;
    }
    emit();
  }

  // -- receiving ------------------------------------------------------------------------

  /** One channel message's plaintext; throws ChannelError on a protocol violation. */
  receive(plaintext: Uint8Array): void {
    for (const frame of t.decodeFrames(plaintext)) this.dispatch(frame);
  }

  private dispatch(frame: t.Frame): void {
    const { kind, stream, payload } = frame;
    if (kind === t.Kind.WINDOW) {
      this.flow.granted(stream, t.decodeWindow(payload));
      this.drainBacklog();
      return;
    }
    if (kind === t.Kind.PING) {
      this.queue({ kind: t.Kind.PONG, stream: 0, payload: payload.slice(0, 64) });
      return;
    }
    if (kind === t.Kind.PONG) return;
    if (kind === t.Kind.DATA || kind === t.Kind.WS_MESSAGE) {
      if (!this.flow.received(stream, payload.length)) {
        this.consume(stream, payload.length); // late data for a closed stream
        return;
      }
    }
    const pending = this.requests.get(stream);
    if (pending) return this.dispatchHttp(pending, frame);
    const socket = this.sockets.get(stream);
    if (socket) return this.dispatchSocket(socket, frame);
    if (kind === t.Kind.HTTP_REQUEST || kind === t.Kind.WS_OPEN) {
      throw new ChannelError("the daemon may not open streams");
    }
  }

  private dispatchHttp(pending: Pending, frame: t.Frame): void {
    switch (frame.kind) {
      case t.Kind.HTTP_RESPONSE:
        pending.head = t.decodeResponse(frame.payload);
        return;
      case t.Kind.DATA:
        pending.chunks.push(frame.payload.slice());
        this.consume(frame.stream, frame.payload.length);
        return;
      case t.Kind.END: {
        this.finish(frame.stream);
        if (!pending.head) return pending.reject(new ChannelError("response body before its head"));
        const size = pending.chunks.reduce((n, c) => n + c.length, 0);
        const body = new Uint8Array(size);
        let at = 0;
        for (const c of pending.chunks) {
          body.set(c, at);
          at += c.length;
        }
        const head = pending.head;
        return pending.resolve({
          status: head.status,
          headers: head.headers,
          body,
          json: <T>() => JSON.parse(fromUtf8(body, "response body")) as T,
        });
      }
      case t.Kind.RESET: {
        this.finish(frame.stream);
        const [code, reason] = t.decodeClose(frame.payload);
        return pending.reject(new ApiError(code, reason || `request reset (${code})`));
      }
      default:
        throw new ChannelError(`tunnel frame ${frame.kind} is not valid on an HTTP stream`);
    }
  }

  private dispatchSocket(socket: TunnelSocket, frame: t.Frame): void {
    switch (frame.kind) {
      case t.Kind.WS_ACCEPT:
        t.decodeAccept(frame.payload);
        socket.open = true;
        socket.onopen?.();
        return;
      case t.Kind.WS_MESSAGE: {
        if (socket.closed) return this.consume(frame.stream, frame.payload.length);
        const message = socket.assembler.feed(frame.payload);
        if (message === null) {
          // an earlier fragment: its credit goes back at once, so a message larger than
          // the window can flow; the last fragment's waits for the page to use the message
          this.consume(frame.stream, frame.payload.length);
          return;
        }
        socket.onmessage?.(message, frame.payload.length);
        return;
      }
      case t.Kind.WS_CLOSE:
      case t.Kind.RESET: {
        const [code, reason] = t.decodeClose(frame.payload);
        socket.closed = true;
        this.finish(frame.stream);
        socket.onclose?.(code, reason);
        return;
      }
      default:
        throw new ChannelError(`tunnel frame ${frame.kind} is not valid on a WebSocket stream`);
    }
  }

  private finish(stream: number): void {
    this.requests.delete(stream);
    this.sockets.delete(stream);
    this.backlog.delete(stream);
    this.flow.close(stream);
  }

  /** The channel is gone: every stream fails (sockets close with 1006). */
  fail(error: Error): void {
    if (this.dead) return;
    this.dead = error;
    for (const pending of this.requests.values()) pending.reject(error);
    for (const socket of this.sockets.values()) {
      socket.closed = true;
      socket.onclose?.(1006, error.message);
    }
    this.requests.clear();
    this.sockets.clear();
    this.backlog.clear();
    this.outgoing = [];
  }
}
