// The worker thread of `users import` (import.ts): reads and seals batches of lines while the
// main thread writes the batch before, so an import uses both cores.
import { parentPort, workerData } from 'node:worker_threads';
import { Contacts } from '../../store/contacts.ts';
import { prepareLines, type PrepareContext } from './import.ts';

const w = workerData as { key: { id: string; key: Uint8Array }; indexKey: Uint8Array; appId: number; issuer: string };
const key = { id: w.key.id, key: Buffer.from(w.key.key) };
const context: PrepareContext = { key, contacts: new Contacts([key], Buffer.from(w.indexKey)), appId: w.appId, issuer: w.issuer };
parentPort!.on('message', (lines: { line: number; text: string }[]) => parentPort!.postMessage(prepareLines(context, lines)));
