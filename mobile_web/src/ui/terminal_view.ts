// The terminal screen: a tab per open session (each keeps its own terminal and stream),
// the key bar, the compose box, and sizing that follows rotation and the on-screen
// keyboard (visualViewport), debounced.
import type { Api, SessionInfo } from "../api.js";
import { SessionTerm } from "../terminal/session_term.js";
import { Compose } from "./compose.js";
import { h, replace } from "./dom.js";
import { Modifiers, keybar } from "./keybar.js";

const RESIZE_DEBOUNCE_MS = 100;

export interface TerminalHandlers {
  home(): void;
  tabsChanged(ids: string[]): void;
}

interface Tab {
  info: SessionInfo;
  term: SessionTerm;
  detail: string;
}

export class TerminalView {
  readonly element: HTMLElement;
  private readonly tabsBar = h("nav", { class: "tabs", id: "tabs", role: "tablist" });
  private readonly screens = h("div", { class: "screens", id: "screens" });
  private readonly statusLine = h("div", { class: "term-status", id: "term-status", role: "status" });
  private readonly tabs = new Map<string, Tab>();
  private active: string | null = null;
  private api: Api | null = null;
  private readonly modifiers = new Modifiers();
  private readonly compose: Compose;
  private resizeTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly handlers: TerminalHandlers) {
    this.compose = new Compose((text) => this.current()?.term.input(text));
    this.element = h(
      "section",
      { class: "terminal", id: "terminal", hidden: true },
      this.tabsBar,
      this.screens,
      this.statusLine,
      this.compose.element,
      keybar(
        {
          send: (data) => this.current()?.term.input(data),
          applicationCursor: () => this.current()?.term.applicationCursor ?? false,
          focus: () => this.current()?.term.term.focus(),
          paste: () => void this.paste(),
          compose: () => (this.compose.isOpen ? this.compose.close() : this.compose.open()),
        },
        this.modifiers,
      ),
    );
    const schedule = () => this.scheduleFit();
    // the terminal's own box changes too when the status line, the compose box or the
    // key bar come and go: refit on any change of it, not only the window's
    new ResizeObserver(schedule).observe(this.screens);
    window.visualViewport?.addEventListener("resize", schedule);
    window.visualViewport?.addEventListener("scroll", schedule);
    window.addEventListener("resize", schedule);
    window.addEventListener("orientationchange", schedule);
  }

  get openIds(): string[] {
    return [...this.tabs.keys()];
  }

  has(id: string): boolean {
    return this.tabs.has(id);
  }

  /** Online: (re)attach every tab. Offline: detach them, saying why. */
  setApi(api: Api | null, why = "reconnecting…"): void {
    this.api = api;
    for (const tab of this.tabs.values()) {
      if (api) void tab.term.attach(api.mux, api.attachPath(tab.info.id));
      else tab.term.detach(why);
    }
  }

  open(info: SessionInfo, show = true): void {
    let tab = this.tabs.get(info.id);
    if (!tab) {
      const term = new SessionTerm(info.id, this.screens, {
        onState: (_state, detail) => {
          const t = this.tabs.get(info.id);
          if (t) t.detail = detail;
          this.renderTabs();
        },
        onTitle: () => undefined,
      });
      term.transformInput = (data) => this.modifiers.apply(data);
      tab = { info, term, detail: "" };
      this.tabs.set(info.id, tab);
      if (this.api) void term.attach(this.api.mux, this.api.attachPath(info.id));
      this.handlers.tabsChanged(this.openIds);
    } else {
      tab.info = info;
    }
    if (show) this.show(info.id);
    else this.renderTabs();
  }

  show(id: string): void {
    this.active = id;
    this.element.hidden = false;
    for (const [tid, tab] of this.tabs) tab.term.element.hidden = tid !== id;
    this.renderTabs();
    const tab = this.tabs.get(id);
    requestAnimationFrame(() => {
      tab?.term.fitNow();
      tab?.term.term.focus();
    });
  }

  hide(): void {
    this.element.hidden = true;
  }

  async close(id: string): Promise<void> {
    const tab = this.tabs.get(id);
    if (!tab) return;
    this.tabs.delete(id);
    await tab.term.dispose();
    this.handlers.tabsChanged(this.openIds);
    if (this.active === id) {
      const next = this.openIds[0];
      if (next) this.show(next);
      else {
        this.active = null;
        this.handlers.home();
      }
    } else this.renderTabs();
  }

  /** Save every screen now (the page is being hidden or closed). */
  saveAll(): void {
    for (const tab of this.tabs.values()) void tab.term.saveNow();
  }

  /** The active terminal's text (or its last rows), one logical line per line. */
  text(lastRows = Infinity): string {
    const term = this.current()?.term.term;
    if (!term) return "";
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let y = Math.max(0, buffer.length - lastRows); y < buffer.length; y++) {
      const line = buffer.getLine(y);
      const text = line?.translateToString(true) ?? "";
      if (line?.isWrapped && lines.length) lines[lines.length - 1] += text;
      else lines.push(text);
    }
    while (lines.length && lines[lines.length - 1] === "") lines.pop();
    return lines.join("\n");
  }

  /** The colours of the first line holding `marker`: [char, "default"|"palette"|"rgb", n]. */
  colors(marker: string): [string, string, number][] {
    const buffer = this.current()?.term.term.buffer.active;
    if (!buffer) return [];
    for (let y = 0; y < buffer.length; y++) {
      const line = buffer.getLine(y);
      if (!line?.translateToString(true).includes(marker)) continue;
      const out: [string, string, number][] = [];
      for (let x = 0; x < line.length; x++) {
        const cell = line.getCell(x);
        if (!cell || cell.getChars().trim() === "") continue;
        const mode = cell.isFgRGB() ? "rgb" : cell.isFgPalette() ? "palette" : "default";
        out.push([cell.getChars(), mode, cell.getFgColor()]);
      }
      return out;
    }
    return [];
  }

  current(): Tab | null {
    return this.active ? (this.tabs.get(this.active) ?? null) : null;
  }

  private scheduleFit(): void {
    if (this.resizeTimer !== null) clearTimeout(this.resizeTimer);
    this.resizeTimer = setTimeout(() => {
      this.resizeTimer = null;
      const vv = window.visualViewport;
      // the on-screen keyboard shrinks the visual viewport: size the app to what is visible
      document.documentElement.style.setProperty("--app-height", `${Math.round(vv?.height ?? window.innerHeight)}px`);
      requestAnimationFrame(() => this.current()?.term.fitNow());
    }, RESIZE_DEBOUNCE_MS);
  }

  private async paste(): Promise<void> {
    const tab = this.current();
    if (!tab) return;
    try {
      const text = await navigator.clipboard.readText();
      if (text) tab.term.paste(text);
    } catch {
      // no clipboard permission (or plain http): paste into the compose box by hand
      this.compose.open();
    }
  }

  private renderTabs(): void {
    const current = this.current();
    replace(
      this.tabsBar,
      h("button", { class: "tab home-tab", id: "tab-home", "aria-label": "home", onclick: () => this.handlers.home() }, "⌂"),
      ...[...this.tabs.values()].map((tab) =>
        h(
          "span",
          { class: `tab ${tab.info.id === this.active ? "active" : ""} ${tab.term.state}`, role: "tab", dataset: { session: tab.info.id } },
          h("button", { class: "tab-name", onclick: () => this.show(tab.info.id) }, tab.info.name),
          h("button", { class: "tab-close", "aria-label": `close tab ${tab.info.name}`, onclick: () => void this.close(tab.info.id) }, "×"),
        ),
      ),
    );
    const state = current?.term.state;
    this.statusLine.textContent =
      !current || state === "live" ? "" : state === "attaching" ? "attaching…" : state === "exited" ? `session ${current.detail}` : current.detail || "reconnecting…";
    this.statusLine.hidden = this.statusLine.textContent === "";
  }
}
