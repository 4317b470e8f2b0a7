// Where a pair token leads. A pairing phone presents only its token, so the Worker needs to
// find the device: each open token has a tiny Durable Object, named by a keyed hash of the
// token's hash (keys.ts), that holds the device id and pair id until the token expires.
// The device's own object stays the authority on the pair (open, used, burned, attempts);
// this one only points the way, and deletes itself when the token expires.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "./env";

export interface PairTarget {
  deviceId: string;
  pairId: string;
}

export class PairIndex extends DurableObject<Env> {
  /** Point this token at ``target`` until ``expiresAt`` (seconds); false if already taken. */
  async claim(target: PairTarget, expiresAt: number): Promise<boolean> {
    const storage = this.ctx.storage;
    const existing = await storage.get<PairTarget>("target");
    if (existing !== undefined) {
      return existing.deviceId === target.deviceId && existing.pairId === target.pairId;
    }
    await storage.put({ target, expiresAt });
    await storage.setAlarm(expiresAt * 1000);
    return true;
  }

  async lookup(): Promise<PairTarget | null> {
    const storage = this.ctx.storage;
    const expiresAt = await storage.get<number>("expiresAt");
    if (expiresAt === undefined || expiresAt <= Date.now() / 1000) return null;
    return (await storage.get<PairTarget>("target")) ?? null;
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}
