// The compose box: write (or dictate) a command, edit it, then send it in one go.
import { h } from "./dom.js";

interface SpeechResultEvent {
  resultIndex: number;
  results: ArrayLike<ArrayLike<{ transcript: string }> & { isFinal: boolean }>;
}
interface SpeechRecognizer {
  lang: string;
  interimResults: boolean;
  continuous: boolean;
  onresult: ((e: SpeechResultEvent) => void) | null;
  onend: (() => void) | null;
  onerror: ((e: { error: string }) => void) | null;
  start(): void;
  stop(): void;
}
type SpeechCtor = new () => SpeechRecognizer;

function speechRecognition(): SpeechCtor | null {
  const w = window as unknown as { SpeechRecognition?: SpeechCtor; webkitSpeechRecognition?: SpeechCtor };
  return w.SpeechRecognition ?? w.webkitSpeechRecognition ?? null;
}

export class Compose {
  readonly element: HTMLElement;
  private readonly text = h("textarea", {
    id: "compose-text",
    rows: 3,
    placeholder: "Type or dictate, edit, then send",
    autocapitalize: "off",
    autocorrect: "off",
    spellcheck: false,
  });
  private readonly status = h("span", { class: "hint", role: "status" });
  private recognizer: SpeechRecognizer | null = null;

  constructor(private readonly send: (text: string) => void) {
    const Speech = speechRecognition();
    const mic = Speech
      ? h("button", { type: "button", id: "compose-voice", "aria-label": "dictate", onclick: () => this.dictate(Speech) }, "🎤")
      : null;
    this.element = h(
      "div",
      { class: "compose", id: "compose", hidden: true },
      this.text,
      h(
        "div",
        { class: "row" },
        mic,
        this.status,
        h("button", { type: "button", onclick: () => this.close() }, "Close"),
        h("button", { type: "button", id: "compose-insert", onclick: () => this.submit(false) }, "Insert"),
        h("button", { type: "button", class: "primary", id: "compose-send", onclick: () => this.submit(true) }, "Send ⏎"),
      ),
    );
  }

  open(initial = ""): void {
    this.element.hidden = false;
    if (initial) this.text.value += initial;
    this.text.focus();
  }

  close(): void {
    this.recognizer?.stop();
    this.element.hidden = true;
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  private submit(enter: boolean): void {
    const value = this.text.value.replace(/\r?\n/g, "\r");
    if (!value && !enter) return;
    this.send(enter ? `${value}\r` : value);
    this.text.value = "";
    this.close();
  }

  private dictate(Speech: SpeechCtor): void {
    if (this.recognizer) {
      this.recognizer.stop();
      return;
    }
    const recognizer = new Speech();
    recognizer.lang = navigator.language || "en-US";
    recognizer.interimResults = false;
    recognizer.continuous = false;
    recognizer.onresult = (event) => {
      for (let i = event.resultIndex; i < event.results.length; i++) {
        const result = event.results[i]!;
        if (result.isFinal) {
          const spoken = result[0]?.transcript ?? "";
          this.text.value += (this.text.value && !this.text.value.endsWith(" ") ? " " : "") + spoken.trim();
        }
      }
    };
    recognizer.onerror = (e) => (this.status.textContent = `voice: ${e.error}`);
    recognizer.onend = () => {
      this.recognizer = null;
      this.status.textContent = "";
    };
    this.recognizer = recognizer;
    this.status.textContent = "listening…";
    recognizer.start();
  }
}
