// Randomness for keys: crypto.getRandomValues only (it exists on plain-http pages too,
// where crypto.subtle does not).
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  globalThis.crypto.getRandomValues(out);
  return out;
}
