// `/metrics` for device connections: streams and long-polls held, refused, and whether the Redis
// link to the other nodes is up (absent without Redis).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DeviceEvents } from './events.ts';
import type { ConnectionSlots } from './slots.ts';

export function registerConnectionMetrics(registry: Registry, slots: ConnectionSlots, events?: DeviceEvents): void {
  new Gauge({
    name: 'openfactor_device_connections',
    help: 'Event streams and long-polls held open by devices on this process',
    registers: [registry],
    collect() {
      this.set(slots.open);
    },
  });
  const refused = new Counter({
    name: 'openfactor_device_connections_refused_total',
    help: 'Event streams and long-polls refused (429) because the process held its maximum',
    registers: [registry],
  });
  slots.onRefused = () => refused.inc();
  if (events) {
    new Gauge({
      name: 'openfactor_redis_connected',
      help: '1 while this node is subscribed to the other nodes through Redis; 0 while it is not (event streams then read the database)',
      registers: [registry],
      collect() {
        this.set(events.connected ? 1 : 0);
      },
    });
  }
}
