// The parts of the `smpp` package (0.5) that OpenFactor and its tests use; it ships no types.
declare module 'smpp' {
  import type { EventEmitter } from 'node:events';
  import type { Server as NetServer } from 'node:net';

  export interface PDU {
    command: string;
    command_status: number;
    sequence_number: number;
    [field: string]: any;
    response(fields?: Record<string, unknown>): PDU;
  }

  type Callback = (pdu: PDU) => void;

  export interface Session extends EventEmitter {
    send(pdu: PDU, responseCallback?: Callback, sendCallback?: Callback): boolean;
    pause(): void;
    resume(): void;
    close(callback?: () => void): void;
    destroy(callback?: () => void): void;
    bind_transceiver(fields: Record<string, unknown>, callback?: Callback): boolean;
    submit_sm(fields: Record<string, unknown>, callback?: Callback): boolean;
    deliver_sm(fields: Record<string, unknown>, callback?: Callback): boolean;
    enquire_link(callback?: Callback): boolean;
    unbind(callback?: Callback): boolean;
  }

  export interface Server extends NetServer {
    sessions: Session[];
  }

  export function connect(options: { host?: string; port?: number; tls?: boolean; url?: string; auto_enquire_link_period?: number }, listener?: () => void): Session;
  export function createServer(options: Record<string, unknown>, listener?: (session: Session) => void): Server;
  export function createServer(listener?: (session: Session) => void): Server;
  export const ESME_ROK: number;
  export const ESME_RBINDFAIL: number;
  export const ESME_RINVDSTADR: number;
  export const ESME_RTHROTTLED: number;

  const smpp: {
    connect: typeof connect;
    createServer: typeof createServer;
    ESME_ROK: number;
    ESME_RBINDFAIL: number;
    ESME_RINVDSTADR: number;
    ESME_RTHROTTLED: number;
  };
  export default smpp;
}
