// Pairing a browser: the pair link's token opens /v1/pair/connect; once the relay says the
// laptop is online, the IKpsk1 handshake carries the code (as the PSK) and the phone's
// name, and the daemon's grant gives the phone its id and relay credential.
import { pairingHandshake } from "../protocol/channel.js";
import { publicKey } from "../protocol/noise.js";
import {
  type PairLink,
  codePsk,
  decodePairGrant,
  normalizeCode,
  pairRequest,
  pairingPrologue,
} from "../protocol/pairing.js";
import { Close, pairProtocols, parseControl, socketUrl } from "../protocol/relay.js";
import type { Identity } from "../store.js";
import { randomBytes } from "./random.js";
import { type SocketFactory, browserSocket, relayAnswers, toBytes } from "./socket.js";

export class PairingError extends Error {
  override name = "PairingError";
  /** retry: the same link may be tried again (a wrong code with attempts left, offline). */
  constructor(message: string, readonly retry: boolean) {
    super(message);
  }
}

export interface PairOptions {
  name: string;
  socket?: SocketFactory;
  timeoutMs?: number;
  onStatus?: (status: string) => void;
}

export async function pair(link: PairLink, typedCode: string, options: PairOptions): Promise<Identity> {
  const code = normalizeCode(typedCode);
  const staticKey = randomBytes(32);
  const handshake = pairingHandshake({
    prologue: pairingPrologue(link.deviceId),
    staticKey,
    ephemeralKey: randomBytes(32),
    daemonStatic: link.daemonPublic,
    psk: codePsk(link.token, code),
  });
  const ws = (options.socket ?? browserSocket)(socketUrl(link.relayUrl, "/v1/pair/connect"), pairProtocols(link.token));
  return new Promise<Identity>((resolve, reject) => {
    let opened = false;
    let sent = false;
    let done = false;
    const finish = (result: Identity | PairingError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.onclose = null;
      if (ws.readyState <= 1) ws.close(1000);
      if (result instanceof PairingError) reject(result);
      else resolve(result);
    };
    const timer = setTimeout(
      () =>
        finish(
          new PairingError(
            sent ? "your computer did not answer in time" : "your computer is offline: is loopsy running there?",
            true,
          ),
        ),
      options.timeoutMs ?? 30_000,
    );
    ws.onopen = () => {
      opened = true;
      options.onStatus?.("waiting for your computer…");
    };
    ws.onmessage = (event: MessageEvent) => {
      try {
        if (typeof event.data === "string") {
          const control = parseControl(event.data);
          if (control?.online && !sent) {
            sent = true;
            options.onStatus?.("checking the code…");
            ws.send(handshake.writeMessage(pairRequest(options.name)));
          } else if (control && !control.online) {
            options.onStatus?.("your computer is offline: waiting for it…");
          }
          return;
        }
        const data = toBytes(event.data);
        if (!data || !sent) throw new PairingError("unexpected message from the relay", false);
        const grant = decodePairGrant(handshake.readMessage(data));
        if (grant.deviceId !== link.deviceId) throw new PairingError("the answer names another computer", false);
        finish({
          relayUrl: link.relayUrl,
          deviceId: link.deviceId,
          phoneId: grant.phoneId,
          credential: grant.credential,
          staticKey,
          staticPublic: publicKey(staticKey),
          daemonPublic: link.daemonPublic,
          nodeName: grant.nodeName,
          pairedAt: Date.now(),
        });
      } catch (err) {
        finish(
          err instanceof PairingError
            ? err
            : new PairingError(`your computer's answer does not verify: ${(err as Error).message}`, false),
        );
      }
    };
    ws.onclose = (event: CloseEvent) => {
      if (done) return;
      if (!opened) {
        void relayAnswers(link.relayUrl).then((up) =>
          finish(
            up
              ? new PairingError("this pairing link has expired or was already used: run `loopsy mobile pair` again", false)
              : new PairingError("cannot reach the relay: check the address and your connection", true),
          ),
        );
        return;
      }
      finish(closeError(event.code, event.reason));
    };
  });
}

export function closeError(code: number, reason: string): PairingError {
  if (code === Close.REVOKED && /wrong code/.test(reason)) {
    const left = /\((\d+) left\)/.exec(reason);
    return new PairingError(reason, left !== null && left[1] !== "0");
  }
  if (code === Close.REVOKED || code === Close.GONE) {
    return new PairingError(
      `${reason || "pairing is over"}: this link can no longer be used; run \`loopsy mobile pair\` again`,
      false,
    );
  }
  if (code === Close.UNAVAILABLE) return new PairingError("the relay is restarting: try again", true);
  return new PairingError(reason ? `pairing failed: ${reason}` : `pairing failed (code ${code})`, true);
}
