/**
 * NATS_NAMESPACE applied to names: with namespace `t1abc`, stream `CONTENT_GENERATION` is
 * `T1ABC_CONTENT_GENERATION` and subject `content.generate.normal.quiz` is
 * `t1abc.content.generate.normal.quiz`. An empty namespace leaves names unchanged.
 */
export class Namespace {
  private readonly streamPrefix: string;
  private readonly subjectPrefix: string;

  constructor(readonly name: string) {
    // Same rule as CommonEnvSchema's NATS_NAMESPACE: the result must be a valid stream name and subject token.
    if (name !== '' && !/^[a-z][a-z0-9_]{0,31}$/.test(name)) {
      throw new RangeError(`NATS namespace "${name}" must be lower-case letters, digits and _, starting with a letter, at most 32`);
    }
    this.streamPrefix = name === '' ? '' : `${name.toUpperCase()}_`;
    this.subjectPrefix = name === '' ? '' : `${name}.`;
  }

  streamName(logical: string): string {
    return this.streamPrefix + logical;
  }

  logicalStream(actual: string): string {
    return this.streamPrefix !== '' && actual.startsWith(this.streamPrefix) ? actual.slice(this.streamPrefix.length) : actual;
  }

  subject(logical: string): string {
    return this.subjectPrefix + logical;
  }

  logicalSubject(actual: string): string {
    return this.subjectPrefix !== '' && actual.startsWith(this.subjectPrefix) ? actual.slice(this.subjectPrefix.length) : actual;
  }
}
