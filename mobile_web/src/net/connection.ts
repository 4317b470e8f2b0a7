// The phone's connection to its laptop: a WebSocket to the relay, a fresh KK handshake each
// time the relay says the laptop is online, then the tunnel. It reconnects on its own with
// backoff and jitter (and at once when the page becomes visible or the network returns),
// and a watchdog pings through the tunnel so a silently dead link is noticed.
import { SecureChannel, sessionHandshake } from "../protocol/channel.js";
import type { HandshakeState } from "../protocol/noise.js";
import { sessionPrologue } from "../protocol/pairing.js";
import { Close, parseControl, phoneProtocols, socketUrl } from "../protocol/relay.js";
import type { Identity } from "../store.js";
import { TunnelMux } from "./mux.js";
import { randomBytes } from "./random.js";
import { type SocketFactory, browserSocket, relayAnswers, toBytes } from "./socket.js";

export type LinkState =
  | { kind: "connecting" }
  | { kind: "relay-down"; retryInMs: number }
  | { kind: "laptop-offline" }
  | { kind: "online"; mux: TunnelMux }
  | { kind: "refused"; message: string };

export interface ConnectionOptions {
  socket?: SocketFactory;
  pingEveryMs?: number;
  deadAfterMs?: number;
}

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const WAKE_PROBE_MS = 5000;

export class Connection {
  state: LinkState = { kind: "connecting" };
  /** Why the last WebSocket closed (shown to the user while reconnecting; read by tests). */
  lastClose: { code: number; reason: string } | null = null;
  private ws: WebSocket | null = null;
  private handshake: HandshakeState | null = null;
  private channel: SecureChannel | null = null;
  private mux: TunnelMux | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private stopped = false;
  private readonly listeners = new Set<(state: LinkState) => void>();
  private readonly socketFactory: SocketFactory;
  private readonly pingEveryMs: number;
  private readonly deadAfterMs: number;

  constructor(private readonly identity: Identity, options: ConnectionOptions = {}) {
    this.socketFactory = options.socket ?? browserSocket;
    this.pingEveryMs = options.pingEveryMs ?? 15_000;
    this.deadAfterMs = options.deadAfterMs ?? 40_000;
  }

  onState(listener: (state: LinkState) => void): () => void {
    this.listeners.add(listener);
    listener(this.state);
    return () => this.listeners.delete(listener);
  }

  private set(state: LinkState): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.drop("stopped");
    this.ws?.close(1000);
    this.ws = null;
  }

  /** Reconnect now (page visible again, network back): skips the backoff wait. */
  nudge(): void {
    if (this.stopped) return;
    if (this.state.kind === "online") {
      // after a sleep the socket may be dead without having said so: ask, and if nothing
      // at all comes back soon, start over instead of waiting for the watchdog
      const asked = Date.now();
      const ws = this.ws;
      this.mux?.ping(randomBytes(8));
      setTimeout(() => {
        if (ws && ws === this.ws && this.lastHeard < asked) {
          ws.close(4000, "no answer");
          this.closed(ws, 4000, "no answer after waking up", true);
        }
      }, WAKE_PROBE_MS);
      return;
    }
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.connect();
    }
  }

  private connect(): void {
    if (this.stopped) return;
    this.set({ kind: "connecting" });
    const { relayUrl, deviceId, phoneId, credential } = this.identity;
    let ws: WebSocket;
    try {
      ws = this.socketFactory(socketUrl(relayUrl, "/v1/phone/connect"), phoneProtocols(deviceId, phoneId, credential));
    } catch (err) {
      this.set({ kind: "refused", message: `bad relay address: ${(err as Error).message}` });
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.lastHeard = Date.now();
      this.startWatchdog();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      try {
        this.receive(event.data);
      } catch (err) {
        // a frame that does not verify: this connection is void; a new one gets new keys
        ws.close(4400, (err as Error).message.slice(0, 100));
        this.closed(ws, 4400, (err as Error).message, true);
      }
    };
    ws.onclose = (event: CloseEvent) => this.closed(ws, event.code, event.reason, opened);
  }

  private receive(data: unknown): void {
    if (typeof data === "string") {
      const control = parseControl(data);
      if (!control) return;
      if (control.online) this.beginHandshake();
      else {
        this.drop("your computer went offline");
        this.set({ kind: "laptop-offline" });
      }
      return;
    }
    const bytes = toBytes(data);
    if (!bytes) return;
    if (this.channel && this.mux) {
      this.mux.receive(this.channel.open(bytes));
      return;
    }
    if (!this.handshake) throw new Error("channel frame before the handshake");
    this.handshake.readMessage(bytes);
    this.channel = new SecureChannel(this.handshake);
    this.handshake = null;
    const channel = this.channel;
    const ws = this.ws!;
    this.mux = new TunnelMux((plaintext) => {
      if (ws.readyState === 1 && this.channel === channel) ws.send(channel.seal(plaintext));
    });
    this.attempt = 0;
    this.lastHeard = Date.now();
    this.set({ kind: "online", mux: this.mux });
  }

  private beginHandshake(): void {
    this.drop("reconnecting");
    const { deviceId, phoneId, staticKey, daemonPublic } = this.identity;
    this.handshake = sessionHandshake({
      prologue: sessionPrologue(deviceId, phoneId),
      staticKey,
      ephemeralKey: randomBytes(32),
      daemonStatic: daemonPublic,
    });
    this.ws!.send(this.handshake.writeMessage(new Uint8Array()));
  }

  /** The channel is void: every stream on it fails; the socket may stay for a new one. */
  private drop(reason: string): void {
    this.handshake = null;
    this.channel = null;
    const mux = this.mux;
    this.mux = null;
    mux?.fail(new Error(reason));
  }

  private closed(ws: WebSocket, code: number, reason: string, opened: boolean): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.lastClose = { code, reason };
    ws.onclose = ws.onmessage = ws.onopen = null;
    this.stopWatchdog();
    this.drop(reason || "connection closed");
    if (this.stopped) return;
    if (code === Close.REVOKED) {
      this.set({ kind: "refused", message: "this phone was revoked on your computer: pair it again" });
      return;
    }
    if (code === Close.UNAUTHORIZED) {
      this.set({ kind: "refused", message: `your computer refused this phone (${reason || "handshake failed"}): pair it again` });
      return;
    }
    if (!opened) {
      // A refused upgrade looks like a dead relay to a browser: ask the relay.
      void relayAnswers(this.identity.relayUrl).then((up) => {
        if (this.stopped) return;
        if (up && this.attempt >= 2) {
          this.set({ kind: "refused", message: "the relay does not know this phone any more: pair it again" });
        }
        this.retry(!up);
      });
      return;
    }
    this.retry(true);
  }

  private retry(announce: boolean): void {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!;
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt += 1;
    if (announce) this.set({ kind: "relay-down", retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private startWatchdog(): void {
    this.stopWatchdog();
    this.pingTimer = setInterval(() => {
      if (this.mux && Date.now() - this.lastHeard > this.deadAfterMs) {
        const ws = this.ws;
        if (ws) {
          ws.close(4000, "no answer");
          this.closed(ws, 4000, "no answer from the relay", true);
        }
        return;
      }
      this.mux?.ping(randomBytes(8));
    }, this.pingEveryMs);
  }

  private stopWatchdog(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private clearTimers(): void {
    this.stopWatchdog();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
