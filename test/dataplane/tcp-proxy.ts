import net from 'node:net';

/**
 * A TCP proxy inside the test, between the worker and a database, for network faults:
 * `cut()` resets every connection and refuses new ones; `stall()` keeps connections open but
 * forwards nothing (bytes wait, as on a stalled link where TCP keeps retransmitting); `heal()`
 * restores forwarding.
 */
export class TcpProxy {
  private server: net.Server;
  private pairs = new Set<{ a: net.Socket; b: net.Socket }>();
  private mode: 'ok' | 'cut' | 'stall' = 'ok';
  port = 0;

  constructor(
    private targetPort: number,
    private targetHost = '127.0.0.1',
  ) {
    this.server = net.createServer((a) => {
      if (this.mode === 'cut') {
        a.resetAndDestroy();
        return;
      }
      const b = net.connect(this.targetPort, this.targetHost);
      const pair = { a, b };
      this.pairs.add(pair);
      a.pipe(b);
      b.pipe(a);
      if (this.mode === 'stall') {
        a.pause();
        b.pause();
      }
      const close = () => {
        a.destroy();
        b.destroy();
        this.pairs.delete(pair);
      };
      a.on('error', close);
      b.on('error', close);
      a.on('close', close);
      b.on('close', close);
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  cut() {
    this.mode = 'cut';
    for (const p of this.pairs) {
      p.a.resetAndDestroy();
      p.b.destroy();
    }
    this.pairs.clear();
  }

  /** Nothing moves in either direction; connections stay open. */
  stall() {
    this.mode = 'stall';
    for (const p of this.pairs) {
      p.a.unpipe(p.b);
      p.b.unpipe(p.a);
      p.a.pause();
      p.b.pause();
    }
  }

  heal() {
    if (this.mode === 'stall')
      for (const p of this.pairs) {
        p.a.pipe(p.b);
        p.b.pipe(p.a);
        p.a.resume();
        p.b.resume();
      }
    this.mode = 'ok';
  }

  async close() {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
