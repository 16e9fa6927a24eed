/**
 * The import boundaries of the tree, checked by test/unit/boundaries.test.ts (dependency-cruiser,
 * on the TypeScript sources). The layers, bottom up:
 *   core/        the shared core: change events, names, retry, errors, declarations' types, config
 *   patches/     third-party patches; the only way kafkajs and pg-logical-replication are loaded
 *   connectors/  one folder per connector kind, the registry, shared connector code
 *   api/ | workers/ | provider/   the control plane, the data plane, the Terraform provider
 *   bin/, bench/, stack/, test/   composition: may use the planes
 */
const planes = '^(api|workers|provider|bin|bench|stack|test)/';
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Import cycles make load order matter and layers blur.', from: {}, to: { circular: true } },
    { name: 'core-is-the-bottom', severity: 'error', comment: 'core/ is shared by both planes and imports nothing of Sluice but core/.', from: { path: '^core/' }, to: { path: '^(?!core/)[^/]+/', pathNot: 'node_modules' } },
    { name: 'patches-are-a-leaf', severity: 'error', from: { path: '^patches/' }, to: { path: '^(?!patches/)[^/]+/', pathNot: 'node_modules' } },
    { name: 'connectors-below-the-planes', severity: 'error', comment: 'A connector module is used by the planes, never the reverse.', from: { path: '^connectors/' }, to: { path: planes } },
    { name: 'control-plane-not-data-plane', severity: 'error', comment: 'api/ talks to the data plane through the control DB, Redis and Kafka only.', from: { path: '^api/' }, to: { path: '^workers/' } },
    { name: 'data-plane-not-control-plane', severity: 'error', comment: 'workers/ must not depend on the API\'s internals.', from: { path: '^workers/' }, to: { path: '^(api|provider)/' } },
    { name: 'provider-not-planes', severity: 'error', comment: 'The provider speaks to the API over HTTP; it loads declarations only.', from: { path: '^provider/' }, to: { path: '^(api|workers)/' } },
    {
      name: 'declarations-driver-free', severity: 'error', comment: 'A declaration loads anywhere (provider, docs): only field types, the shared patterns and shared fields.',
      from: { path: '^connectors/[^/]+/declaration\\.ts$' }, to: { pathNot: '^(core/spec\\.ts|core/patterns\\.ts|connectors/shared/fields\\.ts)$' },
    },
    {
      name: 'a-kind-does-not-import-another-kind', severity: 'error', comment: 'What two kinds share lives in connectors/shared/.',
      from: { path: '^connectors/([^/]+)/' }, to: { path: '^connectors/[^/]+/', pathNot: ['^connectors/$1/', '^connectors/shared/'] },
    },
    {
      name: 'patched-libraries-through-patches', severity: 'error', comment: 'kafkajs and pg-logical-replication are loaded only through patches/index.ts, which installs the patches first.',
      from: { path: '^(?!patches/|test/)' }, to: { path: 'node_modules/(kafkajs|pg-logical-replication)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|examples)/' },
  },
};
