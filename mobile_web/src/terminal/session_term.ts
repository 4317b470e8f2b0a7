// One session on the phone: an xterm.js terminal fed by the session stream through the
// tunnel. It resumes by offset (or from the daemon's snapshot), never writes a byte twice,
// acknowledges what xterm has rendered (its write callback) and grants the tunnel window
// only then, so a flood of output is paced by the page's own rendering.
import { FitAddon } from "@xterm/addon-fit";
import { SerializeAddon } from "@xterm/addon-serialize";
import { WebglAddon } from "@xterm/addon-webgl";
import { Terminal } from "@xterm/xterm";
import { utf8 } from "../protocol/bytes.js";
import * as s from "../protocol/stream.js";
import type { TunnelMux, TunnelSocket } from "../net/mux.js";
import { type Screen, loadScreen, saveScreen } from "../store.js";

export type TermState = "detached" | "attaching" | "live" | "exited";

const THEME = {
  background: "#101418",
  foreground: "#d8dee9",
  cursor: "#f0c674",
  selectionBackground: "#3b4252",
};
const FONT_FAMILY = 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace';
const FONT_SIZE = 13;
const SAVE_AFTER_MS = 300;
const SAVE_AT_LEAST_MS = 5000;
const IDLE_ACK_MS = 100;
const SCROLLBACK = 5000;
const SAVED_SCROLLBACK = 1000;

/**
 * The terminal size a new session should start with, before any terminal exists: what
 * fits the screen, rounded down. Starting at the phone's width matters: a line printed
 * before the phone attaches is not reflowed when the size changes, so a wider start would
 * cut it.
 */
export function estimateSize(): { cols: number; rows: number } {
  const context = document.createElement("canvas").getContext("2d");
  let cell = FONT_SIZE * 0.6;
  if (context) {
    context.font = `${FONT_SIZE}px ${FONT_FAMILY}`;
    cell = context.measureText("W".repeat(20)).width / 20 || cell;
  }
  const width = (window.visualViewport?.width ?? window.innerWidth) - 28; // padding, scrollbar
  const height = (window.visualViewport?.height ?? window.innerHeight) - 120; // tabs, key bar
  return {
    cols: Math.max(20, Math.min(s.MAX_COLS, Math.floor(width / cell))),
    rows: Math.max(8, Math.min(s.MAX_ROWS, Math.floor(height / Math.ceil(FONT_SIZE * 1.2)))),
  };
}

let webglVerdict: boolean | null = null;

/** A GPU-backed WebGL2 context? (Headless and GPU-less browsers emulate it in software.) */
function hardwareWebgl(): boolean {
  if (webglVerdict !== null) return webglVerdict;
  webglVerdict = false;
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (gl) {
      const info = gl.getExtension("WEBGL_debug_renderer_info");
      const name = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
      webglVerdict = !/swiftshader|llvmpipe|softpipe|software|microsoft basic/i.test(name);
      gl.getExtension("WEBGL_lose_context")?.loseContext();
    }
  } catch {
    webglVerdict = false;
  }
  return webglVerdict;
}

export interface SessionTermEvents {
  onState(state: TermState, detail: string): void;
  onTitle(title: string): void;
}

export class SessionTerm {
  readonly term: Terminal;
  readonly element: HTMLElement;
  private readonly fit = new FitAddon();
  private readonly serializer = new SerializeAddon();
  private readonly tracker = new s.StreamTracker();
  private socket: TunnelSocket | null = null;
  private rendered = 0; // every byte before this has been parsed by xterm
  private pendingWrites = 0;
  private idleAck: ReturnType<typeof setTimeout> | null = null;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private saveDue = 0;
  private restored: Promise<void>;
  private triedOffset = false;
  private fitted = false; // sized to its element at least once (a hidden tab is not)
  state: TermState = "detached";
  savedOffset: number | null = null;
  snapshots = 0; // snapshot frames received since this tab opened
  /** How the last attach went: resumed at an offset, or a snapshot (for tests, bench). */
  lastAttach: { offset: number | null; snapshot: boolean } = { offset: null, snapshot: false };
  renderer: "webgl" | "dom" = "dom";
  /** Input transform (sticky modifiers from the key bar). */
  transformInput: (data: string) => string = (d) => d;

  constructor(readonly sessionId: string, parent: HTMLElement, private readonly events: SessionTermEvents) {
    this.element = document.createElement("div");
    this.element.className = "term";
    this.element.dataset.session = sessionId;
    parent.append(this.element);
    this.term = new Terminal({
      fontFamily: FONT_FAMILY,
      fontSize: FONT_SIZE,
      scrollback: SCROLLBACK,
      theme: THEME,
      allowProposedApi: true,
      cursorBlink: false,
      macOptionIsMeta: true,
    });
    this.term.loadAddon(this.fit);
    this.term.loadAddon(this.serializer);
    this.term.open(this.element);
    this.loadWebgl();
    this.term.onData((data) => this.input(this.transformInput(data)));
    this.term.onBinary((data) => this.inputBytes(Uint8Array.from(data, (c) => c.charCodeAt(0))));
    this.term.onTitleChange((title) => this.events.onTitle(title));
    this.restored = this.restore();
  }

  private loadWebgl(): void {
    if (!hardwareWebgl()) return; // software WebGL is slower than the DOM renderer
    try {
      const webgl = new WebglAddon();
      webgl.onContextLoss(() => {
        webgl.dispose();
        this.renderer = "dom";
      });
      this.term.loadAddon(webgl);
      this.renderer = "webgl";
    } catch {
      this.renderer = "dom"; // no WebGL (headless, old phones): xterm's DOM renderer
    }
  }

  /** A screen this page saved before it was closed: show it, resume after its offset. */
  private async restore(): Promise<void> {
    const screen = await loadScreen(this.sessionId);
    if (!screen || this.tracker.offset !== null) return;
    await new Promise<void>((resolve) => this.term.write(screen.data, resolve));
    this.tracker.resumeFrom(screen.offset);
    this.rendered = screen.offset;
  }

  // -- attach ---------------------------------------------------------------------------

  private mux: TunnelMux | null = null;
  private path: string | null = null;

  async attach(mux: TunnelMux, path: string): Promise<void> {
    this.mux = mux;
    this.path = path;
    await this.restored;
    this.detachSocket();
    this.setState("attaching", "");
    this.fitNow();
    const socket = mux.openSocket(path);
    this.socket = socket;
    socket.onopen = () => {
      const offset = this.tracker.offset;
      const fresh = offset === null;
      this.triedOffset = !fresh;
      this.lastAttach = { offset, snapshot: false };
      // a tab never shown has no size of its own yet: leave the session's size alone
      const [cols, rows] = this.fitted ? [this.term.cols, this.term.rows] : [0, 0];
      socket.send(s.encodeAttach(fresh ? 0 : offset, cols, rows, fresh));
    };
    socket.onmessage = (data, size) => {
      if (typeof data === "string") {
        socket.consumed(size);
        return;
      }
      try {
        this.frame(s.decodeServer(data), size);
      } catch (err) {
        socket.consumed(size);
        socket.close(4400, (err as Error).message);
        this.setState("detached", (err as Error).message);
      }
    };
    socket.onclose = (code, reason) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.state !== "exited") this.setState("detached", reason || `closed (${code})`);
    };
  }

  private frame(frame: s.ServerFrame, size: number): void {
    const socket = this.socket!;
    switch (frame.type) {
      case "attached":
        this.tracker.attached(frame.ackEvery);
        if (!this.fitted && frame.cols > 0 && frame.rows > 0) this.term.resize(frame.cols, frame.rows);
        socket.consumed(size);
        this.setState("live", "");
        return;
      case "snapshot":
        this.lastAttach.snapshot = true;
        this.snapshots += 1;
        this.tracker.snapshot(frame.offset);
        this.rendered = frame.offset;
        // RIS in-band, so it lands after any output still queued in xterm, not before it
        this.term.write("\x1bc");
        this.writeCounted(frame.data, frame.offset, size);
        return;
      case "output": {
        const fresh = this.tracker.output(frame.offset, frame.data);
        this.writeCounted(fresh, frame.offset + frame.data.length, size);
        return;
      }
      case "resized":
        socket.consumed(size);
        return;
      case "exit": {
        socket.consumed(size);
        const how =
          frame.kind === s.EXITED ? `exited with code ${frame.value}` : frame.kind === s.SIGNALLED ? `killed by signal ${frame.value}` : "lost";
        this.term.write(`\r\n\x1b[2m[session ${how}]\x1b[0m\r\n`);
        this.setState("exited", how);
        return;
      }
      case "error":
        socket.consumed(size);
        if (this.triedOffset && (frame.code === 400 || frame.code === 409 || frame.code === 416)) {
          // our saved offset is not this session's any more (restarted?): start over fresh
          this.tracker.resumeFrom(null);
          this.triedOffset = false;
          this.term.write("\x1bc");
          if (this.mux && this.path) void this.attach(this.mux, this.path);
          return;
        }
        this.term.write(`\r\n\x1b[31m[${frame.message}]\x1b[0m\r\n`);
        this.setState("detached", frame.message);
        return;
    }
  }

  /** Write to xterm; once parsed: ACK the offset, give the tunnel its window back. */
  private writeCounted(data: Uint8Array, endOffset: number, size: number): void {
    const socket = this.socket;
    this.pendingWrites += 1;
    this.term.write(data, () => {
      this.pendingWrites -= 1;
      this.rendered = Math.max(this.rendered, endOffset);
      socket?.consumed(size);
      if (socket && socket === this.socket) {
        const ack = this.tracker.rendered(this.rendered);
        if (ack !== null) socket.send(s.encodeAck(ack));
        this.scheduleIdleAck();
      }
      this.scheduleSave();
    });
  }

  private scheduleIdleAck(): void {
    if (this.idleAck !== null) clearTimeout(this.idleAck);
    this.idleAck = setTimeout(() => {
      this.idleAck = null;
      if (this.pendingWrites === 0 && this.socket) {
        const ack = this.tracker.flush(this.rendered);
        if (ack !== null) this.socket.send(s.encodeAck(ack));
      }
    }, IDLE_ACK_MS);
  }

  /**
   * Save the screen once output pauses (serializing scrollback costs the main thread, so not
   * during a flood), and at least every SAVE_AT_LEAST_MS while output goes on.
   */
  private scheduleSave(): void {
    const now = Date.now();
    if (this.saveTimer !== null) clearTimeout(this.saveTimer);
    else this.saveDue = now + SAVE_AT_LEAST_MS;
    const wait = Math.max(0, Math.min(SAVE_AFTER_MS, this.saveDue - now));
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      void this.saveNow();
    }, wait);
  }

  /** Save the screen with the offset it shows (only when xterm has parsed all it was given). */
  async saveNow(): Promise<void> {
    if (this.pendingWrites > 0) {
      this.scheduleSave();
      return;
    }
    if (this.tracker.offset === null || this.rendered !== this.tracker.offset) return;
    const screen: Screen = {
      offset: this.rendered,
      data: this.serializer.serialize({ scrollback: SAVED_SCROLLBACK }),
      cols: this.term.cols,
      rows: this.term.rows,
    };
    try {
      await saveScreen(this.sessionId, screen);
      this.savedOffset = screen.offset;
    } catch {
      /* storage full or private mode: resuming falls back to the daemon's snapshot */
    }
  }

  // -- input and size ---------------------------------------------------------------------

  input(text: string): boolean {
    return this.inputBytes(utf8(text));
  }

  inputBytes(data: Uint8Array): boolean {
    const socket = this.socket;
    if (!socket || this.state !== "live" || data.length === 0) return false;
    for (const frame of s.encodeInput(data)) socket.send(frame);
    return true;
  }

  paste(text: string): void {
    this.term.paste(text); // bracketed paste when the program asked for it
  }

  fitNow(): void {
    if (!this.element.isConnected || this.element.offsetParent === null) return;
    const before = [this.term.cols, this.term.rows];
    try {
      this.fit.fit();
    } catch {
      return;
    }
    const first = !this.fitted;
    this.fitted = true;
    const { cols, rows } = this.term;
    if ((first || cols !== before[0] || rows !== before[1]) && this.socket && this.state === "live") {
      this.socket.send(s.encodeResize(Math.min(cols, s.MAX_COLS), Math.min(rows, s.MAX_ROWS)));
    }
  }

  get offset(): number | null {
    return this.tracker.offset;
  }

  get renderedOffset(): number {
    return this.rendered;
  }

  get applicationCursor(): boolean {
    return this.term.modes.applicationCursorKeysMode;
  }

  private detachSocket(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "reattaching");
  }

  private setState(state: TermState, detail: string): void {
    this.state = state;
    this.element.dataset.state = state;
    this.events.onState(state, detail);
  }

  /** Closing a tab: save what is shown, stop the stream, free the terminal. */
  async dispose(): Promise<void> {
    await this.saveNow();
    this.detachSocket();
    if (this.idleAck !== null) clearTimeout(this.idleAck);
    if (this.saveTimer !== null) clearTimeout(this.saveTimer);
    this.term.dispose();
    this.element.remove();
  }

  detach(why: string): void {
    this.detachSocket();
    if (this.state !== "exited") this.setState("detached", why);
  }
}
