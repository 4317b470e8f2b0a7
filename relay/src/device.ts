// One Durable Object per device: its records (SQLite) and its WebSockets (the daemon link,
// phones, pairing phones), spliced by the relay protocol of docs/PROTOCOL.md.
//
// Everything is accepted with the WebSocket Hibernation API, so an idle device costs no
// memory: the object keeps nothing in memory between events. Who is who lives in each
// socket's tags and attachment, the rest in SQLite, and both survive hibernation.
//
//   tags       "device"                                    the daemon link
//              "phone", "conn:<n>", "phone:<id>" | "pair:<id>"  a phone connection
//   attachment {role, conn, kind, ident, done}             done = the link was told it left

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";
import { pepper as pepperOf, settings } from "./env";
import { ApiProblem, json, noContent, readBody } from "./http";
import { equalText, sha256Hex, type Pepper } from "./keys";
import {
  checkId,
  Close,
  clipReason,
  closeFrame,
  control,
  decodeClose,
  decodeLink,
  encodeLink,
  LINK_HEADER,
  LinkType,
  MAX_CONN_ID,
  MAX_MESSAGE,
  offeredProtocols,
  openFrame,
  parseAuth,
  phoneCloseCode,
  ProtocolError,
  SUBPROTOCOL,
  type Credential,
} from "./wire";

export const MAX_OPEN_PAIRS = 20;
export const MAX_PHONES = 100;
export const MAX_PAIR_CONNECTIONS = 5;
// A device that registered but never connected nor paired is dropped after this long.
export const ABANDONED_AFTER = 7 * 24 * 3600;
const HEX64 = /^[0-9a-f]{64}$/;
const OPEN_STATE = 1;

interface LinkAttachment {
  role: "device";
  replaced: boolean;
}

interface PhoneAttachment {
  role: "phone";
  conn: number;
  kind: "phone" | "pair";
  ident: string;
  done: boolean;
}

type Attachment = LinkAttachment | PhoneAttachment;

interface DeviceRow {
  device_id: string;
  secret_record: string;
  created_at: number;
  last_seen: number | null;
  next_conn: number;
  [key: string]: SqlStorageValue;
}

interface PairRow {
  pair_id: string;
  token_record: string;
  expires_at: number;
  connections: number;
  state: string;
  [key: string]: SqlStorageValue;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS device (
     one INTEGER PRIMARY KEY CHECK (one = 1),
     device_id TEXT NOT NULL,
     secret_record TEXT NOT NULL,
     created_at REAL NOT NULL,
     last_seen REAL,
     next_conn INTEGER NOT NULL DEFAULT 0)`,
  `CREATE TABLE IF NOT EXISTS pairs (
     pair_id TEXT PRIMARY KEY,
     token_record TEXT NOT NULL UNIQUE,
     expires_at REAL NOT NULL,
     connections INTEGER NOT NULL DEFAULT 0,
     state TEXT NOT NULL DEFAULT 'open')`,
  `CREATE TABLE IF NOT EXISTS phones (
     phone_id TEXT PRIMARY KEY,
     secret_record TEXT NOT NULL,
     created_at REAL NOT NULL,
     last_seen REAL)`,
];

function now(): number {
  return Date.now() / 1000;
}

function attachment(ws: WebSocket): Attachment | null {
  return (ws.deserializeAttachment() as Attachment | null) ?? null;
}

export class DeviceRelay extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  // Tables are made at registration: an object that was only ever probed for an unknown
  // device keeps no storage at all.
  private ready: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.ready =
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'device'").toArray()
        .length > 0;
  }

  private createTables(): void {
    for (const statement of SCHEMA) this.sql.exec(statement);
    this.ready = true;
  }

  private async dropEverything(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.ready = false;
  }

  // -- called by the Worker ------------------------------------------------------------

  /** Create this device's record; false if the object already holds one. */
  async register(deviceId: string, secretRecord: string): Promise<boolean> {
    if (this.device() !== null) return false;
    this.createTables();
    const at = now();
    this.sql.exec(
      "INSERT INTO device (one, device_id, secret_record, created_at) VALUES (1, ?, ?, ?)",
      deviceId,
      secretRecord,
      at,
    );
    await this.scheduleCleanup();
    return true;
  }

  override async fetch(request: Request): Promise<Response> {
    try {
      return await this.route(request);
    } catch (error) {
      if (error instanceof ApiProblem) return error.response();
      throw error;
    }
  }

  private async route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method;
    if (path === "/v1/device/connect") return this.connectDevice(request);
    if (path === "/v1/phone/connect") return this.connectPhone(request);
    if (path === "/v1/pair/connect") return this.connectPairing(request);
    await this.authenticateDevice(request);
    if (path === "/v1/device") return this.info();
    if (path === "/v1/pairs" && method === "POST") return this.issuePair(await readBody(request));
    if (path === "/v1/phones" && method === "POST") return this.addPhone(await readBody(request));
    if (path === "/v1/phones" && method === "GET") return this.listPhones();
    const [, , collection, ident] = path.split("/");
    if (collection === "pairs" && method === "DELETE") return this.burnPair(pathId(ident, "pair_id"));
    if (collection === "phones" && method === "DELETE") return this.revokePhone(pathId(ident, "phone_id"));
    throw new ApiProblem(404, "not_found", "no such route");
  }

  // -- records ----------------------------------------------------------------------------

  private device(): DeviceRow | null {
    if (!this.ready) return null;
    const rows = this.sql.exec<DeviceRow>("SELECT * FROM device WHERE one = 1").toArray();
    return rows[0] ?? null;
  }

  private async pepper(): Promise<Pepper> {
    const found = pepperOf(this.env);
    if (found === null) throw new ApiProblem(503, "unavailable", "the relay has no PAIR_TOKEN_SECRET");
    return found;
  }

  private async deviceMatches(credential: Credential): Promise<boolean> {
    const row = this.device();
    const presented = await (await this.pepper()).record("device", await sha256Hex(credential.secret));
    // An unknown device still costs one comparison.
    const ok = equalText(presented, row?.secret_record ?? "0".repeat(64));
    return ok && row !== null && row.device_id === credential.id;
  }

  private async authenticateDevice(request: Request): Promise<void> {
    const header = request.headers.get("authorization");
    if (header === null) {
      throw new ApiProblem(401, "unauthorized", "missing device credential", "Authorization: Bearer <id>.<s>");
    }
    let credential: Credential;
    try {
      const auth = parseAuth([], header);
      if (auth.kind !== "device") throw new ProtocolError("a device credential is needed");
      credential = auth.credential;
    } catch (error) {
      if (error instanceof ProtocolError) throw new ApiProblem(401, "unauthorized", error.message);
      throw error;
    }
    if (!(await this.deviceMatches(credential))) {
      throw new ApiProblem(401, "unauthorized", "unknown device or wrong credential");
    }
  }

  private info(): Response {
    const row = this.device() as DeviceRow;
    const phones = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM phones").one().n;
    return json({
      device_id: row.device_id,
      created_at: row.created_at,
      connected: this.link() !== null,
      phones,
    });
  }

  private async issuePair(body: Record<string, unknown>): Promise<Response> {
    const pairId = fieldId(body, "pair_id");
    const tokenHash = body.token_hash;
    const ttl = body.ttl === undefined ? 300 : body.ttl;
    if (typeof tokenHash !== "string" || !HEX64.test(tokenHash)) {
      throw new ApiProblem(422, "invalid", "token_hash must be 64 lowercase hex digits");
    }
    if (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl < 1 || ttl > 86400) {
      throw new ApiProblem(422, "invalid", "ttl must be a number of seconds, 1..86400");
    }
    const at = now();
    const open = this.sql
      .exec<{ n: number }>(
        "SELECT COUNT(*) AS n FROM pairs WHERE state = 'open' AND expires_at > ?",
        at,
      )
      .one().n;
    if (open >= MAX_OPEN_PAIRS) {
      throw new ApiProblem(429, "rate_limited", "too many open pair tokens", undefined, 60);
    }
    const capped = Math.min(ttl, settings(this.env).maxPairTtl);
    const expiresAt = at + capped;
    const pepper = await this.pepper();
    const tokenRecord = await pepper.record("pair", tokenHash);
    const taken = this.sql
      .exec("SELECT 1 FROM pairs WHERE pair_id = ? OR token_record = ?", pairId, tokenRecord)
      .toArray();
    if (taken.length > 0) throw new ApiProblem(409, "conflict", "pair id or token already used");
    const deviceId = (this.device() as DeviceRow).device_id;
    const index = this.env.PAIRS.get(this.env.PAIRS.idFromName(await pepper.name("pair", tokenHash)));
    if (!(await index.claim({ deviceId, pairId }, expiresAt))) {
      throw new ApiProblem(409, "conflict", "pair id or token already used");
    }
    this.sql.exec(
      "INSERT INTO pairs (pair_id, token_record, expires_at) VALUES (?, ?, ?)",
      pairId,
      tokenRecord,
      expiresAt,
    );
    await this.scheduleCleanup();
    return json({ pair_id: pairId, expires_at: expiresAt, ttl: capped }, 201);
  }

  private async burnPair(pairId: string): Promise<Response> {
    const changed = this.sql.exec("UPDATE pairs SET state = 'burned' WHERE pair_id = ?", pairId);
    if (changed.rowsWritten === 0) throw new ApiProblem(404, "not_found", "no such pair");
    for (const ws of this.ctx.getWebSockets(`pair:${pairId}`)) {
      this.closePhone(ws, Close.GONE, "pairing burned");
    }
    return noContent();
  }

  private async addPhone(body: Record<string, unknown>): Promise<Response> {
    const pairId = fieldId(body, "pair_id");
    const phoneId = fieldId(body, "phone_id");
    const credentialHash = body.credential_hash;
    if (typeof credentialHash !== "string" || !HEX64.test(credentialHash)) {
      throw new ApiProblem(422, "invalid", "credential_hash must be 64 lowercase hex digits");
    }
    const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM phones").one().n;
    if (count >= MAX_PHONES) {
      throw new ApiProblem(409, "conflict", `a device may have at most ${MAX_PHONES} phones`);
    }
    const record = await (await this.pepper()).record("phone", credentialHash);
    const pair = this.sql.exec<PairRow>("SELECT * FROM pairs WHERE pair_id = ?", pairId).toArray()[0];
    if (pair === undefined || pair.state !== "open" || pair.expires_at <= now()) {
      throw new ApiProblem(404, "not_found", "pair is unknown, used, expired or burned");
    }
    if (this.sql.exec("SELECT 1 FROM phones WHERE phone_id = ?", phoneId).toArray().length > 0) {
      throw new ApiProblem(409, "conflict", "phone id already exists");
    }
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("UPDATE pairs SET state = 'used' WHERE pair_id = ?", pairId);
      this.sql.exec(
        "INSERT INTO phones (phone_id, secret_record, created_at) VALUES (?, ?, ?)",
        phoneId,
        record,
        now(),
      );
    });
    return json({ phone_id: phoneId }, 201);
  }

  private listPhones(): Response {
    const live = new Set<string>();
    for (const ws of this.livePhones()) {
      const att = attachment(ws) as PhoneAttachment;
      if (att.kind === "phone") live.add(att.ident);
    }
    const rows = this.sql
      .exec<{ phone_id: string; created_at: number; last_seen: number | null }>(
        "SELECT phone_id, created_at, last_seen FROM phones ORDER BY created_at",
      )
      .toArray();
    return json({
      phones: rows.map((r) => ({
        phone_id: r.phone_id,
        created_at: r.created_at,
        last_seen: r.last_seen,
        connected: live.has(r.phone_id),
      })),
    });
  }

  private revokePhone(phoneId: string): Response {
    const deleted = this.sql.exec("DELETE FROM phones WHERE phone_id = ?", phoneId);
    if (deleted.rowsWritten === 0) throw new ApiProblem(404, "not_found", "no such phone");
    for (const ws of this.ctx.getWebSockets(`phone:${phoneId}`)) {
      this.closePhone(ws, Close.REVOKED, "revoked");
    }
    return noContent();
  }

  // -- WebSockets: admission ---------------------------------------------------------------

  private credentialFor(request: Request, kind: "device" | "phone" | "pair") {
    const protocols = offeredProtocols(request.headers.get("sec-websocket-protocol"));
    if (!protocols.includes(SUBPROTOCOL)) {
      throw new ApiProblem(400, "bad_request", `offer the subprotocol ${SUBPROTOCOL}`);
    }
    const authorization = kind === "device" ? request.headers.get("authorization") : null;
    try {
      const auth = parseAuth(protocols, authorization);
      if (auth.kind !== kind) throw new ProtocolError(`this route takes a ${kind} credential`);
      return auth;
    } catch (error) {
      if (error instanceof ProtocolError) throw new ApiProblem(401, "unauthorized", error.message);
      throw error;
    }
  }

  private async connectDevice(request: Request): Promise<Response> {
    const auth = this.credentialFor(request, "device");
    if (auth.kind !== "device" || !(await this.deviceMatches(auth.credential))) {
      throw new ApiProblem(401, "unauthorized", "unknown device or wrong credential");
    }
    for (const old of this.ctx.getWebSockets("device")) {
      const att = attachment(old) as LinkAttachment | null;
      if (att?.replaced) continue;
      old.serializeAttachment({ role: "device", replaced: true } satisfies LinkAttachment);
      safeClose(old, Close.REPLACED, "replaced by a newer connection");
    }
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, ["device"]);
    server.serializeAttachment({ role: "device", replaced: false } satisfies LinkAttachment);
    this.sql.exec("UPDATE device SET last_seen = ? WHERE one = 1", now());
    server.send(control({ type: "hello", device_id: auth.deviceId, protocol: 1 }));
    for (const phone of this.livePhones()) this.announce(server, phone);
    return upgraded(client);
  }

  private async connectPhone(request: Request): Promise<Response> {
    const auth = this.credentialFor(request, "phone");
    if (auth.kind !== "phone") throw new ApiProblem(401, "unauthorized", "a phone credential is needed");
    const device = this.device();
    const row = device === null ? undefined : this.sql
      .exec<{ secret_record: string }>(
        "SELECT secret_record FROM phones WHERE phone_id = ?",
        auth.credential.id,
      )
      .toArray()[0];
    const presented = await (await this.pepper()).record("phone", await sha256Hex(auth.credential.secret));
    const ok = equalText(presented, row?.secret_record ?? "0".repeat(64));
    if (!ok || row === undefined || device === null || device.device_id !== auth.deviceId) {
      throw new ApiProblem(401, "unauthorized", "unknown phone or wrong credential");
    }
    return this.acceptPhone("phone", auth.credential.id);
  }

  private async connectPairing(request: Request): Promise<Response> {
    const auth = this.credentialFor(request, "pair");
    if (auth.kind !== "pair") throw new ApiProblem(401, "unauthorized", "a pair token is needed");
    const pairId = request.headers.get("x-loopsy-pair-id") ?? "";
    const tokenRecord = await (await this.pepper()).record("pair", await sha256Hex(auth.token));
    const pair = !this.ready ? undefined : this.sql
      .exec<PairRow>("SELECT * FROM pairs WHERE pair_id = ?", pairId)
      .toArray()[0];
    const matches = equalText(tokenRecord, pair?.token_record ?? "0".repeat(64));
    if (pair === undefined || !matches || pair.state !== "open" || pair.expires_at <= now()) {
      throw new ApiProblem(404, "not_found", "pair token unknown, used, expired or burned");
    }
    const connections = pair.connections + 1;
    const state = connections > MAX_PAIR_CONNECTIONS ? "burned" : "open";
    this.sql.exec(
      "UPDATE pairs SET connections = ?, state = ? WHERE pair_id = ?",
      connections,
      state,
      pairId,
    );
    if (state !== "open") {
      throw new ApiProblem(404, "not_found", "pair token unknown, used, expired or burned");
    }
    return this.acceptPhone("pair", pairId);
  }

  private acceptPhone(kind: "phone" | "pair", ident: string): Response {
    const conn = this.nextConn();
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, ["phone", `conn:${conn}`, `${kind}:${ident}`]);
    server.serializeAttachment({ role: "phone", conn, kind, ident, done: false } satisfies PhoneAttachment);
    const link = this.link();
    if (link === null) server.send(control({ type: "device", online: false }));
    else this.announce(link, server);
    return upgraded(client);
  }

  private nextConn(): number {
    let conn = (this.device() as DeviceRow).next_conn;
    for (let tries = 0; tries <= this.ctx.getWebSockets("phone").length; tries++) {
      conn = (conn % MAX_CONN_ID) + 1;
      if (this.ctx.getWebSockets(`conn:${conn}`).length === 0) break;
    }
    this.sql.exec("UPDATE device SET next_conn = ? WHERE one = 1", conn);
    return conn;
  }

  // -- WebSockets: routing ---------------------------------------------------------------

  /** The current daemon link, if one is open. */
  private link(): WebSocket | null {
    for (const ws of this.ctx.getWebSockets("device")) {
      const att = attachment(ws) as LinkAttachment | null;
      if (ws.readyState === OPEN_STATE && att !== null && !att.replaced) return ws;
    }
    return null;
  }

  private livePhones(): WebSocket[] {
    return this.ctx.getWebSockets("phone").filter((ws) => {
      const att = attachment(ws) as PhoneAttachment | null;
      return ws.readyState === OPEN_STATE && att !== null && !att.done;
    });
  }

  private phoneByConn(conn: number): WebSocket | null {
    for (const ws of this.ctx.getWebSockets(`conn:${conn}`)) {
      const att = attachment(ws) as PhoneAttachment | null;
      if (att !== null && !att.done && ws.readyState === OPEN_STATE) return ws;
    }
    return null;
  }

  private announce(link: WebSocket, phone: WebSocket): void {
    const att = attachment(phone) as PhoneAttachment;
    link.send(openFrame(att.conn, att.kind, att.ident));
    phone.send(control({ type: "device", online: true }));
    if (att.kind === "phone") {
      this.sql.exec("UPDATE phones SET last_seen = ? WHERE phone_id = ?", now(), att.ident);
    }
  }

  /** Close a phone connection and tell the daemon link, once. */
  private closePhone(ws: WebSocket, code: number, reason: string): void {
    const att = attachment(ws) as PhoneAttachment | null;
    if (att === null || att.role !== "phone") return;
    if (!att.done) {
      ws.serializeAttachment({ ...att, done: true } satisfies PhoneAttachment);
      this.link()?.send(closeFrame(att.conn, 1000, "phone left"));
    }
    safeClose(ws, code, reason);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = attachment(ws);
    if (att === null) return;
    if (att.role === "device") this.fromLink(ws, att, message);
    else this.fromPhone(ws, message);
  }

  private fromLink(ws: WebSocket, att: LinkAttachment, message: string | ArrayBuffer): void {
    if (att.replaced) return;
    if (typeof message === "string") {
      safeClose(ws, Close.PROTOCOL, "the daemon link carries binary frames only");
      return;
    }
    if (message.byteLength > MAX_MESSAGE + LINK_HEADER) {
      safeClose(ws, Close.TOO_BIG, "message too big");
      return;
    }
    let frame;
    try {
      frame = decodeLink(new Uint8Array(message));
    } catch (error) {
      safeClose(ws, Close.PROTOCOL, error instanceof Error ? error.message : "bad link frame");
      return;
    }
    if (frame.type === LinkType.OPEN) {
      safeClose(ws, Close.PROTOCOL, "OPEN is sent by the relay only");
      return;
    }
    const phone = this.phoneByConn(frame.conn);
    if (phone === null) return; // the phone left while this was in flight
    if (frame.type === LinkType.DATA) {
      phone.send(frame.body);
      return;
    }
    let code: number = Close.INTERNAL;
    let reason = "";
    try {
      ({ code, reason } = decodeClose(frame.body));
      code = phoneCloseCode(code);
    } catch {
      code = Close.INTERNAL;
    }
    this.closePhone(phone, code, reason);
  }

  private fromPhone(ws: WebSocket, message: string | ArrayBuffer): void {
    const att = attachment(ws) as PhoneAttachment;
    if (att.done) return;
    if (typeof message === "string") {
      this.closePhone(ws, Close.PROTOCOL, "phones send binary frames only");
      return;
    }
    if (message.byteLength > MAX_MESSAGE) {
      this.closePhone(ws, Close.TOO_BIG, "message too big");
      return;
    }
    // The device is offline: dropped; the phone restarts its handshake when it returns.
    this.link()?.send(encodeLink(LinkType.DATA, att.conn, new Uint8Array(message)));
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.gone(ws);
    if (code !== 1005 && code !== 1006 && code !== 1015) {
      safeClose(ws, code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason);
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.gone(ws);
  }

  private gone(ws: WebSocket): void {
    const att = attachment(ws);
    if (att === null) return;
    if (att.role === "phone") {
      if (!att.done) {
        ws.serializeAttachment({ ...att, done: true } satisfies PhoneAttachment);
        this.link()?.send(closeFrame(att.conn, 1000, "phone left"));
      }
      return;
    }
    if (att.replaced) return; // a newer link owns the phones
    ws.serializeAttachment({ role: "device", replaced: true } satisfies LinkAttachment);
    this.sql.exec("UPDATE device SET last_seen = ? WHERE one = 1", now());
    const offline = control({ type: "device", online: false });
    for (const phone of this.livePhones()) phone.send(offline);
  }

  // -- cleanup ------------------------------------------------------------------------------

  /** The alarm runs at the next pair expiry, or when an unused registration is abandoned. */
  private async scheduleCleanup(): Promise<void> {
    const next = this.nextCleanup();
    if (next === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next * 1000) await this.ctx.storage.setAlarm(next * 1000);
  }

  private nextCleanup(): number | null {
    if (!this.ready) return null;
    const pair = this.sql
      .exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM pairs")
      .one().at;
    const row = this.device();
    const abandon = row !== null && row.last_seen === null ? row.created_at + ABANDONED_AFTER : null;
    const times = [pair, abandon].filter((t): t is number => t !== null);
    return times.length > 0 ? Math.min(...times) + 1 : null;
  }

  override async alarm(): Promise<void> {
    if (!this.ready) {
      await this.dropEverything();
      return;
    }
    const at = now();
    this.sql.exec("DELETE FROM pairs WHERE expires_at <= ?", at);
    const row = this.device();
    const phones = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM phones").one().n;
    const abandoned =
      row !== null &&
      row.last_seen === null &&
      phones === 0 &&
      row.created_at + ABANDONED_AFTER <= at &&
      this.ctx.getWebSockets().length === 0;
    if (row === null || abandoned) {
      await this.dropEverything();
      return;
    }
    await this.scheduleCleanup();
  }
}

function upgraded(client: WebSocket): Response {
  return new Response(null, {
    status: 101,
    webSocket: client,
    headers: { "sec-websocket-protocol": SUBPROTOCOL },
  });
}

function safeClose(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, clipReason(reason));
  } catch {
    // already closing or closed
  }
}

function fieldId(body: Record<string, unknown>, name: string): string {
  try {
    return checkId(body[name], name);
  } catch (error) {
    throw new ApiProblem(422, "invalid", error instanceof Error ? error.message : `bad ${name}`);
  }
}

function pathId(value: string | undefined, name: string): string {
  try {
    return checkId(value, name);
  } catch (error) {
    throw new ApiProblem(404, "not_found", error instanceof Error ? error.message : `bad ${name}`);
  }
}
