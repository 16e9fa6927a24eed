import type { Admin, Kafka, Producer } from 'kafkajs';
import { sleep } from '../core/retry';
import { kafkajs } from '../patches';

/** A pipeline's Kafka client, idempotent producer and admin (the runner's and its sink thread's alike). */
export function pipelineKafka(clientId: string, brokers: string[]): { kafka: Kafka; producer: Producer; admin: Admin } {
  const { Kafka, Partitioners } = kafkajs();
  const kafka = new Kafka({
    clientId,
    brokers,
    logLevel: 1,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 3000 },
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
  });
  return { kafka, producer, admin: kafka.admin() };
}

/** Connects producer and admin, retrying without limit until connected or the signal aborts; `onFailure` reports each attempt. */
export async function connectKafka(
  c: { producer: Producer; admin: Admin },
  signal: AbortSignal,
  onFailure: (e: Error) => void,
): Promise<void> {
  for (let attempt = 1; !signal.aborted; attempt++) {
    try {
      await c.producer.connect();
      await c.admin.connect();
      return;
    } catch (e) {
      onFailure(e as Error);
      await sleep(Math.min(5000, 300 * attempt), signal);
    }
  }
}
