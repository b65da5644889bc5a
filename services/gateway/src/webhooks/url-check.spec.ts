import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertWebhookUrlAllowed } from './url-check.js';

const refused = (url: string, allowPrivate: boolean, field?: string) =>
  assert.rejects(assertWebhookUrlAllowed(url, allowPrivate, field), (error: { code?: string; details?: Array<{ field: string }> }) => {
    assert.equal(error.code, 'WEBHOOK_URL_FORBIDDEN');
    assert.equal(error.details?.[0]?.field, field ?? 'url');
    return true;
  });

describe(assertWebhookUrlAllowed.name, () => {
  it('refuses loopback, private, link-local and shared addresses unless allowed', async () => {
    for (const url of ['http://127.0.0.1:8080/x', 'http://10.1.2.3/x', 'http://172.20.0.1/', 'http://192.168.1.10/', 'http://169.254.10.10/', 'http://100.64.0.1/', 'http://[::1]/', 'http://[fd12::1]/', 'http://[::ffff:10.0.0.1]/', 'http://localhost/']) {
      await refused(url, false);
    }
    await assertWebhookUrlAllowed('http://127.0.0.1:8080/x', true);
    await assertWebhookUrlAllowed('http://10.1.2.3/x', true);
  });

  it('refuses cloud metadata addresses always', async () => {
    await refused('http://169.254.169.254/latest/meta-data/', true);
    await refused('http://[fd00:ec2::254]/', true);
    await refused('http://[::ffff:169.254.169.254]/', true);
  });

  it('names the field it checks (a task’s callbackUrl)', async () => {
    await refused('http://10.0.0.1/hook', false, 'callbackUrl');
    await refused('http://169.254.169.254/', true, 'callbackUrl');
  });

  it('accepts public addresses, and refuses a host that does not resolve', async () => {
    await assertWebhookUrlAllowed('https://93.184.215.14/hook', false);
    await assertWebhookUrlAllowed('http://[2606:4700::1111]/hook', false);
    await refused('https://no-such-host.invalid/hook', true);
  });
});
