import { readFileSync } from "node:fs";
import { join } from "node:path";

export function vectors<T = any>(name: string): T {
  const dir = process.env.LOOPSY_VECTORS;
  if (!dir) throw new Error("LOOPSY_VECTORS is not set: run the tests with `npm test`");
  return JSON.parse(readFileSync(join(dir, name), "utf8")) as T;
}
