// Fan-out of approval events to connected devices (event streams and long-polls). In one process
// a map of listeners; every answer a device gives is also re-read from the database, so a
// listener that misses an event (another node) still learns of it at its next poll.
export type DeviceEvent =
  | { type: 'approval_request'; data: Record<string, unknown> }
  | { type: 'approval_request_updated'; data: { uuid: string; status: string } };

type Listener = (e: DeviceEvent) => void;

export class DeviceEvents {
  private listeners = new Map<number, Set<Listener>>();

  /** Delivers to every listener of these devices; returns how many devices had one. */
  publish(deviceKeyIds: Iterable<number>, event: DeviceEvent): number {
    let reached = 0;
    for (const id of deviceKeyIds) {
      const set = this.listeners.get(id);
      if (!set?.size) continue;
      reached++;
      for (const fn of set) fn(event);
    }
    return reached;
  }

  subscribe(deviceKeyId: number, fn: Listener): () => void {
    let set = this.listeners.get(deviceKeyId);
    if (!set) this.listeners.set(deviceKeyId, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.listeners.delete(deviceKeyId);
    };
  }

  /** Resolves at the next event for this device, or after `ms`; whichever comes first. */
  next(deviceKeyId: number, ms: number, signal?: AbortSignal): Promise<DeviceEvent | undefined> {
    return new Promise((resolve) => {
      const done = (e?: DeviceEvent) => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(e);
      };
      const onAbort = () => done();
      const off = this.subscribe(deviceKeyId, done);
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', onAbort);
    });
  }
}
