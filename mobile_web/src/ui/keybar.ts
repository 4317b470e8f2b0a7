// The accessory key bar: keys a phone keyboard lacks. Ctrl and Alt are sticky: tap once
// for the next key, they light up until used.
import { h } from "./dom.js";

export interface KeybarTarget {
  send(data: string): void;
  applicationCursor(): boolean;
  focus(): void;
  paste(): void;
  compose(): void;
}

export class Modifiers {
  ctrl = false;
  alt = false;
  onChange: () => void = () => undefined;

  /** Apply the sticky modifiers to typed input, then release them. */
  apply(data: string): string {
    if (!this.ctrl && !this.alt) return data;
    let out = data;
    if (this.ctrl && data.length === 1) {
      const c = data.toUpperCase().charCodeAt(0);
      if (c >= 0x40 && c <= 0x5f) out = String.fromCharCode(c & 0x1f);
      else if (data === " ") out = "\x00";
      else if (data === "?") out = "\x7f";
    }
    if (this.alt) out = `\x1b${out}`;
    this.ctrl = this.alt = false;
    this.onChange();
    return out;
  }
}

const ARROWS: Record<string, string> = { "↑": "A", "↓": "B", "→": "C", "←": "D" };

export function keybar(target: KeybarTarget, modifiers: Modifiers): HTMLElement {
  const key = (label: string, title: string, run: () => void, id?: string) =>
    h(
      "button",
      {
        type: "button",
        class: "key",
        title,
        "aria-label": title,
        ...(id ? { id } : {}),
        // keep the terminal's focus (and the on-screen keyboard) while tapping a key
        onpointerdown: (e: Event) => e.preventDefault(),
        onclick: () => {
          run();
          target.focus();
        },
      },
      label,
    );
  const ctrl = key("Ctrl", "Control (sticky)", () => {
    modifiers.ctrl = !modifiers.ctrl;
    modifiers.onChange();
  }, "key-ctrl");
  const alt = key("Alt", "Alt (sticky)", () => {
    modifiers.alt = !modifiers.alt;
    modifiers.onChange();
  }, "key-alt");
  modifiers.onChange = () => {
    ctrl.classList.toggle("on", modifiers.ctrl);
    alt.classList.toggle("on", modifiers.alt);
    ctrl.setAttribute("aria-pressed", String(modifiers.ctrl));
    alt.setAttribute("aria-pressed", String(modifiers.alt));
  };
  const typed = (text: string) => () => target.send(modifiers.apply(text));
  const arrow = (label: string) =>
    key(label, `arrow ${label}`, () => {
      const prefix = modifiers.alt ? "\x1b" : "";
      modifiers.ctrl = modifiers.alt = false;
      modifiers.onChange();
      target.send(prefix + (target.applicationCursor() ? "\x1bO" : "\x1b[") + ARROWS[label]);
    });
  return h(
    "div",
    { class: "keybar", id: "keybar", role: "toolbar", "aria-label": "extra keys" },
    key("Esc", "Escape", typed("\x1b"), "key-esc"),
    key("Tab", "Tab", typed("\t"), "key-tab"),
    ctrl,
    alt,
    arrow("←"),
    arrow("↑"),
    arrow("↓"),
    arrow("→"),
    key("|", "pipe", typed("|")),
    key("~", "tilde", typed("~")),
    key("/", "slash", typed("/")),
    key("-", "dash", typed("-")),
    key("Paste", "paste", () => target.paste(), "key-paste"),
    key("✎", "compose", () => target.compose(), "key-compose"),
  );
}
