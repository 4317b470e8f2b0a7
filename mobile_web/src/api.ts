// The daemon's API as the phone uses it, over the tunnel: the same paths and JSON as any
// other client (loopsy/protocol/sessions.py, agents.py, approvals.py, status.py).
import type { TunnelMux } from "./net/mux.js";

export interface Status {
  version: string;
  node_name: string;
  node_id: string;
  uptime: number;
}

export interface SessionInfo {
  id: string;
  name: string;
  agent: string | null;
  argv: string[];
  cwd: string;
  cols: number;
  rows: number;
  created: number;
  state: "pending" | "running" | "exited";
  exit: { reason: string; code: number | null; signal: string | null } | null;
  attached: number;
  auto_approve: "off" | "pending" | "on" | "denied";
  approval_id: string | null;
}

export interface AgentInfo {
  name: string;
  label: string;
  kind: "builtin" | "custom";
  argv: string[];
  cwd: string | null;
  detected: boolean;
  detection: string;
  auto_approve_flag: string | null;
}

export interface Approval {
  id: string;
  kind: string;
  subject: string;
  summary: string;
  state: "pending" | "allowed" | "denied" | "expired" | "cancelled";
}

export interface NewSession {
  agent?: string;
  argv?: string[];
  cwd?: string;
  cols: number;
  rows: number;
  auto_approve?: boolean;
}

const V1 = "/api/v1";
const seg = encodeURIComponent;

export class Api {
  constructor(readonly mux: TunnelMux) {}

  status(): Promise<Status> {
    return this.mux.call("GET", `${V1}/status`);
  }

  async sessions(): Promise<SessionInfo[]> {
    return (await this.mux.call<{ sessions: SessionInfo[] }>("GET", `${V1}/sessions`)).sessions;
  }

  session(id: string): Promise<SessionInfo> {
    return this.mux.call("GET", `${V1}/sessions/${seg(id)}`);
  }

  createSession(body: NewSession): Promise<SessionInfo> {
    return this.mux.call("POST", `${V1}/sessions`, body);
  }

  kill(id: string): Promise<SessionInfo> {
    return this.mux.call("POST", `${V1}/sessions/${seg(id)}/kill`, { grace: 3 });
  }

  remove(id: string): Promise<void> {
    return this.mux.call("DELETE", `${V1}/sessions/${seg(id)}?force=true`);
  }

  async agents(): Promise<AgentInfo[]> {
    return (await this.mux.call<{ agents: AgentInfo[] }>("GET", `${V1}/agents`)).agents;
  }

  pin(name: string, label: string, argv: string[], cwd: string | null): Promise<AgentInfo> {
    return this.mux.call("PUT", `${V1}/agents/custom/${seg(name)}`, { label, argv, cwd });
  }

  unpin(name: string): Promise<void> {
    return this.mux.call("DELETE", `${V1}/agents/custom/${seg(name)}`);
  }

  async approvals(): Promise<Approval[]> {
    return (await this.mux.call<{ approvals: Approval[] }>("GET", `${V1}/approvals`)).approvals;
  }

  attachPath(id: string): string {
    return `${V1}/sessions/${seg(id)}/attach`;
  }

  eventsPath(): string {
    return `${V1}/events?topics=sessions,approvals,agents`;
  }
}
