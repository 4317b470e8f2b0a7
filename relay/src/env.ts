// The Worker's bindings and settings (wrangler.toml [vars]; secrets set with
// `wrangler secret put`, which `loopsy relay deploy` does through stdin).

import type { DeviceRelay } from "./device";
import { MIN_PEPPER_LENGTH, Pepper } from "./keys";
import type { PairIndex } from "./pairindex";
import type { RateLimiter } from "./limiter";

export interface Env {
  DEVICES: DurableObjectNamespace<DeviceRelay>;
  PAIRS: DurableObjectNamespace<PairIndex>;
  LIMITS: DurableObjectNamespace<RateLimiter>;
  ASSETS?: Fetcher;
  PAIR_TOKEN_SECRET?: string;
  REGISTRATION_SECRET?: string;
  REGISTER_RATE?: string;
  FAILED_AUTH_RATE?: string;
  MAX_PAIR_TTL?: string;
}

export interface Settings {
  registerRate: number;
  failedAuthRate: number;
  maxPairTtl: number;
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export function settings(env: Env): Settings {
  return {
    registerRate: Math.floor(positive(env.REGISTER_RATE, 5)),
    failedAuthRate: Math.floor(positive(env.FAILED_AUTH_RATE, 30)),
    maxPairTtl: Math.min(positive(env.MAX_PAIR_TTL, 900), 86400),
  };
}

const peppers = new Map<string, Promise<Pepper>>();

/** The pepper (keys.ts), or null when PAIR_TOKEN_SECRET is missing or too short. */
export function pepper(env: Env): Promise<Pepper> | null {
  const secret = env.PAIR_TOKEN_SECRET;
  if (typeof secret !== "string" || secret.length < MIN_PEPPER_LENGTH) return null;
  let found = peppers.get(secret);
  if (found === undefined) {
    found = Pepper.from(secret);
    peppers.clear(); // one secret at a time: a rotated one replaces the old
    peppers.set(secret, found);
  }
  return found;
}
