import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import * as protobuf from 'protobufjs';
import { selfSignedCert } from './cert';

/**
 * The go-plugin side of a Terraform provider: magic-cookie check, a TLS gRPC server on a unix
 * socket, the one-line handshake on stdout, plugin.GRPCController/Shutdown and a health check.
 * gRPC here is unary calls only, so it is served straight from node:http2 (length-prefixed
 * protobuf messages, grpc-status trailers) instead of loading a gRPC library at every start.
 */

const MAGIC_COOKIE_KEY = 'TF_PLUGIN_MAGIC_COOKIE';
const MAGIC_COOKIE_VALUE = 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2';

export type Handler = (req: any) => Promise<any> | any;

const enum Status {
  OK = 0,
  INVALID_ARGUMENT = 3,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
}

function protoDir(): string {
  // Compiled to dist/provider/protocol; the .proto files stay in provider/proto.
  for (const d of [path.resolve(__dirname, '../../../provider/proto'), path.resolve(__dirname, '../proto')]) {
    if (fs.existsSync(path.join(d, 'tfplugin6.proto'))) return d;
  }
  throw new Error(`provider/proto not found from ${__dirname}`);
}

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const dir = protoDir();
  for (const f of ['tfplugin6.proto', 'plugin.proto', 'health.proto'])
    protobuf.parse(fs.readFileSync(path.join(dir, f), 'utf8'), root, { keepCase: true });
  root.resolveAll();
  return root;
}

const toObjectOpts: protobuf.IConversionOptions = {
  longs: Number,
  enums: Number,
  bytes: Buffer as unknown as typeof String,
  defaults: false,
  oneofs: true,
};

interface Method {
  name: string;
  decode(b: Uint8Array): any;
  encode(o: any): Uint8Array;
  handler?: Handler;
}

/** path (/package.Service/Method) -> codec and handler */
function methods(root: protobuf.Root, serviceName: string, handlers: Record<string, Handler>): [string, Method][] {
  const svc = root.lookupService(serviceName);
  return Object.values(svc.methods).map((m) => {
    m.resolve();
    const reqT = m.resolvedRequestType!;
    const resT = m.resolvedResponseType!;
    return [
      `/${serviceName}/${m.name}`,
      {
        name: m.name,
        decode: (b) => reqT.toObject(reqT.decode(b), toObjectOpts),
        encode: (o) => resT.encode(resT.fromObject(o)).finish(),
        handler: handlers[m.name],
      },
    ];
  });
}

function frame(msg: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

function fail(stream: http2.ServerHttp2Stream, code: Status, message: string): void {
  if (stream.destroyed || stream.closed) return;
  const headers = {
    ':status': 200,
    'content-type': 'application/grpc',
    'grpc-status': String(code),
    'grpc-message': encodeURIComponent(message),
  };
  if (stream.headersSent) stream.close();
  else stream.respond(headers, { endStream: true });
}

export interface ServeOptions {
  handlers: Record<string, Handler>;
  onShutdown?: () => void;
}

export async function serve(opts: ServeOptions): Promise<void> {
  const log = (m: string) => process.stderr.write(m + '\n');
  if (process.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    process.stderr.write(
      'This binary is a plugin. These are not meant to be executed directly.\n' +
        'Please execute the program that consumes these plugins, which will load any plugins automatically.\n',
    );
    process.exit(1);
  }
  const versions = (process.env.PLUGIN_PROTOCOL_VERSIONS ?? '6').split(',').map((s) => s.trim());
  if (!versions.includes('6')) {
    log(
      `[ERROR] Terraform offers plugin protocol versions ${versions.join(',')}; the Sluice provider speaks 6 (Terraform >= 1.0, OpenTofu)`,
    );
    process.exit(1);
  }
  // Terraform's interrupt goes to the whole process group; Terraform itself stops us via StopProvider/Shutdown.
  process.on('SIGINT', () => {});

  const root = loadRoot();
  let socketDir = '';
  let server: http2.Http2SecureServer | undefined;
  const shutdown = () => {
    opts.onShutdown?.();
    server?.close();
    if (socketDir) fs.rmSync(socketDir, { recursive: true, force: true });
    process.exit(0);
  };
  const table = new Map<string, Method>([
    ...methods(root, 'tfplugin6.Provider', opts.handlers),
    ...methods(root, 'plugin.GRPCController', {
      Shutdown: () => {
        setTimeout(shutdown, 10);
        return {};
      },
    }),
    ...methods(root, 'grpc.health.v1.Health', { Check: () => ({ status: 1 }) }),
  ]);

  const cert = selfSignedCert();
  const clientCert = process.env.PLUGIN_CLIENT_CERT;
  server = http2.createSecureServer({
    key: cert.keyPem,
    cert: cert.certPem,
    ...(clientCert ? { ca: clientCert } : {}),
    requestCert: false,
    allowHTTP1: false,
    settings: { maxConcurrentStreams: 1000 },
  });
  server.on('sessionError', () => undefined);
  server.on('tlsClientError', (e) => log(`[WARN] TLS handshake with Terraform failed: ${e.message}`));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const method = table.get(String(headers[':path']));
    if (!method?.handler) {
      fail(stream, Status.UNIMPLEMENTED, `${String(headers[':path'])} is not implemented by the Sluice provider`);
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const buf = Buffer.concat(chunks);
      let req: unknown;
      try {
        if (buf.length < 5 || buf[0] !== 0) throw new Error('expected one uncompressed length-prefixed message');
        req = method.decode(buf.subarray(5, 5 + buf.readUInt32BE(1)));
      } catch (e) {
        fail(stream, Status.INVALID_ARGUMENT, `${method.name}: ${(e as Error).message}`);
        return;
      }
      Promise.resolve()
        .then(() => method.handler!(req))
        .then((res) => {
          const body = frame(method.encode(res ?? {}));
          if (stream.destroyed || stream.closed) return;
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end(body);
        })
        .catch((err: Error) => {
          log(`[ERROR] ${method.name}: ${err?.stack ?? err}`);
          fail(stream, Status.INTERNAL, `${method.name}: ${err?.message ?? err}`);
        });
    });
  });

  socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plugin-'));
  const socket = path.join(socketDir, `p${crypto.randomBytes(4).toString('hex')}.sock`);
  await new Promise<void>((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(socket, () => resolve());
  });
  process.on('exit', () => {
    try {
      fs.rmSync(socketDir, { recursive: true, force: true });
    } catch {
      /* gone */
    }
  });
  process.stdout.write(`1|6|unix|${socket}|grpc|${cert.certDer.toString('base64').replace(/=+$/, '')}\n`);
}
