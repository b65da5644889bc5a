import { Injectable, type PipeTransform } from '@nestjs/common';
import { fieldIssues, ValidationError } from '@roadmap/contracts';
import type { z } from 'zod';

/** Validates a request part with a zod schema; a failure is a 400 naming every field at fault. */
@Injectable()
export class ZodPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly schema: S,
    private readonly what = 'request body',
  ) {}

  transform(value: unknown): z.infer<S> {
    if (value === undefined || value === null) {
      throw new ValidationError(`The ${this.what} is missing: send JSON with content-type application/json`, [
        { field: '(root)', message: 'required' },
      ]);
    }
    const result = this.schema.safeParse(value);
    if (!result.success) {
      const details = fieldIssues(result.error.issues);
      throw new ValidationError(`The ${this.what} is invalid: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, details);
    }
    return result.data;
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path id must be a UUID: anything else is a 400 INVALID_ID, never a database error. */
@Injectable()
export class UuidPipe implements PipeTransform<string, string> {
  constructor(private readonly field = 'id') {}
  transform(value: string): string {
    if (typeof value !== 'string' || !UUID.test(value)) {
      throw new ValidationError(`${this.field} must be a UUID`, [{ field: this.field, message: 'must be a UUID' }], 'INVALID_ID');
    }
    return value.toLowerCase();
  }
}
