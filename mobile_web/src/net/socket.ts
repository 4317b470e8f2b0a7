// The relay WebSocket and what a failed one means. A browser never sees the HTTP status of
// a refused upgrade, so after a failure before "open" we ask the relay's health route:
// answered means the relay refused our credential, unanswered means the relay is down.

export type SocketFactory = (url: string, protocols: string[]) => WebSocket;

export const browserSocket: SocketFactory = (url, protocols) => {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "arraybuffer";
  return ws;
};

export async function relayAnswers(relayUrl: string, timeoutMs = 5000): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(`${relayUrl}/v1/health`, { signal: controller.signal, cache: "no-store" });
    return response.ok;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}
