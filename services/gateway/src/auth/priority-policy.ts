import { Inject, Injectable } from '@nestjs/common';
import { PriorityNotAllowedError, type Priority } from '@roadmap/contracts';
import { OwnerPolicies } from './owner-policies.js';
import type { Principal } from './principal.js';

/**
 * How long an owner's grant is remembered by a gateway replica: a revoke made through another
 * replica applies here within this time (on the replica that took the PUT, at once).
 */
export const GRANT_CACHE_MS = 10_000;
/** Owners remembered at most; beyond, the oldest entry goes. */
const GRANT_CACHE_SIZE = 10_000;

/**
 * Who may ask for `high` priority: admins, owners an admin granted it (`owner_policies`), and API
 * keys granted it (`api_keys.priority_high`, for a service key of an otherwise ungranted owner).
 * Anyone else asking for it gets 403 PRIORITY_NOT_ALLOWED before anything is written; `normal` and
 * `low` are open to everyone and cost nothing here. High priority jumps every queue, so it follows
 * what the work is for (a grant an admin made for a kind of caller), never who asks loudest.
 *
 * Only a `high` request from a caller that is neither admin nor a granted key reads the owner's
 * grant: one primary-key lookup per owner and {@link GRANT_CACHE_MS}, shared by concurrent requests.
 */
@Injectable()
export class PriorityPolicy {
  private readonly grants = new Map<string, { granted: Promise<boolean>; until: number }>();

  constructor(@Inject(OwnerPolicies) private readonly policies: OwnerPolicies) {}

  async assertAllowed(principal: Principal, priority: Priority | undefined): Promise<void> {
    if (priority !== 'high' || principal.role === 'admin' || principal.priorityHigh) return;
    if (!(await this.ownerGranted(principal.owner))) throw new PriorityNotAllowedError();
  }

  /** Forgets what this replica remembers of an owner's grant (its policy just changed here). */
  forget(owner: string): void {
    this.grants.delete(owner);
  }

  private ownerGranted(owner: string): Promise<boolean> {
    const now = Date.now();
    const known = this.grants.get(owner);
    if (known && known.until > now) return known.granted;
    if (this.grants.size >= GRANT_CACHE_SIZE) {
      const oldest = this.grants.keys().next().value;
      if (oldest !== undefined) this.grants.delete(oldest);
    }
    const granted = this.policies.grantsHigh(owner);
    this.grants.set(owner, { granted, until: now + GRANT_CACHE_MS });
    // A failed lookup is not remembered: the next request asks again.
    granted.catch(() => {
      if (this.grants.get(owner)?.granted === granted) this.grants.delete(owner);
    });
    return granted;
  }
}
