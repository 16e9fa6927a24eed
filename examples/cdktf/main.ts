/**
 * The examples/basic topology as a CDKTF app, written against the TypeScript bindings that
 * `npm run provider:bindings` generates from the Sluice provider's schema (into ./.gen).
 *
 *   npm run provider:bindings                 # from the repository root
 *   npx tsc -p examples/cdktf                 # compiles main.ts + .gen into examples/cdktf/dist
 *   node examples/cdktf/dist/main.js          # synthesizes cdktf.out/stacks/sluice-basic/cdk.tf.json
 *   cd examples/cdktf/cdktf.out/stacks/sluice-basic && terraform init && terraform apply
 *
 * (`cdktf deploy` works too where the cdktf CLI is installed; cdktf.json describes the app.)
 */
import { App, LocalBackend, TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import { SluiceProvider } from './.gen/providers/sluice/provider';
import { SourcePostgresql } from './.gen/providers/sluice/source-postgresql';
import { DestinationPostgresql } from './.gen/providers/sluice/destination-postgresql';
import { TransformMaskFields } from './.gen/providers/sluice/transform-mask-fields';
import { Pipeline } from './.gen/providers/sluice/pipeline';

class BasicStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    // State next to the synthesized stack (cdktf's default is an absolute path in the current directory).
    new LocalBackend(this, { path: 'terraform.tfstate' });
    // endpoint and token come from SLUICE_ENDPOINT and SLUICE_TOKEN.
    new SluiceProvider(this, 'sluice', {});

    const secret = (name: string) => new TerraformVariable(this, name, { type: 'string', sensitive: true }).stringValue;
    const setting = (name: string, type: 'string' | 'number', value: string | number) =>
      new TerraformVariable(this, name, { type, default: value });

    const source = new SourcePostgresql(this, 'shop', {
      name: 'shop',
      host: setting('source_host', 'string', '127.0.0.1').stringValue,
      port: setting('source_port', 'number', 15432).numberValue,
      database: setting('source_database', 'string', 'sluice_demo_source').stringValue,
      user: setting('source_user', 'string', 'sluice').stringValue,
      password: secret('source_password'),
      tableInclude: ['public.orders'],
      slotName: setting('slot_name', 'string', 'sluice_orders').stringValue,
      tags: { team: 'orders' },
    });

    const warehouse = new DestinationPostgresql(this, 'warehouse', {
      name: 'warehouse',
      host: setting('destination_host', 'string', '127.0.0.1').stringValue,
      port: setting('destination_port', 'number', 15432).numberValue,
      database: setting('destination_database', 'string', 'sluice_demo_dest').stringValue,
      user: setting('destination_user', 'string', 'sluice').stringValue,
      password: secret('destination_password'),
      schema: 'raw',
      batchSize: setting('batch_size', 'number', 500).numberValue,
    });

    const pii = new TransformMaskFields(this, 'pii', {
      name: 'mask-customer-email',
      fields: ['customer_email'],
      strategy: 'hash',
      salt: secret('mask_salt'),
    });

    const pipeline = new Pipeline(this, 'orders', {
      name: 'orders-to-warehouse',
      sourceId: source.id,
      destinationId: warehouse.id,
      transformIds: [pii.id],
      tables: ['public.orders'],
      delivery: { maxRetries: 5, backoffInitialMs: 500, backoffMaxMs: 30000 },
    });

    new TerraformOutput(this, 'pipeline_id', { value: pipeline.id });
    new TerraformOutput(this, 'source_id', { value: source.id });
  }
}

const app = new App({ outdir: process.env.CDKTF_OUTDIR ?? `${__dirname}/../cdktf.out` });
new BasicStack(app, 'sluice-basic');
app.synth();
