import type { Kafka } from 'kafkajs';
import { kafkajs } from '../patches';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';

export type Check = () => Promise<void>;

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error(`${what} did not answer within ${ms} ms`)), ms).unref(),
    ),
  ]);

/** Long-lived clients for /readyz, so a probe does not open connections each time. */
export class Readiness {
  private redis?: Redis;
  private kafka?: ReturnType<Kafka['admin']>;
  private kafkaConnected?: Promise<void>;

  constructor(
    private readonly ds: DataSource,
    private readonly redisUrl: string,
    private readonly kafkaBrokers: string[],
  ) {}

  checks(): Record<string, Check> {
    return {
      control_db: async () => {
        await withTimeout(this.ds.query('SELECT 1'), 2000, 'control DB');
      },
      redis: async () => {
        this.redis ??= new Redis(this.redisUrl, {
          lazyConnect: true,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          retryStrategy: () => 1000,
        });
        if (this.redis.status === 'wait') await this.redis.connect().catch(() => undefined);
        await withTimeout(this.redis.ping(), 2000, 'Redis');
      },
      kafka: async () => {
        if (!this.kafka) {
          const { Kafka, logLevel } = kafkajs();
          const kafka = new Kafka({
            clientId: 'sluice-readyz',
            brokers: this.kafkaBrokers,
            logLevel: logLevel.NOTHING,
            connectionTimeout: 2000,
            retry: { retries: 0 },
          });
          this.kafka = kafka.admin();
        }
        this.kafkaConnected ??= this.kafka.connect().catch((e) => {
          this.kafkaConnected = undefined;
          throw e;
        });
        await withTimeout(this.kafkaConnected, 3000, 'Kafka');
        await withTimeout(this.kafka.describeCluster(), 3000, 'Kafka');
      },
    };
  }

  async run(): Promise<{ ok: boolean; checks: Record<string, { ok: boolean; error?: string }> }> {
    const entries = await Promise.all(
      Object.entries(this.checks()).map(async ([name, check]) => {
        try {
          await check();
          return [name, { ok: true }] as const;
        } catch (e) {
          return [name, { ok: false, error: (e as Error).message }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    return { ok: entries.every(([, r]) => r.ok), checks };
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
    await this.kafka?.disconnect().catch(() => undefined);
  }
}
