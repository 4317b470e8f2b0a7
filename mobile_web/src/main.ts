// The phone client: pairs from the QR link, then keeps one connection to the computer and
// shows the home screen and the terminal tabs.
import "@xterm/xterm/css/xterm.css";
import "./app.css";
import { Api, type SessionInfo } from "./api.js";
import { Connection, type LinkState } from "./net/connection.js";
import type { TunnelSocket } from "./net/mux.js";
import { type PairLink, parseFragment } from "./protocol/pairing.js";
import { type Identity, forgetIdentity, loadIdentity, loadTabs, saveIdentity, saveTabs } from "./store.js";
import { byId, h, replace } from "./ui/dom.js";
import { HomeView } from "./ui/home_view.js";
import { pairView } from "./ui/pair_view.js";
import { TerminalView } from "./ui/terminal_view.js";

/** The relay serving this page: its origin and any path before /app. */
function relayUrl(): string {
  const path = location.pathname.replace(/\/app(\/.*)?$/, "");
  return `${location.origin}${path}`;
}

/** Read the pair link from the fragment, then clear it from the address bar and history. */
function takePairLink(): { link: PairLink | null; error: string | null } {
  const hash = location.hash;
  if (!hash.startsWith("#pair=")) return { link: null, error: null };
  history.replaceState(null, "", location.pathname + location.search);
  try {
    return { link: { relayUrl: relayUrl(), ...parseFragment(hash) }, error: null };
  } catch (err) {
    return { link: null, error: `this pair link is damaged (${(err as Error).message}): scan the QR code again` };
  }
}

function offlineReason(state: LinkState): string {
  switch (state.kind) {
    case "laptop-offline":
      return "your computer is offline: the session keeps running there";
    case "relay-down":
      return "the relay is unreachable: reconnecting…";
    case "refused":
      return state.message;
    default:
      return "reconnecting…";
  }
}

class App {
  private readonly connection: Connection;
  private readonly home: HomeView;
  private readonly terminals: TerminalView;
  private events: TunnelSocket | null = null;
  private api: Api | null = null;

  constructor(private readonly root: HTMLElement, private readonly identity: Identity) {
    this.connection = new Connection(identity);
    this.home = new HomeView(identity.nodeName, {
      open: (session) => this.openSession(session),
      forget: () => void this.forget(),
    });
    this.terminals = new TerminalView({
      home: () => this.showHome(),
      tabsChanged: (ids) => saveTabs(ids),
    });
    replace(root, h("main", { class: "app" }, this.home.element, this.terminals.element));
    // Read-only view for the browser tests and the bench (any script on this origin could
    // read the terminal anyway; this adds no power).
    (window as unknown as { loopsyDebug: object }).loopsyDebug = {
      text: (lastRows?: number) => this.terminals.text(lastRows),
      renderer: () => this.terminals.current()?.term.renderer ?? null,
      colors: (marker: string) => this.terminals.colors(marker),
      buffer: () => this.terminals.current()?.term.term.buffer.active.type ?? null,
      offset: () => this.terminals.current()?.term.renderedOffset ?? null,
      lastAttach: () => this.terminals.current()?.term.lastAttach ?? null,
      lastClose: () => this.connection.lastClose,
      snapshots: () => this.terminals.current()?.term.snapshots ?? 0,
      savedOffset: () => this.terminals.current()?.term.savedOffset ?? null,
    };
  }

  start(): void {
    this.connection.onState((state) => this.linkChanged(state));
    this.connection.start();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.connection.nudge();
      else this.terminals.saveAll();
    });
    window.addEventListener("online", () => this.connection.nudge());
    window.addEventListener("pagehide", () => this.terminals.saveAll());
    document.body.dataset.link = "connecting";
  }

  private linkChanged(state: LinkState): void {
    document.body.dataset.link = state.kind;
    if (state.kind === "online" && performance.getEntriesByName("loopsy-online").length === 0) {
      performance.mark("loopsy-online"); // first time the computer answered (bench/phone.py)
    }
    const api = state.kind === "online" ? new Api(state.mux) : null;
    if (api === null && this.api === null) {
      this.home.setLink(state, null);
      return;
    }
    this.api = api;
    this.events = null;
    this.home.setLink(state, api);
    this.terminals.setApi(api, offlineReason(state));
    if (api) {
      this.watchEvents(api);
      void this.reopenTabs(api);
    }
  }

  private async reopenTabs(api: Api): Promise<void> {
    const wanted = loadTabs().filter((id) => !this.terminals.has(id));
    if (!wanted.length) return;
    const sessions = await api.sessions().catch(() => [] as SessionInfo[]);
    for (const id of wanted) {
      const info = sessions.find((s) => s.id === id);
      if (info) this.terminals.open(info, false);
    }
    const first = this.terminals.openIds[0];
    if (first && this.terminals.element.hidden && document.body.dataset.view !== "home") this.showTerminal(first);
  }

  private watchEvents(api: Api): void {
    const socket = api.mux.openSocket(api.eventsPath());
    this.events = socket;
    socket.onmessage = (data, size) => {
      socket.consumed(size);
      if (typeof data !== "string") return;
      let event: { topic?: string; type?: string; data?: unknown };
      try {
        event = JSON.parse(data) as typeof event;
      } catch {
        return;
      }
      if (event.type === "session.removed") {
        this.home.sessionRemoved(String((event.data as { id?: unknown })?.id));
      } else if (event.topic === "sessions" && event.data && typeof event.data === "object" && "id" in event.data) {
        this.home.sessionEvent(event.data as SessionInfo);
      } else if (event.topic === "agents" || event.type === "events.dropped") {
        void this.home.refresh();
      }
    };
  }

  private openSession(session: SessionInfo): void {
    this.terminals.open(session, false);
    this.showTerminal(session.id);
  }

  private showTerminal(id: string): void {
    document.body.dataset.view = "terminal";
    this.home.element.hidden = true;
    this.terminals.show(id);
  }

  private showHome(): void {
    document.body.dataset.view = "home";
    this.terminals.hide();
    this.home.element.hidden = false;
    void this.home.refresh();
  }

  private async forget(): Promise<void> {
    if (!confirm("Forget this computer? You will need a new pairing code.")) return;
    this.connection.stop();
    await forgetIdentity();
    location.reload();
  }
}

async function boot(): Promise<void> {
  const root = byId("root");
  const { link, error } = takePairLink();
  let identity: Identity | null = null;
  try {
    identity = await loadIdentity();
  } catch {
    identity = null; // IndexedDB blocked (private mode): pairing still works for this visit
  }
  const startApp = (id: Identity) => new App(root, id).start();
  if (identity && !link && !error) {
    startApp(identity);
    return;
  }
  pairView(root, {
    link,
    linkError: error,
    onPaired: async (paired) => {
      try {
        await saveIdentity(paired);
      } catch {
        /* not persisted: this tab still works until closed */
      }
      startApp(paired);
    },
  });
}

void boot();
