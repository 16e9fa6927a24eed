/** A stored or requested connector kind that no module in the registry (connectors/index.ts) implements. */
export class UnknownConnectorKindError extends Error {
  constructor(
    readonly category: string,
    readonly kind: string,
    known: string[],
  ) {
    super(
      `unknown ${category} kind ${JSON.stringify(kind)}: this Sluice knows ${known.join(', ')}. ` +
        `Recreate the ${category} with one of those kinds, or run a Sluice version that has this kind`,
    );
    this.name = 'UnknownConnectorKindError';
  }
}
