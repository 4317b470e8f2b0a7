// Per-address rate limits that hold on *.workers.dev: one Durable Object per client
// address (named by a keyed hash of it, see keys.ts), a sliding log of events per bucket
// in its SQLite storage. Exact across isolates and data centres, unlike the Cache API
// (which is a no-op on workers.dev) or per-isolate memory. An alarm deletes the object's
// storage once its windows are empty.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";

export type Bucket = "register" | "failure";

// Every limit counts events over this many seconds (index.ts passes it as ``period``).
export const WINDOW = 60;

export class RateLimiter extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS events (bucket TEXT NOT NULL, at REAL NOT NULL)",
    );
    this.sql.exec("CREATE INDEX IF NOT EXISTS events_by_bucket ON events (bucket, at)");
  }

  /** Seconds until an event in ``bucket`` may happen (0 = now); records nothing. */
  async wait(bucket: Bucket, limit: number, period: number): Promise<number> {
    return this.retryAfter(bucket, limit, period, Date.now() / 1000);
  }

  /** Record an event unless limited; 0 if recorded, else the seconds to wait. */
  async hit(bucket: Bucket, limit: number, period: number): Promise<number> {
    const now = Date.now() / 1000;
    const wait = this.retryAfter(bucket, limit, period, now);
    if (wait > 0) return wait;
    this.sql.exec("INSERT INTO events (bucket, at) VALUES (?, ?)", bucket, now);
    if ((await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm((now + period) * 1000);
    }
    return 0;
  }

  private retryAfter(bucket: Bucket, limit: number, period: number, now: number): number {
    this.sql.exec("DELETE FROM events WHERE bucket = ? AND at <= ?", bucket, now - period);
    const rows = this.sql
      .exec<{ n: number; first: number | null }>(
        "SELECT COUNT(*) AS n, MIN(at) AS first FROM events WHERE bucket = ?",
        bucket,
      )
      .one();
    if (rows.n < limit || rows.first === null) return 0;
    return Math.max(0.001, rows.first + period - now);
  }

  override async alarm(): Promise<void> {
    const now = Date.now() / 1000;
    // An event older than the window counts for nothing: delete it, so the next alarm (when
    // the newest event leaves its window) finds fewer left, and the last one none.
    this.sql.exec("DELETE FROM events WHERE at <= ?", now - WINDOW);
    const left = this.sql
      .exec<{ last: number | null }>("SELECT MAX(at) AS last FROM events")
      .one().last;
    if (left === null) {
      await this.ctx.storage.deleteAll();
      return;
    }
    await this.ctx.storage.setAlarm(Math.max(now + 1, left + WINDOW) * 1000);
  }
}
