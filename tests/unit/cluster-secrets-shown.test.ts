import { shownSettings } from '../../cli/commands/cluster';
import { clusterPorts, connectSettings } from '../../cli/cluster/config';

/** `cluster up` prints the bucket's secret key only when it created it, or on --show-secrets (issue 27). */
describe('cluster up shows secrets only when it creates them', () => {
  const settings = connectSettings(clusterPorts(7000), { accessKeyId: 'HXKEY', secretAccessKey: 'very-secret-key' }, '127.0.0.1');
  const text = (s: object) => JSON.stringify(s);

  test('the first up (secrets created) shows the key', () => {
    expect(text(shownSettings({ settings, secretsCreated: true, dataDir: '/d' }, false))).toContain('very-secret-key');
  });

  test('a restart hides it and says where it is; --show-secrets shows it', () => {
    const hidden = shownSettings({ settings, secretsCreated: false, dataDir: '/d' }, false);
    expect(text(hidden)).not.toContain('very-secret-key');
    expect(hidden.AWS_SECRET_ACCESS_KEY).toBe('<in /d/secrets.json; cluster up --show-secrets prints it>');
    expect(hidden.AWS_ACCESS_KEY_ID).toBe(settings.AWS_ACCESS_KEY_ID);
    expect(text(shownSettings({ settings, secretsCreated: false, dataDir: '/d' }, true))).toContain('very-secret-key');
  });
});
