import { serve } from './protocol/server';
import { SluiceProvider } from './provider';

/** Entry point Terraform launches (through the terraform-provider-sluice script `sluice provider install` writes). */
const provider = new SluiceProvider();
serve({ handlers: provider.handlers() }).catch((e) => {
  process.stderr.write(`[ERROR] terraform-provider-sluice failed to start: ${e?.stack ?? e}\n`);
  process.exit(1);
});
