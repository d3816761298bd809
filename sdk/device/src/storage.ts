// Where a device keeps its identity and accounts between runs.
import type { Algorithm } from './keys.ts';
import type { Account, DeviceInfo, DeviceStatus, WaitingRecovery } from './types.ts';

export interface StoredDevice {
  /** OpenFactor's base URL, e.g. `https://2fa.example.com`. */
  baseUrl: string;
  deviceId: number;
  algorithm: Algorithm;
  /**
   * A CryptoKey (non-extractable; for storages that can hold one, such as memory or IndexedDB)
   * or the private key as JWK (for storages that serialize to text).
   */
  privateKey: CryptoKey | JsonWebKey;
  /** base64url SPKI. */
  publicKey: string;
  name: string | null;
  osType: string | null;
  registrationMethod: DeviceInfo['registration_method'];
  /** Accounts with their seeds. */
  accounts: Account[];
  /** Absent for devices saved before multi-device: active. */
  status?: DeviceStatus;
  /** The account recovery this device waits for (`status === 'pending_recovery'`). */
  recovery?: WaitingRecovery;
}

export interface DeviceStorage {
  /**
   * True when `save` can keep CryptoKey objects as they are (memory, IndexedDB): the private key
   * is then generated non-extractable and never exported. Otherwise it is saved as JWK.
   */
  readonly keepsCryptoKeys?: boolean;
  load(): Promise<StoredDevice | undefined>;
  save(device: StoredDevice): Promise<void>;
  clear(): Promise<void>;
}

function copy(d: StoredDevice): StoredDevice {
  return { ...d, accounts: d.accounts.map((a) => ({ ...a })) };
}

/** Keeps the device in memory only (the default): gone when the process or page goes. */
export class MemoryStorage implements DeviceStorage {
  readonly keepsCryptoKeys = true;
  #device: StoredDevice | undefined;

  async load(): Promise<StoredDevice | undefined> {
    return this.#device && copy(this.#device);
  }
  async save(device: StoredDevice): Promise<void> {
    this.#device = copy(device);
  }
  async clear(): Promise<void> {
    this.#device = undefined;
  }
}

/** A string key-value store: `localStorage`, or a small wrapper around a file. */
export interface TextStore {
  getItem(key: string): string | null | undefined | Promise<string | null | undefined>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

/** Saves the device as JSON text (private key as JWK) under one key of a {@link TextStore}. */
export class JsonStorage implements DeviceStorage {
  readonly keepsCryptoKeys = false;
  readonly store: TextStore;
  readonly key: string;

  constructor(store: TextStore, key = 'openfactor-device') {
    this.store = store;
    this.key = key;
  }

  async load(): Promise<StoredDevice | undefined> {
    const text = await this.store.getItem(this.key);
    return text ? (JSON.parse(text) as StoredDevice) : undefined;
  }
  async save(device: StoredDevice): Promise<void> {
    if (!isJwk(device.privateKey)) throw new TypeError('JsonStorage can only save a private key exported as JWK');
    await this.store.setItem(this.key, JSON.stringify(device));
  }
  async clear(): Promise<void> {
    await this.store.removeItem(this.key);
  }
}

/**
 * Keeps the device in a browser's IndexedDB. The private key is stored as the CryptoKey itself
 * (structured clone), generated non-extractable: script on the page can use it to sign but can
 * never read it out.
 */
export class IndexedDbStorage implements DeviceStorage {
  readonly keepsCryptoKeys = true;
  readonly dbName: string;
  readonly key: string;
  #db: Promise<IDBDatabase> | undefined;

  constructor(dbName = 'openfactor', key = 'device') {
    this.dbName = dbName;
    this.key = key;
  }

  async load(): Promise<StoredDevice | undefined> {
    return (await this.#run('readonly', (s) => s.get(this.key))) as StoredDevice | undefined;
  }
  async save(device: StoredDevice): Promise<void> {
    await this.#run('readwrite', (s) => s.put(copy(device), this.key));
  }
  async clear(): Promise<void> {
    await this.#run('readwrite', (s) => s.delete(this.key));
  }

  async #run(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest): Promise<unknown> {
    const db = await (this.#db ??= IndexedDbStorage.#open(this.dbName));
    return new Promise((resolve, reject) => {
      const tx = db.transaction('devices', mode);
      const req = op(tx.objectStore('devices'));
      // Resolved once the transaction is committed, not when the request succeeds.
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () => reject(tx.error ?? req.error);
    });
  }

  static #open(name: string): Promise<IDBDatabase> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('devices');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
}

export function isJwk(key: CryptoKey | JsonWebKey): key is JsonWebKey {
  return typeof (key as JsonWebKey).kty === 'string';
}
