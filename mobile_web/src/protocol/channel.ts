// The end-to-end channel after a Noise handshake (loopsy/protocol/channel.py): each
// WebSocket binary message is  counter u64 BE || ChaCha20-Poly1305(plaintext), and the
// counter must be exactly the next one in its direction.
import { ProtocolError, concat, readU64, writeU64 } from "./bytes.js";
import {
  CipherState,
  ChannelError,
  HandshakeState,
  IKPSK1,
  KK,
  PAIRING_PROTOCOL,
  SESSION_PROTOCOL,
  TAGLEN,
} from "./noise.js";

export const COUNTER_LEN = 8;
export const MAX_PLAINTEXT = 256 * 1024;
export const MAX_FRAME = COUNTER_LEN + MAX_PLAINTEXT + TAGLEN;

export class SecureChannel {
  private readonly sendState: CipherState;
  private readonly receiveState: CipherState;
  readonly handshakeHash: Uint8Array;
  readonly remoteStatic: Uint8Array;

  constructor(handshake: HandshakeState) {
    const result = handshake.result;
    if (result === null) throw new ChannelError("the handshake has not finished");
    this.sendState = result.send;
    this.receiveState = result.receive;
    this.handshakeHash = result.handshakeHash;
    this.remoteStatic = result.remoteStatic;
  }

  get sent(): number {
    return this.sendState.n;
  }

  get received(): number {
    return this.receiveState.n;
  }

  seal(plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > MAX_PLAINTEXT) {
      throw new ChannelError(`plaintext over ${MAX_PLAINTEXT} bytes; split it`);
    }
    const header = new Uint8Array(COUNTER_LEN);
    writeU64(header, 0, this.sendState.n);
    return concat(header, this.sendState.encryptWithAd(new Uint8Array(0), plaintext));
  }

  open(frame: Uint8Array): Uint8Array {
    if (frame.length < COUNTER_LEN + TAGLEN) throw new ChannelError("transport frame too short");
    if (frame.length > MAX_FRAME) throw new ChannelError("transport frame too long");
    const counter = readU64(frame, 0);
    const expected = this.receiveState.n;
    if (counter < expected) {
      throw new ChannelError(`replayed frame (counter ${counter}, expected ${expected})`);
    }
    if (counter > expected) {
      throw new ChannelError(`frame out of order (counter ${counter}, expected ${expected})`);
    }
    return this.receiveState.decryptWithAd(new Uint8Array(0), frame.subarray(COUNTER_LEN));
  }
}

/** The phone is always the initiator. */
export function pairingHandshake(options: {
  prologue: Uint8Array;
  staticKey: Uint8Array;
  ephemeralKey: Uint8Array;
  daemonStatic: Uint8Array;
  psk: Uint8Array;
}): HandshakeState {
  return new HandshakeState(IKPSK1, PAIRING_PROTOCOL, {
    initiator: true,
    prologue: options.prologue,
    staticKey: options.staticKey,
    ephemeralKey: options.ephemeralKey,
    remoteStatic: options.daemonStatic,
    psk: options.psk,
  });
}

export function sessionHandshake(options: {
  prologue: Uint8Array;
  staticKey: Uint8Array;
  ephemeralKey: Uint8Array;
  daemonStatic: Uint8Array;
}): HandshakeState {
  return new HandshakeState(KK, SESSION_PROTOCOL, {
    initiator: true,
    prologue: options.prologue,
    staticKey: options.staticKey,
    ephemeralKey: options.ephemeralKey,
    remoteStatic: options.daemonStatic,
  });
}

export { ProtocolError };
