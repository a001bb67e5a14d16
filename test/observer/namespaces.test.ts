import { describe, expect, it } from 'vitest';
import { NAMESPACE_TTL_MS, NamespaceTracker } from '../../src/observer/namespaces.js';

describe('NamespaceTracker', () => {
  it('lists namespaces seen within the last hour, sorted, and forgets older ones', () => {
    let now = 1_000_000;
    const tracker = new NamespaceTracker(() => now);
    tracker.observe('default', 'kube-system');
    tracker.observe('default', 'app');
    tracker.observe('other', 'app');
    tracker.observe('default', '');
    expect(tracker.list()).toEqual([
      { cluster: 'default', namespace: 'app' },
      { cluster: 'default', namespace: 'kube-system' },
      { cluster: 'other', namespace: 'app' },
    ]);
    now += NAMESPACE_TTL_MS / 2;
    tracker.observe('default', 'app');
    now += NAMESPACE_TTL_MS / 2 + 1;
    expect(tracker.list()).toEqual([{ cluster: 'default', namespace: 'app' }]);
  });
});
