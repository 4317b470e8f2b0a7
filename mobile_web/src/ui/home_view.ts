// Home: the computer and its state, its sessions, and the new-session picker (agents,
// shell, pinned commands, a working directory, the auto-approve switch), with pinned
// commands added, edited and removed from here.
import type { AgentInfo, Api, SessionInfo } from "../api.js";
import { ApiError } from "../net/mux.js";
import { estimateSize } from "../terminal/session_term.js";
import type { LinkState } from "../net/connection.js";
import { joinArgv, splitArgv } from "./argv.js";
import { h, replace } from "./dom.js";

const ALLOWED = "allowed on your computer";

export interface HomeHandlers {
  open(session: SessionInfo): void;
  forget(): void;
}

export class HomeView {
  readonly element = h("section", { class: "home", id: "home" });
  private api: Api | null = null;
  private sessions: SessionInfo[] = [];
  private agents: AgentInfo[] = [];
  private waiting = new Map<string, string>(); // session id → message while approval pends
  private notice = "";
  private state: LinkState = { kind: "connecting" };
  private selected = "shell";
  private cwd = "";
  private autoApprove = false;
  private editing: AgentInfo | "new" | null = null;
  private deferred = false;
  // what is typed in the pin form survives re-renders (events redraw the screen)
  private draft = { name: "", label: "", command: "", cwd: "" };

  constructor(private readonly nodeName: string, private readonly handlers: HomeHandlers) {
    this.render();
  }

  setLink(state: LinkState, api: Api | null): void {
    this.state = state;
    this.api = api;
    this.render();
    if (api) void this.refresh();
  }

  async refresh(): Promise<void> {
    const api = this.api;
    if (!api) return;
    try {
      const [sessions, agents] = await Promise.all([api.sessions(), api.agents()]);
      if (api !== this.api) return;
      this.sessions = sessions;
      this.agents = agents;
      for (const session of sessions) this.trackApproval(session);
      this.render();
    } catch (err) {
      this.say(`could not read the session list: ${(err as Error).message}`);
    }
  }

  /** A session event from the daemon: update the list and any approval we wait on. */
  sessionEvent(info: SessionInfo): void {
    const at = this.sessions.findIndex((s) => s.id === info.id);
    if (at >= 0) this.sessions[at] = info;
    else this.sessions.push(info);
    this.trackApproval(info);
    this.render();
  }

  sessionRemoved(id: string): void {
    this.sessions = this.sessions.filter((s) => s.id !== id);
    this.waiting.delete(id);
    this.render();
  }

  private trackApproval(info: SessionInfo): void {
    if (!this.waiting.has(info.id)) return;
    if (info.auto_approve === "pending") return;
    if (info.auto_approve === "on" && info.state === "running") {
      if (this.waiting.get(info.id) === ALLOWED) return; // opened already: once is enough
      this.waiting.set(info.id, ALLOWED);
      this.handlers.open(info);
      setTimeout(() => {
        this.waiting.delete(info.id);
        this.render();
      }, 3000);
    } else if (info.auto_approve === "denied" || info.exit?.reason === "denied") {
      this.waiting.set(info.id, "denied on your computer");
    } else if (info.exit?.reason === "expired") {
      this.waiting.set(info.id, "not confirmed in time: the request expired");
    }
  }

  private say(message: string): void {
    this.notice = message;
    this.render();
  }

  /** The badge's class and word, and a sentence when there is more to say. */
  private stateText(): [string, string, string] {
    switch (this.state.kind) {
      case "online":
        return ["online", "online", ""];
      case "connecting":
        return ["connecting", "connecting…", ""];
      case "laptop-offline":
        return ["offline", "offline", "Loopsy is not running on your computer, or it has no network. Sessions keep running there."];
      case "relay-down":
        return ["offline", "offline", `The relay is unreachable: retrying in ${Math.ceil(this.state.retryInMs / 1000)} s.`];
      case "refused":
        return ["refused", "refused", this.state.message];
    }
  }

  render(): void {
    // never redraw under a field being typed in (it would lose focus and close the
    // phone's keyboard): redraw when the field is left
    const focused = document.activeElement;
    if (focused instanceof HTMLInputElement && focused.type !== "radio" && focused.type !== "checkbox" && this.element.contains(focused)) {
      if (!this.deferred) {
        this.deferred = true;
        focused.addEventListener("blur", () => {
          this.deferred = false;
          // let a click that caused the blur (Save, Start) run against the current DOM first
          setTimeout(() => this.render(), 0);
        }, { once: true });
      }
      return;
    }
    const [cls, text, detail] = this.stateText();
    const online = this.state.kind === "online";
    replace(
      this.element,
      h(
        "header",
        { class: "machine" },
        h("h1", { id: "node-name" }, this.nodeName),
        h("span", { class: `badge ${cls}`, id: "link-state" }, text),
      ),
      detail && h("p", { class: `link-detail ${cls}`, id: "link-detail", role: "status" }, detail),
      this.notice && h("p", { class: "error", role: "alert", id: "home-notice" }, this.notice),
      this.state.kind === "refused" &&
        h("button", { class: "danger", id: "forget", onclick: () => this.handlers.forget() }, "Forget this computer and pair again"),
      h("h2", {}, "Sessions"),
      this.sessionList(online),
      h("h2", {}, "New session"),
      online ? this.picker() : h("p", { class: "hint" }, "Available when your computer is online."),
    );
  }

  private sessionList(online: boolean): HTMLElement {
    if (!this.sessions.length) return h("p", { class: "hint", id: "no-sessions" }, online ? "No sessions yet." : "—");
    return h(
      "ul",
      { class: "sessions", id: "sessions" },
      ...this.sessions.map((session) => {
        const waiting = this.waiting.get(session.id);
        const state = session.state === "exited" ? `exited${session.exit ? ` (${session.exit.reason})` : ""}` : session.state;
        return h(
          "li",
          { dataset: { session: session.id, name: session.name } },
          h(
            "button",
            {
              class: "session",
              disabled: session.state === "pending",
              onclick: () => this.handlers.open(session),
            },
            h("strong", {}, session.name),
            h("span", { class: "argv" }, joinArgv(session.argv)),
            h("span", { class: `state ${session.state}` }, state, session.auto_approve === "on" ? " · auto-approve" : ""),
          ),
          waiting && h("p", { class: "approval", role: "status" }, waiting),
          session.state !== "exited"
            ? h("button", { class: "small", "aria-label": `end ${session.name}`, onclick: () => this.kill(session) }, "End")
            : h("button", { class: "small", "aria-label": `remove ${session.name}`, onclick: () => this.remove(session) }, "Remove"),
        );
      }),
    );
  }

  private async remove(session: SessionInfo): Promise<void> {
    if (!this.api) return;
    try {
      await this.api.remove(session.id);
      this.sessionRemoved(session.id);
    } catch (err) {
      this.say((err as Error).message);
    }
  }

  private async kill(session: SessionInfo): Promise<void> {
    if (!this.api || !confirm(`End ${session.name}?`)) return;
    try {
      await this.api.kill(session.id);
    } catch (err) {
      this.say((err as Error).message);
    }
  }

  private picker(): HTMLElement {
    const choices: { name: string; label: string; agent: AgentInfo | null }[] = [];
    for (const agent of this.agents) {
      if (agent.kind === "custom" || agent.detected || agent.name === "shell") {
        choices.push({ name: agent.name, label: agent.label, agent });
      }
    }
    if (!choices.some((c) => c.name === "shell")) choices.unshift({ name: "shell", label: "Shell", agent: null });
    if (!choices.some((c) => c.name === this.selected)) this.selected = "shell";
    const chosen = choices.find((c) => c.name === this.selected)?.agent ?? null;
    const canAuto = Boolean(chosen?.auto_approve_flag);
    const list = h(
      "div",
      { class: "choices", role: "radiogroup", id: "agents" },
      ...choices.map((choice) =>
        h(
          "label",
          { class: `choice ${choice.name === this.selected ? "selected" : ""}`, dataset: { agent: choice.name } },
          h("input", {
            type: "radio",
            name: "agent",
            value: choice.name,
            checked: choice.name === this.selected,
            onchange: () => {
              this.selected = choice.name;
              this.autoApprove = false;
              this.render();
            },
          }),
          h("span", {}, choice.label),
          choice.agent?.kind === "custom" &&
            h(
              "button",
              { type: "button", class: "small", "aria-label": `edit ${choice.name}`, onclick: () => this.edit(choice.agent!) },
              "Edit",
            ),
        ),
      ),
    );
    const cwd = h("input", {
      id: "new-cwd",
      placeholder: chosen?.cwd ?? "home folder",
      value: this.cwd,
      autocapitalize: "off",
      autocorrect: "off",
      spellcheck: false,
      oninput: (e: Event) => (this.cwd = (e.target as HTMLInputElement).value),
    });
    const auto = h("input", {
      type: "checkbox",
      id: "auto-approve",
      role: "switch",
      disabled: !canAuto,
      checked: this.autoApprove && canAuto,
      onchange: (e: Event) => (this.autoApprove = (e.target as HTMLInputElement).checked),
    });
    return h(
      "div",
      { class: "card picker" },
      list,
      h("label", {}, "Working directory", cwd),
      h(
        "label",
        { class: "switch" },
        auto,
        h("span", {}, canAuto ? `Auto-approve (${chosen!.auto_approve_flag}); your computer must confirm` : "Auto-approve (not for this choice)"),
      ),
      h("button", { class: "primary", id: "start-session", onclick: () => this.start(chosen) }, "Start"),
      this.editing ? this.pinForm() : h("button", { class: "link", id: "pin-new", onclick: () => this.edit("new") }, "+ Pin a command"),
    );
  }

  private async start(agent: AgentInfo | null): Promise<void> {
    const api = this.api;
    if (!api) return;
    try {
      const info = await api.createSession({
        ...(agent ? { agent: agent.name } : {}),
        ...(this.cwd.trim() ? { cwd: this.cwd.trim() } : {}),
        ...(this.autoApprove ? { auto_approve: true } : {}),
        ...estimateSize(),
      });
      this.notice = "";
      this.autoApprove = false; // each session asks on its own; never carried over
      if (info.state === "pending") {
        this.waiting.set(info.id, "waiting for confirmation on your computer (loopsy approvals allow)");
        this.sessionEvent(info);
        return;
      }
      this.sessionEvent(info);
      this.handlers.open(info);
    } catch (err) {
      const hint = err instanceof ApiError && err.hint ? ` (${err.hint})` : "";
      this.say(`could not start: ${(err as Error).message}${hint}`);
    }
  }

  private edit(target: AgentInfo | "new" | null): void {
    this.editing = target;
    const agent = target === "new" || target === null ? null : target;
    this.draft = {
      name: agent?.name ?? "",
      label: agent?.label ?? "",
      command: agent ? joinArgv(agent.argv) : "",
      cwd: agent?.cwd ?? "",
    };
    this.render();
  }

  private pinForm(): HTMLElement {
    const agent = this.editing === "new" ? null : this.editing;
    const field = (key: keyof HomeView["draft"], props: Record<string, unknown>) =>
      h("input", {
        ...props,
        id: `pin-${key}`,
        value: this.draft[key],
        autocapitalize: "off",
        autocorrect: "off",
        spellcheck: false,
        oninput: (e: Event) => (this.draft[key] = (e.target as HTMLInputElement).value),
      });
    const name = field("name", { disabled: Boolean(agent), placeholder: "tests" });
    const label = field("label", { placeholder: "Run the tests" });
    const command = field("command", { placeholder: "npm test -- --watch" });
    const dir = field("cwd", { placeholder: "working directory (optional)" });
    const save = async () => {
      if (!this.api) return;
      try {
        const { name, label, command, cwd } = this.draft;
        const argv = splitArgv(command);
        if (!argv.length) throw new Error("type the command to run");
        const pinned = await this.api.pin(name.trim(), label.trim() || name.trim(), argv, cwd.trim() || null);
        this.editing = null;
        this.selected = pinned.name;
        this.notice = "";
        await this.refresh();
      } catch (err) {
        const hint = err instanceof ApiError && err.hint ? ` (${err.hint})` : "";
        this.say(`could not pin: ${(err as Error).message}${hint}`);
      }
    };
    const unpin = async () => {
      if (!this.api || !agent) return;
      try {
        await this.api.unpin(agent.name);
        this.editing = null;
        await this.refresh();
      } catch (err) {
        this.say(`could not unpin: ${(err as Error).message}`);
      }
    };
    return h(
      "div",
      { class: "pin-form", id: "pin-form" },
      h("h3", {}, agent ? `Edit ${agent.name}` : "Pin a command"),
      h("label", {}, "Name", name),
      h("label", {}, "Label", label),
      h("label", {}, "Command", command),
      h("label", {}, "Directory", dir),
      h(
        "div",
        { class: "row" },
        h("button", { class: "primary", id: "pin-save", onclick: save }, "Save on computer"),
        agent && h("button", { class: "danger", id: "pin-remove", onclick: unpin }, "Unpin"),
        h("button", { onclick: () => this.edit(null) }, "Cancel"),
      ),
    );
  }
}
