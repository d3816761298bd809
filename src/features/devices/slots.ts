// Event streams and long-polls held open by devices: a few per device, a bound per process.
//
// A device beyond its own cap gets its new connection, and its OLDEST one is closed. A phone that
// changes networks reconnects while its previous connection is still open on our side (nothing
// tells the server that a link went silent until writes time out, minutes later); refusing the
// new connection would leave the device deaf behind its own dead ones. Only the device's key
// opens its connections, so closing the oldest hurts no one else. A full process, though,
// refuses a device that holds none (429): closing another device's connection would let one
// client push the others off.
export class ConnectionSlots {
  private readonly byDevice = new Map<number, { close(): void }[]>();
  private total = 0;
  /** Called for each connection refused because the process was full (`/metrics`). */
  onRefused?: () => void;

  constructor(
    private readonly perDevice: number,
    private readonly perProcess: number,
  ) {}

  get open(): number {
    return this.total;
  }

  /**
   * A slot for a new connection of this device, or undefined when the process is full. `close`
   * is called if a newer connection of the device takes the slot. Returns the release function.
   */
  take(deviceId: number, close: () => void): (() => void) | undefined {
    let mine = this.byDevice.get(deviceId);
    if (mine?.length && (mine.length >= this.perDevice || this.total >= this.perProcess)) {
      this.total--;
      mine.shift()!.close();
    } else if (this.total >= this.perProcess) {
      this.onRefused?.();
      return undefined;
    }
    if (!mine) this.byDevice.set(deviceId, (mine = []));
    const slot = { close };
    mine.push(slot);
    this.total++;
    return () => {
      const i = mine.indexOf(slot);
      if (i < 0) return; // already taken over
      mine.splice(i, 1);
      this.total--;
      if (mine.length === 0 && this.byDevice.get(deviceId) === mine) this.byDevice.delete(deviceId);
    };
  }
}
