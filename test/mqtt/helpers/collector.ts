/** A test subscriber: collects every message under some filters, parsed as JSON when possible. */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  text: string;
  json: unknown;
  retain: boolean;
}

export class Collector {
  readonly messages: Received[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const text = payload.toString();
      let json: unknown = undefined;
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      this.messages.push({ topic, text, json, retain: packet.retain });
    });
  }

  static async connect(url: string, filters: string[], opts: IClientOptions = {}): Promise<Collector> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 100, ...opts });
    const c = new Collector(client);
    await client.subscribeAsync(filters, { qos: 1 });
    return c;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  last(topic: string): Received | undefined {
    const l = this.on(topic);
    return l[l.length - 1];
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
