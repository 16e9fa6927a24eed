import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { selfSignedCert } from './cert';

/**
 * The go-plugin side of a Terraform provider: magic-cookie check, a TLS gRPC server on a unix
 * socket, the one-line handshake on stdout, plugin.GRPCController/Shutdown and a health check.
 * Service methods are plain async functions from a decoded request object to a response object.
 */

const MAGIC_COOKIE_KEY = 'TF_PLUGIN_MAGIC_COOKIE';
const MAGIC_COOKIE_VALUE = 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2';

export type Handler = (req: any) => Promise<any> | any;

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
  for (const f of ['tfplugin6.proto', 'plugin.proto', 'health.proto']) protobuf.parse(fs.readFileSync(path.join(dir, f), 'utf8'), root, { keepCase: true });
  root.resolveAll();
  return root;
}

const toObjectOpts: protobuf.IConversionOptions = { longs: Number, enums: Number, bytes: Buffer as unknown as typeof String, defaults: false, oneofs: true };

function serviceDefinition(root: protobuf.Root, serviceName: string, grpcName = serviceName): grpc.ServiceDefinition {
  const svc = root.lookupService(serviceName);
  const def: Record<string, grpc.MethodDefinition<any, any>> = {};
  for (const m of Object.values(svc.methods)) {
    m.resolve();
    const reqT = m.resolvedRequestType!;
    const resT = m.resolvedResponseType!;
    def[m.name] = {
      path: `/${grpcName}/${m.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (o: any) => Buffer.from(reqT.encode(reqT.fromObject(o)).finish()),
      requestDeserialize: (b: Buffer) => reqT.toObject(reqT.decode(b), toObjectOpts),
      responseSerialize: (o: any) => Buffer.from(resT.encode(resT.fromObject(o)).finish()),
      responseDeserialize: (b: Buffer) => resT.toObject(resT.decode(b), toObjectOpts),
    } as grpc.MethodDefinition<any, any>;
  }
  return def as grpc.ServiceDefinition;
}

function unary(name: string, h: Handler | undefined, log: (m: string) => void): grpc.handleUnaryCall<any, any> {
  return (call, cb) => {
    if (!h) { cb({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented by the Sluice provider` }); return; }
    Promise.resolve()
      .then(() => h(call.request))
      .then((res) => cb(null, res ?? {}), (err: Error) => {
        log(`[ERROR] ${name}: ${err?.stack ?? err}`);
        cb({ code: grpc.status.INTERNAL, details: `${name}: ${err?.message ?? err}` });
      });
  };
}

export interface ServeOptions {
  handlers: Record<string, Handler>;
  onShutdown?: () => void;
}

export async function serve(opts: ServeOptions): Promise<void> {
  const log = (m: string) => process.stderr.write(m + '\n');
  if (process.env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    process.stderr.write('This binary is a plugin. These are not meant to be executed directly.\nPlease execute the program that consumes these plugins, which will load any plugins automatically.\n');
    process.exit(1);
  }
  const versions = (process.env.PLUGIN_PROTOCOL_VERSIONS ?? '6').split(',').map((s) => s.trim());
  if (!versions.includes('6')) {
    log(`[ERROR] Terraform offers plugin protocol versions ${versions.join(',')}; the Sluice provider speaks 6 (Terraform >= 1.0, OpenTofu)`);
    process.exit(1);
  }
  // Terraform's interrupt goes to the whole process group; Terraform itself stops us via StopProvider/Shutdown.
  process.on('SIGINT', () => {});

  const root = loadRoot();
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 256 * 1024 * 1024, 'grpc.max_send_message_length': 256 * 1024 * 1024 });
  const providerDef = serviceDefinition(root, 'tfplugin6.Provider');
  server.addService(providerDef, Object.fromEntries(Object.keys(providerDef).map((n) => [n, unary(n, opts.handlers[n], log)])));

  let socketDir = '';
  const shutdown = () => {
    opts.onShutdown?.();
    server.forceShutdown();
    if (socketDir) fs.rmSync(socketDir, { recursive: true, force: true });
    process.exit(0);
  };
  const controller = serviceDefinition(root, 'plugin.GRPCController');
  server.addService(controller, {
    Shutdown: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => { cb(null, {}); setImmediate(shutdown); },
  });
  server.addService(serviceDefinition(root, 'grpc.health.v1.Health'), { Check: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: 1 }) });

  const cert = selfSignedCert();
  const clientCert = process.env.PLUGIN_CLIENT_CERT;
  const creds = grpc.ServerCredentials.createSsl(
    clientCert ? Buffer.from(clientCert) : null,
    [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.certPem) }],
    false,
  );
  socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plugin-'));
  const socket = path.join(socketDir, `p${crypto.randomBytes(4).toString('hex')}.sock`);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, creds, (err) => (err ? reject(err) : resolve())));
  process.on('exit', () => { try { fs.rmSync(socketDir, { recursive: true, force: true }); } catch { /* gone */ } });
  process.stdout.write(`1|6|unix|${socket}|grpc|${cert.certDer.toString('base64').replace(/=+$/, '')}\n`);
}
