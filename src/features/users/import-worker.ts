// The worker thread of `users import` (import.ts): reads and seals batches of lines while the
// main thread writes the batch before, so an import uses both cores.
import { parentPort, workerData } from 'node:worker_threads';
import { masterKeyFrom, type SealFormat } from '../../core/crypto.ts';
import { Contacts } from '../../store/contacts.ts';
import { prepareLines, type PrepareContext } from './import.ts';

const w = workerData as { key: { key: Uint8Array; writes: SealFormat }; indexKey: Uint8Array; appId: number; issuer: string };
const key = masterKeyFrom(Buffer.from(w.key.key), w.key.writes);
const context: PrepareContext = { key, contacts: new Contacts([key], Buffer.from(w.indexKey)), appId: w.appId, issuer: w.issuer };
parentPort!.on('message', (lines: { line: number; text: string }[]) => parentPort!.postMessage(prepareLines(context, lines)));
