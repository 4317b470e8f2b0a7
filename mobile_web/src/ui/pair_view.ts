// Pairing: the link from the QR code (or pasted), then the 6-digit code shown on the laptop.
import { ProtocolError } from "../protocol/bytes.js";
import { type PairLink, normalizeCode, parseLink } from "../protocol/pairing.js";
import { PairingError, pair } from "../net/pair.js";
import type { Identity } from "../store.js";
import { h, replace } from "./dom.js";

export interface PairViewOptions {
  link: PairLink | null;
  linkError: string | null;
  onPaired(identity: Identity): void;
}

function defaultName(): string {
  const ua = navigator.userAgent;
  const model = /iPhone|iPad|Android|Pixel|Macintosh|Windows|Linux/.exec(ua)?.[0] ?? "browser";
  return `${model === "Macintosh" ? "Mac" : model} browser`;
}

export function pairView(root: HTMLElement, options: PairViewOptions): void {
  let link = options.link;
  const status = h("p", { class: "status", id: "pair-status", role: "status", "aria-live": "polite" });
  const error = h("p", { class: "error", id: "pair-error", role: "alert" });
  const linkInput = h("input", {
    id: "pair-link",
    type: "url",
    placeholder: "https://…/app#pair=…",
    autocomplete: "off",
    spellcheck: false,
  });
  const codeInput = h("input", {
    id: "pair-code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    placeholder: "123 456",
    maxlength: 9,
    enterkeyhint: "go",
  });
  const nameInput = h("input", { id: "pair-name", value: defaultName(), maxlength: 64 });
  const button = h("button", { id: "pair-button", class: "primary", type: "submit" }, "Pair");

  const showError = (message: string) => {
    error.textContent = message;
    status.textContent = "";
  };
  if (options.linkError) showError(options.linkError);

  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event: Event) => {
        event.preventDefault();
        error.textContent = "";
        try {
          if (!link) link = parseLink(linkInput.value);
          normalizeCode(codeInput.value);
        } catch (err) {
          showError((err as Error).message);
          return;
        }
        button.disabled = true;
        status.textContent = "connecting to the relay…";
        try {
          const identity = await pair(link, codeInput.value, {
            name: nameInput.value,
            onStatus: (text) => (status.textContent = text),
          });
          status.textContent = `paired with ${identity.nodeName}`;
          options.onPaired(identity);
        } catch (err) {
          const message = err instanceof PairingError || err instanceof ProtocolError ? err.message : String(err);
          showError(message);
          codeInput.select();
          if (err instanceof PairingError && !err.retry && !/wrong code/.test(message)) {
            button.disabled = true;
            return;
          }
        }
        button.disabled = false;
      },
    },
    h("h1", {}, "Pair this phone"),
    link
      ? h("p", { class: "hint" }, "Type the 6-digit code your computer shows next to the QR code.")
      : h("label", {}, "Pair link (from ", h("code", {}, "loopsy mobile pair"), ")", linkInput),
    h("label", {}, "Code", codeInput),
    h("label", {}, "Name for this phone", nameInput),
    button,
    status,
    error,
  );
  replace(root, h("main", { class: "pair" }, h("div", { class: "brand" }, "loopsy"), form));
  (link ? codeInput : linkInput).focus();
}
