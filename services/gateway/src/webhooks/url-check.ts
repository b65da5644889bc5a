import { lookup } from 'node:dns/promises';
import { ValidationError, webhookAddressRefusal } from '@roadmap/contracts';

/**
 * Refuses (400 WEBHOOK_URL_FORBIDDEN) a webhook URL whose host does not resolve, or resolves to any
 * address webhooks may not reach (contracts' webhookAddressRefusal). The webhook worker checks again
 * at delivery, on the address it connects to.
 */
export async function assertWebhookUrlAllowed(url: string, allowPrivate: boolean, field = 'url'): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    throw forbidden(field, `${host} does not resolve`);
  }
  for (const address of addresses) {
    const refusal = webhookAddressRefusal(address, allowPrivate);
    if (refusal) throw forbidden(field, `${host} resolves to ${refusal.replace(/^\S+ /, `${address} `)}`);
  }
}

function forbidden(field: string, why: string): ValidationError {
  return new ValidationError(`This webhook URL is not allowed: ${why}`, [{ field, message: why }], 'WEBHOOK_URL_FORBIDDEN');
}
