// The Durable Objects in the Workers runtime: what they store, what their alarms clean up,
// and the pepper's signed ids. (The wire protocol itself is checked end to end by the
// Python conformance suite against `wrangler dev`.)
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ABANDONED_AFTER } from "../src/device";
import { addressKey } from "../src/index";
import { Pepper, sha256Hex } from "../src/keys";

const worker = exports.default;

let clients = 0;

async function register(): Promise<{ device_id: string; credential: string }> {
  const ip = `192.0.2.${++clients}`; // each registration from its own address: no limit
  const r = await worker.fetch("http://relay/v1/devices", {
    method: "POST",
    body: "{}",
    headers: { "cf-connecting-ip": ip },
  });
  expect(r.status).toBe(201);
  return (await r.json()) as { device_id: string; credential: string };
}

function bearer(credential: string): Record<string, string> {
  return { authorization: `Bearer ${credential}` };
}

describe("device records", () => {
  it("stores keyed hashes, never sha256(secret)", async () => {
    const device = await register();
    const secret = device.credential.split(".")[1] as string;
    const raw = Uint8Array.from(atob(secret.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    const plain = await sha256Hex(raw);
    const stub = env.DEVICES.get(env.DEVICES.idFromName(device.device_id));
    const stored = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec<{ secret_record: string }>("SELECT secret_record FROM device").one(),
    );
    expect(stored.secret_record).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.secret_record).not.toBe(plain);
    const pepper = await Pepper.from(env.PAIR_TOKEN_SECRET as string);
    expect(stored.secret_record).toBe(await pepper.record("device", plain));
  });

  it("signs device ids with the pepper", async () => {
    const device = await register();
    const pepper = await Pepper.from(env.PAIR_TOKEN_SECRET as string);
    expect(await pepper.validDeviceId(device.device_id)).toBe(true);
    const other = await Pepper.from("another-pepper-0123456789abcdef0123456789");
    expect(await other.validDeviceId(device.device_id)).toBe(false);
    const flipped = device.device_id.slice(0, 15) + (device.device_id.endsWith("0") ? "1" : "0");
    expect(await pepper.validDeviceId(flipped)).toBe(false);
  });
});

describe("alarms", () => {
  it("delete expired pairs and keep open ones", async () => {
    const device = await register();
    const pair = (id: string, ttl: number) =>
      worker.fetch("http://relay/v1/pairs", {
        method: "POST",
        headers: bearer(device.credential),
        body: JSON.stringify({ pair_id: id, token_hash: id.padEnd(64, "0"), ttl }),
      });
    expect((await pair("aaaaaaaaaaaaaaaa", 1)).status).toBe(201);
    expect((await pair("bbbbbbbbbbbbbbbb", 600)).status).toBe(201);
    const stub = env.DEVICES.get(env.DEVICES.idFromName(device.device_id));
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE pairs SET expires_at = 0 WHERE pair_id = 'aaaaaaaaaaaaaaaa'");
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const left = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec<{ pair_id: string }>("SELECT pair_id FROM pairs").toArray(),
    );
    expect(left.map((r) => r.pair_id)).toEqual(["bbbbbbbbbbbbbbbb"]);
    // The next cleanup is due when the open pair expires.
    const alarm = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect((alarm as number) / 1000).toBeGreaterThan(Date.now() / 1000 + 500);
  });

  it("drop a registration nobody ever used", async () => {
    const device = await register();
    const stub = env.DEVICES.get(env.DEVICES.idFromName(device.device_id));
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE device SET created_at = ?", Date.now() / 1000 - ABANDONED_AFTER - 5);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const r = await worker.fetch("http://relay/v1/device", { headers: bearer(device.credential) });
    expect(r.status).toBe(401);
    const tables = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray(),
    );
    expect(tables.filter((t) => !String(t.name).startsWith("_cf"))).toEqual([]);
  });
});

describe("per-address limits", () => {
  it("count registrations per address, with Retry-After", async () => {
    const from = (ip: string) =>
      worker.fetch("http://relay/v1/devices", { method: "POST", body: "{}", headers: { "cf-connecting-ip": ip } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await from("203.0.113.7")).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
    const limited = await from("203.0.113.7");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await from("203.0.113.8")).status).toBe(201);
  });

  it("key IPv6 clients by their /64", () => {
    expect(addressKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:2::9")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("198.51.100.4")).toBe("198.51.100.4");
    expect(addressKey(null)).toBe("unknown");
  });
});
