/** A patched library is not what its patch was written and checked against: Sluice refuses to run with it half-patched. */
export class PatchMismatchError extends Error {
  constructor(
    readonly library: string,
    message: string,
  ) {
    super(
      `${library} patch: ${message}. The patches in patches/ were written and byte-checked against a specific version ` +
        ('(test/unit/kafkajs-*-patch.test.ts); pin that version again, or ' +
          're-check the patch against the new one and update it'),
    );
    this.name = 'PatchMismatchError';
  }
}
