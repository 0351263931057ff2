/** The in-process broker for `mqtt.broker: embedded`: aedes on 127.0.0.1, so the demo and dashboard work anywhere. */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { fillPacketLengthCache } from './packet-length-cache.js';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts aedes on 127.0.0.1:`port` (0 = any free port). A port in use is reported with what to do about it. */
export async function startEmbeddedBroker(port: number): Promise<EmbeddedBroker> {
  fillPacketLengthCache(); // aedes writes packets with the same encoder (src/mqtt/packet-length-cache.ts)
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      broker.close();
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `embedded MQTT broker: 127.0.0.1:${port} is in use (another broker, e.g. mosquitto, already runs there: ` +
                `use --broker mqtt://127.0.0.1:${port}, or set mqtt.embeddedPort to a free port)`
            : `embedded MQTT broker: cannot listen on 127.0.0.1:${port}: ${err.message}`,
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const actual = (server.address() as { port: number }).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
        // connected clients keep the server open: aedes.close() disconnects them
      }),
  };
}
