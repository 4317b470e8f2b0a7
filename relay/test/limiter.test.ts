// The per-address limiter: its alarm deletes a window's events once they are out of every
// window, and then the object's storage, instead of waking again and again.
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { WINDOW } from "../src/limiter";

describe("rate limiter alarms", () => {
  it("clear a window once it has passed, and stop", async () => {
    const stub = env.LIMITS.get(env.LIMITS.idFromName("alarm-test"));
    expect(await stub.hit("register", 5, WINDOW)).toBe(0);
    expect(await stub.hit("failure", 5, WINDOW)).toBe(0);
    // The window has passed (as if the alarm ran when it was due).
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE events SET at = at - ?", WINDOW + 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await runInDurableObject(stub, async (_, state) => ({
      alarm: await state.storage.getAlarm(),
      tables: state.storage.sql
        .exec("SELECT name FROM sqlite_master WHERE type = 'table'")
        .toArray()
        .filter((t) => !String(t.name).startsWith("_cf")),
    }));
    expect(after.alarm).toBeNull();
    expect(after.tables).toEqual([]);
  });

  it("keep events still inside a window, and wake when they leave it", async () => {
    const stub = env.LIMITS.get(env.LIMITS.idFromName("alarm-test-2"));
    expect(await stub.hit("register", 5, WINDOW)).toBe(0);
    await runInDurableObject(stub, (_, state) => {
      state.storage.sql.exec("UPDATE events SET at = at - ?", WINDOW / 2);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await runInDurableObject(stub, async (_, state) => ({
      alarm: await state.storage.getAlarm(),
      events: state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events").one().n,
    }));
    expect(after.events).toBe(1);
    // Due when the event leaves its window (about WINDOW / 2 from now), not in a second.
    expect(after.alarm).not.toBeNull();
    expect((after.alarm as number) - Date.now()).toBeGreaterThan((WINDOW / 2 - 5) * 1000);
  });
});
