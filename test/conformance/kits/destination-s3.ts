import { TcpProxy } from '../../dataplane/tcp-proxy';
import { BucketReader, freshBucket, s3Config, startS3 } from '../../s3-helpers';
import { DestinationKit, REJECTS_NOTHING } from '.';

const readers = new Map<string, BucketReader>();
const reader = (url: string) => readers.get(url)!;

/**
 * The stack's moto server, a fresh bucket per row. Moto keeps objects in memory, so the outage (a)
 * does not stop the server (that would empty the bucket): the worker reaches it through a proxy,
 * and stopping the proxy refuses and resets every connection, as a stopped server would.
 */
export const destinationS3: DestinationKit = {
  kind: 's3',
  database: async (stoppable) => {
    const endpoint = await startS3();
    const bucket = await freshBucket(endpoint);
    const url = `s3://${bucket}/lake`;
    readers.set(url, new BucketReader(endpoint, bucket));
    const proxy = stoppable ? new TcpProxy(Number(new URL(endpoint).port)) : null;
    const workerEndpoint = proxy ? `http://127.0.0.1:${await proxy.start()}` : endpoint;
    return {
      url,
      // Files close after a second, so the comparisons do not wait for the default minute.
      config: s3Config(workerEndpoint, bucket, { table_name_format: '{table}', max_file_age_ms: 1000 }),
      outage: proxy ? { stop: async () => proxy.cut(), start: async () => proxy.heal() } : undefined,
      destroy: async () => {
        await proxy?.close();
        reader(url).close();
        readers.delete(url);
      },
    };
  },
  rows: (url, table, cols, key, where) => reader(url).latest(table, cols, key, where),
  rejectNegative: async () => REJECTS_NOTHING,
  truncate: (url, table) => reader(url).deleteFolder(table),
};
