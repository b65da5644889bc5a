import { useState } from 'preact/hooks';
import { call, client } from '../api.js';
import { Button, Flash, LoadError, Loading, Section, Time } from '../components.js';
import { useAction, useApi } from '../hooks.js';

/**
 * Owner policies (admin, on the Control page): the owners with a dispatch weight or a high-priority
 * grant set, and a form to set them. A field left empty keeps its value, as PUT does; the other
 * gateways apply a change within 10 s (they remember a grant that long).
 */
export function OwnerPolicies() {
  const [cursor, setCursor] = useState<string | null>(null);
  const list = useApi(`/admin/owners/policies?${cursor ?? ''}`, () =>
    call(client.GET('/api/v1/admin/owners/policies', { params: { query: { limit: 50, ...(cursor ? { cursor } : {}) } } })),
  10_000);
  const action = useAction();
  const [owner, setOwner] = useState('');
  const [weight, setWeight] = useState('');
  const [high, setHigh] = useState<'' | 'grant' | 'revoke'>('');
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = { ...(weight ? { weight: Number(weight) } : {}), ...(high ? { priorityHigh: high === 'grant' } : {}) };
    const set = await action.run(
      () => call(client.PUT('/api/v1/admin/owners/{owner}/policy', { params: { path: { owner: owner.trim() } }, body })),
      `Policy of ${owner.trim()} set`,
    );
    if (set) list.reload();
  };
  return (
    <Section title="Owner policies" actions={cursor && <Button onClick={() => setCursor(null)}>First page</Button>}>
      {list.error ? (
        <LoadError error={list.error} what="Owner policies" />
      ) : !list.data ? (
        <Loading />
      ) : list.data.items.length === 0 ? (
        <p class="muted note">No owner has a policy: every owner has weight 1 and no high priority.</p>
      ) : (
        <div class="table-scroll">
          <table class="owner-policies">
            <thead>
              <tr>
                <th>owner</th>
                <th>weight</th>
                <th>high priority</th>
                <th>set by</th>
                <th>at</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.owner} data-owner={p.owner}>
                  <td>{p.owner}</td>
                  <td class="num">{p.weight}</td>
                  <td>{p.priorityHigh ? 'granted' : <span class="muted">no</span>}</td>
                  <td>{p.updatedBy ?? <span class="muted">—</span>}</td>
                  <td>
                    <Time at={p.updatedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data?.nextCursor && <Button onClick={() => setCursor(list.data!.nextCursor)}>Next page</Button>}
      <form class="toolbar" aria-label="Set an owner's policy" onSubmit={submit}>
        <label>
          Owner <input name="owner" value={owner} onInput={(e) => setOwner((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Weight <input name="weight" type="number" min={1} max={100} placeholder="unchanged" value={weight} onInput={(e) => setWeight((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          High priority{' '}
          <select name="priorityHigh" value={high} onChange={(e) => setHigh((e.target as HTMLSelectElement).value as typeof high)}>
            <option value="">unchanged</option>
            <option value="grant">grant</option>
            <option value="revoke">revoke</option>
          </select>
        </label>
        <Button type="submit" variant="primary" disabled={!owner.trim() || (!weight && !high) || action.pending}>
          Set policy
        </Button>
      </form>
      <p class="muted note">Weight 1-100: an owner with 3 gets three dispatch turns for another's one. Other gateways apply a change within 10 s.</p>
      <Flash message={action.message} />
    </Section>
  );
}
