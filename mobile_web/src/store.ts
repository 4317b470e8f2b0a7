// What the phone keeps, in IndexedDB: its identity (keys, ids, the relay credential, the
// daemon's pinned key) and, per session, the screen it last rendered with the output offset
// it holds, so a reopened page shows it again and resumes exactly after it. The list of
// open tabs is in localStorage. docs/SECURITY.md
// ("Phone client storage") says what this exposes.
import { b64url, unb64url } from "./protocol/bytes.js";

export interface Identity {
  relayUrl: string;
  deviceId: string;
  phoneId: string;
  credential: Uint8Array;
  staticKey: Uint8Array;
  staticPublic: Uint8Array;
  daemonPublic: Uint8Array;
  nodeName: string;
  pairedAt: number;
}

const DB = "loopsy";
const STORE = "identity";
const SCREENS = "screens";
const KEY = "phone";

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE);
      request.result.createObjectStore(SCREENS);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB is unavailable"));
  });
}

async function transact<T>(
  mode: IDBTransactionMode,
  run: (store: IDBObjectStore) => IDBRequest,
  storeName = STORE,
): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(storeName, mode);
      const request = run(tx.objectStore(storeName));
      tx.oncomplete = () => resolve(request.result as T);
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
  } finally {
    db.close();
  }
}

type Stored = Record<keyof Identity, string | number>;

function encode(identity: Identity): Stored {
  return {
    relayUrl: identity.relayUrl,
    deviceId: identity.deviceId,
    phoneId: identity.phoneId,
    credential: b64url(identity.credential),
    staticKey: b64url(identity.staticKey),
    staticPublic: b64url(identity.staticPublic),
    daemonPublic: b64url(identity.daemonPublic),
    nodeName: identity.nodeName,
    pairedAt: identity.pairedAt,
  };
}

function decode(value: Stored): Identity {
  return {
    relayUrl: String(value.relayUrl),
    deviceId: String(value.deviceId),
    phoneId: String(value.phoneId),
    credential: unb64url(String(value.credential), 32),
    staticKey: unb64url(String(value.staticKey), 32),
    staticPublic: unb64url(String(value.staticPublic), 32),
    daemonPublic: unb64url(String(value.daemonPublic), 32),
    nodeName: String(value.nodeName),
    pairedAt: Number(value.pairedAt),
  };
}

export async function loadIdentity(): Promise<Identity | null> {
  const value = await transact<Stored | undefined>("readonly", (s) => s.get(KEY));
  if (!value) return null;
  try {
    return decode(value);
  } catch {
    return null; // damaged: treat as unpaired rather than crash
  }
}

export async function saveIdentity(identity: Identity): Promise<void> {
  await transact("readwrite", (s) => s.put(encode(identity), KEY));
}

export async function forgetIdentity(): Promise<void> {
  await transact("readwrite", (s) => s.delete(KEY));
  await transact("readwrite", (s) => s.clear(), SCREENS);
  localStorage.removeItem(TABS);
}

// -- per-session screens and offsets ------------------------------------------------------

/** A session as this page last rendered it: every output byte before `offset`. */
export interface Screen {
  offset: number;
  data: string; // the terminal serialized (@xterm/addon-serialize): screen and scrollback
  cols: number;
  rows: number;
}

export async function loadScreen(sessionId: string): Promise<Screen | null> {
  try {
    const value = await transact<Screen | undefined>("readonly", (s) => s.get(`screen:${sessionId}`), SCREENS);
    return value && Number.isSafeInteger(value.offset) && typeof value.data === "string" ? value : null;
  } catch {
    return null;
  }
}

export async function saveScreen(sessionId: string, screen: Screen): Promise<void> {
  await transact("readwrite", (s) => s.put(screen, `screen:${sessionId}`), SCREENS);
}

export async function dropScreen(sessionId: string): Promise<void> {
  await transact("readwrite", (s) => s.delete(`screen:${sessionId}`), SCREENS);
}

// -- open tabs ----------------------------------------------------------------------------

const TABS = "loopsy.tabs";

export function loadTabs(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(TABS) ?? "[]");
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}

export function saveTabs(ids: string[]): void {
  localStorage.setItem(TABS, JSON.stringify(ids));
}
