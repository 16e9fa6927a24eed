import fs from 'node:fs';
import path from 'node:path';
import { sluiceHome } from '../core/config';
import { providerSource } from '../core/names';

/**
 * `sluice provider install`: puts terraform-provider-sluice into a filesystem mirror (unpacked
 * layout <mirror>/<host>/<namespace>/<type>/<version>/<os>_<arch>/) so `terraform init` and
 * `tofu init` work offline, and writes/prints the CLI configuration that points at the mirror.
 * The source address has an explicit hostname (sluice.local), so one mirror serves Terraform and
 * OpenTofu alike.
 */

export interface InstallOptions {
  /** Mirror directory. Default: $SLUICE_HOME/terraform-plugins (SLUICE_HOME defaults to .sluice in the repository). */
  dir?: string;
  /** Where to write the CLI configuration file. Default: <dir>/../terraform.rc */
  cliConfigFile?: string;
  /** The provider entry point (compiled dist/provider/main.js). */
  entry?: string;
  node?: string;
}

export interface Installed {
  mirrorDir: string;
  executable: string;
  version: string;
  source: string;
  cliConfigFile: string;
  cliConfig: string;
}

export function providerVersion(): string {
  for (const p of [path.resolve(__dirname, '../../package.json'), path.resolve(__dirname, '../package.json')]) {
    if (fs.existsSync(p)) return (JSON.parse(fs.readFileSync(p, 'utf8')) as { version: string }).version;
  }
  return '0.1.0';
}

export function platform(): string {
  const arch =
    ({ x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm' } as Record<string, string>)[process.arch] ?? process.arch;
  return `${process.platform}_${arch}`;
}

/** <SLUICE_HOME>/terraform-plugins: the same home as `sluice dev` (its token is next to it). */
export function defaultMirrorDir(): string {
  return path.join(sluiceHome(), 'terraform-plugins');
}

export function cliConfigText(mirrorDir: string): string {
  const [host] = providerSource.split('/');
  return [
    '# Terraform / OpenTofu CLI configuration written by `sluice provider install`.',
    '# Use it with: export TF_CLI_CONFIG_FILE=<this file>',
    'provider_installation {',
    '  filesystem_mirror {',
    `    path    = ${JSON.stringify(mirrorDir)}`,
    `    include = ["${host}/*/*"]`,
    '  }',
    '  direct {',
    `    exclude = ["${host}/*/*"]`,
    '  }',
    '}',
    '',
  ].join('\n');
}

export function installProvider(opts: InstallOptions = {}): Installed {
  const mirrorDir = path.resolve(opts.dir ?? defaultMirrorDir());
  const entry = path.resolve(opts.entry ?? path.join(__dirname, 'main.js'));
  if (!fs.existsSync(entry)) throw new Error(`provider entry point ${entry} not found: build first (npm run build)`);
  const version = providerVersion();
  const pkgDir = path.join(mirrorDir, ...providerSource.split('/'), version, platform());
  fs.mkdirSync(pkgDir, { recursive: true });
  const executable = path.join(pkgDir, `terraform-provider-sluice_v${version}`);
  const node = opts.node ?? process.execPath;
  const script =
    `#!/bin/sh\n# terraform-provider-sluice ${version}: the Sluice Terraform provider ` +
    `(TypeScript, tfplugin6).\nexec ${JSON.stringify(node)} ${JSON.stringify(entry)} "$@"\n`;
  const tmp = `${executable}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, script, { mode: 0o755 });
  fs.renameSync(tmp, executable);
  const cliConfigFile = path.resolve(opts.cliConfigFile ?? path.join(path.dirname(mirrorDir), 'terraform.rc'));
  const cliConfig = cliConfigText(mirrorDir);
  fs.mkdirSync(path.dirname(cliConfigFile), { recursive: true });
  fs.writeFileSync(cliConfigFile, cliConfig);
  return { mirrorDir, executable, version, source: providerSource, cliConfigFile, cliConfig };
}

/** Text the CLI prints after installing. */
export function installSummary(i: Installed): string {
  return [
    `Installed ${i.source} ${i.version} (${platform()}) into the filesystem mirror ${i.mirrorDir}`,
    `CLI configuration written to ${i.cliConfigFile}:`,
    '',
    i.cliConfig,
    `Use it:  export TF_CLI_CONFIG_FILE=${i.cliConfigFile}`,
    'Then in your configuration:',
    `  terraform { required_providers { sluice = { source = "${i.source}" } } }`,
    'and run `terraform init` (or `tofu init`): no network access is needed.',
    '',
  ].join('\n');
}
