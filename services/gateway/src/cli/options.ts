import { InvalidArgumentError } from 'commander';

/** A commander parser for an integer option within [min, max] (a bad value is a usage error, exit 2). */
export function intOption(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    return n;
  };
}
